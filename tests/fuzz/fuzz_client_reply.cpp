// libFuzzer target: smtp::client_connection (the client core and its reply parser) fed
// arbitrary server bytes in arbitrary chunkings, with options chosen by the first two bytes
// (STARTTLS, AUTH mechanism, PIPELINING, transactions, quit-after). Invariants (a violation
// traps; an exception escaping is a crash too, since the core must never throw on what a server
// sends): every received reply carries a three-digit code and its lines; whatever the client
// writes ends with CRLF; eof always finishes the session; the loop makes progress; the exit
// code is one of swaks' codes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "smtp/client_connection.hpp"

using namespace smtpmock;

namespace {

smtp::client_options make_options(std::uint8_t a, std::uint8_t b) {
  smtp::client_options o;
  o.ehlo_name = "fuzz.example";
  switch (a & 3) {
    case 0:
      o.starttls = smtp::starttls_mode::off;
      break;
    case 1:
      o.starttls = smtp::starttls_mode::required;
      break;
    default:
      o.starttls = smtp::starttls_mode::opportunistic;
  }
  o.auth = (a & 4) != 0;
  static constexpr const char* mechanisms[] = {"", "PLAIN", "LOGIN", "CRAM-MD5"};
  o.auth_mechanism = mechanisms[(a >> 3) & 3];
  o.auth_user = "user";
  o.auth_password = "secret";
  o.pipeline = (a & 32) != 0;
  o.continue_after_failure = (a & 64) != 0;
  static constexpr smtp::quit_point quits[] = {
      smtp::quit_point::none, smtp::quit_point::connect, smtp::quit_point::first_ehlo,
      smtp::quit_point::tls,  smtp::quit_point::ehlo,    smtp::quit_point::auth,
      smtp::quit_point::mail, smtp::quit_point::rcpt};
  o.quit_after = quits[b & 7];
  static constexpr smtp::after_rcpt afters[] = {smtp::after_rcpt::data, smtp::after_rcpt::rset,
                                                smtp::after_rcpt::quit, smtp::after_rcpt::data};
  o.after_recipients = afters[(b >> 3) & 3];
  o.transactions = 1 + ((b >> 5) & 3);
  o.tls_on_connect = (b & 128) != 0;
  o.mail_from = "from@fuzz.example";
  o.recipients = {"a@fuzz.example", "b@fuzz.example"};
  o.message = "Subject: fuzz\r\n\r\n.leading dot\r\nbody\r\n";
  o.hmac_md5 = [](std::string_view key, std::string_view message) {
    return "hmac(" + std::string(key) + "," + std::string(message) + ")";
  };
  return o;
}

bool swaks_code(int c) {
  for (int k : {0, 2, 6, 21, 22, 23, 24, 25, 26, 28, 29})
    if (c == k) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::fuzz_input in(data, size, 2);
  const bool handshake_ok = (in.flag(0) & 128) != 0;
  smtp::client_connection client(make_options(in.flag(0), in.flag(1)));

  const std::size_t budget = 8 * in.payload().size() + 256;
  bool eof = false;
  for (std::size_t step = 0;; ++step) {
    fuzz::require(step <= budget, "client event loop makes no progress");
    const smtp::client_event ev = client.next_event();
    const std::string out = client.take_output();
    if (!out.empty())
      fuzz::require(out.size() >= 2 && out.substr(out.size() - 2) == "\r\n",
                    "client output does not end in CRLF");
    switch (ev.kind) {
      case smtp::client_event_kind::sent:
        fuzz::require(ev.octets > 0, "a sent event without octets");
        break;
      case smtp::client_event_kind::received:
        fuzz::require(!ev.lines.empty(), "a received reply without lines");
        fuzz::require(ev.parsed.code >= 0 && ev.parsed.code <= 999,
                      "a parsed reply code outside three digits");
        break;
      case smtp::client_event_kind::start_tls:
        if (handshake_ok)
          client.tls_started();
        else
          client.tls_failed("fuzz: handshake refused");
        break;
      case smtp::client_event_kind::need_data:
        fuzz::require(!eof, "need_data after eof");
        if (in.more()) {
          client.receive_data(in.next_chunk());
        } else {
          eof = true;
          client.receive_eof();
        }
        break;
      case smtp::client_event_kind::finished: {
        fuzz::require(client.finished(), "finished event while not finished");
        const auto& r = client.result();
        fuzz::require(swaks_code(r.exit_code), "exit code not one of swaks' codes");
        fuzz::require(r.error.rfind("internal error: no progress", 0) == std::string::npos,
                      "the client core reported no progress");
        return 0;
      }
    }
  }
}
