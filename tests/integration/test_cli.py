"""Command-line mistakes get one line on stderr that says what to fix, and exit 2."""

from __future__ import annotations

import os

import pytest

from conftest import run_binary


@pytest.mark.parametrize("args, env, expected", [
    (["serve", "--smpt-listen", "127.0.0.1:2525"], {},
     "smtpmock: unknown option --smpt-listen; did you mean --smtp-listen?"),
    (["--smtp-lisen=127.0.0.1:2525"], {},
     "smtpmock: unknown option --smtp-lisen; did you mean --smtp-listen?"),
    (["sned"], {}, "smtpmock: unknown command 'sned'; did you mean send?"),
    (["scenario", "lnt", "x.yaml"], {}, "smtpmock: unknown command 'lnt'; did you mean lint?"),
    (["send", "--bogus"], {}, "smtpmock: unknown option --bogus"),
    (["serve"], {"SMTPMOCK_MAX_MESSAGES": "abc"}, "smtpmock: SMTPMOCK_MAX_MESSAGES=abc: "),
])
def test_mistakes_say_what_to_fix(args, env, expected):
    r = run_binary(args, env={**os.environ, **env})
    assert r.returncode == 2, r
    err = r.stderr.decode()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(expected), err


def test_a_typed_flag_with_a_bad_value_names_the_flag():
    r = run_binary(["serve", "--max-messages", "abc"],
                   env={**os.environ, "SMTPMOCK_MAX_MESSAGES": "5"})
    assert r.returncode == 2
    assert r.stderr.decode().startswith("smtpmock: --max-messages: ")
    assert len(r.stderr.splitlines()) == 1  # one line: no "Run with --help" after it


def test_at_a_terminal_the_server_says_where_to_look():
    import pty
    import select
    import signal
    import time

    from conftest import BINARY

    pid, fd = pty.fork()
    if pid == 0:  # the child: the server, its stderr a terminal
        os.execv(str(BINARY), [str(BINARY), "serve", "--smtp-listen", "127.0.0.1:0",
                               "--http-listen", "127.0.0.1:0"])
    out = b""
    deadline = time.monotonic() + 10
    try:
        while b"web page" not in out and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(fd)
    text = out.decode(errors="replace")
    assert "smtpmock ready" in text
    assert "try      smtpmock send --server 127.0.0.1:" in text, text
    assert "messages http://127.0.0.1:" in text and "/api/v1/messages" in text, text


@pytest.mark.parametrize("command", [[], ["serve"], ["send"], ["check"], ["record"],
                                     ["scenario"], ["scenario", "lint"], ["healthcheck"]])
def test_version_on_every_command_names_the_commit(command):
    r = run_binary([*command, "--version"])
    assert r.returncode == 0, r
    out = r.stdout.decode().strip()
    import re
    assert re.fullmatch(r"smtpmock \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}|unknown)\)", out), out


def test_the_build_info_metric_says_the_same_as_version(smtpmock):
    from conftest import http_call

    version = run_binary(["--version"]).stdout.decode().strip()
    status, body = http_call(smtpmock, "GET", "/metrics")
    assert status == 200
    line = [l for l in body.decode().splitlines() if l.startswith("smtpmock_build_info{")]
    assert len(line) == 1, body
    import re
    m = re.match(r'smtpmock_build_info\{commit="([^"]+)",version="([^"]+)"\} 1$', line[0])
    assert m and version == f"smtpmock {m.group(2)} (commit {m.group(1)})", (line, version)
