#!/usr/bin/env python3
"""Fault soak: many messages over kept connections against a scenario with seeded faults, then
an exact accounting of what the client was told against what the server stored.

Every message carries a unique tag (its Subject). A message is "accepted" when its end of data
got a 2xx; the spool must hold every accepted tag exactly once and nothing else. The server's
RSS is sampled while the soak runs, and the spool's bytes per message are reported.

Usage: bench/soak.py --messages 100000 --connections 50 [--bin PATH] [--keep-spool DIR]
Exit 0 when nothing was lost or duplicated, 1 otherwise. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "soak-faults.yaml"
READ_TIMEOUT = 30.0  # seconds for any one reply; the soak scenario never hangs


def read_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Server:
    def __init__(self, binary: str, spool: Path, max_messages: int, threads: int):
        args = [binary, "serve", "--smtp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                "--scenario", str(SCENARIO), "--spool", str(spool), "--max-messages",
                str(max_messages), "--log-level", "warn", "--seed", "7",
                "--max-connections", "1000"]
        if threads:
            args += ["--threads", str(threads)]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.smtp_port = self.http_port = 0
        deadline = time.monotonic() + 15
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode(errors="replace")
            if "smtpmock ready" in line:
                self.smtp_port = int(re.search(r"smtp=127\.0\.0\.1:(\d+)", line).group(1))
                self.http_port = int(re.search(r"http=127\.0\.0\.1:(\d+)", line).group(1))
                break
            if time.monotonic() > deadline:
                break
        if not self.smtp_port:
            self.proc.kill()
            raise SystemExit("soak: the server did not start")
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for _ in iter(self.proc.stderr.readline, b""):
            pass

    def api(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=30) as r:
            return json.loads(r.read())

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9


async def read_reply(reader: asyncio.StreamReader) -> str:
    """One reply; returns its last line ("250 ok"), or "eof"."""
    for _ in range(100):
        line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT)
        if not line.endswith(b"\r\n"):
            return "eof"
        if len(line) < 4 or line[3:4] != b"-":
            return line.decode(errors="replace").rstrip("\r\n")
    return "eof"


def message_bytes(tag: str, size: int) -> bytes:
    body = ("soak line with some text to make the message bigger " * 2)[:98] + "\r\n"
    lines = max(1, size // len(body))
    return (f"From: soak@example.test\r\nTo: sink@example.test\r\nSubject: {tag}\r\n"
            f"Message-ID: <{tag}@soak.example>\r\n\r\n" + body * lines).encode()


async def worker(wid: int, quota: int, port: int, size: int, outcomes: dict, stats: Counter):
    n = 0
    while n < quota:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            stats["connect_failed"] += 1
            await asyncio.sleep(0.05)
            continue
        stats["connections"] += 1
        try:
            banner = await read_reply(reader)
            if not banner.startswith("220"):
                stats["banner_" + banner[:3]] += 1
                continue
            writer.write(b"EHLO soak.example\r\n")
            if not (await read_reply(reader)).startswith("250"):
                continue
            async def step(line: bytes, expect: str, tag: str, stage: str) -> str:
                """Sends one command: "ok", or "next" (the message failed here), or "close"."""
                writer.write(line)
                r = await read_reply(reader)
                if r.startswith(expect):
                    return "ok"
                outcomes[tag] = f"{stage} {r[:3]}"
                return "close" if r == "eof" or r.startswith("421") else "next"

            while n < quota:
                tag = f"soak-{wid}-{n}"
                n += 1
                verdict = await step(b"MAIL FROM:<soak@example.test>\r\n", "250", tag, "mail")
                if verdict == "ok":
                    verdict = await step(b"RCPT TO:<sink@example.test>\r\n", "250", tag, "rcpt")
                    if verdict == "next":
                        writer.write(b"RSET\r\n")
                        if not (await read_reply(reader)).startswith("250"):
                            break
                if verdict == "ok":
                    verdict = await step(b"DATA\r\n", "354", tag, "data")
                if verdict == "ok":
                    writer.write(message_bytes(tag, size) + b".\r\n")
                    r = await read_reply(reader)
                    outcomes[tag] = "accepted" if r.startswith("2") else "message " + r[:3]
                    verdict = "close" if r == "eof" or r.startswith("421") else "ok"
                if verdict == "close":
                    break
            else:
                writer.write(b"QUIT\r\n")
                await read_reply(reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
            stats["error_" + type(e).__name__] += 1
            # The message in flight (if any) has an outcome only if its reply arrived.
            tag = f"soak-{wid}-{n - 1}"
            outcomes.setdefault(tag, "eof")
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


async def drive(port: int, messages: int, connections: int, size: int):
    outcomes: dict[str, str] = {}
    stats: Counter = Counter()
    per = messages // connections
    quotas = [per + (1 if i < messages % connections else 0) for i in range(connections)]
    await asyncio.gather(*(worker(i, q, port, size, outcomes, stats)
                           for i, q in enumerate(quotas)))
    return outcomes, stats


def stored_tags(spool: Path) -> Counter:
    tags: Counter = Counter()
    for p in spool.glob("*.eml"):
        with p.open("rb") as f:
            head = f.read(300)
        m = re.search(rb"Subject: (soak-\d+-\d+)\r\n", head)
        tags[m.group(1).decode() if m else f"unknown:{p.name}"] += 1
    return tags


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--size", type=int, default=1000, help="approximate message size in octets")
    ap.add_argument("--max-messages", type=int, default=1000, help="the server's store bound")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--bin", default=os.environ.get("SMTPMOCK_BIN",
                                                    str(HERE.parent / "build/server/app/smtpmock")))
    ap.add_argument("--keep-spool", help="spool here and keep it (default: a temporary dir)")
    args = ap.parse_args()

    spool = Path(args.keep_spool or tempfile.mkdtemp(prefix="smtpmock-soak-"))
    spool.mkdir(parents=True, exist_ok=True)
    server = Server(args.bin, spool, args.max_messages, args.threads)
    rss: list[tuple[float, int]] = []
    done = threading.Event()
    start = time.monotonic()

    def sample() -> None:
        while not done.wait(0.5):
            rss.append((time.monotonic() - start, read_rss_kib(server.proc.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    outcomes, stats = asyncio.run(drive(server.smtp_port, args.messages, args.connections,
                                        args.size))
    elapsed = time.monotonic() - start
    done.set()
    sampler.join(2)
    api_total = server.api("/api/v1/messages?limit=1")["total"]
    rc = server.stop()

    accepted = {t for t, o in outcomes.items() if o == "accepted"}
    stored = stored_tags(spool)
    lost = sorted(accepted - set(stored))
    duplicated = sorted(t for t, c in stored.items() if c > 1)
    unexpected = sorted(set(stored) - accepted)
    spool_bytes = sum(p.stat().st_size for p in spool.iterdir() if p.is_file())
    eml_bytes = sum(p.stat().st_size for p in spool.glob("*.eml"))
    kinds = Counter(outcomes.values())

    print(f"soak: {args.messages} messages over {args.connections} kept connections "
          f"in {elapsed:.1f} s ({args.messages / elapsed:.0f} msg/s)")
    print(f"  attempted:   {len(outcomes)}")
    print(f"  250s:        {len(accepted)}")
    print(f"  stored:      {sum(stored.values())} (spool), API total {api_total} "
          f"(store bound {args.max_messages})")
    print(f"  lost:        {len(lost)}")
    print(f"  duplicated:  {len(duplicated)}")
    print(f"  unexpected:  {len(unexpected)} (stored without a 250)")
    print("  outcomes:    " + ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items())))
    print(f"  connections: {stats['connections']} ("
          + ", ".join(f"{k} x{v}" for k, v in sorted(stats.items()) if k != "connections")
          + ")")
    n = max(1, sum(stored.values()))
    print(f"  spool:       {spool_bytes} bytes, {spool_bytes / n:.0f} per stored message "
          f"({eml_bytes / n:.0f} of it the .eml)")
    if rss:
        marks = [rss[int(len(rss) * f)] for f in (0.1, 0.25, 0.5, 0.75) if int(len(rss) * f) < len(rss)]
        marks.append(rss[-1])
        print("  RSS (KiB):   " + "  ".join(f"{t:.0f}s:{kb}" for t, kb in marks) +
              f"  peak {max(kb for _, kb in rss)}")
    print(f"  server exit: {rc}")
    for name, items in (("lost", lost), ("duplicated", duplicated), ("unexpected", unexpected)):
        if items:
            print(f"  {name} (first 10): {items[:10]}")
    if not args.keep_spool:
        shutil.rmtree(spool, ignore_errors=True)
    ok = not lost and not duplicated and not unexpected and rc == 0 and len(outcomes) == args.messages
    print("soak: OK" if ok else "soak: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
