#include "smtp/server_connection.hpp"

#include <doctest/doctest.h>

#include "harness.hpp"
#include "smtp/base64.hpp"

using namespace smtpmock;
using smtpmock::test::codes;
using smtpmock::test::harness;

namespace {
smtp::personality with_users() {
  smtp::personality p = smtp::default_personality();
  p.auth.accept_any = false;
  p.auth.users = {{"alice", "secret"}};
  return p;
}
std::string b64(std::string_view s) {
  return smtp::base64_encode(s);
}
}  // namespace

TEST_CASE("unit: a plain session is answered and its message captured") {
  harness h;
  CHECK(h.start() == "220 localhost ESMTP smtpmock\r\n");
  CHECK(h.cmd("EHLO client.example") ==
        "250-localhost\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n"
        "250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n250-STARTTLS\r\n"
        "250-SMTPUTF8\r\n250-DSN\r\n250 CHUNKING\r\n");
  CHECK(h.cmd("MAIL FROM:<a@x.example> SIZE=20 BODY=8BITMIME") == "250 2.1.0 Sender ok\r\n");
  CHECK(h.cmd("RCPT TO:<b@y.example> NOTIFY=SUCCESS,FAILURE") == "250 2.1.5 Recipient ok\r\n");
  CHECK(h.cmd("DATA") == "354 End data with <CR><LF>.<CR><LF>\r\n");
  CHECK(h.feed("Subject: hi\r\n\r\n..dot\r\n.\r\n") == "250 2.0.0 Ok: queued as M1\r\n");
  REQUIRE(h.stored.size() == 1);
  const auto& m = h.stored[0];
  CHECK(m.id == "M1");
  CHECK(m.data == "Subject: hi\r\n\r\n.dot\r\n");
  CHECK(m.env.helo == "client.example");
  CHECK(m.env.esmtp);
  CHECK(m.env.mail_from == "a@x.example");
  CHECK(m.env.mail_params == std::vector<std::string>{"SIZE=20", "BODY=8BITMIME"});
  REQUIRE(m.env.recipients.size() == 1);
  CHECK(m.env.recipients[0].address == "b@y.example");
  CHECK(m.env.recipients[0].params == std::vector<std::string>{"NOTIFY=SUCCESS,FAILURE"});
  CHECK(m.env.client_address == "127.0.0.1:4000");
  CHECK(h.cmd("QUIT") == "221 2.0.0 Bye\r\n");
  CHECK(h.conn.closing());
}

TEST_CASE("unit: HELO, RSET, NOOP, VRFY, HELP, unknown and EXPN") {
  harness h;
  h.start();
  CHECK(h.cmd("HELO client.example") == "250 localhost\r\n");
  CHECK(h.cmd("NOOP") == "250 2.0.0 Ok\r\n");
  CHECK(codes(h.cmd("RSET")) == std::vector<int>{250});
  CHECK(codes(h.cmd("VRFY bob")) == std::vector<int>{252});
  CHECK(codes(h.cmd("VRFY")) == std::vector<int>{501});
  CHECK(codes(h.cmd("HELP")) == std::vector<int>{214});
  CHECK(h.cmd("FOO bar") == "500 5.5.2 Command unrecognized\r\n");
  CHECK(codes(h.cmd("EXPN list")) == std::vector<int>{502});
  CHECK(codes(h.cmd("HELO")) == std::vector<int>{501});
  // ESMTP parameters need EHLO.
  CHECK(codes(h.cmd("MAIL FROM:<a@x> SIZE=10")) == std::vector<int>{555});
}

TEST_CASE("unit: bad sequences get 503 and leave the state alone") {
  harness h;
  h.start();
  CHECK(h.cmd("MAIL FROM:<a@x>") == "503 5.5.1 Send HELO/EHLO first\r\n");
  h.cmd("EHLO c");
  CHECK(h.cmd("RCPT TO:<b@x>") == "503 5.5.1 Need MAIL command\r\n");
  CHECK(codes(h.cmd("DATA")) == std::vector<int>{503});
  CHECK(codes(h.cmd("MAIL FROM:<a@x>")) == std::vector<int>{250});
  CHECK(codes(h.cmd("MAIL FROM:<a@x>")) == std::vector<int>{503});
  CHECK(codes(h.cmd("DATA")) == std::vector<int>{554});  // no recipient accepted
  CHECK(codes(h.cmd("RSET")) == std::vector<int>{250});
  CHECK(codes(h.cmd("RCPT TO:<b@x>")) == std::vector<int>{503});
}

TEST_CASE("unit: syntax errors in MAIL and RCPT") {
  harness h;
  h.start();
  h.cmd("EHLO c");
  CHECK(h.cmd("MAIL FROM:a@x") == "501 5.1.7 Bad sender address syntax\r\n");
  CHECK(codes(h.cmd("MAIL TO:<a@x>")) == std::vector<int>{501});
  CHECK(codes(h.cmd("MAIL FROM:<a@x> FOO=bar")) == std::vector<int>{555});
  CHECK(codes(h.cmd("MAIL FROM:<a@x> SIZE=abc")) == std::vector<int>{501});
  CHECK(codes(h.cmd("MAIL FROM:<a@x> SIZE=999999999")) == std::vector<int>{552});
  CHECK(codes(h.cmd("MAIL FROM:<a@x> RET=FULL ENVID=abc SMTPUTF8")) == std::vector<int>{250});
  CHECK(h.cmd("RCPT TO:<>") == "501 5.1.3 Bad recipient address syntax\r\n");
  CHECK(codes(h.cmd("RCPT TO:<b@x> XYZ")) == std::vector<int>{555});
  CHECK(codes(h.cmd("RCPT TO:<b@x> ORCPT=rfc822;b@x")) == std::vector<int>{250});
}

TEST_CASE("unit: parameters are accepted exactly when their extension is advertised") {
  smtp::personality p;
  p.extensions = {"DSN"};  // AOL's lone extension
  harness h(p);
  h.start();
  h.cmd("EHLO c");
  CHECK(codes(h.cmd("MAIL FROM:<a@x> SIZE=10")) == std::vector<int>{555});
  CHECK(codes(h.cmd("MAIL FROM:<a@x> BODY=8BITMIME")) == std::vector<int>{555});
  CHECK(codes(h.cmd("MAIL FROM:<a@x> RET=HDRS")) == std::vector<int>{250});
  // No ENHANCEDSTATUSCODES advertised: no enhanced codes in replies.
  CHECK(h.cmd("RCPT TO:<b@x> XYZ=1") == "555 Unsupported parameter XYZ\r\n");
  CHECK(h.cmd("NOOP") == "250 Ok\r\n");
}

TEST_CASE("unit: the scenario's reply texts and templates are used") {
  smtp::personality p;
  p.hostname = "mx.example";
  p.extensions = {"ENHANCEDSTATUSCODES"};
  p.replies = {{"rcpt", "250 2.1.5 <{recipient}> ok"},
               {"quit", "221 2.0.0 {hostname} bye"},
               {"message", "250 2.6.0 {size} octets as {queue_id}"}};
  harness h(p);
  h.start();
  h.cmd("EHLO c");
  h.cmd("MAIL FROM:<a@x>");
  CHECK(h.cmd("RCPT TO:<bob@y.example>") == "250 2.1.5 <bob@y.example> ok\r\n");
  h.cmd("DATA");
  CHECK(h.feed("hi\r\n.\r\n") == "250 2.6.0 4 octets as M1\r\n");
  CHECK(h.cmd("QUIT") == "221 2.0.0 mx.example bye\r\n");
}

TEST_CASE("unit: pipelined commands are answered in order, nothing lost after an error") {
  harness h;
  h.start();
  h.cmd("EHLO c");
  const std::string out = h.feed(
      "MAIL FROM:<a@x>\r\nRCPT TO:<bad address>\r\nRCPT TO:<b@x>\r\nDATA\r\nbody\r\n.\r\nNOOP\r\n");
  CHECK(codes(out) == std::vector<int>{250, 501, 250, 354, 250, 250});
  REQUIRE(h.stored.size() == 1);
  CHECK(h.stored[0].data == "body\r\n");
}

TEST_CASE("unit: pipelined DATA after all recipients failed gets 554 and data becomes commands") {
  harness h;
  h.start();
  h.cmd("EHLO c");
  const std::string out = h.feed("MAIL FROM:<a@x>\r\nRCPT TO:<>\r\nDATA\r\nNOOP\r\n");
  CHECK(codes(out) == std::vector<int>{250, 501, 554, 250});
  CHECK(h.stored.empty());
}

TEST_CASE("unit: a byte-at-a-time client gets the same replies") {
  harness a, b;
  const std::string session =
      "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nx\r\n..\r\n.\r\nQUIT\r\n";
  std::string whole = a.start() + a.feed(session);
  std::string bytewise = b.start();
  for (char c : session)
    bytewise += b.feed(std::string(1, c));
  CHECK(whole == bytewise);
  REQUIRE(b.stored.size() == 1);
  CHECK(b.stored[0].data == "x\r\n.\r\n");
}

TEST_CASE("unit: AUTH LOGIN with challenges") {
  harness h(with_users());
  h.start();
  h.cmd("EHLO c");
  CHECK(h.cmd("AUTH LOGIN") == "334 VXNlcm5hbWU6\r\n");
  CHECK(h.cmd(b64("alice")) == "334 UGFzc3dvcmQ6\r\n");
  CHECK(h.cmd(b64("secret")) == "235 2.7.0 Authentication successful\r\n");
  CHECK(h.conn.authenticated());
  CHECK(codes(h.cmd("AUTH LOGIN")) == std::vector<int>{503});
  h.cmd("MAIL FROM:<a@x>");
  h.cmd("RCPT TO:<b@x>");
  h.cmd("DATA");
  h.feed("x\r\n.\r\n");
  REQUIRE(h.stored.size() == 1);
  CHECK(h.stored[0].env.auth_user == "alice");
  // The transcript never sees the secrets.
  for (const auto& ev : h.events) {
    CHECK(ev.line.find(b64("secret")) == std::string::npos);
    CHECK(ev.line.find(b64("alice")) == std::string::npos);
  }
}

TEST_CASE("unit: AUTH LOGIN initial response and wrong password") {
  harness h(with_users());
  h.start();
  h.cmd("EHLO c");
  CHECK(h.cmd("AUTH LOGIN " + b64("alice")) == "334 UGFzc3dvcmQ6\r\n");
  CHECK(h.cmd(b64("wrong")) == "535 5.7.8 Authentication credentials invalid\r\n");
  CHECK_FALSE(h.conn.authenticated());
  CHECK(h.cmd("AUTH LOGIN " + b64("alice")) == "334 UGFzc3dvcmQ6\r\n");
  CHECK(codes(h.cmd(b64("secret"))) == std::vector<int>{235});
}

TEST_CASE("unit: AUTH PLAIN with and without initial response") {
  harness h(with_users());
  h.start();
  h.cmd("EHLO c");
  CHECK(h.cmd("AUTH PLAIN " + b64(std::string("\0alice\0bad", 10))) ==
        "535 5.7.8 Authentication credentials invalid\r\n");
  CHECK(h.cmd("AUTH PLAIN") == "334 \r\n");
  CHECK(codes(h.cmd(b64(std::string("\0alice\0secret", 13)))) == std::vector<int>{235});
  CHECK(h.events.back().user == "alice");
}

TEST_CASE("unit: AUTH errors: cancel, bad base64, unknown mechanism, sequence") {
  smtp::personality p = with_users();
  p.limits.max_auth_failures = 0;  // each bad response is a failed attempt; none may end this
  harness h(p);
  h.start();
  CHECK(codes(h.cmd("AUTH LOGIN")) == std::vector<int>{503});  // before EHLO
  h.cmd("EHLO c");
  CHECK(h.cmd("AUTH DIGEST-MD5") == "504 5.5.4 Unrecognized authentication mechanism\r\n");
  CHECK(h.cmd("AUTH LOGIN *") == "501 5.7.0 Authentication cancelled\r\n");
  h.cmd("AUTH LOGIN");
  CHECK(h.cmd("*") == "501 5.7.0 Authentication cancelled\r\n");
  h.cmd("AUTH LOGIN");
  h.cmd(b64("alice"));
  CHECK(h.cmd("*") == "501 5.7.0 Authentication cancelled\r\n");
  for (std::string bad : {"!!!", "=AAA", "AAA=BBB"}) {
    h.cmd("AUTH LOGIN");
    CHECK(h.cmd(bad) == "501 5.5.2 Cannot decode base64 response\r\n");
    CHECK(codes(h.cmd("AUTH PLAIN " + bad)) == std::vector<int>{501});
  }
  CHECK(codes(h.cmd("AUTH PLAIN " + b64("no-nuls"))) == std::vector<int>{501});
  h.cmd("MAIL FROM:<a@x>");
  CHECK(h.cmd("AUTH PLAIN") == "503 5.5.1 AUTH not permitted during a mail transaction\r\n");
}

TEST_CASE("unit: only the advertised mechanisms work") {
  smtp::personality p = with_users();
  p.extensions = {"AUTH LOGIN"};
  harness h(p);
  h.start();
  h.cmd("EHLO c");
  CHECK(codes(h.cmd("AUTH PLAIN")) == std::vector<int>{504});
  CHECK(codes(h.cmd("AUTH LOGIN")) == std::vector<int>{334});
  p.extensions = {"PIPELINING"};
  harness none(p);
  none.start();
  none.cmd("EHLO c");
  CHECK(codes(none.cmd("AUTH LOGIN")) == std::vector<int>{502});
}

TEST_CASE("unit: auth.required gives 530 to MAIL before AUTH") {
  smtp::personality p = with_users();
  p.auth.required = true;
  harness h(p);
  h.start();
  h.cmd("EHLO c");
  CHECK(h.cmd("MAIL FROM:<a@x>") == "530 5.7.0 Authentication required\r\n");
  h.cmd("AUTH PLAIN " + b64(std::string("\0alice\0secret", 13)));
  CHECK(codes(h.cmd("MAIL FROM:<a@x>")) == std::vector<int>{250});
}

TEST_CASE("unit: a pipelined AUTH LOGIN with its answers and a MAIL in one write") {
  harness h(with_users());
  h.start();
  h.cmd("EHLO c");
  const auto out =
      h.feed("AUTH LOGIN\r\n" + b64("alice") + "\r\n" + b64("secret") + "\r\nMAIL FROM:<a@x>\r\n");
  CHECK(codes(out) == std::vector<int>{334, 334, 235, 250});
}

TEST_CASE("unit: STARTTLS is answered 454 without a certificate, 502 when not advertised") {
  smtp::personality p;
  p.extensions = {"STARTTLS", "ENHANCEDSTATUSCODES"};
  harness h(p, false);
  h.start();
  h.cmd("EHLO c");
  CHECK(h.cmd("STARTTLS") == "454 4.7.0 TLS not available\r\n");
  p.extensions = {"PIPELINING"};  // no STARTTLS
  harness d(p);
  d.start();
  d.cmd("EHLO c");
  CHECK(codes(d.cmd("STARTTLS")) == std::vector<int>{502});
}

TEST_CASE("unit: the error budget closes the session with 421") {
  smtp::personality p = smtp::default_personality();
  p.limits.max_errors = 3;
  harness h(p);
  h.start();
  CHECK(codes(h.feed("X\r\nX\r\nX\r\nX\r\nNOOP\r\n")) == std::vector<int>{500, 500, 500, 421});
  CHECK(h.closed);
}

TEST_CASE("unit: EOF in the middle of DATA stores nothing") {
  harness h;
  h.start();
  h.feed("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n");
  h.feed("partial message\r\n");
  h.eof();
  CHECK(h.closed);
  CHECK(h.stored.empty());
}

TEST_CASE("unit: interrupt sends its 421 and closes") {
  harness h;
  h.start();
  h.conn.interrupt(smtp::make(smtp::stock::idle_timeout));
  CHECK(h.run() == "421 4.4.2 Idle timeout, closing connection\r\n");
  CHECK(h.closed);
}

TEST_CASE("unit: the state follows the reply actually sent") {
  harness h;
  h.start();
  h.cmd("EHLO c");
  h.conn.receive_data("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\n");
  auto mail = h.conn.next_event();
  h.conn.respond(mail.proposed);
  auto rcpt = h.conn.next_event();
  CHECK(rcpt.recipient == "b@x");
  h.conn.respond(smtp::reply::parse("451 4.7.1 greylisted"));  // a rule's reply
  auto rcpt2 = h.conn.next_event();
  h.conn.respond(rcpt2.proposed);
  REQUIRE(h.conn.current_envelope().recipients.size() == 1);
  CHECK(h.conn.current_envelope().recipients[0].address == "c@x");
  h.conn.take_output();
  // A 421 to any command closes.
  h.conn.receive_data("NOOP\r\n");
  auto noop = h.conn.next_event();
  h.conn.respond(smtp::reply::parse("421 4.3.2 bye"));
  CHECK(h.conn.closing());
}

TEST_CASE("unit: quirk pipelining reject answers unwaited commands with 503 5.5.0") {
  smtp::personality p = smtp::default_personality();
  p.quirks.pipelining = smtp::pipelining_mode::reject;
  harness h(p);
  h.start();
  // EHLO ends a group: a MAIL sent before its reply is improper.
  CHECK(codes(h.feed("EHLO c\r\nMAIL FROM:<a@x>\r\n")) == std::vector<int>{250, 503});
  // MAIL and RCPT may be grouped when PIPELINING is advertised; DATA ends the group.
  CHECK(codes(h.feed("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n")) ==
        std::vector<int>{250, 250, 354});
  h.feed("x\r\n.\r\n");
  CHECK(h.stored.size() == 1);
  // Without PIPELINING advertised any command sent before the previous reply is improper.
  p.extensions = {"ENHANCEDSTATUSCODES"};
  harness n(p);
  n.start();
  n.cmd("EHLO c");
  CHECK(n.feed("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n") ==
        "250 2.1.0 Sender ok\r\n503 5.5.0 Improper use of SMTP command pipelining\r\n");
}

TEST_CASE("unit: a rule's 354 with no recipient still starts data, answered 554 at the end") {
  harness h;
  h.start();
  h.cmd("EHLO c");
  h.cmd("MAIL FROM:<a@x>");
  h.conn.receive_data("DATA\r\nhello\r\n.\r\n");
  auto data = h.conn.next_event();
  CHECK(data.proposed.code == 554);
  h.conn.respond(h.conn.render({"354 go ahead {sender}"}));
  CHECK(h.conn.in_data());
  auto msg = h.conn.next_event();
  CHECK(msg.kind == smtp::event_kind::message);
  CHECK(msg.proposed.code == 554);
  h.conn.respond(msg.proposed);
  CHECK(h.conn.take_output() == "354 go ahead a@x\r\n554 5.5.1 No valid recipients\r\n");
}

TEST_CASE("unit: render expands and sanitises rule replies") {
  harness h;
  h.start();
  h.cmd("EHLO c");
  h.cmd("MAIL FROM:<a@x>");
  h.conn.receive_data("RCPT TO:<\"evil\x1b\"@x>\r\n");
  auto ev = h.conn.next_event();
  CHECK(ev.proposed.code == 500);  // the control character never reaches a path, but a rule
                                   // may still quote the argument
  const auto r = h.conn.render({"550-5.1.1 <{argument}> unknown", "550 5.1.1 on {hostname}"});
  CHECK(smtp::serialise(r, true) ==
        "550-5.1.1 <TO:<\"evil\"@x>> unknown\r\n550 5.1.1 on localhost\r\n");
  CHECK(h.conn.render({"nonsense"}).code == 0);
  h.conn.respond(r);
  CHECK(h.conn.current_envelope().recipients.empty());
}

TEST_CASE("unit: the MAIL event carries the sender being decided") {
  harness h;
  h.start();
  h.feed("EHLO c\r\nMAIL FROM:<first@x.example>\r\n");
  REQUIRE(h.events.back().command == smtp::verb::mail);
  CHECK(h.events.back().sender == "first@x.example");  // for a rule's match: {sender: ...}
  h.cmd("RCPT TO:<b@y.example>");
  CHECK(h.events.back().sender == "first@x.example");
  // A refused MAIL carries its own path; one refused before parsing carries none.
  h.cmd("MAIL FROM:<second@x.example>");
  CHECK(h.events.back().sender.empty());  // 503: a sender is already specified
  h.cmd("RSET");
  CHECK(codes(h.cmd("MAIL FROM:<bad@x.example> SIZE=x")) == std::vector<int>{501});
  CHECK(h.events.back().sender == "bad@x.example");
  CHECK(codes(h.cmd("RCPT TO:<b@y.example>")) == std::vector<int>{503});
  CHECK(h.events.back().sender.empty());  // no transaction is open
  h.cmd("MAIL FROM:<>");
  CHECK(h.events.back().sender.empty());
  CHECK(h.conn.in_transaction());
}

TEST_CASE("unit: transactions count MAIL commands answered 2xx, not refused ones") {
  harness h;
  h.start();
  h.cmd("EHLO c");
  CHECK(h.conn.transactions() == 0);
  h.cmd("MAIL FROM:<a@x>");
  CHECK(h.conn.transactions() == 1);
  h.cmd("MAIL FROM:<a@x>");  // 503: nested MAIL
  CHECK(h.conn.transactions() == 1);
  h.cmd("RSET");
  h.cmd("MAIL FROM:<a@x>");
  CHECK(h.conn.transactions() == 2);
}

TEST_CASE("unit: hold_until_data holds replies to MAIL and RCPT only, and only up to a bound") {
  smtp::personality p = smtp::default_personality();
  p.quirks.pipelining = smtp::pipelining_mode::hold_until_data;
  harness h(p);
  h.start();
  h.cmd("EHLO c");
  CHECK_FALSE(h.conn.holds_replies(10));  // after EHLO: leaves at once
  h.cmd("MAIL FROM:<a@x>");
  CHECK(h.conn.holds_replies(10));
  CHECK_FALSE(h.conn.holds_replies(smtp::server_connection::max_held_output));
  h.cmd("RCPT TO:<b@x>");
  CHECK(h.conn.holds_replies(40));
  h.cmd("DATA");
  CHECK_FALSE(h.conn.holds_replies(80));

  harness plain;  // the default personality never holds
  plain.start();
  plain.cmd("EHLO c");
  plain.cmd("MAIL FROM:<a@x>");
  CHECK_FALSE(plain.conn.holds_replies(10));
}

TEST_CASE("unit: early_talker reject: the core decides the banner, the driver only listens") {
  smtp::personality p = smtp::default_personality();
  p.quirks.early_talker = smtp::early_talker_mode::reject;
  harness h(p);
  smtp::event ev = h.conn.next_event();
  REQUIRE(ev.kind == smtp::event_kind::connect);
  CHECK(h.conn.listens_before_banner(ev.proposed));
  CHECK(h.conn.banner_verdict(ev.proposed, false).code == 220);
  const smtp::reply early = h.conn.banner_verdict(ev.proposed, true);
  CHECK(early.code == 554);
  CHECK(early.enhanced == "5.5.0");
  // A banner a rule already made a refusal stays what the rule chose.
  const smtp::reply refused = smtp::reply::parse("554 5.7.1 go away");
  CHECK_FALSE(h.conn.listens_before_banner(refused));
  CHECK(h.conn.banner_verdict(refused, true).code == 554);
  CHECK(h.conn.banner_verdict(refused, true).text() == refused.text());

  harness allow;  // the default personality lets early talkers be
  smtp::event ev2 = allow.conn.next_event();
  CHECK_FALSE(allow.conn.listens_before_banner(ev2.proposed));
  CHECK(allow.conn.banner_verdict(ev2.proposed, true).code == 220);
}

TEST_CASE("unit: only a 2xx at the end of data makes the driver keep the message") {
  harness h;
  h.start();
  h.cmd("EHLO c");
  h.cmd("MAIL FROM:<a@x>");
  h.cmd("RCPT TO:<b@x>");
  CHECK_FALSE(h.conn.keeps_message(smtp::reply::parse("250 ok")));  // no message pending
  h.conn.receive_data("DATA\r\n");
  smtp::event data = h.conn.next_event();
  REQUIRE(data.kind == smtp::event_kind::command);
  CHECK_FALSE(h.conn.keeps_message(data.proposed));  // 354 to DATA is not a message's reply
  h.conn.respond(data.proposed);
  h.conn.receive_data("hi\r\n.\r\n");
  smtp::event end = h.conn.next_event();
  REQUIRE(end.kind == smtp::event_kind::message);
  CHECK(h.conn.keeps_message(end.proposed));
  CHECK_FALSE(h.conn.keeps_message(smtp::reply::parse("451 4.3.0 try later")));
  CHECK_FALSE(h.conn.keeps_message(smtp::reply::parse("550 5.7.1 no")));
}

TEST_CASE("unit: a refused MAIL leaves no trace of the transaction") {
  smtp::personality p = smtp::default_personality();
  p.replies["rcpt"] = "250 2.1.5 <{recipient}> ok from <{sender}>";
  harness h(p);
  h.start();
  h.cmd("EHLO c");
  // Refused by the core after parsing ({sender} was set for its own reply), and by a rule.
  CHECK(codes(h.cmd("MAIL FROM:<\xc3\xa4@x.example>")) == std::vector<int>{550});
  h.conn.receive_data("MAIL FROM:<b@x.example> SMTPUTF8\r\n");
  const auto mail = h.conn.next_event();
  CHECK(mail.proposed.code == 250);
  h.conn.respond(h.conn.render({"451 4.7.1 <{sender}> greylisted"}));
  CHECK(h.conn.take_output() == "451 4.7.1 <b@x.example> greylisted\r\n");
  const smtp::envelope& env = h.conn.current_envelope();
  CHECK(env.mail_from.empty());
  CHECK(env.mail_params.empty());
  CHECK(env.recipients.empty());
  CHECK_FALSE(h.conn.in_transaction());
  CHECK(h.conn.transactions() == 0);
  CHECK(smtp::serialise(h.conn.render({"250 {sender}"}), false) == "250 {sender}\r\n");
  CHECK(codes(h.cmd("RCPT TO:<r@y.example>")) == std::vector<int>{503});
  // Nothing of the refused SMTPUTF8 MAIL carries over: this transaction has no SMTPUTF8.
  h.cmd("MAIL FROM:<c@x.example>");
  CHECK(codes(h.cmd("RCPT TO:<\xc3\xb6@y.example>")) == std::vector<int>{553});
  CHECK(h.cmd("RCPT TO:<r@y.example>") == "250 2.1.5 <r@y.example> ok from <c@x.example>\r\n");
}

TEST_CASE("unit: RSET, EHLO and the TLS handshake each start a fresh transaction") {
  smtp::personality p = smtp::default_personality();
  p.replies["noop"] = "250 2.0.0 [{sender}] [{recipient}] [{helo}]";
  harness h(p);
  h.start();
  const auto open_one = [&h] {
    h.feed("MAIL FROM:<a@x.example> SMTPUTF8\r\nRCPT TO:<b@y.example>\r\n");
    REQUIRE(h.conn.in_transaction());
    REQUIRE(h.conn.current_envelope().recipients.size() == 1);
  };
  const auto is_fresh = [&h] {
    CHECK_FALSE(h.conn.in_transaction());
    CHECK(h.conn.current_envelope().mail_from.empty());
    CHECK(h.conn.current_envelope().mail_params.empty());
    CHECK(h.conn.current_envelope().recipients.empty());
    CHECK(codes(h.cmd("DATA")) == std::vector<int>{503});
  };
  h.cmd("EHLO one.example");
  open_one();
  h.cmd("RSET");
  is_fresh();
  CHECK(h.cmd("NOOP") == "250 2.0.0 [{sender}] [{recipient}] [one.example]\r\n");

  open_one();
  h.cmd("EHLO two.example");
  is_fresh();
  CHECK(h.conn.current_envelope().helo == "two.example");  // the session's facts stay
  CHECK(h.conn.current_envelope().client_address == "127.0.0.1:4000");
  CHECK(h.cmd("NOOP") == "250 2.0.0 [{sender}] [{recipient}] [two.example]\r\n");

  open_one();
  h.conn.receive_data("STARTTLS\r\n");
  h.conn.next_event();
  h.conn.respond(smtp::make(smtp::stock::tls_ready));  // a rule's 220 without a certificate
  h.conn.next_event();                                 // start_tls
  h.conn.take_output();
  h.conn.tls_started("TLSv1.3", "TLS_AES_256_GCM_SHA384");
  is_fresh();  // 503: EHLO is needed again (RFC 3207 4.2)
  CHECK(h.conn.current_envelope().helo.empty());
  CHECK(h.conn.current_envelope().tls_version == "TLSv1.3");
  CHECK(h.cmd("NOOP") == "250 2.0.0 [{sender}] [{recipient}] [{helo}]\r\n");
}

TEST_CASE("unit: a rule's 2xx to a HELO/EHLO the core refused sets that command's greeting") {
  smtp::personality p = smtp::default_personality();
  p.quirks.pipelining = smtp::pipelining_mode::reject;
  harness h(p);
  h.start();
  h.cmd("EHLO first.example");
  // Pipelined behind NOOP, so the core refuses it (503 5.5.0) before looking at it.
  h.conn.receive_data("NOOP\r\nHELO second.example\r\n");
  h.conn.respond(h.conn.next_event().proposed);
  const auto helo = h.conn.next_event();
  CHECK(helo.proposed.code == 503);
  h.conn.respond(smtp::reply::parse("250 welcome anyway"));
  CHECK(h.conn.current_envelope().helo == "second.example");
  CHECK_FALSE(h.conn.current_envelope().esmtp);  // HELO, whatever came before
  h.run();                                       // replies flushed before the next read
  h.conn.receive_data("EHLO\r\n");               // 501: a domain is required
  const auto ehlo = h.conn.next_event();
  CHECK(ehlo.proposed.code == 501);
  h.conn.respond(smtp::reply::parse("250 fine"));
  CHECK(h.conn.current_envelope().helo.empty());
  CHECK(h.conn.current_envelope().esmtp);
}

TEST_CASE("unit: a BDAT chunk joins the message only once its reply is a 2xx") {
  smtp::personality p = smtp::default_personality();
  p.extensions.push_back("CHUNKING");
  harness h(p);
  h.start();
  h.feed("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n");
  h.conn.receive_data("BDAT 3\r\nabc");
  const auto first = h.conn.next_event();
  CHECK(first.proposed.code == 250);
  CHECK_FALSE(h.conn.in_data());  // the chunk is read; its reply is pending
  h.conn.respond(first.proposed);
  h.conn.receive_data("BDAT 3\r\ndef");
  const auto second = h.conn.next_event();
  CHECK(smtp::serialise(second.proposed, true) == "250 2.0.0 6 octets received\r\n");
  h.conn.respond(smtp::reply::parse("452 4.3.1 no room"));  // a rule refuses it
  CHECK_FALSE(h.conn.in_transaction());                     // RFC 3030 2: the transaction is over
  h.conn.take_output();
  h.feed("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n");
  CHECK(codes(h.feed("BDAT 3 LAST\r\nghi")) == std::vector<int>{250});
  REQUIRE(h.stored.size() == 1);
  CHECK(h.stored[0].data == "ghi");  // nothing of the refused transaction's chunks
}
