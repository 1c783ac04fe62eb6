"""`smtpmock send` is the reference client: in every mode it makes the server note no finding at
all (not even info), and after a single session it shows what the server noted
(`=== server findings: none`, or one `!! CODE (SEVERITY): TEXT` line per finding), asked of
`GET {API}/api/v1/findings?client=IP:PORT&session_ended=1` (docs/client.md).

Also the default EHLO name: the machine's FQDN, else the address literal of the connection's
local end (`send_default_helo`, used by test_client.py and test_swaks_side_by_side.py too).

Only 127.0.0.1 (and ::1 for the IPv6 literal); every client run, read and wait is bounded, and
every process and socket a test opens is closed.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from conftest import BINARY, SmtpMockServer, require_binary

RUN_TIMEOUT = 60  # seconds for one client run
SETTLE_TIMEOUT = 10.0  # seconds for the server to end the sessions of a finished client run
SENDER = "alice@client.example"
RCPT = "bob@dest.example"


# --- the default EHLO name -----------------------------------------------------------------------


def is_fqdn(name: str) -> bool:
    """client/local_name.cpp's is_fqdn: two labels at least of letters, digits and hyphens."""
    name = name[:-1] if name.endswith(".") else name
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    if len(labels) < 2 or labels[0].lower() == "localhost":
        return False
    ok = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
    return all(0 < len(l) <= 63 and l[0] != "-" and l[-1] != "-" and set(l) <= ok
               for l in labels)


def send_default_helo(local_ip: str) -> str:
    """The EHLO name `smtpmock send` says without --ehlo, from a connection whose local address
    is `local_ip`: gethostname()'s canonical name (getaddrinfo AI_CANONNAME) or the host name
    itself when either is an FQDN, else the address literal (RFC 5321 4.1.3)."""
    host = socket.gethostname()
    try:
        canonical = socket.getaddrinfo(host, None, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                                       socket.AI_CANONNAME)[0][3]
    except OSError:
        canonical = ""
    for name in (canonical, host):
        if is_fqdn(name):
            return name
    return f"[IPv6:{local_ip}]" if ":" in local_ip else f"[{local_ip}]"


# --- helpers -------------------------------------------------------------------------------------


def send(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    require_binary()
    return subprocess.run([str(BINARY), "send", "--timeout", "10s", *args], capture_output=True,
                          timeout=RUN_TIMEOUT, input=stdin,
                          stdin=None if stdin is not None else subprocess.DEVNULL)


def out(r: subprocess.CompletedProcess) -> str:
    return r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


def api(server: SmtpMockServer, path: str):
    with urllib.request.urlopen(f"{server.http_url}{path}", timeout=10) as r:
        return json.loads(r.read())


def settled(server: SmtpMockServer) -> list[dict]:
    """The sessions, once none is live (bounded wait)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        sessions = api(server, "/api/v1/sessions?start=0&limit=100000")["sessions"]
        if not any(s.get("Live") for s in sessions) or time.monotonic() > deadline:
            return sessions
        time.sleep(0.05)


def all_findings(server: SmtpMockServer) -> list[dict]:
    settled(server)
    return api(server, "/api/v1/findings")


def session_lines(server: SmtpMockServer) -> list[str]:
    """The client lines of the newest session, as the server saw them."""
    sid = settled(server)[0]["ID"]
    t = api(server, f"/api/v1/session/{sid}/transcript")["Transcript"]
    return [e["Text"] for e in t if e.get("Direction") == "in"]


def explicit_api(server: SmtpMockServer) -> list[str]:
    return ["--api", f"http://127.0.0.1:{server.http_port}"]


def assert_clean(server: SmtpMockServer, r: subprocess.CompletedProcess,
                 single: bool = True) -> None:
    """send exited 0, the server noted nothing, and (single sessions) send said so."""
    found = all_findings(server)
    assert found == [], f"{found}\n{out(r)}"
    assert r.returncode == 0, out(r)
    if single:
        assert "=== server findings: none" in r.stdout.decode(), out(r)
        assert "!!" not in r.stdout.decode()


# --- send makes no finding, in every mode --------------------------------------------------------

PLAIN_MODES = {
    "plain": [],
    "pipeline": ["--pipeline"],
    "starttls": ["--tls"],
    "starttls-pipeline": ["--tls", "--pipeline"],
    "auth-plain-tls": ["--tls", "--auth", "PLAIN", "--auth-user", "u", "--auth-password", "p"],
    "auth-login-tls": ["--tls", "--auth", "LOGIN", "--auth-user", "u", "--auth-password", "p"],
    "auth-cram-md5": ["--auth", "CRAM-MD5", "--auth-user", "u", "--auth-password", "p"],
    "auth-cram-md5-tls": ["--tls", "--auth", "CRAM-MD5", "--auth-user", "u",
                          "--auth-password", "p"],
    "auth-best-tls": ["--tls", "--auth", "--auth-user", "u", "--auth-password", "p"],
    "auth-pipeline-tls": ["--tls", "--pipeline", "--auth", "LOGIN", "--auth-user", "u",
                          "--auth-password", "p"],
    "protocol-smtp": ["--protocol", "SMTP"],
    "headers-attachment": ["--header", "Subject: hi", "--attach", "@@attached text"],
    "quit-after-rcpt": ["--quit-after", "RCPT"],
}


@pytest.mark.parametrize("mode", list(PLAIN_MODES))
def test_send_makes_no_finding(mode, smtpmock):
    r = send("-s", smtpmock.address, "-f", SENDER, "-t", RCPT, *explicit_api(smtpmock),
             *PLAIN_MODES[mode])
    assert_clean(smtpmock, r)


def test_the_default_scenario_advertises_only_mechanisms_send_has(smtpmock):
    # The AUTH modes above cover each advertised mechanism; a new one must get its row.
    r = send("-s", smtpmock.address, "-t", RCPT, "--quit-after", "EHLO", "--no-api")
    auth = [l for l in r.stdout.decode().splitlines() if l.startswith("<-  250") and "AUTH " in l]
    assert auth, out(r)
    assert set(auth[0].split("AUTH ", 1)[1].split()) <= {"PLAIN", "LOGIN", "CRAM-MD5"}, auth


def test_send_implicit_tls_makes_no_finding(smtpmock_factory):
    server = smtpmock_factory("--smtps-listen", "127.0.0.1:0")
    r = send("-s", f"127.0.0.1:{server.smtps_port}", "--tls-on-connect", "-f", SENDER, "-t", RCPT,
             "--auth", "PLAIN", "--auth-user", "u", "--auth-password", "p", *explicit_api(server))
    assert " ~> EHLO " in r.stdout.decode(), out(r)
    assert_clean(server, r)


def test_send_uses_data_unless_asked_for_chunking(smtpmock):
    # The default scenario advertises CHUNKING; without --chunking send sends DATA, which is
    # always allowed (RFC 3030 2).
    r = send("-s", smtpmock.address, "-f", SENDER, "-t", RCPT, *explicit_api(smtpmock))
    assert_clean(smtpmock, r)
    lines = session_lines(smtpmock)
    assert "DATA" in lines and not any(l.upper().startswith("BDAT") for l in lines), lines


@pytest.mark.parametrize("extra", [[], ["--pipeline"], ["--tls", "--pipeline"]])
def test_send_chunking_makes_no_finding(smtpmock, extra):
    r = send("-s", smtpmock.address, "-f", SENDER, "-t", RCPT, "--chunking",
             "--body", "line one\n.a line that DATA would stuff\n", *extra,
             *explicit_api(smtpmock))
    assert_clean(smtpmock, r)
    lines = session_lines(smtpmock)
    assert any(l.startswith("BDAT ") and l.endswith(" LAST") for l in lines), lines
    assert "DATA" not in lines, lines
    # BDAT carries the octets as they are: the dot line arrives unstuffed and is kept so.
    with urllib.request.urlopen(f"{smtpmock.http_url}/api/v1/message/latest/raw",
                                timeout=10) as raw:
        assert b"\r\n.a line that DATA would stuff\r\n" in raw.read()


def test_send_8bit_body_is_declared(smtpmock):
    # RFC 6152 3: 8-bit octets need BODY=8BITMIME on MAIL (the server notes 8bit-undeclared).
    r = send("-s", smtpmock.address, "-f", SENDER, "-t", RCPT, "--body", "caf\u00e9 cr\u00e8me",
             *explicit_api(smtpmock))
    assert_clean(smtpmock, r)
    mail = [l for l in session_lines(smtpmock) if l.upper().startswith("MAIL FROM:")]
    assert "BODY=8BITMIME" in mail[0].upper(), mail


def test_send_non_ascii_address_is_declared(smtpmock):
    # RFC 6531 3.4: a non-ASCII address needs SMTPUTF8 on MAIL (smtputf8-undeclared; the
    # default scenario also refuses such a RCPT without it, 553 5.6.7).
    r = send("-s", smtpmock.address, "-f", SENDER, "-t", "b\u00e9atrice@dest.example",
             *explicit_api(smtpmock))
    assert_clean(smtpmock, r)
    mail = [l for l in session_lines(smtpmock) if l.upper().startswith("MAIL FROM:")]
    assert "SMTPUTF8" in mail[0].upper(), mail


def test_send_frames_the_data_and_never_understates_size(smtpmock):
    # Lines with bare LF and a lone CR, lines starting with "." (and a lone "."): send makes
    # every line end CRLF and dot-stuffs, so the server notes neither bare-lf, bare-cr nor
    # dot-not-stuffed, and stores the lines unstuffed. A SIZE= on MAIL, if send ever declares
    # one, must not be smaller than what arrived (size-understated).
    data = ("From: a@client.example\nTo: b@dest.example\nSubject: dots\n\n"
            ".leading dot\n..two dots\n.\nlast line\rwith a lone CR\n")
    r = send("-s", smtpmock.address, "-f", SENDER, "-t", RCPT, "--data", data,
             *explicit_api(smtpmock))
    assert_clean(smtpmock, r)
    (msg,) = smtpmock.wait_messages(1)
    body = msg.body
    assert b"\r\n.leading dot\r\n..two dots\r\n.\r\nlast line\r\n" in b"\r\n" + body, body
    assert b"\n" not in body.replace(b"\r\n", b"")
    for line in session_lines(smtpmock):
        if line.upper().startswith("MAIL FROM:") and "SIZE=" in line.upper():
            declared = int(line.upper().split("SIZE=", 1)[1].split()[0])
            assert declared >= len(msg.raw), line


def test_send_load_mode_makes_no_finding(smtpmock):
    r = send("-s", smtpmock.address, "-f", SENDER, "-t", RCPT, "--count", "20",
             "--concurrency", "4", "--no-progress", *explicit_api(smtpmock))
    assert r.returncode == 0, out(r)
    assert "server findings" not in r.stdout.decode()  # load mode does not ask
    assert len(settled(smtpmock)) == 20
    assert all_findings(smtpmock) == []


# --- what send shows -----------------------------------------------------------------------------


def test_send_shows_the_servers_findings(smtpmock):
    r = send("-s", smtpmock.address, "-f", SENDER, "-t", RCPT, "--ehlo", "vm",
             *explicit_api(smtpmock))
    assert r.returncode == 0, out(r)  # findings never change the exit code
    lines = r.stdout.decode().splitlines()
    at = lines.index("=== server findings: 1")
    assert lines[at + 1].startswith("!! helo-not-fqdn (info): "), lines[at:]
    assert "vm" in lines[at + 1]
    assert [f["Code"] for f in all_findings(smtpmock)] == ["helo-not-fqdn"]


def test_send_json_carries_the_findings(smtpmock):
    r = send("-s", smtpmock.address, "-f", SENDER, "-t", RCPT, "--ehlo", "vm", "--json",
             *explicit_api(smtpmock))
    assert r.returncode == 0, out(r)
    j = json.loads(r.stdout)
    assert [f["Code"] for f in j["server_findings"]] == ["helo-not-fqdn"], j["server_findings"]
    assert j["server_findings"][0]["Severity"] == "info"
    assert j["server_findings_error"] is None
    r = send("-s", smtpmock.address, "-f", SENDER, "-t", RCPT, "--json", "--no-api")
    j = json.loads(r.stdout)
    assert j["server_findings"] is None and j["server_findings_error"] is None


def test_send_asks_for_its_own_session_only(smtpmock):
    # Another client's finding (a session from another address:port) is not send's.
    with socket.create_connection(("127.0.0.1", smtpmock.port), timeout=10) as s:
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"EHLO vm\r\n")
        for _ in range(50):  # the EHLO reply's lines, bounded
            line = f.readline()
            if not line or line[3:4] == b" ":
                break
        s.sendall(b"QUIT\r\n")
        f.readline()
    r = send("-s", smtpmock.address, "-f", SENDER, "-t", RCPT, *explicit_api(smtpmock))
    assert r.returncode == 0, out(r)
    assert "=== server findings: none" in r.stdout.decode(), out(r)


def test_send_base_path_and_credentials_in_api_url(smtpmock_factory, tmp_path):
    server = smtpmock_factory("--http-base-path", "/mail")
    r = send("-s", server.address, "-f", SENDER, "-t", RCPT, "--ehlo", "vm",
             "--api", f"http://127.0.0.1:{server.http_port}/mail/")
    assert "=== server findings: 1" in r.stdout.decode(), out(r)
    r = send("-s", server.address, "-f", SENDER, "-t", RCPT,
             "--api", f"http://127.0.0.1:{server.http_port}")  # without the base path: 404
    assert "=== server findings: unavailable (HTTP 404)" in r.stdout.decode(), out(r)


def test_send_api_from_the_environment(smtpmock):
    import os
    env = dict(os.environ, SMTPMOCK_API=f"http://127.0.0.1:{smtpmock.http_port}")
    r = subprocess.run([str(BINARY), "send", "-s", smtpmock.address, "-t", RCPT, "--ehlo", "vm"],
                       capture_output=True, timeout=RUN_TIMEOUT, env=env,
                       stdin=subprocess.DEVNULL)
    assert "=== server findings: 1" in r.stdout.decode(), out(r)
    r = subprocess.run([str(BINARY), "send", "-s", smtpmock.address, "-t", RCPT, "-no-api"],
                       capture_output=True, timeout=RUN_TIMEOUT, env=env,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and "server findings" not in r.stdout.decode(), out(r)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_send_without_an_api(smtpmock):
    port = closed_port()
    r = send("-s", smtpmock.address, "-t", RCPT, "--api", f"http://127.0.0.1:{port}")
    assert r.returncode == 0, out(r)
    assert "=== server findings: unavailable (connection refused)" in r.stdout.decode(), out(r)
    # The default guess (http://127.0.0.1:8025, the server being on loopback) that finds
    # nothing says nothing, and costs little.
    if port_in_use(8025):
        pytest.skip("something listens on 127.0.0.1:8025: the default guess would ask it")
    started = time.monotonic()
    r = send("-s", smtpmock.address, "-t", RCPT)
    assert r.returncode == 0, out(r)
    assert "server findings" not in out(r) and "!!" not in out(r), out(r)
    assert time.monotonic() - started < 5


class FakeHttp:
    """An HTTP server on 127.0.0.1 that is not smtpmock: one canned response per connection."""

    def __init__(self, response: bytes):
        self.response = response
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not self.stopping and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data and len(data) < 65536:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    self.requests.append(data)
                    conn.sendall(self.response)
                except OSError:
                    pass

    def close(self) -> None:
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


@pytest.mark.parametrize("response, reason", [
    (b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found", "HTTP 404"),
    (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html></html>", "not a JSON array"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n{\"messages\": []}", "cut short"),
    (b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 2\r\n\r\n{}", "408"),
    (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "not an HTTP"),
])
def test_send_with_an_api_that_is_not_smtpmock(smtpmock, response, reason):
    fake = FakeHttp(response)
    try:
        r = send("-s", smtpmock.address, "-t", RCPT,
                 "--api", f"http://user:pa%3Ass@127.0.0.1:{fake.port}/base")
    finally:
        fake.close()
    assert r.returncode == 0, out(r)
    line = [l for l in r.stdout.decode().splitlines() if l.startswith("=== server findings")]
    assert line and line[0].startswith("=== server findings: unavailable (") and reason in line[0], \
        out(r)
    (request,) = fake.requests
    head = request.decode()
    assert head.startswith("GET /base/api/v1/findings?client=127.0.0.1%3A"), head
    assert "&session_ended=1&timeout=5s HTTP/1.1\r\n" in head
    assert f"\r\nHost: 127.0.0.1:{fake.port}\r\n" in head
    assert "\r\nConnection: close\r\n" in head
    assert "\r\nAuthorization: Basic dXNlcjpwYTpzcw==\r\n" in head  # user:pa:ss


def test_send_asks_with_its_local_endpoint(smtpmock):
    fake = FakeHttp(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]")
    try:
        r = send("-s", smtpmock.address, "-t", RCPT, "--json", "--api",
                 f"http://127.0.0.1:{fake.port}")
    finally:
        fake.close()
    j = json.loads(r.stdout)
    assert j["server_findings"] == []
    # The client= of the query is the local end of the SMTP connection, as the server saw it.
    query = fake.requests[0].split(b" ")[1].decode()
    client = urllib.parse.unquote(query.split("client=", 1)[1].split("&", 1)[0])
    assert client == settled(smtpmock)[0]["ClientAddress"], client


# --- the default EHLO name -----------------------------------------------------------------------


def test_send_default_ehlo_is_fqdn_or_address_literal(smtpmock):
    r = send("-s", smtpmock.address, "-t", RCPT, *explicit_api(smtpmock))
    name = send_default_helo("127.0.0.1")
    assert f" -> EHLO {name}\n" in r.stdout.decode(), out(r)
    assert session_lines(smtpmock)[0] == f"EHLO {name}"
    assert_clean(smtpmock, r)


def test_send_default_ehlo_ipv6_literal():
    # A one-shot fake server on [::1]: the banner, then the greeting line is all it needs.
    try:
        srv = socket.socket(socket.AF_INET6)
        srv.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    got: list[bytes] = []

    def serve() -> None:
        srv.settimeout(RUN_TIMEOUT)
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            conn.sendall(b"220 fake ESMTP\r\n")
            try:
                got.append(conn.makefile("rb").readline())
                conn.sendall(b"221 bye\r\n")
            except OSError:
                pass

    srv.listen(1)
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        r = send("-s", f"[::1]:{srv.getsockname()[1]}", "-t", RCPT, "--no-api")
    finally:
        t.join(RUN_TIMEOUT)
        srv.close()
    assert got == [f"EHLO {send_default_helo('::1')}\r\n".encode()], (got, out(r))

