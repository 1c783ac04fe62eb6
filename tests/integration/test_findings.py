"""Findings, the client's verdict, against the real binary: raw-socket sessions that make
each kind of finding and well-behaved real clients (swaks, curl, smtplib, smtpmock send) that
make no error or warning. Only 127.0.0.1; every read is bounded by a socket timeout."""
from __future__ import annotations

import json
import shutil
import smtplib
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import BINARY, RawSmtp, SmtpMockServer

NO_PIPELINING = """\
name: no-pipelining
ehlo:
  extensions: [SIZE 10485760, 8BITMIME, ENHANCEDSTATUSCODES]
"""


def api(server: SmtpMockServer, path: str, accept: str = "application/json"):
    req = urllib.request.Request(f"http://127.0.0.1:{server.http_port}{path}",
                                 headers={"Accept": accept})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
            return r.status, json.loads(body) if "json" in r.headers["Content-Type"] else body
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def session_ended(server: SmtpMockServer, session_id: str) -> dict:
    """The session once it has ended (bounded wait: the server records the close itself)."""
    deadline = time.monotonic() + 10
    while True:
        status, s = api(server, f"/api/v1/session/{session_id}")
        assert status == 200, s
        if s["Ended"] is not None or time.monotonic() > deadline:
            return s
        time.sleep(0.02)


def newest_session(server: SmtpMockServer) -> str:
    return api(server, "/api/v1/sessions")[1]["sessions"][0]["ID"]


def codes(session: dict) -> list[str]:
    return [f["Code"] for f in session["Findings"]]


def test_order_mistakes_are_findings_with_their_line(smtpmock):
    c = RawSmtp("127.0.0.1", smtpmock.port)
    c.reply()
    c.command("MAIL FROM:<a@x.example>")
    c.command("EHLO localhost")
    c.command("RCPT TO:<b@y.example>")
    c.command("MAIL FROM:<a@x.example>")
    c.command("DATA")
    c.sock.close()  # and no QUIT
    s = session_ended(smtpmock, newest_session(smtpmock))
    assert codes(s) == ["no-helo", "helo-not-fqdn", "rcpt-before-mail", "data-before-rcpt",
                        "no-quit"]
    first = s["Findings"][0]
    assert first["Severity"] == "error" and first["RFC"] == "RFC 5321 4.1.4"
    assert s["Transcript"][first["Line"] - 1]["Text"] == "MAIL FROM:<a@x.example>"
    # The text transcript shows each after its line.
    status, text = api(smtpmock, f"/api/v1/session/{s['ID']}/transcript", accept="text/plain")
    lines = text.decode().splitlines()
    at = lines.index(" -> MAIL FROM:<a@x.example>")
    assert lines[at + 1] == "!! no-helo: MAIL before HELO or EHLO"
    assert lines[-2] == "!! no-quit: the client closed without QUIT"
    # The sessions list counts them by severity; /api/v1/findings lists and filters them.
    summary = api(smtpmock, "/api/v1/sessions")[1]["sessions"][0]
    assert summary["FindingCounts"] == {"error": 3, "warning": 1, "info": 1}
    status, errors = api(smtpmock, f"/api/v1/findings?session={s['ID']}&severity=error")
    assert status == 200 and [f["Code"] for f in errors] == [
        "no-helo", "rcpt-before-mail", "data-before-rcpt"]
    assert all(f["SessionID"] == s["ID"] for f in errors)
    assert [f["Code"] for f in api(smtpmock, "/api/v1/findings?code=no-quit")[1]] == ["no-quit"]
    assert api(smtpmock, "/api/v1/findings?severity=fatal")[0] == 400
    status, err = api(smtpmock, "/api/v1/findings?code=no-such-code")
    assert status == 400 and "no-helo" in err["Error"]
    assert api(smtpmock, "/api/v1/findings?session=Snope")[0] == 404
    # The metric.
    with urllib.request.urlopen(f"http://127.0.0.1:{smtpmock.http_port}/metrics", timeout=10) as r:
        metrics = r.read().decode()
    assert 'smtpmock_client_findings_total{code="no-helo",severity="error"} 1' in metrics


def test_pipelining_without_pipelining_advertised(smtpmock_factory, tmp_path):
    scenario = tmp_path / "no-pipelining.yaml"
    scenario.write_text(NO_PIPELINING)
    server = smtpmock_factory("--scenario", str(scenario))
    c = RawSmtp("127.0.0.1", server.port)
    c.reply()
    c.command("EHLO client.example")
    c.send("MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n")
    c.reply()
    c.reply()
    c.command("QUIT")
    s = session_ended(server, newest_session(server))
    assert codes(s) == ["pipelining-unadvertised"]
    assert "RCPT" in s["Findings"][0]["Text"]


def test_pipelining_past_the_end_of_a_group(smtpmock):
    c = RawSmtp("127.0.0.1", smtpmock.port)
    c.reply()
    c.send("EHLO client.example\r\nMAIL FROM:<a@x.example>\r\n")
    c.reply()
    c.reply()
    c.command("QUIT")
    s = session_ended(smtpmock, newest_session(smtpmock))
    assert codes(s) == ["pipelining-group"]


def run(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, **kw)


def test_well_behaved_clients_make_no_error_or_warning(smtpmock):
    port = smtpmock.port
    server = f"127.0.0.1:{port}"
    # smtpmock send in several modes.
    for extra in ([], ["--pipeline"], ["--tls"], ["--tls", "--auth", "--auth-user", "u",
                                                  "--auth-password", "p"]):
        p = run([str(BINARY), "send", "--server", server, "--to", "b@y.example", *extra])
        assert p.returncode == 0, (extra, p.stdout, p.stderr)
    # swaks, plain, pipelined and with STARTTLS + AUTH.
    assert shutil.which("swaks"), "swaks is not installed (make test installs it)"
    for extra in ([], ["--pipeline"], ["-tls", "-a", "-au", "u", "-ap", "p"]):
        p = run(["swaks", "-s", "127.0.0.1", "-p", str(port), "-t", "b@y.example", *extra])
        assert p.returncode == 0, (extra, p.stdout, p.stderr)
    # curl and Python's smtplib.
    msg = "Subject: hi\r\n\r\nhello\r\n"
    p = subprocess.run(["curl", "-s", "--url", f"smtp://{server}", "--mail-from", "a@x.example",
                        "--mail-rcpt", "b@y.example", "-T", "-"], input=msg.encode(),
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("a@x.example", ["b@y.example"], msg)
    sessions = api(smtpmock, "/api/v1/sessions")[1]["sessions"]
    assert len(sessions) == 9
    for s in sessions:
        session_ended(smtpmock, s["ID"])
    assert api(smtpmock, "/api/v1/findings?severity=error")[1] == []
    assert api(smtpmock, "/api/v1/findings?severity=warning")[1] == []
    # Only the HELO names of this machine can be info (a host name without a domain).
    for f in api(smtpmock, "/api/v1/findings")[1]:
        assert f["Code"] == "helo-not-fqdn", f
