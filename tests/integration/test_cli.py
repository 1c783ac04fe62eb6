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


# Listeners (issue 15): every mistake in --listen, SMTPMOCK_LISTEN or the config file's
# `listeners:` is one line and exit 2 before anything binds. Ports here are never opened.
NO_LISTEN_ENV = {k: v for k, v in os.environ.items()
                 if k not in ("SMTPMOCK_LISTEN", "SMTPMOCK_SMTP_LISTEN", "SMTPMOCK_SMTPS_LISTEN",
                              "SMTPMOCK_CONFIG")}
QUIET = ["--smtp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"]


def usage_error(args, env=None):
    r = run_binary(args, env={**NO_LISTEN_ENV, **(env or {})})
    assert r.returncode == 2, r
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


@pytest.mark.parametrize("args, expected", [
    (["--listen", "127.0.0.1:0=nosuch"],
     "smtpmock: --listen 127.0.0.1:0=nosuch: no scenario named 'nosuch'"),
    (["--listen", "127.0.0.1:x=yahoo"],
     "smtpmock: --listen 127.0.0.1:x=yahoo: invalid listen address '127.0.0.1:x'"),
    (["--listen", "127.0.0.1:0,tls=implict"],
     "smtpmock: --listen 127.0.0.1:0,tls=implict: unknown tls mode 'implict' (expected "
     "starttls, implicit or none; did you mean 'implicit'?)"),
    (["--listen", "127.0.0.1:0,nmae=mx"],
     "smtpmock: --listen 127.0.0.1:0,nmae=mx: unknown listener option 'nmae'"),
    (["--listen", "127.0.0.1:0,name=a b"],
     "smtpmock: --listen 127.0.0.1:0,name=a b: invalid listener name 'a b'"),
    (["--listen", "127.0.0.1:0,tls-cert=cert.pem"],
     "smtpmock: --listen 127.0.0.1:0,tls-cert=cert.pem: tls-cert needs tls-key"),
    (["--listen", "127.0.0.1:2525", "127.0.0.1:2526"],
     "smtpmock: The following argument was not expected: 127.0.0.1:2526"),
    (["--lisen", "127.0.0.1:0"], "smtpmock: unknown option --lisen; did you mean --listen?"),
])
def test_a_bad_listen_flag_is_a_usage_error(args, expected):
    assert usage_error(["serve", *args]).startswith(expected)


def test_two_listeners_on_one_address_is_a_usage_error():
    assert usage_error(["serve", "--listen", "127.0.0.1:2525", "--listen",
                        "localhost:2525=yahoo"]) == (
        "smtpmock: two listeners on 127.0.0.1:2525: --listen 127.0.0.1:2525 and "
        "--listen localhost:2525=yahoo")
    # A shorthand given explicitly is served beside the listeners, so it is checked with them.
    assert usage_error(["serve", "--listen", "127.0.0.1:2525=aol", "--smtp-listen",
                        "127.0.0.1:2525"]) == (
        "smtpmock: two listeners on 127.0.0.1:2525: --listen 127.0.0.1:2525=aol and "
        "--smtp-listen 127.0.0.1:2525")
    assert usage_error(["serve", "--listen", "127.0.0.1:2525,name=mx", "--listen",
                        "127.0.0.1:2526,name=mx"]).startswith(
        "smtpmock: two listeners named 'mx': ")


def test_smtpmock_listen_takes_commas_and_newlines():
    line = usage_error(["serve"], {"SMTPMOCK_LISTEN": "127.0.0.1:2525=yahoo,tls=none\n"
                                                      "127.0.0.1:0,127.0.0.1:2525"})
    assert line == ("smtpmock: two listeners on 127.0.0.1:2525: SMTPMOCK_LISTEN "
                    "127.0.0.1:2525=yahoo,tls=none and SMTPMOCK_LISTEN 127.0.0.1:2525")
    assert usage_error(["serve"], {"SMTPMOCK_LISTEN": "tls=implicit,127.0.0.1:0"}) == (
        "smtpmock: SMTPMOCK_LISTEN: listener option 'tls=implicit' comes before any ADDR:PORT")


def test_listeners_precedence_flag_then_env_then_config_file(tmp_path):
    config = tmp_path / "smtpmock.yaml"
    config.write_text("listeners:\n  - {listen: 127.0.0.1:0, scenario: nosuch-in-file}\n")
    # The flags win whole: neither the environment's nor the file's listeners are read.
    line = usage_error(["serve", "--config", str(config), "--listen", "127.0.0.1:0=nosuch-flag"],
                       {"SMTPMOCK_LISTEN": "127.0.0.1:0=nosuch-env"})
    assert line.startswith("smtpmock: --listen 127.0.0.1:0=nosuch-flag: no scenario named"), line
    line = usage_error(["serve", "--config", str(config)],
                       {"SMTPMOCK_LISTEN": "127.0.0.1:0=nosuch-env"})
    assert line.startswith("smtpmock: SMTPMOCK_LISTEN 127.0.0.1:0=nosuch-env: no scenario"), line
    line = usage_error(["serve", "--config", str(config)])
    assert line.startswith(f"smtpmock: {config}:2:5: no scenario named 'nosuch-in-file'"), line


@pytest.mark.parametrize("text, where, expected", [
    ("listeners:\n  - {listen: 127.0.0.1:2525, tls: implict}\n", "2:35",
     "unknown tls mode 'implict'"),
    ("listeners:\n  - {listen: 127.0.0.1:2525, scenaro: yahoo}\n", "2:30",
     "unknown listener key 'scenaro' (did you mean 'scenario'?)"),
    ("listeners:\n  - {scenario: yahoo}\n", "2:5", "a listener needs 'listen: ADDR:PORT'"),
    ("listeners:\n  - {listen: 127.0.0.1:x}\n", "2:14", "invalid listen address"),
    ("listeners: 127.0.0.1:2525\n", "1:12", "'listeners' must be a list"),
    ("listeners:\n  - 127.0.0.1:2525\n", "2:5", "a listener must be a mapping"),
    ("listeners:\n  - {listen: 127.0.0.1:2525}\n  - {listen: 127.0.0.1:2525}\n", "3:14",
     "two listeners on 127.0.0.1:2525: the one on line 2 and this one"),
])
def test_a_bad_listeners_entry_names_file_line_column(tmp_path, text, where, expected):
    config = tmp_path / "smtpmock.yaml"
    config.write_text(text)
    line = usage_error(["serve", *QUIET, "--config", str(config)])
    assert line.startswith(f"{config}:{where}: {expected}"), line


def test_config_shorthand_beside_listeners_names_both_positions(tmp_path):
    config = tmp_path / "smtpmock.yaml"
    config.write_text("smtp-listen: 127.0.0.1:2525\n"
                      "listeners:\n  - {listen: 127.0.0.1:2525, scenario: yahoo}\n")
    assert usage_error(["serve", "--config", str(config)]) == (
        f"smtpmock: two listeners on 127.0.0.1:2525: {config}:3:5 and {config}:1:14")


def test_serve_help_documents_listen():
    r = run_binary(["serve", "--help"])
    assert r.returncode == 0
    out = r.stdout.decode()
    assert "--listen ADDR:PORT[=SCENARIO][,tls=MODE][,name=NAME]" in out
    assert "SMTPMOCK_LISTEN" in out
