// Listener specs: the --listen mini-syntax, SMTPMOCK_LISTEN lists and the conflict check of a
// whole set. See listeners.hpp. Messages quote what was written and say what is expected, since
// they end up as one line on stderr (exit 2) before anything starts.
#include "scenario/listeners.hpp"

#include <arpa/inet.h>

#include <array>
#include <optional>
#include <stdexcept>

#include "scenario/listen_address.hpp"
#include "scenario/loader.hpp"

namespace smtpmock::scenario {

namespace {

/// Names of a listener name (SPEC §7): short, and safe in a URL query and a metric label.
constexpr std::size_t max_name_length = 64;

constexpr std::array<std::string_view, 4> option_keys = {"tls", "name", "tls-cert", "tls-key"};

std::string_view trim(std::string_view text) {
  constexpr std::string_view blanks = " \t\r\n";
  const auto first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(blanks);
  return text.substr(first, last - first + 1);
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const auto end = text.find(separator, start);
    out.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

bool is_option_key(std::string_view key) {
  for (const auto k : option_keys)
    if (k == key) return true;
  return false;
}

std::string in_quotes(std::string_view text) {
  return "'" + std::string(text) + "'";
}

/// The listen address in one canonical spelling ("localhost:25" and "127.0.0.1:25" are one,
/// as are "[::1]:25" and "[0:0:0:0:0:0:0:1]:25").
std::optional<listen_address> canonical(const listener_spec& spec) {
  auto address = parse_listen_address(spec.address);
  if (!address) return address;
  const int af = address->v6 ? AF_INET6 : AF_INET;
  in6_addr binary{};  // big enough for either family
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (::inet_pton(af, address->host.c_str(), &binary) == 1 &&
      ::inet_ntop(af, &binary, text.data(), text.size()) != nullptr)
    address->host = text.data();
  return address;
}

bool is_wildcard(const listen_address& a) {
  return a.host == "0.0.0.0" || a.host == "::";
}

std::string family(const listen_address& a) {
  return a.v6 ? "IPv6" : "IPv4";
}

}  // namespace

std::string_view to_string(listener_tls mode) {
  switch (mode) {
    case listener_tls::starttls:
      return "starttls";
    case listener_tls::implicit:
      return "implicit";
    case listener_tls::none:
      return "none";
  }
  return "starttls";
}

listener_tls parse_listener_tls(std::string_view text) {
  for (const auto mode : {listener_tls::starttls, listener_tls::implicit, listener_tls::none})
    if (to_string(mode) == text) return mode;
  std::string message =
      "unknown tls mode " + in_quotes(text) + " (expected starttls, implicit or none";
  if (const auto near = did_you_mean(text, {"starttls", "implicit", "none"}))
    message += "; did you mean " + in_quotes(*near) + "?";
  throw std::invalid_argument(message + ")");
}

std::string listener_name_problem(std::string_view name) {
  const auto bad = [&] {
    return "invalid listener name " + in_quotes(name) + ": expected 1-" +
           std::to_string(max_name_length) + " letters, digits, '-', '_' or '.'";
  };
  if (name.empty() || name.size() > max_name_length) return bad();
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return bad();
  }
  return {};
}

listener_spec parse_listen_spec(std::string_view text) {
  listener_spec spec;
  spec.origin = "--listen " + std::string(text);
  const auto tokens = split(text, ',');
  const std::string_view head = trim(tokens.front());
  if (head.empty()) {
    throw std::invalid_argument("empty listener " + in_quotes(text) +
                                ": expected ADDR:PORT[=SCENARIO][,tls=starttls|implicit|none]"
                                "[,name=NAME][,tls-cert=FILE][,tls-key=FILE]");
  }
  const auto equals = head.find('=');
  spec.address = std::string(trim(head.substr(0, equals)));
  if (auto problem = listen_address_problem(spec.address); !problem.empty()) {
    throw std::invalid_argument(problem);
  }
  if (equals != std::string_view::npos) {
    spec.scenario = std::string(trim(head.substr(equals + 1)));
    if (spec.scenario.empty()) {
      throw std::invalid_argument("no scenario after '=' in " + in_quotes(head) +
                                  " (leave out '=' for the serve --scenario)");
    }
  }
  std::vector<std::string_view> given;
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    const std::string_view token = trim(tokens[i]);
    if (token.empty()) {
      throw std::invalid_argument("empty option in " + in_quotes(text) + " (two commas in a row?)");
    }
    const auto eq = token.find('=');
    const std::string_view key = trim(token.substr(0, eq));
    if (!is_option_key(key)) {
      std::string message = "unknown listener option " + in_quotes(key);
      if (key == "scenario") {
        message += " (the scenario follows the address: ADDR:PORT=SCENARIO)";
      } else {
        message += " (expected tls, name, tls-cert or tls-key";
        if (const auto near =
                did_you_mean(key, std::vector<std::string>(option_keys.begin(), option_keys.end())))
          message += "; did you mean " + in_quotes(*near) + "?";
        message += ")";
      }
      throw std::invalid_argument(message);
    }
    for (const auto g : given)
      if (g == key)
        throw std::invalid_argument("listener option " + in_quotes(key) + " given twice");
    given.push_back(key);
    const std::string value(eq == std::string_view::npos ? "" : trim(token.substr(eq + 1)));
    if (value.empty()) {
      throw std::invalid_argument("listener option " + in_quotes(key) + " needs a value (" +
                                  std::string(key) + "=...)");
    }
    if (key == "tls") {
      spec.tls = parse_listener_tls(value);
    } else if (key == "name") {
      if (auto problem = listener_name_problem(value); !problem.empty())
        throw std::invalid_argument(problem);
      spec.name = value;
    } else if (key == "tls-cert") {
      spec.tls_cert = value;
    } else {
      spec.tls_key = value;
    }
  }
  return spec;
}

std::vector<listener_spec> parse_listen_list(std::string_view text) {
  // Group the tokens into entries first: an option token joins the entry before it.
  std::vector<std::string> entries;
  for (const auto line : split(text, '\n')) {
    for (const auto raw : split(line, ',')) {
      const std::string_view token = trim(raw);
      if (token.empty()) continue;
      const std::string_view key = trim(token.substr(0, token.find('=')));
      if (is_option_key(key)) {
        if (entries.empty()) {
          throw std::invalid_argument("listener option " + in_quotes(token) +
                                      " comes before any ADDR:PORT");
        }
        entries.back().append(",").append(token);
      } else {
        entries.emplace_back(token);
      }
    }
  }
  std::vector<listener_spec> out;
  for (const auto& entry : entries) {
    listener_spec spec;
    try {
      spec = parse_listen_spec(entry);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(in_quotes(entry) + ": " + e.what());
    }
    spec.origin = "SMTPMOCK_LISTEN " + entry;
    out.push_back(std::move(spec));
  }
  return out;
}

std::string effective_name(const listener_spec& spec) {
  if (!spec.name.empty()) return spec.name;
  const auto address = canonical(spec);
  if (!address || address->port == 0) return {};
  return std::to_string(address->port);
}

std::optional<listener_conflict> find_listener_conflict(const std::vector<listener_spec>& all) {
  for (std::size_t second = 0; second < all.size(); ++second) {
    const listener_spec& b = all[second];
    if (b.tls_cert.empty() != b.tls_key.empty()) {
      return listener_conflict{
          second, second, listener_conflict::kind::tls_pair,
          b.tls_cert.empty() ? "tls-key needs tls-cert" : "tls-cert needs tls-key", ""};
    }
    const auto b_address = canonical(b);
    const std::string b_name = effective_name(b);
    for (std::size_t first = 0; first < second; ++first) {
      const listener_spec& a = all[first];
      const auto a_address = canonical(a);
      if (a_address && b_address && a_address->port != 0 && a_address->port == b_address->port &&
          a_address->v6 == b_address->v6) {
        const std::string where = format_address(b_address->host, b_address->port);
        if (a_address->host == b_address->host) {
          return listener_conflict{first, second, listener_conflict::kind::address,
                                   "two listeners on " + where, ""};
        }
        // Linux refuses to bind an address whose port a wildcard of its family already holds.
        if (is_wildcard(*a_address) || is_wildcard(*b_address)) {
          const auto& wild = is_wildcard(*a_address) ? *a_address : *b_address;
          return listener_conflict{first, second, listener_conflict::kind::address,
                                   format_address(a_address->host, a_address->port) + " and " +
                                       where + " overlap: " + format_address(wild.host, wild.port) +
                                       " takes port " + std::to_string(wild.port) + " on every " +
                                       family(wild) + " address",
                                   ""};
        }
      }
      if (!b_name.empty() && effective_name(a) == b_name) {
        return listener_conflict{
            first, second, listener_conflict::kind::name,
            "two listeners named " + in_quotes(b_name),
            a.name.empty() || b.name.empty()
                ? " (a listener without a name is named after its port; give one a name)"
                : ""};
      }
    }
  }
  return std::nullopt;
}

void check_listeners(const std::vector<listener_spec>& all) {
  for (const auto& spec : all) {
    if (auto problem = listen_address_problem(spec.address); !problem.empty())
      throw std::invalid_argument(spec.origin + ": " + problem);
  }
  const auto conflict = find_listener_conflict(all);
  if (!conflict) return;
  const std::string& second = all[conflict->second].origin;
  if (conflict->what == listener_conflict::kind::tls_pair) {
    throw std::invalid_argument(second + ": " + conflict->message +
                                " (or neither, for the server's certificate)");
  }
  throw std::invalid_argument(conflict->message + ": " + all[conflict->first].origin + " and " +
                              second + conflict->hint);
}

}  // namespace smtpmock::scenario
