// swaks' exit codes and stop points; see swaks.hpp.
#include "client/swaks.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

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

std::optional<smtp::stop_point> parse_stop_point(std::string_view name, bool drop) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const auto& row : stop_table)
    if (row.name == n && (drop || !row.drop_only)) return smtp::stop_point{row.after, drop};
  return std::nullopt;
}

std::string_view stop_point_names(bool drop) {
  return drop ? "CONNECT, FIRST-HELO, TLS, HELO, AUTH, MAIL, RCPT, DATA or DOT"
              : "CONNECT, FIRST-HELO, TLS, HELO, AUTH, MAIL or RCPT";
}

}  // namespace smtpmock::client::swaks
