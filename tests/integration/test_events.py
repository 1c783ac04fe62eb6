"""GET /api/events, the live events (a WebSocket, RFC 6455) against the real binary: what a
session, its messages and the API's changes send, in Mailpit's shapes where it has them; auth
and the base path; ping, close, hostile frames and the bound on subscribers.

The WebSocket client here is the smallest RFC 6455 client: masked text/ping/close frames out,
unmasked frames in; every read is bounded by the socket timeout and the loops by a deadline."""

from __future__ import annotations

import base64
import json
import os
import smtplib
import socket
import struct
import time
from email.message import EmailMessage

import pytest

from test_http import assert_error, call

TIMEOUT = 5.0


class EventSocket:
    """One WebSocket on /api/events."""

    def __init__(self, port: int, path: str = "/api/events", auth: str | None = None,
                 timeout: float = TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        headers = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
                   "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                   "Sec-WebSocket-Version: 13"]
        if auth:
            headers.append("Authorization: Basic " + base64.b64encode(auth.encode()).decode())
        self.sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.head = head.decode("latin-1")
        self.status = int(self.head.split(" ", 2)[1]) if self.head else 0

    def send_frame(self, opcode: int, payload: bytes = b"") -> None:
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self) -> tuple[int, bytes]:
        """The next frame: (opcode, payload)."""
        b0, b1 = self._take(2)
        assert b1 & 0x80 == 0, "a server's frames are not masked (RFC 6455 5.1)"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._take(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._take(8))[0]
        return b0 & 0x0F, self._take(n)

    def event(self) -> dict:
        opcode, payload = self.frame()
        assert opcode == 1, (opcode, payload)
        return json.loads(payload)

    def until(self, match, timeout: float = TIMEOUT) -> tuple[dict, list[dict]]:
        """Events until one `match`es it: (that event, every event read on the way)."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            e = self.event()
            seen.append(e)
            if match(e):
                return e, seen
        raise AssertionError(f"no matching event within {timeout} s; saw {seen[-5:]}")

    def close(self) -> None:
        self.sock.close()


def send_mail(server, to="bob@dest.example", subject="live"):
    msg = EmailMessage()
    msg["From"] = "alice@client.example"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("hello")
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.example",
                      timeout=TIMEOUT) as s:
        s.send_message(msg)


def test_a_session_and_its_message_arrive_live_in_order(smtpmock):
    ws = EventSocket(smtpmock.http_port)
    try:
        assert ws.status == 101, ws.head
        first = ws.event()
        assert first == {"Type": "stats",
                         "Data": {"Total": 0, "Unread": 0, "Version": first["Data"]["Version"]}}
        send_mail(smtpmock, subject="watch me")
        opened, _ = ws.until(lambda e: e["Type"] == "session")
        session_id = opened["Data"]["ID"]
        assert opened["Data"]["Live"] is True and opened["Data"]["Closed"] is None
        new, seen = ws.until(lambda e: e["Type"] == "new")
        assert new["Data"]["Subject"] == "watch me"
        assert new["Data"]["SessionID"] == session_id
        assert new["Data"]["Scenario"] == "default"
        lines = [e["Data"] for e in seen if e["Type"] == "transcript"]
        assert [l["Index"] for l in lines] == list(range(lines[0]["Index"], lines[0]["Index"] + len(lines)))
        assert any(l["Line"]["Direction"] == "in" and l["Line"]["Text"].upper().startswith("MAIL FROM")
                   for l in lines)
        closed, more = ws.until(lambda e: e["Type"] == "session" and not e["Data"]["Live"])
        assert closed["Data"]["Closed"] == "quit"
        if not any(e["Type"] == "stats" and e["Data"]["Total"] == 1 for e in seen + more):
            _, later = ws.until(lambda e: e["Type"] == "stats" and e["Data"]["Total"] == 1)
            more += later
        # The live lines are the transcript the API serves, line for line.
        transcript = call(smtpmock, "GET", f"/api/v1/session/{session_id}").json()["Transcript"]
        live = [e["Data"] for e in seen + more if e["Type"] == "transcript"]
        assert [l["Line"] for l in live] == transcript[:len(live)]
        assert len(live) == len(transcript)
        message_id = new["Data"]["ID"]
        # "new" carries the message summary of the Mailpit listing, field for field.
        listed = call(smtpmock, "GET", "/api/v1/messages").json()["messages"]
        assert [m for m in listed if m["ID"] == message_id] == [new["Data"]]

        # The API's changes: read, delete one, delete all (Mailpit's update/delete/truncate).
        assert call(smtpmock, "PUT", "/api/v1/messages", {"IDs": [message_id], "Read": True}).status == 200
        update, _ = ws.until(lambda e: e["Type"] == "update")
        assert update["Data"] == {"ID": message_id, "Read": True}
        assert call(smtpmock, "DELETE", "/api/v1/messages", {"IDs": [message_id]}).status == 200
        deleted, _ = ws.until(lambda e: e["Type"] == "delete")
        assert deleted["Data"] == {"ID": message_id}
        send_mail(smtpmock)
        ws.until(lambda e: e["Type"] == "new")
        assert call(smtpmock, "DELETE", "/api/v1/messages").status == 200
        truncate, _ = ws.until(lambda e: e["Type"] == "truncate")
        assert truncate["Data"] is None
        stats, _ = ws.until(lambda e: e["Type"] == "stats" and e["Data"]["Total"] == 0)
    finally:
        ws.close()


def test_rules_findings_and_a_dropped_session_are_told(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml="""
name: live-rules
rules:
  - name: reject-blocked
    on: rcpt
    match: {recipient: "blocked@example.com"}
    reply: "550 5.1.1 <{recipient}> blocked"
  - name: cut-off
    on: data
    abort_after_bytes: 100
""")
    ws = EventSocket(server.http_port)
    try:
        ws.event()  # stats
        with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.example",
                          timeout=TIMEOUT) as s:
            s.ehlo()
            s.mail("a@client.example")
            assert s.rcpt("blocked@example.com")[0] == 550
        shaped, seen = ws.until(lambda e: e["Type"] == "transcript" and e["Data"]["Line"]["Rule"])
        assert shaped["Data"]["Line"]["Rule"] == "reject-blocked"
        assert shaped["Data"]["Line"]["Text"].startswith("550")
        ended, _ = ws.until(lambda e: e["Type"] == "session" and not e["Data"]["Live"])
        assert ended["Data"]["Rules"] == ["reject-blocked"]
        assert ended["Data"]["Closed"] == "quit"

        # A message cut off mid-data: the server dropped it.
        s = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        s.sendall(b"EHLO client.example\r\nMAIL FROM:<a@client.example>\r\n"
                  b"RCPT TO:<b@example.com>\r\nDATA\r\n")
        ws.until(lambda e: e["Type"] == "transcript" and e["Data"]["Line"]["Text"].startswith("354"))
        try:
            s.sendall(b"x" * 300 + b"\r\n")
        except OSError:
            pass
        dropped, _ = ws.until(lambda e: e["Type"] == "session" and not e["Data"]["Live"])
        s.close()
        assert dropped["Data"]["Closed"] == "server"
        assert dropped["Data"]["Rules"] == ["cut-off"]
        # Sessions in the listing say the same.
        listed = {x["ID"]: x for x in call(server, "GET", "/api/v1/sessions").json()["sessions"]}
        assert listed[dropped["Data"]["ID"]]["Closed"] == "server"
        assert listed[ended["Data"]["ID"]]["Rules"] == ["reject-blocked"]
        # A finding arrives with its session's new counts (no QUIT: a warning).
        findings = call(server, "GET", f"/api/v1/findings?session={dropped['Data']['ID']}").json()
        assert sum(dropped["Data"]["FindingCounts"].values()) == len(findings)
    finally:
        ws.close()


def test_a_scenario_change_is_told(smtpmock):
    ws = EventSocket(smtpmock.http_port)
    try:
        ws.event()
        assert call(smtpmock, "PUT", "/api/v1/chaos",
                    {"Sender": {"ErrorCode": 451, "Probability": 0}}).status == 200
        changed, _ = ws.until(lambda e: e["Type"] == "scenario")
        assert changed["Data"]["Listeners"] == [str(smtpmock.port)]
    finally:
        ws.close()


def test_not_a_websocket_auth_and_base_path(smtpmock_factory):
    plain = smtpmock_factory()
    assert_error(call(plain, "GET", "/api/events"), 400, "websocket")
    assert_error(call(plain, "POST", "/api/events"), 405)

    server = smtpmock_factory("--http-auth", "user:secret", "--http-base-path", "/mail/")
    refused = EventSocket(server.http_port, "/mail/api/events")
    assert refused.status == 401, refused.head
    refused.close()
    wrong = EventSocket(server.http_port, "/mail/api/events", auth="user:wrong")
    assert wrong.status == 401
    wrong.close()
    outside = EventSocket(server.http_port, "/api/events", auth="user:secret")
    assert outside.status == 404
    outside.close()
    ws = EventSocket(server.http_port, "/mail/api/events", auth="user:secret")
    try:
        assert ws.status == 101, ws.head
        assert ws.event()["Type"] == "stats"
        send_mail(server)
        ws.until(lambda e: e["Type"] == "new")
    finally:
        ws.close()


def test_ping_close_and_a_hostile_client(smtpmock):
    ws = EventSocket(smtpmock.http_port)
    other = EventSocket(smtpmock.http_port)
    try:
        ws.event()
        other.event()
        ws.send_frame(0x9, b"are you there")
        opcode, payload = ws.frame()
        assert (opcode, payload) == (0xA, b"are you there")
        ws.send_frame(0x1, b"text from the client is ignored")
        ws.send_frame(0x8, struct.pack(">H", 1000))
        opcode, payload = ws.frame()
        assert opcode == 0x8
        # A client that sends garbage (an unmasked frame with a reserved opcode) is cut off...
        bad = EventSocket(smtpmock.http_port)
        bad.event()
        bad.sock.sendall(b"\x8f\x05hello" * 10)
        deadline = time.monotonic() + TIMEOUT
        gone = False
        while time.monotonic() < deadline and not gone:
            try:
                bad.frame()
            except (ConnectionError, OSError):
                gone = True
        assert gone
        bad.close()
        # ...and everyone else is still served.
        send_mail(smtpmock)
        other.until(lambda e: e["Type"] == "new")
        assert call(smtpmock, "GET", "/livez").status == 200
    finally:
        ws.close()
        other.close()


def test_subscribers_are_bounded_and_freed(smtpmock):
    sockets = []
    try:
        for _ in range(64):
            s = EventSocket(smtpmock.http_port)
            assert s.status == 101, s.head
            sockets.append(s)
        over = EventSocket(smtpmock.http_port)
        assert over.status == 503, over.head
        over.close()
        # Clients that vanish without a close frame give their places back.
        for s in sockets:
            s.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        sockets.clear()
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            s = EventSocket(smtpmock.http_port)
            if s.status == 101:
                sockets.append(s)
                break
            s.close()
            time.sleep(0.1)
        assert sockets, "a subscriber's place was never freed"
        assert sockets[0].event()["Type"] == "stats"
        # The HTTP API is unaffected by the WebSockets it served.
        assert call(smtpmock, "GET", "/api/v1/messages").status == 200
    finally:
        for s in sockets:
            s.close()
