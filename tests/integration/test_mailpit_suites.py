"""Mailpit-based test suites against smtpmock, unedited: the exact HTTP requests of two Mailpit
client libraries, replayed from their source against the real binary.

The libraries cannot run here (one needs Cypress and a browser, the other Docker and a JVM), so
each one's requests are rebuilt from its source, call by call, and what the library then reads
from each answer is checked the way the library reads it:

1. cypress-mailpit 2.0.0 (npm `cypress-mailpit`, the latest on the registry; its dist/ is
   src/MailpitCommands.ts of github.com/pushpak1300/cypress-mailpit compiled, read at tag
   v2.0.2 = commit 951e937, whose src/ is unchanged since v2.0.0). Every command goes through
   `cy.request` (src/MailpitCommands.ts:61-65): JSON bodies with `Content-Type:
   application/json`, `qs` encoded as the `qs` module does (RFC 3986, space as %20), basic auth
   when MAILPIT_USERNAME/MAILPIT_PASSWORD are set (its own cypress.config.ts sets admin/admin,
   so even its CI, whose Mailpit has no auth, sends the header), and `failOnStatusCode`: any
   answer outside 2xx/3xx fails the command. A JSON answer is parsed, anything else is a string.
2. ch.martinelli.oss:testcontainers-mailpit 1.3.0 (the release its README names; github.com/
   martinellich/testcontainers-mailpit, read at commit e8f3490, whose src/main is unchanged
   since tag 1.3.0),
   the Java Testcontainers module for Mailpit with a REST client: MailpitClient.java sends with
   java.net.http.HttpClient (HTTP/2 preferred, so a bodiless request on a new cleartext
   connection carries the h2c upgrade headers) and parses answers with Jackson into the records
   Message, MessagesResponse and Address (unknown properties ignored; `Created` as a
   java.time.Instant). Its container waits with Testcontainers' `Wait.forHttp("/")` (a 200).
   Its mail is sent with Jakarta Mail (`mail.from` noreply@localhost as the envelope sender,
   EHLO localhost), rebuilt here with smtplib.

   The official Testcontainers project has no Java Mailpit module (only a Go one,
   testcontainers-go/modules/mailpit, documented as a container without an API client);
   vaatech/testcontainers-spring-boot's MailPitContainer and Micronaut test resources'
   MailpitContainer expose ports only and make no API call.

Part A of each library is the call table (library, command, method, path, query, body, what it
reads, source line), each call replayed on its own against a seeded mailbox; part B replays the
library's own test suite (cypress/e2e/mailpit.cy.ts; MailpitClientTest, MailpitContainerTest and
MailpitAssertionsTest), spec by spec, on a fresh server each.

A call smtpmock answers differently from Mailpit fails here (no skip, no xfail): the failure
names the request, Mailpit's answer (from its source, github.com/axllent/mailpit server/apiv1/,
read at v1.30.5-2-g408b30d) and smtpmock's.

Every network call has a timeout; only 127.0.0.1 is used; every wait is bounded.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import http.client
import json
import re
import smtplib
import threading
import time
import urllib.parse
import zlib
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from conftest import SmtpMockServer

HTTP_TIMEOUT = 10.0  # seconds for each HTTP request
SMTP_TIMEOUT = 10.0  # seconds for each SMTP conversation
AUTH = ("admin", "admin")  # cypress-mailpit's cypress.config.ts: MAILPIT_USERNAME/PASSWORD


# --- the wire --------------------------------------------------------------------------------


@dataclass
class Answer:
    """One HTTP answer, with the body as the calling library sees it."""

    method: str
    target: str
    status: int
    headers: dict[str, str]
    raw: bytes
    body: Any = None  # cy.request: parsed JSON for a JSON answer, else the text

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def describe(self) -> str:
        return (f"{self.method} {self.target} -> {self.status} "
                f"[{self.content_type}] {self.text[:400]!r}")


def http_request(server: SmtpMockServer, method: str, target: str, headers: dict[str, str],
                 body: bytes | None, conn: http.client.HTTPConnection | None = None) -> Answer:
    """One request to 127.0.0.1, bounded by HTTP_TIMEOUT, with exactly the given headers (Host
    included) plus Content-Length when there is a body; on a fresh connection, or on `conn`
    (kept open, as a client's connection pool keeps it)."""
    assert "Host" in headers, headers
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=HTTP_TIMEOUT)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        raw = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
    finally:
        if own:
            conn.close()
    enc = hdrs.get("content-encoding", "").lower()
    if enc == "gzip":
        raw = gzip.decompress(raw)
    elif enc == "deflate":
        raw = zlib.decompress(raw)
    return Answer(method, target, r.status, hdrs, raw)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- 1. cypress-mailpit ----------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One row of a library's call table."""

    library: str
    command: str
    method: str | None  # None: the command sends no request of its own
    path: str  # {placeholders} filled by the command's arguments
    query: tuple[str, ...]  # the query keys sent as `qs` (cy.request encodes them)
    body: str  # what the JSON body is
    reads: str  # what the library reads from the answer
    source: str  # file:line in the library's repository


CY = "cypress-mailpit 2.0.0"
CYPRESS_CALLS: list[Call] = [
    Call(CY, "mailpitGetAllMails", "GET", "/api/v1/messages?start={start}&limit={limit}", (),
         "-", "MessagesSummary: messages[] (ID, Subject, Read, Snippet), messages_count, total, "
         "count, start, tags, unread", "src/MailpitCommands.ts:67-72"),
    Call(CY, "mailpitGetMail", "GET", "/api/v1/message/{id}", (), "-",
         "Message (id defaults to `latest`): ID, MessageID, From, To, Cc, Bcc, ReplyTo, "
         "Subject, Tags, Attachments[]", "src/MailpitCommands.ts:74-79"),
    Call(CY, "mailpitSendMail", "POST", "/api/v1/send", (),
         "SendRequest: Attachments [{Content, FileName}], Bcc [str], Cc/To/ReplyTo "
         "[{Email, Name}], From {Email, Name}, HTML, Headers {}, Subject, Tags [], Text "
         "(defaults at lines 83-93)", "{ID}", "src/MailpitCommands.ts:81-100"),
    Call(CY, "mailpitSearchEmails", "GET", "/api/v1/search", ("query", "start", "limit"), "-",
         "MessagesSummary (messages_count, messages[].Read/Snippet, total, count)",
         "src/MailpitCommands.ts:102-112"),
    Call(CY, "mailpitGetEmailsBySubject", "GET", "/api/v1/search", ("query", "start", "limit"),
         "-", "MessagesSummary of query `subject:SUBJECT`", "src/MailpitCommands.ts:114-116"),
    Call(CY, "mailpitGetEmailsByTo", "GET", "/api/v1/search", ("query", "start", "limit"), "-",
         "MessagesSummary of query `to:EMAIL`", "src/MailpitCommands.ts:170-172"),
    Call(CY, "mailpitHasEmailsBySearch", "GET", "/api/v1/search", ("query", "start", "limit"),
         "-", "polls every 500 ms until messages_count > 0", "src/MailpitCommands.ts:118-129"),
    Call(CY, "mailpitNotHasEmailsBySearch", "GET", "/api/v1/search",
         ("query", "start", "limit"), "-", "polls until messages_count === 0",
         "src/MailpitCommands.ts:131-142"),
    Call(CY, "mailpitHasEmailsBySubject", "GET", "/api/v1/search", ("query", "start", "limit"),
         "-", "polls `subject:S` until messages_count > 0", "src/MailpitCommands.ts:144-155"),
    Call(CY, "mailpitNotHasEmailsBySubject", "GET", "/api/v1/search",
         ("query", "start", "limit"), "-", "polls `subject:S` until messages_count === 0",
         "src/MailpitCommands.ts:157-168"),
    Call(CY, "mailpitHasEmailsByTo", "GET", "/api/v1/search", ("query", "start", "limit"), "-",
         "polls `to:E` until messages_count > 0", "src/MailpitCommands.ts:174-185"),
    Call(CY, "mailpitNotHasEmailsByTo", "GET", "/api/v1/search", ("query", "start", "limit"),
         "-", "polls `to:E` until messages_count === 0", "src/MailpitCommands.ts:187-198"),
    Call(CY, "mailpitDeleteAllEmails", "DELETE", "/api/v1/messages", (), "none",
         "nothing (a 2xx)", "src/MailpitCommands.ts:200-205"),
    Call(CY, "mailpitDeleteEmailsBySearch", "DELETE", "/api/v1/search", ("query",), "none",
         "nothing (a 2xx; its e2e expects a 400 `no search query` for an empty query)",
         "src/MailpitCommands.ts:207-215"),
    Call(CY, "mailpitGetSubject", None, "", (), "-", "Message.Subject of mailpitGetMail",
         "src/MailpitCommands.ts:218-220"),
    Call(CY, "mailpitGetRecipientAddress", None, "", (), "-", "Message.To[].Address",
         "src/MailpitCommands.ts:222-224"),
    Call(CY, "mailpitGetFromAddress", None, "", (), "-", "Message.From.Address",
         "src/MailpitCommands.ts:226-228"),
    Call(CY, "mailpitGetAttachments", None, "", (), "-", "Message.Attachments[].FileName",
         "src/MailpitCommands.ts:230-232"),
    Call(CY, "mailpitGetMailSpamAssassinSummary", "GET", "/api/v1/message/{id}/sa-check", (),
         "-", "SpamAssassin {Error, IsSpam, Rules, Score}: not in smtpmock, a 4xx JSON error "
         "expected (Mailpit without SpamAssassin registers no route: 404)",
         "src/MailpitCommands.ts:234-240"),
    Call(CY, "mailpitGetMailSpamAssainSummary", "GET", "/api/v1/message/{id}/sa-check", (),
         "-", "as mailpitGetMailSpamAssassinSummary (deprecated alias)",
         "src/MailpitCommands.ts:248-250"),
    Call(CY, "mailpitGetMailHTMlBody", "GET", "/view/{id}.html", (), "-",
         "the text of the HTML view", "src/MailpitCommands.ts:252-258"),
    Call(CY, "mailpitGetMailTextBody", "GET", "/view/{id}.txt", (), "-",
         "the text of the text view", "src/MailpitCommands.ts:260-266"),
    Call(CY, "mailpitSetStatusAsRead", "PUT", "/api/v1/messages", (),
         '{"IDs": [ID, ...], "Read": true}', "the text `ok`", "src/MailpitCommands.ts:268-292,302"),
    Call(CY, "mailpitSetStatusAsUnRead", "PUT", "/api/v1/messages", (),
         '{"IDs": [ID, ...], "Read": false}', "the text `ok`",
         "src/MailpitCommands.ts:268-292,306-310"),
    Call(CY, "mailpitSetAllEmailStatusAsRead", "PUT", "/api/v1/messages", (),
         '{"IDs": [], "Read": true}', "the text `ok`", "src/MailpitCommands.ts:268-296"),
    Call(CY, "mailpitSetAllEmailStatusAsUnRead", "PUT", "/api/v1/messages", (),
         '{"IDs": [], "Read": false}', "the text `ok`", "src/MailpitCommands.ts:268-300"),
]
CYPRESS_BY_NAME = {c.command: c for c in CYPRESS_CALLS}

# src/MailpitCommands.ts:6-40, the commands it registers (parent, then child commands).
CYPRESS_COMMANDS = [
    "mailpitDeleteAllEmails", "mailpitDeleteEmailsBySearch", "mailpitGetAllMails",
    "mailpitGetEmailsBySubject", "mailpitGetMail", "mailpitSearchEmails", "mailpitSendMail",
    "mailpitHasEmailsBySubject", "mailpitGetEmailsByTo", "mailpitHasEmailsByTo",
    "mailpitNotHasEmailsBySubject", "mailpitNotHasEmailsByTo", "mailpitSetAllEmailStatusAsRead",
    "mailpitSetAllEmailStatusAsUnRead", "mailpitHasEmailsBySearch", "mailpitNotHasEmailsBySearch",
    "mailpitGetFromAddress", "mailpitGetMailHTMlBody", "mailpitGetMailTextBody",
    "mailpitGetRecipientAddress", "mailpitGetSubject", "mailpitGetAttachments",
    "mailpitGetMailSpamAssassinSummary", "mailpitGetMailSpamAssainSummary",
    "mailpitSetStatusAsRead", "mailpitSetStatusAsUnRead",
]


class CypressFailure(AssertionError):
    """What Cypress reports when cy.request's failOnStatusCode trips (or a wait times out)."""


class CypressMailpit:
    """cypress-mailpit's commands, each sending what src/MailpitCommands.ts sends."""

    DEFAULT_COMMAND_TIMEOUT = 4.0  # Cypress.config("defaultCommandTimeout"), 4000 ms
    POLL_INTERVAL = 0.5  # waitForCondition's default interval, 500 ms (line 318)

    def __init__(self, server: SmtpMockServer, auth: tuple[str, str] | None = AUTH):
        self.server = server
        self.auth = auth
        self.log: list[Answer] = []

    # cy.request({...options, auth}) -- src/MailpitCommands.ts:61-65
    def _request(self, command: str, fmt: dict | None = None, qs: dict | None = None,
                 body: Any = None) -> Answer:
        call = CYPRESS_BY_NAME[command]
        assert call.method, command
        target = call.path.format(**(fmt or {}))
        if qs is not None:
            assert tuple(qs) == call.query, (command, tuple(qs), call.query)
            target += ("&" if "?" in target else "?") + urllib.parse.urlencode(
                qs, quote_via=urllib.parse.quote, safe="")
        headers = {"Host": f"127.0.0.1:{self.server.http_port}",
                   "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Cypress/15.11.0",
                   "Accept": "*/*", "Accept-Encoding": "gzip, deflate"}
        if self.auth:
            headers["Authorization"] = basic(*self.auth)
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        a = http_request(self.server, call.method, target, headers, data)
        if "json" in a.content_type and a.raw:
            a.body = json.loads(a.raw)
        else:
            a.body = a.text
        self.log.append(a)
        if not 200 <= a.status < 400:  # failOnStatusCode
            raise CypressFailure(f"cy.request() failed on {a.describe()}\n"
                                 f"The response we got was: {a.status}: "
                                 f"{http.client.responses.get(a.status, '')}\n{a.text}")
        return a

    def _wait(self, fn: Callable[[], dict], cond: Callable[[dict], bool],
              timeout: float | None, interval: float | None) -> dict:
        """waitForCondition, src/MailpitCommands.ts:312-338 (bounded by `timeout`)."""
        timeout = self.DEFAULT_COMMAND_TIMEOUT if timeout is None else timeout
        interval = self.POLL_INTERVAL if interval is None else interval
        start = time.monotonic()
        while True:
            result = fn()
            if cond(result):
                return result
            if time.monotonic() - start >= timeout:
                raise CypressFailure(
                    f"Timed out after {int(timeout * 1000)}ms waiting for condition")
            time.sleep(interval)

    # --- parent commands ---
    def mailpitGetAllMails(self, start=0, limit=50) -> dict:
        return self._request("mailpitGetAllMails", {"start": start, "limit": limit}).body

    def mailpitGetMail(self, id="latest") -> dict:
        return self._request("mailpitGetMail", {"id": id}).body

    def mailpitSendMail(self, options: dict | None = None) -> dict:
        o = options or {}
        body = {  # lines 82-94, JS `??` defaults, key order as sent
            "Attachments": o.get("attachments", []),
            "Bcc": o.get("bcc", ["bcc@example.com"]),
            "Cc": o.get("cc", [{"Email": "cc@example.com", "Name": "CC"}]),
            "From": o.get("from", {"Email": "from@example.com", "Name": "From"}),
            "HTML": o.get("htmlBody", "<p>hello from mailpit</p>"),
            "Headers": o.get("headers", {}),
            "ReplyTo": o.get("replyTo", [{"Email": "replyto@example.com", "Name": "ReplyTo"}]),
            "Subject": o.get("subject", "Hello Mailpit"),
            "Tags": o.get("tags", []),
            "Text": o.get("textBody", "hello from mailpit"),
            "To": o.get("to", [{"Email": "jane@example.com", "Name": "Jane"}]),
        }
        return self._request("mailpitSendMail", body=body).body

    def mailpitSearchEmails(self, query, start=0, limit=50, _as="mailpitSearchEmails") -> dict:
        return self._request(_as, qs={"query": query, "start": start, "limit": limit}).body

    def mailpitGetEmailsBySubject(self, subject, start=0, limit=50) -> dict:
        return self.mailpitSearchEmails(f"subject:{subject}", start, limit,
                                        _as="mailpitGetEmailsBySubject")

    def mailpitGetEmailsByTo(self, email, start=0, limit=50) -> dict:
        return self.mailpitSearchEmails(f"to:{email}", start, limit, _as="mailpitGetEmailsByTo")

    def mailpitHasEmailsBySearch(self, query, start=0, limit=50, timeout=None, interval=None):
        return self._wait(lambda: self.mailpitSearchEmails(query, start, limit,
                                                           _as="mailpitHasEmailsBySearch"),
                          lambda r: r["messages_count"] > 0, timeout, interval)

    def mailpitNotHasEmailsBySearch(self, query, start=0, limit=50, timeout=None, interval=None):
        return self._wait(lambda: self.mailpitSearchEmails(query, start, limit,
                                                           _as="mailpitNotHasEmailsBySearch"),
                          lambda r: r["messages_count"] == 0, timeout, interval)

    def mailpitHasEmailsBySubject(self, subject, start=0, limit=50, timeout=None, interval=None):
        return self._wait(lambda: self.mailpitSearchEmails(f"subject:{subject}", start, limit,
                                                           _as="mailpitHasEmailsBySubject"),
                          lambda r: r["messages_count"] > 0, timeout, interval)

    def mailpitNotHasEmailsBySubject(self, subject, start=0, limit=50, timeout=None,
                                     interval=None):
        return self._wait(lambda: self.mailpitSearchEmails(f"subject:{subject}", start, limit,
                                                           _as="mailpitNotHasEmailsBySubject"),
                          lambda r: r["messages_count"] == 0, timeout, interval)

    def mailpitHasEmailsByTo(self, email, start=0, limit=50, timeout=None, interval=None):
        return self._wait(lambda: self.mailpitSearchEmails(f"to:{email}", start, limit,
                                                           _as="mailpitHasEmailsByTo"),
                          lambda r: r["messages_count"] > 0, timeout, interval)

    def mailpitNotHasEmailsByTo(self, email, start=0, limit=50, timeout=None, interval=None):
        return self._wait(lambda: self.mailpitSearchEmails(f"to:{email}", start, limit,
                                                           _as="mailpitNotHasEmailsByTo"),
                          lambda r: r["messages_count"] == 0, timeout, interval)

    def mailpitDeleteAllEmails(self) -> Answer:
        return self._request("mailpitDeleteAllEmails")

    def mailpitDeleteEmailsBySearch(self, query) -> Answer:
        return self._request("mailpitDeleteEmailsBySearch", qs={"query": query})

    # --- child commands (the subject is a Message, or Message(s) for the status ones) ---
    @staticmethod
    def mailpitGetSubject(message: dict) -> str:
        return message["Subject"]

    @staticmethod
    def mailpitGetRecipientAddress(message: dict) -> list[str]:
        return [r["Address"] for r in message["To"]]

    @staticmethod
    def mailpitGetFromAddress(message: dict) -> str:
        return message["From"]["Address"]

    @staticmethod
    def mailpitGetAttachments(message: dict) -> list[str]:
        return [a["FileName"] for a in message["Attachments"]]

    def mailpitGetMailSpamAssassinSummary(self, message: dict, _as=None) -> Any:
        return self._request(_as or "mailpitGetMailSpamAssassinSummary",
                             {"id": message["ID"]}).body

    def mailpitGetMailSpamAssainSummary(self, message: dict) -> Any:
        return self.mailpitGetMailSpamAssassinSummary(message, "mailpitGetMailSpamAssainSummary")

    def mailpitGetMailHTMlBody(self, message: dict) -> str:
        return self._request("mailpitGetMailHTMlBody", {"id": message["ID"]}).body

    def mailpitGetMailTextBody(self, message: dict) -> str:
        return self._request("mailpitGetMailTextBody", {"id": message["ID"]}).body

    def _set_read(self, command: str, messages, read: bool) -> Any:  # lines 268-292
        ids: list[str] = []
        if messages:
            ids = [m["ID"] for m in messages] if isinstance(messages, list) else [messages["ID"]]
        return self._request(command, body={"IDs": ids, "Read": read}).body

    def mailpitSetAllEmailStatusAsRead(self):
        return self._set_read("mailpitSetAllEmailStatusAsRead", None, True)

    def mailpitSetAllEmailStatusAsUnRead(self):
        return self._set_read("mailpitSetAllEmailStatusAsUnRead", None, False)

    def mailpitSetStatusAsRead(self, messages):
        return self._set_read("mailpitSetStatusAsRead", messages, True)

    def mailpitSetStatusAsUnRead(self, messages):
        return self._set_read("mailpitSetStatusAsUnRead", messages, False)


def check_messages_summary(s: Any) -> None:
    """The MessagesSummary shape cypress-mailpit's types.ts and its e2e specs read."""
    assert isinstance(s, dict), f"not a JSON object: {s!r}"
    for key in ("messages", "messages_count", "start", "tags", "total", "count", "unread"):
        assert key in s, f"MessagesSummary lacks {key!r}: {sorted(s)}"
    assert isinstance(s["messages"], list) and isinstance(s["tags"], list), s
    for m in s["messages"]:
        for key in ("ID", "MessageID", "From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "Tags",
                    "Size", "Attachments", "Created", "Read", "Snippet"):
            assert key in m, f"MessageSummary lacks {key!r}: {sorted(m)}"
        assert isinstance(m["Read"], bool) and isinstance(m["Attachments"], int), m


def check_message(m: Any) -> None:
    """The Message shape of types.ts:82-101."""
    assert isinstance(m, dict), f"not a JSON object: {m!r}"
    for key in ("ID", "MessageID", "From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "Tags",
                "Size", "Attachments", "Inline", "Date", "HTML", "Text", "ReturnPath"):
        assert key in m, f"Message lacks {key!r}: {sorted(m)}"
    assert isinstance(m["Attachments"], list), m["Attachments"]
    for a in m["Attachments"] + m["Inline"]:
        for key in ("ContentID", "ContentType", "FileName", "PartID", "Size"):
            assert key in a, f"Attachment lacks {key!r}: {a}"


def cypress_seed(cy: CypressMailpit) -> dict:
    """The mailbox each command of the table is replayed on: two messages sent with the
    library's own mailpitSendMail (its defaults, then one as its attachment spec sends it);
    returns the newest one's summary."""
    cy.mailpitSendMail()
    cy.mailpitSendMail({"subject": "My Test", "to": [{"Email": "test@example.com", "Name": "To"}],
                        "textBody": "Test", "htmlBody": "<p>Test</p>",
                        "attachments": [{"Content": "SGVsbG8gV29ybGQ=", "FileName": "hello.txt"},
                                        {"Content": "SGVsbG8gV29ybGQ=",
                                         "FileName": "hello2.txt"}]})
    return cy.mailpitGetAllMails()["messages"][0]


def _expect_4xx_json(cy: CypressMailpit, fn: Callable[[], Any], what: str) -> None:
    """An endpoint smtpmock does not have: Cypress fails the command; smtpmock must answer a
    clear 4xx with a JSON {"Error"} (not a crash, not a 200 with an empty body)."""
    with pytest.raises(CypressFailure):
        fn()
    a = cy.log[-1]
    assert 400 <= a.status < 500, f"{what}: {a.describe()}"
    assert a.content_type.startswith("application/json"), f"{what}: {a.describe()}"
    assert isinstance(a.body, dict) and a.body.get("Error"), f"{what}: {a.describe()}"


# What each command reads from its answer, checked on the seeded mailbox (latest = "My Test").
def _cy_get_all(cy, latest):
    s = cy.mailpitGetAllMails()
    check_messages_summary(s)
    assert s["messages_count"] == s["total"] == s["count"] == 2 and s["start"] == 0, s
    assert [m["Subject"] for m in s["messages"]] == ["My Test", "Hello Mailpit"], s
    page = cy.mailpitGetAllMails(1, 1)
    assert page["start"] == 1 and [m["Subject"] for m in page["messages"]] == ["Hello Mailpit"]


def _cy_get_mail(cy, latest):
    m = cy.mailpitGetMail()
    check_message(m)
    assert m["ID"] == latest["ID"] and m["Subject"] == "My Test", m
    assert cy.mailpitGetMail(latest["ID"])["ID"] == latest["ID"]


def _cy_send(cy, latest):
    r = cy.mailpitSendMail({"subject": "Sent", "tags": ["tag1", "tag2"],
                            "headers": {"X-Custom": "yes"}})
    assert isinstance(r, dict) and re.fullmatch(r"\w[\w-]*", r.get("ID", "")), r
    m = cy.mailpitGetMail(r["ID"])
    assert m["Subject"] == "Sent" and {"tag1", "tag2"} <= set(m["Tags"]), m
    assert [a["Address"] for a in m["Bcc"]] == ["bcc@example.com"], m["Bcc"]
    assert [a["Address"] for a in m["ReplyTo"]] == ["replyto@example.com"], m["ReplyTo"]


def _cy_search(cy, latest):
    s = cy.mailpitSearchEmails("Test")
    check_messages_summary(s)
    assert s["messages_count"] == s["count"] == 1 and s["total"] == 2, s
    assert "Test" in s["messages"][0]["Snippet"], s


def _cy_by_subject(cy, latest):
    s = cy.mailpitGetEmailsBySubject("My Test")
    assert s["messages_count"] == 1 and s["messages"][0]["ID"] == latest["ID"], s


def _cy_by_to(cy, latest):
    s = cy.mailpitGetEmailsByTo("test@example.com")
    assert s["messages_count"] == 1 and s["messages"][0]["ID"] == latest["ID"], s


def _cy_has(cmd, arg):
    def run(cy, latest):
        getattr(cy, cmd)(arg, timeout=2.0, interval=0.1)
        # and the opposite condition times out, as the e2e "timeout" specs expect
        other = cmd.replace("NotHas", "Has") if "NotHas" in cmd else cmd.replace("Has", "NotHas")
        with pytest.raises(CypressFailure, match="Timed out after 500ms"):
            getattr(cy, other)(arg, timeout=0.5, interval=0.1)
    return run


def _cy_delete_all(cy, latest):
    cy.mailpitDeleteAllEmails()
    assert cy.mailpitGetAllMails()["total"] == 0


def _cy_delete_search(cy, latest):
    cy.mailpitDeleteEmailsBySearch("subject:My Test")
    s = cy.mailpitGetAllMails()
    assert [m["Subject"] for m in s["messages"]] == ["Hello Mailpit"], s


def _cy_child(fn, expected):
    def run(cy, latest):
        assert fn(cy.mailpitGetMail()) == expected
    return run


def _cy_html(cy, latest):
    assert "<p>Test</p>" in cy.mailpitGetMailHTMlBody(cy.mailpitGetMail())


def _cy_text(cy, latest):
    assert cy.mailpitGetMailTextBody(cy.mailpitGetMail()) == "Test"


def _cy_sa(cmd):
    def run(cy, latest):
        _expect_4xx_json(cy, lambda: getattr(cy, cmd)(cy.mailpitGetMail()), cmd)
    return run


def _cy_set(cmd, subject, read):
    def run(cy, latest):
        if subject:
            arg = [m for m in cy.mailpitGetAllMails()["messages"] if m["Subject"] == subject]
            before = {m["ID"]: m["Read"] for m in cy.mailpitGetAllMails()["messages"]}
            assert getattr(cy, cmd)(arg) == "ok", cy.log[-1].describe()
            after = {m["ID"]: m["Read"] for m in cy.mailpitGetAllMails()["messages"]}
            target = arg[0]["ID"]
            assert after[target] is read, after
            assert {k: v for k, v in after.items() if k != target} == \
                   {k: v for k, v in before.items() if k != target}, (before, after)
        else:
            cy.mailpitSetAllEmailStatusAsUnRead() if read else cy.mailpitSetAllEmailStatusAsRead()
            assert getattr(cy, cmd)() == "ok", cy.log[-1].describe()
            s = cy.mailpitGetAllMails()
            assert all(m["Read"] is read for m in s["messages"]), s
            assert s["unread"] == (0 if read else 2), s
    return run


CYPRESS_CHECKS: dict[str, Callable[[CypressMailpit, dict], None]] = {
    "mailpitGetAllMails": _cy_get_all,
    "mailpitGetMail": _cy_get_mail,
    "mailpitSendMail": _cy_send,
    "mailpitSearchEmails": _cy_search,
    "mailpitGetEmailsBySubject": _cy_by_subject,
    "mailpitGetEmailsByTo": _cy_by_to,
    "mailpitHasEmailsBySearch": _cy_has("mailpitHasEmailsBySearch", "subject:My Test"),
    "mailpitNotHasEmailsBySearch": _cy_has("mailpitNotHasEmailsBySearch", "subject:Nonexistent"),
    "mailpitHasEmailsBySubject": _cy_has("mailpitHasEmailsBySubject", "My Test"),
    "mailpitNotHasEmailsBySubject": _cy_has("mailpitNotHasEmailsBySubject", "Not"),
    "mailpitHasEmailsByTo": _cy_has("mailpitHasEmailsByTo", "test@example.com"),
    "mailpitNotHasEmailsByTo": _cy_has("mailpitNotHasEmailsByTo", "invalid@example.com"),
    "mailpitDeleteAllEmails": _cy_delete_all,
    "mailpitDeleteEmailsBySearch": _cy_delete_search,
    "mailpitGetSubject": _cy_child(CypressMailpit.mailpitGetSubject, "My Test"),
    "mailpitGetRecipientAddress": _cy_child(CypressMailpit.mailpitGetRecipientAddress,
                                            ["test@example.com"]),
    "mailpitGetFromAddress": _cy_child(CypressMailpit.mailpitGetFromAddress, "from@example.com"),
    "mailpitGetAttachments": _cy_child(CypressMailpit.mailpitGetAttachments,
                                       ["hello.txt", "hello2.txt"]),
    "mailpitGetMailSpamAssassinSummary": _cy_sa("mailpitGetMailSpamAssassinSummary"),
    "mailpitGetMailSpamAssainSummary": _cy_sa("mailpitGetMailSpamAssainSummary"),
    "mailpitGetMailHTMlBody": _cy_html,
    "mailpitGetMailTextBody": _cy_text,
    "mailpitSetStatusAsRead": _cy_set("mailpitSetStatusAsRead", "Hello Mailpit", True),
    "mailpitSetStatusAsUnRead": _cy_set("mailpitSetStatusAsUnRead", "My Test", False),
    "mailpitSetAllEmailStatusAsRead": _cy_set("mailpitSetAllEmailStatusAsRead", None, True),
    "mailpitSetAllEmailStatusAsUnRead": _cy_set("mailpitSetAllEmailStatusAsUnRead", None, False),
}


def test_cypress_table_covers_every_command():
    """Every command src/MailpitCommands.ts registers has a table row and a check."""
    assert sorted(CYPRESS_BY_NAME) == sorted(CYPRESS_COMMANDS)
    assert sorted(CYPRESS_CHECKS) == sorted(CYPRESS_COMMANDS)


@pytest.mark.parametrize("call", CYPRESS_CALLS, ids=lambda c: c.command)
def test_cypress_mailpit_command(smtpmock_factory, call: Call):
    """Part A: one command of the table, replayed against a seeded mailbox. The server has no
    --http-auth, yet the Authorization header goes along, as in cypress-mailpit's own CI."""
    server = smtpmock_factory()
    cy = CypressMailpit(server)
    latest = cypress_seed(cy)
    cy.log.clear()
    CYPRESS_CHECKS[call.command](cy, latest)
    if call.method:  # the command sent what its row says
        template = re.escape(call.path.split("?")[0])
        path_re = re.compile(re.sub(r"\\\{\w+\\\}", "[^/?]+", template))
        assert any(a.method == call.method and path_re.fullmatch(a.target.split("?")[0])
                   for a in cy.log), (call, [(a.method, a.target) for a in cy.log])


# --- part B: cypress/e2e/mailpit.cy.ts, spec by spec -----------------------------------------

def _e2e_send_one(cy):  # mailpit.cy.ts:10-18
    r = cy.mailpitSendMail()
    assert "ID" in r and re.search(r"\w+", r["ID"])
    assert cy.mailpitGetAllMails()["messages_count"] == 1


def _e2e_invalid_to(cy):  # :20-26 -- cy.on("fail"): "400: Bad Request", "invalid To address"
    with pytest.raises(CypressFailure) as e:
        cy.mailpitSendMail({"to": [{"Email": "", "Name": "To"}]})
    assert "400: Bad Request" in str(e.value) and "invalid To address" in str(e.value), e.value


def _e2e_cc_bcc(cy):  # :28-45
    cy.mailpitSendMail({"cc": [{"Email": "custom-cc@example.com", "Name": "Custom CC"}],
                        "bcc": ["custom-bcc@example.com"],
                        "replyTo": [{"Email": "custom-reply@example.com", "Name": "Custom Reply"}],
                        "tags": ["tag1", "tag2"]})
    mail = cy.mailpitGetMail()
    assert [a["Address"] for a in mail["Cc"]] == ["custom-cc@example.com"], mail["Cc"]
    assert [a["Address"] for a in mail["Bcc"]] == ["custom-bcc@example.com"], mail["Bcc"]
    assert [a["Address"] for a in mail["ReplyTo"]] == ["custom-reply@example.com"]
    assert "tag1" in mail["Tags"] and "tag2" in mail["Tags"], mail["Tags"]


def _e2e_send_multiple(cy):  # :47-58
    for i in range(1, 11):
        cy.mailpitSendMail({"to": [{"Email": f"to{i}@example.com", "Name": f"To{i}"}]})
    assert cy.mailpitGetAllMails()["messages_count"] == 10


def _e2e_check_multiple(cy):  # :69-85
    for _ in range(10):
        cy.mailpitSendMail()
    r = cy.mailpitGetAllMails()
    check_messages_summary(r)
    assert len(r["messages"]) == 10 and r["messages_count"] == 10
    assert r["total"] == 10 and r["count"] == 10 and "start" in r and "unread" in r


def _e2e_from_latest(cy):  # :87-92
    cy.mailpitSendMail({"from": {"Email": "custom-from@example.com", "Name": "Custom Sender"}})
    assert cy.mailpitGetFromAddress(cy.mailpitGetMail()) == "custom-from@example.com"


def _e2e_by_id(cy):  # :94-105
    cy.mailpitSendMail({"subject": "First Email"})
    cy.mailpitSendMail({"subject": "Second Email"})
    target = next(m for m in cy.mailpitGetAllMails()["messages"] if m["Subject"] == "First Email")
    mail = cy.mailpitGetMail(target["ID"])
    assert mail["Subject"] == "First Email" and mail["ID"] == target["ID"]


def _e2e_paginate(cy):  # :107-124
    for i in range(5):
        cy.mailpitSendMail({"subject": f"Paginated {i}"})
    r = cy.mailpitGetAllMails(0, 2)
    assert len(r["messages"]) == 2 and r["total"] == 5 and r["start"] == 0, r
    r = cy.mailpitGetAllMails(2, 2)
    assert len(r["messages"]) == 2 and r["start"] == 2, r
    r = cy.mailpitGetAllMails(4, 2)
    assert len(r["messages"]) == 1 and r["start"] == 4, r


def _e2e_latest(cy):  # :126-135
    cy.mailpitSendMail()
    r = cy.mailpitGetMail()
    for key in ("ID", "MessageID", "From", "To", "Subject"):
        assert key in r, key


def _e2e_assert_latest(cy):  # :137-151
    cy.mailpitSendMail({"to": [{"Email": "to@example.com", "Name": "To"},
                               {"Email": "text@example.com", "Name": "To"}],
                        "subject": "Test", "textBody": "Test", "htmlBody": "<p>Test</p>"})
    assert cy.mailpitGetSubject(cy.mailpitGetMail()) == "Test"
    assert "to@example.com" in cy.mailpitGetRecipientAddress(cy.mailpitGetMail())
    assert "<p>Test</p>" in cy.mailpitGetMailHTMlBody(cy.mailpitGetMail())
    assert cy.mailpitGetMailTextBody(cy.mailpitGetMail()) == "Test"


def _e2e_attachments(cy):  # :153-173
    cy.mailpitSendMail({"attachments": [{"Content": "SGVsbG8gV29ybGQ=", "FileName": "hello.txt"},
                                        {"Content": "SGVsbG8gV29ybGQ=",
                                         "FileName": "hello2.txt"}],
                        "to": [{"Email": "to@example.com", "Name": "To"},
                               {"Email": "text@example.com", "Name": "To"}],
                        "subject": "Test", "textBody": "Test", "htmlBody": "<p>Test</p>"})
    names = cy.mailpitGetAttachments(cy.mailpitGetMail())
    assert len(names) == 2 and "hello2.txt" in names and "hello.txt" in names, names


def _e2e_search(cy):  # :175-194
    cy.mailpitSendMail()
    cy.mailpitSendMail()
    cy.mailpitSendMail({"htmlBody": "<p>Test</p>", "textBody": "Test"})
    r = cy.mailpitSearchEmails("Test")
    assert len(r["messages"]) == 1 and "Test" in r["messages"][0]["Snippet"], r
    assert r["messages_count"] == 1 and r["total"] == 3 and r["count"] == 1, r


def _e2e_by_subject(cy):  # :196-214
    for _ in range(5):
        cy.mailpitSendMail({"subject": "My Test"})
    for _ in range(5):
        cy.mailpitSendMail()
    r = cy.mailpitGetEmailsBySubject("My Test")
    assert len(r["messages"]) == 5 and r["messages_count"] == 5, r
    assert r["total"] == 10 and r["count"] == 5, r


def _e2e_by_to(cy):  # :216-234
    for _ in range(5):
        cy.mailpitSendMail({"to": [{"Email": "test@example.com", "Name": "To"}]})
    for _ in range(5):
        cy.mailpitSendMail()
    r = cy.mailpitGetEmailsByTo("test@example.com")
    assert r["messages_count"] == 5 and r["total"] == 10 and r["count"] == 5, r
    assert len(r["messages"]) == 5, r


def _e2e_has_by_search(cy):  # :236-243
    cy.mailpitSendMail({"subject": "Searchable Subject",
                        "textBody": "This is a test email for searching."})
    cy.mailpitHasEmailsBySearch("subject:Searchable Subject")
    cy.mailpitNotHasEmailsBySearch("subject:Nonexistent")


def _e2e_timeout(cmd, arg, send=None):  # :245-325, the six "can assert timeout on ..." specs
    def run(cy):
        if send:
            cy.mailpitSendMail(send)
        start = time.monotonic()
        with pytest.raises(CypressFailure, match="Timed out after 1000ms waiting for condition"):
            getattr(cy, cmd)(arg, timeout=1.0, interval=0.1)
        assert abs(time.monotonic() - start - 1.0) <= 0.2 + 0.1  # closeTo(1000, 200), + a poll
    return run


def _e2e_has_by_subject(cy):  # :269-275
    cy.mailpitSendMail({"subject": "My Test"})
    cy.mailpitHasEmailsBySubject("My Test")
    cy.mailpitNotHasEmailsBySubject("Not")


def _e2e_has_by_to(cy):  # :298-304
    cy.mailpitSendMail({"to": [{"Email": "to@example.com", "Name": "To"}]})
    cy.mailpitHasEmailsByTo("to@example.com")
    cy.mailpitNotHasEmailsByTo("invalid@example.com")


def _e2e_set_read(cy):  # :337-351
    cy.mailpitSendMail()
    cy.mailpitSendMail({"htmlBody": "<p>Test</p>", "textBody": "Test"})
    assert cy.mailpitSearchEmails("Test")["messages"][0]["Read"] is False
    assert cy.mailpitSetStatusAsRead(cy.mailpitGetMail()) == "ok"
    assert cy.mailpitSearchEmails("Test")["messages"][0]["Read"] is True


def _e2e_set_unread(cy):  # :353-367
    cy.mailpitSendMail()
    cy.mailpitSendMail({"htmlBody": "<p>Test</p>", "textBody": "Test"})
    cy.mailpitSetStatusAsRead(cy.mailpitGetMail())
    assert cy.mailpitSearchEmails("Test")["messages"][0]["Read"] is True
    assert cy.mailpitSetStatusAsUnRead(cy.mailpitGetMail()) == "ok"
    assert cy.mailpitSearchEmails("Test")["messages"][0]["Read"] is False


def _e2e_set_array(cy):  # :369-390
    for i in range(3):
        cy.mailpitSendMail({"subject": f"Array Status {i}"})
    r = cy.mailpitGetAllMails()
    assert all(m["Read"] is False for m in r["messages"])
    assert cy.mailpitSetStatusAsRead(r["messages"]) == "ok"
    r = cy.mailpitGetAllMails()
    assert all(m["Read"] is True for m in r["messages"])
    assert cy.mailpitSetStatusAsUnRead(r["messages"]) == "ok"
    assert all(m["Read"] is False for m in cy.mailpitGetAllMails()["messages"])


def _e2e_set_all(cy):  # :392-423
    for i in range(3):
        cy.mailpitSendMail({"subject": f"Test {i}"})
    for i in range(3):
        assert cy.mailpitSearchEmails(f"Test {i}")["messages"][0]["Read"] is False
    assert cy.mailpitSetAllEmailStatusAsRead() == "ok"
    for i in range(3):
        assert cy.mailpitSearchEmails(f"Test {i}")["messages"][0]["Read"] is True
    assert cy.mailpitSetAllEmailStatusAsUnRead() == "ok"
    for i in range(3):
        assert cy.mailpitSearchEmails(f"Test {i}")["messages"][0]["Read"] is False


def _e2e_delete_by_search(cy):  # :435-449
    cy.mailpitSendMail({"subject": "Delete Me", "textBody": "Test"})
    cy.mailpitSendMail({"subject": "No Delete", "textBody": "Test"})
    cy.mailpitDeleteEmailsBySearch("subject:Delete Me")
    cy.mailpitHasEmailsBySubject("No Delete")
    cy.mailpitNotHasEmailsBySubject("Delete Me")


def _e2e_delete_empty_query(cy):  # :451-457 -- "400: Bad Request", "no search query"
    cy.mailpitSendMail()
    try:
        cy.mailpitDeleteEmailsBySearch("")
        msg = "(the command passed)"
    except CypressFailure as e:
        msg = str(e)
    answer = cy.log[-1].describe()
    left = cy.mailpitGetAllMails()["total"]
    assert "400: Bad Request" in msg and "no search query" in msg and left == 1, (
        "Mailpit (server/apiv1/messages.go, DeleteSearch) answers DELETE /api/v1/search?query= "
        "with 400 text/plain `Error: no search query` and deletes nothing; smtpmock answered "
        f"{answer} and left {left} of 1 message(s)")


CYPRESS_E2E: dict[str, Callable[[CypressMailpit], None]] = {
    "sending: can send one email": _e2e_send_one,
    "sending: can assert invalid to address while sending email": _e2e_invalid_to,
    "sending: can send email with cc, bcc, replyTo, and tags": _e2e_cc_bcc,
    "sending: can send multiple emails": _e2e_send_multiple,
    "query: can check the multiple emails": _e2e_check_multiple,
    "query: can get the from address of the latest email": _e2e_from_latest,
    "query: can get a specific email by ID": _e2e_by_id,
    "query: can paginate through emails": _e2e_paginate,
    "query: can get the latest email": _e2e_latest,
    "query: can perform assertion on the latest email": _e2e_assert_latest,
    "query: can get attachment on the latest email": _e2e_attachments,
    "query: can search the latest email by query": _e2e_search,
    "query: can get all the emails by subject": _e2e_by_subject,
    "query: can get all the emails by to": _e2e_by_to,
    "query: can assert mailpit has emails by search query": _e2e_has_by_search,
    "query: can assert timeout on has emails by search query":
        _e2e_timeout("mailpitHasEmailsBySearch", "invalid@example.com"),
    "query: can assert timeout on not has emails by search query":
        _e2e_timeout("mailpitNotHasEmailsBySearch", "subject:Searchable Subject",
                     {"subject": "Searchable Subject",
                      "textBody": "This is a test email for searching."}),
    "query: can assert mailpit has emails by subject or not": _e2e_has_by_subject,
    "query: can assert timeout on mailpit has emails by subject":
        _e2e_timeout("mailpitHasEmailsBySubject", "invalid@example.com"),
    "query: can assert timeout on mailpit not has emails by subject":
        _e2e_timeout("mailpitNotHasEmailsBySubject", "My Test", {"subject": "My Test"}),
    "query: can assert mailpit has emails by to or not": _e2e_has_by_to,
    "query: can assert timeout on mailpit has emails by to":
        _e2e_timeout("mailpitHasEmailsByTo", "invalid@example.com"),
    "query: can assert timeout on mailpit not has emails by to":
        _e2e_timeout("mailpitNotHasEmailsByTo", "to@example.com",
                     {"to": [{"Email": "to@example.com", "Name": "To"}]}),
    "read status: can set email status as read": _e2e_set_read,
    "read status: can set email status as unread": _e2e_set_unread,
    "read status: can set read status for an array of messages": _e2e_set_array,
    "read status: can set multiple email statuses": _e2e_set_all,
    "delete: should delete emails by search query": _e2e_delete_by_search,
    "delete: should throw error on invalid search query while deleting emails":
        _e2e_delete_empty_query,
}


@pytest.mark.parametrize("auth", ["no-server-auth", "http-auth"])
@pytest.mark.parametrize("spec", list(CYPRESS_E2E))
def test_cypress_mailpit_e2e(smtpmock_factory, spec: str, auth: str):
    """Part B: cypress-mailpit's own suite (cypress/e2e/mailpit.cy.ts), with its beforeEach and
    afterEach (mailpitDeleteAllEmails), credentials admin/admin as its cypress.config.ts sets
    them, against a server without auth (its CI) and one with --http-auth admin:admin."""
    server = smtpmock_factory(*(["--http-auth", "admin:admin"] if auth == "http-auth" else []))
    cy = CypressMailpit(server)
    cy.mailpitDeleteAllEmails()  # beforeEach
    CYPRESS_E2E[spec](cy)
    cy.mailpitDeleteAllEmails()  # afterEach
    assert cy.mailpitGetAllMails()["total"] == 0


@pytest.mark.parametrize("query", ["", "   "])
@pytest.mark.parametrize("command", ["mailpitSearchEmails", "mailpitHasEmailsBySearch"])
def test_cypress_mailpit_empty_search_query(smtpmock_factory, command: str, query: str):
    """mailpitSearchEmails(QUERY) / mailpitHasEmailsBySearch(QUERY) (src/MailpitCommands.ts:102,
    118) with an empty or blank QUERY: Mailpit (server/apiv1/messages.go, Search) trims it and
    answers 400 text/plain `Error: no search query`, so the command fails; it must not
    succeed with every message."""
    server = smtpmock_factory()
    cy = CypressMailpit(server)
    cy.mailpitSendMail()
    try:
        getattr(cy, command)(query, **({"timeout": 0.5, "interval": 0.1}
                                       if "Has" in command else {}))
        msg = "(the command passed)"
    except CypressFailure as e:
        msg = str(e)
    assert "400: Bad Request" in msg and "no search query" in msg, (
        f"Mailpit answers GET /api/v1/search?query={urllib.parse.quote(query)}&start=0&limit=50 "
        f"with 400 `Error: no search query`; smtpmock answered {cy.log[-1].describe()}")


def test_cypress_mailpit_wrong_credentials_fail_clearly(smtpmock_factory):
    """With --http-auth, a suite whose MAILPIT_PASSWORD is wrong fails on a 401 JSON error."""
    server = smtpmock_factory("--http-auth", "admin:admin")
    cy = CypressMailpit(server, auth=("admin", "wrong"))
    _expect_4xx_json(cy, cy.mailpitGetAllMails, "wrong password")
    assert cy.log[-1].status == 401 and "www-authenticate" in cy.log[-1].headers


# --- 2. testcontainers-mailpit (Java) --------------------------------------------------------

TC = "testcontainers-mailpit 1.3.0"
MC = "src/main/java/ch/martinelli/oss/testcontainers/mailpit/"
JAVA_CALLS: list[Call] = [
    Call(TC, "MailpitContainer wait (Wait.forHttp(\"/\").forPort(8025))", "GET", "/", (), "-",
         "status 200 (Testcontainers' HttpWaitStrategy default)", MC + "MailpitContainer.java:45"),
    Call(TC, "getAllMessages() (also getMessageCount(), every assertion and awaiter)", "GET",
         "/api/v1/messages", (), "- (Accept: application/json)",
         "status 200; MessagesResponse {messages[], total, unread, count, start, tags}; each "
         "Message {ID, MessageID, From{Name,Address}, To[], Cc[], Bcc[], ReplyTo[], Subject, "
         "Size:int, Created:Instant, Read:bool, Attachments:int|array, Snippet, Tags[]}",
         MC + "MailpitClient.java:45-65"),
    Call(TC, "getMessage(id)", "GET", "/api/v1/message/{id}", (),
         "- (Accept: application/json)", "status 200 -> Message; 404 -> MailpitException "
         "\"Message not found\"", MC + "MailpitClient.java:82-104"),
    Call(TC, "getMessageHtml(id)", "GET", "/view/{id}.html", (), "-",
         "status 200 -> the text; 404 -> null", MC + "MailpitClient.java:112-114,155-176"),
    Call(TC, "getMessagePlain(id)", "GET", "/view/{id}.txt", (), "-",
         "status 200 -> the text; 404 -> null", MC + "MailpitClient.java:122-124,155-176"),
    Call(TC, "getMessageSource(id)", "GET", "/api/v1/message/{id}/raw", (), "-",
         "status 200 -> the text; 404 -> null", MC + "MailpitClient.java:132-153"),
    Call(TC, "deleteAllMessages()", "DELETE", "/api/v1/messages", (), "none",
         "status 200 or 204", MC + "MailpitClient.java:182-195"),
    Call(TC, "deleteMessages(ids) / deleteMessage(id)", "DELETE", "/api/v1/messages", (),
         '{"ids": [...]} (Content-Type: application/json; lowercase key, record DeleteRequest)',
         "status 200 or 204", MC + "MailpitClient.java:202-233"),
]

# The first request on a new cleartext connection of java.net.http.HttpClient (HTTP_2 preferred)
# asks for an h2c upgrade; a server that does not speak h2c must just answer in HTTP/1.1.
JAVA_H2C = {"Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c",
            "HTTP2-Settings": "AAEAAEAAAAIAAAABAAMAAABkAAQBAAAAAAUAAEAA"}


class MailpitException(RuntimeError):
    """MailpitException.java (a RuntimeException)."""


@dataclass
class JAddress:  # Address.java: record Address(Name, Address)
    name: str | None
    address: str | None


@dataclass
class JMessage:  # Message.java: the fields Jackson binds (unknown properties ignored)
    id: str | None
    message_id: str | None
    from_: JAddress | None
    to: list[JAddress] | None
    cc: list[JAddress] | None
    bcc: list[JAddress] | None
    reply_to: list[JAddress] | None
    subject: str | None
    size: int
    created: dt.datetime | None
    read: bool
    attachments_node: Any
    snippet: str | None
    tags: list[str] | None

    def attachment_count(self) -> int:  # Message.java:31-42
        n = self.attachments_node
        if isinstance(n, bool) or n is None:
            return 0
        if isinstance(n, int):
            return n
        return len(n) if isinstance(n, list) else 0

    def recipients(self) -> list[JAddress]:
        return self.to or []


# java.time.Instant as Jackson's InstantDeserializer reads it (DateTimeFormatter.ISO_INSTANT,
# which on JDK 12+ also takes an offset such as +02:00)
INSTANT_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)")


def _j_str(v, what):
    assert v is None or isinstance(v, str), f"Jackson: {what} is not a String: {v!r}"
    return v


def _j_address(v, what) -> JAddress | None:
    if v is None:
        return None
    assert isinstance(v, dict), f"Jackson: {what} is not an Address object: {v!r}"
    return JAddress(_j_str(v.get("Name"), what + ".Name"), _j_str(v.get("Address"),
                                                                     what + ".Address"))


def _j_list(v, what, item):
    if v is None:
        return None
    assert isinstance(v, list), f"Jackson: {what} is not a List: {v!r}"
    return [item(x, f"{what}[{i}]") for i, x in enumerate(v)]


def _j_int(v, what):
    if v is None:
        return 0  # a missing primitive int is 0
    assert isinstance(v, int) and not isinstance(v, bool), f"Jackson: {what} not an int: {v!r}"
    assert -2**31 <= v < 2**31, f"Jackson: {what} overflows an int: {v}"
    return v


def _j_instant(v, what):
    if v is None:
        return None
    assert isinstance(v, str) and INSTANT_RE.fullmatch(v), \
        f"Jackson InstantDeserializer cannot read {what} {v!r}"
    frac = re.search(r"\.(\d+)", v)
    base = re.sub(r"\.\d+", "", v).replace("Z", "+00:00")
    t = dt.datetime.fromisoformat(base)
    if frac:
        t += dt.timedelta(microseconds=int(frac.group(1)[:6].ljust(6, "0")))
    return t


def jackson_message(d: Any) -> JMessage:
    assert isinstance(d, dict), f"Jackson: a Message is not an object: {d!r}"
    read = d.get("Read", False)
    assert isinstance(read, bool), f"Jackson: Read is not a boolean: {read!r}"
    return JMessage(
        _j_str(d.get("ID"), "ID"), _j_str(d.get("MessageID"), "MessageID"),
        _j_address(d.get("From"), "From"), _j_list(d.get("To"), "To", _j_address),
        _j_list(d.get("Cc"), "Cc", _j_address), _j_list(d.get("Bcc"), "Bcc", _j_address),
        _j_list(d.get("ReplyTo"), "ReplyTo", _j_address), _j_str(d.get("Subject"), "Subject"),
        _j_int(d.get("Size"), "Size"), _j_instant(d.get("Created"), "Created"), read,
        d.get("Attachments"), _j_str(d.get("Snippet"), "Snippet"),
        _j_list(d.get("Tags"), "Tags", _j_str))


class JavaMailpitClient:
    """MailpitClient.java, request by request (see JAVA_CALLS)."""

    def __init__(self, server: SmtpMockServer, keep_alive: bool = False):
        """keep_alive: every request on one persistent connection, as HttpClient's pool reuses
        it (then only the first request asks for h2c); else a new connection each time."""
        self.server = server
        self.log: list[Answer] = []
        self.conn = (http.client.HTTPConnection("127.0.0.1", server.http_port,
                                                timeout=HTTP_TIMEOUT) if keep_alive else None)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def _send(self, method: str, path: str, accept_json: bool = False,
              body: bytes | None = None, delete_no_body: bool = False) -> Answer:
        headers = {"Host": f"127.0.0.1:{self.server.http_port}",
                   "User-Agent": "Java-http-client/17.0.13"}
        if body is None and (self.conn is None or not self.log):
            headers.update(JAVA_H2C)
        if accept_json:
            headers["Accept"] = "application/json"
        if body is not None:
            headers["Content-Type"] = "application/json"
        if delete_no_body:  # .DELETE(): BodyPublishers.noBody(), sent as Content-Length: 0
            body = b""
        a = http_request(self.server, method, path, headers, body, self.conn)
        self.log.append(a)
        return a

    def wait_for_http(self) -> None:  # MailpitContainer.java:45, Wait.forHttp("/")
        # Testcontainers' HttpWaitStrategy asks with java.net.HttpURLConnection (no h2c)
        a = http_request(self.server, "GET", "/", {
            "Host": f"127.0.0.1:{self.server.http_port}", "User-Agent": "Java/17.0.13",
            "Accept": "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"}, None)
        self.log.append(a)
        assert a.status == 200, f"Testcontainers would never see the container ready: " \
                                f"{a.describe()}"

    def getAllMessages(self) -> list[JMessage]:  # MailpitClient.java:45-65
        a = self._send("GET", "/api/v1/messages", accept_json=True)
        if a.status != 200:
            raise MailpitException(f"Failed to fetch messages: HTTP {a.status} ({a.describe()})")
        d = json.loads(a.raw)
        assert isinstance(d, dict), d
        for key in ("total", "unread", "count", "start"):
            _j_int(d.get(key), key)
        _j_list(d.get("tags"), "tags", _j_str)
        msgs = d.get("messages")
        return [jackson_message(m) for m in msgs] if msgs is not None else []

    def getMessageCount(self) -> int:
        return len(self.getAllMessages())

    def getMessage(self, id: str) -> JMessage:  # :82-104
        a = self._send("GET", "/api/v1/message/" + id, accept_json=True)
        if a.status == 404:
            raise MailpitException("Message not found: " + id)
        if a.status != 200:
            raise MailpitException(f"Failed to fetch message: HTTP {a.status} ({a.describe()})")
        return jackson_message(json.loads(a.raw))

    def _view(self, id: str, part: str) -> str | None:  # :155-176
        a = self._send("GET", f"/view/{id}.{part}")
        if a.status == 404:
            return None
        if a.status != 200:
            raise MailpitException(f"Failed to fetch message part: HTTP {a.status}")
        return a.text

    def getMessageHtml(self, id: str) -> str | None:
        return self._view(id, "html")

    def getMessagePlain(self, id: str) -> str | None:
        return self._view(id, "txt")

    def getMessageSource(self, id: str) -> str | None:  # :132-153
        a = self._send("GET", f"/api/v1/message/{id}/raw")
        if a.status == 404:
            return None
        if a.status != 200:
            raise MailpitException(f"Failed to fetch message source: HTTP {a.status}")
        return a.text

    def deleteAllMessages(self) -> None:  # :182-195
        a = self._send("DELETE", "/api/v1/messages", delete_no_body=True)
        if a.status not in (200, 204):
            raise MailpitException(f"Failed to delete messages: HTTP {a.status} "
                                   f"({a.describe()})")

    def deleteMessages(self, ids: list[str]) -> None:  # :202-221, record DeleteRequest("ids")
        a = self._send("DELETE", "/api/v1/messages", body=json.dumps({"ids": ids}).encode())
        if a.status not in (200, 204):
            raise MailpitException(f"Failed to delete messages: HTTP {a.status} "
                                   f"({a.describe()})")

    def deleteMessage(self, id: str) -> None:
        self.deleteMessages([id])


_jakarta_seq = [0]


def jakarta_send(server: SmtpMockServer, from_addr: str, to: list[str] | str, subject: str,
                 body: str, *, from_name: str | None = None, cc: str | None = None,
                 html: bool = False, attachment: tuple[str, str] | None = None) -> None:
    """A message as the suites' sendEmail* helpers build it with Jakarta Mail (MimeMessage,
    Transport.send): envelope sender `mail.from` noreply@localhost, EHLO `mail.smtp.localhost`
    localhost, recipients To then Cc; headers in MimeMessage's order."""
    to = [to] if isinstance(to, str) else to
    _jakarta_seq[0] += 1
    now = dt.datetime.now(dt.timezone.utc)
    head = [f"Date: {now.strftime('%a, %-d %b %Y %H:%M:%S')} +0000 (UTC)",
            f"From: {from_name} <{from_addr}>" if from_name else f"From: {from_addr}",
            "To: " + ", ".join(to)]
    if cc:
        head.append(f"Cc: {cc}")
    head += [f"Message-ID: <{_jakarta_seq[0]}.{int(time.time() * 1000)}@localhost>",
             f"Subject: {subject}", "MIME-Version: 1.0"]
    if attachment:
        boundary = f"----=_Part_{_jakarta_seq[0]}_1.{int(time.time() * 1000)}"
        head.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
        name, content = attachment
        text = "\r\n".join(head) + "\r\n\r\n" + "\r\n".join([
            f"--{boundary}", "Content-Type: text/plain; charset=us-ascii",
            "Content-Transfer-Encoding: 7bit", "", body,
            f"--{boundary}", f"Content-Type: text/plain; name={name}",
            "Content-Transfer-Encoding: 7bit", f"Content-Disposition: attachment; filename={name}",
            "", content, f"--{boundary}--", ""])
    else:
        head += [f"Content-Type: text/{'html' if html else 'plain'}; charset=us-ascii",
                 "Content-Transfer-Encoding: 7bit"]
        text = "\r\n".join(head) + "\r\n\r\n" + body + "\r\n"
    with smtplib.SMTP(server.host, server.port, local_hostname="localhost",
                      timeout=SMTP_TIMEOUT) as s:
        refused = s.sendmail("noreply@localhost", to + ([cc] if cc else []), text.encode())
        assert refused == {}, refused


# --- part A: each call of MailpitClient, on a seeded mailbox ---------------------------------

def _tc_seed(server) -> None:
    jakarta_send(server, "sender@example.com", "recipient@example.com", "Plain", "Plain body")
    jakarta_send(server, "sender@example.com", "recipient@example.com", "HTML",
                 "<html><body><h1>Hello</h1></body></html>", html=True)


def _tc_wait(server, client):
    client.wait_for_http()


def _tc_all(server, client):
    msgs = client.getAllMessages()
    assert [m.subject for m in msgs] == ["HTML", "Plain"]  # newest first, as Mailpit
    for m in msgs:
        assert m.id and m.message_id and m.from_.address == "sender@example.com"
        assert [a.address for a in m.recipients()] == ["recipient@example.com"]
        assert m.created is not None and m.read is False and m.attachment_count() == 0
        assert m.size > 0 and m.tags == []
    assert "Plain body" in msgs[1].snippet


def _tc_get(server, client):
    m = client.getMessage(client.getAllMessages()[1].id)
    assert m.subject == "Plain" and m.from_.address == "sender@example.com"
    assert m.attachment_count() == 0 and m.attachments_node == []
    with pytest.raises(MailpitException, match="Message not found"):
        client.getMessage("nonexistent-id")


def _tc_html(server, client):
    msgs = client.getAllMessages()
    assert "<h1>Hello</h1>" in client.getMessageHtml(msgs[0].id)
    assert client.getMessageHtml(msgs[1].id) is None  # a plain-text message has no HTML: 404
    assert client.getMessageHtml("nonexistent-id") is None


def _tc_plain(server, client):
    msgs = client.getAllMessages()
    assert "Plain body" in client.getMessagePlain(msgs[1].id)
    assert client.getMessagePlain("nonexistent-id") is None


def _tc_raw(server, client):
    src = client.getMessageSource(client.getAllMessages()[1].id)
    assert "Subject: Plain" in src and "From: sender@example.com" in src
    assert client.getMessageSource("nonexistent-id") is None


def _tc_delete_all(server, client):
    client.deleteAllMessages()
    assert client.getMessageCount() == 0


def _tc_delete_ids(server, client):
    msgs = client.getAllMessages()
    client.deleteMessage(msgs[0].id)
    assert [m.subject for m in client.getAllMessages()] == ["Plain"]


JAVA_CHECKS = [_tc_wait, _tc_all, _tc_get, _tc_html, _tc_plain, _tc_raw, _tc_delete_all,
               _tc_delete_ids]


@pytest.mark.parametrize("call,check", list(zip(JAVA_CALLS, JAVA_CHECKS)),
                         ids=[c.command.split(" ")[0] for c in JAVA_CALLS])
def test_testcontainers_mailpit_call(smtpmock, call: Call, check):
    """Part A: one MailpitClient call, as MailpitClient.java sends it, on two Jakarta mails."""
    _tc_seed(smtpmock)
    client = JavaMailpitClient(smtpmock)
    check(smtpmock, client)
    assert any(a.method == call.method for a in client.log), (call, client.log)


def test_testcontainers_mailpit_calls_on_one_connection(smtpmock):
    """HttpClient keeps its connection open between calls: the whole table in a row on one
    persistent connection (the first request asking for h2c), each answer framed so that the
    next request on the connection is read as a request."""
    _tc_seed(smtpmock)
    client = JavaMailpitClient(smtpmock, keep_alive=True)
    try:
        # the wait strategy has a connection of its own; the deletes last, one id then all
        for check in (_tc_all, _tc_get, _tc_html, _tc_plain, _tc_raw, _tc_delete_ids,
                      _tc_delete_all):
            check(smtpmock, client)
        assert len(client.log) >= 15, [a.describe() for a in client.log]
    finally:
        client.close()


def test_testcontainers_mailpit_default_page(smtpmock):
    """getAllMessages() sends no start/limit (MailpitClient.java:48): Mailpit's default page is
    50 (server/apiv1/api.go, getStartLimit), so getMessageCount() says 50 of 51 there too."""
    for i in range(51):
        jakarta_send(smtpmock, "sender@example.com", "recipient@example.com", f"M {i}", "Body")
    client = JavaMailpitClient(smtpmock)
    msgs = client.getAllMessages()
    assert len(msgs) == 50 and msgs[0].subject == "M 50" and msgs[-1].subject == "M 1"


# --- part B: the module's own test classes ---------------------------------------------------

def _client_get_by_id(s, c):  # MailpitClientTest.java:34-47
    jakarta_send(s, "sender@example.com", "recipient@example.com", "Test Subject", "Test body")
    msgs = c.getAllMessages()
    assert len(msgs) == 1
    m = c.getMessage(msgs[0].id)
    assert m.from_.address == "sender@example.com" and m.subject == "Test Subject"
    assert [a.address for a in m.to] == ["recipient@example.com"]


def _client_not_found(s, c):  # :49-53
    with pytest.raises(MailpitException, match="Message not found"):
        c.getMessage("nonexistent-id")


def _client_html(s, c):  # :55-66
    jakarta_send(s, "sender@example.com", "recipient@example.com", "HTML Test",
                 "<html><body><h1>Hello</h1></body></html>", html=True)
    msgs = c.getAllMessages()
    assert len(msgs) == 1 and "<h1>Hello</h1>" in c.getMessageHtml(msgs[0].id)


def _client_plain(s, c):  # :68-78
    jakarta_send(s, "sender@example.com", "recipient@example.com", "Plain Only", "Plain text only")
    msgs = c.getAllMessages()
    assert len(msgs) == 1 and "Plain text only" in c.getMessagePlain(msgs[0].id)


def _client_delete_one(s, c):  # :80-91
    jakarta_send(s, "sender@example.com", "recipient@example.com", "Email 1", "Body 1")
    jakarta_send(s, "sender@example.com", "recipient@example.com", "Email 2", "Body 2")
    msgs = c.getAllMessages()
    assert len(msgs) == 2
    c.deleteMessage(msgs[0].id)
    assert c.getMessageCount() == 1


def _client_zero(s, c):  # :93-103
    assert c.getMessageCount() == 0 and c.getAllMessages() == []


def _client_created(s, c):  # :105-115
    jakarta_send(s, "sender@example.com", "recipient@example.com", "Timestamp Test", "Body")
    msgs = c.getAllMessages()
    assert len(msgs) == 1 and msgs[0].created is not None


def _client_source(s, c):  # :117-127
    jakarta_send(s, "sender@example.com", "recipient@example.com", "Source Test",
                 "This is the raw body")
    src = c.getMessageSource(c.getAllMessages()[0].id)
    assert src is not None and "Source Test" in src and "sender@example.com" in src


def _client_null_views(s, c):  # :129-148
    assert c.getMessageSource("nonexistent-id") is None
    assert c.getMessageHtml("nonexistent-id") is None
    assert c.getMessagePlain("nonexistent-id") is None


def _client_delete_many(s, c):  # :150-162
    for i in (1, 2, 3):
        jakarta_send(s, "sender@example.com", "recipient@example.com", f"Email {i}", f"Body {i}")
    msgs = c.getAllMessages()
    assert len(msgs) == 3
    c.deleteMessages([msgs[0].id, msgs[1].id])
    assert c.getMessageCount() == 1


def _client_recipients(s, c):  # :164-188
    jakarta_send(s, "sender@example.com", ["a@test.com", "b@test.com"], "Multi Recipient", "Body")
    m = c.getAllMessages()[0]
    assert [a.address for a in m.recipients()] == ["a@test.com", "b@test.com"]


def _container_catch(s, c):  # MailpitContainerTest.java:32-54
    c.deleteAllMessages()
    jakarta_send(s, "sender@example.com", "recipient@example.com", "Test Subject",
                 "Hello, this is a test email!")
    msgs = c.getAllMessages()
    assert len(msgs) == 1
    m = msgs[0]
    assert m.from_.address == "sender@example.com" and m.subject == "Test Subject"
    assert [a.address for a in m.to] == ["recipient@example.com"]
    assert "Hello, this is a test email!" in c.getMessagePlain(m.id)


def _container_delete(s, c):  # :74-89
    c.deleteAllMessages()
    jakarta_send(s, "sender@example.com", "recipient@example.com", "Email 1", "Body 1")
    jakarta_send(s, "sender@example.com", "recipient@example.com", "Email 2", "Body 2")
    assert c.getMessageCount() == 2
    c.deleteAllMessages()
    assert c.getMessageCount() == 0


def _container_source(s, c):  # :91-104
    c.deleteAllMessages()
    jakarta_send(s, "sender@example.com", "recipient@example.com", "Source Test", "Test body")
    src = c.getMessageSource(c.getAllMessages()[0].id)
    assert "From: sender@example.com" in src and "To: recipient@example.com" in src
    assert "Subject: Source Test" in src


def _assert_order(s, c):  # MailpitAssertionsTest.java:189-195, 683-700, 718-728
    for subject in ("First", "Second", "Third"):
        jakarta_send(s, "sender@test.com", "recipient@test.com", subject, "Body")
    msgs = c.getAllMessages()  # messages().first()/last()/element(1); lastMessage()
    assert [m.subject for m in msgs] == ["Third", "Second", "First"]
    assert all(m.read is False and m.from_.address == "sender@test.com" for m in msgs)


def _assert_created(s, c):  # :411-425, 525-543 (wasCreatedAfter/Before)
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    jakarta_send(s, "sender@test.com", "recipient@test.com", "Test", "Body")
    after = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=10)
    created = c.getAllMessages()[0].created
    assert before < created < after, (before, created, after)


def _assert_snippet(s, c):  # :427-432, 545-552
    jakarta_send(s, "sender@test.com", "recipient@test.com", "Test",
                 "This is the email body content")
    snippet = c.getAllMessages()[0].snippet
    assert "email body" in snippet and "goodbye" not in snippet, snippet


def _assert_names(s, c):  # :362-367, 807-824, 852-868 (isFromName, hasNoDisplayName)
    jakarta_send(s, "john@example.com", "recipient@test.com", "Named", "Body",
                 from_name="John Doe")
    jakarta_send(s, "plain@example.com", "recipient@test.com", "Plain", "Body")
    named, plain = c.getAllMessages()[1], c.getAllMessages()[0]
    assert named.from_ == JAddress("John Doe", "john@example.com"), named.from_
    assert plain.from_.address == "plain@example.com" and not plain.from_.name, plain.from_


def _assert_cc(s, c):  # :249-254, 383-388, 498-505, 572-579 (cc, no bcc)
    jakarta_send(s, "sender@test.com", "recipient@test.com", "CC Test", "Body", cc="cc@test.com")
    m = c.getAllMessages()[0]
    assert [a.address for a in m.cc] == ["cc@test.com"], m.cc
    assert not any(a.address == "bcc@test.com" for a in (m.bcc or []))
    assert [a.address for a in m.to] == ["recipient@test.com"]


def _assert_attachments(s, c):  # :256-261, 390-402, 507-523, 599-607, 325-334
    jakarta_send(s, "sender@test.com", "recipient@test.com", "No Attachments", "Body")
    jakarta_send(s, "sender@test.com", "recipient@test.com", "Test", "Body",
                 attachment=("test.txt", "attachment content"))
    with_att, without = c.getAllMessages()
    assert with_att.attachment_count() == 1 and without.attachment_count() == 0


def _assert_tags(s, c):  # :581-597 (hasTag on a message without tags fails cleanly)
    jakarta_send(s, "sender@test.com", "recipient@test.com", "Test", "Body")
    assert c.getAllMessages()[0].tags in ([], None)


def _assert_await(s, c):  # :216-229, 293-323 (awaitMessage / awaitMessageCount, async send)
    def later():
        time.sleep(0.5)
        jakarta_send(s, "sender@test.com", "recipient@test.com", "Async Test", "Body")
    t = threading.Thread(target=later, daemon=True)
    t.start()
    deadline = time.monotonic() + 5  # withTimeout(Duration.ofSeconds(5)), pollInterval 500 ms
    while not any(m.subject == "Async Test" for m in c.getAllMessages()):
        assert time.monotonic() < deadline, "ConditionTimeoutException"
        time.sleep(0.5)
    t.join(10)


def _assert_filters(s, c):  # :614-681 (filteredOn*, containsMessage*, allAreFrom)
    jakarta_send(s, "newsletter@company.com", "alice@test.com", "Newsletter", "Body")
    jakarta_send(s, "support@company.com", "bob@test.com", "Invoice", "Body")
    jakarta_send(s, "newsletter@company.com", "alice@test.com", "Newsletter", "Body")
    msgs = c.getAllMessages()
    assert sum(m.subject == "Newsletter" for m in msgs) == 2
    assert sum(m.from_.address == "newsletter@company.com" for m in msgs) == 2
    assert sum(any(a.address == "alice@test.com" for a in m.to) for m in msgs) == 2


JAVA_SUITE: dict[str, Callable[[SmtpMockServer, JavaMailpitClient], None]] = {
    "MailpitClientTest.shouldGetMessageById": _client_get_by_id,
    "MailpitClientTest.shouldThrowExceptionWhenMessageNotFound": _client_not_found,
    "MailpitClientTest.shouldGetMessageHtml": _client_html,
    "MailpitClientTest.shouldGetMessagePlain": _client_plain,
    "MailpitClientTest.shouldDeleteSingleMessage": _client_delete_one,
    "MailpitClientTest.shouldReturnZeroCountWhenNoMessages+EmptyList": _client_zero,
    "MailpitClientTest.shouldHandleMessageWithCreatedTimestamp": _client_created,
    "MailpitClientTest.shouldGetMessageSource": _client_source,
    "MailpitClientTest.shouldReturnNullForNonExistentMessage{Source,Html,Plain}":
        _client_null_views,
    "MailpitClientTest.shouldDeleteMultipleMessages": _client_delete_many,
    "MailpitClientTest.shouldGetMessageRecipients+ReturnEmptyListForNullTo": _client_recipients,
    "MailpitContainerTest.shouldCatchEmailSentViaSMTP+SupportMultipleRecipients":
        _container_catch,
    "MailpitContainerTest.shouldDeleteMessages": _container_delete,
    "MailpitContainerTest.shouldRetrieveMessageSource": _container_source,
    "MailpitAssertionsTest.first/last/element (newest first)": _assert_order,
    "MailpitAssertionsTest.wasCreatedAfter/Before": _assert_created,
    "MailpitAssertionsTest.hasSnippetContaining": _assert_snippet,
    "MailpitAssertionsTest.isFromName/hasNoDisplayName": _assert_names,
    "MailpitAssertionsTest.hasCcRecipient/hasBccRecipient": _assert_cc,
    "MailpitAssertionsTest.hasAttachments/hasAttachmentCount": _assert_attachments,
    "MailpitAssertionsTest.hasTag(s)": _assert_tags,
    "MailpitAssertionsTest.awaitMessage/awaitMessageCount": _assert_await,
    "MailpitAssertionsTest.filteredOn*/containsMessage*": _assert_filters,
}


@pytest.mark.parametrize("case", list(JAVA_SUITE))
def test_testcontainers_mailpit_suite(smtpmock, case: str):
    """Part B: the module's own tests, on a fresh server each (their @BeforeEach deletes all;
    the static @Container waits for GET / first)."""
    client = JavaMailpitClient(smtpmock)
    client.wait_for_http()
    client.deleteAllMessages()
    JAVA_SUITE[case](smtpmock, client)
