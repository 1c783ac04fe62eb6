"""The server process as an operator and a hostile network see it: start-up, the ready line,
shutdown, limits, bad scenarios, JSON logs, and AUTH secrets kept out of logs and spool."""

from __future__ import annotations

import base64
import json
import re
import signal
import smtplib
import socket
import time

import pytest

from conftest import READY_RE, RawSmtp, SmtpMockServer, run_binary

SHUTDOWN_REPLY = "421 4.3.2 Service shutting down"


def send_with_smtplib(server: SmtpMockServer, subject: str = "hello",
                      login: tuple[str, str] | None = None) -> bytes:
    message = (f"From: <a@client.example>\r\nTo: <b@dest.example>\r\nSubject: {subject}\r\n"
               f"\r\nbody of {subject}\r\n").encode()
    with smtplib.SMTP(server.host, server.port, local_hostname="client.example", timeout=10) as s:
        if login:
            s.login(*login)
        assert s.sendmail("a@client.example", ["b@dest.example"], message) == {}
    return message


def reply_lines_until_closed(c: RawSmtp) -> list[str]:
    data = c.read_until_closed()
    return [l for l in data.decode("utf-8", "replace").split("\r\n") if l]


# --- start-up ------------------------------------------------------------------------------


def test_ready_line(smtpmock, raw_smtp):
    ready = [l for l in smtpmock.stderr_lines() if "smtpmock ready" in l]
    assert len(ready) == 1, smtpmock.stderr_text()
    m = READY_RE.search(ready[0])
    assert m and m.group(1) == "127.0.0.1" and int(m.group(2)) == smtpmock.port
    assert smtpmock.port != 0
    c = raw_smtp(smtpmock)
    banner = c.reply()
    assert len(banner) == 1 and banner[0].startswith("220 "), banner


BAD_SCENARIOS = {
    # name: (yaml, line, allowed columns or None for any)
    "unknown-key": ("name: bad\nhostname: test.local\nbogus_key: 1\n", 3, {1}),
    "wrong-type": ("name: bad\nhostname: test.local\nlimits:\n  max_recipients: lots\n", 4, {3, 19}),
    "bad-extension-list": ("name: bad\nehlo:\n  extensions: PIPELINING\n", 3, {3, 15}),
    "yaml-syntax": ("name: bad\nehlo: {extensions: [PIPELINING\n", None, None),
}


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_bad_scenario_file_exits_2_with_location(tmp_path, case):
    text, line, columns = BAD_SCENARIOS[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    spool = tmp_path / "spool"
    spool.mkdir()
    r = run_binary(["serve", "--smtp-listen", "127.0.0.1:0", "--spool", str(spool),
                    "--scenario", str(path)])
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 2, err
    assert "smtpmock ready" not in err
    m = re.search(re.escape(str(path)) + r":(\d+):(\d+): \S", err)
    assert m, f"no {path}:line:column: message in stderr:\n{err}"
    if line is not None:
        assert int(m.group(1)) == line, err
    if columns is not None:
        assert int(m.group(2)) in columns, err


def test_unknown_bundled_scenario_exits_2(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    r = run_binary(["serve", "--smtp-listen", "127.0.0.1:0", "--spool", str(spool),
                    "--scenario", "no-such-scenario-xyz"])
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 2, err
    assert "no-such-scenario-xyz" in err
    assert "smtpmock ready" not in err


# --- shutdown ------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_session_421_and_exit_0(smtpmock, raw_smtp, signum):
    send_with_smtplib(smtpmock, "before shutdown")  # stored before the signal
    c = raw_smtp(smtpmock, timeout=5)
    assert c.reply()[0].startswith("220")
    assert c.command("EHLO client.example")[-1].startswith("250 ")
    assert c.command("MAIL FROM:<a@client.example>") [0].startswith("250")

    t0 = time.monotonic()
    smtpmock.proc.send_signal(signum)
    # SPEC §1 answers "at their next command"; a server that answers at once is fine too.
    # So: wait briefly for an unprompted reply, and only then send the next command.
    c.sock.settimeout(0.5)
    try:
        first = c.sock.recv(65536)
    except socket.timeout:
        first = None
    c.sock.settimeout(5)
    if first is None:
        c.send("RCPT TO:<b@dest.example>\r\n")
    else:
        c.buf += first
    assert reply_lines_until_closed(c) == [SHUTDOWN_REPLY]
    rc = smtpmock.proc.wait(5)
    elapsed = time.monotonic() - t0
    assert rc == 0, smtpmock.stderr_text()
    assert elapsed < 2.0, f"exit took {elapsed:.2f}s"
    assert len(smtpmock.messages()) == 1
    with pytest.raises(OSError):  # the listener is gone
        socket.create_connection((smtpmock.host, smtpmock.port), timeout=2).close()


def test_sessions_spread_over_io_threads_are_all_served_and_all_stopped(smtpmock_factory,
                                                                       raw_smtp):
    # --threads 3: sessions are dealt to three io_contexts in turn; each serves its own, and
    # shutdown reaches every one of them, then the process exits (no context left running).
    server = smtpmock_factory("--threads", "3")
    assert "threads=3" in next(l for l in server.stderr_lines() if "smtpmock ready" in l)
    clients = [raw_smtp(server, timeout=5) for _ in range(7)]
    for i, c in enumerate(clients):
        assert c.reply()[0].startswith("220")
        assert c.command(f"EHLO c{i}.example")[-1].startswith("250 ")
        assert c.command("MAIL FROM:<a@client.example>")[0].startswith("250")
        assert c.command("RCPT TO:<b@dest.example>")[0].startswith("250")
        assert c.command("DATA")[0].startswith("354")
        assert c.command(f"Subject: {i}\r\n\r\nbody\r\n.")[0].startswith("250")
    assert len(server.wait_messages(7)) == 7
    t0 = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    for c in clients:
        # A NOOP that reaches its session before the stop does is answered first (250).
        c.send("NOOP\r\n")
        lines = reply_lines_until_closed(c)
        assert lines[-1] == SHUTDOWN_REPLY and all(l.startswith("250 ") for l in lines[:-1]), lines
        assert len(lines) <= 2, lines
    assert server.proc.wait(5) == 0, server.stderr_text()
    assert time.monotonic() - t0 < 2.0


def test_sigterm_idle_server_exits_0_quickly(smtpmock):
    t0 = time.monotonic()
    smtpmock.proc.send_signal(signal.SIGTERM)
    rc = smtpmock.proc.wait(5)
    assert rc == 0, smtpmock.stderr_text()
    assert time.monotonic() - t0 < 2.0


# --- limits --------------------------------------------------------------------------------

IDLE_SCENARIO = """\
name: t-idle
hostname: test.local
ehlo: {extensions: [PIPELINING, "SIZE 2000000", ENHANCEDSTATUSCODES]}
limits: {idle_timeout: 1s, max_recipients: 100, max_errors: 20}
"""


def test_idle_timeout_421(smtpmock_factory, raw_smtp):
    server = smtpmock_factory(scenario_yaml=IDLE_SCENARIO)
    c = raw_smtp(server, timeout=6)
    assert c.reply()[0].startswith("220")
    assert c.command("EHLO client.example")[-1].startswith("250 ")
    t0 = time.monotonic()
    lines = reply_lines_until_closed(c)
    elapsed = time.monotonic() - t0
    assert len(lines) == 1 and lines[0].startswith("421 4.4.2"), lines
    assert 0.7 <= elapsed <= 4.0, f"idle timeout after {elapsed:.2f}s, scenario says 1s"


def test_connection_limit(smtpmock_factory, raw_smtp):
    server = smtpmock_factory("--max-connections", "1")
    first = raw_smtp(server)
    assert first.reply()[0].startswith("220 ")

    second = raw_smtp(server, timeout=5)
    lines = reply_lines_until_closed(second)
    assert len(lines) == 1 and lines[0].startswith("421 4.3.2"), lines

    # The first connection is unaffected and can send a whole message.
    assert first.command("EHLO client.example")[-1].startswith("250 ")
    assert first.command("MAIL FROM:<a@client.example>")[0].startswith("250")
    assert first.command("RCPT TO:<b@dest.example>")[0].startswith("250")
    assert first.command("DATA")[0].startswith("354")
    assert first.command("Subject: limited\r\n\r\nstill works\r\n.")[0].startswith("250")
    assert first.command("QUIT")[0].startswith("221")
    assert first.read_until_closed() == b""
    [m] = server.wait_messages(1)
    assert m.raw == b"Subject: limited\r\n\r\nstill works\r\n"

    # Once the first has left, its slot is free again (the release may lag a little).
    deadline = time.monotonic() + 5
    while True:
        third = raw_smtp(server)
        banner = third.reply()
        if banner[0].startswith("220 ") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert banner[0].startswith("220 "), banner


def test_hostile_client_does_not_disturb_others(smtpmock, raw_smtp):
    hostile = raw_smtp(smtpmock, timeout=10)
    assert hostile.reply()[0].startswith("220")
    # 1 MB without a line end: the server must keep reading (and discarding) it.
    hostile.send(b"x" * (1 << 20))

    # Meanwhile a well-behaved client sends a message as usual.
    message = send_with_smtplib(smtpmock, "while hostile")
    [m] = smtpmock.wait_messages(1)
    assert m.raw == message

    # The overlong line ends in garbage; then more garbage, then a real command.
    hostile.send(b"garbage\x01\xfe\xff\r\n")
    reply = hostile.reply()
    assert reply[-1].startswith("500"), reply  # RFC 5321 4.5.3.1.4: 500 line too long
    hostile.send(b"\x00\x7f\xc3(garbage \x1b[31m\r\n")
    reply = hostile.reply()
    assert reply[-1][:1] == "5", reply
    assert hostile.command("NOOP")[0].startswith("250")
    assert hostile.command("QUIT")[0].startswith("221")
    assert len(smtpmock.messages()) == 1


# --- logs and secrets ----------------------------------------------------------------------


def test_json_log_format(smtpmock_factory):
    server = smtpmock_factory("--log-format", "json")
    send_with_smtplib(server, "json logs")
    server.wait_messages(1)
    assert server.stop() == 0
    lines = server.stderr_lines()
    assert lines, "no log lines"
    objects = []
    for line in lines:
        assert line.strip(), "empty log line"
        obj = json.loads(line)
        assert isinstance(obj, dict), line
        objects.append(obj)
    assert sum("smtpmock ready" in json.dumps(o) for o in objects) == 1


def test_json_logs_have_a_key_per_field(smtpmock_factory, raw_smtp):
    server = smtpmock_factory("--log-format", "json", "--log-level", "debug", scenario_yaml="""\
name: json-fields
ehlo: {extensions: [PIPELINING, ENHANCEDSTATUSCODES]}
rules:
  - name: refuse "odd" one
    on: rcpt
    match: {recipient: "odd@x.example"}
    reply: "550 5.1.1 no such user"
""")
    with raw_smtp(server) as c:
        c.reply()
        c.command("EHLO json.example")
        c.command("MAIL FROM:<a@x.example>")
        assert c.command("RCPT TO:<odd@x.example>")[0].startswith("550")
        c.command("QUIT")
    server.wait_sessions(1)
    assert server.stop() == 0
    objects = [json.loads(line) for line in server.stderr_lines()]
    connect = [o for o in objects if o.get("event") == "connect"]
    assert len(connect) == 1, objects
    assert connect[0]["code"] == 220 and connect[0]["client"].startswith("127.0.0.1:")
    assert connect[0]["session"].startswith("S") and connect[0]["scenario"] == "json-fields"
    replies = [o for o in objects if o.get("cmd") == "MAIL"]
    assert replies and replies[0]["code"] == 250 and replies[0]["line"] == "MAIL FROM:<a@x.example>"
    rule = [o for o in objects if o.get("event") == "rule"]
    assert rule and rule[0]["rule"] == 'refuse "odd" one' and rule[0]["code"] == 550
    assert rule[0]["reply"] == "5.1.1 no such user"
    ready = [o for o in objects if o["msg"] == "smtpmock ready"]
    assert len(ready) == 1 and ready[0]["scenario"] == "json-fields"
    assert str(ready[0]["seed"]).isdigit() and isinstance(ready[0]["rules"], int)


PASSWORD = "S3cr3t-Pa55word!"
WRONG = "Wr0ng-Pa55word?"
SECRET_SCENARIO = f"""\
name: t-secret
hostname: test.local
ehlo: {{extensions: [PIPELINING, ENHANCEDSTATUSCODES, AUTH PLAIN LOGIN]}}
auth: {{users: [{{user: alice, password: "{PASSWORD}"}}]}}
limits: {{idle_timeout: 10s, max_recipients: 100, max_errors: 20}}
"""


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_auth_secrets_never_logged_or_spooled(smtpmock_factory, raw_smtp, log_format):
    server = smtpmock_factory("--log-format", log_format, "--log-level", "debug",
                              scenario_yaml=SECRET_SCENARIO)
    c = raw_smtp(server)
    assert c.reply()[0].startswith("220")
    assert c.command("EHLO client.example")[-1].startswith("250 ")
    # LOGIN with challenges, wrong password.
    assert c.command("AUTH LOGIN") == ["334 VXNlcm5hbWU6"]
    assert c.command(b64("alice")) == ["334 UGFzc3dvcmQ6"]
    assert c.command(b64(WRONG))[0].startswith("535 5.7.8 ")
    # PLAIN with an initial response, wrong password.
    assert c.command("AUTH PLAIN " + b64(f"\0alice\0{WRONG}"))[0].startswith("535 5.7.8")
    # PLAIN with a challenge, right password.
    assert c.command("AUTH PLAIN")[0].startswith("334")
    assert c.command(b64(f"\0alice\0{PASSWORD}"))[0].startswith("235 2.7.0")
    assert c.command("MAIL FROM:<a@client.example>")[0].startswith("250")
    assert c.command("RCPT TO:<b@dest.example>")[0].startswith("250")
    assert c.command("DATA")[0].startswith("354")
    assert c.command("Subject: s\r\n\r\nno secrets here\r\n.")[0].startswith("250")
    assert c.command("QUIT")[0].startswith("221")
    # LOGIN with the initial-response form, right password (a second session).
    with smtplib.SMTP(server.host, server.port, local_hostname="client.example", timeout=10) as s:
        s.ehlo()
        s.user, s.password = "alice", PASSWORD
        assert s.auth("LOGIN", s.auth_login)[0] == 235
    server.wait_sessions(2)
    server.stop()

    logs = server.stderr_text().encode()
    spool = server.spool_bytes()
    assert b"alice" in spool  # the user is recorded (AuthUser); only secrets are hidden
    for secret in (PASSWORD, WRONG):
        forms = {
            "raw": secret,
            "base64": b64(secret),
            "plain-base64": b64(f"\0alice\0{secret}"),
        }
        for form, value in forms.items():
            assert value.encode() not in logs, f"{form} form of a password in stderr"
            assert value.encode() not in spool, f"{form} form of a password in the spool"


def test_bdat_command_lines_are_in_the_transcript(smtpmock, raw_smtp):
    with raw_smtp(smtpmock) as c:
        c.reply()
        c.command("EHLO bdat.example")
        assert c.command("MAIL FROM:<a@bdat.example>")[0].startswith("250")
        assert c.command("RCPT TO:<b@bdat.example>")[0].startswith("250")
        c.send("BDAT 5\r\nSubj:")
        assert c.reply()[0].startswith("250")
        c.send("BDAT 9 LAST\r\n x\r\n\r\nb\r\n")
        assert c.reply()[0].startswith("250")
        c.command("QUIT")
    session = smtpmock.wait_sessions(1)[0]
    ins = [t["Text"] for t in session["Transcript"] if t["Direction"] == "in"]
    assert "BDAT 5" in ins and "BDAT 9 LAST" in ins, ins


def test_a_pipelined_burst_far_larger_than_a_read_is_answered_whole(smtpmock, raw_smtp):
    # The whole transaction and a 300 KiB body in one write: far more than one read takes, so
    # the session must read on until the kernel is empty, never wait for bytes already there.
    body = b"".join(b"line %06d " % i + b"x" * 40 + b"\r\n" for i in range(6000))
    burst = (b"EHLO burst.example\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n"
             b"DATA\r\n" + b"Subject: burst\r\n\r\n" + body + b".\r\nQUIT\r\n")
    assert len(burst) > 300_000
    with raw_smtp(smtpmock, timeout=10) as c:
        assert c.line().startswith("220 ")
        c.send(burst)
        replies = [c.reply() for _ in range(6)]  # EHLO, MAIL, RCPT, DATA, message, QUIT
    assert [r[-1][:3] for r in replies] == ["250", "250", "250", "354", "250", "221"], replies
    stored = smtpmock.wait_messages(1)[0]
    assert stored.body.count(b"\r\n") == 6000
