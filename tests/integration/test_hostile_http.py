"""Hostile HTTP and scenario input against the real binary: each request is a 4xx or a close,
never a crash, an SMTP stall, a change of state it did not ask for, or unbounded memory.
Every loop is bounded in count and time; only 127.0.0.1 is used."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from pathlib import Path

import pytest

from conftest import RawSmtp, http_call


def rss_kib(server) -> int:
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def raw_http(server, data: bytes, timeout: float = 5.0) -> bytes:
    """Sends raw bytes, returns whatever comes back until the server closes or goes quiet."""
    s = socket.create_connection(("127.0.0.1", server.http_port), timeout=timeout)
    out = b""
    try:
        s.sendall(data)
        while len(out) < 1 << 20:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and b"content-length" in out.lower():
                head, _, body = out.partition(b"\r\n\r\n")
                length = [int(l.split(b":")[1]) for l in head.lower().split(b"\r\n")
                          if l.startswith(b"content-length")][0]
                if len(body) >= length:
                    break
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    return out


def status_of(response: bytes) -> int | None:
    if not response.startswith(b"HTTP/1."):
        return None  # closed without an answer
    return int(response.split(b" ", 2)[1])


def call(server, method: str, path: str, body: bytes | None = None, headers=None,
         timeout: float = 10.0):
    return http_call(server, method, path, body, headers, timeout)


def still_serves(server) -> None:
    assert call(server, "GET", "/livez") == (200, b"ok\n")
    c = RawSmtp(server.host, server.port, timeout=5)
    assert c.line().startswith("220 ")
    assert c.command("NOOP")[0].startswith("250")
    c.close()


@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"G\x01T / HTTP/1.1\r\n\r\n",
    b"GET /livez HTTP/1.1\r\nHost\r\n\r\n",
    b"\x00\xff\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),
    b"GET /livez HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    b"POST /api/v1/send HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n",
    b"GET /" + b"a" * 200_000 + b" HTTP/1.1\r\n\r\n",
    b"GET /livez HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(300)) + b"\r\n",
    b"GET /livez HTTP/1.1\r\nX-Big: " + b"z" * 200_000 + b"\r\n\r\n",
], ids=["garbage", "no-target", "bad-method", "header-without-colon", "tls-hello", "negative-length",
        "bad-chunk", "huge-target", "too-many-headers", "huge-header"])
def test_malformed_requests_get_a_4xx_or_a_close(smtpmock, request_bytes):
    status = status_of(raw_http(smtpmock, request_bytes))
    assert status is None or 400 <= status < 500, status
    still_serves(smtpmock)


def test_bodies_over_the_limit_are_refused_and_change_nothing(smtpmock):
    before = call(smtpmock, "GET", "/api/v1/scenario")[1]
    for size in (1_100_000, 5_000_000):
        try:
            status, _ = call(smtpmock, "PUT", "/api/v1/scenario", b"a" * size,
                             {"Content-Type": "application/yaml"})
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
            status = None
        assert status is None or status == 413, status
    assert call(smtpmock, "GET", "/api/v1/scenario")[1] == before
    still_serves(smtpmock)


def test_slow_header_senders_do_not_hold_up_others(smtpmock):
    slow = []
    stop = time.monotonic() + 6
    for _ in range(30):
        s = socket.create_connection(("127.0.0.1", smtpmock.http_port), timeout=5)
        s.sendall(b"GET /livez HTTP/1.1\r\nX-Slow: ")
        slow.append(s)

    def drip():
        while time.monotonic() < stop:
            for s in slow:
                try:
                    s.sendall(b"a")
                except OSError:
                    pass
            time.sleep(0.5)

    t = threading.Thread(target=drip, daemon=True)
    t.start()
    for _ in range(5):
        t0 = time.monotonic()
        still_serves(smtpmock)
        assert time.monotonic() - t0 < 1.0
        time.sleep(0.3)
    t.join(10)
    for s in slow:
        s.close()


@pytest.mark.parametrize("path", [
    "/../../../../etc/passwd",
    "/api/v1/message/..%2f..%2f..%2fetc%2fpasswd/raw",
    "/api/v1/message/%2e%2e/raw",
    "/view/..%2F..%2Fetc%2Fpasswd.html",
    "/api/v1/session/..%2f..%2fetc%2fpasswd/transcript",
    "/%00",
    "/api/v1/message/%zz",
])
def test_path_traversal_is_a_4xx(smtpmock, path):
    status, body = call(smtpmock, "GET", path)
    assert 400 <= status < 500, (status, body[:200])
    assert b"root:" not in body


BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


@pytest.mark.parametrize("yaml_text", [
    ",",
    "[:",
    "{:",
    "- !+(.,.)",
    BOMB,
    "[" * 10_000,
    "rules:\n" + "  - {name: r, on: rcpt, reply: '550 x'}\n" * 20_000,
    "name: x\n" + "# " + "c" * 900_000 + "\n",
], ids=["comma", "open-flow-key", "open-map-key", "tag-junk", "billion-laughs", "deep",
        "many-rules", "huge-comment"])
def test_yaml_bombs_are_refused_quickly_with_memory_bounded(smtpmock, yaml_text):
    before = call(smtpmock, "GET", "/api/v1/scenario")[1]
    rss_before = rss_kib(smtpmock)
    t0 = time.monotonic()
    status, body = call(smtpmock, "PUT", "/api/v1/scenario", yaml_text.encode(),
                        {"Content-Type": "application/yaml"})
    took = time.monotonic() - t0
    assert status in (400, 413), (status, body[:300])
    assert took < 2.0, took
    assert rss_kib(smtpmock) - rss_before < 100_000  # KiB
    assert call(smtpmock, "GET", "/api/v1/scenario")[1] == before
    still_serves(smtpmock)


def test_delete_storms_during_smtp_traffic_lose_nothing_and_stall_nothing(smtpmock):
    accepted = []
    worst = [0.0]
    errors = []

    def sender():
        try:
            c = RawSmtp(smtpmock.host, smtpmock.port, timeout=10)
            assert c.line().startswith("220 ")
            c.command("EHLO storm.example")
            for i in range(200):
                t0 = time.monotonic()
                assert c.command("MAIL FROM:<a@storm.example>")[0].startswith("250")
                assert c.command("RCPT TO:<b@storm.example>")[0].startswith("250")
                assert c.command("DATA")[0].startswith("354")
                c.send(f"Subject: storm {i}\r\n\r\nbody\r\n.\r\n")
                if c.reply()[0].startswith("250"):
                    accepted.append(i)
                worst[0] = max(worst[0], time.monotonic() - t0)
            c.command("QUIT")
            c.close()
        except Exception as e:  # reported below
            errors.append(e)

    t = threading.Thread(target=sender)
    t.start()
    deletes = 0
    deadline = time.monotonic() + 60
    while t.is_alive() and time.monotonic() < deadline and deletes < 2000:
        for body in (b"", b'{"IDs": []}', b'{"IDs": ["nope"]}'):
            status, _ = call(smtpmock, "DELETE", "/api/v1/messages", body or None,
                             {"Content-Type": "application/json"})
            assert status in (200, 400), status
            deletes += 1
    t.join(60)
    assert not errors, errors
    assert len(accepted) == 200
    assert worst[0] < 2.0, worst[0]
    # The spool keeps every accepted message: deleting from the API never loses a 250.
    assert len(smtpmock.wait_messages(200)) == 200
    still_serves(smtpmock)


def test_more_connections_than_the_cap_are_refused_then_served_again(smtpmock):
    conns = []
    for _ in range(300):
        try:
            conns.append(socket.create_connection(("127.0.0.1", smtpmock.http_port), timeout=2))
        except OSError:
            break
    for s in conns:
        s.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if call(smtpmock, "GET", "/livez", timeout=2)[0] == 200:
                break
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
    still_serves(smtpmock)


def test_many_short_connections_are_all_served(smtpmock):
    # The parallel-connection bound counts connections by id: a connection reported closed
    # twice must not make the bound refuse everyone after it.
    for i in range(300):
        assert call(smtpmock, "GET", "/livez") == (200, b"ok\n"), i
