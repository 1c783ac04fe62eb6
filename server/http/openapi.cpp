// The OpenAPI document as JSON; see openapi.hpp. The YAML is parsed with the project's bounded
// YAML reader (yaml-cpp's event API behind scenario/yaml_tree) and mapped to JSON with the
// YAML 1.2 core schema: only plain scalars are typed (null, booleans, integers, floats), quoted
// and block scalars are strings, map keys are strings. The Node test compares this JSON with
// what JavaScript's `yaml` package reads from the same file.
#include "http/openapi.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "scenario/loader.hpp"
#include "scenario/yaml_tree.hpp"

namespace smtpmock::http {

namespace detail {
// Generated from docs/openapi.yaml by cmake/embed_text.cmake (openapi_yaml.cpp in the build).
extern const std::string_view openapi_yaml_chunks[];
extern const std::size_t openapi_yaml_chunks_count;
}  // namespace detail

namespace {

using json = nlohmann::ordered_json;
namespace yaml = scenario::yaml;

constexpr const char* source_name = "docs/openapi.yaml";

[[noreturn]] void bad_document(const yaml::node& n, const std::string& what) {
  const auto at = n.where();
  throw std::runtime_error(std::string(source_name) + ":" + std::to_string(at.line) + ":" +
                           std::to_string(at.column) + ": " + what);
}

bool is_digits(std::string_view s, int base) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = base == 16  ? std::isxdigit(static_cast<unsigned char>(c)) != 0
                    : base == 8 ? c >= '0' && c <= '7'
                                : c >= '0' && c <= '9';
    if (!ok) return false;
  }
  return true;
}

/// An integer of `digits` in `base`, negated if asked; a value beyond 64 bits is a double, as
/// a JavaScript number would be.
json integer(std::string_view digits, int base, bool negative) {
  std::uint64_t u = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), u, base);
  if (ec == std::errc() && ptr == digits.data() + digits.size()) {
    if (!negative) return u;
    constexpr auto min_magnitude =
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1;
    if (u < min_magnitude) return -static_cast<std::int64_t>(u);
    if (u == min_magnitude) return std::numeric_limits<std::int64_t>::min();
  }
  double d = 0;
  for (char c : digits) {
    const int v = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    d = d * base + v;
  }
  return negative ? -d : d;
}

/// YAML 1.2 core schema float: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
bool is_float(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    ++i;
    ++int_digits;
  }
  bool dot = false;
  if (i < s.size() && s[i] == '.') {
    dot = true;
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
      ++frac_digits;
    }
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (int_digits == 0 && !dot) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
      ++exp_digits;
    }
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

/// A plain (unquoted, untagged) scalar as the YAML 1.2 core schema reads it.
json plain_scalar(const yaml::node& n) {
  const std::string& s = n.scalar();
  if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  std::string_view v(s);
  if (v.size() > 2 && v.substr(0, 2) == "0x" && is_digits(v.substr(2), 16))
    return integer(v.substr(2), 16, false);
  if (v.size() > 2 && v.substr(0, 2) == "0o" && is_digits(v.substr(2), 8))
    return integer(v.substr(2), 8, false);
  const bool negative = !v.empty() && v.front() == '-';
  std::string_view unsigned_part = v;
  if (!v.empty() && (v.front() == '-' || v.front() == '+')) unsigned_part.remove_prefix(1);
  if (is_digits(unsigned_part, 10)) return integer(unsigned_part, 10, negative);
  if (is_float(v)) {
    // from_chars takes no leading '+'.
    const std::string_view text = v.front() == '+' ? v.substr(1) : v;
    double d = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(d))
      bad_document(n, "number '" + s + "' has no JSON form");
    return d;
  }
  const std::string_view bare = unsigned_part;
  if (bare == ".inf" || bare == ".Inf" || bare == ".INF" || v == ".nan" || v == ".NaN" ||
      v == ".NAN") {
    bad_document(n, "'" + s + "' (infinity or NaN) has no JSON form");
  }
  return s;
}

json to_json(const yaml::node& n) {
  switch (n.type()) {
    case yaml::kind::null:
      return nullptr;
    case yaml::kind::scalar:
      return n.plain() ? plain_scalar(n) : json(n.scalar());
    case yaml::kind::sequence: {
      json a = json::array();
      for (std::size_t i = 0; i < n.size(); ++i)
        a.push_back(to_json(n.item(i)));
      return a;
    }
    case yaml::kind::map: {
      json o = json::object();
      std::set<std::string> seen;
      for (std::size_t i = 0; i < n.size(); ++i) {
        const yaml::node key = n.key(i);
        if (!key.is_scalar()) bad_document(key, "a map key must be a scalar");
        if (!seen.insert(key.scalar()).second)
          bad_document(key, "duplicate key '" + key.scalar() + "'");
        o[key.scalar()] = to_json(n.value(i));
      }
      return o;
    }
  }
  bad_document(n, "unknown node");
}

std::string make_json() {
  // The document is ours and far larger than a scenario; these bounds only guard the build.
  yaml::limits bounds;
  bounds.max_bytes = 8u << 20;
  bounds.max_nodes = 2'000'000;
  bounds.max_lookahead = 1u << 20;
  try {
    const yaml::document doc = yaml::parse(openapi_yaml(), source_name, bounds);
    if (!doc.root().is_map()) throw std::runtime_error(std::string(source_name) + ": not a map");
    return to_json(doc.root()).dump();
  } catch (const scenario::load_error& e) {
    throw std::runtime_error(std::string("embedded OpenAPI document: ") + e.what());
  }
}

}  // namespace

std::string_view openapi_yaml() {
  static const std::string text = [] {
    std::string t;
    for (std::size_t i = 0; i < detail::openapi_yaml_chunks_count; ++i)
      t += detail::openapi_yaml_chunks[i];
    return t;
  }();
  return text;
}

const std::string& openapi_json() {
  // A function-local static: initialised once, other callers wait (C++11 [stmt.dcl]/4); if
  // the conversion throws, the next call tries again.
  static const std::string document = make_json();
  return document;
}

}  // namespace smtpmock::http
