#!/usr/bin/python3
"""Side-by-side benchmark: smtpmock against Postfix's smtp-sink (and aiosmtpd when importable),
all in one run, driven by Postfix's smtp-source over 127.0.0.1. Prints a Markdown report (goal
table plus per-server messages/s and peak RSS) and writes it to bench/RESULTS.md.

Cases (each repeated --reps times, a fresh server per repetition, medians reported):
  kept-1k          50 sessions, --messages msgs of 1 KiB, connections kept (smtp-source -d)
  conn-per-msg-1k  50 sessions, --messages msgs of 1 KiB, one connection per message
  kept-100k        10 sessions, --messages/10 msgs of 100 KiB, kept
      metric: server CPU seconds per 1,000 messages (utime+stime of /proc/PID/stat, read
      before and after the drive); also messages/s and peak RSS (VmHWM)
  idle-N           N sessions past banner and EHLO; (VmRSS after - VmRSS before) / N, and the
                   latency of a full smtplib transaction (connect to QUIT) meanwhile
  ready            smtpmock only: exec to the ready line on stderr, median of 10 starts
  rules-50         smtpmock kept-1k with --messages/2 msgs: bench/rules-50.yaml (50 rules that
                   never match) against the default scenario, CPU-s per 1k and the % difference

Usage: bench/compare.py [--quick] [--messages N] [--reps N] [--idle N,N] [--cases a,b]
                        [--servers a,b] [--output FILE]
SMTPMOCK_BIN names the smtpmock binary (default build/server/app/smtpmock); copy it elsewhere
first when the build directory is being rebuilt. Needs smtp-source and smtp-sink (apt: postfix;
the Postfix daemon is never started). Only 127.0.0.1 and ephemeral ports are used; every server
started is stopped again, also on errors and on SIGINT/SIGTERM. Python standard library only.
A failing server or driver puts its error in that table cell instead of stopping the run.
"""

from __future__ import annotations

import argparse
import atexit
import datetime
import os
import re
import resource
import shutil
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RULES_50 = HERE / "rules-50.yaml"
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"
SENDER, RECIPIENT = "bench@example.test", "sink@example.test"
START_TIMEOUT = 15.0     # seconds for a server to be ready
IO_TIMEOUT = 10.0        # seconds for any one socket operation of the idle case
STOP_TIMEOUT = 5.0       # seconds between SIGTERM and SIGKILL
MIN_AVAILABLE_MIB = 1024 # the idle case stops opening sessions below this much free memory

SERVERS = ("smtp-sink", "aiosmtpd", "smtpmock")
ALL_CASES = ("kept-1k", "conn-per-msg-1k", "kept-100k", "idle", "ready", "rules-50")
LIVE: set[subprocess.Popen] = set()   # every server process not yet reaped


class BenchError(Exception):
    """A server or driver failure; its text goes into the table cell."""


# ---------------------------------------------------------------------------------------- /proc

def cpu_seconds(pid: int) -> float:
    """utime + stime (fields 14 and 15 of /proc/PID/stat) of the whole process, in seconds."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError as e:
        raise BenchError(f"server gone ({e.strerror})") from None
    fields = stat[stat.rindex(")") + 2:].split()   # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError as e:
        raise BenchError(f"server gone ({e.strerror})") from None
    raise BenchError(f"no {key} in /proc/{pid}/status")


# -------------------------------------------------------------------------------------- servers

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)
        except ProcessLookupError:
            pass
    LIVE.discard(proc)


def stop_all() -> None:
    for proc in list(LIVE):
        stop_process(proc)


def child_env() -> dict:
    """Our environment without SMTPMOCK_* (every smtpmock flag has an environment twin)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SMTPMOCK_")}


class Server:
    """One server process on 127.0.0.1; a context manager that always stops it."""

    name = "?"

    def __init__(self, opts: argparse.Namespace, scenario: Path | None = None):
        self.opts, self.scenario = opts, scenario
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.tail: list[str] = []   # last stderr lines, for error messages

    def __enter__(self) -> "Server":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def popen(self, cmd: list[str], **kw) -> None:
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, env=child_env(), **kw)
        except OSError as e:
            raise BenchError(f"cannot start {cmd[0]}: {e.strerror}") from None
        LIVE.add(self.proc)

    def drain(self, ready: threading.Event | None = None, found: list | None = None) -> None:
        """Reads stderr until EOF (so the pipe never fills), keeping the last lines."""
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode(errors="replace").rstrip()
            self.tail = (self.tail + [line])[-5:]
            if ready is not None and not ready.is_set():
                m = re.search(r"smtp=127\.0\.0\.1:(\d+)", line)
                if m and "ready" in line:
                    found.append(int(m.group(1)))
                    ready.set()
        if ready is not None:
            ready.set()   # EOF: wake the waiter, which sees no port

    def start_drain(self) -> None:
        threading.Thread(target=self.drain, daemon=True).start()

    def wait_port(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited {self.proc.returncode}: {self.why()}")
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise BenchError(f"{self.name}: nothing listening on {self.port} after {START_TIMEOUT:.0f} s")

    def why(self) -> str:
        time.sleep(0.1)
        return " / ".join(self.tail[-2:]) or "no output"

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise BenchError(f"{self.name} died (exit {self.proc.returncode}): {self.why()}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


class SmtpMock(Server):
    name = "smtpmock"

    def command(self, port: int = 0) -> list[str]:
        cmd = [str(self.opts.bin), "serve", "--smtp-listen", f"{HOST}:{port}", "--http-listen",
               "off", "--max-connections", "20000", "--log-level", "warn", "--max-messages",
               "1000"]
        if self.scenario is not None:
            cmd += ["--scenario", str(self.scenario)]
        return cmd

    def start(self) -> None:
        self.popen(self.command())
        ready, found = threading.Event(), []
        threading.Thread(target=self.drain, args=(ready, found), daemon=True).start()
        if not ready.wait(START_TIMEOUT) or not found:
            code = self.proc.poll()
            state = f"exited {code}" if code is not None else f"not ready in {START_TIMEOUT:.0f} s"
            raise BenchError(f"smtpmock {state}: {self.why()}")
        self.port = found[0]


class SmtpSink(Server):
    name = "smtp-sink"

    def start(self) -> None:
        self.port = free_port()
        # As bench/run.sh: -c (running counters, to /dev/null here; measured to cost it no
        # CPU worth noting). -m: the default of 256 simultaneous connections would leave the
        # idle case's sessions unanswered in the kernel's queue. -u is required (only) as root.
        cmd = ["smtp-sink"] + (["-u", "nobody"] if os.geteuid() == 0 else [])
        cmd += ["-c", "-m", "20000", f"{HOST}:{self.port}", "1000"]
        self.popen(cmd)
        self.start_drain()
        self.wait_port()


class Aiosmtpd(Server):
    name = "aiosmtpd"

    def start(self) -> None:
        self.port = free_port()
        # The Sink handler discards messages; the default (Debugging) prints every one.
        self.popen([sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
                    "-l", f"{HOST}:{self.port}"])
        self.start_drain()
        self.wait_port()


SERVER_CLASSES = {"smtp-sink": SmtpSink, "aiosmtpd": Aiosmtpd, "smtpmock": SmtpMock}


# -------------------------------------------------------------------------------------- drivers

def drive(server: Server, sessions: int, messages: int, size: int, keep: bool) -> dict:
    """smtp-source against the server; returns CPU-s per 1k messages, messages/s, peak RSS."""
    cmd = ["smtp-source", "-s", str(sessions), "-m", str(messages), "-l", str(size),
           "-f", SENDER, "-t", RECIPIENT] + (["-d"] if keep else []) + [f"{HOST}:{server.port}"]
    timeout = max(60.0, messages / 50.0)
    cpu0 = cpu_seconds(server.pid)
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"smtp-source timed out after {timeout:.0f} s") from None
    wall = time.perf_counter() - t0
    cpu1 = cpu_seconds(server.pid)
    server.alive()
    if r.returncode != 0:
        err = r.stderr.decode(errors="replace").strip().splitlines()
        raise BenchError(f"smtp-source exit {r.returncode}: {err[-1] if err else 'no output'}")
    return {"cpu": (cpu1 - cpu0) / messages * 1000.0, "rate": messages / wall,
            "hwm": status_kib(server.pid, "VmHWM"), "wall": wall}


def read_reply(sock: socket.socket) -> bytes:
    """Reads one (possibly multi-line) SMTP reply; raises on EOF, timeout or garbage."""
    buf = b""
    while True:
        lines = buf.split(b"\r\n")
        for line in lines[:-1]:
            if len(line) >= 4 and line[:3].isdigit() and line[3:4] == b" ":
                return buf
            if not (len(line) >= 3 and line[:3].isdigit()):
                raise BenchError(f"bad reply line {line[:40]!r}")
        if len(buf) > 65536:
            raise BenchError("reply too long")
        chunk = sock.recv(4096)
        if not chunk:
            raise BenchError("connection closed" + (f" after {buf[:40]!r}" if buf else ""))
        buf += chunk


def full_transaction(port: int) -> float:
    """A normal client: connect, EHLO, MAIL, RCPT, DATA, QUIT with smtplib; milliseconds."""
    msg = (f"From: {SENDER}\r\nTo: {RECIPIENT}\r\nSubject: latency probe\r\n\r\n"
           "hello\r\n").encode()
    t0 = time.perf_counter()
    with smtplib.SMTP(HOST, port, local_hostname="client.example", timeout=IO_TIMEOUT) as c:
        c.sendmail(SENDER, [RECIPIENT], msg)
    return (time.perf_counter() - t0) * 1000.0


def mem_available_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return 1 << 30


def idle(server: Server, n: int) -> dict:
    """n sessions past banner and EHLO: KiB of server RSS per session, and a client's latency.

    The base is taken after one full transaction has come and gone: the code a session runs
    is then paged in (for smtpmock about 0.5 MiB of its binary's file-backed text, once per
    process, not per session), so the figure is what each further session costs."""
    try:
        full_transaction(server.port)
    except (OSError, smtplib.SMTPException) as e:
        raise BenchError(f"warm-up transaction: {e}") from None
    time.sleep(0.2)
    base = status_kib(server.pid, "VmRSS")
    socks: list[socket.socket] = []
    deadline = time.monotonic() + 30 + n * 0.02
    try:
        for i in range(n):
            if time.monotonic() > deadline:
                raise BenchError(f"opening {n} sessions took too long ({i} open)")
            if i % 200 == 0 and mem_available_mib() < MIN_AVAILABLE_MIB:
                raise BenchError(f"stopped at {i} sessions: MemAvailable below "
                                 f"{MIN_AVAILABLE_MIB} MiB")
            try:
                s = socket.create_connection((HOST, server.port), timeout=IO_TIMEOUT)
                socks.append(s)
                banner = read_reply(s)
                if not banner.startswith(b"220"):
                    raise BenchError(f"session {i + 1}: banner {banner[:40]!r}")
                s.sendall(b"EHLO bench.example\r\n")
                ehlo = read_reply(s)
                if not ehlo.startswith(b"250"):
                    raise BenchError(f"session {i + 1}: EHLO got {ehlo[:40]!r}")
            except OSError as e:
                raise BenchError(f"session {i + 1} of {n}: {e}") from None
        time.sleep(0.5)
        server.alive()
        rss = status_kib(server.pid, "VmRSS")
        latencies = []
        for _ in range(5):
            try:
                latencies.append(full_transaction(server.port))
            except (OSError, smtplib.SMTPException) as e:
                raise BenchError(f"client transaction with {n} idle: {e}") from None
        return {"kib": (rss - base) / n, "lat": statistics.median(latencies),
                "lat_max": max(latencies), "rss0": base, "rss1": rss}
    finally:
        for s in socks:
            s.close()


def ready_ms(opts: argparse.Namespace) -> float:
    """Time from Popen (exec) to the ready line on smtpmock's stderr, in milliseconds."""
    mock = SmtpMock(opts)
    cmd = mock.command(0)
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=child_env())
    except OSError as e:
        raise BenchError(f"cannot start smtpmock: {e.strerror}") from None
    LIVE.add(proc)
    watchdog = threading.Timer(START_TIMEOUT, proc.kill)   # readline returns at EOF then
    watchdog.start()
    try:
        lines = []
        for _ in range(50):
            raw = proc.stderr.readline()
            if not raw:
                break
            line = raw.decode(errors="replace")
            if "ready" in line and "smtp=127.0.0.1:" in line:
                return (time.perf_counter() - t0) * 1000.0
            lines.append(line.rstrip())
        raise BenchError(f"no ready line: {' / '.join(lines[-2:]) or 'no output'}")
    finally:
        watchdog.cancel()
        stop_process(proc)
        proc.stderr.close()


# ---------------------------------------------------------------------------------------- cases

def median_of(reps: list[dict]) -> dict:
    out = {k: statistics.median(r[k] for r in reps) for k in reps[0]}
    out["reps"] = reps
    return out


def run_reps(opts, servers, fn, label: str) -> dict:
    """fn(server) per repetition and server, interleaved (rep 1 of every server, rep 2, ...)
    so that drift on a shared machine hits every server alike. Returns {server: dict|str}."""
    reps: dict[str, list] = {s: [] for s in servers}
    errors: dict[str, str] = {}
    for rep in range(opts.reps):
        for name in servers:
            if name in errors:
                continue
            t0 = time.monotonic()
            try:
                with SERVER_CLASSES[name](opts) as server:
                    reps[name].append(fn(server))
                log(f"{label:<16} {name:<9} rep {rep + 1}/{opts.reps}: {brief(reps[name][-1])}"
                    f"  ({time.monotonic() - t0:.1f} s)")
            except BenchError as e:
                errors[name] = str(e)
                log(f"{label:<16} {name:<9} rep {rep + 1}/{opts.reps}: ERROR {e}")
    return {s: errors[s] if s in errors else median_of(reps[s]) for s in servers}


def brief(r: dict) -> str:
    if "cpu" in r:
        return f"{r['cpu']:.4f} CPU-s/1k, {r['rate']:.0f} msg/s, HWM {r['hwm'] / 1024:.1f} MiB"
    return f"{r['kib']:.2f} KiB/session, client {r['lat']:.1f} ms"


def case_rules(opts) -> dict:
    """smtpmock kept-1k with the 50-rule scenario and the default one, interleaved."""
    n = max(opts.messages // 2, 100)
    res = {"default": [], "rules-50": []}
    for rep in range(opts.reps):
        for label, scenario in (("default", None), ("rules-50", RULES_50)):
            with SmtpMock(opts, scenario) as server:
                res[label].append(drive(server, 50, n, 1024, keep=True))
            log(f"{'rules-50':<16} {label:<9} rep {rep + 1}/{opts.reps}: {brief(res[label][-1])}")
    d, r = median_of(res["default"]), median_of(res["rules-50"])
    return {"default": d, "rules": r, "pct": (r["cpu"] - d["cpu"]) / d["cpu"] * 100.0, "n": n}


# --------------------------------------------------------------------------------------- report

def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def sh(cmd: list[str]) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=20, cwd=REPO)
        return (r.stdout.strip() or r.stderr.strip()).splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "?"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def fmt(x: float, digits: int = 3) -> str:
    if x == 0:
        return "0"
    return f"{x:.{max(digits - 1 - int(f'{abs(x):e}'.split('e')[1]), 0)}f}"


def cell(res, key: str, unit: str = "") -> str:
    if res is None:
        return "—"
    if isinstance(res, str):
        return f"error: {res}".replace("|", "/")
    return fmt(res[key]) + unit


def goal_row(case, metric, res, goal_txt, check, ratio=True, key="cpu", unit=""):
    """One row of the goal table. check(smtpmock_value, ratio) -> bool."""
    sink, aio, mock = (res.get(s) if res else None for s in SERVERS)
    ok_mock = isinstance(mock, dict)
    r = None
    if ratio and ok_mock and isinstance(sink, dict) and sink[key] > 0:
        r = mock[key] / sink[key]
    met = "n/a"
    if ok_mock and (r is not None or not ratio):
        met = "yes" if check(mock[key], r) else "**no**"
    return (f"| {case} ({metric}) | {cell(sink, key, unit)} | {cell(aio, key, unit)} | "
            f"{cell(mock, key, unit)} | {fmt(r) if r is not None else '—'} | {goal_txt} | {met} |")


def report(opts, results: dict, meta: dict) -> str:
    out = [f"# smtpmock vs smtp-sink vs aiosmtpd", "",
           f"Generated by `{meta['command']}` ({'quick smoke run' if opts.quick else 'full run'}).", "",
           "| | |", "|---|---|"]
    for k in ("date", "uname -srm", "nproc", "CPU", "smtpmock", "smtpmock binary", "git commit",
              "smtp-sink", "aiosmtpd", "python", "load average (start / end)", "run time"):
        out.append(f"| {k} | {str(meta.get(k, '?')).replace('|', '/')} |")
    out += ["", f"Medians of {opts.reps} repetition(s), a fresh server for each; repetitions of "
            "the servers interleaved. Driver: Postfix `smtp-source` (client and servers share "
            "the machine's cores). CPU is the server process's utime+stime from /proc/PID/stat "
            "over the drive, per 1,000 messages (resolution one clock tick, "
            f"1/{CLK_TCK} s, over the whole drive); the ratio is smtpmock / smtp-sink.", "",
            "| case | smtp-sink | aiosmtpd | smtpmock | smtpmock/smtp-sink ratio | goal | met? |",
            "|---|---|---|---|---|---|---|"]
    m, big = opts.messages, max(opts.messages // 10, 10)
    cases = [("kept-1k", f"CPU-s/1k msgs; 50 sessions × {m:,} msgs × 1 KiB, kept", "≤ 1.0", 1.0),
             ("conn-per-msg-1k", f"CPU-s/1k msgs; 50 sessions × {m:,} msgs, 1 conn/msg", "≤ 1.2", 1.2),
             ("kept-100k", f"CPU-s/1k msgs; 10 sessions × {big:,} msgs × 100 KiB, kept", "≤ 1.0", 1.0)]
    for case, metric, goal_txt, lim in cases:
        if case in results:
            out.append(goal_row(case, metric, results[case], f"ratio {goal_txt}",
                                lambda v, r, lim=lim: r <= lim))
    for n in opts.idle_n:
        key = f"idle-{n}"
        if key in results:
            res = results[key]
            out.append(goal_row(key, "KiB of RSS per idle session after EHLO", res,
                                "smtpmock ≤ 8 KiB/session", lambda v, r: v <= 8.0, key="kib"))
            out.append(goal_row(key, f"ms for a full smtplib transaction with {n:,} idle", res,
                                "smtpmock < 100 ms" + ("" if n >= 10000 else " (goal is at 10,000)"),
                                lambda v, r: v < 100.0, ratio=False, key="lat"))
    for note in results.get("idle-notes", []):
        out.append(f"| idle ({note}) | — | — | — | — | — | n/a |")
    if "ready" in results:
        rd = results["ready"]
        val = cell(rd, "ms", " ms")
        if isinstance(rd, dict):
            val += f" (min {fmt(rd['min'])}, max {fmt(rd['max'])}, n={rd['n']})"
        met = "n/a" if not isinstance(rd, dict) else ("yes" if rd["ms"] <= 10 else "**no**")
        out.append(f"| ready (ms from exec to the ready line) | — | — | {val} | — | ≤ 10 ms | {met} |")
    if "rules-50" in results:
        rr = results["rules-50"]
        if isinstance(rr, dict):
            val = (f"{fmt(rr['default']['cpu'])} → {fmt(rr['rules']['cpu'])} CPU-s/1k "
                   f"({rr['pct']:+.1f} %)")
            met = "yes" if rr["pct"] <= 5.0 else "**no**"
        else:
            val, met = cell(rr, ""), "n/a"
        n = rr["n"] if isinstance(rr, dict) else max(opts.messages // 2, 100)
        out.append(f"| rules-50 (CPU-s/1k, default → 50 non-matching rules; kept, {n:,} msgs) "
                   f"| — | — | {val} | — | ≤ +5 % | {met} |")

    out += ["", "Throughput and memory of the same runs (medians; CPU min–max over the "
            "repetitions):", "",
            "| case | server | CPU-s/1k msgs (min–max) | messages/s | peak RSS (VmHWM) |",
            "|---|---|---|---|---|"]
    for case in ("kept-1k", "conn-per-msg-1k", "kept-100k"):
        for name in SERVERS:
            res = results.get(case, {}).get(name)
            if res is None:
                continue
            if isinstance(res, str):
                out.append(f"| {case} | {name} | {cell(res, '')} | — | — |")
                continue
            cpus = [r["cpu"] for r in res["reps"]]
            out.append(f"| {case} | {name} | {fmt(res['cpu'])} ({fmt(min(cpus))}–{fmt(max(cpus))})"
                       f" | {res['rate']:,.0f} | {res['hwm'] / 1024:.1f} MiB |")
    if isinstance(results.get("rules-50"), dict):
        rr = results["rules-50"]
        for label, key in (("default", "default"), ("rules-50.yaml", "rules")):
            res = rr[key]
            cpus = [r["cpu"] for r in res["reps"]]
            out.append(f"| rules-50 | smtpmock, {label} | {fmt(res['cpu'])} "
                       f"({fmt(min(cpus))}–{fmt(max(cpus))}) | {res['rate']:,.0f} | "
                       f"{res['hwm'] / 1024:.1f} MiB |")
    idle_rows = []
    for n in opts.idle_n:
        for name in SERVERS:
            res = results.get(f"idle-{n}", {}).get(name)
            if isinstance(res, dict):
                idle_rows.append(f"| idle-{n} | {name} | {res['rss0'] / 1024:.1f} MiB | "
                                 f"{res['rss1'] / 1024:.1f} MiB | {fmt(res['lat'])} ms "
                                 f"(max {fmt(res['lat_max'])}) |")
    if idle_rows:
        out += ["", "Idle sessions (medians): server RSS before and with the sessions open (before: "
                "after one warm-up transaction, so the code a session runs is already paged in), "
                "and the smtplib client's latency (median and max of 5 transactions):", "",
                "| case | server | RSS before | RSS with sessions | client transaction |",
                "|---|---|---|---|---|"] + idle_rows
    out += ["", "Notes: smtp-sink runs with `-c -m 20000` (its default of 256 simultaneous sessions "
            "would leave idle sessions unanswered) and aiosmtpd with `-c aiosmtpd.handlers.Sink` "
            "(the default handler prints every message). smtpmock runs with `--http-listen off "
            "--max-connections 20000 --log-level warn --max-messages 1000` and keeps every "
            "message and transcript in memory, which the other two do not. Figures depend on the "
            "machine and on what else runs on it: compare the columns of one run."]
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------------- main

def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2,000 messages, 1 repetition, idle N=200; writes no file "
                        "unless --output is given")
    p.add_argument("--messages", type=int, help="messages of the 1 KiB cases (default 20000; "
                   "kept-100k sends a tenth, rules-50 half)")
    p.add_argument("--reps", type=int, help="repetitions per case (default 3)")
    p.add_argument("--idle", help="comma-separated idle session counts (default 1000,10000)")
    p.add_argument("--cases", default=",".join(ALL_CASES), help="subset of " + ",".join(ALL_CASES))
    p.add_argument("--servers", default=",".join(SERVERS), help="subset of " + ",".join(SERVERS))
    p.add_argument("--output", help="report file (default bench/RESULTS.md; none with --quick)")
    o = p.parse_args()
    o.messages = o.messages or (2000 if o.quick else 20000)
    o.reps = o.reps or (1 if o.quick else 3)
    o.idle_n = [int(x) for x in (o.idle or ("200" if o.quick else "1000,10000")).split(",") if x]
    o.cases = [c for c in o.cases.split(",") if c]
    o.servers = [s for s in SERVERS if s in o.servers.split(",")]
    for c in o.cases:
        if c not in ALL_CASES:
            p.error(f"unknown case {c!r}")
    if o.messages < 10 or o.reps < 1 or any(n < 1 for n in o.idle_n):
        p.error("--messages must be ≥ 10, --reps ≥ 1, idle counts ≥ 1")
    if o.output is None and not o.quick:
        o.output = str(HERE / "RESULTS.md")
    binary = Path(os.environ.get("SMTPMOCK_BIN") or REPO / "build/server/app/smtpmock")
    o.bin = binary.resolve()
    return o


def main() -> int:
    opts = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    atexit.register(stop_all)
    t_start = time.monotonic()
    for tool in ("smtp-source", "smtp-sink"):
        if shutil.which(tool) is None:
            log(f"compare: {tool} not found (apt-get install postfix)")
            return 2
    if "aiosmtpd" in opts.servers:
        try:
            import aiosmtpd  # noqa: F401
        except ImportError:
            log("compare: aiosmtpd is not importable; its column stays empty")
            opts.servers.remove("aiosmtpd")
    # The idle case needs a descriptor per session in this process and in the server (which
    # inherits the limit): raise the soft limit to the hard one.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]

    version = sh([str(opts.bin), "--version"])
    meta = {
        "command": " ".join(["bench/compare.sh"] + sys.argv[1:]),
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "uname -srm": sh(["uname", "-srm"]), "nproc": sh(["nproc"]), "CPU": cpu_model(),
        "smtpmock": f"`{version}`", "smtpmock binary": f"`{opts.bin}`",
        "git commit": sh(["git", "rev-parse", "--short=12", "HEAD"]) + (
            " (working tree has uncommitted changes)"
            if sh(["git", "status", "--porcelain", "--untracked-files=no"]) not in ("", "?") else ""),
        "smtp-sink": "Postfix " + sh(["dpkg-query", "-W", "-f=${Version}", "postfix"]),
        "aiosmtpd": (sh([sys.executable, "-m", "aiosmtpd", "--version"])
                     if "aiosmtpd" in opts.servers else "not importable"),
        "python": sys.version.split()[0],
    }
    load0 = Path("/proc/loadavg").read_text().split()[0]
    log(f"compare: {version}, binary {opts.bin}; {opts.messages} messages, {opts.reps} rep(s), "
        f"idle {opts.idle_n}, servers {opts.servers}")

    results: dict = {}
    srv = opts.servers
    big = max(opts.messages // 10, 10)
    try:
        if "kept-1k" in opts.cases:
            results["kept-1k"] = run_reps(opts, srv, lambda s: drive(s, 50, opts.messages, 1024, True),
                                          "kept-1k")
        if "conn-per-msg-1k" in opts.cases:
            results["conn-per-msg-1k"] = run_reps(
                opts, srv, lambda s: drive(s, 50, opts.messages, 1024, False), "conn-per-msg-1k")
        if "kept-100k" in opts.cases:
            results["kept-100k"] = run_reps(opts, srv, lambda s: drive(s, 10, big, 102400, True),
                                            "kept-100k")
        if "idle" in opts.cases:
            results["idle-notes"] = []
            for n in opts.idle_n:
                if n + 200 > nofile:
                    note = f"N={n} skipped: RLIMIT_NOFILE hard limit {nofile} is too low"
                    results["idle-notes"].append(note)
                    log("idle: " + note)
                    continue
                results[f"idle-{n}"] = run_reps(opts, srv, lambda s, n=n: idle(s, n), f"idle-{n}")
        if "ready" in opts.cases and "smtpmock" in srv:
            try:
                times = [ready_ms(opts) for _ in range(10)]
                results["ready"] = {"ms": statistics.median(times), "min": min(times),
                                    "max": max(times), "n": len(times)}
                log(f"ready: median {results['ready']['ms']:.2f} ms of {len(times)}")
            except BenchError as e:
                results["ready"] = str(e)
                log(f"ready: ERROR {e}")
        if "rules-50" in opts.cases and "smtpmock" in srv:
            try:
                results["rules-50"] = case_rules(opts)
                log(f"rules-50: {results['rules-50']['pct']:+.1f} %")
            except BenchError as e:
                results["rules-50"] = str(e)
                log(f"rules-50: ERROR {e}")
    finally:
        stop_all()

    elapsed = time.monotonic() - t_start
    meta["load average (start / end)"] = f"{load0} / {Path('/proc/loadavg').read_text().split()[0]}"
    meta["run time"] = f"{elapsed:.0f} s ({elapsed / 60:.1f} min)"
    text = report(opts, results, meta)
    print(text, end="")
    if opts.output:
        Path(opts.output).write_text(text)
        log(f"compare: wrote {opts.output} ({elapsed:.0f} s)")
    # A goal not met is a figure to report; smtpmock failing to run a case is a broken bench.
    broken = [case for case, r in results.items()
              if isinstance(r, str) or (isinstance(r, dict) and isinstance(r.get("smtpmock"), str))]
    if broken:
        log(f"compare: smtpmock failed in {', '.join(broken)}")
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        stop_all()
        sys.exit(130)
