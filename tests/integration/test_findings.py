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
    assert ('smtpmock_client_findings_total{code="no-helo",'
            f'listener="{smtpmock.port}",severity="error"}} 1') in metrics


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


# --- findings that depend on timing, on the listener and on the scenario -------------------

SLOW_BANNER = """\
name: slow-banner
rules:
  - name: slow-banner
    on: connect
    delay: 400ms
"""


def test_early_talker(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=SLOW_BANNER)
    c = RawSmtp("127.0.0.1", server.port)
    c.send("EHLO client.example\r\n")  # at once, while the banner waits 400 ms
    assert c.reply()[0].startswith("220")
    assert c.reply()[0].startswith("250")
    c.command("QUIT")
    s = session_ended(server, newest_session(server))
    assert codes(s) == ["early-talker"]
    assert s["Findings"][0]["Text"] == "the client sent 21 octets before the banner"
    # Neighbour: the same server, a client that waits for the banner.
    c = RawSmtp("127.0.0.1", server.port)
    c.reply()
    c.command("EHLO client.example")
    c.command("QUIT")
    assert codes(session_ended(server, newest_session(server))) == []


def raw_transaction(port: int, mail: str = "MAIL FROM:<a@x.example>") -> RawSmtp:
    """A raw session that has had EHLO, MAIL and RCPT accepted, each reply read."""
    c = RawSmtp("127.0.0.1", port)
    c.reply()
    c.command("EHLO client.example")
    assert c.command(mail)[0].startswith("250")
    assert c.command("RCPT TO:<b@y.example>")[0].startswith("250")
    return c


def test_data_before_354_and_the_findings_of_a_message(smtpmock):
    c = raw_transaction(smtpmock.port)
    c.send("DATA\r\nSubject: caf\xc3\xa9\r\n\r\nhi\r\n.\r\n".encode("latin-1"))  # one write
    assert c.reply()[0].startswith("354")
    assert c.reply()[0].startswith("250")
    # The session is still open: a wait for its end times out, and says so.
    status, err = api(smtpmock, "/api/v1/messages/wait?session_ended=1&timeout=0.3")
    assert status == 408 and "whose sessions ended" in err["Error"]
    c.command("QUIT")
    status, listing = api(smtpmock, "/api/v1/messages/wait?session_ended=1&timeout=10")
    assert status == 200 and listing["messages_count"] == 1
    s = session_ended(smtpmock, newest_session(smtpmock))
    assert codes(s) == ["data-before-354", "8bit-undeclared"]
    # The message carries the findings of its transaction, in the listing and in full.
    summary = listing["messages"][0]
    assert [f["Code"] for f in summary["Findings"]] == ["data-before-354", "8bit-undeclared"]
    status, msg = api(smtpmock, f"/api/v1/message/{summary['ID']}")
    assert status == 200 and msg["Findings"] == summary["Findings"]
    assert all(f["SessionID"] == s["ID"] for f in msg["Findings"])
    # The text transcript puts data-before-354 after DATA's line.
    status, text = api(smtpmock, f"/api/v1/session/{s['ID']}/transcript", accept="text/plain")
    lines = text.decode().splitlines()
    at = lines.index(" -> DATA")
    assert lines[at + 1].startswith("!! data-before-354: ")


def test_findings_wait_for_the_end_of_a_client_session(smtpmock):
    c = RawSmtp("127.0.0.1", smtpmock.port)
    c.reply()
    c.command("EHLO vm")
    host, port = c.sock.getsockname()[:2]
    client = f"{host}:{port}"
    status, err = api(smtpmock, f"/api/v1/findings?client={client}&session_ended=1&timeout=0.3")
    assert status == 408 and client in err["Error"]
    c.sock.close()  # no QUIT
    status, found = api(smtpmock, f"/api/v1/findings?client={client}&session_ended=1&timeout=10")
    assert status == 200 and [f["Code"] for f in found] == ["helo-not-fqdn", "no-quit"]
    # The client's IP alone selects every session of it; another address none.
    assert len(api(smtpmock, f"/api/v1/findings?client={host}")[1]) == 2
    assert api(smtpmock, "/api/v1/findings?client=192.0.2.1:25")[1] == []
    # Waiting for a client this server never saw would be waiting for nothing: a 404 at once.
    status, err = api(smtpmock, "/api/v1/findings?client=192.0.2.1:25&session_ended=1")
    assert status == 404 and "192.0.2.1:25" in err["Error"]
    assert api(smtpmock, "/api/v1/findings?session_ended=maybe")[0] == 400


GREYLIST = """\
name: greylist
rules:
  - name: greylist
    on: rcpt
    greylist: {retry_after: 60s}
"""


def test_retry_too_early(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=GREYLIST)
    for _ in range(2):
        c = RawSmtp("127.0.0.1", server.port)
        c.reply()
        c.command("EHLO client.example")
        c.command("MAIL FROM:<a@x.example>")
        assert c.command("RCPT TO:<b@y.example>")[0].startswith("451")
        c.command("QUIT")
        s = session_ended(server, newest_session(server))
    # The first try is what greylisting expects; the second came back far too soon.
    sessions = api(server, "/api/v1/sessions")[1]["sessions"]
    first = session_ended(server, sessions[1]["ID"])
    assert codes(first) == []
    assert codes(s) == ["retry-too-early"]
    text = s["Findings"][0]["Text"]
    assert text.startswith("RCPT from <a@x.example> to <b@y.example> came back ")
    assert text.endswith(" after it was greylisted; rule 'greylist' asks for 60.0 s")


BUSY_FIRST = """\
name: busy-first
rules:
  - name: busy-first
    on: connect
    when: {nth: 1}
    reply: "421 4.3.2 Too busy, try later"
"""


def test_reconnect_storm_after_a_421(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=BUSY_FIRST)
    c = RawSmtp("127.0.0.1", server.port)
    assert c.reply()[0].startswith("421")
    c.sock.close()
    # Six connections at once: the sixth is more than five within a second.
    for _ in range(6):
        c = RawSmtp("127.0.0.1", server.port)
        c.reply()
        c.command("QUIT")
    sessions = api(server, "/api/v1/sessions")[1]["sessions"]
    assert len(sessions) == 7
    found = {s["ID"]: codes(session_ended(server, s["ID"])) for s in sessions}
    storms = [i for i, cs in found.items() if cs == ["reconnect-storm"]]
    assert len(storms) == 1, found
    assert sum(len(cs) for cs in found.values()) == 1, found
    f = api(server, "/api/v1/findings?code=reconnect-storm")[1][0]
    assert f["Text"].startswith("6 connections within 1 s from 127.0.0.1, ")


IDLE = """\
name: idle
limits: {idle_timeout: 1s}
"""


def test_idle_timeout(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=IDLE)
    c = RawSmtp("127.0.0.1", server.port)
    c.reply()
    c.command("EHLO client.example")
    assert c.reply()[0].startswith("421")  # after a second of silence
    s = session_ended(server, newest_session(server))
    assert codes(s) == ["idle-timeout"]
    assert s["Findings"][0]["Text"] == "idle timeout: the server closed the session after 1000 ms"
