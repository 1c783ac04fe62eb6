#!/usr/bin/env python3
"""SMTP reply latency while the HTTP API serves its largest listings.

Fills a server with MESSAGES messages of SIZE octets, then measures NOOP round trips on a kept
SMTP connection, first idle and then while CLIENTS threads fetch the largest allowed MailHog
listing (`/api/v2/messages?limit=1000000`, capped by the server) over and over.
Usage: bench/api_latency.py [--messages 200] [--size 1000000] [--clients 4]
Only 127.0.0.1 is used; every loop is bounded.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


class Smtp:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""

    def reply(self) -> str:
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError
                self.buf += chunk
            line, _, self.buf = self.buf.partition(b"\r\n")
            if len(line) < 4 or line[3:4] != b"-":
                return line.decode()

    def command(self, text: str) -> str:
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()


def noop_latencies(c: Smtp, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.monotonic()
        assert c.command("NOOP").startswith("250")
        out.append((time.monotonic() - t0) * 1000)
        time.sleep(0.02)
    return out


def summary(ms: list[float]) -> str:
    ms = sorted(ms)
    return (f"p50 {statistics.median(ms):.2f} ms, p99 {ms[int(len(ms) * 0.99) - 1]:.2f} ms, "
            f"max {ms[-1]:.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--bin", default=os.environ.get("SMTPMOCK_BIN",
                                                    str(HERE.parent / "build/server/app/smtpmock")))
    args = ap.parse_args()
    proc = subprocess.Popen([args.bin, "serve", "--smtp-listen", "127.0.0.1:0", "--http-listen",
                             "127.0.0.1:0", "--max-messages", str(args.messages), "--log-level",
                             "warn"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    smtp_port = http_port = 0
    for raw in iter(proc.stderr.readline, b""):
        if b"smtpmock ready" in raw:
            smtp_port = int(re.search(rb"smtp=127\.0\.0\.1:(\d+)", raw).group(1))
            http_port = int(re.search(rb"http=127\.0\.0\.1:(\d+)", raw).group(1))
            break
    threading.Thread(target=lambda: [None for _ in iter(proc.stderr.readline, b"")],
                     daemon=True).start()
    try:
        c = Smtp(smtp_port)
        c.reply()
        c.command("EHLO bench.example")
        body = ("x" * 998 + "\r\n") * (args.size // 1000)
        for i in range(args.messages):
            c.command("MAIL FROM:<a@bench.example>")
            c.command("RCPT TO:<b@bench.example>")
            c.command("DATA")
            c.sock.sendall(f"Subject: {i}\r\n\r\n{body}.\r\n".encode())
            assert c.reply().startswith("250")
        idle = noop_latencies(c, 200)
        stop = threading.Event()
        fetched = [0, 0]

        def fetch():
            for _ in range(1000):
                if stop.is_set():
                    return
                h = http.client.HTTPConnection("127.0.0.1", http_port, timeout=120)
                h.request("GET", "/api/v2/messages?limit=1000000")
                data = h.getresponse().read()
                h.close()
                fetched[0] += 1
                fetched[1] = max(fetched[1], len(data))

        threads = [threading.Thread(target=fetch, daemon=True) for _ in range(args.clients)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        busy = noop_latencies(c, 200)
        stop.set()
        for t in threads:
            t.join(300)
        print(f"store: {args.messages} messages x {args.size} octets; "
              f"{args.clients} clients fetching the largest MailHog listing")
        print(f"  NOOP idle:                 {summary(idle)}")
        print(f"  NOOP during the listings:  {summary(busy)}")
        print(f"  listings served: {fetched[0]}, largest answer {fetched[1] / 2**20:.1f} MiB")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


if __name__ == "__main__":
    main()
