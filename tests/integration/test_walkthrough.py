"""The seed: a manual telnet session against PowerMTA 4.0 at mail.port25.com
(/work/shared/seed), replayed over a raw socket against `--scenario powermta`.

Every reply line is asserted exactly, once typed line by line (each reply read before the
next command) and once with MAIL, RCPT and DATA pipelined in a single write, as the
walkthrough suggests for a server that advertises PIPELINING.
"""

from __future__ import annotations

import pytest

from conftest import RawSmtp, SmtpMockServer

BANNER = "220 mail.port25.com (PowerMTA(TM) v4.0) ESMTP service ready"
EHLO_REPLY = [
    "250-mail.port25.com says hello",
    "250-STARTTLS",
    "250-ENHANCEDSTATUSCODES",
    "250-PIPELINING",
    "250-CHUNKING",
    "250-8BITMIME",
    "250-XACK",
    "250-XMRG",
    "250-SIZE 54525952",
    "250-VERP",
    "250 DSN",
]
MAIL = "MAIL FROM: <support@port25.com>"  # with the space, as typed in the walkthrough
RCPT = "RCPT TO: <support@port25.com>"
MAIL_OK = "250 2.1.0 MAIL ok"
RCPT_OK = "250 2.1.5 <support@port25.com> ok"
DATA_GO = "354 send message"
MESSAGE_OK = "250 2.6.0 message received"
GOODBYE = "221 2.0.0 mail.port25.com says goodbye"

MESSAGE_LINES = [
    'From: "John Smith" <jsmith@port25.com>',
    'To: "Jane Doe" <jdoe@port25.com>',
    "Subject: test message sent from manual telnet session",
    "Date: Wed, 11 May 2011 16:19:57 -0400",
    "",
    "Hello World,",
    "This is a test message sent from a manual telnet session.",
    "",
    "Yours truly,",
    "SMTP administrator",
]
MESSAGE = "".join(line + "\r\n" for line in MESSAGE_LINES).encode()


@pytest.fixture
def powermta(smtpmock_factory) -> SmtpMockServer:
    return smtpmock_factory(scenario="powermta")


def check_stored(server: SmtpMockServer) -> None:
    msgs = server.wait_messages(1)
    assert len(msgs) == 1
    m = msgs[0]
    assert m.raw == MESSAGE
    assert m.meta["Size"] == len(MESSAGE)
    env = m.envelope
    assert env["Helo"] == "server.example.com"
    assert env["ESMTP"] is True
    assert env["MailFrom"] == "support@port25.com"
    assert env["MailParams"] == []
    assert m.recipients == ["support@port25.com"]
    assert [r["Params"] for r in env["Recipients"]] == [[]]
    assert env["AuthUser"] == ""
    assert env["TLSVersion"] == ""

    sessions = server.wait_sessions(1)
    assert len(sessions) == 1
    s = sessions[0]
    assert s["Scenario"] == "powermta"
    assert s["MessageIDs"] == [m.id]
    assert m.meta["SessionID"] == s["ID"]
    assert s["Truncated"] is False
    # The transcript holds every reply line, in order, and every command, in order.
    out = [t["Text"] for t in s["Transcript"] if t["Direction"] == "out"]
    assert out == [BANNER, *EHLO_REPLY, MAIL_OK, RCPT_OK, DATA_GO, MESSAGE_OK, GOODBYE]
    ins = [t["Text"] for t in s["Transcript"] if t["Direction"] == "in"]
    commands = iter(ins)
    for cmd in ("EHLO server.example.com", MAIL, RCPT, "DATA", "QUIT"):
        assert any(line == cmd for line in commands), f"{cmd!r} missing from {ins}"
    assert all(t["TLS"] is False for t in s["Transcript"])


def test_walkthrough_line_by_line(powermta, raw_smtp):
    c: RawSmtp = raw_smtp(powermta)
    assert c.reply() == [BANNER]
    assert c.command("EHLO server.example.com") == EHLO_REPLY
    assert c.command(MAIL) == [MAIL_OK]
    assert c.command(RCPT) == [RCPT_OK]
    assert c.command("DATA") == [DATA_GO]
    for line in MESSAGE_LINES:  # typed one line at a time
        c.send(line + "\r\n")
    assert c.command(".") == [MESSAGE_OK]
    assert c.command("QUIT") == [GOODBYE]
    assert c.read_until_closed() == b""  # the server closes after 221, with nothing more
    check_stored(powermta)


def test_walkthrough_pipelined(powermta, raw_smtp):
    c: RawSmtp = raw_smtp(powermta)
    assert c.reply() == [BANNER]
    assert c.command("EHLO server.example.com") == EHLO_REPLY
    c.send(f"{MAIL}\r\n{RCPT}\r\nDATA\r\n")  # one write, as the walkthrough suggests
    assert c.reply() == [MAIL_OK]
    assert c.reply() == [RCPT_OK]
    assert c.reply() == [DATA_GO]
    # The message, its end and QUIT in one write too (RFC 2920: QUIT may follow end of data).
    c.send(MESSAGE + b".\r\nQUIT\r\n")
    assert c.reply() == [MESSAGE_OK]
    assert c.reply() == [GOODBYE]
    assert c.read_until_closed() == b""
    check_stored(powermta)


@pytest.mark.parametrize("scenario,extensions", [
    ("yahoo", ["8BITMIME", "SIZE 41943040", "PIPELINING"]),
    ("aol", ["DSN"]),
])
def test_walkthrough_other_servers_ehlo(smtpmock_factory, raw_smtp, scenario, extensions):
    """The walkthrough's other two servers: yahoo's three extensions and aol's lone DSN."""
    server = smtpmock_factory(scenario=scenario)
    c: RawSmtp = raw_smtp(server)
    banner = c.reply()
    assert len(banner) == 1 and banner[0].startswith("220 "), banner
    reply = c.command("EHLO server.example.com")
    assert reply[0].startswith("250-"), reply
    assert reply[1:] == [f"250-{e}" for e in extensions[:-1]] + [f"250 {extensions[-1]}"]
    assert c.command("QUIT")[0].startswith("221")
