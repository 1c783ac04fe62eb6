"""The HTTP API against the real binary: every endpoint and its error paths, long-polls,
live scenario control, chaos and Jim over SMTP, Prometheus metrics, basic auth, hostile input,
`smtpmock healthcheck`, and the Node client libraries (mailpit-api, mailhog) in node/.

Every server gets an ephemeral HTTP port (conftest adds --http-listen 127.0.0.1:0); every wait
is bounded; only 127.0.0.1 is used.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage

import pytest

from conftest import BINARY, HERE, RawSmtp, SmtpMockServer, run_binary

NODE_DIR = HERE / "node"


# --- helpers ----------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def call(server: SmtpMockServer, method: str, path: str, body=None,
         headers: dict[str, str] | None = None, timeout: float = 10.0) -> Response:
    """One HTTP request on a fresh connection; dict/list bodies are sent as JSON."""
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def get_json(server, path, status=200, **kw):
    r = call(server, "GET", path, **kw)
    assert r.status == status, (path, r.status, r.text)
    return r.json()


def assert_error(r: Response, status: int, contains: str = "") -> dict:
    assert r.status == status, (r.status, r.text)
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body.get("Error"), str) and body["Error"], body
    assert contains.lower() in body["Error"].lower(), body
    return body


def send(server: SmtpMockServer, subject: str = "hello", to=("bob@dest.example",),
         sender: str = "alice@client.example", body: str = "body text",
         login: tuple[str, str] | None = None) -> None:
    msg = EmailMessage()
    msg["From"] = f"Alice <{sender}>"
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg.set_content(body)
    with smtplib.SMTP(server.host, server.port, local_hostname="client.example", timeout=10) as s:
        if login:
            s.login(*login)
        assert s.send_message(msg, from_addr=sender, to_addrs=list(to)) == {}


def wait_until(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def smtp_dialogue(server, *commands: str) -> list[list[str]]:
    """Banner, then the reply to each command, over a raw socket."""
    with RawSmtp(server.host, server.port) as c:
        replies = [c.reply()]
        for cmd in commands:
            replies.append(c.command(cmd))
        return replies


# --- health, ready line, healthcheck ---------------------------------------------------------


def test_ready_line_names_http_and_health_answers(smtpmock):
    ready = [l for l in smtpmock.stderr_lines() if "smtpmock ready" in l]
    assert f"http=127.0.0.1:{smtpmock.http_port}" in ready[0]
    r = call(smtpmock, "GET", "/livez")
    assert (r.status, r.text) == (200, "ok\n")
    assert call(smtpmock, "GET", "/readyz").status == 200
    assert_error(call(smtpmock, "POST", "/readyz"), 405)
    page = call(smtpmock, "GET", "/")
    assert page.status == 200 and "text/html" in page.headers["content-type"]
    assert b"ui/app.js" in page.body and b"src=\"/" not in page.body  # relative: --http-base-path


def test_healthcheck_command(smtpmock):
    ok = run_binary(["healthcheck", "--http-listen", f"127.0.0.1:{smtpmock.http_port}"])
    assert ok.returncode == 0, ok
    assert b"ready" in ok.stdout
    env = dict(os.environ, SMTPMOCK_HTTP_LISTEN=f"0.0.0.0:{smtpmock.http_port}")
    wildcard = run_binary(["healthcheck"], env=env)
    assert wildcard.returncode == 0, wildcard
    # A port nobody listens on: refused, exit 1, quickly.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed_port = s.getsockname()[1]
    s.close()
    bad = run_binary(["healthcheck", "--http-listen", f"127.0.0.1:{closed_port}"])
    assert bad.returncode == 1, bad
    assert b"refused" in bad.stderr.lower()
    off = run_binary(["healthcheck", "--http-listen", "off"])
    assert off.returncode == 1
    usage = run_binary(["healthcheck", "--http-listen", "nonsense"])
    assert usage.returncode == 2


# --- Mailpit messages: list, get, raw, headers, parts -----------------------------------------


MIME_MESSAGE = (
    "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@sender.example>\r\n"
    "To: Bob Example <bob@dest.example>, \"Carol, Q.\" <carol@dest.example>\r\n"
    "Cc: dave@dest.example\r\n"
    "Reply-To: replies@sender.example\r\n"
    "Subject: =?utf-8?b?w5xiZXJwcsO8ZnVuZw==?= of =?iso-8859-1?q?caf=E9?=\r\n"
    "Message-ID: <mime-1@sender.example>\r\n"
    "Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
    "List-Unsubscribe: <mailto:unsub@sender.example>, <https://sender.example/u>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: multipart/related; boundary=\"rel\"\r\n"
    "\r\n"
    "--rel\r\n"
    "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
    "\r\n"
    "--alt\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Hello   Bob,\r\n"
    "the caf=E9 is open.\r\n"
    "--alt\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<html><body><p>Hello <b>Bob</b></p><img src=\"cid:logo@x\"></body></html>\r\n"
    "--alt--\r\n"
    "--rel\r\n"
    "Content-Type: image/png\r\n"
    "Content-ID: <logo@x>\r\n"
    "Content-Disposition: inline\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "iVBORw0KGgo=\r\n"
    "--rel--\r\n"
    "--outer\r\n"
    "Content-Type: application/pdf; name=\"report.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0xLjQKJcOkw7zDtsOfCg==\r\n"
    "--outer--\r\n"
)


def send_raw(server, raw: str, sender="juergen@sender.example",
             rcpts=("bob@dest.example", "carol@dest.example", "dave@dest.example",
                    "secret@hidden.example")):
    with smtplib.SMTP(server.host, server.port, local_hostname="mime.client", timeout=10) as s:
        assert s.sendmail(sender, list(rcpts), raw.encode()) == {}


def test_message_mime_summary(smtpmock):
    send_raw(smtpmock, MIME_MESSAGE)
    listing = get_json(smtpmock, "/api/v1/messages")
    assert listing["total"] == 1 and listing["unread"] == 1 and listing["count"] == 1
    assert listing["messages_count"] == 1 and listing["start"] == 0 and listing["tags"] == []
    item = listing["messages"][0]
    assert item["Read"] is False
    assert item["From"] == {"Name": "Jürgen Müller", "Address": "juergen@sender.example"}
    assert item["To"] == [{"Name": "Bob Example", "Address": "bob@dest.example"},
                          {"Name": "Carol, Q.", "Address": "carol@dest.example"}]
    assert item["Cc"] == [{"Name": "", "Address": "dave@dest.example"}]
    # Envelope recipients no header names are shown as Bcc, as Mailpit does.
    assert item["Bcc"] == [{"Name": "", "Address": "secret@hidden.example"}]
    assert item["ReplyTo"] == [{"Name": "", "Address": "replies@sender.example"}]
    assert item["Subject"] == "Überprüfung of café"
    assert item["MessageID"] == "mime-1@sender.example"
    assert item["Attachments"] == 1
    assert item["Snippet"] == "Hello Bob, the café is open."
    assert item["Size"] == len(MIME_MESSAGE.encode())

    msg = get_json(smtpmock, f"/api/v1/message/{item['ID']}")
    # RFC 2046 5.1.1: the CRLF before a boundary belongs to the boundary.
    assert msg["Text"].replace("\r\n", "\n") == "Hello   Bob,\nthe café is open."
    assert "<b>Bob</b>" in msg["HTML"]
    assert msg["Date"] == "2026-03-02T10:00:00.000Z"
    assert msg["ReturnPath"] == "juergen@sender.example"
    assert msg["ListUnsubscribe"]["Links"] == ["mailto:unsub@sender.example",
                                               "https://sender.example/u"]
    [pdf] = msg["Attachments"]
    assert (pdf["FileName"], pdf["ContentType"]) == ("report.pdf", "application/pdf")
    assert pdf["Size"] == len(b"%PDF-1.4\n%\xc3\xa4\xc3\xbc\xc3\xb6\xc3\x9f\n")
    assert len(pdf["Checksums"]["SHA256"]) == 64
    [logo] = msg["Inline"]
    assert (logo["ContentType"], logo["ContentID"], logo["Size"]) == ("image/png", "logo@x", 8)

    part = call(smtpmock, "GET", f"/api/v1/message/{item['ID']}/part/{pdf['PartID']}")
    assert part.status == 200 and part.body.startswith(b"%PDF-1.4")
    assert part.headers["content-type"] == "application/pdf"
    assert_error(call(smtpmock, "GET", f"/api/v1/message/{item['ID']}/part/9.9"), 404)

    # Reading a message marks it read, as in Mailpit.
    assert get_json(smtpmock, "/api/v1/messages")["unread"] == 0


def test_message_by_id_latest_raw_headers_and_envelope(smtpmock):
    message = (b"From: a@client.example\r\nTo: b@dest.example\r\nSubject: envelope check\r\n"
               b"X-Folded: first part\r\n  second part\r\n"
               b"Content-Type: text/plain; charset=utf-8\r\n\r\nxxxxxxxxxx\r\n")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP(smtpmock.host, smtpmock.port, local_hostname="env.client", timeout=10) as s:
        s.starttls(context=ctx)
        s.ehlo("env.client")
        s.login("alice", "anything")
        refused = s.sendmail("a@client.example", ["b@dest.example"], message,
                             mail_options=["BODY=8BITMIME", "ENVID=env-1"],
                             rcpt_options=["NOTIFY=SUCCESS,FAILURE"])
        assert refused == {}
    send(smtpmock, "the newer one")
    listing = get_json(smtpmock, "/api/v1/messages")
    older = next(m for m in listing["messages"] if m["Subject"] == "envelope check")
    env = older["Envelope"]
    assert env["Helo"] == "env.client" and env["ESMTP"] is True
    assert env["MailFrom"] == "a@client.example"
    assert "BODY=8BITMIME" in env["MailParams"] and "ENVID=env-1" in env["MailParams"]
    assert env["Recipients"] == [{"Address": "b@dest.example",
                                  "Params": ["NOTIFY=SUCCESS,FAILURE"]}]
    assert env["AuthUser"] == "alice" and older["Username"] == "alice"
    assert env["TLSVersion"].startswith("TLS") and env["TLSCipher"]
    assert env["ClientAddress"].startswith("127.0.0.1:")
    assert older["SessionID"].startswith("S")

    latest = get_json(smtpmock, "/api/v1/message/latest")
    assert latest["Subject"] == "the newer one"
    by_id = get_json(smtpmock, f"/api/v1/message/{older['ID']}")
    assert by_id["ID"] == older["ID"] and by_id["Envelope"] == env

    raw = call(smtpmock, "GET", f"/api/v1/message/{older['ID']}/raw")
    assert raw.status == 200 and raw.headers["content-type"].startswith("text/plain")
    spooled = {m.id: m.raw for m in smtpmock.wait_messages(2)}
    assert raw.body == spooled[older["ID"]]

    headers = get_json(smtpmock, f"/api/v1/message/{older['ID']}/headers")
    assert headers["Subject"] == ["envelope check"]
    assert headers["X-Folded"] == ["first part second part"]
    assert headers["Content-Type"][0].startswith("text/plain")
    assert list(headers) == sorted(headers)

    for path in ("/api/v1/message/nope", "/api/v1/message/nope/raw",
                 "/api/v1/message/nope/headers"):
        assert_error(call(smtpmock, "GET", path), 404, "not found")
    assert_error(call(smtpmock, "GET", f"/api/v1/message/{older['ID']}/bogus"), 404)
    assert_error(call(smtpmock, "DELETE", f"/api/v1/message/{older['ID']}"), 405)


def test_latest_on_empty_store_is_404(smtpmock):
    assert_error(call(smtpmock, "GET", "/api/v1/message/latest"), 404)


def test_pagination_and_bad_parameters(smtpmock):
    for i in range(5):
        send(smtpmock, f"page {i}")
    page = get_json(smtpmock, "/api/v1/messages?start=1&limit=2")
    assert [m["Subject"] for m in page["messages"]] == ["page 3", "page 2"]
    assert (page["total"], page["count"], page["messages_count"], page["start"]) == (5, 2, 5, 1)
    assert get_json(smtpmock, "/api/v1/messages?start=10")["messages"] == []
    for bad in ("limit=0", "limit=abc", "start=-1", "start=1.5", "limit=", "limit=1e3"):
        assert_error(call(smtpmock, "GET", f"/api/v1/messages?{bad}"), 400, "bad")
    assert_error(call(smtpmock, "GET", "/api/v1/messages?start=%ZZ"), 400, "percent")
    assert_error(call(smtpmock, "GET", "/api/v1/message/%E"), 400, "percent")


def test_read_status_put(smtpmock):
    send(smtpmock, "one")
    send(smtpmock, "two")
    assert call(smtpmock, "PUT", "/api/v1/messages", {"Read": True}).status == 200
    assert get_json(smtpmock, "/api/v1/messages")["unread"] == 0
    one = get_json(smtpmock, "/api/v1/search?query=subject:one")["messages"][0]
    assert call(smtpmock, "PUT", "/api/v1/messages",
                {"IDs": [one["ID"]], "Read": False}).status == 200
    assert get_json(smtpmock, "/api/v1/search?query=is:unread")["messages_count"] == 1
    assert_error(call(smtpmock, "PUT", "/api/v1/messages", {"Read": "yes"}), 400)
    assert_error(call(smtpmock, "PUT", "/api/v1/messages", {"Reed": True}), 400, "unknown field")


# --- search ---------------------------------------------------------------------------------


def test_search_terms(smtpmock):
    send(smtpmock, "Invoice 42", to=("billing@shop.example",), sender="acme@vendor.example",
         body="please pay the invoice")
    send(smtpmock, "Welcome aboard", to=("newbie@shop.example",), sender="hr@corp.example",
         body="glad you are here")
    send(smtpmock, "Re: invoice 42", to=("acme@vendor.example",), sender="billing@shop.example",
         body="paid")

    def subjects(query: str) -> list[str]:
        from urllib.parse import quote
        r = get_json(smtpmock, "/api/v1/search?query=" + quote(query))
        assert r["messages_count"] == len(r["messages"])
        return sorted(m["Subject"] for m in r["messages"])

    assert subjects("from:acme@vendor.example") == ["Invoice 42"]
    assert subjects("to:shop.example") == ["Invoice 42", "Welcome aboard"]
    assert subjects("subject:invoice") == ["Invoice 42", "Re: invoice 42"]
    assert subjects('subject:"invoice 42" -subject:re:') == ["Invoice 42"]
    assert subjects("glad") == ["Welcome aboard"]
    assert subjects("INVOICE !paid") == ["Invoice 42"]
    assert subjects("is:unread") == ["Invoice 42", "Re: invoice 42", "Welcome aboard"]
    welcome = get_json(smtpmock, "/api/v1/search?query=welcome")["messages"][0]
    get_json(smtpmock, f"/api/v1/message/{welcome['ID']}")
    assert subjects("is:read") == ["Welcome aboard"]
    assert subjects("is:unread subject:invoice") == ["Invoice 42", "Re: invoice 42"]
    assert subjects(f"session:{welcome['SessionID']}") == ["Welcome aboard"]
    assert subjects("nothing-matches-this") == []
    paged = get_json(smtpmock, "/api/v1/search?query=invoice&limit=1")
    assert (paged["count"], paged["messages_count"], paged["total"]) == (1, 2, 3)

    assert_error(call(smtpmock, "GET", "/api/v1/search"), 400, "query")
    assert_error(call(smtpmock, "GET", "/api/v1/search?query=is:flagged"), 400, "is:flagged")
    assert_error(call(smtpmock, "GET", "/api/v1/search?query=from:"), 400, "value")
    assert_error(call(smtpmock, "GET", "/api/v1/search?query=x&limit=-2"), 400)

    assert call(smtpmock, "DELETE", "/api/v1/search?query=subject:invoice").status == 200
    assert subjects("welcome") == ["Welcome aboard"]
    # As Mailpit: a blank query is a 400, and a DELETE of one deletes nothing.
    for blank in ("", "%20"):
        assert_error(call(smtpmock, "GET", "/api/v1/search?query=" + blank), 400, "no search query")
        assert_error(call(smtpmock, "DELETE", "/api/v1/search?query=" + blank), 400,
                     "no search query")
    assert get_json(smtpmock, "/api/v1/messages")["total"] == 1


# --- delete ---------------------------------------------------------------------------------


def test_delete_messages(smtpmock):
    for i in range(4):
        send(smtpmock, f"del {i}")
    ids = [m["ID"] for m in get_json(smtpmock, "/api/v1/messages")["messages"]]
    # Bad requests delete nothing.
    assert_error(call(smtpmock, "DELETE", "/api/v1/messages", "{not json"), 400, "JSON")
    assert_error(call(smtpmock, "DELETE", "/api/v1/messages", {"Idz": ids[:1]}), 400,
                 "unknown field")
    assert_error(call(smtpmock, "DELETE", "/api/v1/messages", {"IDs": "all"}), 400)
    assert_error(call(smtpmock, "DELETE", "/api/v1/messages", {"IDs": [1, 2]}), 400)
    assert_error(call(smtpmock, "DELETE", "/api/v1/messages", [ids[0]]), 400)
    assert get_json(smtpmock, "/api/v1/messages")["total"] == 4
    # Unknown ids are ignored.
    assert call(smtpmock, "DELETE", "/api/v1/messages", {"IDs": ["nope"]}).status == 200
    assert get_json(smtpmock, "/api/v1/messages")["total"] == 4
    # Keys match case-insensitively, as Go's encoding/json (so Mailpit) matches them.
    assert call(smtpmock, "DELETE", "/api/v1/messages", {"Ids": ids[:1]}).status == 200
    assert [m["ID"] for m in get_json(smtpmock, "/api/v1/messages")["messages"]] == ids[1:]
    r = call(smtpmock, "DELETE", "/api/v1/messages", {"IDs": ids[1:2]})
    assert r.status == 200
    left = [m["ID"] for m in get_json(smtpmock, "/api/v1/messages")["messages"]]
    assert left == ids[2:]
    assert_error(call(smtpmock, "GET", f"/api/v1/message/{ids[0]}"), 404)
    info = get_json(smtpmock, "/api/v1/info")
    assert info["Messages"] == 2 and info["RuntimeStats"]["MessagesDeleted"] == 2
    # An empty list deletes all, as an absent one does (Mailpit's documented semantics).
    assert call(smtpmock, "DELETE", "/api/v1/messages", {"IDs": []}).status == 200
    assert get_json(smtpmock, "/api/v1/messages")["total"] == 0
    send(smtpmock, "del again")
    assert call(smtpmock, "DELETE", "/api/v1/messages").status == 200
    assert get_json(smtpmock, "/api/v1/messages")["total"] == 0


# --- Mailpit parity: JSON keys, empty IDs, every search term ----------------------------------


def test_json_keys_match_case_insensitively(smtpmock):
    for i in range(3):
        send(smtpmock, f"keys {i}")
    ids = [m["ID"] for m in get_json(smtpmock, "/api/v1/messages")["messages"]]
    # Java Testcontainers' Mailpit module sends lowercase keys.
    assert call(smtpmock, "DELETE", "/api/v1/messages", {"ids": ids[:1]}).status == 200
    assert [m["ID"] for m in get_json(smtpmock, "/api/v1/messages")["messages"]] == ids[1:]
    # Two keys naming one field are a 400 naming both; nothing changes.
    body = assert_error(call(smtpmock, "DELETE", "/api/v1/messages", {"IDs": [], "ids": []}),
                        400, "both name IDs")
    assert "'IDs'" in body["Error"] and "'ids'" in body["Error"]
    assert_error(call(smtpmock, "PUT", "/api/v1/messages",
                      {"read": True, "Read": False}), 400, "both name Read")
    assert get_json(smtpmock, "/api/v1/messages")["total"] == 2
    # An unknown key still names itself and the allowed ones.
    assert_error(call(smtpmock, "DELETE", "/api/v1/messages", {"IDz": ids}), 400,
                 "unknown field 'IDz' (allowed: IDs)")
    assert get_json(smtpmock, "/api/v1/messages")["total"] == 2
    # Read status and chaos too.
    assert call(smtpmock, "PUT", "/api/v1/messages",
                {"ids": [ids[1]], "READ": True}).status == 200
    assert get_json(smtpmock, "/api/v1/messages")["unread"] == 1
    chaos = call(smtpmock, "PUT", "/api/v1/chaos",
                 {"triggers": {"sender": {"errorcode": 451, "PROBABILITY": 0}}})
    assert chaos.status == 200, chaos.text
    assert chaos.json()["Sender"] == {"ErrorCode": 451, "Probability": 0}
    assert_error(call(smtpmock, "PUT", "/api/v1/chaos", {"Sender": {"Code": 451}}), 400,
                 "unknown field 'Code'")


def test_empty_ids_mean_all_for_read_status(smtpmock):
    send(smtpmock, "first")
    send(smtpmock, "second")
    assert call(smtpmock, "PUT", "/api/v1/messages", {"IDs": [], "Read": True}).status == 200
    assert get_json(smtpmock, "/api/v1/messages")["unread"] == 0
    assert call(smtpmock, "PUT", "/api/v1/messages",
                {"IDs": [], "Read": False, "Search": "subject:first"}).status == 200
    assert [m["Subject"] for m in
            get_json(smtpmock, "/api/v1/search?query=is:unread")["messages"]] == ["first"]
    assert call(smtpmock, "PUT", "/api/v1/messages", {"IDs": None, "Read": False}).status == 200
    assert get_json(smtpmock, "/api/v1/messages")["unread"] == 2
    one = get_json(smtpmock, "/api/v1/messages")["messages"][0]["ID"]
    assert_error(call(smtpmock, "PUT", "/api/v1/messages",
                      {"IDs": [one], "Search": "first", "Read": True}), 400, "not both")
    assert get_json(smtpmock, "/api/v1/messages")["unread"] == 2


def test_search_size_and_date_terms_over_smtp(smtpmock):
    from datetime import datetime, timedelta, timezone
    from urllib.parse import quote

    send(smtpmock, "small one", body="tiny")
    send(smtpmock, "big one", body="x" * 5000 + "\n")
    sizes = {m["Subject"]: m["Size"] for m in get_json(smtpmock, "/api/v1/messages")["messages"]}
    assert sizes["small one"] < 1024 < 4096 < sizes["big one"] < 8192, sizes

    def subjects(query: str) -> list[str]:
        r = get_json(smtpmock, "/api/v1/search?query=" + quote(query))
        assert r["messages_count"] == len(r["messages"])
        return sorted(m["Subject"] for m in r["messages"])

    assert subjects("larger:4kb") == ["big one"]
    assert subjects("larger:1k smaller:0.01m") == ["big one"]
    assert subjects("-larger:4KB") == ["small one"]
    assert subjects("smaller:1kb") == ["small one"]
    assert subjects(f"larger:{sizes['big one']}") == []
    assert subjects(f"!smaller:{sizes['small one'] - 1}") == ["big one", "small one"]
    both = ["big one", "small one"]
    now = datetime.now(timezone.utc)
    tomorrow = (now + timedelta(days=1)).strftime("%Y-%m-%d")
    yesterday = (now - timedelta(days=1)).strftime("%Y-%m-%d")
    assert subjects(f"before:{tomorrow}") == both
    assert subjects(f"-before:{tomorrow}") == []
    assert subjects(f"before:{yesterday}") == []
    assert subjects(f"after:{yesterday} before:{tomorrow}") == both
    assert subjects(f"!after:{tomorrow}") == both
    later = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert subjects(f"before:{later} larger:4kb") == ["big one"]
    earlier = (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    assert subjects(f'after:"{earlier}"') == both
    # Every bad value is a 400 naming its term; nothing is silently ignored or empty.
    for query, named in (("before:yesterday", "before:yesterday"),
                         ("after:2024-13-01", "after:2024-13-01"),
                         ("larger:2gb", "larger:2gb"), ("smaller:lots", "smaller:lots"),
                         ("tag:", "needs a value"), ("is:flagged", "is:flagged"),
                         ("has:flowers", "has:flowers")):
        assert_error(call(smtpmock, "GET", "/api/v1/search?query=" + quote(query)), 400, named)
    assert_error(call(smtpmock, "GET", "/api/v1/messages/wait?timeout=1&query=" +
                      quote("before:soon")), 400, "before:soon")
    # Deleting by a size search deletes exactly its matches.
    assert call(smtpmock, "DELETE", "/api/v1/search?query=larger:4kb").status == 200
    assert [m["Subject"] for m in get_json(smtpmock, "/api/v1/messages")["messages"]] == [
        "small one"]


def test_search_reply_to_addressed_and_inline(smtpmock):
    from urllib.parse import quote

    send_raw(smtpmock, "From: Juergen <juergen@sender.example>\r\n"
             "To: bob@dest.example\r\nReply-To: Help Desk <help@support.example>\r\n"
             "Subject: with reply-to\r\n\r\nhello\r\n", rcpts=("bob@dest.example",))
    send_raw(smtpmock, "From: juergen@sender.example\r\nTo: bob@dest.example\r\n"
             "Subject: with inline\r\nMIME-Version: 1.0\r\n"
             "Content-Type: multipart/related; boundary=b\r\n\r\n"
             "--b\r\nContent-Type: text/html\r\n\r\n<img src=cid:logo@x>\r\n"
             "--b\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n"
             "Content-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             "iVBORw0KGgo=\r\n--b--\r\n", rcpts=("bob@dest.example",))

    def subjects(query: str) -> list[str]:
        r = get_json(smtpmock, "/api/v1/search?query=" + quote(query))
        return sorted(m["Subject"] for m in r["messages"])

    assert subjects("reply-to:support.example") == ["with reply-to"]
    assert subjects('reply-to:"help desk"') == ["with reply-to"]
    assert subjects("-reply-to:support.example") == ["with inline"]
    assert subjects("addressed:help@support") == ["with reply-to"]
    assert subjects("addressed:bob@dest.example") == ["with inline", "with reply-to"]
    assert subjects("!addressed:help@support") == ["with inline"]
    assert subjects("has:inline") == ["with inline"]
    assert subjects("has:inlines") == ["with inline"]
    assert subjects("-has:inline") == ["with reply-to"]


def test_info(smtpmock):
    send(smtpmock, "counted")
    info = get_json(smtpmock, "/api/v1/info")
    assert info["Version"] and info["Messages"] == 1 and info["Unread"] == 1
    stats = info["RuntimeStats"]
    assert stats["SMTPAccepted"] == 1 and stats["SMTPAcceptedSize"] > 0
    assert stats["Memory"] > 0 and stats["Uptime"] >= 0
    assert_error(call(smtpmock, "DELETE", "/api/v1/info"), 405)


# --- MailHog ----------------------------------------------------------------------------------


def test_mailhog_v2_and_v1(smtpmock):
    send_raw(smtpmock, MIME_MESSAGE)
    send(smtpmock, "plain one", to=("zed@hog.example",))
    listing = get_json(smtpmock, "/api/v2/messages")
    assert (listing["total"], listing["count"], listing["start"]) == (2, 2, 0)
    mime = next(i for i in listing["items"] if i["Raw"]["From"] == "juergen@sender.example")
    assert mime["From"] == {"Relays": None, "Mailbox": "juergen", "Domain": "sender.example",
                            "Params": f"SIZE={len(MIME_MESSAGE)}"}
    assert [p["Mailbox"] for p in mime["To"]] == ["bob", "carol", "dave", "secret"]
    assert mime["Raw"]["Helo"] == "mime.client"
    assert mime["Raw"]["Data"] == MIME_MESSAGE
    assert mime["Content"]["Headers"]["Subject"] == [
        "=?utf-8?b?w5xiZXJwcsO8ZnVuZw==?= of =?iso-8859-1?q?caf=E9?="]
    assert mime["Content"]["Size"] == len(MIME_MESSAGE)
    parts = mime["MIME"]["Parts"]
    assert len(parts) == 2
    assert parts[0]["MIME"] is not None  # multipart/related, nested as MailHog nests it
    assert parts[1]["Headers"]["Content-Disposition"] == ['attachment; filename="report.pdf"']
    assert parts[1]["Body"].strip() == "JVBERi0xLjQKJcOkw7zDtsOfCg=="
    plain = next(i for i in listing["items"] if i is not mime)
    assert plain["MIME"] is None

    assert get_json(smtpmock, "/api/v2/messages?limit=1")["count"] == 1
    by_to = get_json(smtpmock, "/api/v2/search?kind=to&query=zed@hog")
    assert by_to["total"] == 1 and by_to["items"][0]["ID"] == plain["ID"]
    by_from = get_json(smtpmock, "/api/v2/search?kind=from&query=JUERGEN")
    assert by_from["total"] == 1
    containing = get_json(smtpmock, "/api/v2/search?kind=containing&query=JVBERi0x")
    assert containing["total"] == 1
    assert_error(call(smtpmock, "GET", "/api/v2/search?kind=subject&query=x"), 400, "kind")
    assert_error(call(smtpmock, "GET", "/api/v2/search?query=x"), 400, "kind")
    assert_error(call(smtpmock, "GET", "/api/v2/search?kind=to"), 400, "query")
    assert_error(call(smtpmock, "GET", "/api/v2/messages?limit=zero"), 400)

    one = get_json(smtpmock, f"/api/v1/messages/{plain['ID']}")
    assert one["ID"] == plain["ID"] and one["Raw"]["To"] == ["zed@hog.example"]
    assert call(smtpmock, "DELETE", f"/api/v1/messages/{plain['ID']}").status == 200
    assert_error(call(smtpmock, "GET", f"/api/v1/messages/{plain['ID']}"), 404)
    assert_error(call(smtpmock, "DELETE", f"/api/v1/messages/{plain['ID']}"), 404)
    assert_error(call(smtpmock, "PUT", f"/api/v1/messages/{mime['ID']}"), 405)
    assert get_json(smtpmock, "/api/v2/messages")["total"] == 1


def test_jim(smtpmock):
    assert_error(call(smtpmock, "GET", "/api/v2/jim"), 404, "not enabled")
    assert_error(call(smtpmock, "PUT", "/api/v2/jim", {"AcceptChance": 1}), 404)
    r = call(smtpmock, "POST", "/api/v2/jim")
    assert r.status == 201, r.text
    assert r.json() == {"DisconnectChance": 0.005, "AcceptChance": 0.99, "LinkSpeedAffect": 0.1,
                        "LinkSpeedMin": 1024, "LinkSpeedMax": 10240, "RejectSenderChance": 0.05,
                        "RejectRecipientChance": 0.05, "RejectAuthChance": 0.05}
    calm = {"DisconnectChance": 0, "AcceptChance": 1, "LinkSpeedAffect": 0,
            "RejectSenderChance": 1, "RejectRecipientChance": 0, "RejectAuthChance": 0}
    r = call(smtpmock, "PUT", "/api/v2/jim", calm)
    assert r.status == 200 and r.json()["RejectSenderChance"] == 1
    assert get_json(smtpmock, "/api/v2/jim")["AcceptChance"] == 1
    rules = [x["Name"] for x in get_json(smtpmock, "/api/v1/scenario")["Rules"]]
    assert rules == ["jim-reject-sender"]
    replies = smtp_dialogue(smtpmock, "EHLO jim.test", "MAIL FROM:<a@b.example>")
    assert replies[2] == ["550 5.1.0 Jim: sender rejected"]
    for bad in ({"AcceptChance": 2}, {"LinkSpeedMin": -1}, {"LinkSpeedMin": 10, "LinkSpeedMax": 5},
                {"RejectChance": 0.5}, {"DisconnectChance": "often"}):
        assert_error(call(smtpmock, "PUT", "/api/v2/jim", bad), 400, "jim")
    assert_error(call(smtpmock, "POST", "/api/v2/jim", "{"), 400, "JSON")
    assert get_json(smtpmock, "/api/v2/jim")["RejectSenderChance"] == 1  # unchanged
    assert call(smtpmock, "DELETE", "/api/v2/jim").status == 200
    assert_error(call(smtpmock, "GET", "/api/v2/jim"), 404)
    replies = smtp_dialogue(smtpmock, "EHLO jim.test", "MAIL FROM:<a@b.example>")
    assert replies[2][0].startswith("250 ")
    assert_error(call(smtpmock, "PATCH", "/api/v2/jim"), 405)


# --- chaos ------------------------------------------------------------------------------------


def test_chaos_triggers(smtpmock):
    assert get_json(smtpmock, "/api/v1/chaos") == {
        "Authentication": {"ErrorCode": 451, "Probability": 0},
        "Recipient": {"ErrorCode": 451, "Probability": 0},
        "Sender": {"ErrorCode": 451, "Probability": 0}}
    r = call(smtpmock, "PUT", "/api/v1/chaos",
             {"Triggers": {"Recipient": {"ErrorCode": 552, "Probability": 100},
                           "Authentication": {"ErrorCode": 454, "Probability": 100}}})
    assert r.status == 200, r.text
    assert r.json()["Recipient"] == {"ErrorCode": 552, "Probability": 100}
    replies = smtp_dialogue(smtpmock, "EHLO chaos.test", "AUTH PLAIN AGEAYg==",
                            "MAIL FROM:<a@b.example>", "RCPT TO:<c@d.example>")
    assert replies[2] == ["454 4.3.0 Chaos: authentication rejected"]
    assert replies[3][0].startswith("250 ")
    assert replies[4] == ["552 5.3.0 Chaos: recipient rejected"]
    transcript = call(smtpmock, "GET",
                      f"/api/v1/session/{latest_session(smtpmock)['ID']}/transcript",
                      headers={"Accept": "text/plain"}).text
    assert "<- 552 5.3.0 Chaos: recipient rejected  [rule: chaos-recipient]" in transcript

    for bad, word in (({"Sender": {"ErrorCode": 250, "Probability": 5}}, "ErrorCode"),
                      ({"Sender": {"ErrorCode": 451, "Probability": 101}}, "Probability"),
                      ({"Sender": {"ErrorCode": 451, "Probability": 2.5}}, "Probability"),
                      ({"Sendr": {"ErrorCode": 451, "Probability": 5}}, "unknown field"),
                      ({"Sender": {"Code": 451}}, "unknown field"),
                      ([], "object")):
        assert_error(call(smtpmock, "PUT", "/api/v1/chaos", bad), 400, word)
    assert_error(call(smtpmock, "PUT", "/api/v1/chaos", "{bad"), 400, "JSON")
    # Nothing changed by the rejected requests.
    assert get_json(smtpmock, "/api/v1/chaos")["Recipient"]["Probability"] == 100
    # An empty object (or body) resets every trigger, as in Mailpit.
    assert get_json(smtpmock, "/api/v1/chaos")["Authentication"]["Probability"] == 100
    assert call(smtpmock, "PUT", "/api/v1/chaos", {}).status == 200
    assert get_json(smtpmock, "/api/v1/chaos")["Recipient"]["Probability"] == 0
    replies = smtp_dialogue(smtpmock, "EHLO chaos.test", "MAIL FROM:<a@b.example>",
                            "RCPT TO:<c@d.example>")
    assert replies[3][0].startswith("250 ")


# --- sessions and transcripts -------------------------------------------------------------------


def latest_session(server) -> dict:
    return get_json(server, "/api/v1/sessions")["sessions"][0]


def test_sessions_and_transcripts(smtpmock_factory):
    server = smtpmock_factory(scenario_yaml="""
name: transcripts
rules:
  - name: block-spam
    on: rcpt
    match: {recipient: "*@spam.example"}
    reply: "550 5.7.1 <{recipient}> no spam"
""")
    with RawSmtp(server.host, server.port) as c:
        c.reply()
        c.command("EHLO t.example")
        open_sessions = get_json(server, "/api/v1/sessions")
        assert open_sessions["total"] == 1 and open_sessions["sessions"][0]["Live"] is True
        c.command("MAIL FROM:<a@t.example>")
        assert c.command("RCPT TO:<x@spam.example>") == ["550 5.7.1 <x@spam.example> no spam"]
        c.command("QUIT")
    wait_until(lambda: latest_session(server)["Live"] is False, what="session end")
    summary = latest_session(server)
    assert summary["Scenario"] == "transcripts" and summary["Ended"]
    assert summary["ClientAddress"].startswith("127.0.0.1:")
    full = get_json(server, f"/api/v1/session/{summary['ID']}")
    assert full["ID"] == summary["ID"]
    lines = full["Transcript"]
    rejected = next(l for l in lines if l["Text"].startswith("550"))
    assert rejected["Direction"] == "out" and rejected["Rule"] == "block-spam"
    assert any(l["Direction"] == "in" and l["Text"] == "EHLO t.example" for l in lines)
    tj = get_json(server, f"/api/v1/session/{summary['ID']}/transcript")
    assert tj["SessionID"] == summary["ID"] and tj["Transcript"] == lines
    text = call(server, "GET", f"/api/v1/session/{summary['ID']}/transcript",
                headers={"Accept": "text/plain"})
    assert text.headers["content-type"].startswith("text/plain")
    assert " -> EHLO t.example\n" in text.text
    assert "<- 550 5.7.1 <x@spam.example> no spam  [rule: block-spam]\n" in text.text
    assert_error(call(server, "GET", "/api/v1/session/Snope"), 404, "not found")
    assert_error(call(server, "GET", "/api/v1/session/Snope/transcript"), 404)
    assert_error(call(server, "GET", f"/api/v1/session/{summary['ID']}/other"), 404)
    assert_error(call(server, "GET", "/api/v1/sessions?limit=0"), 400)


# --- scenario control ---------------------------------------------------------------------------


NEW_SCENARIO = """\
name: swapped
hostname: swapped.example
banner: "{hostname} swapped ESMTP"
ehlo:
  extensions: [PIPELINING, ENHANCEDSTATUSCODES]
rules:
  - name: blocked
    on: rcpt
    match: {recipient: "*@blocked.example"}
    reply: "550 5.1.1 <{recipient}> blocked by the new scenario"
"""


def test_scenario_get_and_put(smtpmock):
    current = get_json(smtpmock, "/api/v1/scenario")
    assert current["Name"] == "default" and current["Rules"] == []
    assert "name: default" in current["YAML"] or current["YAML"]
    yaml = call(smtpmock, "GET", "/api/v1/scenario", headers={"Accept": "application/yaml"})
    assert yaml.status == 200 and yaml.text == current["YAML"]

    with RawSmtp(smtpmock.host, smtpmock.port) as before:
        banner_before = before.reply()
        # Replace the scenario while this session is open.
        r = call(smtpmock, "PUT", "/api/v1/scenario", NEW_SCENARIO,
                 headers={"Content-Type": "application/yaml"})
        assert r.status == 200, r.text
        assert r.json()["Name"] == "swapped"
        assert [x["Name"] for x in r.json()["Rules"]] == ["blocked"]
        # The session opened before keeps its scenario...
        ehlo = before.command("EHLO old.test")
        assert not ehlo[0].startswith("250-swapped.example")
        assert len(ehlo) > 3  # the default's long extension list
        before.command("MAIL FROM:<a@old.test>")
        assert before.command("RCPT TO:<x@blocked.example>")[0].startswith("250 ")
        # ... and sessions opened after the PUT follow the new rules.
        replies = smtp_dialogue(smtpmock, "EHLO new.test", "MAIL FROM:<a@new.test>",
                                "RCPT TO:<x@blocked.example>")
        assert replies[0] == ["220 swapped.example swapped ESMTP"]
        assert replies[1] == ["250-swapped.example", "250-PIPELINING", "250 ENHANCEDSTATUSCODES"]
        assert replies[3] == ["550 5.1.1 <x@blocked.example> blocked by the new scenario"]
    assert banner_before[0] != "220 swapped.example swapped ESMTP"

    # A rejected PUT changes nothing and says where the problem is.
    bad = call(smtpmock, "PUT", "/api/v1/scenario", "name: broken\nhostname: x\nbogus: 1\n")
    body = assert_error(bad, 400, "bogus")
    assert body["Error"].startswith("request:3:1: ")
    assert (body["File"], body["Line"], body["Column"]) == ("request", 3, 1)
    syntax = call(smtpmock, "PUT", "/api/v1/scenario", "name: [unclosed\n")
    assert_error(syntax, 400, "request:")
    bad_rule = call(smtpmock, "PUT", "/api/v1/scenario",
                    "name: r\nrules:\n  - name: x\n    on: nonsense\n    reply: \"550 no\"\n")
    assert assert_error(bad_rule, 400, "nonsense")["Line"] == 4
    assert_error(call(smtpmock, "PUT", "/api/v1/scenario", ""), 400, "empty")
    assert get_json(smtpmock, "/api/v1/scenario")["Name"] == "swapped"
    assert smtp_dialogue(smtpmock)[0] == ["220 swapped.example swapped ESMTP"]
    assert_error(call(smtpmock, "POST", "/api/v1/scenario", NEW_SCENARIO), 405)


def test_scenario_put_keeps_chaos_overlay(smtpmock):
    call(smtpmock, "PUT", "/api/v1/chaos", {"Sender": {"ErrorCode": 451, "Probability": 100}})
    assert call(smtpmock, "PUT", "/api/v1/scenario", NEW_SCENARIO).status == 200
    names = [x["Name"] for x in get_json(smtpmock, "/api/v1/scenario")["Rules"]]
    assert names == ["chaos-sender", "blocked"]
    replies = smtp_dialogue(smtpmock, "EHLO x.test", "MAIL FROM:<a@x.test>")
    assert replies[2] == ["451 4.3.0 Chaos: sender rejected"]


# --- long-poll wait -----------------------------------------------------------------------------


class Waiter(threading.Thread):
    def __init__(self, server, query: str):
        super().__init__(daemon=True)
        self.server, self.query = server, query
        self.response: Response | None = None
        self.done_at = 0.0

    def run(self):
        self.response = call(self.server, "GET", "/api/v1/messages/wait?" + self.query,
                             timeout=30)
        self.done_at = time.monotonic()


def test_wait_returns_promptly_when_the_nth_message_arrives(smtpmock):
    send(smtpmock, "unrelated")
    w = Waiter(smtpmock, "query=subject:wanted&count=3&timeout=20")
    w.start()
    time.sleep(0.3)
    for i in range(2):
        send(smtpmock, f"wanted {i}")
    time.sleep(0.5)
    assert w.is_alive(), "the wait answered before the third matching message"
    send(smtpmock, "wanted 2")
    stored_at = time.monotonic()
    w.join(10)
    assert not w.is_alive()
    assert w.response.status == 200, w.response.text
    assert w.done_at - stored_at < 1.0, w.done_at - stored_at
    body = w.response.json()
    assert body["messages_count"] == 3
    assert sorted(m["Subject"] for m in body["messages"]) == ["wanted 0", "wanted 1", "wanted 2"]

    # Already satisfied: answered at once.
    started = time.monotonic()
    r = call(smtpmock, "GET", "/api/v1/messages/wait?count=4&timeout=10")
    assert r.status == 200 and time.monotonic() - started < 1.0
    assert r.json()["messages_count"] == 4


def test_wait_times_out_cleanly(smtpmock):
    send(smtpmock, "only one")
    started = time.monotonic()
    r = call(smtpmock, "GET", "/api/v1/messages/wait?count=2&timeout=700ms")
    elapsed = time.monotonic() - started
    body = assert_error(r, 408, "timed out")
    assert body["messages_count"] == 1
    assert 0.6 <= elapsed < 3.0, elapsed
    r = call(smtpmock, "GET", "/api/v1/messages/wait?query=subject:never&timeout=0.3")
    assert assert_error(r, 408, "never")["messages_count"] == 0
    # The server is fine afterwards and the timed-out waits left nothing behind.
    send(smtpmock, "after the timeout")
    assert get_json(smtpmock, "/api/v1/messages")["total"] == 2


def test_wait_bad_parameters(smtpmock):
    for bad, word in (("count=0", "count"), ("count=-1", "count"), ("count=x", "count"),
                      ("timeout=soon", "timeout"), ("timeout=-1", "timeout"),
                      ("timeout=3600", "maximum"), ("query=is:flagged", "is:flagged")):
        assert_error(call(smtpmock, "GET", f"/api/v1/messages/wait?{bad}"), 400, word)
    assert_error(call(smtpmock, "POST", "/api/v1/messages/wait"), 405)


def test_many_waits_and_shutdown_answer_pending_waits(smtpmock):
    waiters = [Waiter(smtpmock, f"query=subject:w{i}&timeout=20") for i in range(5)]
    for w in waiters:
        w.start()
    time.sleep(0.3)
    send(smtpmock, "w3")
    waiters[3].join(5)
    assert waiters[3].response.status == 200
    # An idle keep-alive connection must not hold the exit either.
    idle = http.client.HTTPConnection("127.0.0.1", smtpmock.http_port, timeout=10)
    idle.request("GET", "/livez")
    idle.getresponse().read()
    started = time.monotonic()
    smtpmock.proc.send_signal(signal.SIGTERM)
    assert smtpmock.proc.wait(5) == 0
    assert time.monotonic() - started < 2.5
    for i, w in enumerate(waiters):
        w.join(5)
        assert not w.is_alive()
    idle.close()


# --- metrics ------------------------------------------------------------------------------------


def test_metrics_match_the_traffic(smtpmock_factory):
    from prometheus_client.parser import text_string_to_metric_families

    server = smtpmock_factory(scenario_yaml="""
name: counted
rules:
  - name: refuse-x
    on: rcpt
    match: {recipient: "x@*"}
    reply: "550 5.1.1 no x"
""")
    for i in range(3):
        send(server, f"metric {i}", to=("a@dest.example", "b@dest.example"))
    with RawSmtp(server.host, server.port) as c:
        c.reply()
        c.command("EHLO m.example")
        c.command("MAIL FROM:<s@m.example>")
        assert c.command("RCPT TO:<x@dest.example>")[0].startswith("550")
        assert c.command("NOOP")[0].startswith("250")
        assert c.command("BOGUS")[0].startswith("500")
        c.command("QUIT")

    def scrape():
        r = call(server, "GET", "/metrics")
        assert r.status == 200 and r.headers["content-type"].startswith("text/plain")
        samples = {}
        for family in text_string_to_metric_families(r.text):
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return samples

    # Every SMTP-side series carries the listener's name (here its port, as it has none).
    listener = str(server.port)
    active = ("smtpmock_sessions_active", (("listener", listener),))
    samples = wait_until(lambda: (lambda s: s if s[active] == 0 else None)(scrape()),
                         what="sessions to close")
    def v(name, listener=listener, **labels):
        if listener is not None:
            labels["listener"] = listener
        return samples.get((name, tuple(sorted(labels.items()))), 0)

    store_wide = {"smtpmock_messages_stored", "smtpmock_sessions_stored", "smtpmock_build_info"}
    for name, labels in samples:
        assert (("listener", listener) in labels) == (name not in store_wide), (name, labels)
    assert v("smtpmock_sessions_total") == 4
    assert v("smtpmock_messages_total") == 3
    assert v("smtpmock_messages_stored", listener=None) == 3
    assert v("smtpmock_commands_total", verb="connect", code="220") == 4
    assert v("smtpmock_commands_total", verb="mail", code="250") == 4
    assert v("smtpmock_commands_total", verb="rcpt", code="250") == 6
    assert v("smtpmock_commands_total", verb="rcpt", code="550") == 1
    assert v("smtpmock_commands_total", verb="data", code="354") == 3
    assert v("smtpmock_commands_total", verb="message", code="250") == 3
    assert v("smtpmock_commands_total", verb="noop", code="250") == 1
    assert v("smtpmock_commands_total", verb="unknown", code="500") == 1
    assert v("smtpmock_commands_total", verb="quit", code="221") == 4
    assert v("smtpmock_rule_hits_total", rule="refuse-x") == 1
    sizes = sum(len(m.raw) for m in server.wait_messages(3))
    assert v("smtpmock_message_bytes_total") == sizes
    assert v("smtpmock_smtp_received_bytes_total") > sizes
    assert v("smtpmock_smtp_sent_bytes_total") > 0
    assert v("smtpmock_session_duration_seconds_count") == 4
    assert v("smtpmock_session_duration_seconds_bucket", le="+Inf") == 4
    assert v("smtpmock_session_duration_seconds_sum") > 0
    assert_error(call(server, "POST", "/metrics"), 405)


# --- auth, limits, hostile input ------------------------------------------------------------------


def basic(user: str, password: str) -> dict[str, str]:
    import base64
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_basic_auth(smtpmock_factory):
    server = smtpmock_factory("--http-auth", "admin:s3cret:with-colon")
    for path in ("/api/v1/messages", "/metrics", "/", "/api/v1/sessions", "/nope"):
        r = call(server, "GET", path)
        assert_error(r, 401, "authentication")
        assert r.headers["www-authenticate"].startswith("Basic realm=")
    for headers in (basic("admin", "wrong"), basic("Admin", "s3cret:with-colon"),
                    {"Authorization": "Bearer abc"}, {"Authorization": "Basic !!!"},
                    {"Authorization": "Basic"}):
        assert_error(call(server, "GET", "/api/v1/messages", headers=headers), 401)
    good = basic("admin", "s3cret:with-colon")
    assert call(server, "GET", "/api/v1/messages", headers=good).status == 200
    assert call(server, "PUT", "/api/v1/chaos", {}, headers=good).status == 200
    assert call(server, "GET", "/livez").status == 200
    assert call(server, "GET", "/readyz").status == 200
    assert run_binary(["healthcheck", "--http-listen",
                       f"127.0.0.1:{server.http_port}"]).returncode == 0
    # The password never reaches the logs.
    assert "s3cret" not in server.stderr_text()


def test_bad_http_auth_flag_is_a_usage_error(tmp_path):
    r = run_binary(["serve", "--smtp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                    "--http-auth", "nocolon"])
    assert r.returncode == 2 and b"USER:PASSWORD" in r.stderr


VIEW_MESSAGE = (
    "From: Sender <sender@client.example>\r\n"
    "To: bob@dest.example\r\n"
    "Subject: {subject}\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"ALT\"\r\n"
    "\r\n"
    "--ALT\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Plain body of {subject}: café\r\n"
    "--ALT\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<html><body><p>HTML body of <b>{subject}</b>: café</p></body></html>\r\n"
    "--ALT--\r\n"
)


def test_view_html_txt_raw_and_latest(smtpmock):
    # What cypress-mailpit fetches: /view/{ID|latest}.html and .txt (and .raw).
    assert call(smtpmock, "GET", "/view/latest.html").status == 404  # nothing yet
    send_raw(smtpmock, VIEW_MESSAGE.format(subject="first"), rcpts=("bob@dest.example",))
    first = get_json(smtpmock, "/api/v1/messages")["messages"][0]["ID"]
    raw = VIEW_MESSAGE.format(subject="second")
    send_raw(smtpmock, raw, rcpts=("bob@dest.example",))
    second = get_json(smtpmock, "/api/v1/messages")["messages"][0]["ID"]
    assert first != second

    for ident in (second, "latest"):
        html = call(smtpmock, "GET", f"/view/{ident}.html")
        assert html.status == 200, html.text
        assert html.headers["content-type"] == "text/html; charset=utf-8"
        assert "HTML body of <b>second</b>: café" in html.text
        assert "Plain body" not in html.text
        txt = call(smtpmock, "GET", f"/view/{ident}.txt")
        assert txt.status == 200
        assert txt.headers["content-type"] == "text/plain; charset=utf-8"
        assert txt.text.strip() == "Plain body of second: café"
        rawv = call(smtpmock, "GET", f"/view/{ident}.raw")
        assert rawv.status == 200
        assert rawv.headers["content-type"] == "text/plain"
        assert rawv.body == raw.encode()
    assert "first" in call(smtpmock, "GET", f"/view/{first}.html").text
    assert "first" in call(smtpmock, "GET", "/view/latest.txt?query=subject:first").text

    for path in ("/view/nosuchid.html", "/view/nosuchid.txt", "/view/nosuchid.raw",
                 f"/view/{second}.pdf", f"/view/{second}", "/view/latest.json"):
        r = call(smtpmock, "GET", path)
        assert r.status == 404, (path, r.status)
        assert r.headers["content-type"].startswith("text/plain")

    # A message without an HTML part: 404 with a plain-text reason, as Mailpit does.
    send(smtpmock, subject="text only")
    r = call(smtpmock, "GET", "/view/latest.html")
    assert r.status == 404 and "HTML part" in r.text
    assert call(smtpmock, "GET", "/view/latest.txt").status == 200
    # Viewing does not mark messages read.
    assert get_json(smtpmock, "/api/v1/messages")["unread"] == 3


def test_view_needs_http_auth(smtpmock_factory):
    server = smtpmock_factory("--http-auth", "admin:pw")
    send_raw(server, VIEW_MESSAGE.format(subject="guarded"), rcpts=("bob@dest.example",))
    for suffix in ("html", "txt", "raw"):
        assert_error(call(server, "GET", f"/view/latest.{suffix}"), 401)
        r = call(server, "GET", f"/view/latest.{suffix}", headers=basic("admin", "pw"))
        assert r.status == 200 and b"guarded" in r.body


def test_http_cors_preflight_and_headers(smtpmock_factory):
    origin = "https://app.example"
    server = smtpmock_factory("--http-cors", origin, "--http-auth", "admin:pw")
    send_raw(server, VIEW_MESSAGE.format(subject="cors"), rcpts=("bob@dest.example",))
    preflight = {"Origin": origin, "Access-Control-Request-Method": "DELETE",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    for path in ("/api/v1/messages", "/api/v1/message/latest", "/api/v1/message/nosuchid",
                 "/view/latest.html"):
        r = call(server, "OPTIONS", path, headers=preflight)  # no credentials, as browsers do
        assert r.status == 204, (path, r.status, r.text)
        assert r.body == b""
        assert r.headers["access-control-allow-origin"] == origin
        assert r.headers["access-control-allow-methods"] == "GET, POST, PUT, DELETE, OPTIONS"
        assert r.headers["access-control-allow-headers"] == "Content-Type, Authorization"
        assert "www-authenticate" not in r.headers
    good = basic("admin", "pw")
    r = call(server, "GET", "/api/v1/messages", headers={"Origin": origin, **good})
    assert r.status == 200 and r.headers["access-control-allow-origin"] == origin
    r = call(server, "GET", "/view/latest.txt", headers={"Origin": origin, **good})
    assert r.status == 200 and r.headers["access-control-allow-origin"] == origin
    r = call(server, "GET", "/api/v1/messages", headers={"Origin": origin})
    assert_error(r, 401)
    assert r.headers["access-control-allow-origin"] == origin
    # The preflight deleted nothing and the messages are still there.
    assert get_json(server, "/api/v1/messages", headers=good)["total"] == 1

    star = smtpmock_factory("--http-cors", "*")
    r = call(star, "GET", "/api/v1/info")
    assert r.headers["access-control-allow-origin"] == "*"
    assert call(star, "OPTIONS", "/api/v1/info").status == 204


def test_http_cors_off_and_bad_values(smtpmock, tmp_path):
    r = call(smtpmock, "GET", "/api/v1/messages", headers={"Origin": "https://app.example"})
    assert r.status == 200
    assert not any(k.startswith("access-control-") for k in r.headers)
    r = call(smtpmock, "OPTIONS", "/api/v1/messages", headers={"Origin": "https://app.example"})
    assert_error(r, 405)
    assert not any(k.startswith("access-control-") for k in r.headers)
    for bad in ("app.example", "https://a.example,https://b.example", "https://a.example/path"):
        p = run_binary(["serve", "--smtp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                        "--http-cors", bad])
        assert p.returncode == 2 and b"origin" in p.stderr, (bad, p.stderr)
    env = {**os.environ, "SMTPMOCK_HTTP_CORS": "nope"}
    p = run_binary(["serve", "--smtp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"],
                   env=env)
    assert p.returncode == 2 and b"SMTPMOCK_HTTP_CORS" in p.stderr, p.stderr


def test_http_cors_from_env_and_config_file(smtpmock_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("SMTPMOCK_HTTP_CORS", "https://env.example")
    server = smtpmock_factory()
    assert call(server, "GET", "/api/v1/info").headers["access-control-allow-origin"] == \
        "https://env.example"
    monkeypatch.delenv("SMTPMOCK_HTTP_CORS")
    config = tmp_path / "cors.yaml"
    config.write_text('http-cors: "https://file.example"\n')
    server = smtpmock_factory("--config", str(config))
    assert call(server, "GET", "/api/v1/info").headers["access-control-allow-origin"] == \
        "https://file.example"


def test_oversized_bodies(smtpmock):
    big = "# " + "x" * (1024 * 1024 + 10) + "\nname: big\n"
    assert_error(call(smtpmock, "PUT", "/api/v1/scenario", big), 413, "limit")
    huge = b"x" * (3 * 1024 * 1024)
    try:
        r = call(smtpmock, "PUT", "/api/v1/scenario", huge, timeout=10)
        assert r.status >= 400
    except (ConnectionError, http.client.HTTPException, OSError):
        pass  # closed by the HTTP layer before reading it all: also fine
    assert get_json(smtpmock, "/api/v1/scenario")["Name"] == "default"
    assert call(smtpmock, "GET", "/livez").status == 200


def test_unknown_routes_and_methods(smtpmock):
    assert_error(call(smtpmock, "GET", "/api/v1/nothing"), 404, "no such endpoint")
    assert_error(call(smtpmock, "GET", "/favicon.ico"), 404)
    assert_error(call(smtpmock, "GET", "/api/v3/messages"), 404)
    r = call(smtpmock, "PATCH", "/api/v1/messages")
    assert_error(r, 405)
    assert r.headers["allow"] == "GET, PUT, DELETE"
    assert_error(call(smtpmock, "POST", "/api/v1/chaos", {}), 405)
    assert_error(call(smtpmock, "DELETE", "/api/v1/sessions"), 405)


def test_hostile_http_input_never_disturbs_smtp(smtpmock, raw_smtp):
    # An SMTP session in progress while HTTP clients misbehave.
    c = raw_smtp(smtpmock)
    c.reply()
    c.command("EHLO steady.example")
    junk = [b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x00\xff" * 100 + b"\r\n\r\n",
            b"GET /api/v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
            b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\n" + b"X-Big: " + b"y" * 40000 + b"\r\n\r\n",
            b"POST /api/v1/chaos HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"GET /api/v1/messages HTTP/1.1\r\nHost: x\r\n" + b"H: v\r\n" * 500 + b"\r\n"]
    for data in junk:
        with socket.create_connection(("127.0.0.1", smtpmock.http_port), timeout=5) as s:
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                reply = s.recv(4096)
            except OSError:
                reply = b""
            assert reply == b"" or reply.startswith(b"HTTP/1.1 "), (data[:40], reply[:80])
    # Half-sent requests that just hang up.
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", smtpmock.http_port), timeout=5)
        s.sendall(b"PUT /api/v1/scenario HTTP/1.1\r\nContent-Length: 100\r\n\r\nname")
        s.close()
    assert_error(call(smtpmock, "GET", "/api/v1/message/%00%2F..%2F"), 404)
    assert_error(call(smtpmock, "PUT", "/api/v1/chaos", b"\xff\xfe\x00"), 400)
    assert c.command("MAIL FROM:<a@steady.example>")[0].startswith("250 ")
    assert c.command("RCPT TO:<b@steady.example>")[0].startswith("250 ")
    assert call(smtpmock, "GET", "/livez").status == 200
    assert smtpmock.proc.poll() is None


def test_http_bind_failure_exits_1(smtpmock, tmp_path):
    spool = tmp_path / "other"
    spool.mkdir()
    r = run_binary(["serve", "--smtp-listen", "127.0.0.1:0", "--spool", str(spool),
                    "--http-listen", f"127.0.0.1:{smtpmock.http_port}"])
    assert r.returncode == 1, r
    assert b"cannot listen on 127.0.0.1:" in r.stderr


def test_http_listen_off(tmp_path):
    # Through the config file: conftest's flag would win over the environment twin.
    spool = tmp_path / "spool"
    spool.mkdir()
    config = tmp_path / "c.yaml"
    config.write_text("http-listen: 'off'\n")
    server = SmtpMockServer([str(BINARY), "serve", "--smtp-listen", "127.0.0.1:0", "--spool",
                             str(spool), "--config", str(config)], spool, cwd=tmp_path)
    try:
        ready = next(l for l in server.stderr_lines() if "smtpmock ready" in l)
        assert " http=off " in ready
        assert server.http_port is None
        send(server, "no http")
        server.wait_messages(1)
    finally:
        assert server.stop() == 0


# --- the Node client libraries ---------------------------------------------------------------------


def test_node_clients_mailpit_api_and_mailhog(smtpmock):
    if shutil.which("node") is None:
        pytest.fail("node is not installed (make test installs it)")
    for package in ("mailpit-api", "mailhog", "nodemailer"):
        if not (NODE_DIR / "node_modules" / package).is_dir():
            pytest.fail(f"{package} is not installed: run `npm ci` in {NODE_DIR}")
    env = dict(os.environ, SMTPMOCK_HTTP_URL=smtpmock.http_url,
               SMTPMOCK_SMTP_HOST=smtpmock.host, SMTPMOCK_SMTP_PORT=str(smtpmock.port))
    p = subprocess.run(["node", "--test", "--test-reporter=spec", "api.test.mjs"], cwd=NODE_DIR,
                       env=env, capture_output=True, timeout=180, stdin=subprocess.DEVNULL)
    out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    assert p.returncode == 0, out + "\n--- server ---\n" + smtpmock.stderr_text()[-5000:]
    assert "# fail 0" in out or "✖" not in out, out


def test_http_base_path(smtpmock_factory, monkeypatch):
    server = smtpmock_factory("--http-base-path", "/mail/")
    send_raw(server, VIEW_MESSAGE.format(subject="prefixed"), rcpts=("bob@dest.example",))
    listing = get_json(server, "/mail/api/v1/messages")
    assert listing["total"] == 1
    msg_id = listing["messages"][0]["ID"]
    assert b"prefixed" in call(server, "GET", "/mail/view/latest.txt").body
    assert call(server, "GET", "/mail/metrics").status == 200
    page = call(server, "GET", "/mail/")
    assert page.status == 200 and b'src="ui/app.js"' in page.body  # relative: under /mail/
    assert call(server, "GET", "/mail/ui/app.js").status == 200
    assert call(server, "GET", "/ui/app.js").status == 404
    bare = call(server, "GET", "/mail")
    assert bare.status == 308 and bare.headers["location"] == "/mail/"
    assert_error(call(server, "GET", "/api/v1/messages"), 404, "/mail/")
    assert call(server, "GET", "/readyz").status == 200  # health at the root too
    assert call(server, "GET", "/mail/readyz").status == 200
    assert get_json(server, f"/mail/api/v1/message/{msg_id}")["Subject"] == "prefixed"
    # The environment twin, and "/" meaning the root.
    monkeypatch.setenv("SMTPMOCK_HTTP_BASE_PATH", "/")
    root = smtpmock_factory()
    assert call(root, "GET", "/api/v1/messages").status == 200
    for bad in ("/a b", "/a?b", "/a//b"):
        p = run_binary(["serve", "--smtp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                        "--http-base-path", bad])
        assert p.returncode == 2 and b"path" in p.stderr, (bad, p.stderr)
