#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/ from the golden transcripts
(tests/transcripts/*.txt), the bundled scenarios (scenarios/*.yaml) and a few hand-written
cases. Run it again after changing those; the files it writes are committed.

Input layouts (see tests/fuzz/fuzz_input.hpp): fuzz_server and fuzz_client_reply take two option
bytes, a chunk-table length byte and the table, then the payload; fuzz_data_roundtrip takes the
table length byte and the table, then the message; the other targets take plain text.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"

ONE_READ = b"\x00"               # no chunk table: everything in one read
SMALL_READS = b"\x03\x00\x06\x3f"  # reads of 1, 7 and 64 octets, cycled


def transcripts() -> dict[str, tuple[list[str], list[str]]]:
    """name -> (client lines, server lines) of every golden transcript."""
    out = {}
    for f in sorted((ROOT / "tests" / "transcripts").glob("*.txt")):
        client, server = [], []
        for line in f.read_text().splitlines():
            if line.startswith("C:"):
                client.append(line[3:] if line.startswith("C: ") else line[2:])
            elif line.startswith("S:"):
                text = line[3:]
                if text.startswith("* "):
                    text = text[2:] + " M1"
                elif text == "*":
                    text = "250 localhost"
                server.append(text)
        out[f.stem] = (client, server)
    return out


def crlf(lines: list[str]) -> bytes:
    return "".join(l + "\r\n" for l in lines).encode()


SESSIONS = {
    "starttls": ["EHLO a.example", "STARTTLS", "EHLO a.example", "MAIL FROM:<a@b>", "QUIT"],
    "auth-plain": ["EHLO a", "AUTH PLAIN AHVzZXIAc2VjcmV0", "MAIL FROM:<a@b> SIZE=10 BODY=8BITMIME",
                   "RCPT TO:<c@d> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c@d", "DATA", "hi", ".", "QUIT"],
    "auth-plain-continued": ["EHLO a", "AUTH PLAIN", "AHVzZXIAc2VjcmV0", "QUIT"],
    "auth-cram": ["EHLO a", "AUTH CRAM-MD5", "dXNlciBhYmM=", "AUTH LOGIN", "*", "QUIT"],
    "bdat": ["EHLO a", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "BDAT 5", "hello" + "BDAT 3 LAST",
             "abc" + "QUIT"],
    "bdat-zero": ["EHLO a", "MAIL FROM:<> SMTPUTF8", "RCPT TO:<c@d>", "BDAT 0 LAST", "RSET", "QUIT"],
    "data-dots": ["HELO a", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "RCPT TO:<e@f>", "DATA",
                  "..x", ".", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA", "", ".", "QUIT"],
    "misc-commands": ["NOOP", "HELP", "VRFY postmaster", "EXPN list", "EHLO", "HELO", "RSET",
                      "MAIL FROM:<a@b>", "MAIL FROM:<a@b>", "RCPT TO:<>", "DATA", "ETRN x",
                      "XYZZY", "QUIT"],
    "errors": ["EHLO a"] + ["BOGUS"] * 25,
}
RAW_SESSIONS = {
    "long-line": b"EHLO " + b"x" * 600 + b"\r\nQUIT\r\n",
    "bare-lf": b"EHLO a\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\n.\n\r\n.\r\nQUIT\r\n",
    "bare-cr": b"EHLO a\r\nNOOP\rNOOP\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\na\rb\r\n.\r\n",
    "nul": b"EHLO a\x00b\r\nMAIL FROM:<a\x00@b>\r\n",
}

REPLIES = {
    "ehlo-all": ["220 mx.example ESMTP", "250-mx.example", "250-PIPELINING", "250-SIZE 1000",
                 "250-AUTH PLAIN LOGIN CRAM-MD5", "250-STARTTLS", "250 CHUNKING", "220 go ahead",
                 "250-mx.example", "250 AUTH=LOGIN PLAIN", "334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6",
                 "235 ok", "250 ok", "250 ok", "250 ok", "354 go", "250 queued", "221 bye"],
    "cram": ["220 x", "250-x", "250 AUTH CRAM-MD5", "334 PDEyMzQ1QGV4YW1wbGU+", "235 ok",
             "250 ok", "250 ok", "250 ok", "354 go", "250 ok", "221 bye"],
    "rejections": ["220 x", "250 x", "550 5.1.1 no", "221 bye"],
    "greeting-refused": ["554 no service", "221 bye"],
    "helo-fallback": ["220 x", "502 no ehlo", "250 hello", "250 ok", "452 too many", "250 ok",
                      "354 go", "451 later", "250 ok", "221 bye"],
    "unsolicited-421": ["220 x", "421 shutting down"],
    "malformed": ["220 x", "250-x", "251 different code", "hello"],
}


def write(target: str, name: str, data: bytes) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def main() -> None:
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    ts = transcripts()

    # fuzz_server: option byte 0x03 = TLS available, handshake succeeds; 0x13 adds bare-LF accept.
    for name, (client, _) in ts.items():
        write("fuzz_server", f"transcript-{name}", b"\x03\x00" + ONE_READ + crlf(client))
        write("fuzz_server", f"transcript-{name}-small-reads", b"\x03\x00" + SMALL_READS + crlf(client))
    for name, lines in SESSIONS.items():
        write("fuzz_server", name, b"\x03\x00" + ONE_READ + crlf(lines))
    for name, data in RAW_SESSIONS.items():
        write("fuzz_server", name, b"\x13\x00" + SMALL_READS + data)
    write("fuzz_server", "tls-required", b"\x07\x00" + ONE_READ + crlf(SESSIONS["starttls"]))
    write("fuzz_server", "auth-required-interrupt", b"\x0b\x02" + SMALL_READS + crlf(SESSIONS["auth-plain"]))
    write("fuzz_server", "pipelining-reject", b"\x43\x00" + ONE_READ + crlf(SESSIONS["data-dots"]))
    write("fuzz_server", "implicit-tls", b"\x80\x00" + ONE_READ + crlf(SESSIONS["auth-plain"]))

    # fuzz_client_reply: 0x00 plain; 0x26 opportunistic STARTTLS + AUTH + pipelining;
    # 0x9d required STARTTLS + AUTH CRAM-MD5 + handshake ok.
    for name, (_, server) in ts.items():
        write("fuzz_client_reply", f"transcript-{name}", b"\x00\x00" + ONE_READ + crlf(server))
    for name, lines in REPLIES.items():
        for opts in (b"\x00\x00", b"\xa6\x20", b"\x9d\x08"):
            write("fuzz_client_reply", f"{name}-{opts.hex()}", opts + SMALL_READS + crlf(lines))

    # fuzz_data_roundtrip: messages, one read and small reads.
    messages = {
        "empty": b"",
        "dots": b".\r\n..\r\n.x\r\nend",
        "bare-ends": b"a\nb\rc\r\r\n.\n.",
        "long-line": b"Subject: x\r\n\r\n" + b"y" * 1100 + b"\r\n",
        "binary": bytes(range(256)),
    }
    for name, (client, _) in ts.items():
        if "DATA" in client:
            body = client[client.index("DATA") + 1:]
            body = body[:body.index(".")] if "." in body else body
            messages[f"transcript-{name}"] = crlf([l[1:] if l.startswith(".") else l for l in body])
    for name, m in messages.items():
        write("fuzz_data_roundtrip", name, ONE_READ + m)
        write("fuzz_data_roundtrip", f"{name}-small-reads", SMALL_READS + m)

    # fuzz_scenario_loader: the bundled scenarios and a few small texts.
    for f in sorted((ROOT / "scenarios").glob("*.yaml")):
        write("fuzz_scenario_loader", f.name, f.read_bytes())
    for name, text in {
        "empty": "",
        "minimal": "name: x\n",
        "rules": "rules:\n  - on: mail\n    match: {sender: '/^a/'}\n    reply: '550 5.7.1 no'\n",
        "anchors": "a: &x [1, 2]\nb: *x\n",
        "flow": "{name: x, hostname: y, extensions: [SIZE 10, PIPELINING]}\n",
    }.items():
        write("fuzz_scenario_loader", name, text.encode())

    # fuzz_http_search: search queries, then requests.
    queries = ["from:alice subject:\"hello world\"", "-to:bob is:unread has:attachment",
               "!subject:x message-id:<a@b> session:S1", "is:flagged", "\"unterminated", "text"]
    for i, q in enumerate(queries):
        write("fuzz_http_search", f"query-{i}", q.encode())
    requests = {
        "list": "GET /api/v1/messages?start=0&limit=10\n\n",
        "message": "GET /api/v1/message/m1\nAccept: application/json\n\n",
        "raw": "GET /api/v1/message/m1/raw\n\n",
        "headers": "GET /api/v1/message/m2/headers\n\n",
        "part": "GET /api/v1/message/m1/part/1\n\n",
        "search": "GET /api/v1/search?query=subject%3Afirst&limit=5\n\n",
        "delete": "DELETE /api/v1/messages\n\n{\"IDs\":[\"m1\"]}",
        "read": "PUT /api/v1/messages\n\n{\"IDs\":[\"m2\"],\"Read\":true}",
        "wait": "GET /api/v1/messages/wait?query=from%3Asender&count=3&timeout=1s\n\n",
        "sessions": "GET /api/v1/sessions\n\n",
        "chaos": "PUT /api/v1/chaos\n\n{\"Triggers\":{\"Sender\":{\"ErrorCode\":451,\"Probability\":50}}}",
        "jim": "POST /api/v2/jim\n\n{\"DisconnectChance\":0.1}",
        "mailhog-search": "GET /api/v2/search?kind=from&query=sender&limit=1\n\n",
        "mailhog-list": "GET /api/v2/messages?start=0&limit=2\n\n",
        "auth": "GET /api/v1/info\nAuthorization: Basic dXNlcjpzZWNyZXQ=\n\n",
        "metrics": "GET /metrics\n\n",
        "scenario-get": "GET /api/v1/scenario\nAccept: application/yaml\n\n",
        "page": "GET /\nAccept: text/html\n\n",
        "send": "POST /api/v1/send\n\n{\"From\":{\"Email\":\"a@x.example\"},\"To\":[{\"Email\":"
                "\"b+t@y.example\"}],\"Subject\":\"s\",\"Text\":\"t\",\"HTML\":\"<p>h</p>\",\"Tags\":"
                "[\"x\"],\"Attachments\":[{\"Content\":\"aGk=\",\"Filename\":\"a.txt\"}]}",
        "tags-set": "PUT /api/v1/tags\n\n{\"IDs\":[\"m1\"],\"Tags\":[\"Red\",\"blue one\"]}",
        "tags-rename": "PUT /api/v1/tags/promo\n\n{\"Name\":\"other\"}",
        "tags-search": "GET /api/v1/search?query=tag%3Ared+is%3Atagged\n\n",
        "thumb": "GET /api/v1/message/m1/part/2/thumb\n\n",
        "view": "GET /view/latest.html?query=subject%3Afirst\n\n",
    }
    for name, r in requests.items():
        write("fuzz_http_search", f"request-{name}", r.encode())


if __name__ == "__main__":
    main()
