// Message composition for `smtpmock send`; see message.hpp.
#include "client/message.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <system_error>

namespace smtpmock::client {
namespace {

/// RFC 5322 3.3 date-time in local time: "Wed, 11 May 2011 16:19:57 -0400".
std::string rfc5322_date(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S %z", &tm);
  return text;
}

bool header_is(const std::string& line, const std::string& name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) !=
        std::tolower(static_cast<unsigned char>(name[i])))
      return false;
  }
  return true;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

}  // namespace

std::string local_hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

std::string compose_message(const message_spec& spec, std::size_t index) {
  if (spec.has_data) return spec.data;
  const std::time_t now = std::time(nullptr);
  const std::string date = rfc5322_date(now);
  std::vector<std::string> headers = {
      "Date: " + date,
      "To: " + join(spec.to, ", "),
      "From: " + spec.from,
      "Subject: test " + date,
      "Message-Id: <" + std::to_string(now) + "." + std::to_string(getpid()) + "." +
          std::to_string(index) + "@" + spec.hostname + ">",
      "X-Mailer: smtpmock send",
  };
  for (const auto& extra : spec.headers) {
    const auto colon = extra.find(':');
    const std::string name = colon == std::string::npos ? extra : extra.substr(0, colon);
    bool replaced = false;
    for (auto& h : headers) {
      if (header_is(h, name)) {
        h = extra;
        replaced = true;
      }
    }
    if (!replaced) headers.push_back(extra);
  }
  std::string out;
  for (const auto& h : headers)
    out += h + "\n";
  out += "\n";
  out += spec.body.value_or("This is a test mailing");
  if (out.back() != '\n') out += "\n";
  return out;
}

std::optional<std::string> read_data_argument(const std::string& arg, std::string& error) {
  if (arg == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::error_code ec;
  if (std::filesystem::is_regular_file(arg, ec)) {
    std::ifstream in(arg, std::ios::binary);
    if (!in) {
      error = "cannot read " + arg;
      return std::nullopt;
    }
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string out;
  for (std::size_t i = 0; i < arg.size(); ++i) {
    if (arg[i] == '\\' && i + 1 < arg.size() && arg[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += arg[i];
    }
  }
  return out;
}

}  // namespace smtpmock::client
