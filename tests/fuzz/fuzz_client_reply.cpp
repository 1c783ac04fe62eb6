// libFuzzer target: smtp::client_connection (the client core and its reply parser) fed
// arbitrary server bytes in arbitrary chunkings, with options chosen by the first two bytes
// (STARTTLS, AUTH mechanism, PIPELINING, transactions, a stop point). Invariants (a violation
// traps; an exception escaping is a crash too, since the core must never throw on what a server
// sends): every received reply carries a three-digit code and its lines; whatever the client
// writes ends with CRLF; eof always finishes the session; the loop makes progress; a failure
// comes with its reason, and a dropped session wrote nothing after its last command.
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
  // b & 15: none, or a stop point (QUIT or drop) at one of the milestones.
  static constexpr smtp::milestone stops[] = {
      smtp::milestone::banner,   smtp::milestone::first_greeting, smtp::milestone::tls,
      smtp::milestone::greeting, smtp::milestone::auth,           smtp::milestone::mail,
      smtp::milestone::rcpt,     smtp::milestone::data,           smtp::milestone::dot};
  if ((b & 15) < 9) o.stop = smtp::stop_point{stops[b & 15], (a & 128) != 0};
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
        fuzz::require(!r.failed || !r.error.empty(), "a failure without its reason");
        fuzz::require(!r.dropped || out.empty(), "a dropped session wrote more");
        fuzz::require(r.error.rfind("internal error: no progress", 0) == std::string::npos,
                      "the client core reported no progress");
        return 0;
      }
    }
  }
}
