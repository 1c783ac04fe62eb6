"""Fixtures for smtpmock's end-to-end tests: the real binary on 127.0.0.1, an ephemeral port.

`smtpmock` starts a server with the bundled default scenario; `smtpmock_factory(...)` starts one
with extra flags or a scenario (a bundled name, a path, or YAML text written to a temporary
file). Each server spools to its own directory; `server.wait_messages(n)` waits (bounded) for
the spool to hold n messages and returns them parsed (envelope JSON + raw .eml bytes).

Every wait here is bounded in time and count; only 127.0.0.1 is ever used.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

HERE = Path(__file__).resolve().parent
SOURCE_DIR = Path(os.environ.get("SMTPMOCK_SOURCE_DIR", HERE.parent.parent))
BINARY = Path(os.environ.get("SMTPMOCK_BIN", SOURCE_DIR / "build" / "server" / "app" / "smtpmock"))

READY_TIMEOUT = 10.0  # seconds until the ready line must appear
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL on teardown
# The ready line's addresses: `smtp=ADDR:PORT` in text logs, `"smtp":"ADDR:PORT"` in JSON logs.
READY_RE = re.compile(r"smtp(?:=|\":\")([0-9.]+|\[[0-9a-f:]+\]):(\d+)")
SMTPS_RE = re.compile(r"smtps(?:=|\":\")([0-9.]+|\[[0-9a-f:]+\]):(\d+)")  # only with --smtps-listen
HTTP_RE = re.compile(r"http(?:=|\":\")([0-9.]+|\[[0-9a-f:]+\]):(\d+)")  # absent with --http-listen off
MAX_STDERR_LINES = 100_000  # the reader keeps at most this many lines


@dataclass
class StoredMessage:
    """One spooled message: <id>.json parsed, <id>.eml raw."""

    meta: dict
    raw: bytes

    @property
    def id(self) -> str:
        return self.meta["ID"]

    @property
    def envelope(self) -> dict:
        return self.meta["Envelope"]

    @property
    def mail_from(self) -> str:
        return self.envelope["MailFrom"]

    @property
    def recipients(self) -> list[str]:
        return [r["Address"] for r in self.envelope["Recipients"]]

    @property
    def headers(self) -> bytes:
        """The header section, up to (not including) the first empty line."""
        head, _, _ = self.raw.partition(b"\r\n\r\n")
        return head

    @property
    def body(self) -> bytes:
        """Everything after the first empty line (CRLF CRLF)."""
        _, sep, body = self.raw.partition(b"\r\n\r\n")
        assert sep, f"message {self.id} has no header/body separator: {self.raw[:200]!r}"
        return body


def _stderr_reader(stream, lines: list[str], lock: threading.Lock, ready: threading.Event,
                   found: dict) -> None:
    """Collects stderr lines; flags the ready line and the bound SMTP address."""
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        with lock:
            if len(lines) < MAX_STDERR_LINES:
                lines.append(line)
        if not ready.is_set() and "smtpmock ready" in line:
            m = READY_RE.search(line)
            if m:
                found["host"] = m.group(1).strip("[]")
                found["port"] = int(m.group(2))
            m = SMTPS_RE.search(line)
            if m:
                found["smtps_host"] = m.group(1).strip("[]")
                found["smtps_port"] = int(m.group(2))
            m = HTTP_RE.search(line)
            if m:
                found["http_host"] = m.group(1).strip("[]")
                found["http_port"] = int(m.group(2))
            ready.set()
    stream.close()


class SmtpMockServer:
    """A running `smtpmock serve` process and its spool."""

    def __init__(self, args: list[str], spool: Path, cwd: Path):
        self.args = args
        self.spool = spool
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._found: dict = {}
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            cwd=cwd)
        self._reader = threading.Thread(
            target=_stderr_reader,
            args=(self.proc.stderr, self._lines, self._lock, self._ready, self._found),
            daemon=True)
        self._reader.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self._reader.join(1.0)
                rc = self.proc.poll()
                self.stop()
                pytest.fail(f"smtpmock was not ready within {READY_TIMEOUT:.0f}s "
                            f"(exit code {rc}): {' '.join(map(str, args))}\n"
                            f"stderr:\n{self.stderr_text()}")
        if "port" not in self._found:
            self.stop()
            pytest.fail(f"ready line without smtp=ADDR:PORT:\n{self.stderr_text()}")
        self.host: str = self._found["host"]
        self.port: int = self._found["port"]
        assert self.host == "127.0.0.1", f"server bound {self.host}, tests use only 127.0.0.1"
        # The implicit-TLS listener (--smtps-listen), when the ready line names one.
        self.smtps_port: int | None = self._found.get("smtps_port")
        if self.smtps_port is not None:
            assert self._found["smtps_host"] == "127.0.0.1", "tests use only 127.0.0.1"
        # The HTTP API (--http-listen), when the ready line names it.
        self.http_port: int | None = self._found.get("http_port")
        if self.http_port is not None:
            assert self._found["http_host"] == "127.0.0.1", "tests use only 127.0.0.1"

    # --- process -------------------------------------------------------------------------

    def stderr_lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def stderr_text(self) -> str:
        return "\n".join(self.stderr_lines())

    def stop(self, grace: float = STOP_GRACE) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds; returns the exit code. Never asserts."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                try:
                    self.proc.wait(grace)
                except subprocess.TimeoutExpired:
                    pass
        self._reader.join(2.0)
        return self.proc.poll()

    # --- network -------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        """The HTTP API's base URL ("http://127.0.0.1:PORT")."""
        assert self.http_port is not None, "this server has no HTTP listener"
        return f"http://127.0.0.1:{self.http_port}"

    def connect(self, timeout: float = 10.0) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=timeout)

    # --- spool ---------------------------------------------------------------------------

    def _message_ids(self) -> list[str]:
        ids = []
        for p in self.spool.glob("*.json"):
            if p.name.startswith("session-") or p.name.startswith("."):
                continue
            if (self.spool / (p.stem + ".eml")).exists():
                ids.append(p.stem)
        return ids

    def messages(self) -> list[StoredMessage]:
        """Spooled messages, oldest first (by Received, then ID)."""
        out = []
        for mid in self._message_ids():
            meta = json.loads((self.spool / f"{mid}.json").read_text("utf-8"))
            raw = (self.spool / f"{mid}.eml").read_bytes()
            out.append(StoredMessage(meta, raw))
        out.sort(key=lambda m: (m.meta.get("Received", ""), m.id))
        return out

    def message_count(self) -> int:
        return len(self._message_ids())

    def wait_messages(self, n: int, timeout: float = 10.0) -> list[StoredMessage]:
        """Waits until at least n messages are spooled; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.message_count() < n:
            if time.monotonic() > deadline:
                pytest.fail(f"expected {n} spooled messages within {timeout}s, have "
                            f"{self.message_count()}: {sorted(os.listdir(self.spool))}")
            time.sleep(0.02)
        return self.messages()

    def sessions(self) -> list[dict]:
        """Spooled (ended) sessions, by Started."""
        out = [json.loads(p.read_text("utf-8")) for p in self.spool.glob("session-*.json")]
        out.sort(key=lambda s: (s.get("Started", ""), s.get("ID", "")))
        return out

    def wait_sessions(self, n: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(list(self.spool.glob("session-*.json"))) < n:
            if time.monotonic() > deadline:
                pytest.fail(f"expected {n} spooled sessions within {timeout}s: "
                            f"{sorted(os.listdir(self.spool))}")
            time.sleep(0.02)
        return self.sessions()

    def spool_bytes(self) -> bytes:
        """Every spooled file's contents, concatenated (for secret scans)."""
        return b"\n".join(p.read_bytes() for p in sorted(self.spool.iterdir()) if p.is_file())


def require_binary() -> None:
    if not BINARY.is_file() or not os.access(BINARY, os.X_OK):
        pytest.fail(f"smtpmock binary not found at {BINARY} (build it, or set SMTPMOCK_BIN)")


_serve_help: str | None = None


def _serve_supports(flag: str) -> bool:
    """Whether `smtpmock serve --help` lists `flag` (the HTTP listener may not exist yet)."""
    global _serve_help
    if _serve_help is None:
        try:
            r = subprocess.run([str(BINARY), "serve", "--help"], capture_output=True, timeout=10)
            _serve_help = (r.stdout + r.stderr).decode("utf-8", "replace")
        except (OSError, subprocess.TimeoutExpired):
            _serve_help = ""
    return flag in _serve_help


def base_args(spool: Path) -> list[str]:
    args = [str(BINARY), "serve", "--smtp-listen", "127.0.0.1:0", "--spool", str(spool)]
    # The HTTP API defaults to a fixed port (8025); parallel servers must not fight over it, so
    # each gets an ephemeral one, named in the ready line (server.http_port, server.http_url).
    if _serve_supports("--http-listen"):
        args += ["--http-listen", "127.0.0.1:0"]
    return args


def run_binary(args: list[str], timeout: float = 10.0, **kw) -> subprocess.CompletedProcess:
    """Runs smtpmock to completion (for start-up failures); bounded by `timeout`."""
    require_binary()
    return subprocess.run([str(BINARY), *args], capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)


def http_call(server, method: str, path: str, body: bytes | None = None,
              headers: dict | None = None, timeout: float = 30.0) -> tuple[int, bytes]:
    """One HTTP request to the server's API on a fresh connection: (status, body)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


CLIENT_TIMEOUT = 30  # seconds per client run (swaks, curl, msmtp, node...)


def run(args: list[str], **kw) -> subprocess.CompletedProcess:
    """Runs a client to completion, bounded by CLIENT_TIMEOUT; stdin closed unless given."""
    return subprocess.run(args, capture_output=True, timeout=CLIENT_TIMEOUT,
                          stdin=kw.pop("stdin", subprocess.DEVNULL), **kw)


def describe(p: subprocess.CompletedProcess) -> str:
    """A client run for an assertion message: command, exit code, tails of its output."""
    return (f"$ {' '.join(map(str, p.args))}\nexit {p.returncode}\nstdout:\n"
            f"{p.stdout.decode(errors='replace')[-4000:]}\n"
            f"stderr:\n{p.stderr.decode(errors='replace')[-4000:]}")


@pytest.fixture
def smtpmock_factory(tmp_path: Path) -> Iterator[Callable[..., SmtpMockServer]]:
    """start(*extra_args, scenario=NAME|PATH|None, scenario_yaml=TEXT|None) -> SmtpMockServer."""
    require_binary()
    servers: list[SmtpMockServer] = []

    def start(*extra: str, scenario: str | os.PathLike | None = None,
              scenario_yaml: str | None = None) -> SmtpMockServer:
        n = len(servers)
        spool = tmp_path / f"spool-{n}"
        spool.mkdir()
        args = base_args(spool)
        if scenario_yaml is not None:
            path = tmp_path / f"scenario-{n}.yaml"
            path.write_text(scenario_yaml, "utf-8")
            scenario = path
        if scenario is not None:
            args += ["--scenario", str(scenario)]
        args += list(extra)
        server = SmtpMockServer(args, spool, cwd=tmp_path)
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def smtpmock(smtpmock_factory) -> SmtpMockServer:
    """A server with the bundled default scenario."""
    return smtpmock_factory()


# --- a small raw SMTP client for protocol-level tests ---------------------------------------


class RawSmtp:
    """Line-oriented SMTP over a plain socket; every read bounded by the socket timeout."""

    MAX_BUFFER = 1 << 20

    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self) -> str:
        """One reply line without CRLF; raises EOFError when the server closed."""
        while b"\r\n" not in self.buf:
            assert len(self.buf) < self.MAX_BUFFER, "reply line too long"
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed; pending {self.buf!r}")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("utf-8", "replace")

    def reply(self, max_lines: int = 100) -> list[str]:
        """One complete (possibly multi-line) reply, as lines."""
        lines = []
        for _ in range(max_lines):
            lines.append(self.line())
            if len(lines[-1]) < 4 or lines[-1][3] != "-":
                return lines
        raise AssertionError(f"reply longer than {max_lines} lines: {lines}")

    def command(self, cmd: str) -> list[str]:
        self.send(cmd + "\r\n")
        return self.reply()

    def read_until_closed(self, limit: int = 1 << 20) -> bytes:
        """Reads whatever is left until EOF (bounded in size and by the socket timeout)."""
        data = self.buf
        self.buf = b""
        while len(data) < limit:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RawSmtp":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@pytest.fixture
def raw_smtp() -> Iterator[Callable[..., RawSmtp]]:
    """connect(server_or_host, port=None, timeout=10) -> RawSmtp; all closed on teardown."""
    conns: list[RawSmtp] = []

    def connect(server, port: int | None = None, timeout: float = 10.0) -> RawSmtp:
        if port is None:
            host, port = server.host, server.port
        else:
            host = server
        c = RawSmtp(host, port, timeout)
        conns.append(c)
        return c

    yield connect
    for c in conns:
        c.close()
