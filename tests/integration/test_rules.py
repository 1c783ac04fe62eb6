"""Scenario rules against the real binary: every effect as a client sees it, rule names in
transcripts, template sanitising on the wire, SIGHUP reload, and the lint/list commands.

Each test writes its own small scenario; every wait is bounded; only 127.0.0.1 is used.
"""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import pytest

from conftest import SOURCE_DIR, run_binary

BASE = """\
name: t
hostname: mx.test
ehlo: {extensions: [PIPELINING, ENHANCEDSTATUSCODES, "AUTH PLAIN LOGIN"]}
auth: {accept_any: true}
limits: {idle_timeout: 2s}
"""


def scenario(rules: str, extra: str = "") -> str:
    return BASE + extra + "rules:\n" + rules


def envelope(c, rcpt: str = "b@x.example") -> list[list[str]]:
    return [c.command("EHLO client.test"), c.command("MAIL FROM:<a@x.example>"),
            c.command(f"RCPT TO:<{rcpt}>")]


def rule_lines(server) -> list[tuple[str, str]]:
    """(reply text, rule) for every reply a rule shaped, across all sessions."""
    out = []
    for s in server.wait_sessions(1):
        for line in s["Transcript"]:
            if line["Rule"]:
                out.append((line["Text"], line["Rule"]))
    return out


def test_reply_rule_on_matching_recipient_and_transcript_names_it(smtpmock_factory, raw_smtp):
    server = smtpmock_factory(scenario_yaml=scenario("""\
  - name: unknown-user
    on: rcpt
    match: {recipient: "*@blocked.example"}
    reply: "550 5.1.1 <{recipient}>: Recipient address rejected: User unknown"
"""))
    with raw_smtp(server) as c:
        c.reply()
        assert envelope(c, "bob@blocked.example")[2] == [
            "550 5.1.1 <bob@blocked.example>: Recipient address rejected: User unknown"]
        assert c.command("RCPT TO:<carol@ok.example>") == ["250 2.1.5 Recipient ok"]
        assert c.command("DATA")[0].startswith("354")
        assert c.command("hi\r\n.")[0].startswith("250")
        c.command("QUIT")
    [msg] = server.wait_messages(1)
    assert msg.recipients == ["carol@ok.example"]  # the 550 added no recipient
    assert rule_lines(server) == [
        ("550 5.1.1 <bob@blocked.example>: Recipient address rejected: User unknown",
         "unknown-user")]


def test_first_connection_gets_421_second_succeeds(smtpmock_factory, raw_smtp):
    server = smtpmock_factory(scenario_yaml=scenario("""\
  - name: busy-first-connection
    on: connect
    when: {nth: 1}
    reply: "421 4.3.2 Too busy, try later"
"""))
    with raw_smtp(server) as c:
        assert c.reply() == ["421 4.3.2 Too busy, try later"]
        assert c.read_until_closed() == b""  # and the connection closes
    with raw_smtp(server) as c:
        assert c.reply()[0].startswith("220 ")


def test_multiline_reply_and_template_sanitising_on_the_wire(smtpmock_factory, raw_smtp):
    # A command line with control characters is an unknown command (500 5.5.2 by default), so
    # the hostile bytes reach a template through {argument}; they must not reach the wire.
    server = smtpmock_factory(scenario_yaml=scenario("""\
  - name: explain
    on: unknown
    reply: ["550 5.7.1 <{argument}> refused", "550 5.7.1 see https://mx.test/{helo}"]
"""))
    with raw_smtp(server) as c:
        c.reply()
        c.command("EHLO evil[2Jhost")
        c.command("MAIL FROM:<a@x.example>")
        c.send('RCPT TO:<"x\x1b\x07y"@x.example>\r\n')
        raw = c.sock.recv(4096)
        for _ in range(100):  # bounded; a closed connection ends it too
            if raw.endswith(b"\r\n") and b"550 5" in raw:
                break
            chunk = c.sock.recv(4096)
            if not chunk:
                break
            raw += chunk
    assert raw == (b'550-5.7.1 <TO:<"xy"@x.example>> refused\r\n'
                   b"550 5.7.1 see https://mx.test/evil[2Jhost\r\n")
    assert b"\x1b" not in raw and b"\x07" not in raw


def test_delay_and_drip_and_split_shape_timing_not_content(smtpmock_factory, raw_smtp):
    server = smtpmock_factory(scenario_yaml=scenario("""\
  - name: slow-ehlo
    on: ehlo
    delay: 600ms
  - name: drip-noop
    on: noop
    drip: {bytes: 2, every: 40ms}
  - name: split-rset
    on: rset
    split: true
"""))
    with raw_smtp(server) as c:
        c.reply()
        t0 = time.monotonic()
        assert c.command("EHLO client.test")[0] == "250-mx.test"
        assert time.monotonic() - t0 >= 0.55
        t0 = time.monotonic()
        assert c.command("NOOP") == ["250 2.0.0 Ok"]  # 14 octets in 7 drips
        assert time.monotonic() - t0 >= 6 * 0.035
        assert c.command("RSET") == ["250 2.0.0 Ok"]
    assert {r for _, r in rule_lines(server)} == {"slow-ehlo", "drip-noop", "split-rset"}


def test_disconnect_before_and_after_reply(smtpmock_factory, raw_smtp):
    server = smtpmock_factory(scenario_yaml=scenario("""\
  - name: cut-message
    on: message
    match: {header: {Subject: "*cut*"}}
    disconnect: before_reply
  - name: bye-after-vrfy
    on: vrfy
    disconnect: after_reply
"""))
    with raw_smtp(server) as c:
        c.reply()
        envelope(c)
        c.command("DATA")
        c.send("Subject: please cut\r\n\r\nbody\r\n.\r\n")
        assert c.read_until_closed() == b""  # closed, no reply at all
    with raw_smtp(server) as c:
        c.reply()
        assert c.command("VRFY bob")[0].startswith("252")
        assert c.read_until_closed() == b""
    with raw_smtp(server) as c:  # a message that does not match is stored
        c.reply()
        envelope(c)
        c.command("DATA")
        assert c.command("Subject: keep\r\n\r\nbody\r\n.")[0].startswith("250")
    msgs = server.wait_messages(1)
    time.sleep(0.2)
    assert [m.raw for m in server.messages()] == [b"Subject: keep\r\n\r\nbody\r\n"]
    assert len(msgs) == 1


def test_reset_closes_with_rst(smtpmock_factory, raw_smtp):
    server = smtpmock_factory(scenario_yaml=scenario("""\
  - name: rst
    on: mail
    reset: true
"""))
    with raw_smtp(server) as c:
        c.reply()
        c.command("EHLO client.test")
        c.send("MAIL FROM:<a@x.example>\r\n")
        with pytest.raises(ConnectionResetError):
            for _ in range(10):  # bounded: the RST arrives on the first or second read
                if not c.sock.recv(4096):
                    break
            raise AssertionError("closed without RST")


def test_hang_never_replies_until_idle_timeout(smtpmock_factory, raw_smtp):
    server = smtpmock_factory(scenario_yaml=scenario("""\
  - name: stuck-data
    on: data
    hang: true
"""))
    with raw_smtp(server) as c:
        c.reply()
        envelope(c)
        t0 = time.monotonic()
        assert c.command("DATA") == ["421 4.4.2 Idle timeout, closing connection"]
        assert time.monotonic() - t0 >= 1.8  # the 2 s idle timeout, not a reply to DATA


def test_abort_after_bytes_drops_the_connection_and_stores_nothing(smtpmock_factory, raw_smtp):
    server = smtpmock_factory(scenario_yaml=scenario("""\
  - name: drop
    on: data
    abort_after_bytes: 1000
"""))
    with raw_smtp(server) as c:
        c.reply()
        envelope(c)
        assert c.command("DATA")[0].startswith("354")
        try:
            for _ in range(100):
                c.send(b"x" * 100 + b"\r\n")
                time.sleep(0.005)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert c.read_until_closed() == b""
    time.sleep(0.3)
    assert server.messages() == []


def test_seeded_probability_replays_the_same_outcomes(smtpmock_factory, raw_smtp):
    yaml = scenario("""\
  - name: coin
    on: noop
    when: {probability: 0.5}
    reply: "451 4.3.0 coin says no"
""")

    def outcomes(server) -> str:
        with raw_smtp(server) as c:
            c.reply()
            return "".join("x" if c.command("NOOP")[0].startswith("451") else "."
                           for _ in range(32))

    a = outcomes(smtpmock_factory("--seed", "1234", scenario_yaml=yaml))
    b = outcomes(smtpmock_factory("--seed", "1234", scenario_yaml=yaml))
    c = outcomes(smtpmock_factory("--seed", "999", scenario_yaml=yaml))
    assert a == b
    assert a != c
    assert "x" in a and "." in a


def test_seed_is_logged_at_startup(smtpmock_factory):
    server = smtpmock_factory("--seed", "4242")
    assert "seed=4242" in server.stderr_text()


def test_quirk_early_talker_reject(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml=BASE + "quirks: {early_talker: reject}\n")
    with socket.create_connection((server.host, server.port), timeout=5) as s:
        s.sendall(b"EHLO impatient.test\r\n")  # before the banner
        data = s.recv(4096)
    assert data.startswith(b"554 5.5.0")
    with socket.create_connection((server.host, server.port), timeout=5) as s:
        assert s.recv(4096).startswith(b"220 ")  # a polite client waits and is greeted


def test_quirk_pipelining_reject(smtpmock_factory, raw_smtp):
    server = smtpmock_factory(scenario_yaml=BASE + "quirks: {pipelining: reject}\n")
    with raw_smtp(server) as c:
        c.reply()
        c.send("EHLO client.test\r\nMAIL FROM:<a@x.example>\r\n")
        c.reply()
        assert c.reply() == ["503 5.5.0 Improper use of SMTP command pipelining"]


def test_sighup_reloads_new_sessions_only_and_keeps_old_on_error(smtpmock_factory, raw_smtp,
                                                                 tmp_path: Path):
    path = tmp_path / "live.yaml"
    path.write_text(BASE)
    server = smtpmock_factory(scenario=path)
    old = raw_smtp(server)
    old.reply()
    old.command("EHLO client.test")
    old.command("MAIL FROM:<a@x.example>")

    path.write_text(scenario("""\
  - name: now-blocked
    on: rcpt
    reply: "550 5.7.1 blocked after reload"
"""))
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "scenario reloaded" not in server.stderr_text():
        assert time.monotonic() < deadline, server.stderr_text()
        time.sleep(0.05)
    with raw_smtp(server) as c:
        c.reply()
        assert envelope(c)[2] == ["550 5.7.1 blocked after reload"]
    # The session opened before the reload finishes on its own scenario.
    assert old.command("RCPT TO:<b@x.example>") == ["250 2.1.5 Recipient ok"]

    path.write_text(BASE + "rules:\n  - name: broken\n    on: rcpt\n    reply: \"nonsense\"\n")
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "scenario reload failed" not in server.stderr_text():
        assert time.monotonic() < deadline, server.stderr_text()
        time.sleep(0.05)
    assert "live.yaml:9:12" in server.stderr_text()
    with raw_smtp(server) as c:
        c.reply()
        assert envelope(c)[2] == ["550 5.7.1 blocked after reload"]  # old scenario kept


def test_scenario_lint_reports_file_line_column(tmp_path: Path):
    good = tmp_path / "good.yaml"
    good.write_text(scenario("  - name: ok\n    on: rcpt\n    reply: \"550 no\"\n"))
    typo = tmp_path / "typo.yaml"
    typo.write_text(scenario("  - name: typo\n    on: rcpt\n    repyl: \"550 no\"\n"))
    duration = tmp_path / "duration.yaml"
    duration.write_text(scenario("  - name: slow\n    on: ehlo\n    delay: 3 sec\n"))
    combo = tmp_path / "combo.yaml"
    combo.write_text(scenario("  - name: both\n    on: data\n    reply: \"554 no\"\n"
                              "    hang: true\n"))
    ok = run_binary(["scenario", "lint", str(good)])
    assert ok.returncode == 0, ok.stderr
    bad = run_binary(["scenario", "lint", str(good), str(typo), str(duration), str(combo)])
    assert bad.returncode == 1
    err = bad.stderr.decode()
    assert f"{typo}:9:5: unknown key 'repyl'" in err
    assert "did you mean 'reply'" in err
    assert f"{duration}:9:12:" in err
    assert f"{combo}:10:5:" in err and "hang" in err


def test_every_bundled_scenario_lints_clean_and_is_listed():
    names = sorted(p.stem for p in (SOURCE_DIR / "scenarios").glob("*.yaml"))
    result = run_binary(["scenario", "lint", *names])
    assert result.returncode == 0, result.stderr.decode()
    listed = run_binary(["scenario", "list"]).stdout.decode().splitlines()
    assert sorted(line.split()[0] for line in listed) == names


def test_quirk_hold_until_data_answers_mail_and_rcpt_only_with_data(smtpmock_factory, raw_smtp):
    server = smtpmock_factory(scenario_yaml=BASE + "quirks: {pipelining: hold_until_data}\n")
    with raw_smtp(server, timeout=0.5) as c:
        c.reply()
        c.command("EHLO client.test")
        for cmd in ("MAIL FROM:<a@x.example>", "RCPT TO:<b@x.example>"):
            c.send(cmd + "\r\n")
            with pytest.raises(socket.timeout):
                c.line()  # held: nothing comes back for MAIL or RCPT on their own
        c.send("DATA\r\n")
        c.sock.settimeout(5)
        assert [c.line(), c.line(), c.line()] == [
            "250 2.1.0 Sender ok", "250 2.1.5 Recipient ok",
            "354 End data with <CR><LF>.<CR><LF>"]


def test_a_mail_rule_matches_the_sender_of_that_mail_command(smtpmock_factory, raw_smtp):
    # The MAIL event used to carry an empty sender (the envelope's, set only after the reply),
    # so `match: {sender: ...}` on `on: mail` never fired.
    server = smtpmock_factory(scenario_yaml=scenario("""\
  - name: block-spammer
    on: mail
    match: {sender: "*@spam.example"}
    reply: "550 5.7.1 <{sender}> blocked"
"""))
    with raw_smtp(server) as c:
        c.reply()
        c.command("EHLO client.test")
        assert c.command("MAIL FROM:<x@spam.example>") == ["550 5.7.1 <x@spam.example> blocked"]
        assert c.command("MAIL FROM:<x@ham.example>")[0].startswith("250")
        c.command("QUIT")
    assert {r for _, r in rule_lines(server)} == {"block-spammer"}


def test_scenario_lint_reports_every_error_of_a_file():
    fixture = SOURCE_DIR / "tests" / "scenario" / "lint" / "five-errors.yaml"
    result = run_binary(["scenario", "lint", str(fixture)])
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    positions = [line.split(": ", 1)[0] for line in lines]
    assert positions == [f"{fixture}:{at}" for at in ("4:1", "5:45", "8:9", "14:9", "19:5")], lines
    assert "did you mean 'hostname'" in lines[0] and "'mial'" in lines[3]
    assert result.stdout == b""
