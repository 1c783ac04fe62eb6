"""The spool survives a restart: messages and finished sessions come back in the API, a corrupt
file is skipped with a warning naming it, and two servers never share one spool."""

from __future__ import annotations

import json

from conftest import RawSmtp, SmtpMockServer, base_args, http_call, run_binary


def start(spool, tmp_path) -> SmtpMockServer:
    spool.mkdir(exist_ok=True)
    return SmtpMockServer(base_args(spool), spool, cwd=tmp_path)


def send(server, n: int) -> None:
    c = RawSmtp(server.host, server.port, timeout=10)
    assert c.line().startswith("220 ")
    c.command("EHLO restart.example")
    for i in range(n):
        assert c.command("MAIL FROM:<a@restart.example>")[0].startswith("250")
        assert c.command(f"RCPT TO:<b{i}@restart.example>")[0].startswith("250")
        assert c.command("DATA")[0].startswith("354")
        c.send(f"Subject: restart {i}\r\n\r\nbody {i}\r\n.\r\n")
        assert c.reply()[0].startswith("250")
    c.command("QUIT")
    c.close()


def api(server, path: str):
    status, body = http_call(server, "GET", path)
    assert status == 200, (path, status, body[:200])
    return body


def test_messages_and_sessions_come_back_after_a_restart(tmp_path):
    spool = tmp_path / "spool"
    first = start(spool, tmp_path)
    try:
        send(first, 3)
        first.wait_sessions(1)
        before = json.loads(api(first, "/api/v1/messages"))
        raws = {m["ID"]: api(first, f"/api/v1/message/{m['ID']}/raw") for m in before["messages"]}
        session_id = before["messages"][0]["SessionID"]
        transcript = json.loads(api(first, f"/api/v1/session/{session_id}/transcript"))
    finally:
        assert first.stop() == 0
    # A corrupt file beside them: skipped with one warning naming it.
    (spool / "broken.json").write_text('{"ID": "broken", "Sess')
    (spool / "broken.eml").write_text("x")

    second = start(spool, tmp_path)
    try:
        after = json.loads(api(second, "/api/v1/messages"))
        assert [m["ID"] for m in after["messages"]] == [m["ID"] for m in before["messages"]]
        assert after["total"] == 3
        for mid, raw in raws.items():
            assert api(second, f"/api/v1/message/{mid}/raw") == raw
        again = json.loads(api(second, f"/api/v1/session/{session_id}/transcript"))
        assert again["Transcript"] == transcript["Transcript"]
        warnings = [l for l in second.stderr_lines() if "broken.json" in l]
        assert len(warnings) == 1 and " warn" in warnings[0], second.stderr_text()
    finally:
        second.stop()


def test_a_second_server_on_the_same_spool_exits_2(tmp_path):
    spool = tmp_path / "spool"
    first = start(spool, tmp_path)
    try:
        r = run_binary(["serve", "--smtp-listen", "127.0.0.1:0", "--http-listen", "off",
                        "--spool", str(spool)])
        assert r.returncode == 2, r
        err = r.stderr.decode()
        assert "in use by another smtpmock" in err and f"pid {first.proc.pid}" in err, err
        send(first, 1)  # the first one is undisturbed
        assert first.message_count() == 1
    finally:
        first.stop()
