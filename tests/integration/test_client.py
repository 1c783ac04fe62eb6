"""The bundled client end to end: `smtpmock send` (and its load mode), `check` and `record`.

Peers nobody on this team wrote: Postfix's smtp-sink (with its failure flags), aiosmtpd, and
dnsmasq as the DNS server for `check --mx`; plus smtpmock itself with several scenarios. Each
helper process binds 127.0.0.1 on a free port, is waited for with a bound, and is stopped at
teardown. Every client run has a timeout; only 127.0.0.1 is ever used.
"""

from __future__ import annotations

import base64
import email
import email.message
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from conftest import BINARY, SmtpMockServer, require_binary
from test_send_findings import send_default_helo

RUN_TIMEOUT = 60  # seconds for one client command
START_TIMEOUT = 5.0  # seconds for a helper server to accept connections
SENDER = "alice@client.example"
RECIPIENT = "bob@dest.example"
USER, PASSWORD = "alice", "secret"

AUTH_SCENARIO = f"""\
name: t-auth
hostname: mx.auth.example
ehlo: {{extensions: [PIPELINING, ENHANCEDSTATUSCODES, "AUTH PLAIN LOGIN CRAM-MD5"]}}
auth: {{users: [{{user: {USER}, password: {PASSWORD}}}]}}
"""

TLS_SCENARIO = """\
name: t-tls
hostname: mx.tls.example
ehlo: {extensions: [PIPELINING, STARTTLS, ENHANCEDSTATUSCODES]}
"""


def client(*args: str, timeout: float = RUN_TIMEOUT, stdin: bytes | None = None
           ) -> subprocess.CompletedProcess:
    """Runs `smtpmock ARGS` (a client command) to completion; text output."""
    require_binary()
    return subprocess.run([str(BINARY), *args], capture_output=True, timeout=timeout,
                          input=stdin if stdin is not None else b"")


def send(server: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return client("send", "--server", server, "--from", SENDER, "--to", RECIPIENT,
                  "--timeout", "10s", *args, **kw)


def out(r: subprocess.CompletedProcess) -> str:
    return r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen) -> bool:
    """True once 127.0.0.1:port accepts a connection; False if the process died or time ran out."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Helpers:
    """Starts helper servers (smtp-sink, aiosmtpd, dnsmasq); all stopped at teardown."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []

    def _start_tcp(self, make_args: Callable[[int], list[str]], name: str) -> str:
        for _ in range(5):  # a free port can be taken between the probe and the bind
            port = free_port()
            log = open(self.tmp_path / f"{name}-{port}.log", "wb")
            proc = subprocess.Popen(make_args(port), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT)
            log.close()
            self.procs.append(proc)
            if wait_listening(port, proc):
                return f"127.0.0.1:{port}"
            stop(proc)
        pytest.fail(f"{name} did not start")

    def smtp_sink(self, *flags: str) -> str:
        """smtp-sink with `flags` (e.g. "-f", "RCPT"); returns its address."""
        path = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        if not os.access(path, os.X_OK):
            pytest.fail("smtp-sink not installed (apt-get install postfix)")
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        return self._start_tcp(lambda p: [path, *user, *flags, f"127.0.0.1:{p}", "100"],
                               "smtp-sink")

    def aiosmtpd(self) -> str:
        return self._start_tcp(
            lambda p: ["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{p}",
                       "-c", "aiosmtpd.handlers.Sink"], "aiosmtpd")

    def dnsmasq(self, *records: str) -> str:
        """dnsmasq answering only `records` (--mx-host=..., --host-record=...); its address."""
        path = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        if not os.access(path, os.X_OK):
            pytest.fail("dnsmasq not installed (apt-get install dnsmasq)")
        for _ in range(5):
            port = free_port(socket.SOCK_DGRAM)
            proc = subprocess.Popen(
                [path, "--no-daemon", f"--port={port}", "--listen-address=127.0.0.1",
                 "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                 "--log-facility=-", *records],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self.procs.append(proc)
            deadline = time.monotonic() + START_TIMEOUT
            started = False
            while time.monotonic() < deadline and proc.poll() is None:
                line = proc.stderr.readline()  # "dnsmasq: started, version ..." comes first
                if b"started" in line:
                    started = True
                    break
            if started:
                return f"127.0.0.1:{port}"
            stop(proc)
        pytest.fail("dnsmasq did not start")

    def close(self) -> None:
        for p in self.procs:
            stop(p)


@pytest.fixture
def helpers(tmp_path: Path) -> Iterator[Helpers]:
    h = Helpers(tmp_path)
    yield h
    h.close()


# --- send against smtpmock ------------------------------------------------------------------


@pytest.mark.parametrize("pipeline", [False, True])
def test_send_to_smtpmock(smtpmock_factory, pipeline):
    server = smtpmock_factory()
    args = ["--pipeline"] if pipeline else []
    r = send(server.address, "--header", "Subject: hello", "--body", "first line", *args)
    text = out(r)
    assert r.returncode == 0, text
    assert "<-  220 localhost ESMTP smtpmock" in text
    assert " -> MAIL FROM:<alice@client.example>" in text
    assert "=== Connection closed with remote host." in text
    lines = text.splitlines()
    mail = lines.index(" -> MAIL FROM:<alice@client.example>")
    if pipeline:  # MAIL, RCPT and DATA leave together, before any of their replies
        assert lines[mail + 1:mail + 3] == [" -> RCPT TO:<bob@dest.example>", " -> DATA"], text
    else:
        assert lines[mail + 1].startswith("<-  250"), text
    [msg] = server.wait_messages(1)
    assert msg.mail_from == SENDER
    assert msg.recipients == [RECIPIENT]
    assert b"\r\nSubject: hello\r\n" in msg.headers + b"\r\n"
    # swaks' body ends with two empty lines (its emptied %NEW_HEADERS% line, its CRLF before ".")
    assert msg.body == b"first line\r\n\r\n\r\n"


def test_send_dot_stuffing_and_line_ends_reach_the_store_intact(smtpmock, tmp_path):
    # Bare LF, bare CR and CRLF line ends; lines that start with dots, one that is a lone dot.
    raw = b"Subject: dots\n\n.leading\r\n..two\n.\rmiddle . dot\n."
    (tmp_path / "m.eml").write_bytes(raw)
    r = send(smtpmock.address, "--data", str(tmp_path / "m.eml"))
    assert r.returncode == 0, out(r)
    assert " -> ..leading" in out(r) and " -> ..." in out(r)
    [msg] = smtpmock.wait_messages(1)
    # the final "." line goes, as in swaks ("Closing dot is not required but is allowed")
    assert msg.raw == b"Subject: dots\r\n\r\n.leading\r\n..two\r\n.\r\nmiddle . dot\r\n"


def test_send_data_from_stdin(smtpmock):
    r = send(smtpmock.address, "--data", "-", stdin=b"Subject: stdin\n\nbody\n")
    assert r.returncode == 0, out(r)
    # swaks writes its own CRLF before the final dot: a message ending in a line end gets one more
    assert smtpmock.wait_messages(1)[0].raw == b"Subject: stdin\r\n\r\nbody\r\n\r\n"


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_send_auth_mechanisms(smtpmock_factory, mech):
    server = smtpmock_factory(scenario_yaml=AUTH_SCENARIO)
    r = send(server.address, "--auth", mech, "--auth-user", USER, "--auth-password", PASSWORD)
    assert r.returncode == 0, out(r)
    assert f" -> AUTH {mech}" in out(r)
    assert "<-  235" in out(r)
    [msg] = server.wait_messages(1)
    assert msg.envelope["AuthUser"] == USER
    bad = send(server.address, "--auth", mech, "--auth-user", USER, "--auth-password", "wrong")
    assert bad.returncode == 28, out(bad)
    assert "<** 535" in out(bad)


def test_send_auth_picks_the_best_mechanism_and_fails_when_absent(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=AUTH_SCENARIO)
    r = send(server.address, "--auth-user", USER, "--auth-password", PASSWORD)  # implies --auth
    assert r.returncode == 0, out(r)
    assert " -> AUTH CRAM-MD5" in out(r)
    yahoo = smtpmock_factory(scenario="yahoo")  # advertises no AUTH
    r = send(yahoo.address, "--auth", "--auth-user", USER, "--auth-password", PASSWORD)
    assert r.returncode == 28, out(r)


EXIT_RULES = [
    ("connect", "421 4.3.2 busy", 21),
    ("mail", "550 5.7.1 sender refused", 23),
    ("rcpt", "550 5.1.1 unknown user", 24),
    ("data", "554 5.5.1 no data today", 25),
    ("message", "552 5.3.4 too big", 26),
]


@pytest.mark.parametrize("pipeline", [False, True])
@pytest.mark.parametrize("event,reply,code", EXIT_RULES)
def test_send_exit_codes_against_scenario_rules(smtpmock_factory, event, reply, code, pipeline):
    server = smtpmock_factory(scenario_yaml=f"""\
name: t-exit
ehlo: {{extensions: [PIPELINING, ENHANCEDSTATUSCODES]}}
rules:
  - {{name: fail, on: {event}, reply: "{reply}"}}
""")
    r = send(server.address, *(["--pipeline"] if pipeline else []))
    assert r.returncode == code, out(r)
    assert f"<** {reply.split()[0]}" in out(r)
    assert server.message_count() == 0


def test_send_ehlo_and_helo_refused_exits_22(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml="""\
name: t-ehlo
rules:
  - {name: no-ehlo, on: ehlo, reply: "502 5.5.1 no EHLO"}
  - {name: no-helo, on: helo, reply: "550 5.7.1 go away"}
""")
    r = send(server.address)
    assert r.returncode == 22, out(r)
    assert " -> HELO " in out(r)  # RFC 5321 4.1.4: HELO after a refused EHLO


def test_send_closed_connection_exits_6(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml="""\
name: t-close
rules:
  - {name: drop, on: rcpt, disconnect: before_reply}
""")
    r = send(server.address)
    assert r.returncode == 6, out(r)


def test_send_auth_required_scenario_exits_23(smtpmock_factory):
    server = smtpmock_factory(scenario="auth-required")
    assert send(server.address).returncode == 23


def test_send_connect_refused_exits_2():
    r = send(f"127.0.0.1:{free_port()}")
    assert r.returncode == 2, out(r)


def test_send_quit_after(smtpmock):
    r = send(smtpmock.address, "--quit-after", "RCPT")
    assert r.returncode == 0, out(r)
    assert " -> DATA" not in out(r) and " -> QUIT" in out(r)
    assert smtpmock.message_count() == 0


def test_send_json(smtpmock):
    r = send(smtpmock.address, "--json", "--pipeline")
    assert r.returncode == 0, out(r)
    j = json.loads(r.stdout)
    assert j["exit_code"] == 0 and j["ok"] is True and j["failed_stage"] is None
    assert j["messages"][0]["accepted"] is True
    received = [t for t in j["transcript"] if t.get("dir") == "received"]
    assert [t["stage"] for t in received] == ["banner", "ehlo", "mail", "rcpt", "data", "message",
                                              "quit"]
    assert all(t["latency_ms"] >= 0 for t in received)
    assert "PIPELINING" in j["extensions"]
    fail = send(smtpmock.address, "--json", "--quit-after", "bogus")
    assert fail.returncode == 1 and "unknown stage 'bogus'" in out(fail)


# --- TLS ------------------------------------------------------------------------------------


def test_send_starttls(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=TLS_SCENARIO)
    r = send(server.address, "--tls")
    text = out(r)
    assert r.returncode == 0, text
    assert " -> STARTTLS" in text and "=== TLS started with cipher TLSv1." in text
    assert " ~> MAIL FROM:<alice@client.example>" in text and "<~  250" in text
    [msg] = server.wait_messages(1)
    assert msg.envelope["TLSVersion"].startswith("TLSv1.")
    plain = smtpmock_factory(scenario="yahoo")  # offers no STARTTLS
    assert send(plain.address, "--tls").returncode == 29


def test_send_tls_on_connect(smtpmock_factory):
    server = smtpmock_factory("--smtps-listen", "127.0.0.1:0")
    if getattr(server, "smtps_port", None) is None:
        pytest.fail("no smtps= address in the ready line")
    r = send(f"127.0.0.1:{server.smtps_port}", "--tls-on-connect")
    assert r.returncode == 0, out(r)
    assert "<~  220" in out(r)
    assert server.wait_messages(1)[0].envelope["TLSVersion"].startswith("TLSv1.")
    # Implicit TLS against a plaintext port fails the handshake: exit 29.
    assert send(server.address, "--tls-on-connect").returncode == 29


def test_send_refuses_starttls_response_injection(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=TLS_SCENARIO + 'quirks: {starttls_inject: "250 injected"}\n')
    r = send(server.address, "--tls")
    text = out(r)
    assert r.returncode == 29, text
    assert "response injection" in text
    assert "TLS started" not in text
    assert server.message_count() == 0


# --- send against smtp-sink and aiosmtpd -----------------------------------------------------


@pytest.mark.parametrize("pipeline", [False, True])
def test_send_to_smtp_sink(helpers, pipeline):
    address = helpers.smtp_sink()
    r = send(address, *(["--pipeline"] if pipeline else []))
    assert r.returncode == 0, out(r)
    assert "<-  220 smtp-sink ESMTP" in out(r)


SINK_FAILURES = [
    # smtp-sink(1): -f hard reject (5xx), -r soft reject (4xx), -q drop without reply,
    # -Q 421 and drop; "." is the end of data.
    ("-f", "RCPT", 24), ("-r", "RCPT", 24), ("-q", "RCPT", 6), ("-Q", "RCPT", 24),
    ("-f", "DATA", 25), ("-r", "DATA", 25), ("-q", "DATA", 6), ("-Q", "DATA", 25),
    ("-f", "MAIL", 23), ("-f", ".", 26), ("-q", ".", 6), ("-f", "EHLO,HELO", 22),
    ("-f", "CONNECT", 21),
]


@pytest.mark.parametrize("flag,command,code", SINK_FAILURES)
def test_send_exit_codes_against_smtp_sink(helpers, flag, command, code):
    address = helpers.smtp_sink(flag, command)
    r = send(address)
    assert r.returncode == code, out(r)


def test_send_to_aiosmtpd(helpers):
    address = helpers.aiosmtpd()
    for args in ([], ["--pipeline"]):
        r = send(address, *args)
        assert r.returncode == 0, out(r)


# --- load mode ------------------------------------------------------------------------------


def test_load_2000_messages_over_20_connections(smtpmock_factory):
    server = smtpmock_factory("--max-messages", "5000")
    r = send(server.address, "--count", "2000", "--concurrency", "20", "--per-connection", "100",
             "--pipeline", "--json", timeout=120)
    assert r.returncode == 0, out(r)
    j = json.loads(r.stdout)
    assert j["accepted"] == 2000 and j["failed"] == 0 and j["connections"] == 20
    assert j["reply_codes"]["354"] == 2000
    assert j["latency_ms"]["message"]["count"] == 2000
    assert j["messages_per_second"] > 0
    assert len(server.wait_messages(2000, timeout=30)) == 2000


def test_load_summary_and_failures_by_stage(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml="""\
name: t-load
rules:
  - {name: every-fifth, on: rcpt, when: {every: 5}, reply: "450 4.2.1 try later"}
""")
    r = send(server.address, "--count", "50", "--concurrency", "5", "--per-connection", "10")
    text = out(r)
    assert r.returncode == 24, text
    assert "40 accepted, 10 failed" in text
    assert "failures by stage: rcpt: 10" in text
    for label in ("latency (ms)", "p50", "p95", "p99", "reply codes:", "messages/s"):
        assert label in text
    server.wait_messages(40)


# --- record ---------------------------------------------------------------------------------


def ehlo_exchange(host: str, port: int) -> tuple[bytes, bytes]:
    """The raw banner and EHLO reply bytes (for byte-for-byte comparison)."""
    with socket.create_connection((host, port), timeout=10) as s:
        f = s.makefile("rb")

        def reply() -> bytes:
            data = b""
            for _ in range(100):
                line = f.readline(4096)
                assert line, "connection closed"
                data += line
                if line[3:4] != b"-":
                    return data
            raise AssertionError("reply too long")

        banner = reply()
        s.sendall(b"EHLO client.example\r\n")
        ehlo = reply()
        s.sendall(b"QUIT\r\n")
        return banner, ehlo


@pytest.mark.parametrize("scenario", ["yahoo", "aol", "powermta"])
def test_record_round_trip(smtpmock_factory, tmp_path, scenario):
    original = smtpmock_factory(scenario=scenario)
    path = tmp_path / f"{scenario}-recorded.yaml"
    r = client("record", original.address, "-o", str(path), "--to", RECIPIENT)
    assert r.returncode == 0, out(r)
    lint = client("scenario", "lint", str(path))
    assert lint.returncode == 0, out(lint) + path.read_text()
    replay = smtpmock_factory(scenario=path)
    assert ehlo_exchange(replay.host, replay.port) == ehlo_exchange(original.host, original.port)
    text = path.read_text()
    assert "mail:" in text and "message:" in text and "quit:" in text
    if scenario == "powermta":  # its own reply texts come back
        assert 'message: "250 2.6.0 message received"' in text
        assert 'rcpt: "250 2.1.5 <{recipient}> ok"' in text


@pytest.mark.parametrize("peer", ["smtp-sink", "aiosmtpd"])
def test_record_reference_servers(helpers, smtpmock_factory, tmp_path, peer):
    address = helpers.smtp_sink() if peer == "smtp-sink" else helpers.aiosmtpd()
    path = tmp_path / "recorded.yaml"
    r = client("record", address, "-o", str(path), "--to", RECIPIENT)
    assert r.returncode == 0, out(r)
    lint = client("scenario", "lint", str(path))
    assert lint.returncode == 0, out(lint) + path.read_text()
    replay = smtpmock_factory(scenario=path)
    host, port = address.split(":")
    banner, ehlo = ehlo_exchange(host, int(port))
    replay_banner, replay_ehlo = ehlo_exchange(replay.host, replay.port)
    assert replay_banner == banner
    if peer == "aiosmtpd":
        assert replay_ehlo == ehlo
    # The replay accepts mail the way the original did.
    assert send(replay.address).returncode == 0


# --- check ----------------------------------------------------------------------------------


def test_check_mx_with_dnsmasq(helpers, smtpmock_factory):
    mx = "ehlo: {extensions: [PIPELINING, AUTH PLAIN LOGIN]}\n"
    good = smtpmock_factory(scenario_yaml="name: t-mx1\nhostname: mx1.test.example\n" + mx)
    other = smtpmock_factory(scenario_yaml="name: t-mx2\nhostname: other.example\n" + mx)
    dns = helpers.dnsmasq(
        "--mx-host=test.example,mx1.test.example,10",
        "--mx-host=test.example,mx2.test.example,20",
        "--host-record=mx1.test.example,127.0.0.1",
        "--host-record=mx2.test.example,127.0.0.1",
        "--ptr-record=1.0.0.127.in-addr.arpa,mx1.test.example")
    args = ["check", "--mx", "test.example", "--dns-server", dns,
            "--host-port", f"mx1.test.example={good.port}",
            "--host-port", f"mx2.test.example={other.port}", "--timeout", "5s"]
    r = client(*args, "--json")
    assert r.returncode == 0, out(r)
    j = json.loads(r.stdout)
    assert [(h["host"], h["preference"]) for h in j["hosts"]] == [("mx1.test.example", 10),
                                                                    ("mx2.test.example", 20)]
    mx1, mx2 = j["hosts"]
    assert mx1["up"] and mx2["up"]
    assert mx1["address"] == "127.0.0.1"
    assert mx1["ptr"] == ["mx1.test.example"] and mx1["ptr_matches_banner"] is True
    assert mx2["banner_hostname"] == "other.example" and mx2["ptr_matches_banner"] is False
    assert "PIPELINING" in mx1["extensions"]
    assert mx1["auth"]["mechanisms"] == ["PLAIN", "LOGIN"]
    assert mx1["relay"]["tested"] and mx1["relay"]["open"]  # smtpmock accepts anything
    assert good.message_count() == 0  # RSET, never DATA
    human = client(*args)
    text = out(human)
    assert human.returncode == 0, text
    assert "MX of test.example: 10 mx1.test.example, 20 mx2.test.example" in text
    assert "PTR of 127.0.0.1: mx1.test.example (matches)" in text
    assert "(does not match)" in text


def test_check_starttls_auth_and_relay_refused(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=f"""\
name: t-check
hostname: mx.check.example
ehlo: {{extensions: [PIPELINING, STARTTLS, "AUTH PLAIN LOGIN"]}}
auth: {{users: [{{user: {USER}, password: {PASSWORD}}}]}}
rules:
  - {{name: no-relay, on: rcpt, match: {{recipient: "*@example.com"}},
     reply: "554 5.7.1 Relay access denied"}}
""")
    r = client("check", server.address, "--auth-user", USER, "--auth-password", PASSWORD,
               "--json", "--timeout", "5s")
    assert r.returncode == 0, out(r)
    [h] = json.loads(r.stdout)["hosts"]
    assert h["starttls"]["ok"] and h["starttls"]["version"].startswith("TLSv1.")
    assert "mx.check.example" in h["starttls"]["subject"]
    assert h["starttls"]["not_after"] and h["starttls"]["days_left"] > 0
    assert h["auth"]["tested"] and h["auth"]["ok"]
    assert h["relay"]["open"] is False and h["relay"]["rcpt_reply"].startswith("554")
    bad = client("check", server.address, "--auth-user", USER, "--auth-password", "nope",
                 "--json", "--timeout", "5s")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["hosts"][0]["auth"]["ok"] is False


def test_check_refused(tmp_path):
    r = client("check", f"127.0.0.1:{free_port()}", "--json", "--timeout", "3s")
    assert r.returncode == 2, out(r)
    [h] = json.loads(r.stdout)["hosts"]
    assert h["up"] is False and h["failure"] == "refused"


# --- swaks' spellings (one dash or two, short forms) ----------------------------------------


def test_send_single_dash_tls_is_starttls_not_a_recipient(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=TLS_SCENARIO)
    r = send(server.address, "-tls")
    text = out(r)
    assert r.returncode == 0, text
    assert " -> STARTTLS" in text and "=== TLS started with cipher TLSv1." in text
    assert "<ls>" not in text, text
    [msg] = server.wait_messages(1)
    assert msg.recipients == [RECIPIENT]
    assert msg.envelope["TLSVersion"].startswith("TLSv1.")


def test_send_swaks_short_forms(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=AUTH_SCENARIO)
    r = client("send", "-s", server.address, "-f", SENDER, "-t", "a@dest.example,b@dest.example",
               "-h", "myhelo", "-au", USER, "-ap", PASSWORD, "--h-Subject", "hi",
               "-timeout", "10s")
    text = out(r)
    assert r.returncode == 0, text
    assert " -> EHLO myhelo" in text, text
    assert "<-  235" in text, text
    [msg] = server.wait_messages(1)
    assert msg.envelope["AuthUser"] == USER
    assert msg.recipients == ["a@dest.example", "b@dest.example"]
    assert b"\r\nSubject: hi\r\n" in b"\r\n" + msg.headers + b"\r\n"


def test_send_quit_after_short_form(smtpmock):
    r = send(smtpmock.address, "-q", "RCPT")
    assert r.returncode == 0, out(r)
    assert " -> DATA" not in out(r) and smtpmock.message_count() == 0


@pytest.mark.parametrize("args, expected", [
    (["-pp"], "smtpmock: send: -pp (swaks' --protect-prompt) is not supported yet"),
    (["-am", "X=LOGIN"], "smtpmock: send: -am (swaks' --auth-map) is not supported yet"),
    (["--dump"], "smtpmock: send: --dump (swaks' --dump) is not supported yet"),
    (["-bogus"], "smtpmock: unknown option -bogus"),
    (["-tlz"], "smtpmock: unknown option -tlz; did you mean --tls?"),
    (["-fro", "a@x"], "smtpmock: unknown option -fro; did you mean --from?"),
])
def test_send_refuses_what_it_does_not_support(args, expected):
    r = client("send", "--server", "127.0.0.1:1", *args)  # refused before any connection
    assert r.returncode == 2, out(r)
    lines = r.stderr.decode().strip().splitlines()
    assert lines == [expected], out(r)


def test_send_h_is_helo_and_help_is_long():
    assert client("send", "--help").returncode == 0
    r = client("send", "--server", "127.0.0.1:1", "-h")  # -h NAME without its NAME
    assert r.returncode == 2, out(r)


SIDE_BY_SIDE = [
    (TLS_SCENARIO, ["-tls", "-f", SENDER, "-t", RECIPIENT, "--h-Subject", "one"]),
    (None, ["-h", "myhelo", "-f", SENDER, "-t", "a@dest.example,b@dest.example",
            "--header", "Subject: two"]),
    (AUTH_SCENARIO, ["-a", "LOGIN", "-au", USER, "-ap", PASSWORD, "-f", SENDER, "-t", RECIPIENT,
                     "--header-Subject", "three"]),
    (None, ["-q", "RCPT", "-f", SENDER, "-t", RECIPIENT]),
    # (not `-t a -t b`: swaks keeps only the last -t, smtpmock sends to both)
    (None, ["-S", "-f", SENDER, "-t", f"{RECIPIENT},c@dest.example", "-ah", "X-Extra: 1",
            "-h-Subject", "five"]),
]


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
@pytest.mark.parametrize("scenario, args", SIDE_BY_SIDE)
def test_send_matches_swaks_side_by_side(smtpmock_factory, scenario, args):
    server = smtpmock_factory(scenario_yaml=scenario)

    def run(command: list[str]) -> tuple[int, list[tuple[str, list[str], str | None]]]:
        before = server.message_count()
        r = subprocess.run([*command, "-s", server.address, *args], capture_output=True,
                           timeout=RUN_TIMEOUT, input=b"")
        got = []
        if r.returncode == 0 and "-q" not in args:
            new = server.wait_messages(before + 1)[before:]
            for m in new:
                subject = [line[len(b"Subject: "):].decode() for line in m.headers.split(b"\r\n")
                           if line.startswith(b"Subject: ")]
                got.append((m.mail_from, m.recipients, subject[0] if subject else None))
        return r.returncode, got

    theirs = run(["swaks"])
    ours = run([str(BINARY), "send"])
    assert ours == theirs
    assert theirs[0] == 0
    if "-q" in args:
        assert server.message_count() == 0


# --- the message: swaks' template, tokens, --body forms, --attach (MIME built with GMime) ----


def mime_shape(raw: bytes) -> list[tuple]:
    """Each MIME part: type, disposition, filename, name=, transfer encoding, description,
    decoded content (None for a multipart)."""
    msg = email.message_from_bytes(raw)
    return [(p.get_content_type(), p.get_content_disposition(), p.get_filename(),
             p.get_param("name"), (p.get("Content-Transfer-Encoding") or "").lower(),
             p.get("Content-Description"),
             None if p.is_multipart() else p.get_payload(decode=True)) for p in msg.walk()]


def test_send_default_message_is_swaks_template(smtpmock):
    r = send(smtpmock.address, "--to", "c@dest.example")
    assert r.returncode == 0, out(r)
    [msg] = smtpmock.wait_messages(1)
    headers = msg.headers.decode()
    assert re.search(r"^Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r?$", headers, re.M)
    assert f"\r\nTo: {RECIPIENT},c@dest.example\r\n" in "\r\n" + headers + "\r\n"
    assert f"\r\nFrom: {SENDER}\r\n" in "\r\n" + headers + "\r\n"
    date = re.search(r"^Date: (.*)$", headers, re.M).group(1).strip()
    assert f"Subject: test {date}" in headers
    assert re.search(r"^Message-Id: <\d{14}\.\d{6,}@[^>]+>", headers, re.M), headers
    assert re.search(r"^X-Mailer: smtpmock send v\d", headers, re.M), headers
    assert msg.body == b"This is a test mailing\r\n\r\n\r\n"


def test_send_tokens_in_header_body_and_data(smtpmock, tmp_path):
    r = send(smtpmock.address, "--header", "X-Who: %FROM_ADDRESS% to %TO_ADDRESS%",
             "--header", "Subject: at %DATE%", "--body", "id %MESSAGEID%%NEWLINE%v %SWAKS_VERSION%")
    assert r.returncode == 0, out(r)
    [msg] = smtpmock.wait_messages(1)
    text = msg.raw.decode()
    assert f"X-Who: {SENDER} to {RECIPIENT}\r\n" in text
    assert "%" not in text, text
    mid = re.search(r"^Message-Id: <([^>]+)>", text, re.M).group(1)
    version = client("--version").stdout.decode().split()[1]
    assert msg.body.startswith(f"id {mid}\r\nv {version}\r\n".encode()), text
    data = send(smtpmock.address, "--data", "Subject: %TO_ADDRESS%\\nX-Id: <%MESSAGEID%>\\n\\n%BODY%",
                "--body", "b1")
    assert data.returncode == 0, out(data)
    raw = smtpmock.wait_messages(2)[1].raw
    assert raw.startswith(f"Subject: {RECIPIENT}\r\nX-Id: <".encode()), raw
    assert raw.endswith(b"\r\n\r\nb1\r\n"), raw


def test_send_body_from_file_and_stdin_and_add_header(smtpmock, tmp_path):
    f = tmp_path / "body.txt"
    f.write_bytes(b"from a file\n")
    r = send(smtpmock.address, "--body", f"@{f}", "-ah", "Subject: added")
    assert r.returncode == 0, out(r)
    r = send(smtpmock.address, "--body", "-", stdin=b"from stdin\n")
    assert r.returncode == 0, out(r)
    first, second = smtpmock.wait_messages(2)
    assert first.body.startswith(b"from a file\r\n")
    # -ah adds a header even when one of that name exists (swaks' --add-header)
    assert first.headers.count(b"Subject: ") == 2
    assert second.body.startswith(b"from stdin\r\n")
    bad = send(smtpmock.address, "--body", f"@{tmp_path}/missing.txt")
    assert bad.returncode == 1 and "cannot read" in out(bad)
    one_line = send(smtpmock.address, "--data", "Subject: no line break")  # a file name in swaks
    assert one_line.returncode == 1 and "--data" in out(one_line)
    assert smtpmock.message_count() == 2


def test_send_attach_builds_swaks_mime(smtpmock, tmp_path):
    f = tmp_path / "report.pdf"
    f.write_bytes(b"%PDF-1.4 not really\n")
    r = send(smtpmock.address, "--body", "see attached", "--attach", f"@{f}",
             "--attach-type", "text/html", "--attach", "<b>hi</b>", "--attach-name", "data.bin",
             "--attach", "-", stdin=b"stdin bytes\x00\x01")
    assert r.returncode == 0, out(r)
    [msg] = smtpmock.wait_messages(1)
    assert b"\r\nMIME-Version: 1.0\r\n" in msg.headers
    assert mime_shape(msg.raw) == [
        ("multipart/mixed", None, None, None, "", None, None),
        ("text/plain", None, None, None, "", None, b"see attached"),
        ("application/octet-stream", "attachment", "report.pdf",
         "report.pdf", "base64", "report.pdf", b"%PDF-1.4 not really\n"),
        ("text/html", "attachment", None, None, "base64", None, b"<b>hi</b>"),
        ("text/html", "attachment", "data.bin", "data.bin", "base64", "data.bin",
         b"stdin bytes\x00\x01"),
    ]


def test_send_attach_body_alternative(smtpmock):
    r = send(smtpmock.address, "--attach-body", "plain", "--attach-type", "text/html",
             "--attach-body", "<p>html</p>")
    assert r.returncode == 0, out(r)
    assert mime_shape(smtpmock.wait_messages(1)[0].raw) == [
        ("multipart/alternative", None, None, None, "", None, None),
        ("text/plain", None, None, None, "", None, b"plain"),
        ("text/html", None, None, None, "base64", None, b"<p>html</p>"),
    ]


ATTACH_SIDE_BY_SIDE = [
    ["--attach", "@{file}"],
    ["--body", "my body", "--attach", "{file}", "--attach-type", "image/png", "--attach",
     "@@literal"],
    ["--attach-body", "p", "--attach-type", "text/html", "--attach-body", "<p>h</p>"],
    ["--attach-body", "p", "--attach-type", "text/html", "--attach-body", "<p>h</p>",
     "--attach", "@@lit", "--attach-name", "x.png", "--attach", "-"],
    ["--attach-type", "text/plain; charset=utf-8", "--attach-body", "caf\u00e9", "--attach-name",
     "--attach", "@{file}"],
    ["--attach-type", "text/plain", "--attach-name", "n.txt", "--attach", "hi there"],
]


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
@pytest.mark.parametrize("args", ATTACH_SIDE_BY_SIDE)
def test_send_attach_matches_swaks_mime_structure(smtpmock, tmp_path, args):
    f = tmp_path / "a.txt"
    f.write_bytes(b"hello\n")
    args = [a.replace("{file}", str(f)) for a in args]
    shapes = []
    for command in (["swaks"], [str(BINARY), "send"]):
        before = smtpmock.message_count()
        r = subprocess.run([*command, "-s", smtpmock.address, "-f", SENDER, "-t", RECIPIENT,
                            *args], capture_output=True, timeout=RUN_TIMEOUT, input=b"stdin\n")
        assert r.returncode == 0, out(r)
        shapes.append(mime_shape(smtpmock.wait_messages(before + 1)[before].raw))
    assert shapes[1] == shapes[0]


# --- output options: --silent levels, -n, -stl, -ahp, --hide-*, --output-file* ---------------


def test_send_silent_levels_as_swaks(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml="""\
name: t-silent
rules:
  - {name: no-rcpt, on: rcpt, reply: "550 5.1.1 unknown user"}
""")
    ok = smtpmock_factory()
    quiet = send(ok.address, "-S")
    assert quiet.returncode == 0 and quiet.stdout == b"" and quiet.stderr == b"", out(quiet)
    one = send(server.address, "-S", "1")  # nothing until the first error, then everything
    assert one.returncode == 24
    text = one.stdout.decode()
    assert text.startswith("<** 550 5.1.1 unknown user\n"), text
    assert " -> QUIT" in text and "EHLO" not in text
    assert one.stderr.decode().startswith("*** "), out(one)  # swaks' errors go to stderr
    two = send(server.address, "--silent", "2")  # errors only
    assert two.stdout.decode() == "<** 550 5.1.1 unknown user\n", out(two)
    assert two.stderr.decode().startswith("*** ")
    for args in (["-S", "3"], ["-ha"], ["--hide-all"]):
        none = send(server.address, *args)
        assert none.returncode == 24 and none.stdout == b"" and none.stderr == b"", out(none)


def test_send_suppress_data_and_time_lapse(smtpmock):
    r = send(smtpmock.address, "-n", "-stl")
    text = out(r)
    assert r.returncode == 0, text
    assert " -> 11 lines sent" in text and "This is a test mailing" not in text
    assert re.search(r"^=== response in \d+\.\d{3}s$", text, re.M), text
    lines = text.splitlines()
    assert lines[lines.index(" -> QUIT") + 1].startswith("=== response in "), text
    i = send(smtpmock.address, "-stl", "i")
    assert re.search(r"^=== response in \d+s$", out(i), re.M), out(i)
    bad = send(smtpmock.address, "-stl", "x")
    assert bad.returncode == 1 and "--show-time-lapse" in out(bad)


def test_send_auth_hide_password(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=AUTH_SCENARIO)
    for mech in ("PLAIN", "LOGIN"):
        shown = send(server.address, "-a", mech, "-au", USER, "-ap", PASSWORD)
        hidden = send(server.address, "-a", mech, "-au", USER, "-ap", PASSWORD, "-ahp")
        custom = send(server.address, "-a", mech, "-au", USER, "-ap", PASSWORD, "-ahp", "XX")
        assert shown.returncode == hidden.returncode == custom.returncode == 0, out(hidden)
        secret = base64.b64encode(PASSWORD.encode()).decode()
        plain = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
        assert (secret if mech == "LOGIN" else plain) in out(shown)
        for r, replacement in ((hidden, "PROVIDED_BUT_REMOVED"), (custom, "XX")):
            assert secret not in out(r) and plain not in out(r)
            if mech == "PLAIN":
                b = base64.b64encode(f"\0{USER}\0{replacement}".encode()).decode()
                assert f" -> AUTH PLAIN {b}" in out(r), out(r)
            else:
                assert f" -> {base64.b64encode(replacement.encode()).decode()}" in out(r)
    assert len(server.wait_messages(6)) == 6


def test_send_hide_and_hint_options(smtpmock):
    r = send(smtpmock.address, "-hr", "-hi", "-nsh", "-n")
    assert r.returncode == 0, out(r)
    assert r.stdout.decode().splitlines()[:2] == [f"EHLO {send_default_helo('127.0.0.1')}",
                                                 f"MAIL FROM:<{SENDER}>"], out(r)
    assert "<-" not in out(r) and "===" not in out(r)


def test_send_output_files(smtpmock_factory, tmp_path):
    server = smtpmock_factory(scenario_yaml="""\
name: t-out
rules:
  - {name: no-mail, on: mail, reply: "550 5.7.1 no"}
""")
    both = tmp_path / "both.txt"
    r = send(server.address, "--output-file", str(both))
    assert r.returncode == 23 and r.stdout == b"" and r.stderr == b"", out(r)
    text = both.read_text()
    assert "<** 550 5.7.1 no" in text and "*** " in text
    so, se = tmp_path / "out.txt", tmp_path / "err.txt"
    r = send(server.address, "--output-file-stdout", str(so), "--output-file-stderr", str(se))
    assert r.stdout == b"" and r.stderr == b""
    assert "<** 550" in so.read_text() and "***" not in so.read_text()
    assert se.read_text().startswith("*** ")
    r = send(server.address, "--output-file-stderr", "&STDOUT")
    assert r.stderr == b"" and "*** " in r.stdout.decode()
    bad = send(server.address, "--output-file", str(tmp_path / "no" / "such" / "dir"))
    assert bad.returncode == 1 and "cannot write" in out(bad)


# --- --quit-after and --drop-after at every swaks stage ---------------------------------------

TLS_AUTH_SCENARIO = f"""\
name: t-tls-auth
hostname: mx.tls.example
ehlo: {{extensions: [PIPELINING, STARTTLS, ENHANCEDSTATUSCODES, "AUTH PLAIN LOGIN"]}}
auth: {{users: [{{user: {USER}, password: {PASSWORD}}}]}}
"""

# swaks' stop-point names with their aliases, and the last line sent before the stop (with
# -tls and -a LOGIN: EHLO, STARTTLS, EHLO inside TLS, AUTH, MAIL, RCPT, DATA, the message).
STOP_POINTS = [
    (["CONNECT", "BANNER"], None),
    (["FIRST-HELO", "FIRST-EHLO", "FIRST-LHLO"], " -> EHLO "),
    (["TLS", "STARTTLS"], " -> STARTTLS"),
    (["HELO", "EHLO", "LHLO"], " ~> EHLO "),
    (["AUTH"], " ~> " + base64.b64encode(PASSWORD.encode()).decode()),
    (["MAIL", "FROM"], " ~> MAIL FROM:"),
    (["RCPT", "TO"], " ~> RCPT TO:"),
    (["DATA"], " ~> DATA"),
    (["DOT"], " ~> ."),
]


def sent_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith((" -> ", " ~> "))]


@pytest.mark.parametrize("how", ["--quit-after", "--drop-after", "-q", "-da"])
@pytest.mark.parametrize("names, last", STOP_POINTS)
def test_send_stops_at_every_swaks_stage(smtpmock_factory, how, names, last):
    drop = how in ("--drop-after", "-da")
    if not drop and names[0] in ("DATA", "DOT"):
        pytest.skip("swaks takes DATA and DOT for --drop-after only")
    server = smtpmock_factory(scenario_yaml=TLS_AUTH_SCENARIO)
    for name in names + [names[0].lower()]:
        r = send(server.address, "-tls", "-a", "LOGIN", "-au", USER, "-ap", PASSWORD, how, name)
        text = out(r)
        assert r.returncode == 0, text
        sent = sent_lines(text)
        if drop:
            assert "=== Dropping connection" in text, text
            assert not any(line.endswith("QUIT") for line in sent), text
            assert (sent[-1].startswith(last) if last else sent == []), text
        else:
            assert sent[-1].endswith("QUIT") and "<~  221" in text or "<-  221" in text, text
            assert (sent[-2].startswith(last) if last else sent == [" -> QUIT"]), text
    assert server.message_count() == (len(names) + 1 if names == ["DOT"] else 0)


def test_send_quit_after_data_is_refused_and_stops_without_tls_or_auth(smtpmock):
    for name in ("DATA", "DOT", "XCLIENT", "bogus"):
        r = send(smtpmock.address, "--quit-after", name)
        assert r.returncode == 1 and "--quit-after: unknown stage" in out(r), out(r)
    assert send(smtpmock.address, "--drop-after", "bogus").returncode == 1
    # TLS and AUTH are points even when neither is asked for: right after the EHLO.
    for name in ("TLS", "AUTH"):
        r = send(smtpmock.address, "--quit-after", name)
        assert r.returncode == 0, out(r)
        assert [line for line in sent_lines(out(r))][1:] == [" -> QUIT"], out(r)
    # Stops before RCPT need no recipient (swaks).
    r = client("send", "--server", smtpmock.address, "--quit-after", "MAIL", "--timeout", "10s")
    assert r.returncode == 0, out(r)
    assert smtpmock.message_count() == 0


def test_send_drop_after_closes_the_tcp_connection_without_quit(smtpmock):
    r = send(smtpmock.address, "--drop-after", "RCPT")
    assert r.returncode == 0, out(r)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sessions = smtpmock.sessions()
        if sessions and sessions[0].get("Active") is False or sessions and sessions[0].get("Ended"):
            break
        time.sleep(0.05)
    [session] = smtpmock.sessions()
    received = [t["Text"] for t in session["Transcript"] if t["Direction"] == "in"]
    assert any(t.startswith("RCPT TO") for t in received), session
    assert not any(t.upper().startswith("QUIT") for t in received), session


# --- --protocol, TLS options, -4/-6, --local-interface, --server without a port --------------


def test_send_protocol_smtp_esmtpa_esmtps(smtpmock_factory):
    plain = smtpmock_factory()
    r = send(plain.address, "--protocol", "SMTP", "--pipeline")
    assert r.returncode == 0, out(r)
    assert f" -> HELO " in out(r) and " -> EHLO" not in out(r)
    assert plain.wait_messages(1)[0].envelope["Helo"]
    server = smtpmock_factory(scenario_yaml=TLS_AUTH_SCENARIO)
    a = send(server.address, "--protocol", "esmtpa", "-au", USER, "-ap", PASSWORD)
    assert a.returncode == 0 and " -> AUTH " in out(a) and "STARTTLS" not in sent_lines(out(a))[1]
    s = send(server.address, "--protocol", "ESMTPS")
    assert s.returncode == 0 and " -> STARTTLS" in out(s) and " -> AUTH" not in out(s), out(s)
    sa = send(server.address, "--protocol", "ESMTPSA", "-au", USER, "-ap", PASSWORD)
    assert sa.returncode == 0 and " -> STARTTLS" in out(sa) and " ~> AUTH " in out(sa), out(sa)
    msgs = server.wait_messages(3)
    assert msgs[1].envelope["TLSVersion"] and msgs[2].envelope["AuthUser"] == USER
    bad = send(server.address, "--protocol", "HTTP")
    assert bad.returncode == 1 and "--protocol: unknown protocol" in out(bad)


def test_send_protocol_smtps_is_tls_on_connect_with_helo(smtpmock_factory):
    server = smtpmock_factory("--smtps-listen", "127.0.0.1:0")
    r = send(f"127.0.0.1:{server.smtps_port}", "--protocol", "SMTPS")
    assert r.returncode == 0, out(r)
    assert "<~  220" in out(r) and " ~> HELO " in out(r)
    r = send(f"127.0.0.1:{server.smtps_port}", "--protocol", "SSMTP")
    assert r.returncode == 0 and " ~> EHLO " in out(r), out(r)


def test_send_protocol_lmtp_against_an_lmtp_server(tmp_path):
    import asyncio
    from aiosmtpd.controller import Controller
    from aiosmtpd.lmtp import LMTP

    class Handler:
        def __init__(self):
            self.messages = []

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.startswith("full@"):
                return "452 4.2.2 mailbox full"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            # aiosmtpd's LMTP class answers the data once; RFC 2033 4.2 wants one reply per
            # accepted recipient, so this handler writes them (the last one is aiosmtpd's line).
            self.messages.append(envelope.content)
            return "\r\n".join(f"250 2.1.5 {r} delivered" for r in envelope.rcpt_tos)

    class LmtpController(Controller):
        def factory(self):
            return LMTP(self.handler)

    handler = Handler()
    controller = LmtpController(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        address = f"127.0.0.1:{controller.port}"
        r = client("send", "--server", address, "--protocol", "LMTP", "--from", SENDER,
                   "--to", "a@dest.example,b@dest.example", "--timeout", "10s")
        assert r.returncode == 0, out(r)
        assert " -> LHLO " in out(r)
        # one reply to the data per accepted recipient (RFC 2033 4.2)
        assert "<-  250 2.1.5 a@dest.example delivered" in out(r)
        assert "<-  250 2.1.5 b@dest.example delivered" in out(r)
        assert len(handler.messages) == 1
        smtpmock_lhlo = client("send", "--server", address, "--protocol", "lmtp", "--from",
                               SENDER, "--to", "full@dest.example", "--timeout", "10s")
        assert smtpmock_lhlo.returncode == 24, out(smtpmock_lhlo)
    finally:
        controller.stop()


def test_send_protocol_lmtp_against_smtpmock_fails_at_lhlo(smtpmock):
    r = send(smtpmock.address, "--protocol", "LMTP")
    assert r.returncode == 22, out(r)  # smtpmock speaks SMTP: LHLO is 500, no HELO fallback
    assert " -> LHLO " in out(r) and " -> HELO" not in out(r)


def test_send_tls_optional_and_optional_strict(smtpmock_factory):
    refusing = smtpmock_factory(scenario_yaml=TLS_SCENARIO + """\
rules:
  - {name: no-tls, on: starttls, reply: "454 4.7.0 TLS not available"}
""")
    r = send(refusing.address, "-tlso")
    assert r.returncode == 0, out(r)
    assert "<** 454" in out(r) and " -> MAIL FROM:" in out(r)
    assert send(refusing.address, "-tlsos").returncode == 29
    assert send(refusing.address, "-tls").returncode == 29
    plain = smtpmock_factory(scenario="yahoo")  # no STARTTLS offered
    for flag in ("-tlso", "-tlsos", "--tls-optional", "--tls-optional-strict"):
        r = send(plain.address, flag)
        assert r.returncode == 0 and "STARTTLS" not in "".join(sent_lines(out(r))), out(r)
    offered = smtpmock_factory(scenario_yaml=TLS_SCENARIO)
    r = send(offered.address, "-tlso")
    assert r.returncode == 0 and "=== TLS started" in out(r), out(r)
    assert refusing.message_count() == 1 and plain.message_count() == 4


def make_cert(tmp_path: Path, name: str, cn: str, san: str) -> tuple[Path, Path]:
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={cn}",
                        "-addext", f"subjectAltName={san}"], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return cert, key


def test_send_tls_verify_with_ca_path_protocols_and_bad_files(smtpmock_factory, tmp_path):
    cert, key = make_cert(tmp_path, "server", "mx.test.example",
                          "DNS:mx.test.example,IP:127.0.0.1")
    server = smtpmock_factory("--tls-cert", str(cert), "--tls-key", str(key),
                              scenario_yaml=TLS_SCENARIO)
    unverified = send(server.address, "-tls", "--tls-verify")
    assert unverified.returncode == 29, out(unverified)
    r = send(server.address, "-tls", "--tls-verify", "--tls-ca-path", str(cert))
    assert r.returncode == 0, out(r)
    assert "(verified)" in out(r)
    for spec, version in (("tlsv1_2", "TLSv1.2"), ("tlsv1_3", "TLSv1.3"),
                          ("no_tlsv1_3", "TLSv1.2")):
        r = send(server.address, "-tls", "-tlsp", spec)
        assert r.returncode == 0 and f"TLS started with cipher {version}:" in out(r), out(r)
    for args, text in ((["--tls-protocol", "tlsv1_2,no_tlsv1_3"], "--tls-protocol"),
                       (["--tls-cert", str(cert)], "require each other"),
                       (["--tls-cert", str(tmp_path / "none.pem"), "--tls-key", str(key)],
                        "--tls-cert: cannot use"),
                       (["--tls-ca-path", str(tmp_path / "none")], "--tls-ca-path")):
        bad = send(server.address, "-tls", *args)
        assert bad.returncode == 1 and text in out(bad), out(bad)


def test_send_tls_sni_and_client_certificate_reach_the_server(tmp_path):
    """A STARTTLS server written here that records the SNI name and the client certificate."""
    import ssl
    import threading
    server_cert, server_key = make_cert(tmp_path, "server", "localhost", "DNS:localhost")
    client_cert, client_key = make_cert(tmp_path, "client", "client.example",
                                        "DNS:client.example")
    seen: dict = {}
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(server_cert, server_key)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.load_verify_locations(client_cert)
    ctx.sni_callback = lambda sock, name, context: seen.__setitem__("sni", name)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(20)

    def serve():
        try:
            conn, _ = listener.accept()
            conn.settimeout(20)
            f = conn.makefile("rb")
            conn.sendall(b"220 tls-test ESMTP\r\n")
            f.readline()
            conn.sendall(b"250-tls-test\r\n250 STARTTLS\r\n")
            f.readline()
            conn.sendall(b"220 go ahead\r\n")
            tls = ctx.wrap_socket(conn, server_side=True)
            seen["cert"] = tls.getpeercert()
            g = tls.makefile("rb")
            for _ in range(10):
                line = g.readline()
                if not line:
                    break
                tls.sendall(b"221 bye\r\n" if line.startswith(b"QUIT") else b"250 ok\r\n")
                if line.startswith(b"QUIT"):
                    break
            tls.close()
        except OSError as e:
            seen["error"] = repr(e)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        r = client("send", "--server", f"127.0.0.1:{listener.getsockname()[1]}", "-tls",
                   "--tls-sni", "sni.example", "--tls-cert", str(client_cert), "--tls-key",
                   str(client_key), "--quit-after", "TLS", "--timeout", "10s")
        t.join(20)
    finally:
        listener.close()
    assert r.returncode == 0, out(r) + repr(seen)
    assert seen.get("sni") == "sni.example", seen
    subject = dict(x[0] for x in seen["cert"]["subject"])
    assert subject["commonName"] == "client.example", seen


def test_send_ip_family_and_local_interface(smtpmock):
    r = send(smtpmock.address, "-4")
    assert r.returncode == 0, out(r)
    six = send(smtpmock.address, "-6")  # swaks: refused before connecting, exit 1
    assert six.returncode == 1 and "-6 is set but the server 127.0.0.1" in out(six), out(six)
    named = client("send", "--server", f"localhost:{smtpmock.port}", "-4", "--to", RECIPIENT,
                   "--timeout", "10s")
    assert named.returncode == 0, out(named)
    both = send(smtpmock.address, "-4", "-6")
    assert both.returncode == 1, out(both)
    port = free_port()
    li = send(smtpmock.address, "-li", f"127.0.0.1:{port}")
    assert li.returncode == 0, out(li)
    lp = send(smtpmock.address, "-li", "127.0.0.1", "-lp", str(free_port()))
    assert lp.returncode == 0, out(lp)
    sessions = smtpmock.wait_sessions(3)
    assert any(s["ClientAddress"] == f"127.0.0.1:{port}" for s in sessions), sessions
    bad = send(smtpmock.address, "-li", "not-an-address")
    assert bad.returncode == 2 and "--local-interface" in out(bad), out(bad)


def test_send_server_without_port_is_25_as_in_swaks(smtpmock):
    for args, port in ((["--server", "127.0.0.1"], 25), (["--server", "127.0.0.1", "--protocol",
                                                          "LMTP"], 24),
                       (["--server", "127.0.0.1", "-tlsc"], 465)):
        r = client("send", *args, "--to", RECIPIENT, "--timeout", "3s")
        assert f"=== Trying 127.0.0.1:{port}..." in out(r), out(r)
    host, port = smtpmock.address.split(":")
    r = client("send", "--server", f"{host}/{port}", "--to", RECIPIENT, "--timeout", "10s")
    assert r.returncode == 0, out(r)  # swaks' SERVER/PORT


def test_send_auth_plaintext(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=AUTH_SCENARIO)
    r = send(server.address, "-a", "LOGIN", "-au", USER, "-ap", PASSWORD, "-apt")
    assert r.returncode == 0, out(r)
    assert "<-  334 Username:" in out(r) and f" -> {USER}" in out(r)
    assert f" -> {PASSWORD}" in out(r)
    r = send(server.address, "-a", "PLAIN", "-au", USER, "-ap", PASSWORD, "-apt", "-ahp")
    assert f" -> AUTH PLAIN \\0{USER}\\0PROVIDED_BUT_REMOVED" in out(r), out(r)


@pytest.mark.parametrize("stage, last", [("FIRST-HELO", " -> EHLO "), ("TLS", " -> STARTTLS"),
                                         ("HELO", " ~> EHLO "), ("AUTH", " ~> AUTH LOGIN"),
                                         ("MAIL", " ~> MAIL FROM:"), ("RCPT", " ~> RCPT TO:"),
                                         ("DATA", " ~> DATA"), ("DOT", " ~> .")])
def test_send_drop_after_send_closes_before_the_reply(smtpmock_factory, stage, last):
    server = smtpmock_factory(scenario_yaml=TLS_AUTH_SCENARIO)
    r = send(server.address, "-tls", "-a", "LOGIN", "-au", USER, "-ap", PASSWORD, "-das", stage)
    text = out(r)
    assert r.returncode == 0, text
    lines = text.splitlines()
    sent = [i for i, line in enumerate(lines) if line.startswith((" -> ", " ~> "))]
    assert lines[sent[-1]].startswith(last), text
    # nothing was read after the last command: the next line is the drop
    assert lines[sent[-1] + 1] == "=== Dropping connection", text
    if stage == "DOT":  # the server had the whole message; only its reply went unread
        server.wait_messages(1)
    else:
        assert server.message_count() == 0


def test_send_auth_optional_and_optional_strict(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=AUTH_SCENARIO)
    wrong = ["-au", USER, "-ap", "wrong"]
    r = send(server.address, "-ao", *wrong)
    assert r.returncode == 0 and "<** 535" in out(r) and " -> MAIL FROM:" in out(r), out(r)
    assert send(server.address, "-aos", *wrong).returncode == 28
    assert send(server.address, "-a", *wrong).returncode == 28
    no_auth = smtpmock_factory(scenario="yahoo")  # advertises no AUTH
    for flag in ("-ao", "-aos", "--auth-optional", "--auth-optional-strict"):
        r = send(no_auth.address, flag, "-au", USER, "-ap", PASSWORD)
        assert r.returncode == 0, out(r)
    r = send(server.address, "-a", "DIGEST-MD5,LOGIN", "-au", USER, "-ap", PASSWORD)
    assert r.returncode == 0 and " -> AUTH LOGIN" in out(r), out(r)


def test_send_no_strip_from_dump_mail_g_and_tls_cipher(smtpmock_factory, tmp_path):
    server = smtpmock_factory(scenario_yaml=TLS_SCENARIO)
    data = "From someone Mon Jan  1 00:00:00 2024\\nSubject: mbox\\n\\nbody"
    assert send(server.address, "--data", data).returncode == 0
    assert send(server.address, "--data", data, "-nsf").returncode == 0
    stripped, kept = server.wait_messages(2)
    assert stripped.raw.startswith(b"Subject: mbox") and kept.raw.startswith(b"From someone")
    dump = send(server.address, "--dump-mail", "--h-Subject", "dumped")
    assert dump.returncode == 0 and b"\r\nSubject: dumped\r\n" in dump.stdout, out(dump)
    assert b"EHLO" not in dump.stdout and server.message_count() == 2
    g = send(server.address, "-g", stdin=b"Subject: via -g\n\nhi\n")
    assert g.returncode == 0, out(g)
    assert server.wait_messages(3)[2].raw.startswith(b"Subject: via -g")
    cipher = send(server.address, "-tls", "-tlsp", "tlsv1_2", "--tls-cipher",
                  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256")
    assert cipher.returncode == 0 and "AES128-GCM-SHA256" in out(cipher), out(cipher)
    bad = send(server.address, "-tls", "--tls-cipher", "NOPE")
    assert bad.returncode == 1 and "--tls-cipher" in out(bad)


def test_send_default_sender_null_sender_and_empty_auth_user(smtpmock_factory):
    import pwd
    server = smtpmock_factory()
    env = {**os.environ, "LOGNAME": "swaksuser"}
    r = subprocess.run([str(BINARY), "send", "--server", server.address, "--to", RECIPIENT,
                        "--timeout", "10s"], capture_output=True, timeout=RUN_TIMEOUT, env=env)
    assert r.returncode == 0 and " -> MAIL FROM:<swaksuser@" in out(r), out(r)
    r = subprocess.run([str(BINARY), "send", "--server", server.address, "--to", RECIPIENT,
                        "--force-getpwuid", "--timeout", "10s"], capture_output=True,
                       timeout=RUN_TIMEOUT, env=env)
    assert f" -> MAIL FROM:<{pwd.getpwuid(os.getuid()).pw_name}@" in out(r), out(r)
    null = client("send", "-s", server.address, "-f", "<>", "-t", RECIPIENT, "--timeout", "10s")
    assert null.returncode == 0 and " -> MAIL FROM:<>" in out(null), out(null)
    auth = send(server.address, "-a", "PLAIN", "-au", "<>", "-ap", "secret")
    assert auth.returncode == 0, out(auth)
    plain = base64.b64encode(b"\0\0secret").decode()
    assert f" -> AUTH PLAIN {plain}" in out(auth), out(auth)
