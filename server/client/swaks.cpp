// swaks' exit codes and stop points; see swaks.hpp.
#include "client/swaks.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <vector>

namespace smtpmock::client::swaks {
namespace {

struct exit_row {
  smtp::client_stage stage;
  int code;
};

// swaks(1), "EXIT CODES".
constexpr std::array exit_table{
    exit_row{smtp::client_stage::connect, 2},   exit_row{smtp::client_stage::banner, 21},
    exit_row{smtp::client_stage::ehlo, 22},     exit_row{smtp::client_stage::helo, 22},
    exit_row{smtp::client_stage::starttls, 29}, exit_row{smtp::client_stage::auth, 28},
    exit_row{smtp::client_stage::mail, 23},     exit_row{smtp::client_stage::rcpt, 24},
    exit_row{smtp::client_stage::data, 25},     exit_row{smtp::client_stage::message, 26},
    exit_row{smtp::client_stage::rset, 0},      exit_row{smtp::client_stage::quit, 0},
    exit_row{smtp::client_stage::closed, 6},
};

struct stop_row {
  std::string_view name;
  smtp::milestone after;
  bool drop_only;  ///< only --drop-after takes it (swaks: "data and dot aren't legal for quit")
};

// swaks' process_args: the names and their aliases (xclient has no milestone: smtpmock sends
// no XCLIENT).
constexpr std::array stop_table{
    stop_row{"CONNECT", smtp::milestone::banner, false},
    stop_row{"BANNER", smtp::milestone::banner, false},
    stop_row{"FIRST-HELO", smtp::milestone::first_greeting, false},
    stop_row{"FIRST-EHLO", smtp::milestone::first_greeting, false},
    stop_row{"FIRST-LHLO", smtp::milestone::first_greeting, false},
    stop_row{"TLS", smtp::milestone::tls, false},
    stop_row{"STARTTLS", smtp::milestone::tls, false},
    stop_row{"HELO", smtp::milestone::greeting, false},
    stop_row{"EHLO", smtp::milestone::greeting, false},
    stop_row{"LHLO", smtp::milestone::greeting, false},
    stop_row{"AUTH", smtp::milestone::auth, false},
    stop_row{"MAIL", smtp::milestone::mail, false},
    stop_row{"FROM", smtp::milestone::mail, false},
    stop_row{"RCPT", smtp::milestone::rcpt, false},
    stop_row{"TO", smtp::milestone::rcpt, false},
    stop_row{"DATA", smtp::milestone::data, true},
    stop_row{"DOT", smtp::milestone::dot, true},
};

}  // namespace

int exit_code_for(smtp::client_stage s) {
  for (const auto& row : exit_table)
    if (row.stage == s) return row.code;
  return 1;
}

int exit_code(const smtp::client_result& r) {
  return r.failed ? exit_code_for(*r.failed) : 0;
}

std::optional<smtp::stop_point> parse_stop_point(std::string_view name, bool drop, bool on_send) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const auto& row : stop_table)
    if (row.name == n && (drop || !row.drop_only))
      return smtp::stop_point{row.after, drop, on_send};
  return std::nullopt;
}

std::string_view stop_point_names(bool drop) {
  return drop ? "CONNECT, FIRST-HELO, TLS, HELO, AUTH, MAIL, RCPT, DATA or DOT"
              : "CONNECT, FIRST-HELO, TLS, HELO, AUTH, MAIL or RCPT";
}

std::optional<protocol> parse_protocol(std::string_view name) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  using smtp::hello_verb;
  struct row {
    std::string_view name;
    protocol p;
  };
  // swaks(1): "EHLO->HELO" is EHLO with the HELO fallback (hello_verb::ehlo).
  static const std::array rows{
      row{"SMTP", {hello_verb::helo, false, false, false, 25}},
      row{"SSMTP", {hello_verb::ehlo, false, false, true, 465}},
      row{"SSMTPA", {hello_verb::ehlo, true, false, true, 465}},
      row{"SMTPS", {hello_verb::helo, false, false, true, 465}},
      row{"ESMTP", {hello_verb::ehlo, false, false, false, 25}},
      row{"ESMTPA", {hello_verb::ehlo, true, false, false, 25}},
      row{"ESMTPS", {hello_verb::ehlo, false, true, false, 25}},
      row{"ESMTPSA", {hello_verb::ehlo, true, true, false, 25}},
      row{"LMTP", {hello_verb::lhlo, false, false, false, 24}},
      row{"LMTPA", {hello_verb::lhlo, true, false, false, 24}},
      row{"LMTPS", {hello_verb::lhlo, false, true, false, 24}},
      row{"LMTPSA", {hello_verb::lhlo, true, true, false, 24}},
  };
  for (const auto& r : rows)
    if (r.name == n) return r.p;
  return std::nullopt;
}

std::optional<tls_versions> parse_tls_protocol(std::string_view spec, std::string& error) {
  struct row {
    std::string_view name;
    bool tls_versions::*flag;
  };
  static const std::array rows{
      row{"sslv2", &tls_versions::sslv2},     row{"sslv3", &tls_versions::sslv3},
      row{"tlsv1", &tls_versions::tlsv1},     row{"tlsv1_1", &tls_versions::tlsv1_1},
      row{"tlsv1_2", &tls_versions::tlsv1_2}, row{"tlsv1_3", &tls_versions::tlsv1_3},
  };
  tls_versions v;
  bool positive = false;
  bool negative = false;
  std::vector<bool tls_versions::*> named;
  std::size_t start = 0;
  while (start <= spec.size()) {
    std::size_t comma = spec.find(',', start);
    if (comma == std::string_view::npos) comma = spec.size();
    std::string word(spec.substr(start, comma - start));
    std::transform(word.begin(), word.end(), word.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    start = comma + 1;
    if (word.empty()) continue;
    const bool no = word.starts_with("no_");
    (no ? negative : positive) = true;
    const std::string_view bare = no ? std::string_view(word).substr(3) : std::string_view(word);
    auto found =
        std::find_if(rows.begin(), rows.end(), [&](const row& r) { return r.name == bare; });
    if (found == rows.end()) {
      error = "unknown protocol '" + word + "' (sslv2, sslv3, tlsv1, tlsv1_1, tlsv1_2, tlsv1_3)";
      return std::nullopt;
    }
    named.push_back(found->flag);
  }
  if (positive && negative) {
    error = "give the protocols to use or the ones not to use (no_NAME), not both";
    return std::nullopt;
  }
  if (named.empty()) {
    error = "no protocol named";
    return std::nullopt;
  }
  // Only those named; or everything the library has but those.
  for (const auto& r : rows)
    v.*r.flag = negative;
  for (auto flag : named)
    v.*flag = positive;
  return v;
}

}  // namespace smtpmock::client::swaks
