"""Every fenced block in README.md and docs/ is marked with what it is, and every one that can
run here is run, so a doc example that drifts from the code fails `make test`.

A block is preceded by a marker line:

    <!-- example: KIND [key=value ...] -->

KIND is one of:
  shell       run with bash -e against a fresh server (the ports 1025/8025 in the text become
              the server's ephemeral ones, and SMTPMOCK_SMTP_LISTEN/SMTPMOCK_HTTP_LISTEN name
              them; `smtpmock` and ./build/server/app/smtpmock are the binary under test; curl
              fails on an HTTP error); cwd is the source tree.
              scenario=NAME starts the server with it; expect=TEXT (repeatable) must appear in
              the output; `continues` runs the page's previous shell block first, on the same
              server (a tour whose steps build on each other).
  session     an SMTP conversation: lines that start with a reply code are the server's, the
              others are typed by the client; it is replayed against a server started with
              scenario=NAME and every server line must match exactly.
  scenario    a scenario file (or part of one): `smtpmock scenario lint` must accept it.
  yaml        YAML that is not a scenario (Compose, CI services): it must parse.
  docker-node the Node Testcontainers test, run by tests/docker/run.sh against the image.
  skip        not runnable here; reason=TEXT says why (no Docker or JDK in the suite, a command
              that would start the suite itself, sample output with timings).
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from conftest import BINARY, SOURCE_DIR, require_binary, run_binary

PAGES = [SOURCE_DIR / "README.md", *sorted((SOURCE_DIR / "docs").glob("*.md"))]
KINDS = {"shell", "session", "scenario", "yaml", "docker-node", "skip"}
MARKER = re.compile(r"^<!--\s*example:\s*(.*?)\s*-->$")
FENCE = re.compile(r"^(```+)\s*([\w-]*)")
SHELL_TIMEOUT = 60  # seconds for one shell block
REPLY = re.compile(r"^[2-5]\d\d[ -]")


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    language: str
    text: str
    kind: str | None
    options: dict[str, list[str]] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(SOURCE_DIR)}:{self.line}"

    def option(self, key: str, default: str | None = None) -> str | None:
        values = self.options.get(key)
        return values[-1] if values else default


def parse_marker(text: str) -> tuple[str, dict[str, list[str]]]:
    words = shlex.split(text)
    kind, options = (words[0] if words else ""), {}
    for word in words[1:]:
        key, _, value = word.partition("=")
        options.setdefault(key, []).append(value)
    return kind, options


def blocks_of(page: Path) -> list[Block]:
    lines = page.read_text("utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, language, start = m.group(1), m.group(2), i
        end = start + 1
        while end < len(lines) and not lines[end].startswith(fence):
            end += 1
        before = start - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        marker = MARKER.match(lines[before].strip()) if before >= 0 else None
        kind, options = parse_marker(marker.group(1)) if marker else (None, {})
        found.append(Block(page, start + 1, language, "\n".join(lines[start + 1:end]) + "\n",
                           kind, options))
        i = end + 1
    return found


BLOCKS = [b for page in PAGES for b in blocks_of(page)]
RUNNABLE = [b for b in BLOCKS if b.kind in {"shell", "session", "scenario", "yaml"}]


def test_every_block_says_what_it_is():
    assert len(BLOCKS) >= 20, "fewer fenced blocks than the docs have: is the parser broken?"
    for b in BLOCKS:
        assert b.kind is not None, f"{b.where}: a fenced block without <!-- example: KIND -->"
        assert b.kind in KINDS, f"{b.where}: unknown example kind '{b.kind}' (one of {KINDS})"
        if b.kind == "skip":
            assert b.option("reason"), f"{b.where}: a skipped example needs reason=..."


def test_most_examples_run():
    # The runnable share only grows: a new example is run unless it truly cannot be.
    assert len(RUNNABLE) >= 11, [b.where for b in RUNNABLE]


def test_the_node_testcontainers_example_is_where_the_docker_tests_read_it():
    node = [b for b in BLOCKS if b.kind == "docker-node"]
    assert [b.page.name for b in node] == ["docker.md"] and node[0].language == "js"
    assert "GenericContainer" in node[0].text


def shell_text(block: Block, server) -> str:
    text = block.text.replace("./build/server/app/smtpmock", "smtpmock")
    text = re.sub(r"\b1025\b", str(server.port), text)
    return re.sub(r"\b8025\b", str(server.http_port), text)


def previous_shell(block: Block) -> Block:
    earlier = [b for b in BLOCKS if b.page == block.page and b.line < block.line
               and b.kind == "shell"]
    assert earlier, f"{block.where}: 'continues' but no shell block before it on its page"
    return earlier[-1]


def run_shell(block: Block, server, tmp_path: Path) -> str:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    (bindir / "smtpmock").unlink(missing_ok=True)
    (bindir / "smtpmock").symlink_to(BINARY)
    script = tmp_path / "example.sh"
    text = shell_text(block, server)
    if "continues" in block.options:  # the tour's steps build on each other
        text = shell_text(previous_shell(block), server) + text
    script.write_text("curl() { command curl --fail-with-body --max-time 30 \"$@\"; }\n" + text,
                      "utf-8")
    # `smtpmock send` without --server, and healthcheck, find the server as a user's shell would.
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}",
           "SMTPMOCK_SMTP_LISTEN": server.address,
           "SMTPMOCK_HTTP_LISTEN": f"127.0.0.1:{server.http_port}"}
    p = subprocess.run(["bash", "-e", str(script)], cwd=SOURCE_DIR, env=env, capture_output=True,
                       timeout=SHELL_TIMEOUT, stdin=subprocess.DEVNULL)
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    assert p.returncode == 0, f"{block.where}: exit {p.returncode}\n{script.read_text()}\n{out}"
    return out


def replay_session(block: Block, server) -> None:
    lines = block.text.splitlines()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        in_data = False
        deadline = time.monotonic() + 30
        for n, expected in enumerate(lines, 1):
            assert time.monotonic() < deadline, f"{block.where}: the replay took over 30 s"
            if REPLY.match(expected) and not in_data:
                got = reader.readline().decode("utf-8", "replace").rstrip("\r\n")
                assert got == expected, f"{block.where}, block line {n}: server said {got!r}"
                in_data = got.startswith("354")
                continue
            sock.sendall(expected.encode() + b"\r\n")
            if in_data and expected == ".":
                in_data = False


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.where for b in RUNNABLE])
def test_example_runs(block: Block, smtpmock_factory, tmp_path: Path):
    if block.kind == "yaml":
        assert yaml.safe_load(block.text) is not None, block.where
        return
    if block.kind == "scenario":
        require_binary()
        path = tmp_path / "example.yaml"
        path.write_text(block.text, "utf-8")
        lint = run_binary(["scenario", "lint", str(path)])
        assert lint.returncode == 0, f"{block.where}:\n{lint.stderr.decode()}"
        return
    server = smtpmock_factory(scenario=block.option("scenario"))
    if block.kind == "session":
        replay_session(block, server)
        return
    out = run_shell(block, server, tmp_path)
    for text in block.options.get("expect", []):
        assert text in out, f"{block.where}: expected {text!r} in the output:\n{out}"


def test_the_parser_finds_markers_and_unmarked_blocks(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text('text\n\n<!-- example: shell expect="a b" expect=c -->\n```sh\necho a b c\n```\n\n'
                    "```\nunmarked\n```\n<!-- example: skip reason=why -->\n````md\n```\n````\n",
                    "utf-8")
    found = blocks_of(page)
    assert [(b.line, b.kind, b.language) for b in found] == [(4, "shell", "sh"), (8, None, ""),
                                                              (12, "skip", "md")]
    assert found[0].options == {"expect": ["a b", "c"]} and found[0].text == "echo a b c\n"
    assert found[2].option("reason") == "why" and found[2].text == "```\n"
