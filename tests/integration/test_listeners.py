"""Listeners: every session and message knows the SMTP listener it came in on, and the API
selects by it. Only 127.0.0.1; every read bounded by a socket timeout."""
from __future__ import annotations

import json
import signal
import smtplib
import ssl
import time
import urllib.error
import urllib.request

from conftest import RawSmtp, SmtpMockServer


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


def listeners_of(server: SmtpMockServer) -> dict[str, tuple[int, str, str]]:
    """NAME -> (port, tls mode, scenario) from the ready line's listeners= field."""
    ready = next(l for l in server.stderr_lines() if "smtpmock ready" in l)
    field = ready.split(" listeners=")[1].split()[0]
    out = {}
    for entry in field.split(","):
        name, rest = entry.split("=", 1)
        address, tls, scenario = rest.split("/")
        out[name] = (int(address.rsplit(":", 1)[1]), tls, scenario)
    return out


def tls_client() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


FIVE = ["--listen", "127.0.0.1:0=yahoo,name=yahoo",
        "--listen", "127.0.0.1:0=aol,name=aol",
        "--listen", "127.0.0.1:0=tls-required,tls=implicit,name=tls",
        "--listen", "127.0.0.1:0=auth-required,tls=starttls,name=submission",
        "--listen", "127.0.0.1:0,tls=none,name=notls"]


def test_one_process_plays_several_personalities(smtpmock_factory):
    server = smtpmock_factory(*FIVE)
    ls = listeners_of(server)
    assert {n: (t, s) for n, (_, t, s) in ls.items() if not n.isdigit()} == {
        "yahoo": ("starttls", "yahoo"), "aol": ("starttls", "aol"),
        "tls": ("implicit", "tls-required"), "submission": ("starttls", "auth-required"),
        "notls": ("none", "default")}
    # Each answers with its own banner and EHLO list, byte for byte.
    c = RawSmtp("127.0.0.1", ls["yahoo"][0])
    assert c.reply() == ["220 mta7.am0.yahoodns.net ESMTP ready"]
    assert c.command("EHLO client.example") == [
        "250-mta7.am0.yahoodns.net", "250-8BITMIME", "250-SIZE 41943040", "250 PIPELINING"]
    c.command("QUIT")
    c = RawSmtp("127.0.0.1", ls["aol"][0])
    assert c.reply() == ["220 mx-aol.mail.gm0.yahoodns.net ESMTP ready"]
    assert c.command("EHLO client.example") == ["250-mx-aol.mail.gm0.yahoodns.net", "250 DSN"]
    c.command("QUIT")
    # STARTTLS only where the listener's mode allows it.
    c = RawSmtp("127.0.0.1", ls["notls"][0])
    c.reply()
    assert "250-STARTTLS" in c.command("EHLO client.example")  # advertised by the scenario...
    assert c.command("STARTTLS")[0].startswith("454")          # ...but not on offer here
    c.command("QUIT")
    with smtplib.SMTP("127.0.0.1", ls["submission"][0], timeout=10) as s:
        s.ehlo()
        assert not s.has_extn("starttls") and s.has_extn("auth")  # its scenario's list
        assert s.mail("a@x.example")[0] == 530  # authentication required first
        s.rset()
        s.login("alice", "secret")
        s.sendmail("a@x.example", ["sub@y.example"], "Subject: submission\r\n\r\nhi\r\n")
    with smtplib.SMTP_SSL("127.0.0.1", ls["tls"][0], timeout=10, context=tls_client()) as s:
        assert s.ehlo()[1].decode().startswith("mx.tls-required.example")
        s.sendmail("a@x.example", ["tls@y.example"], "Subject: tls\r\n\r\nhi\r\n")
    for name in ("yahoo", "aol"):
        with smtplib.SMTP("127.0.0.1", ls[name][0], timeout=10) as s:
            s.sendmail("a@x.example", [f"{name}@y.example"], f"Subject: {name}\r\n\r\nhi\r\n")
    get(server, "/api/v1/messages/wait?count=4&session_ended=1&timeout=10")
    got = {m["Subject"]: m["Listener"]["Name"] for m in get(server, "/api/v1/messages")["messages"]}
    assert got == {"submission": "submission", "tls": "tls", "yahoo": "yahoo", "aol": "aol"}
    # /readyz lists every listener with its scenario.
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/readyz", timeout=10) as r:
        ready = r.read().decode().splitlines()
    assert ready[0] == "ok"
    assert f"yahoo 127.0.0.1:{ls['yahoo'][0]} tls=starttls scenario=yahoo" in ready


def request(server: SmtpMockServer, method: str, path: str, body: bytes | None = None):
    req = urllib.request.Request(f"http://127.0.0.1:{server.http_port}{path}", data=body,
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_scenario_control_per_listener_and_sighup(smtpmock_factory):
    server = smtpmock_factory(*FIVE)
    ls = listeners_of(server)
    # Several scenarios: one must be named.
    status, err = request(server, "GET", "/api/v1/scenario")
    assert status == 400 and "yahoo" in err["Error"] and "submission" in err["Error"]
    assert request(server, "GET", "/api/v1/scenario?listener=nope")[0] == 404
    status, yahoo = request(server, "GET", "/api/v1/scenario?listener=yahoo")
    assert status == 200 and yahoo["Name"] == "yahoo"
    assert yahoo["Listeners"] == [{"Name": "yahoo", "Address": f"127.0.0.1:{ls['yahoo'][0]}",
                                   "TLS": "starttls"}]
    # A PUT to one listener changes only that listener.
    status, _ = request(server, "PUT", "/api/v1/scenario?listener=yahoo",
                        b"name: changed\nbanner: \"changed.example ESMTP\"\n")
    assert status == 200
    c = RawSmtp("127.0.0.1", ls["yahoo"][0])
    assert c.reply() == ["220 changed.example ESMTP"]
    c.command("QUIT")
    c = RawSmtp("127.0.0.1", ls["aol"][0])
    assert c.reply() == ["220 mx-aol.mail.gm0.yahoodns.net ESMTP ready"]
    c.command("QUIT")
    # Chaos without ?listener= applies to all; with it, to one.
    status, _ = request(server, "PUT", "/api/v1/chaos?listener=aol",
                        b'{"Sender": {"ErrorCode": 451, "Probability": 100}}')
    assert status == 200
    assert request(server, "GET", "/api/v1/chaos?listener=aol")[1]["Sender"]["Probability"] == 100
    assert request(server, "GET", "/api/v1/chaos?listener=tls")[1]["Sender"]["Probability"] == 0
    # SIGHUP reloads every listener's file: yahoo and aol are themselves again.
    status, _ = request(server, "PUT", "/api/v1/scenario?listener=aol",
                        b"name: changed-too\nbanner: \"changed-too.example ESMTP\"\n")
    assert status == 200
    server.proc.send_signal(signal.SIGHUP)
    expected = {"yahoo": ["220 mta7.am0.yahoodns.net ESMTP ready"],
                "aol": ["220 mx-aol.mail.gm0.yahoodns.net ESMTP ready"]}
    deadline = time.monotonic() + 10
    while True:
        banners = {}
        for name in expected:
            c = RawSmtp("127.0.0.1", ls[name][0])
            banners[name] = c.reply()
            c.command("QUIT")
        if banners == expected or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert banners == expected


def test_a_single_scenario_server_needs_no_listener_parameter(smtpmock_factory):
    server = smtpmock_factory("--smtps-listen", "127.0.0.1:0")  # two listeners, one scenario
    status, s = request(server, "GET", "/api/v1/scenario")
    assert status == 200 and s["Name"] == "default"
    assert sorted(l["TLS"] for l in s["Listeners"]) == ["implicit", "starttls"]


def test_metrics_carry_the_listener_label(smtpmock_factory):
    from prometheus_client.parser import text_string_to_metric_families

    server = smtpmock_factory("--listen", "127.0.0.1:0=yahoo,name=yahoo")
    ls = listeners_of(server)
    default = str(server.port)  # the one without a name is called by its port
    assert set(ls) == {default, "yahoo"}
    for _ in range(2):
        c = RawSmtp("127.0.0.1", server.port)
        c.reply()
        c.command("EHLO client.example")
        assert c.command("NOOP")[0].startswith("250")
        c.command("QUIT")
    c = RawSmtp("127.0.0.1", ls["yahoo"][0])
    assert c.reply() == ["220 mta7.am0.yahoodns.net ESMTP ready"]
    c.command("EHLO client.example")
    c.command("QUIT")

    def scrape():
        with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/metrics",
                                    timeout=10) as r:
            text = r.read().decode()
        samples = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return samples

    def v(samples, name, **labels):
        return samples.get((name, tuple(sorted(labels.items()))), 0)

    def settled(samples):
        return all(v(samples, "smtpmock_sessions_active", listener=n) == 0
                   for n in (default, "yahoo"))

    deadline = time.monotonic() + 10
    samples = scrape()
    while not settled(samples) and time.monotonic() < deadline:
        time.sleep(0.05)
        samples = scrape()
    assert v(samples, "smtpmock_sessions_total", listener=default) == 2
    assert v(samples, "smtpmock_sessions_total", listener="yahoo") == 1
    for listener, sessions in ((default, 2), ("yahoo", 1)):
        for verb, code in (("connect", "220"), ("ehlo", "250"), ("quit", "221")):
            assert v(samples, "smtpmock_commands_total", verb=verb, code=code,
                     listener=listener) == sessions, (listener, verb)
    assert v(samples, "smtpmock_commands_total", verb="noop", code="250", listener=default) == 2
    assert ("smtpmock_commands_total",
            (("code", "250"), ("listener", "yahoo"), ("verb", "noop"))) not in samples
    # No series without the label but the store's own.
    assert v(samples, "smtpmock_sessions_total") == 0
    assert ("smtpmock_sessions_stored", ()) in samples


BUSY_FIRST = """\
name: busy-first
rules:
  - name: busy-first
    on: connect
    when: {nth: 1, per: server}
    reply: "421 4.3.2 Too busy, try later"
"""


def test_server_counters_are_per_listener_even_on_a_shared_scenario(smtpmock_factory):
    # Both listeners run --scenario's rules; `per: server` counts on each of them apart.
    server = smtpmock_factory("--listen", "127.0.0.1:0,name=second", scenario_yaml=BUSY_FIRST)
    ls = listeners_of(server)
    ports = [ls["second"][0]] + [p for n, (p, _, _) in ls.items() if n != "second"]
    for port in ports:
        first = RawSmtp("127.0.0.1", port)
        assert first.reply()[0].startswith("421"), port
        first.sock.close()
        second = RawSmtp("127.0.0.1", port)
        assert second.reply()[0].startswith("220"), port
        second.command("QUIT")
    # One scenario for both: the API needs no ?listener=.
    status, s = request(server, "GET", "/api/v1/scenario")
    assert status == 200 and sorted(l["Name"] for l in s["Listeners"]) == sorted(ls)


def test_listeners_from_the_config_file(smtpmock_factory, tmp_path):
    config = tmp_path / "smtpmock.yaml"
    config.write_text("listeners:\n"
                      "  - {listen: 127.0.0.1:0, scenario: aol, name: aol}\n"
                      "  - listen: 127.0.0.1:0\n"
                      "    scenario: yahoo\n"
                      "    name: yahoo\n")
    server = smtpmock_factory("--config", str(config))
    ls = listeners_of(server)
    c = RawSmtp("127.0.0.1", ls["aol"][0])
    assert c.reply() == ["220 mx-aol.mail.gm0.yahoodns.net ESMTP ready"]
    assert c.command("EHLO client.example") == ["250-mx-aol.mail.gm0.yahoodns.net", "250 DSN"]
    c.command("QUIT")
    c = RawSmtp("127.0.0.1", ls["yahoo"][0])
    assert c.reply() == ["220 mta7.am0.yahoodns.net ESMTP ready"]
    c.command("QUIT")
