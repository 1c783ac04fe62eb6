"""The web UI in real browsers: tests/integration/node/web_ui.mjs drives Debian's chromium and
firefox-esr (headless, puppeteer-core; CDP and WebDriver BiDi) against the real binary and its
embedded page.

This file starts the servers and sends what the page must show: an HTML message with an inline
cid: image, an attachment of known bytes and a <script> that would be observable if it ran; a
session a rule rejects a recipient in; a session dropped in the middle of DATA. A second server
runs under --http-base-path /mail/ with --http-auth. The node script checks the page (see its
header) and saves screenshots to $SMTPMOCK_TEST_OUTPUT (default build/test-output/web-ui/).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import smtplib
import subprocess
import time
import struct
import uuid
import zlib
from email.message import EmailMessage
from pathlib import Path

import pytest

from conftest import SOURCE_DIR, describe, http_call

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"
BROWSERS = {"chromium": Path("/usr/bin/chromium"), "firefox": Path("/usr/bin/firefox-esr")}
BROWSER_TIMEOUT = 50  # seconds for the whole node run (launch, checks, screenshots)

RULE = "reject-blocked"
SCENARIO = f"""\
name: webui-test
description: A recipient rejected by a rule, and a cut-off in the middle of DATA
hostname: mx.webui.test
banner: "{{hostname}} ESMTP smtpmock"
ehlo:
  greeting: "{{hostname}}"
  extensions: [PIPELINING, SIZE 52428800, 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8]
rules:
  - name: {RULE}
    on: rcpt
    match: {{recipient: "blocked@example.com"}}
    reply: "550 5.1.1 <{{recipient}}>: blocked by rule"
  - name: cut-off
    on: data
    match: {{sender: "big@example.com"}}
    abort_after_bytes: 2048
"""


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid truecolour PNG of one colour (the inline image; big enough for a thumbnail)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PNG = _png(32, 32, (37, 99, 235))
ATTACHMENT = bytes(range(256)) + b"smtpmock attachment \x00\xff end"


def _need_browser(browser: str) -> None:
    binary = BROWSERS[browser]
    if not binary.exists():
        pytest.skip(f"{binary} is not installed (apt-get install {binary.name})")
    if not (NODE_DIR / "node_modules" / "puppeteer-core").is_dir():
        pytest.skip(f"{NODE_DIR}/node_modules/puppeteer-core is missing (npm ci in {NODE_DIR})")
    if shutil.which("node") is None:
        pytest.fail("node is not installed (make test installs it)")


def _html_message(subject: str, canary: str) -> EmailMessage:
    m = EmailMessage()
    m["From"] = "Alice <alice@example.com>"
    m["To"] = "bob@example.com"
    m["Subject"] = subject
    m.set_content("The text part of the HTML message.")
    # If the script ran it would fetch the canary path and retitle the page around the frame.
    m.add_alternative(
        "<html><body><h1>Rendered in a sandbox</h1><p>with an inline image:</p>"
        '<img src="cid:dot@webui.test" alt="dot" width="40" height="40">'
        f"<script>fetch('/{canary}');parent.document.title='pwned';document.title='ran';</script>"
        "</body></html>", subtype="html")
    m.get_payload()[1].add_related(PNG, "image", "png", cid="<dot@webui.test>",
                                   filename="dot.png", disposition="inline")
    m.add_attachment(ATTACHMENT, maintype="application", subtype="octet-stream",
                     filename="data.bin")
    return m


def _wait_sessions_ended(server, n: int, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        status, body = http_call(server, "GET", "/api/v1/sessions?limit=100")
        sessions = json.loads(body)["sessions"] if status == 200 else []
        if len(sessions) >= n and not any(s["Live"] for s in sessions):
            return sessions
        if time.monotonic() > deadline:
            pytest.fail(f"expected {n} ended sessions within {timeout}s: {sessions}")
        time.sleep(0.05)


@pytest.mark.parametrize("browser", sorted(BROWSERS))
def test_web_ui_in_a_browser(smtpmock_factory, browser):
    _need_browser(browser)
    server = smtpmock_factory(scenario_yaml=SCENARIO)
    subject = f"HTML message {uuid.uuid4().hex[:8]}"
    canary = f"canary-{uuid.uuid4().hex}"

    with smtplib.SMTP(server.host, server.port, timeout=10) as smtp:
        smtp.send_message(_html_message(subject, canary))
    # A session the rule shapes: its only recipient is refused with the rule's 550.
    with smtplib.SMTP(server.host, server.port, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail("carol@example.com", ["blocked@example.com"], b"Subject: x\r\n\r\nx\r\n")
    # A session dropped in the middle of DATA (abort_after_bytes).
    smtp = smtplib.SMTP(server.host, server.port, timeout=10)
    try:
        with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError)):
            smtp.sendmail("big@example.com", ["bob@example.com"],
                          b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 200)
    finally:
        smtp.close()
    _wait_sessions_ended(server, 3)

    # The second server: under a base path, behind basic auth.
    auth = "webui:s3cret"
    server2 = smtpmock_factory("--http-base-path", "/mail/", "--http-auth", auth)
    auth_subject = f"behind auth {uuid.uuid4().hex[:8]}"
    with smtplib.SMTP(server2.host, server2.port, timeout=10) as smtp:
        smtp.sendmail("dave@example.com", ["erin@example.com"],
                      f"Subject: {auth_subject}\r\n\r\nhello\r\n".encode())

    out = Path(os.environ.get("SMTPMOCK_TEST_OUTPUT",
                              SOURCE_DIR / "build" / "test-output" / "web-ui"))
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ,
               WEBUI_BASE=f"{server.http_url}/",
               WEBUI_SMTP_PORT=str(server.port),
               WEBUI_SUBJECT=subject,
               WEBUI_HTML_TEXT="Rendered in a sandbox",
               WEBUI_ATTACHMENT="data.bin:" + base64.b64encode(ATTACHMENT).decode(),
               WEBUI_INLINE="dot.png",
               WEBUI_CANARY=canary,
               WEBUI_RULE=RULE,
               WEBUI_AUTH_BASE=f"{server2.http_url}/mail/",
               WEBUI_AUTH=auth,
               WEBUI_AUTH_SUBJECT=auth_subject,
               WEBUI_OUTPUT=str(out),
               WEBUI_BROWSER=browser)
    try:
        p = subprocess.run(["node", "web_ui.mjs"], cwd=NODE_DIR, env=env, capture_output=True,
                           timeout=BROWSER_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"web_ui.mjs did not finish within {BROWSER_TIMEOUT}s:\n"
                    f"{(e.stdout or b'').decode(errors='replace')[-4000:]}")
    assert p.returncode == 0, describe(p)
