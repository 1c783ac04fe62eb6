"""The bundled scenarios (scenarios/*.yaml) with real clients: one test per scenario.

Personalities (gmail, outlook, postfix, exim): the banner, the EHLO reply and the reply texts a
raw socket sees are exactly the file's, and swaks and smtplib send through them. Fault scenarios:
the client-visible result (exit code, exception, reply) and what smtpmock stored.

Every wait is bounded; only 127.0.0.1 is used.
"""

from __future__ import annotations

import base64
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import CLIENT_TIMEOUT, SOURCE_DIR, RawSmtp, SmtpMockServer, describe

SCENARIOS = SOURCE_DIR / "scenarios"
EHLO_NAME = "client.example"
SENDER = "sender@client.example"
RECIPIENT = "rcpt@dest.example"


def scenario_file(name: str) -> dict:
    return yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text("utf-8"))


def make_message(subject: str, body: str = "hello") -> bytes:
    return (f"From: <{SENDER}>\r\nTo: <{RECIPIENT}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@client.example>\r\n\r\n{body}\r\n").encode()


def swaks(server: SmtpMockServer, tmp: Path, *extra: str, to: str = RECIPIENT,
          message: bytes | None = None) -> subprocess.CompletedProcess:
    """Runs swaks against `server`; the message (default: a small one) goes in with --data."""
    if shutil.which("swaks") is None:
        pytest.fail("swaks is not installed (make test-deps)")
    f = tmp / "swaks.eml"
    f.write_bytes(message if message is not None else make_message("swaks"))
    args = ["swaks", "--server", server.address, "--from", SENDER, "--to", to,
            "--ehlo", EHLO_NAME, "--data", f"@{f}", "--timeout", "15", *extra]
    return subprocess.run(args, capture_output=True, timeout=CLIENT_TIMEOUT,
                          stdin=subprocess.DEVNULL)


def smtplib_send(server: SmtpMockServer, message: bytes,
                 login: tuple[str, str] | None = None, timeout: float = 10) -> dict:
    with smtplib.SMTP(server.host, server.port, local_hostname=EHLO_NAME,
                      timeout=timeout) as s:
        if login:
            s.login(*login)
        return s.sendmail(SENDER, [RECIPIENT], message)


def expect_no_reply(c: RawSmtp, seconds: float) -> None:
    """Asserts the server sends nothing for `seconds`."""
    c.sock.settimeout(seconds)
    try:
        data = c.sock.recv(65536)
    except socket.timeout:
        return
    finally:
        c.sock.settimeout(10)
    pytest.fail(f"expected no reply within {seconds}s, got {data!r}")


def template_regex(template: str, values: dict[str, str]) -> re.Pattern:
    """A reply template as a regex: known {names} substituted, per-message ids as \\S+."""
    out = ""
    for part in re.split(r"(\{[a-z_]+\})", template):
        name = part[1:-1] if part.startswith("{") and part.endswith("}") else None
        if name in values:
            out += re.escape(values[name])
        elif name in ("session_id", "queue_id"):
            out += r"\S+"
        else:
            out += re.escape(part)
    return re.compile(out)


def expand(template: str, values: dict[str, str]) -> str:
    for k, v in values.items():
        template = template.replace("{" + k + "}", v)
    return template


# --- personalities -------------------------------------------------------------------------

PERSONALITIES = ["gmail", "outlook", "postfix", "exim"]


@pytest.mark.parametrize("name", PERSONALITIES)
def test_personality(smtpmock_factory, raw_smtp, tmp_path, name):
    spec = scenario_file(name)
    server = smtpmock_factory(scenario=name)
    values = {"hostname": spec["hostname"], "client_ip": "127.0.0.1", "helo": EHLO_NAME,
              "sender": SENDER, "recipient": RECIPIENT}
    replies = spec.get("replies") or {}
    extensions = spec["ehlo"]["extensions"]
    has_auth = any(e.split(" ")[0].upper() == "AUTH" for e in extensions)
    assert has_auth == bool(spec.get("auth", {}).get("accept_any")), \
        f"{name}: accept_any must be set exactly when AUTH is advertised"

    # The banner, the EHLO reply and each success text, as a raw socket sees them.
    c = raw_smtp(server)
    banner = c.reply()
    assert len(banner) == 1 and template_regex("220 " + spec["banner"], values).fullmatch(
        banner[0]), (banner, spec["banner"])
    ehlo = c.command(f"EHLO {EHLO_NAME}")
    expected = ([f"250-{expand(spec['ehlo']['greeting'], values)}"]
                + [f"250-{e}" for e in extensions[:-1]] + [f"250 {extensions[-1]}"])
    assert ehlo == expected
    if has_auth:
        mechanisms = next(e for e in extensions if e.upper().startswith("AUTH ")).split()[1:]
        if "PLAIN" in mechanisms:
            token = base64.b64encode(b"\0someone@client.example\0app-password").decode()
            [auth] = c.command(f"AUTH PLAIN {token}")
        else:
            auth = _auth_login(c)
        if "auth" in replies:
            assert template_regex(replies["auth"], values).fullmatch(auth), auth
        else:
            assert auth.startswith("235 "), auth
    checks = [(f"MAIL FROM:<{SENDER}>", "mail"), (f"RCPT TO:<{RECIPIENT}>", "rcpt"),
              ("DATA", "data"), (make_message("raw").decode() + ".", "message"),
              ("QUIT", "quit")]
    for command, key in checks:
        reply = c.command(command)
        assert len(reply) == 1, reply
        if key in replies:
            assert template_regex(replies[key], values).fullmatch(reply[0]), (key, reply)
        else:
            assert reply[0][:1] in "23", reply
    assert c.read_until_closed() == b""

    if "helo" in replies:
        h = raw_smtp(server)
        h.reply()
        [helo] = h.command(f"HELO {EHLO_NAME}")
        assert template_regex(replies["helo"], values).fullmatch(helo), helo

    # swaks, with AUTH LOGIN where the server offers AUTH.
    message = make_message(f"{name} via swaks")
    auth_args = (["--auth", "LOGIN", "--auth-user", "someone@client.example",
                  "--auth-password", "app-password"] if has_auth else [])
    p = swaks(server, tmp_path, *auth_args, message=message)
    assert p.returncode == 0, describe(p)
    if "message" in replies:
        final = [l for l in p.stdout.decode(errors="replace").splitlines()
                 if l.startswith("<-  250")][-1][4:]
        assert template_regex(replies["message"], values).fullmatch(final), final

    # smtplib, logging in with its own choice of mechanism among those offered.
    message2 = make_message(f"{name} via smtplib")
    assert smtplib_send(server, message2,
                        login=("someone@client.example", "app-password") if has_auth
                        else None) == {}

    stored = server.wait_messages(3)
    by_raw = {m.raw: m for m in stored}
    via_swaks = by_raw[message + b"\r\n"]  # swaks --data adds one CRLF before "."
    via_smtplib = by_raw[message2]
    for m in (via_swaks, via_smtplib):
        assert m.mail_from == SENDER and m.recipients == [RECIPIENT]
        assert m.envelope["Helo"] == EHLO_NAME
        assert m.envelope["AuthUser"] == ("someone@client.example" if has_auth else "")


@pytest.mark.parametrize("name", [n for n in PERSONALITIES
                                  if "STARTTLS" in scenario_file(n)["ehlo"]["extensions"]])
def test_personality_starttls(smtpmock_factory, tmp_path, name):
    """Inside TLS the list is the real server's: the file's list without STARTTLS."""
    spec = scenario_file(name)
    server = smtpmock_factory(scenario=name)
    message = make_message(f"{name} over TLS")
    p = swaks(server, tmp_path, "--tls", "--auth", "LOGIN", "--auth-user",
              "someone@client.example", "--auth-password", "app-password", message=message)
    assert p.returncode == 0, describe(p)
    lines = p.stdout.decode(errors="replace").splitlines()
    in_tls = [l[4:] for l in lines if l.startswith("<~  ")]
    end = next(i for i, l in enumerate(in_tls) if l[3:4] == " ")
    extensions = [e for e in spec["ehlo"]["extensions"] if e != "STARTTLS"]
    values = {"hostname": spec["hostname"], "client_ip": "127.0.0.1", "helo": EHLO_NAME}
    assert in_tls[: end + 1] == ([f"250-{expand(spec['ehlo']['greeting'], values)}"]
                                 + [f"250-{e}" for e in extensions[:-1]]
                                 + [f"250 {extensions[-1]}"])
    [m] = server.wait_messages(1)
    assert m.raw == message + b"\r\n"
    assert m.envelope["AuthUser"] == "someone@client.example"


def _auth_login(c: RawSmtp) -> str:
    assert c.command("AUTH LOGIN") == ["334 VXNlcm5hbWU6"]
    assert c.command(base64.b64encode(b"someone@client.example").decode()) == ["334 UGFzc3dvcmQ6"]
    [reply] = c.command(base64.b64encode(b"app-password").decode())
    return reply


# --- greylisting ---------------------------------------------------------------------------


def test_greylisting(smtpmock_factory, tmp_path):
    text = (SCENARIOS / "greylisting.yaml").read_text("utf-8")
    assert "retry_after: 60s" in text
    server = smtpmock_factory(scenario_yaml=text.replace("retry_after: 60s", "retry_after: 3s"))

    # The server's window opens somewhere between these two instants (when it saw the RCPT).
    before_first = time.monotonic()
    first = swaks(server, tmp_path)
    after_first = time.monotonic()
    assert first.returncode == 24, describe(first)
    assert b"451 4.7.1" in first.stdout, describe(first)
    again = swaks(server, tmp_path)  # too soon: still greylisted
    assert again.returncode == 24 and b"451 4.7.1" in again.stdout, describe(again)
    assert time.monotonic() - before_first < 3.0, "the second try must come inside the window"
    assert server.message_count() == 0

    time.sleep(max(0.0, after_first + 3.2 - time.monotonic()))
    retry = swaks(server, tmp_path)
    assert retry.returncode == 0, describe(retry)
    [m] = server.wait_messages(1)
    assert m.recipients == [RECIPIENT] and m.mail_from == SENDER


# --- auth-required -------------------------------------------------------------------------


def test_auth_required(smtpmock_factory, tmp_path):
    server = smtpmock_factory(scenario="auth-required")
    no_auth = swaks(server, tmp_path)
    assert no_auth.returncode == 23, describe(no_auth)
    assert b"530 5.7.0" in no_auth.stdout, describe(no_auth)

    wrong = swaks(server, tmp_path, "--auth", "LOGIN", "--auth-user", "alice",
                  "--auth-password", "wrong")
    assert wrong.returncode == 28 and b"535 5.7.8" in wrong.stdout, describe(wrong)
    assert server.message_count() == 0

    message = make_message("authenticated")
    ok = swaks(server, tmp_path, "--auth", "LOGIN", "--auth-user", "alice",
               "--auth-password", "secret", message=message)
    assert ok.returncode == 0, describe(ok)
    [m] = server.wait_messages(1)
    assert m.envelope["AuthUser"] == "alice"
    assert m.raw == message + b"\r\n"


# --- flaky ---------------------------------------------------------------------------------


def flaky_outcomes(server: SmtpMockServer, n: int = 20) -> list[str]:
    outcomes = []
    for i in range(n):
        try:
            smtplib_send(server, make_message(f"flaky {i}"))
            outcomes.append("ok")
        except smtplib.SMTPDataError as e:
            assert 400 <= e.smtp_code < 500, e
            outcomes.append(str(e.smtp_code))
        except (smtplib.SMTPServerDisconnected, ConnectionResetError):
            outcomes.append("disconnect")
    return outcomes


def test_flaky_is_repeatable(smtpmock_factory):
    runs = []
    for _ in range(2):
        server = smtpmock_factory(scenario="flaky")
        assert "seed=20260101" in server.stderr_text()
        outcomes = flaky_outcomes(server)
        oks = outcomes.count("ok")
        server.wait_messages(oks)
        time.sleep(0.2)
        assert server.message_count() == oks, outcomes
        stored = sorted(m.raw for m in server.messages())
        assert stored == sorted(make_message(f"flaky {i}")
                                for i, o in enumerate(outcomes) if o == "ok")
        runs.append(outcomes)
        server.stop()
    assert runs[0] == runs[1]
    # The file's seed gives all three outcomes within 20 messages.
    assert set(runs[0]) == {"ok", "451", "disconnect"}, runs[0]


# --- rate-limited --------------------------------------------------------------------------


def test_rate_limited(smtpmock_factory, tmp_path):
    server = smtpmock_factory(scenario="rate-limited")
    for i in range(5):
        assert smtplib_send(server, make_message(f"rate {i}")) == {}
    sixth = swaks(server, tmp_path)
    assert sixth.returncode == 23, describe(sixth)
    assert b"421 4.7.0 Too many messages from 127.0.0.1, slow down" in sixth.stdout, \
        describe(sixth)
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        smtplib_send(server, make_message("rate 7"))
    assert refused.value.smtp_code == 421
    time.sleep(0.2)
    assert server.message_count() == 5
    assert sorted(m.raw for m in server.messages()) == sorted(
        make_message(f"rate {i}") for i in range(5))


# --- mailbox-full --------------------------------------------------------------------------


def test_mailbox_full(smtpmock_factory, tmp_path):
    server = smtpmock_factory(scenario="mailbox-full")
    full = swaks(server, tmp_path, to="full@dest.example")
    assert full.returncode == 24, describe(full)
    assert b"552 5.2.2 <full@dest.example>: Mailbox full" in full.stdout, describe(full)
    quota = swaks(server, tmp_path, to="quota.box@dest.example")
    assert quota.returncode == 24, describe(quota)
    assert b"452 4.2.2 <quota.box@dest.example>: Mailbox full" in quota.stdout, describe(quota)
    assert server.message_count() == 0

    mixed = swaks(server, tmp_path, to="full@dest.example,ok@dest.example")
    assert mixed.returncode == 0, describe(mixed)
    [m] = server.wait_messages(1)
    assert m.recipients == ["ok@dest.example"]


# --- slow ----------------------------------------------------------------------------------


def test_slow(smtpmock_factory, raw_smtp):
    server = smtpmock_factory(scenario="slow")
    t0 = time.monotonic()
    c = raw_smtp(server, timeout=10)
    chunks = []
    data = b""
    while not data.endswith(b"\r\n") and len(chunks) < 200:
        chunk = c.sock.recv(1024)
        assert chunk, f"closed during the banner: {data!r}"
        chunks.append(chunk)
        data += chunk
    banner_time = time.monotonic() - t0
    assert data == b"220 slow.example ESMTP smtpmock\r\n"
    assert 0.9 <= banner_time <= 5.0, banner_time
    assert len(chunks) >= 2, f"banner came in one piece, not dripped: {chunks}"

    t1 = time.monotonic()
    ehlo = c.command(f"EHLO {EHLO_NAME}")
    ehlo_time = time.monotonic() - t1
    assert ehlo[0] == "250-slow.example" and ehlo[-1] == "250 SMTPUTF8", ehlo
    assert 0.9 <= ehlo_time <= 5.0, ehlo_time

    message = make_message("slow but sure")
    t2 = time.monotonic()
    assert smtplib_send(server, message, timeout=15) == {}
    assert 3.8 <= time.monotonic() - t2 <= 15, "banner 1s + EHLO 1s + end of data 2s"
    [m] = server.wait_messages(1)
    assert m.raw == message


# --- disconnect-mid-data -------------------------------------------------------------------


def big_message(size: int = 16384) -> bytes:
    lines = [f"{i:05d} " + "x" * 70 for i in range(size // 78 + 1)]
    return make_message("too big", "\r\n".join(lines))


def test_disconnect_mid_data(smtpmock_factory, tmp_path):
    server = smtpmock_factory(scenario="disconnect-mid-data")
    p = swaks(server, tmp_path, message=big_message())
    # swaks exits 6 ("Remote host closed connection unexpectedly"); when the close (with
    # unread input, so the kernel answers with a reset) lands while it is still writing, it
    # dies of SIGPIPE instead. Either way it did not report success.
    if p.returncode != -signal.SIGPIPE:
        assert p.returncode == 6, describe(p)
        assert b"Remote host closed connection unexpectedly" in p.stdout + p.stderr, describe(p)

    with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionResetError,
                        BrokenPipeError)):
        smtplib_send(server, big_message())

    time.sleep(1.0)
    assert server.message_count() == 0, sorted(p.name for p in server.spool.iterdir())

    small = make_message("small enough")
    assert smtplib_send(server, small) == {}
    [m] = server.wait_messages(1)
    assert m.raw == small


# --- smuggling-lenient ---------------------------------------------------------------------

SMUGGLE = b"Subject: smuggle\r\n\r\nfirst\n.\nMAIL FROM:<evil@attacker.example>\r\n"


def open_data(c: RawSmtp) -> None:
    assert c.reply()[0].startswith("220 ")
    assert c.command(f"EHLO {EHLO_NAME}")[-1].startswith("250 ")
    assert c.command(f"MAIL FROM:<{SENDER}>")[0].startswith("250")
    assert c.command(f"RCPT TO:<{RECIPIENT}>")[0].startswith("250")
    assert c.command("DATA")[0].startswith("354")


def test_smuggling_lenient(smtpmock_factory, raw_smtp):
    server = smtpmock_factory(scenario="smuggling-lenient")
    c = raw_smtp(server)
    open_data(c)
    c.send(SMUGGLE)
    # "<LF>.<LF>" ended the message, and the smuggled MAIL is a command of its own.
    end_of_data = c.reply()
    assert re.fullmatch(r"250 2\.0\.0 .*", end_of_data[0]), end_of_data
    assert c.reply()[0].startswith("250 2.1.0"), "the smuggled MAIL FROM was not accepted"
    assert c.command("RCPT TO:<victim@dest.example>")[0].startswith("250")
    assert c.command("DATA")[0].startswith("354")
    assert c.command("Subject: smuggled\r\n\r\nspoofed\r\n.")[0].startswith("250")
    assert c.command("QUIT")[0].startswith("221")

    stored = server.wait_messages(2)
    by_sender = {m.mail_from: m for m in stored}
    assert set(by_sender) == {SENDER, "evil@attacker.example"}
    assert by_sender[SENDER].raw in (b"Subject: smuggle\r\n\r\nfirst\n",
                                     b"Subject: smuggle\r\n\r\nfirst\r\n")
    assert by_sender["evil@attacker.example"].recipients == ["victim@dest.example"]
    assert by_sender["evil@attacker.example"].raw == b"Subject: smuggled\r\n\r\nspoofed\r\n"


def test_smuggling_default_is_not_lenient(smtpmock, raw_smtp):
    c = raw_smtp(smtpmock)
    open_data(c)
    c.send(SMUGGLE)
    expect_no_reply(c, 1.0)  # still inside DATA: a bare LF ends nothing
    c.send(b".\r\n")
    [final] = c.reply()
    assert final.startswith("554 5.6.11"), final  # one reply: the message, refused whole
    assert c.command("QUIT")[0].startswith("221")
    assert c.read_until_closed() == b""
    time.sleep(0.3)
    assert smtpmock.message_count() == 0


# --- pipelining-hold -----------------------------------------------------------------------


def test_pipelining_hold(smtpmock_factory, raw_smtp):
    server = smtpmock_factory(scenario="pipelining-hold")
    c = raw_smtp(server)
    assert c.reply()[0].startswith("220 ")
    ehlo = c.command(f"EHLO {EHLO_NAME}")
    assert "250-PIPELINING" in ehlo, ehlo

    c.send(f"MAIL FROM:<{SENDER}>\r\n")
    expect_no_reply(c, 1.0)  # held
    t0 = time.monotonic()
    c.send(f"RCPT TO:<{RECIPIENT}>\r\nDATA\r\n")
    replies = [c.reply(), c.reply(), c.reply()]
    assert time.monotonic() - t0 < 2.0
    assert [r[0][:3] for r in replies] == ["250", "250", "354"], replies
    assert replies[0][0].startswith("250 2.1.0") and replies[1][0].startswith("250 2.1.5")

    message = make_message("held")
    assert c.command(message.decode() + ".")[0].startswith("250 2.0.0")
    assert c.command("QUIT")[0].startswith("221")
    [m] = server.wait_messages(1)
    assert m.raw == message and m.recipients == [RECIPIENT]
