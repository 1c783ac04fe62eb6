"""TLS end to end: STARTTLS (RFC 3207) and implicit TLS (RFC 8314) with real clients, the
session reset after the handshake, plaintext injection in both directions (CVE-2011-0411 and
the "NO STARTTLS" response injection), certificate faults, and the TLS flags.

Real clients: swaks (--tls, --tls-on-connect), curl (--ssl-reqd, smtps://), Python smtplib
(starttls(), SMTP_SSL), msmtp (--tls-starttls=on/off) and nodemailer (requireTLS, secure). Each
run checks the client's verdict and what smtpmock stored: the envelope's TLSVersion/TLSCipher
and transcript lines marked TLS. Protocol rules are checked with a raw socket wrapped in
Python's ssl module. Every read is bounded by a socket timeout; only 127.0.0.1 is used.
"""

from __future__ import annotations

import base64
import json
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import time
import warnings
from pathlib import Path

import pytest

from conftest import CLIENT_TIMEOUT, RawSmtp, SmtpMockServer, describe, run, run_binary

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"
EHLO_NAME = "client.example"
SENDER = "sender@client.example"
RECIPIENT = "rcpt@dest.example"
USER, PASSWORD = "alice", "secret"
HOSTNAME = "mx.tls.example"
TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")
SMTPS = ("--smtps-listen", "127.0.0.1:0")

# STARTTLS advertised; one user, so the envelope's AuthUser shows who logged in.
TLS_SCENARIO = f"""\
name: t-tls
hostname: {HOSTNAME}
ehlo: {{extensions: [PIPELINING, "SIZE 2000000", ENHANCEDSTATUSCODES, STARTTLS, AUTH PLAIN LOGIN,
                    8BITMIME]}}
auth: {{users: [{{user: {USER}, password: {PASSWORD}}}]}}
limits: {{idle_timeout: 10s, max_recipients: 100, max_errors: 20}}
"""


def scenario_with(extra: str, base: str = TLS_SCENARIO) -> str:
    return base + extra


def make_message(subject: str) -> bytes:
    return (f"From: <{SENDER}>\r\nTo: <{RECIPIENT}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@client.example>\r\n\r\n"
            f"sent over TLS: {subject}\r\n").encode()


def unverified() -> ssl.SSLContext:
    """A client context that accepts any certificate (the clients' -k / certcheck=off)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# --- a raw client that can switch to TLS ------------------------------------------------------


class TlsRaw(RawSmtp):
    """RawSmtp plus STARTTLS/implicit TLS with Python's ssl module."""

    def __init__(self, host: str, port: int, timeout: float = 10.0, implicit: bool = False,
                 context: ssl.SSLContext | None = None, server_hostname: str = "localhost"):
        super().__init__(host, port, timeout)
        if implicit:
            self.wrap(context, server_hostname)

    def wrap(self, context: ssl.SSLContext | None = None,
             server_hostname: str = "localhost") -> None:
        # Anything still buffered came in plaintext and must not be read as a TLS reply.
        assert self.buf == b"", f"plaintext left before the handshake: {self.buf!r}"
        self.sock = (context or unverified()).wrap_socket(self.sock,
                                                           server_hostname=server_hostname)

    def starttls(self, context: ssl.SSLContext | None = None,
                 server_hostname: str = "localhost") -> None:
        assert self.command("STARTTLS") == ["220 2.0.0 Ready to start TLS"]
        self.wrap(context, server_hostname)

    def ehlo(self, name: str = EHLO_NAME) -> list[str]:
        r = self.command(f"EHLO {name}")
        assert r[-1].startswith("250 "), r
        return r

    def nothing_pending(self, wait: float = 0.3) -> bool:
        """True when no byte arrives within `wait` seconds (and none is buffered)."""
        if self.buf:
            return False
        old = self.sock.gettimeout()
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return True
        finally:
            self.sock.settimeout(old)
        self.buf += data
        return False


@pytest.fixture
def tls_raw():
    conns: list[TlsRaw] = []

    def connect(server: SmtpMockServer, implicit: bool = False, **kw) -> TlsRaw:
        port = server.smtps_port if implicit else server.port
        assert port, "the server has no smtps listener"
        c = TlsRaw(server.host, port, implicit=implicit, **kw)
        conns.append(c)
        return c

    yield connect
    for c in conns:
        c.close()


def extensions(ehlo_reply: list[str]) -> list[str]:
    return [line[4:] for line in ehlo_reply[1:]]


# --- what smtpmock stored ---------------------------------------------------------------------


def session_of(server: SmtpMockServer, message_id: str, timeout: float = 10.0) -> dict:
    """The spooled session that carried `message_id` (written when the session ends)."""
    deadline = time.monotonic() + timeout
    while True:
        for s in server.sessions():
            if message_id in s.get("MessageIDs", []):
                return s
        if time.monotonic() > deadline:
            pytest.fail(f"no spooled session holds message {message_id}: "
                        f"{[s.get('MessageIDs') for s in server.sessions()]}")
        time.sleep(0.02)


def lines(session: dict, direction: str | None = None) -> list[dict]:
    return [l for l in session["Transcript"] if direction is None or l["Direction"] == direction]


def check_tls_stored(server: SmtpMockServer, implicit: bool, auth_user: str = USER):
    """One message, received inside TLS: envelope TLS fields and TLS-marked transcript lines."""
    msgs = server.wait_messages(1)
    assert len(msgs) == 1, [m.id for m in msgs]
    m = msgs[0]
    env = m.envelope
    assert env["TLSVersion"] in TLS_VERSIONS, env
    assert env["TLSCipher"], env
    assert env["AuthUser"] == auth_user, env
    assert env["MailFrom"] == SENDER, env
    session = session_of(server, m.id)
    ins = lines(session, "in")
    mail = [l for l in ins if l["Text"].upper().startswith("MAIL FROM:")]
    assert mail and all(l["TLS"] for l in mail), ins
    assert all(l["TLS"] for l in lines(session, "out") if l["Text"].startswith("354")), session
    notes = [l["Text"] for l in lines(session, "info")]
    assert any(n.startswith("TLS established: " + env["TLSVersion"]) for n in notes), notes
    if implicit:
        # RFC 8314 3.3: everything, the banner included, is inside TLS.
        assert all(l["TLS"] for l in lines(session, "out")), session
        assert all(l["TLS"] for l in ins), ins
    else:
        starttls = [l for l in ins if l["Text"].upper() == "STARTTLS"]
        assert len(starttls) == 1 and not starttls[0]["TLS"], ins
        ready = [l for l in lines(session, "out") if l["Text"].startswith("220 2.0.0")]
        assert len(ready) == 1 and not ready[0]["TLS"], session
        banner = lines(session, "out")[0]
        assert banner["Text"].startswith("220 ") and not banner["TLS"], banner
    return m, session


# --- the clients ------------------------------------------------------------------------------


def swaks(server: SmtpMockServer, tmp: Path, implicit: bool) -> tuple[int, str]:
    if shutil.which("swaks") is None:
        pytest.fail("swaks is not installed (make test-deps)")
    f = tmp / "swaks.eml"
    f.write_bytes(make_message("swaks"))
    port = server.smtps_port if implicit else server.port
    args = ["swaks", "--server", f"{server.host}:{port}", "--from", SENDER, "--to", RECIPIENT,
            "--ehlo", EHLO_NAME, "--data", f"@{f}", "--timeout", "20", "--auth", "LOGIN",
            "--auth-user", USER, "--auth-password", PASSWORD,
            "--tls-on-connect" if implicit else "--tls"]
    p = run(args)
    return p.returncode, describe(p)


def curl(server: SmtpMockServer, tmp: Path, implicit: bool, *extra: str) -> tuple[int, str]:
    f = tmp / "curl.eml"
    f.write_bytes(make_message("curl"))
    if implicit:
        url = f"smtps://{server.host}:{server.smtps_port}/{EHLO_NAME}"
        tls = ["-k"]
    else:
        url = f"smtp://{server.address}/{EHLO_NAME}"
        tls = ["--ssl-reqd", "-k"]
    p = run(["curl", "-sS", "--max-time", "20", "--url", url, "--mail-from", SENDER,
             "--mail-rcpt", RECIPIENT, "--upload-file", str(f), "--user", f"{USER}:{PASSWORD}",
             "--login-options", "AUTH=LOGIN", *tls, *extra])
    return p.returncode, describe(p)


def smtplib_send(server: SmtpMockServer, tmp: Path, implicit: bool,
                 context: ssl.SSLContext | None = None) -> tuple[object, str]:
    ctx = context or unverified()
    try:
        if implicit:
            s = smtplib.SMTP_SSL(server.host, server.smtps_port, local_hostname=EHLO_NAME,
                                 timeout=CLIENT_TIMEOUT, context=ctx)
        else:
            s = smtplib.SMTP(server.host, server.port, local_hostname=EHLO_NAME,
                             timeout=CLIENT_TIMEOUT)
        with s:
            s.ehlo()
            if not implicit:
                code, text = s.starttls(context=ctx)
                assert code == 220, (code, text)
                s.ehlo()
                assert not s.has_extn("starttls"), s.esmtp_features
            s.user, s.password = USER, PASSWORD
            code, text = s.auth("LOGIN", s.auth_login)
            assert code == 235, (code, text)
            refused = s.sendmail(SENDER, [RECIPIENT], make_message("smtplib"))
            assert refused == {}, refused
    except (smtplib.SMTPException, ssl.SSLError, OSError) as e:
        return type(e).__name__, repr(e)
    return 0, ""


def msmtp(server: SmtpMockServer, tmp: Path, implicit: bool) -> tuple[int, str]:
    if shutil.which("msmtp") is None:
        pytest.fail("msmtp is not installed (make test-deps)")
    f = tmp / "msmtp.eml"
    f.write_bytes(make_message("msmtp"))
    pwfile = tmp / "msmtp.password"
    pwfile.write_text(PASSWORD)
    port = server.smtps_port if implicit else server.port
    args = ["msmtp", "--debug", f"--host={server.host}", f"--port={port}", f"--from={SENDER}",
            f"--domain={EHLO_NAME}", "--tls=on", "--tls-certcheck=off",
            "--tls-starttls=" + ("off" if implicit else "on"), "--timeout=20", "--auth=login",
            f"--user={USER}", f"--passwordeval=cat {pwfile}", "--", RECIPIENT]
    with f.open("rb") as stdin:
        p = run(args, stdin=stdin)
    return p.returncode, describe(p)


def nodemailer(server: SmtpMockServer, tmp: Path, implicit: bool) -> tuple[object, str]:
    if shutil.which("node") is None:
        pytest.fail("node is not installed (make test-deps)")
    if not (NODE_DIR / "node_modules" / "nodemailer").is_dir():
        pytest.fail(f"nodemailer is not installed: run `npm ci` in {NODE_DIR}")
    f = tmp / "nodemailer.eml"
    f.write_bytes(make_message("nodemailer"))
    req = {"host": server.host, "port": server.smtps_port if implicit else server.port,
           "from": SENDER, "to": [RECIPIENT], "name": EHLO_NAME, "rawFile": str(f),
           "auth": {"user": USER, "pass": PASSWORD}, "authMethod": "LOGIN",
           "tls": {"rejectUnauthorized": False}}
    if implicit:
        req["secure"] = True
    else:
        req["requireTLS"] = True
    p = run(["node", str(NODE_DIR / "send.js"), json.dumps(req)], cwd=NODE_DIR)
    try:
        result = json.loads(p.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return ("no JSON result", p.returncode), describe(p)
    if p.returncode == 0 and result.get("ok"):
        return 0, describe(p)
    return (result.get("code"), result.get("responseCode")), describe(p)


CLIENTS = {"swaks": swaks, "curl": curl, "smtplib": smtplib_send, "msmtp": msmtp,
           "nodemailer": nodemailer}


@pytest.fixture
def tls_server(smtpmock_factory) -> SmtpMockServer:
    """STARTTLS on the SMTP port and an implicit-TLS port, with the generated certificate."""
    server = smtpmock_factory(*SMTPS, scenario_yaml=TLS_SCENARIO)
    assert server.smtps_port, f"no smtps= in the ready line:\n{server.stderr_text()}"
    return server


# --- real clients -----------------------------------------------------------------------------


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit"])
@pytest.mark.parametrize("name", list(CLIENTS))
def test_client_sends_over_tls(name, implicit, tls_server, tmp_path):
    rc, output = CLIENTS[name](tls_server, tmp_path, implicit)
    assert rc == 0, output
    m, _ = check_tls_stored(tls_server, implicit)
    assert f"\r\n\r\nsent over TLS: {name}\r\n".encode() in m.raw, m.raw


def test_tls12_and_tls13_both_offered(tls_server, tmp_path):
    ctx = unverified()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    rc, output = smtplib_send(tls_server, tmp_path, False, context=ctx)
    assert rc == 0, output
    rc, output = curl(tls_server, tmp_path, True)  # curl negotiates its best: 1.3
    assert rc == 0, output
    msgs = tls_server.wait_messages(2)
    assert sorted(m.envelope["TLSVersion"] for m in msgs) == ["TLSv1.2", "TLSv1.3"]
    tls12 = next(m for m in msgs if m.envelope["TLSVersion"] == "TLSv1.2")
    assert tls12.envelope["TLSCipher"].startswith("ECDHE-"), tls12.envelope  # forward secrecy


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_old_tls_versions_refused(version, tls_server, tls_raw):
    ctx = unverified()
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer what the server must refuse
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = getattr(ssl.TLSVersion, version)
    with pytest.raises(ssl.SSLError) as e:
        tls_raw(tls_server, implicit=True, context=ctx)
    assert e.value.reason in ("TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL"), e.value


# --- the session after STARTTLS -------------------------------------------------------------


def test_starttls_advertised_once_and_session_starts_over(tls_server, tls_raw):
    c = tls_raw(tls_server)
    assert c.reply()[0].startswith("220 ")
    assert "STARTTLS" in extensions(c.ehlo())
    c.starttls()
    # RFC 3207 4.2: the client must issue EHLO again; nothing from before counts.
    assert c.command(f"MAIL FROM:<{SENDER}>")[0].startswith("503"), "MAIL without a new EHLO"
    ext = extensions(c.ehlo())
    assert "STARTTLS" not in ext, ext
    assert ext[:2] == ["PIPELINING", "SIZE 2000000"], ext
    again = c.command("STARTTLS")
    assert again[0].startswith("503 5.5.1"), again
    assert c.command(f"MAIL FROM:<{SENDER}>")[0].startswith("250")
    assert c.command(f"RCPT TO:<{RECIPIENT}>")[0].startswith("250")
    assert c.command("QUIT")[0].startswith("221")


def test_starttls_with_argument_is_501(tls_server, tls_raw):
    c = tls_raw(tls_server)
    c.reply()
    c.ehlo()
    r = c.command("STARTTLS now")
    assert r[0].startswith("501 "), r
    c.starttls()  # the session is still plaintext and STARTTLS still works
    c.ehlo()


def test_mail_before_starttls_is_forgotten(tls_server, tls_raw):
    c = tls_raw(tls_server)
    c.reply()
    c.ehlo()
    assert c.command(f"MAIL FROM:<{SENDER}>")[0].startswith("250")
    c.starttls()
    c.ehlo()
    r = c.command(f"RCPT TO:<{RECIPIENT}>")
    assert r[0].startswith("503"), f"the transaction survived STARTTLS: {r}"


def test_auth_before_starttls_is_forgotten(tls_server, tls_raw):
    c = tls_raw(tls_server)
    c.reply()
    c.ehlo()
    plain = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    assert c.command(f"AUTH PLAIN {plain}")[0].startswith("235")
    c.starttls()
    c.ehlo()
    # Not "503 already authenticated": the AUTH state went with the plaintext session.
    assert c.command(f"AUTH PLAIN {plain}")[0].startswith("235")
    # And a message sent without logging in again carries no AUTH user.
    c2 = tls_raw(tls_server)
    c2.reply()
    c2.ehlo()
    assert c2.command(f"AUTH PLAIN {plain}")[0].startswith("235")
    c2.starttls()
    c2.ehlo()
    for cmd, code in [(f"MAIL FROM:<{SENDER}>", "250"), (f"RCPT TO:<{RECIPIENT}>", "250"),
                      ("DATA", "354")]:
        assert c2.command(cmd)[0].startswith(code), cmd
    assert c2.command("Subject: x\r\n\r\nbody\r\n.")[0].startswith("250")
    msgs = tls_server.wait_messages(1)
    assert msgs[0].envelope["AuthUser"] == "", msgs[0].envelope
    assert msgs[0].envelope["TLSVersion"] in TLS_VERSIONS


def test_implicit_tls_session(tls_server, tls_raw):
    c = tls_raw(tls_server, implicit=True)
    assert c.sock.version() in TLS_VERSIONS
    assert c.reply()[0].startswith(f"220 {HOSTNAME}")
    ext = extensions(c.ehlo())
    assert "STARTTLS" not in ext, ext  # already inside TLS
    assert c.command("STARTTLS")[0].startswith("503"), "STARTTLS inside implicit TLS"
    assert c.command("QUIT")[0].startswith("221")
    assert c.read_until_closed() == b""


# --- plaintext injection (CVE-2011-0411 class): smuggled commands are never run -------------


SMUGGLED = {
    "rset": "RSET",
    "mail": "MAIL FROM:<evil@attacker.example>",
    "auth": "AUTH PLAIN " + base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode(),
}


@pytest.mark.parametrize("smuggled", list(SMUGGLED))
def test_plaintext_after_starttls_is_discarded(smuggled, tls_server, tls_raw):
    c = tls_raw(tls_server)
    c.reply()
    c.ehlo()
    c.send(f"STARTTLS\r\n{SMUGGLED[smuggled]}\r\n")  # one write, one segment
    assert c.reply() == ["220 2.0.0 Ready to start TLS"]
    assert c.nothing_pending(), f"a reply to the smuggled command arrived: {c.buf!r}"
    c.wrap()
    # The first reply inside TLS answers our EHLO, not the smuggled command.
    first = c.command(f"EHLO {EHLO_NAME}")
    assert first[0] == f"250-{HOSTNAME}", first
    assert c.nothing_pending(), f"an extra reply inside TLS: {c.buf!r}"
    if smuggled == "mail":
        r = c.command(f"RCPT TO:<{RECIPIENT}>")
        assert r[0].startswith("503"), f"the smuggled MAIL opened a transaction: {r}"
    elif smuggled == "auth":
        r = c.command(SMUGGLED["auth"])
        assert r[0].startswith("235"), f"the smuggled AUTH logged in: {r}"
    else:
        assert c.command("NOOP")[0].startswith("250")
    assert c.command("QUIT")[0].startswith("221")
    c.read_until_closed()
    session = tls_server.wait_sessions(1)[0]
    ins = [l["Text"] for l in lines(session, "in")]
    verb = SMUGGLED[smuggled].split()[0]
    expected = 1 if smuggled == "auth" else 0  # the AUTH sent inside TLS on purpose
    assert sum(1 for t in ins if t.upper().startswith(verb)) == expected, ins


def test_plaintext_before_the_client_hello_breaks_the_handshake(tls_server, tls_raw):
    c = tls_raw(tls_server)
    c.reply()
    c.ehlo()
    assert c.command("STARTTLS") == ["220 2.0.0 Ready to start TLS"]
    c.send("NOOP\r\n")  # arrives where the ClientHello should: it is not a TLS record
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        c.wrap()
    session = tls_server.wait_sessions(1)[0]
    assert not any(l["Text"] == "NOOP" for l in lines(session, "in")), session
    assert any("TLS handshake failed" in l["Text"] for l in lines(session, "info")), session


# --- STARTTLS response injection (quirks.starttls_inject) -----------------------------------


def test_starttls_inject_arrives_in_the_same_segment(smtpmock_factory, tls_raw):
    server = smtpmock_factory(scenario="starttls-injection")
    c = tls_raw(server)
    c.reply()
    c.ehlo()
    c.send("STARTTLS\r\n")
    data = c.sock.recv(65536)  # one recv: the 220 and the injected reply came together
    assert data.startswith(b"220 2.0.0 Ready to start TLS\r\n250 "), data
    assert data.count(b"\r\n") == 2, data
    c.buf = b""  # a safe client discards what came with the 220 (that is the test)
    c.wrap()
    first = c.command(f"EHLO {EHLO_NAME}")
    assert first[0] == "250-mx.starttls-injection.example", first
    assert c.command("QUIT")[0].startswith("221")
    session = server.wait_sessions(1)[0]
    out = [(l["Text"], l["TLS"]) for l in lines(session, "out")]
    injected = [tls for text, tls in out if text.startswith("250 2.0.0 Injected")]
    assert injected == [False], out  # recorded once, as sent: in plaintext


def test_starttls_inject_against_real_clients(smtpmock_factory, tmp_path, record_property):
    """Records how each client handles a reply injected with the 220: a safe client discards
    it (and delivers, or refuses STARTTLS); a vulnerable one takes it as the answer to its first
    command inside TLS. Only a delivery that went wrong fails the test; swaks 20201014, for one,
    reads the injected line as its EHLO reply and gives up on AUTH (recorded, not asserted)."""
    verdicts = {}
    for name, client in CLIENTS.items():
        server = smtpmock_factory(scenario="starttls-injection")
        rc, output = client(server, tmp_path, False)
        vulnerable = "<~  250 2.0.0 Injected" in output  # swaks shows TLS replies as "<~"
        if rc == 0:
            m, _ = check_tls_stored(server, False, auth_user=USER)
            verdicts[name] = "safe: discarded the injected reply and delivered"
        else:
            server.wait_sessions(1)
            assert server.messages() == [], f"{name} failed but a message was stored"
            verdicts[name] = (f"vulnerable: took the injected reply as its EHLO reply (rc {rc})"
                              if vulnerable else f"safe: refused the session (rc {rc})")
        record_property(f"starttls_inject_{name}", verdicts[name])
    print("\nSTARTTLS response injection:", json.dumps(verdicts, indent=2))
    # Clients known to be safe must stay safe.
    for name in ("smtplib", "nodemailer", "curl", "msmtp"):
        assert verdicts[name].startswith("safe"), verdicts


# --- tls-required ---------------------------------------------------------------------------


def test_tls_required_scenario(smtpmock_factory, tls_raw):
    server = smtpmock_factory(scenario="tls-required")
    c = tls_raw(server)
    assert c.reply()[0].startswith("220 ")
    ext = extensions(c.ehlo())
    assert "STARTTLS" in ext, ext
    assert c.command("NOOP")[0].startswith("250")
    for cmd in (f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{RECIPIENT}>", "DATA", "AUTH LOGIN"):
        r = c.command(cmd)
        assert r[0].startswith("530 5.7.0"), (cmd, r)
    assert c.command("RSET")[0].startswith("250")
    assert c.command("HELO again.example")[0].startswith("250")
    c.starttls()
    c.ehlo()
    assert c.command(f"MAIL FROM:<{SENDER}>")[0].startswith("250")
    assert c.command(f"RCPT TO:<{RECIPIENT}>")[0].startswith("250")
    assert c.command("QUIT")[0].startswith("221")


def test_tls_required_with_real_clients(smtpmock_factory, tmp_path):
    server = smtpmock_factory(scenario="tls-required")
    f = tmp_path / "plain.eml"
    f.write_bytes(make_message("plain"))
    # swaks without --tls: MAIL gets 530 (exit 23); with --tls it goes through.
    p = run(["swaks", "--server", server.address, "--from", SENDER, "--to", RECIPIENT,
             "--data", f"@{f}", "--timeout", "20"])
    assert p.returncode == 23, describe(p)
    assert "530 5.7.0" in p.stdout.decode(), describe(p)
    # curl --ssl (opportunistic) upgrades, since STARTTLS is advertised.
    p = run(["curl", "-sS", "--max-time", "20", "--url", f"smtp://{server.address}/{EHLO_NAME}",
             "--mail-from", SENDER, "--mail-rcpt", RECIPIENT, "--upload-file", str(f), "--ssl",
             "-k"])
    assert p.returncode == 0, describe(p)
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        with smtplib.SMTP(server.host, server.port, timeout=CLIENT_TIMEOUT) as s:
            s.sendmail(SENDER, [RECIPIENT], make_message("smtplib plain"))
    assert e.value.smtp_code == 530
    msgs = server.wait_messages(1)
    assert len(msgs) == 1 and msgs[0].envelope["TLSVersion"] in TLS_VERSIONS


# --- certificates ---------------------------------------------------------------------------


def peer_certificate(server: SmtpMockServer, implicit: bool) -> bytes:
    """The DER certificate the server presents (fetched without verifying it)."""
    c = TlsRaw(server.host, server.smtps_port if implicit else server.port, implicit=implicit)
    try:
        if not implicit:
            c.reply()
            c.ehlo()
            c.starttls()
        der = c.sock.getpeercert(binary_form=True)
        assert der, "no peer certificate"
        return der
    finally:
        c.close()


def verified_context(der: bytes) -> ssl.SSLContext:
    """A client context that trusts exactly `der` and checks the hostname."""
    ctx = ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(der))
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    return ctx


def certificate_text(der: bytes, tmp: Path) -> str:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed")
    f = tmp / "peer.der"
    f.write_bytes(der)
    p = run(["openssl", "x509", "-inform", "DER", "-in", str(f), "-noout", "-text"])
    assert p.returncode == 0, describe(p)
    return p.stdout.decode()


def handshake_verified(server: SmtpMockServer, implicit: bool, ctx: ssl.SSLContext,
                       hostname: str) -> None:
    c = TlsRaw(server.host, server.smtps_port if implicit else server.port)
    try:
        if implicit:
            c.wrap(ctx, hostname)
        else:
            c.reply()
            c.ehlo()
            c.starttls(ctx, hostname)
    finally:
        c.close()


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit"])
def test_generated_certificate_verifies_for_its_names(implicit, tls_server, tmp_path):
    der = peer_certificate(tls_server, implicit)
    text = certificate_text(der, tmp_path)
    for name in (f"DNS:{HOSTNAME}", "DNS:localhost", "IP Address:127.0.0.1",
                 "IP Address:0:0:0:0:0:0:0:1"):
        assert name in text, text
    ctx = verified_context(der)
    for hostname in ("localhost", "127.0.0.1", HOSTNAME):
        handshake_verified(tls_server, implicit, ctx, hostname)
    with pytest.raises(ssl.SSLCertVerificationError) as e:
        handshake_verified(tls_server, implicit, ctx, "other.example")
    assert e.value.verify_code == 62, e.value  # X509_V_ERR_HOSTNAME_MISMATCH


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit"])
@pytest.mark.parametrize("mode, code, message", [
    ("expired", 10, "certificate has expired"),  # X509_V_ERR_CERT_HAS_EXPIRED
    ("wrong_host", 62, "Hostname mismatch"),     # X509_V_ERR_HOSTNAME_MISMATCH
])
def test_certificate_faults_fail_verification(mode, code, message, implicit, smtpmock_factory,
                                              tmp_path):
    server = smtpmock_factory(*SMTPS, scenario_yaml=scenario_with(f"tls: {{certificate: {mode}}}\n"))
    der = peer_certificate(server, implicit)
    text = certificate_text(der, tmp_path)
    if mode == "wrong_host":
        assert "DNS:wrong.host.invalid" in text and "localhost" not in text, text
    with pytest.raises(ssl.SSLCertVerificationError) as e:
        handshake_verified(server, implicit, verified_context(der), "localhost")
    assert e.value.verify_code == code, e.value
    assert message in e.value.verify_message, e.value
    # Without verification the session works: the fault is in the certificate only.
    c = TlsRaw(server.host, server.smtps_port if implicit else server.port, implicit=implicit)
    try:
        if not implicit:
            c.reply()
            c.ehlo()
            c.starttls()
        else:
            c.reply()
        c.ehlo()
    finally:
        c.close()


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit"])
def test_handshake_fail(implicit, smtpmock_factory, tmp_path):
    server = smtpmock_factory(*SMTPS, scenario_yaml=scenario_with("tls: {handshake: fail}\n"))
    c = TlsRaw(server.host, server.smtps_port if implicit else server.port)
    try:
        if not implicit:
            c.reply()
            c.ehlo()
            assert c.command("STARTTLS") == ["220 2.0.0 Ready to start TLS"]
        with pytest.raises(ssl.SSLError) as e:
            c.wrap()
        assert e.value.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE", e.value
    finally:
        c.close()
    session = server.wait_sessions(1)[0]
    notes = [l["Text"] for l in lines(session, "info")]
    assert any("TLS handshake failed" in n and "tls.handshake: fail" in n for n in notes), notes
    # swaks reports a TLS failure as exit 29.
    rc, output = swaks(server, tmp_path, implicit)
    assert rc == 29, output
    assert server.messages() == []


def test_starttls_454_rule(smtpmock_factory, tls_raw, tmp_path):
    server = smtpmock_factory(scenario_yaml=scenario_with(
        "rules:\n  - {name: no-tls, on: starttls, reply: \"454 4.7.0 TLS not available due to "
        "temporary reason\"}\n"))
    c = tls_raw(server)
    c.reply()
    c.ehlo()
    r = c.command("STARTTLS")
    assert r == ["454 4.7.0 TLS not available due to temporary reason"], r
    # The session goes on in plaintext.
    assert c.command("NOOP")[0].startswith("250")
    assert c.command(f"MAIL FROM:<{SENDER}>")[0].startswith("250")
    c.close()
    rc, output = swaks(server, tmp_path, False)
    assert rc == 29, output  # swaks --tls: STARTTLS refused
    rc, output = curl(server, tmp_path, False)
    assert rc == 64, output  # CURLE_USE_SSL_FAILED
    session = [s for s in server.wait_sessions(3)][0]
    assert any(l["Rule"] == "no-tls" for l in lines(session, "out")), session


def test_starttls_disconnect_after_reply(smtpmock_factory, tls_raw):
    server = smtpmock_factory(scenario_yaml=scenario_with(
        "rules:\n  - {name: drop, on: starttls, disconnect: after_reply}\n"))
    c = tls_raw(server)
    c.reply()
    c.ehlo()
    assert c.command("STARTTLS") == ["220 2.0.0 Ready to start TLS"]
    assert c.read_until_closed() == b"", "expected EOF right after the 220"


# --- timeouts and shutdown inside TLS ---------------------------------------------------------


def test_idle_timeout_inside_tls(smtpmock_factory, tls_raw):
    server = smtpmock_factory(scenario_yaml=TLS_SCENARIO.replace("idle_timeout: 10s",
                                                                 "idle_timeout: 1s"))
    c = tls_raw(server)
    c.reply()
    c.ehlo()
    c.starttls()
    started = time.monotonic()
    r = c.reply()
    assert r[0].startswith("421 4.4.2"), r
    assert time.monotonic() - started < 5


def test_silent_client_on_smtps_times_out(smtpmock_factory):
    server = smtpmock_factory(*SMTPS, scenario_yaml=TLS_SCENARIO.replace("idle_timeout: 10s",
                                                                         "idle_timeout: 1s"))
    with socket.create_connection((server.host, server.smtps_port), timeout=5) as s:
        started = time.monotonic()
        assert s.recv(100) == b""  # no ClientHello: closed after the idle timeout
        assert time.monotonic() - started < 4


def test_plaintext_client_on_smtps_port(tls_server, tls_raw):
    with socket.create_connection((tls_server.host, tls_server.smtps_port), timeout=5) as s:
        s.sendall(b"EHLO plain.example\r\n")
        data = b""
        while len(data) < 4096:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        assert b"250" not in data and b"220" not in data, data
    c = tls_raw(tls_server, implicit=True)  # the listener still works
    assert c.reply()[0].startswith("220 ")


def test_sigterm_answers_421_inside_tls(tls_server, tls_raw):
    c = tls_raw(tls_server, implicit=True)
    c.reply()
    c.ehlo()
    tls_server.proc.send_signal(signal.SIGTERM)
    r = c.reply()
    assert r[0].startswith("421 4.3.2"), r
    assert tls_server.proc.wait(5) == 0


# --- CRAM-MD5 (HMAC-MD5 from OpenSSL) -------------------------------------------------------


def test_cram_md5_with_smtplib(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=TLS_SCENARIO.replace("AUTH PLAIN LOGIN",
                                                                 "AUTH CRAM-MD5"))
    with smtplib.SMTP(server.host, server.port, timeout=CLIENT_TIMEOUT) as s:
        s.starttls(context=unverified())
        s.ehlo()
        assert s.login(USER, PASSWORD)[0] == 235  # smtplib picks CRAM-MD5
        s.sendmail(SENDER, [RECIPIENT], make_message("cram"))
    with smtplib.SMTP(server.host, server.port, timeout=CLIENT_TIMEOUT) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(USER, "wrong")
        assert e.value.smtp_code == 535
    msgs = server.wait_messages(1)
    assert msgs[0].envelope["AuthUser"] == USER


# --- flags: --tls-cert/--tls-key, --smtps-listen --------------------------------------------


@pytest.fixture
def own_certificate(tmp_path) -> tuple[Path, Path]:
    """An RSA certificate for localhost made with the openssl tool, as a user would."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    p = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
             "-out", str(cert), "-days", "2", "-subj", "/CN=localhost", "-addext",
             "subjectAltName=DNS:localhost,IP:127.0.0.1"])
    assert p.returncode == 0, describe(p)
    return cert, key


def test_tls_cert_and_key_files(own_certificate, smtpmock_factory, tmp_path):
    cert, key = own_certificate
    server = smtpmock_factory(*SMTPS, "--tls-cert", str(cert), "--tls-key", str(key),
                              scenario_yaml=TLS_SCENARIO)
    expected = ssl.PEM_cert_to_DER_cert(cert.read_text())
    for implicit in (False, True):
        assert peer_certificate(server, implicit) == expected
        ctx = ssl.create_default_context(cafile=str(cert))
        handshake_verified(server, implicit, ctx, "localhost")
    rc, output = swaks(server, tmp_path, False)
    assert rc == 0, output
    assert server.wait_messages(1)[0].envelope["TLSVersion"] in TLS_VERSIONS
    # Fault certificates stay generated: the scenario decides, not the files.
    faulty = smtpmock_factory(*SMTPS, "--tls-cert", str(cert), "--tls-key", str(key),
                              scenario_yaml=scenario_with("tls: {certificate: expired}\n"))
    assert peer_certificate(faulty, True) != expected


def test_tls_files_from_environment(own_certificate, smtpmock_factory, monkeypatch):
    cert, key = own_certificate
    monkeypatch.setenv("SMTPMOCK_TLS_CERT", str(cert))
    monkeypatch.setenv("SMTPMOCK_TLS_KEY", str(key))
    monkeypatch.setenv("SMTPMOCK_SMTPS_LISTEN", "127.0.0.1:0")
    server = smtpmock_factory(scenario_yaml=TLS_SCENARIO)
    assert server.smtps_port
    assert peer_certificate(server, True) == ssl.PEM_cert_to_DER_cert(cert.read_text())


def test_tls_settings_from_config_file(own_certificate, smtpmock_factory, tmp_path):
    cert, key = own_certificate
    config = tmp_path / "smtpmock.yaml"
    config.write_text(f"smtps-listen: 127.0.0.1:0\ntls-cert: {cert}\ntls-key: {key}\n")
    server = smtpmock_factory("--config", str(config), scenario_yaml=TLS_SCENARIO)
    assert server.smtps_port
    assert peer_certificate(server, False) == ssl.PEM_cert_to_DER_cert(cert.read_text())


def test_smtps_listen_off(smtpmock_factory):
    server = smtpmock_factory("--smtps-listen", "off")
    assert server.smtps_port is None
    ready = next(l for l in server.stderr_lines() if "smtpmock ready" in l)
    assert "smtps=" not in ready, ready


def test_ready_line_names_smtps_after_smtp(tls_server):
    ready = next(l for l in tls_server.stderr_lines() if "smtpmock ready" in l)
    assert ready.index(" smtp=") < ready.index(" smtps="), ready


def start_fails(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Runs serve with `args`; each case here must fail before any listener is bound."""
    return run_binary(["serve", "--smtp-listen", "127.0.0.1:0", *args], cwd=tmp_path)


def test_tls_flag_errors_exit_2(own_certificate, tmp_path):
    cert, key = own_certificate
    other_key = tmp_path / "other-key.pem"
    p = run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", str(other_key)])
    assert p.returncode == 0, describe(p)
    encrypted = tmp_path / "encrypted-key.pem"
    p = run(["openssl", "pkey", "-in", str(key), "-aes256", "-passout", "pass:secret", "-out",
             str(encrypted)])
    assert p.returncode == 0, describe(p)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = [
        (["--tls-cert", str(cert)], "--tls-cert and --tls-key must be given together"),
        (["--tls-key", str(key)], "--tls-cert and --tls-key must be given together"),
        (["--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(key)],
         f"cannot read certificate {tmp_path / 'missing.pem'}"),
        (["--tls-cert", str(cert), "--tls-key", str(tmp_path / "missing.pem")],
         f"cannot read private key {tmp_path / 'missing.pem'}"),
        (["--tls-cert", str(garbage), "--tls-key", str(key)],
         f"cannot load certificate {garbage}"),
        (["--tls-cert", str(cert), "--tls-key", str(garbage)], f"cannot load private key {garbage}"),
        (["--tls-cert", str(cert), "--tls-key", str(other_key)], "does not match certificate"),
        # An encrypted key is an error, never a passphrase prompt (stdin is not a terminal).
        (["--tls-cert", str(cert), "--tls-key", str(encrypted)],
         f"cannot load private key {encrypted} (expected an unencrypted PEM key)"),
        (["--smtps-listen", "nowhere"], "--smtps-listen"),
    ]
    for args, message in cases:
        p = start_fails(tmp_path, *args)
        assert p.returncode == 2, (args, describe(p))
        assert message in p.stderr.decode(), (args, describe(p))
