// Logging setup and the two record formats; see logging.hpp.
#include "app/logging.hpp"

#include "net/log_text.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace smtpmock::app {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

/// Length of the valid UTF-8 sequence starting at text[i], or 0 when it is not one
/// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return len;
}

std::string_view level_name(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

std::optional<spdlog::level::level_enum> parse_level(std::string_view name) {
  if (name == "trace") return spdlog::level::trace;
  if (name == "debug") return spdlog::level::debug;
  if (name == "info") return spdlog::level::info;
  if (name == "warn" || name == "warning") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  return std::nullopt;
}

/// A session id as net/ writes it: "S" and 12 lower-case hex digits.
bool is_session_id(std::string_view word) {
  if (word.size() != 13 || word[0] != 'S') return false;
  for (char c : word.substr(1)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

/// One `key=value` of a log message; the value unquoted when it was written with quote().
struct log_field {
  std::string_view key;
  std::string value;
  bool number = false;  ///< an integer, written as a JSON number
};

bool is_key(std::string_view k) {
  if (k.empty() || k.size() > 32) return false;
  for (char c : k) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

bool is_integer(std::string_view v) {
  // 15 digits stay exact in a double (jq, JavaScript); longer ones (seeds) stay strings.
  if (v.empty() || v.size() > 15) return false;
  std::size_t i = v[0] == '-' ? 1 : 0;
  if (i == v.size()) return false;
  for (; i < v.size(); ++i)
    if (v[i] < '0' || v[i] > '9') return false;
  return true;
}

/// Reads one quote()d value at the start of `s` (which begins with '"'); returns the text and
/// how many bytes it took, or nullopt when it is not one.
std::optional<std::pair<std::string, std::size_t>> read_quoted(std::string_view s) {
  std::string out;
  for (std::size_t i = 1; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"') return std::pair{std::move(out), i + 1};
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i >= s.size()) return std::nullopt;
    switch (s[i]) {
      case 'r':
        out.push_back('\r');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'x': {
        if (i + 2 >= s.size()) return std::nullopt;
        const auto hex = [](char h) -> int {
          if (h >= '0' && h <= '9') return h - '0';
          if (h >= 'a' && h <= 'f') return h - 'a' + 10;
          if (h >= 'A' && h <= 'F') return h - 'A' + 10;
          return -1;
        };
        const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        break;
      }
      default:
        out.push_back(s[i]);  // \" and \\ and anything else: the character itself
    }
  }
  return std::nullopt;
}

/// Splits "text words key=value key=\"quoted value\"" into the leading text and the fields.
/// STYLE.md 10: every event is logged as key=value fields; what does not parse stays text.
std::pair<std::string_view, std::vector<log_field>> split_fields(std::string_view payload) {
  std::vector<log_field> fields;
  std::size_t pos = 0;
  std::size_t text_end = payload.size();
  bool in_fields = false;
  while (pos < payload.size()) {
    const std::size_t word_end = std::min(payload.find(' ', pos), payload.size());
    const std::string_view word = payload.substr(pos, word_end - pos);
    const std::size_t eq = word.find('=');
    if (eq == std::string_view::npos || !is_key(word.substr(0, eq))) {
      if (in_fields) return {payload, {}};  // text after the fields: keep it all as text
      pos = word_end + 1;
      continue;
    }
    if (!in_fields) {
      in_fields = true;
      text_end = pos == 0 ? 0 : pos - 1;
    }
    log_field f;
    f.key = word.substr(0, eq);
    const std::size_t value_start = pos + eq + 1;
    if (value_start < payload.size() && payload[value_start] == '"') {
      auto q = read_quoted(payload.substr(value_start));
      if (!q) return {payload, {}};
      f.value = std::move(q->first);
      pos = value_start + q->second;
      if (pos < payload.size() && payload[pos] != ' ') return {payload, {}};
      ++pos;
    } else {
      f.value = std::string(payload.substr(value_start, word_end - value_start));
      f.number = is_integer(f.value);
      pos = word_end + 1;
    }
    fields.push_back(std::move(f));
  }
  return {payload.substr(0, text_end), std::move(fields)};
}

class line_formatter final : public spdlog::formatter {
 public:
  explicit line_formatter(log_format f) : format_(f) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch());
    std::string_view payload(msg.payload.data(), msg.payload.size());
    std::string line;
    line.reserve(payload.size() + 64);
    if (format_ == log_format::text) {
      line += utc_timestamp_ms(ms.count());
      line += ' ';
      line += level_name(msg.level);
      line += ' ';
      line += net::escape_control(payload);
    } else {
      std::string_view session;
      auto space = payload.find(' ');
      if (is_session_id(payload.substr(0, space))) {
        session = payload.substr(0, space);
        payload = space == std::string_view::npos ? std::string_view() : payload.substr(space + 1);
      }
      line += "{\"time\":\"";
      line += utc_timestamp_ms(ms.count());
      line += "\",\"level\":\"";
      line += level_name(msg.level);
      line += '"';
      if (!session.empty()) {
        line += ",\"session\":\"";
        line += session;
        line += '"';
      }
      // Each key=value of the message is its own key, so `jq .code` works; the words before
      // them are "msg". A key that would shadow time/level/session/msg gets a "field_" prefix.
      auto [text, fields] = split_fields(payload);
      line += ",\"msg\":\"";
      line += json_escape(text);
      line += '"';
      for (const auto& f : fields) {
        const bool reserved =
            f.key == "time" || f.key == "level" || f.key == "session" || f.key == "msg";
        line += ",\"";
        if (reserved) line += "field_";
        line += f.key;
        line += "\":";
        if (f.number) {
          line += f.value;
        } else {
          line += '"';
          line += json_escape(f.value);
          line += '"';
        }
      }
      line += '}';
    }
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<line_formatter>(format_);
  }

 private:
  log_format format_;
};

}  // namespace

std::string utc_timestamp_ms(long long unix_ms) {
  long long secs = unix_ms / 1000;
  long long millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    secs -= 1;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  auto unicode_escape = [&](unsigned char u) {
    out += "\\u00";
    out += hex_digits[u >> 4];
    out += hex_digits[u & 0xf];
  };
  for (std::size_t i = 0; i < text.size();) {
    auto u = static_cast<unsigned char>(text[i]);
    if (u >= 0x80) {
      std::size_t len = utf8_sequence(text, i);
      if (len == 0) {
        unicode_escape(u);  // not UTF-8: keep the byte's value, stay valid JSON
        ++i;
      } else {
        out.append(text.substr(i, len));
        i += len;
      }
      continue;
    }
    switch (text[i]) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          unicode_escape(u);
        } else {
          out += text[i];
        }
    }
    ++i;
  }
  return out;
}

void log_always(std::string_view message) {
  auto logger = spdlog::default_logger();
  const spdlog::details::log_msg msg(logger->name(), spdlog::level::info,
                                     spdlog::string_view_t(message.data(), message.size()));
  for (const auto& sink : logger->sinks()) {
    sink->log(msg);
    sink->flush();
  }
}

bool setup_logging(std::string_view level, log_format format) {
  auto lvl = parse_level(level);
  if (!lvl) return false;
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(std::make_unique<line_formatter>(format));
  auto logger = std::make_shared<spdlog::logger>("smtpmock", std::move(sink));
  logger->set_level(*lvl);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
  return true;
}

}  // namespace smtpmock::app
