// The command lines of send, check and record; see client_commands.hpp. The settings live in
// this file's state for the life of the process, as CLI11 binds options to variables.
#include "app/client_commands.hpp"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

#include "app/version.hpp"
#include "client/check.hpp"
#include "client/record.hpp"
#include "client/send.hpp"

namespace smtpmock::app {
namespace {

/// Exit code for a bad flag value, as CLI11's usage errors.
constexpr int usage_error = 1;

/// The local server `send` talks to without --server: the serve twin SMTPMOCK_SMTP_LISTEN when
/// it is set (a wildcard address asked on loopback, as healthcheck does), else 127.0.0.1:1025.
/// So a shell that runs the server on another port sends to it unchanged.
std::string local_server() {
  const char* listen = std::getenv("SMTPMOCK_SMTP_LISTEN");
  std::string value = listen != nullptr ? listen : "";
  if (value.empty() || value == "off" || value.ends_with(":0")) return "127.0.0.1:1025";
  if (value.starts_with("0.0.0.0:")) return "127.0.0.1" + value.substr(7);
  if (value.starts_with("[::]:")) return "[::1]" + value.substr(4);
  return value;
}

struct client_cli {
  CLI::App* send = nullptr;
  CLI::App* check = nullptr;
  CLI::App* record = nullptr;
  client::send_settings send_settings;
  client::check_settings check_settings;
  client::record_settings record_settings;
  CLI::Option* auth = nullptr;
  CLI::Option* auth_optional = nullptr;
  CLI::Option* auth_optional_strict = nullptr;
  std::string auth_optional_mechanism;
  std::string auth_optional_strict_mechanism;
  std::string send_timeout = "30s";
  std::string check_timeout = "10s";
  std::string record_timeout = "30s";
  std::string data;
  std::string body;
  CLI::Option* data_opt = nullptr;
  CLI::Option* body_opt = nullptr;
  // --attach*: CLI11 keeps each option's values; parse_order() gives their interleaving.
  std::vector<std::string> attach;
  std::vector<std::string> attach_type;
  std::vector<std::string> attach_name;
  std::vector<std::string> attach_body;
  bool attach_no_name = false;
  CLI::Option* attach_opt = nullptr;
  CLI::Option* attach_type_opt = nullptr;
  CLI::Option* attach_name_opt = nullptr;
  CLI::Option* attach_no_name_opt = nullptr;
  CLI::Option* attach_body_opt = nullptr;
  bool no_progress = false;
  bool no_api = false;
  CLI::Option* silent = nullptr;
  std::string silent_value;
  bool hide_all = false;
  CLI::Option* time_lapse = nullptr;
  std::string time_lapse_value;
  CLI::Option* hide_password = nullptr;
  std::string hide_password_value;
  bool no_hints = false;
  bool check_no_tls = false;
};

client_cli& state() {
  static client_cli cli;
  return cli;
}

void add_send(CLI::App& app, client_cli& c) {
  auto& s = c.send_settings;
  CLI::App* cmd = app.add_subcommand(
      "send", "Send a message to any SMTP server, swaks-style (--count for a load run)");
  c.send = cmd;
  // swaks' -h is --helo (see client/swaks_args.hpp): help is --help only.
  cmd->set_help_flag("--help", "Print this help message and exit");
  cmd->add_option("-s,--server", s.server, "The server to talk to")
      ->type_name("HOST[:PORT]")
      ->default_str("$SMTPMOCK_SMTP_LISTEN, else 127.0.0.1:1025 (the local smtpmock)");
  cmd->add_option("-p,--port", s.port, "Port (default 25, or 465 with --tls-on-connect)")
      ->type_name("PORT");
  cmd->add_option("-f,--from", s.from, "Envelope sender (MAIL FROM)")
      ->type_name("ADDRESS")
      ->default_str("$LOGNAME@<hostname>; <> for the null sender");
  cmd->add_flag("--force-getpwuid", s.force_getpwuid,
                "The default sender's user from getpwuid, not $LOGNAME");
  cmd->add_option("-t,--to", s.to, "Recipients: repeat the flag or give a comma list")
      ->type_name("ADDRESS[,ADDRESS...]");
  cmd->add_option("--ehlo,--helo", s.ehlo, "The EHLO name (swaks' -h)")
      ->type_name("NAME")
      ->default_str("<hostname>");
  c.auth = cmd->add_option("-a,--auth", s.auth_mechanism,
                           "Authenticate: PLAIN, LOGIN or CRAM-MD5; without a value, the best "
                           "advertised")
               ->type_name("[MECH]")
               ->expected(0, 1);
  c.auth_optional = cmd->add_option("--auth-optional", c.auth_optional_mechanism,
                                    "Like --auth, but go on without AUTH when it cannot be done "
                                    "or fails (swaks' -ao)")
                        ->type_name("[MECH]")
                        ->expected(0, 1);
  c.auth_optional_strict =
      cmd->add_option("--auth-optional-strict", c.auth_optional_strict_mechanism,
                      "Go on without AUTH only when it is not advertised or MECH is not "
                      "offered; fail when it is tried and fails (swaks' -aos)")
          ->type_name("[MECH]")
          ->expected(0, 1);
  cmd->add_option("--auth-user,--au", s.auth_user, "AUTH user name (implies --auth)")
      ->type_name("USER");
  cmd->add_option("--auth-password,--ap", s.auth_password, "AUTH password")->type_name("PASSWORD");
  cmd->add_flag("--tls", s.tls, "Use STARTTLS; fail (exit 29) when it is not offered");
  cmd->add_flag("--tls-on-connect,--tlsc", s.tls_on_connect, "Implicit TLS (port 465 style)");
  cmd->add_flag("--tls-verify", s.tls_verify,
                "Verify the server certificate and host name (off by default, as in swaks)");
  cmd->add_flag("--tls-optional", s.tls_optional,
                "STARTTLS when offered; go on in plaintext when it is not or is refused (-tlso)");
  cmd->add_flag("--tls-optional-strict", s.tls_optional_strict,
                "STARTTLS when offered; fail (exit 29) when it is refused (-tlsos)");
  cmd->add_option("--tls-sni", s.tls_sni, "The TLS server name to send (SNI)")->type_name("NAME");
  cmd->add_option("--tls-protocol", s.tls_protocol,
                  "TLS versions: tlsv1_2,tlsv1_3 (only those) or no_tlsv1_3 (all but those)")
      ->type_name("SPEC");
  cmd->add_option("--tls-cert", s.tls_cert, "Client certificate (PEM), with --tls-key")
      ->type_name("FILE");
  cmd->add_option("--tls-key", s.tls_key, "Client certificate's private key (PEM)")
      ->type_name("FILE");
  cmd->add_option("--tls-ca-path", s.tls_ca_path,
                  "CAs for --tls-verify: a PEM file or a hashed directory")
      ->type_name("PATH");
  cmd->add_option("--protocol", s.protocol,
                  "SMTP (HELO), ESMTP, ESMTPA (+AUTH), ESMTPS (+STARTTLS), ESMTPSA, SMTPS/SSMTP "
                  "(TLS on connect, port 465), LMTP (LHLO, port 24), ...")
      ->type_name("NAME");
  cmd->add_flag("-4", s.ipv4, "Connect over IPv4 only");
  cmd->add_flag("-6", s.ipv6, "Connect over IPv6 only");
  cmd->add_option("--local-interface", s.local_interface,
                  "Connect from this local address (and port)")
      ->type_name("ADDR[:PORT]");
  cmd->add_option("--local-port", s.local_port, "Connect from this local port")->type_name("PORT");
  cmd->add_flag("--pipeline", s.pipeline,
                "Pipeline MAIL, RCPT and DATA (RFC 2920) when the server advertises PIPELINING");
  cmd->add_flag("--chunking,--bdat", s.chunking,
                "Send the message as one BDAT chunk (RFC 3030) when the server advertises "
                "CHUNKING, else DATA");
  c.data_opt =
      cmd->add_option(
             "-d,--data", c.data,
             "The whole message (its template: %TOKENS%, --header and --body apply): @FILE, - for "
             "stdin, or the text itself with \\n for line breaks (a one-line TEXT is a file, as in "
             "swaks)")
          ->type_name("@FILE|-|TEXT");
  cmd->add_option("--header", s.headers, "Replace the header of that name, or add it")
      ->type_name("\"Name: value\"");
  cmd->add_option("--add-header,--ah", s.add_headers, "Add a header (swaks' -ah)")
      ->type_name("\"Name: value\"");
  c.body_opt = cmd->add_option("--body", c.body, "The body: TEXT, @FILE or - for stdin")
                   ->type_name("TEXT|@FILE|-");
  c.attach_opt = cmd->add_option("--attach", c.attach,
                                 "Attach TEXT, @FILE or - (stdin); repeatable; makes the message "
                                 "multipart/mixed")
                     ->type_name("TEXT|@FILE|-")
                     ->expected(1)
                     ->take_all();
  c.attach_type_opt =
      cmd->add_option("--attach-type", c.attach_type,
                      "The MIME type of the --attach parts after it (application/octet-stream)")
          ->type_name("TYPE")
          ->expected(1)
          ->take_all();
  c.attach_name_opt = cmd->add_option("--attach-name", c.attach_name,
                                      "The file name of the next --attach part; without NAME, "
                                      "none")
                          ->type_name("[NAME]")
                          ->expected(1)
                          ->take_all();
  c.attach_no_name_opt = cmd->add_flag("--attach-no-name", c.attach_no_name)->group("");
  c.attach_body_opt = cmd->add_option("--attach-body", c.attach_body,
                                      "A body part (first in the message; several make "
                                      "multipart/alternative)")
                          ->type_name("TEXT|@FILE|-")
                          ->expected(1)
                          ->take_all();
  cmd->add_flag("--no-strip-from", s.no_strip_from,
                "Keep a leading mbox \"From \" line of --data (swaks' -nsf)");
  cmd->add_flag("--dump-mail", s.dump_mail, "Print the message it would send; send nothing");
  cmd->add_option("--tls-cipher", s.tls_cipher, "OpenSSL cipher list (TLS 1.2 and older)")
      ->type_name("LIST");
  cmd->add_flag("--no-data-fixup,--ndf", s.no_data_fixup,
                "Send --data exactly as given (no tokens, headers or body)");
  cmd->add_option("--quit-after,--qa", s.quit_after,
                  "QUIT after CONNECT, FIRST-HELO, TLS, HELO, AUTH, MAIL or RCPT (exit 0)")
      ->type_name("STAGE");
  cmd->add_option("--drop-after", s.drop_after,
                  "Close the connection without QUIT after a --quit-after STAGE, DATA or DOT "
                  "(exit 0)")
      ->type_name("STAGE");
  cmd->add_option("--drop-after-send", s.drop_after_send,
                  "Close the connection right after writing STAGE's command, before its reply "
                  "(swaks' -das)")
      ->type_name("STAGE");
  cmd->add_option("--timeout", c.send_timeout, "Timeout for each connect and reply")
      ->type_name("DURATION")
      ->capture_default_str();
  cmd->add_flag("--json", s.json, "Print a JSON transcript with timings (or the load summary)");
  cmd->add_option("--api", s.api,
                  "smtpmock's HTTP API, to show what the server found in the session (none: "
                  "never ask)")
      ->type_name("URL")
      ->envname("SMTPMOCK_API")
      ->default_str("http://HOST:8025 when the server is on a loopback address");
  cmd->add_flag("--no-api", c.no_api, "Do not ask the server for its findings (--api none)");
  c.silent = cmd->add_option("--silent", c.silent_value,
                             "swaks' -S: 1 (no value) nothing until an error, then everything; "
                             "2 errors only; 3 nothing")
                 ->type_name("[1|2|3]")
                 ->expected(0, 1)
                 ->check(CLI::IsMember({"1", "2", "3"}));
  cmd->add_flag("--hide-all", c.hide_all, "No output at all (swaks' -ha; --silent 3)");
  cmd->add_flag("--suppress-data", s.output.suppress_data,
                "Show the message as \"N lines sent\" (swaks' -n)");
  c.time_lapse = cmd->add_option("--show-time-lapse", c.time_lapse_value,
                                 "Show the time each reply took (swaks' -stl; i: whole seconds)")
                     ->type_name("[i]")
                     ->expected(0, 1);
  c.hide_password =
      cmd->add_option("--auth-hide-password", c.hide_password_value,
                      "Show the password in AUTH PLAIN/LOGIN lines as STRING (default "
                      "PROVIDED_BUT_REMOVED; swaks' -ahp)")
          ->type_name("[STRING]")
          ->expected(0, 1);
  cmd->add_flag("--auth-plaintext", s.output.auth_plaintext,
                "Show the AUTH exchange decoded from base64 (swaks' -apt)");
  cmd->add_flag("--hide-send", s.output.hide_send, "Do not show the lines sent (swaks' -hs)");
  cmd->add_flag("--hide-receive", s.output.hide_receive,
                "Do not show the lines received (swaks' -hr)");
  cmd->add_flag("--hide-informational", s.output.hide_informational,
                "Do not show the === lines (swaks' -hi)");
  cmd->add_flag("--no-send-hints", s.output.no_send_hints, "No -> before sent lines (-nsh)");
  cmd->add_flag("--no-receive-hints", s.output.no_receive_hints,
                "No <- before received lines (-nrh)");
  cmd->add_flag("--no-info-hints", s.output.no_info_hints, "No === before information (-nih)");
  cmd->add_flag("--no-hints", c.no_hints, "--no-send-hints and --no-receive-hints (-nth)");
  cmd->add_option("--output-file", s.output_file,
                  "Write the output (errors too) to FILE instead of stdout and stderr")
      ->type_name("FILE");
  cmd->add_option("--output-file-stdout", s.output_file_stdout,
                  "Write the transcript to FILE (&STDERR: to stderr)")
      ->type_name("FILE");
  cmd->add_option("--output-file-stderr", s.output_file_stderr,
                  "Write the errors to FILE (&STDOUT: to stdout)")
      ->type_name("FILE");
  cmd->add_option("--count", s.count, "Load mode: send N messages")
      ->type_name("N")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
  cmd->add_option("--concurrency", s.concurrency, "Load mode: connections at a time")
      ->type_name("C")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000}))
      ->capture_default_str();
  cmd->add_option("--per-connection", s.per_connection, "Load mode: messages per connection")
      ->type_name("M")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}))
      ->capture_default_str();
  cmd->add_flag("--no-progress", c.no_progress, "Load mode: no progress bar");
  cmd->footer(
      "Exit codes (swaks'): 0 ok, 2 connect, 21 banner, 22 EHLO/HELO, 23 MAIL, 24 no RCPT "
      "accepted,\n25 DATA, 26 after end of data, 28 AUTH, 29 TLS, 6 connection closed "
      "unexpectedly.\nswaks' spellings work too: one dash or two (-tls, -from), -h NAME (EHLO),\n"
      "-au, -ap, -tlsc, -q, -S, -ah, --h-NAME VALUE; swaks options it lacks are refused (exit 2).");
}

void add_check(CLI::App& app, client_cli& c) {
  auto& s = c.check_settings;
  CLI::App* cmd = app.add_subcommand(
      "check", "Check an SMTP server (or every MX of a domain) like a manual telnet session");
  c.check = cmd;
  cmd->add_option("target", s.target, "The server")->type_name("HOST[:PORT]");
  cmd->add_option("--mx", s.mx_domain, "Check each MX host of DOMAIN in preference order")
      ->type_name("DOMAIN");
  cmd->add_option("--dns-server", s.dns_server, "The DNS resolver to ask (MX, A, PTR)")
      ->type_name("ADDR[:PORT]");
  cmd->add_option("-p,--port", s.port, "Port (default 25)")->type_name("PORT");
  cmd->add_option("--host-port", s.host_ports, "The port of one MX host (repeatable)")
      ->type_name("NAME=PORT");
  cmd->add_option("--ehlo,--helo", s.ehlo, "The EHLO name")->type_name("NAME");
  cmd->add_option("-f,--from", s.from, "Sender for the relay test")->type_name("ADDRESS");
  cmd->add_option("--relay-to", s.relay_to, "The outside recipient of the relay test")
      ->type_name("ADDRESS")
      ->capture_default_str();
  cmd->add_option("--auth-user,--au", s.auth_user, "Check that AUTH works for this user")
      ->type_name("USER");
  cmd->add_option("--auth-password,--ap", s.auth_password, "AUTH password")->type_name("PASSWORD");
  cmd->add_option("-a,--auth", s.auth_mechanism, "AUTH mechanism (default: the best offered)")
      ->type_name("MECH");
  cmd->add_flag("--send", s.send, "Also send DATA (a test message) in the relay test");
  cmd->add_flag("--no-tls", c.check_no_tls, "Do not try STARTTLS");
  cmd->add_flag("--tls-verify", s.tls_verify, "Verify certificates against the system CAs");
  cmd->add_option("--timeout", c.check_timeout, "Timeout for each connect and reply")
      ->type_name("DURATION")
      ->capture_default_str();
  cmd->add_flag("--json", s.json, "Print the report as JSON");
}

void add_record(CLI::App& app, client_cli& c) {
  auto& s = c.record_settings;
  CLI::App* cmd = app.add_subcommand(
      "record", "Talk to a server and write a scenario that reproduces its replies");
  c.record = cmd;
  cmd->add_option("target", s.target, "The server")->type_name("HOST[:PORT]")->required();
  cmd->add_option("-o,--output", s.output, "The scenario file to write (- for stdout)")
      ->type_name("FILE.yaml")
      ->required();
  cmd->add_option("-p,--port", s.port, "Port (default 25)")->type_name("PORT");
  cmd->add_option("--name", s.name, "Scenario name (default: recorded-HOST)")->type_name("NAME");
  cmd->add_option("--ehlo,--helo", s.ehlo, "The EHLO name")->type_name("NAME");
  cmd->add_option("-f,--from", s.from, "Sender of the test message")->type_name("ADDRESS");
  cmd->add_option("-t,--to", s.to, "Recipient of the test message")->type_name("ADDRESS");
  cmd->add_flag("--tls-on-connect,--tlsc", s.tls_on_connect, "Implicit TLS (port 465 style)");
  cmd->add_option("--timeout", c.record_timeout, "Timeout for each connect and reply")
      ->type_name("DURATION")
      ->capture_default_str();
}

bool set_timeout(const std::string& text, std::chrono::milliseconds& out) {
  auto d = client::parse_duration(text);
  if (!d || d->count() == 0) {
    std::cerr << "smtpmock: --timeout: expected a duration such as 30s or 500ms, got '" << text
              << "'\n";
    return false;
  }
  out = *d;
  return true;
}

}  // namespace

void add_client_commands(CLI::App& app) {
  client_cli& c = state();
  add_send(app, c);
  add_check(app, c);
  add_record(app, c);
}

std::optional<int> run_client_command() {
  client_cli& c = state();
  if (c.send != nullptr && c.send->parsed()) {
    auto& s = c.send_settings;
    if (!set_timeout(c.send_timeout, s.timeout)) return usage_error;
    s.auth = c.auth->count() > 0;
    if (c.auth_optional->count() > 0) {
      s.auth_need = smtp::auth_policy::optional;
      if (!c.auth_optional_mechanism.empty()) s.auth_mechanism = c.auth_optional_mechanism;
    }
    if (c.auth_optional_strict->count() > 0) {
      s.auth_need = smtp::auth_policy::optional_strict;
      if (!c.auth_optional_strict_mechanism.empty())
        s.auth_mechanism = c.auth_optional_strict_mechanism;
    }
    if (c.data_opt->count() > 0) s.data = c.data;
    if (c.body_opt->count() > 0) s.body = c.body;
    s.version = version();
    if (c.silent->count() > 0)
      s.output.silent = c.silent_value.empty() ? 1 : c.silent_value[0] - '0';
    if (c.hide_all) s.output.silent = 3;
    if (c.no_hints) s.output.no_send_hints = s.output.no_receive_hints = true;
    if (c.time_lapse->count() > 0) {
      // swaks: no value is thousandths of a second; a value must start with "i" (integer).
      if (!c.time_lapse_value.empty() && c.time_lapse_value[0] != 'i' &&
          c.time_lapse_value[0] != 'I') {
        std::cerr << "smtpmock send: --show-time-lapse: unknown argument '" << c.time_lapse_value
                  << "' (give none, or i)\n";
        return usage_error;
      }
      s.output.time_lapse = c.time_lapse_value.empty() ? client::output_options::lapse::hires
                                                       : client::output_options::lapse::integer;
    }
    if (c.hide_password->count() > 0)
      s.output.hide_password =
          c.hide_password_value.empty() ? "PROVIDED_BUT_REMOVED" : c.hide_password_value;
    std::size_t next_attach = 0, next_type = 0, next_name = 0, next_body = 0;
    using kind = client::attach_item::kind;
    for (const CLI::Option* o : c.send->parse_order()) {
      if (o == c.attach_opt && next_attach < c.attach.size()) {
        s.attach.push_back({kind::attach, c.attach[next_attach++]});
      } else if (o == c.attach_type_opt && next_type < c.attach_type.size()) {
        s.attach.push_back({kind::type, c.attach_type[next_type++]});
      } else if (o == c.attach_name_opt && next_name < c.attach_name.size()) {
        s.attach.push_back({kind::name, c.attach_name[next_name++]});
      } else if (o == c.attach_no_name_opt) {
        s.attach.push_back({kind::name, ""});
      } else if (o == c.attach_body_opt && next_body < c.attach_body.size()) {
        s.attach.push_back({kind::body, c.attach_body[next_body++]});
      }
    }
    s.progress = !c.no_progress;
    if (c.no_api) s.api = "none";
    if (s.server.empty() && s.port == 0) s.server = local_server();
    return client::run_send(s);
  }
  if (c.check != nullptr && c.check->parsed()) {
    auto& s = c.check_settings;
    if (!set_timeout(c.check_timeout, s.timeout)) return usage_error;
    s.starttls = !c.check_no_tls;
    if (s.target.empty() == s.mx_domain.empty()) {
      std::cerr << "smtpmock check: give HOST[:PORT] or --mx DOMAIN (one of them)\n";
      return usage_error;
    }
    return client::run_check(s);
  }
  if (c.record != nullptr && c.record->parsed()) {
    auto& s = c.record_settings;
    if (!set_timeout(c.record_timeout, s.timeout)) return usage_error;
    return client::run_record(s);
  }
  return std::nullopt;
}

}  // namespace smtpmock::app
