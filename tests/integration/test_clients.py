"""Real SMTP clients (swaks, curl, msmtp, Python smtplib, nodemailer) against the real binary.

Every test checks both sides: the client's own verdict (exit status or exception) and what
smtpmock stored (the exact message bytes after dot-unstuffing, and the envelope: MAIL FROM,
RCPT TO addresses, EHLO name, AUTH user).
"""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import smtplib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import CLIENT_TIMEOUT, SmtpMockServer, describe, run

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"
EHLO_NAME = "client.example"
SENDER = "sender@client.example"
RECIPIENT = "rcpt@dest.example"

# A scenario with one user, so good and bad passwords can be told apart.
AUTH_SCENARIO = """\
name: t-auth
hostname: test.local
ehlo: {extensions: [PIPELINING, "SIZE 2000000", ENHANCEDSTATUSCODES, AUTH PLAIN LOGIN, 8BITMIME]}
auth: {users: [{user: alice, password: secret}]}
limits: {idle_timeout: 10s, max_recipients: 100, max_errors: 20}
"""
USER, PASSWORD, WRONG_PASSWORD = "alice", "secret", "wrong-password"


def make_message(subject: str, body_lines: list[str], to: list[str] | None = None) -> bytes:
    """An RFC 5322 message with CRLF line ends and every header a client might add itself."""
    head = [
        f"From: <{SENDER}>",
        f"To: {', '.join('<' + t + '>' for t in (to or [RECIPIENT]))}",
        f"Subject: {subject}",
        "Date: Sun, 29 Nov 2026 10:00:00 +0000",
        f"Message-ID: <{subject.replace(' ', '-')}@client.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
    ]
    return ("\r\n".join(head) + "\r\n\r\n" + "".join(l + "\r\n" for l in body_lines)).encode()


DOT_LINES = ["first line", ".hidden", "..", ".", "...three", " .not-at-start", "a.b", ".", "last"]


def big_body_lines(size: int = 1 << 20) -> list[str]:
    """About `size` octets of deterministic 78-octet lines (76 + CRLF), no dots at line start."""
    lines, total, i = [], 0, 0
    while total < size:
        line = f"{i:07d} " + ("abcdefghijklmnopqrstuvwxyz0123456789" * 3)[: 76 - 8]
        lines.append(line)
        total += len(line) + 2
        i += 1
    return lines


@dataclass
class Outcome:
    """What a client run ended with: rc 0 is success; otherwise the client's failure code."""

    rc: object
    output: str = ""
    dialog: list[str] = field(default_factory=list)  # "C: ..." sent / "S: ..." received


class Client:
    name = "?"
    auth_failure: object = None  # the client's verdict for a 535
    pipelines = False

    def available(self) -> bool:
        return True

    def expected_stored(self, message: bytes) -> bytes:
        """The bytes smtpmock should store for `message` sent by this client."""
        return message

    def send(self, server: SmtpMockServer, tmp: Path, message: bytes, rcpts: list[str],
             auth: tuple[str, str] | None = None, pipeline: bool = False) -> Outcome:
        raise NotImplementedError


class Swaks(Client):
    name = "swaks"
    auth_failure = 28
    pipelines = True

    def available(self) -> bool:
        return shutil.which("swaks") is not None

    def expected_stored(self, message: bytes) -> bytes:
        # swaks --data FILE dot-stuffs and always writes CRLF before the final "." line.
        return message + b"\r\n"

    def send(self, server, tmp, message, rcpts, auth=None, pipeline=False):
        f = tmp / "swaks.eml"
        f.write_bytes(message)
        args = ["swaks", "--server", server.address, "--from", SENDER, "--to", ",".join(rcpts),
                "--ehlo", EHLO_NAME, "--data", f"@{f}", "--timeout", "20"]
        if pipeline:
            args.append("--pipeline")
        if auth:
            args += ["--auth", "LOGIN", "--auth-user", auth[0], "--auth-password", auth[1]]
        p = run(args)
        dialog = []
        for line in p.stdout.decode(errors="replace").splitlines():
            if line.startswith(" -> "):
                dialog.append("C: " + line[4:])
            elif line.startswith("<-  ") or line.startswith("<** "):
                dialog.append("S: " + line[4:])
        return Outcome(p.returncode, describe(p), dialog)


class Curl(Client):
    name = "curl"
    auth_failure = 67

    def send(self, server, tmp, message, rcpts, auth=None, pipeline=False):
        assert not pipeline, "curl does not pipeline"
        f = tmp / "curl.eml"
        f.write_bytes(message)
        args = ["curl", "-sS", "--max-time", "20", "--url",
                f"smtp://{server.address}/{EHLO_NAME}", "--mail-from", SENDER,
                "--upload-file", str(f)]
        for r in rcpts:
            args += ["--mail-rcpt", r]
        if auth:
            args += ["--user", f"{auth[0]}:{auth[1]}", "--login-options", "AUTH=LOGIN"]
        p = run(args)
        return Outcome(p.returncode, describe(p))


class Msmtp(Client):
    name = "msmtp"
    auth_failure = 77
    pipelines = True

    def available(self) -> bool:
        return shutil.which("msmtp") is not None

    def send(self, server, tmp, message, rcpts, auth=None, pipeline=False):
        # msmtp pipelines on its own whenever PIPELINING is advertised.
        f = tmp / "msmtp.eml"
        f.write_bytes(message)
        args = ["msmtp", "--debug", f"--host={server.host}", f"--port={server.port}",
                f"--from={SENDER}", f"--domain={EHLO_NAME}", "--tls=off", "--timeout=20"]
        if auth:
            pwfile = tmp / "msmtp.password"
            pwfile.write_text(auth[1])
            args += ["--auth=login", f"--user={auth[0]}", f"--passwordeval=cat {pwfile}"]
        else:
            args.append("--auth=off")
        args += ["--", *rcpts]
        with f.open("rb") as stdin:
            p = run(args, stdin=stdin)
        dialog = []
        for line in p.stdout.decode(errors="replace").splitlines():
            if line.startswith("--> "):
                dialog.append("C: " + line[4:])
            elif line.startswith("<-- "):
                dialog.append("S: " + line[4:])
        return Outcome(p.returncode, describe(p), dialog)


class Smtplib(Client):
    name = "smtplib"
    auth_failure = ("SMTPAuthenticationError", 535)

    def send(self, server, tmp, message, rcpts, auth=None, pipeline=False):
        assert not pipeline, "smtplib does not pipeline"
        try:
            with smtplib.SMTP(server.host, server.port, local_hostname=EHLO_NAME,
                              timeout=CLIENT_TIMEOUT) as s:
                s.ehlo()
                if auth:
                    s.user, s.password = auth
                    s.auth("LOGIN", s.auth_login)
                refused = s.sendmail(SENDER, rcpts, message)
                assert refused == {}, refused
        except smtplib.SMTPAuthenticationError as e:
            return Outcome(("SMTPAuthenticationError", e.smtp_code), repr(e))
        except smtplib.SMTPException as e:
            return Outcome((type(e).__name__, getattr(e, "smtp_code", None)), repr(e))
        return Outcome(0)


class Nodemailer(Client):
    name = "nodemailer"
    auth_failure = ("EAUTH", 535)
    pipelines = True

    def available(self) -> bool:
        return shutil.which("node") is not None

    def send(self, server, tmp, message, rcpts, auth=None, pipeline=False):
        # nodemailer pipelines MAIL, RCPT and DATA on its own whenever PIPELINING is advertised.
        if not (NODE_DIR / "node_modules" / "nodemailer").is_dir():
            pytest.fail(f"nodemailer is not installed: run `npm ci` in {NODE_DIR}")
        f = tmp / "nodemailer.eml"
        f.write_bytes(message)
        req = {"host": server.host, "port": server.port, "from": SENDER, "to": rcpts,
               "name": EHLO_NAME, "rawFile": str(f)}
        if auth:
            req["auth"] = {"user": auth[0], "pass": auth[1]}
            req["authMethod"] = "LOGIN"
        p = run(["node", str(NODE_DIR / "send.js"), json.dumps(req)], cwd=NODE_DIR)
        try:
            result = json.loads(p.stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            return Outcome(("no JSON result", p.returncode), describe(p))
        if p.returncode == 0 and result.get("ok"):
            assert result["accepted"] == rcpts, result
            return Outcome(0, describe(p), result.get("log", []))
        return Outcome((result.get("code"), result.get("responseCode")), describe(p),
                       result.get("log", []))


CLIENTS = [Swaks(), Curl(), Msmtp(), Smtplib(), Nodemailer()]
PIPELINING_CLIENTS = [c for c in CLIENTS if c.pipelines]


@pytest.fixture
def client(request) -> Client:
    c = request.param
    if not c.available():
        pytest.fail(f"{c.name} is not installed (make test-deps)")
    return c


def check_stored(server: SmtpMockServer, client: Client, message: bytes, rcpts: list[str],
                 auth_user: str = ""):
    """The one spooled message has exactly the expected bytes and envelope."""
    msgs = server.wait_messages(1)
    assert len(msgs) == 1, [m.id for m in msgs]
    m = msgs[0]
    expected = client.expected_stored(message)
    assert m.body == expected.partition(b"\r\n\r\n")[2], "body differs"
    assert m.raw == expected, "message bytes differ"
    assert m.meta["Size"] == len(expected)
    env = m.envelope
    assert env["MailFrom"] == SENDER
    assert m.recipients == rcpts
    assert env["Helo"] == EHLO_NAME
    assert env["ESMTP"] is True
    assert env["AuthUser"] == auth_user
    assert env["ClientAddress"].startswith("127.0.0.1")
    return m


def assert_pipelined(dialog: list[str]) -> None:
    """Some MAIL/RCPT command was followed by another command before its reply arrived."""
    cmds = ("C: MAIL", "C: RCPT", "C: DATA")
    for a, b in zip(dialog, dialog[1:]):
        if a.upper().startswith(cmds[:2]) and b.upper().startswith(cmds[1:]):
            return
    pytest.fail("the client did not pipeline:\n" + "\n".join(dialog))


# --- the tests ------------------------------------------------------------------------------


def parametrize_clients(clients):
    return pytest.mark.parametrize("client", clients, ids=[c.name for c in clients], indirect=True)


@parametrize_clients(CLIENTS)
def test_plain_send(client, smtpmock, tmp_path):
    message = make_message("plain send", ["Hello World,", "", "a plain message.", "-- ", "x"])
    out = client.send(smtpmock, tmp_path, message, [RECIPIENT])
    assert out.rc == 0, out.output
    check_stored(smtpmock, client, message, [RECIPIENT])


@parametrize_clients(CLIENTS)
def test_auth_login_good(client, smtpmock_factory, tmp_path):
    server = smtpmock_factory(scenario_yaml=AUTH_SCENARIO)
    message = make_message("auth good", ["authenticated as alice"])
    out = client.send(server, tmp_path, message, [RECIPIENT], auth=(USER, PASSWORD))
    assert out.rc == 0, out.output
    check_stored(server, client, message, [RECIPIENT], auth_user=USER)


@parametrize_clients(CLIENTS)
def test_auth_login_bad_password(client, smtpmock_factory, tmp_path):
    server = smtpmock_factory(scenario_yaml=AUTH_SCENARIO)
    message = make_message("auth bad", ["never stored"])
    out = client.send(server, tmp_path, message, [RECIPIENT], auth=(USER, WRONG_PASSWORD))
    assert out.rc == client.auth_failure, out.output
    server.wait_sessions(1)  # the session is over, so nothing more can arrive
    assert server.messages() == []


@parametrize_clients(PIPELINING_CLIENTS)
def test_pipelined_send(client, smtpmock, tmp_path):
    rcpts = [RECIPIENT, "second@dest.example"]
    message = make_message("pipelined", ["sent with PIPELINING"], to=rcpts)
    out = client.send(smtpmock, tmp_path, message, rcpts, pipeline=True)
    assert out.rc == 0, out.output
    assert_pipelined(out.dialog)
    check_stored(smtpmock, client, message, rcpts)


@parametrize_clients(CLIENTS)
def test_several_recipients(client, smtpmock, tmp_path):
    rcpts = [f"user{i}@dest{i % 3}.example" for i in range(7)]
    message = make_message("several recipients", ["to seven people"], to=rcpts)
    out = client.send(smtpmock, tmp_path, message, rcpts)
    assert out.rc == 0, out.output
    check_stored(smtpmock, client, message, rcpts)


@parametrize_clients(CLIENTS)
def test_dot_lines_round_trip(client, smtpmock, tmp_path):
    message = make_message("dots", DOT_LINES)
    out = client.send(smtpmock, tmp_path, message, [RECIPIENT])
    assert out.rc == 0, out.output
    m = check_stored(smtpmock, client, message, [RECIPIENT])
    lines = m.body.split(b"\r\n")
    for wanted in (b".hidden", b"..", b".", b"...three"):
        assert wanted in lines, wanted


@parametrize_clients(CLIENTS)
def test_one_megabyte_body(client, smtpmock, tmp_path):
    message = make_message("one megabyte", big_body_lines())
    assert len(message) > 1 << 20
    out = client.send(smtpmock, tmp_path, message, [RECIPIENT])
    assert out.rc == 0, out.output
    check_stored(smtpmock, client, message, [RECIPIENT])


# smtplib's other AUTH forms: LOGIN without an initial response, and PLAIN (login()'s choice
# when CRAM-MD5 is not advertised).


def test_smtplib_auth_login_challenge_form(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=AUTH_SCENARIO)
    message = make_message("login challenge", ["LOGIN, no initial response"])
    with smtplib.SMTP(server.host, server.port, local_hostname=EHLO_NAME, timeout=10) as s:
        s.ehlo()
        s.user, s.password = USER, PASSWORD
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        assert code == 235
        s.sendmail(SENDER, [RECIPIENT], message)
    check_stored(server, Smtplib(), message, [RECIPIENT], auth_user=USER)


def test_smtplib_auth_plain(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=AUTH_SCENARIO)
    message = make_message("plain auth", ["PLAIN"])
    with smtplib.SMTP(server.host, server.port, local_hostname=EHLO_NAME, timeout=10) as s:
        code, _ = s.login(USER, PASSWORD)
        assert code == 235
        s.sendmail(SENDER, [RECIPIENT], message)
    check_stored(server, Smtplib(), message, [RECIPIENT], auth_user=USER)
    with smtplib.SMTP(server.host, server.port, local_hostname=EHLO_NAME, timeout=10) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            s.login(USER, WRONG_PASSWORD)
        assert err.value.smtp_code == 535


def test_nodemailer_composed_message(smtpmock, tmp_path):
    """nodemailer building the message itself (subject + text), not sending raw bytes."""
    if not (NODE_DIR / "node_modules" / "nodemailer").is_dir():
        pytest.fail(f"nodemailer is not installed: run `npm ci` in {NODE_DIR}")
    text = "Hello World,\n.hidden\n..\n.\nYours truly,\nSMTP administrator\n"
    req = {"host": smtpmock.host, "port": smtpmock.port, "from": SENDER, "to": [RECIPIENT],
           "name": EHLO_NAME, "subject": "composed by nodemailer", "text": text}
    p = run(["node", str(NODE_DIR / "send.js"), json.dumps(req)], cwd=NODE_DIR)
    assert p.returncode == 0, describe(p)
    result = json.loads(p.stdout.decode().strip().splitlines()[-1])
    assert result["ok"] and result["accepted"] == [RECIPIENT], result
    [m] = smtpmock.wait_messages(1)
    parsed = email.message_from_bytes(m.raw, policy=email.policy.default)
    assert parsed["Subject"] == "composed by nodemailer"
    assert parsed["Message-ID"] == result["messageId"]
    assert parsed.get_content().replace("\r\n", "\n") == text
    assert m.body.split(b"\r\n")[:4] == [b"Hello World,", b".hidden", b"..", b"."]
    assert m.mail_from == SENDER and m.recipients == [RECIPIENT]
    assert m.envelope["Helo"] == EHLO_NAME and m.envelope["AuthUser"] == ""
