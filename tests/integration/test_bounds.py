"""Resource bounds against the real binary: deadlines for slow clients, stress timeouts near
the connection limit, held replies, HTTP work that must not stall SMTP, and shutdown with
HTTP connections open. Every loop is bounded in count and time; only 127.0.0.1 is used."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

from conftest import RawSmtp, http_call


def scenario_with_limits(**limits: str) -> str:
    items = ", ".join(f"{k}: {v}" for k, v in limits.items())
    return f"name: bounded\nlimits: {{{items}}}\n"


def trickle(sock: socket.socket, data: bytes, every: float, until: float) -> None:
    """Sends `data` one byte every `every` seconds until it is sent or `until` passes."""
    for b in data:
        if time.monotonic() > until:
            return
        try:
            sock.sendall(bytes([b]))
        except OSError:
            return
        time.sleep(every)


def test_a_client_trickling_a_command_gets_421_at_the_command_deadline(smtpmock_factory):
    # The idle timer restarts on every byte; the command deadline does not.
    server = smtpmock_factory(
        scenario_yaml=scenario_with_limits(idle_timeout="30s", command_timeout="2s"))
    c = RawSmtp(server.host, server.port, timeout=10)
    assert c.line().startswith("220 ")
    start = time.monotonic()
    t = threading.Thread(target=trickle, args=(c.sock, b"EHLO " + b"x" * 200 + b"\r\n", 0.2,
                                               start + 8), daemon=True)
    t.start()
    reply = c.line()
    took = time.monotonic() - start
    assert reply.startswith("421 ") and "Command timeout" in reply, reply
    assert 1.5 < took < 6, took
    t.join(10)
    c.close()


def test_a_busy_client_still_meets_the_session_deadline(smtpmock_factory):
    server = smtpmock_factory(
        scenario_yaml=scenario_with_limits(session_timeout="2s", idle_timeout="30s"))
    c = RawSmtp(server.host, server.port, timeout=10)
    assert c.line().startswith("220 ")
    start = time.monotonic()
    last = None
    for _ in range(60):  # bounded: a NOOP every 0.1 s for at most 6 s
        c.send("NOOP\r\n")
        try:
            last = c.line()
        except EOFError:
            break
        if last.startswith("421"):
            break
        time.sleep(0.1)
    took = time.monotonic() - start
    assert last and last.startswith("421 ") and "Session time limit" in last, last
    assert 1.5 < took < 5, took
    c.close()


def test_slow_clients_holding_every_slot_are_cut_by_stress_timeouts(smtpmock_factory):
    # 10 slots, 10 slowloris clients (a byte every 0.5 s, forever): without stress timeouts
    # every normal client is refused with 421 4.3.2 for as long as the slow ones like.
    server = smtpmock_factory("--max-connections", "10",
                              scenario_yaml=scenario_with_limits(stress_timeout="2s"))
    stop_at = time.monotonic() + 20
    slow = []
    for _ in range(10):
        s = socket.create_connection((server.host, server.port), timeout=10)
        slow.append(s)
        threading.Thread(target=trickle, args=(s, b"EHLO " + b"y" * 5000, 0.5, stop_at),
                         daemon=True).start()
    time.sleep(0.5)
    served_after = None
    start = time.monotonic()
    for _ in range(40):  # bounded: a try every 0.25 s for at most ~10 s
        c = RawSmtp(server.host, server.port, timeout=5)
        try:
            banner = c.line()
            if banner.startswith("220 "):
                assert c.command("EHLO normal.example")[-1].startswith("250 ")
                served_after = time.monotonic() - start
                break
        except (EOFError, OSError):
            pass
        finally:
            c.close()
        time.sleep(0.25)
    for s in slow:
        s.close()
    assert served_after is not None, "a normal client was never served"
    assert served_after < 6, served_after
    assert any("stress=yes" in line for line in server.stderr_lines())


def test_held_replies_are_bounded(smtpmock_factory):
    # pipelining: hold_until_data answers MAIL/RCPT only with DATA, but not without bound.
    server = smtpmock_factory(scenario="pipelining-hold")
    c = RawSmtp(server.host, server.port, timeout=10)
    assert c.line().startswith("220 ")
    c.send("EHLO x.example\r\n")
    c.reply()
    batch = "MAIL FROM:<a@x.example>\r\n" + "RCPT TO:<b@x.example>\r\n" * 5000
    sender = threading.Thread(target=c.sock.sendall, args=(batch.encode(),), daemon=True)
    sender.start()
    # No DATA is ever sent: replies must arrive anyway once 64 KiB of them are held.
    first = c.line()
    assert first.startswith("250 "), first
    sender.join(10)
    c.close()


def send_big_messages(server, count: int, size: int) -> None:
    c = RawSmtp(server.host, server.port, timeout=30)
    assert c.line().startswith("220 ")
    c.command("EHLO big.example")
    body = ("x" * 998 + "\r\n") * (size // 1000)
    for i in range(count):
        assert c.command("MAIL FROM:<a@big.example>")[0].startswith("250")
        assert c.command("RCPT TO:<b@big.example>")[0].startswith("250")
        assert c.command("DATA")[0].startswith("354")
        c.send(f"Subject: big {i}\r\n\r\n" + body + ".\r\n")
        assert c.reply()[0].startswith("250"), i
    c.command("QUIT")
    c.close()


def test_large_http_listings_do_not_stall_smtp_and_are_capped(smtpmock_factory):
    server = smtpmock_factory("--max-messages", "100")
    send_big_messages(server, 40, 1_000_000)
    status, body = http_call(server, "GET", "/api/v2/messages?limit=100000")
    assert status == 200
    page = json.loads(body)
    assert page["total"] == 40
    assert 1 <= page["count"] < 40  # 16 MiB of message data per MailHog page
    assert len(body) < 64 << 20

    c = RawSmtp(server.host, server.port, timeout=30)
    assert c.line().startswith("220 ")
    c.command("EHLO noop.example")
    done = threading.Event()

    def hammer():
        for _ in range(5):  # bounded
            if done.is_set():
                return
            http_call(server, "GET", "/api/v2/messages?limit=100000", timeout=60)

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    worst = 0.0
    for _ in range(30):  # bounded: 30 NOOPs, 0.05 s apart
        t0 = time.monotonic()
        assert c.command("NOOP")[0].startswith("250")
        worst = max(worst, time.monotonic() - t0)
        time.sleep(0.05)
    done.set()
    for t in threads:
        t.join(120)
    c.close()
    # Before HTTP had its own threads a NOOP waited behind the listings for 17 s.
    assert worst < 1.0, worst


def test_http_limits_are_capped_not_refused(smtpmock):
    status, body = http_call(smtpmock, "GET", "/api/v1/messages?limit=100000000")
    assert status == 200 and json.loads(body)["count"] == 0
    status, body = http_call(smtpmock, "GET", "/api/v1/sessions?limit=100000000")
    assert status == 200


def test_json_number_overflow_is_a_400(smtpmock):
    status, body = http_call(smtpmock, "DELETE", "/api/v1/messages", b'{"IDs":[1e999999]}',
                             {"Content-Type": "application/json"})
    assert status == 400, body
    assert "Error" in json.loads(body)


def test_oversized_headers_get_431(smtpmock):
    status, body = http_call(smtpmock, "GET", "/livez", headers={"X-Big": "a" * 10_000})
    assert status == 431, body
    status, _ = http_call(smtpmock, "GET", "/livez")
    assert status == 200
    status, _ = http_call(smtpmock, "GET", "/livez?" + "a" * 9000)
    assert status == 414


def test_sigterm_with_an_idle_keep_alive_http_connection_exits_cleanly(smtpmock_factory):
    server = smtpmock_factory()
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    conn.request("GET", "/livez")
    assert conn.getresponse().read() == b"ok\n"  # the connection stays open (keep-alive)
    start = time.monotonic()
    rc = server.stop()
    assert rc == 0, server.stderr_text()
    assert time.monotonic() - start < 3
    conn.close()


def _ready_fields(server) -> dict[str, str]:
    ready = next(line for line in server.stderr_lines() if "smtpmock ready" in line)
    return dict(word.split("=", 1) for word in ready.split() if "=" in word)


def test_open_file_limit_is_raised_and_sets_the_default_connection_limit(smtpmock_factory):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip(f"hard open-file limit {hard}: nothing to raise it to")
    lowered = 1024
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
    try:
        server = smtpmock_factory()  # inherits the lowered soft limit
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    fields = _ready_fields(server)
    nofile = int(fields["nofile"])
    assert nofile > lowered and (hard == resource.RLIM_INFINITY or nofile == hard), fields
    assert int(fields["max_connections"]) == nofile - 320, fields
    limits = next(line for line in server.stderr_lines() if "limits nofile=" in line)
    assert f"nofile_before={lowered}" in limits, limits
    with open(f"/proc/{server.proc.pid}/limits") as f:
        row = next(line for line in f if line.startswith("Max open files"))
    assert int(row.split()[3]) == nofile, row


def test_an_explicit_connection_limit_wins_and_is_in_the_ready_line(smtpmock_factory):
    server = smtpmock_factory("--max-connections", "7")
    assert _ready_fields(server)["max_connections"] == "7"


def test_store_is_bounded_by_bytes_oldest_dropped_first(smtpmock_factory):
    import smtplib
    server = smtpmock_factory("--max-store-bytes", "100KiB")
    body = ("x" * 98 + "\r\n") * 300  # 30,000 octets in lines SMTP allows
    with smtplib.SMTP(server.host, server.port, timeout=10) as client:
        for i in range(5):
            client.sendmail("a@example.test", ["b@example.test"],
                            f"Subject: m{i}\r\n\r\n{body}\r\n")
    status, raw = http_call(server, "GET", "/api/v1/messages")
    assert status == 200
    listed = json.loads(raw)
    assert [m["Subject"] for m in listed["messages"]] == ["m4", "m3", "m2"], listed["total"]
    assert sum(m["Size"] for m in listed["messages"]) <= 100 * 1024


def test_a_bad_store_size_is_a_clear_error():
    from conftest import run_binary
    result = run_binary(["serve", "--max-store-bytes", "lots"])
    assert result.returncode == 2
    assert result.stderr.startswith(b"smtpmock: --max-store-bytes: lots unit not recognized")
    assert len(result.stderr.splitlines()) == 1
