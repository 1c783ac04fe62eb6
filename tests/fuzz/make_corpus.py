#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/ from the golden transcripts
(tests/transcripts/*.txt), the bundled scenarios (scenarios/*.yaml) and a few hand-written
cases. Run it again after changing those; the files it writes are committed.

Input layouts (see tests/fuzz/fuzz_input.hpp): fuzz_server and fuzz_client_reply take two option
bytes, a chunk-table length byte and the table, then the payload; fuzz_data_roundtrip takes the
table length byte and the table, then the message; fuzz_thumbnail takes an image file (PNG and
GIF written here, JPEG with libstb0's encoder through ctypes); the other targets take plain text.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import shutil
import struct
import tempfile
import zlib
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


def png(width: int, height: int, colour_type: int, rows: list[bytes]) -> bytes:
    """An 8-bit PNG of the given colour type (0 grey, 2 RGB, 6 RGBA) from raw rows."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    raw = b"".join(b"\x00" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def gif(width: int, height: int, indices: list[int], transparent: int | None = None) -> bytes:
    """A GIF89a with a 4-colour palette; a clear code before every pixel keeps codes 3 bits wide
    (as tests/http/thumbnail_test.cpp writes them)."""
    out = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x91, 0, 0)
    out += bytes([255, 255, 255, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    if transparent is not None:
        out += b"\x21\xf9\x04\x01\x00\x00" + bytes([transparent]) + b"\x00"
    out += b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02"
    bits = nbits = 0
    lzw = bytearray()
    for code in [c for i in indices for c in (4, i)] + [5]:
        bits |= code << nbits
        nbits += 3
        while nbits >= 8:
            lzw.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        lzw.append(bits & 0xFF)
    for at in range(0, len(lzw), 255):
        block = bytes(lzw[at:at + 255])
        out += bytes([len(block)]) + block
    return out + b"\x00\x3b"


def jpeg(width: int, height: int, rgb: bytes) -> bytes:
    """A quality-70 JPEG from libstb0's stbi_write_jpg (the build's own dependency)."""
    lib = ctypes.CDLL(ctypes.util.find_library("stb") or "libstb.so.0")
    with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
        if not lib.stbi_write_jpg(f.name.encode(), width, height, 3, rgb, 70):
            raise RuntimeError("stbi_write_jpg failed")
        return Path(f.name).read_bytes()


def with_exif_orientation(data: bytes, orientation: int) -> bytes:
    """The JPEG with an APP1 Exif segment (big-endian TIFF, IFD0: Orientation) after SOI."""
    tiff = b"MM\x00*" + struct.pack(">IHHHIHHI", 8, 1, 0x0112, 3, 1, orientation, 0, 0)
    payload = b"Exif\x00\x00" + tiff
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]


def thumbnail_seeds() -> None:
    """fuzz_thumbnail: small images of each decoded format and colour layout."""
    write("fuzz_thumbnail", "png-rgb",
          png(8, 6, 2, [b"".join(bytes([x * 30, y * 40, 200]) for x in range(8)) for y in range(6)]))
    write("fuzz_thumbnail", "png-rgba",
          png(4, 4, 6, [bytes([255, 0, 0, y * 80]) + bytes([0, 0, 255, 255]) * 3 for y in range(4)]))
    write("fuzz_thumbnail", "png-grey", png(3, 5, 0, [bytes([y * 50] * 3) for y in range(5)]))
    write("fuzz_thumbnail", "gif", gif(5, 3, [i % 4 for i in range(15)]))
    write("fuzz_thumbnail", "gif-transparent", gif(4, 4, [0, 1, 2, 3] * 4, transparent=0))
    rgb = b"".join(bytes([x * 16, y * 16, 128]) for y in range(16) for x in range(16))
    j = jpeg(16, 16, rgb)
    write("fuzz_thumbnail", "jpeg", j)
    write("fuzz_thumbnail", "jpeg-exif-rotated", with_exif_orientation(j, 6))


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

    thumbnail_seeds()


if __name__ == "__main__":
    main()
