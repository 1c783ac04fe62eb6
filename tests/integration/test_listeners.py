"""Listeners: every session and message knows the SMTP listener it came in on, and the API
selects by it. Only 127.0.0.1; every read bounded by a socket timeout."""
from __future__ import annotations

import json
import smtplib
import ssl
import urllib.request

from conftest import SmtpMockServer


def get(server: SmtpMockServer, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}{path}", timeout=10) as r:
        return json.loads(r.read())


def test_sessions_and_messages_carry_their_listener(smtpmock_factory):
    server = smtpmock_factory("--smtps-listen", "127.0.0.1:0")
    smtp_port, smtps_port = server.port, server.smtps_port
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as c:
        c.sendmail("a@x.example", ["plain@y.example"], "Subject: plain\r\n\r\nhi\r\n")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP_SSL("127.0.0.1", smtps_port, timeout=10, context=ctx) as c:
        c.sendmail("a@x.example", ["tls@y.example"], "Subject: tls\r\n\r\nhi\r\n")
    get(server, "/api/v1/messages/wait?count=2&session_ended=1&timeout=10")
    by_subject = {m["Subject"]: m for m in get(server, "/api/v1/messages")["messages"]}
    # Without a name a listener is called by its port.
    assert by_subject["plain"]["Listener"] == {"Name": str(smtp_port),
                                               "Address": f"127.0.0.1:{smtp_port}"}
    assert by_subject["tls"]["Listener"] == {"Name": str(smtps_port),
                                             "Address": f"127.0.0.1:{smtps_port}"}
    full = get(server, f"/api/v1/message/{by_subject['tls']['ID']}")
    assert full["Listener"]["Name"] == str(smtps_port)
    sessions = get(server, "/api/v1/sessions")["sessions"]
    assert sorted(s["Listener"]["Name"] for s in sessions) == sorted([str(smtp_port),
                                                                      str(smtps_port)])
    one = get(server, f"/api/v1/session/{sessions[0]['ID']}")
    assert one["Listener"] == sessions[0]["Listener"]
    # ?listener= and the search term listener:NAME select one listener's.
    only = get(server, f"/api/v1/messages?listener={smtps_port}")
    assert only["messages_count"] == 1 and only["total"] == 2
    assert only["messages"][0]["Subject"] == "tls"
    found = get(server, f"/api/v1/search?query=listener:{smtp_port}")
    assert [m["Subject"] for m in found["messages"]] == ["plain"]
    assert get(server, "/api/v1/search?query=listener:nope")["messages_count"] == 0
    listed = get(server, f"/api/v1/sessions?listener={smtp_port}")["sessions"]
    assert [s["Listener"]["Name"] for s in listed] == [str(smtp_port)]
    findings = get(server, f"/api/v1/findings?listener={smtps_port}")
    assert all(f["SessionID"] != listed[0]["ID"] for f in findings)
