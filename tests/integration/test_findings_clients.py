"""The findings of real SMTP clients in their default modes, as a table in docs/findings-clients.md.

Each client (swaks, curl, msmtp, Python smtplib twice, nodemailer) sends one plain text message
the way a user does with the fewest options: host, port, sender, recipient and the message; a
second table has the same runs with a UTF-8 body and a line that starts with a dot. Each
runs against its own server: `smtpmock serve` with the default scenario less STARTTLS (see
SERVER_SETUP for why), 127.0.0.1 and ephemeral ports only. The findings of each client's
session(s) make the table; the test compares the generated document with the committed one and
fails with a diff when they differ. SMTPMOCK_UPDATE_DOCS=1 rewrites the file instead.

Every finding in the table must have been judged: a real one has a line in EXPLANATIONS; a false
positive (the client is right, the server wrong) goes in FALSE_POSITIVES with its reason, is kept
out of the table and makes a strict xfail, so the fix shows up as an XPASS.
SMTPMOCK_FINDINGS_TRANSCRIPTS=DIR writes each session (transcript and findings) there as JSON.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import SOURCE_DIR, SmtpMockServer, describe, run

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"
DOC = SOURCE_DIR / "docs" / "findings-clients.md"
PYTHON = "/usr/bin/python3"  # Debian's, the one CI has: smtplib's version is its version

SENDER = "sender@client.example"
RECIPIENT = "rcpt@dest.example"


@dataclass(frozen=True)
class Variant:
    """A message the clients send: the plain one the table is about, or a UTF-8 one."""

    key: str
    title: str
    subject: str
    body: str  # CRLF line ends
    charset: str
    cte: str

    def message(self) -> str:
        """The whole message, for the clients that take one (curl, msmtp, smtplib's sendmail):
        a normal header block and a short body, CRLF line ends (RFC 5322's form, and what curl
        asks for: it uploads the file's bytes as they are)."""
        return (
            f"From: The Sender <{SENDER}>\r\n"
            f"To: <{RECIPIENT}>\r\n"
            f"Subject: {self.subject}\r\n"
            "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
            f"Message-ID: <short-{self.key}-text-1@client.example>\r\n"
            "MIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset={self.charset}\r\n"
            f"Content-Transfer-Encoding: {self.cte}\r\n"
            "\r\n" + self.body
        )


PLAIN = Variant("plain", "a short plain text message", "A short plain text message",
                "Hello,\r\n\r\nthis is a short plain text message.\r\n\r\nRegards,\r\n"
                "the sender\r\n", "us-ascii", "7bit")
UTF8 = Variant("utf8", "a UTF-8 body with a line that starts with a dot",
               "A short UTF-8 text message",
               "Gr\u00fc\u00dfe aus K\u00f6ln,\r\n\r\n.a line that starts with a dot\r\n\r\n"
               "Regards,\r\nthe sender\r\n", "utf-8", "8bit")
VARIANTS = [PLAIN, UTF8]

SESSION_WAIT = 10.0  # seconds for a session to be listed and ended
POLL = 0.05


# --- the server setup ----------------------------------------------------------------------

def server_scenario() -> str:
    """scenarios/default.yaml without the STARTTLS extension (everything else as shipped)."""
    text = (SOURCE_DIR / "scenarios" / "default.yaml").read_text("utf-8")
    lines = text.splitlines(keepends=True)
    kept = [l for l in lines if l.strip() != "- STARTTLS"]
    assert len(kept) == len(lines) - 1, "scenarios/default.yaml has no '- STARTTLS' line"
    out = "".join(kept)
    assert "\nname: default\n" in out, "scenarios/default.yaml: no 'name: default' line"
    return out.replace("\nname: default\n", "\nname: default-without-starttls\n", 1)


SERVER_SETUP = """\
The server is `smtpmock serve` with the bundled default scenario (`scenarios/default.yaml`:
PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES, AUTH PLAIN LOGIN CRAM-MD5, SMTPUTF8, DSN,
CHUNKING) **less STARTTLS**, and no other flag than its listening addresses (127.0.0.1, an
ephemeral port each), one server per client.

Why not STARTTLS: `smtpmock serve` as it starts offers STARTTLS with a self-signed certificate
generated at start-up (no `--tls-cert`). nodemailer's default upgrades whenever STARTTLS is
offered and verifies the certificate, so against that server it does not send at all
(`test_nodemailer_default_fails_on_the_self_signed_certificate` checks this); making it send
would take `tls: {rejectUnauthorized: false}` or `ignoreTLS: true`, which is no longer its
default mode. swaks, curl, msmtp and smtplib do not use STARTTLS unless asked to, and none of them
authenticates without credentials, so for them the two setups give the same findings
(`test_starttls_on_offer_changes_nothing_for_the_others` checks this).
"""

DEFAULT_MODES = """\
- **swaks** builds its own message (Date, To, From, Subject, Message-Id, X-Mailer headers and
  the body "This is a test mailing"); its EHLO name is this machine's canonical host name.
- **curl** uploads the file's bytes as they are (`-T`: it dot-stuffs but converts no line end
  without `--crlf`). Given a URL without a path, `-T FILE` appends the file's name to it, and
  curl's EHLO name is the URL's path: it says `EHLO message.eml`. That is syntactically a
  domain, so no finding; name the domain in the URL (`smtp://host:port/client.example`) to
  send a real one.
- **msmtp** runs with an empty configuration (`-C` an empty file: auth off, TLS off, msmtp's
  defaults) and reads the message on standard input; its EHLO name is always `localhost`
  (`domain`'s default, "which is stupid but usually works", says its manual).
- **Python smtplib** (`/usr/bin/python3`): `sendmail()` with the message text, and
  `send_message()` of an `email.message.EmailMessage` (From, To, Subject, `set_content()`);
  its EHLO name is `socket.getfqdn()` when that has a dot, else the host name's address as a
  literal (`[127.0.0.1]` here).
- **nodemailer** `createTransport({host, port})` and `sendMail({from, to, subject, text})`
  (`tests/integration/node/default_send.js`), so nodemailer writes the message; its EHLO name
  is `os.hostname()` when that has a dot, else `[127.0.0.1]`. The node version is left out:
  nodemailer is pinned in `package-lock.json`, node is whatever the machine has.

curl and msmtp are given a message with a normal header block (From, To, Subject, Date,
Message-ID, MIME-Version, Content-Type, Content-Transfer-Encoding) and a six-line body, with
CRLF line ends; smtplib's `sendmail()` the same text. `PORT` stands for the server's port.
"""

MACHINE_NOTE = """\
`helo-not-fqdn` (info) is left out of the table for the clients whose EHLO name comes from this
machine's name (swaks, smtplib, nodemailer): whether that is a fully qualified domain name
depends on the machine, not on the client. msmtp's fixed `localhost` is kept.
"""

UTF8_NOTE = """\
The same clients, the same way, with the body "Grüße aus Köln," and a line that starts with a
dot (`.a line that starts with a dot`); the message curl, msmtp and smtplib's `sendmail()` are
given says `Content-Type: text/plain; charset=utf-8` and `Content-Transfer-Encoding: 8bit`.
swaks, whose own message is ASCII, gets the body with `--body` (its message has no MIME header
fields, so the charset goes unsaid too; no finding looks at headers). smtplib's `sendmail()`
gets bytes (it refuses a str that is not ASCII), `send_message()` gets `set_content()` of the
text (which picks `8bit`); nodemailer writes the text itself, quoted-printable, so 7-bit.
Every client here dot-stuffs the dot line (no `dot-not-stuffed`).
"""

# Real findings, judged from the transcript and the RFC clause: (client, code) -> one line.
EXPLANATIONS: dict[tuple[str, str], str] = {
    ("msmtp", "helo-not-fqdn"):
        "real: without `domain` (or `--domain`) msmtp says `EHLO localhost`, which names no "
        "host; RFC 5321 4.1.1.1 asks for the client's fully qualified name or an address "
        "literal. Servers accept it (hence info), some anti-spam checks frown on it.",
    ("nodemailer", "no-quit"):
        "real: after the 250 to the message, nodemailer's (non-pooled) SMTP transport closes "
        "the connection (`send()` calls `connection.close()`, not `quit()`), so no QUIT is "
        "ever sent; RFC 5321 4.1.1.10: the client MUST NOT close the channel before it sends "
        "QUIT. The message is delivered all the same.",
    # RFC 6152 3 (and RFC 1652 before it): content with octets above 127 is sent with
    # BODY=8BITMIME on MAIL; without it the body is BODY=7BIT's, US-ASCII. Servers that
    # advertise 8BITMIME mostly take it anyway, which is why clients get away with it.
    ("swaks", "8bit-undeclared"):
        "real: swaks sends the UTF-8 body as it is with a bare `MAIL FROM:<...>`; swaks has no "
        "way to put BODY=8BITMIME on MAIL.",
    ("curl", "8bit-undeclared"):
        "real: curl uploads the 8-bit file as it is; its MAIL carries SIZE= (and SMTPUTF8 for "
        "non-ASCII addresses), never BODY=8BITMIME.",
    ("msmtp", "8bit-undeclared"):
        "real: msmtp passes the 8-bit message through with a bare `MAIL FROM:<...>`; it has no "
        "BODY parameter at all.",
    ("Python smtplib, sendmail()", "8bit-undeclared"):
        "real: `sendmail()` sends the bytes it is given and only the `mail_options` it is given "
        "(`mail_options=['BODY=8BITMIME']` would declare them).",
    ("Python smtplib, send_message()", "8bit-undeclared"):
        "real: `set_content()` picks `Content-Transfer-Encoding: 8bit` for short UTF-8 lines, "
        "and `send_message()` adds BODY=8BITMIME only together with SMTPUTF8, for non-ASCII "
        "addresses; this one has ASCII addresses, so its 8-bit body goes undeclared.",
}

# False positives (the client is right, the server wrong): (client, code) -> the reason. Kept
# out of the table; each makes a strict xfail until the server is fixed.
FALSE_POSITIVES: dict[tuple[str, str], str] = {
}


# --- running the clients --------------------------------------------------------------------

def api(server: SmtpMockServer, path: str):
    req = urllib.request.Request(f"{server.http_url}{path}", headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def ended_sessions(server: SmtpMockServer) -> list[dict]:
    """Every session of this server once each has ended, oldest first (bounded waits)."""
    deadline = time.monotonic() + SESSION_WAIT
    while True:
        status, listing = api(server, "/api/v1/sessions")
        assert status == 200, listing
        ids = [s["ID"] for s in listing["sessions"]]
        if ids or time.monotonic() > deadline:
            break
        time.sleep(POLL)
    assert ids, f"no session recorded within {SESSION_WAIT}s"
    out = []
    for sid in reversed(ids):  # the list is newest first
        while True:
            status, s = api(server, f"/api/v1/session/{sid}")
            assert status == 200, s
            if s["Ended"] is not None:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"session {sid} had not ended within {SESSION_WAIT}s")
            time.sleep(POLL)
        out.append(s)
    return out


def first_word_after(text: str, prefix: str) -> str:
    for line in text.splitlines():
        if line.startswith(prefix):
            return line[len(prefix):].split()[0]
    raise AssertionError(f"no line starting {prefix!r} in {text!r}")


def tool_version(args: list[str], prefix: str) -> str:
    p = run(args)
    assert p.returncode == 0, describe(p)
    return first_word_after(p.stdout.decode(errors="replace"), prefix)


def require(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed (make test-deps installs it)")


@dataclass
class ClientRun:
    """One client run: what the doc shows and what the test checks."""

    name: str
    version: str
    how: str  # the command, PORT for the port
    helo_from_machine: bool  # the EHLO name is this machine's name (helo-not-fqdn depends on it)
    fixed_helo: str | None = None  # the EHLO name when it is not the machine's
    helo: str = ""  # the EHLO name it sent (from the stored envelope)
    sessions: list[dict] = field(default_factory=list)


def run_swaks(server: SmtpMockServer, tmp: Path, v: Variant) -> ClientRun:
    require("swaks")
    args = ["swaks", "-s", server.host, "-p", str(server.port), "-f", SENDER, "-t", RECIPIENT]
    how = f"swaks -s 127.0.0.1 -p PORT -f {SENDER} -t {RECIPIENT}"
    if v is not PLAIN:  # swaks' own message is plain ASCII; this body is given as text
        args += ["--body", v.body.replace("\r\n", "\n")]
        how += " --body TEXT"
    p = run(args)
    assert p.returncode == 0, describe(p)
    return ClientRun("swaks", tool_version(["swaks", "--version"], "swaks version "), how, True)


def run_curl(server: SmtpMockServer, tmp: Path, v: Variant) -> ClientRun:
    require("curl")
    msg = tmp / "message.eml"
    msg.write_bytes(v.message().encode())
    args = ["curl", f"smtp://{server.host}:{server.port}", "--mail-from", SENDER,
            "--mail-rcpt", RECIPIENT, "-T", str(msg)]
    p = run(args)
    assert p.returncode == 0, describe(p)
    return ClientRun("curl", tool_version(["curl", "--version"], "curl "),
                     f"curl smtp://127.0.0.1:PORT --mail-from {SENDER} --mail-rcpt {RECIPIENT} "
                     "-T message.eml", False, "message.eml")


def run_msmtp(server: SmtpMockServer, tmp: Path, v: Variant) -> ClientRun:
    require("msmtp")
    msg = tmp / "message.eml"
    msg.write_bytes(v.message().encode())
    config = tmp / "msmtprc"  # empty: msmtp's defaults (a config file must be private)
    config.write_text("")
    config.chmod(0o600)
    args = ["msmtp", "-C", str(config), f"--host={server.host}", f"--port={server.port}",
            f"--from={SENDER}", RECIPIENT]
    with msg.open("rb") as stdin:
        p = run(args, stdin=stdin)
    assert p.returncode == 0, describe(p)
    return ClientRun("msmtp", tool_version(["msmtp", "--version"], "msmtp version "),
                     f"msmtp -C EMPTY-FILE --host=127.0.0.1 --port=PORT --from={SENDER} "
                     f"{RECIPIENT} < message.eml", False, "localhost")


SMTPLIB_SCRIPT = """\
import json, platform, smtplib, sys
from email.message import EmailMessage
mode, host, port, sender, rcpt, subject, body, message = sys.argv[1:]
with smtplib.SMTP(host, int(port)) as s:
    if mode == "sendmail":
        # a str must be ASCII (smtplib encodes it so); anything else goes as bytes
        refused = s.sendmail(sender, [rcpt], message if message.isascii() else message.encode())
    else:
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = sender, rcpt, subject
        m.set_content(body.replace("\\r\\n", "\\n"))
        refused = s.send_message(m)
print(json.dumps({"refused": refused, "version": platform.python_version()}))
"""


def run_smtplib(mode: str):
    def run_it(server: SmtpMockServer, tmp: Path, v: Variant) -> ClientRun:
        if not Path(PYTHON).is_file():
            pytest.fail(f"{PYTHON} is not installed (make test-deps installs python3)")
        p = run([PYTHON, "-c", SMTPLIB_SCRIPT, mode, server.host, str(server.port), SENDER,
                 RECIPIENT, v.subject, v.body, v.message()])
        assert p.returncode == 0, describe(p)
        result = json.loads(p.stdout.decode().strip().splitlines()[-1])
        assert result["refused"] == {}, result
        message = "message" if v.message().isascii() else "message.encode()"
        how = (f"smtplib.SMTP(host, port).sendmail(sender, [rcpt], {message})"
               if mode == "sendmail" else "smtplib.SMTP(host, port).send_message(EmailMessage())")
        return ClientRun(f"Python smtplib, {mode}()", result["version"], how, True)
    return run_it


def run_nodemailer(server: SmtpMockServer, tmp: Path, v: Variant) -> ClientRun:
    require("node")
    package = NODE_DIR / "node_modules" / "nodemailer" / "package.json"
    if not package.is_file():
        pytest.fail(f"nodemailer is not installed: run `npm ci` in {NODE_DIR} (make test-deps)")
    req = {"host": server.host, "port": server.port, "from": SENDER, "to": RECIPIENT,
           "subject": v.subject, "text": v.body.replace("\r\n", "\n")}
    p = run(["node", str(NODE_DIR / "default_send.js"), json.dumps(req)], cwd=NODE_DIR)
    assert p.returncode == 0, describe(p)
    result = json.loads(p.stdout.decode().strip().splitlines()[-1])
    assert result["ok"] and result["accepted"] == [RECIPIENT], result
    return ClientRun("nodemailer", json.loads(package.read_text("utf-8"))["version"],
                     "createTransport({host, port}).sendMail({from, to, subject, text})", True)


CLIENTS = [
    ("swaks", run_swaks),
    ("curl", run_curl),
    ("msmtp", run_msmtp),
    ("smtplib-sendmail", run_smtplib("sendmail")),
    ("smtplib-send_message", run_smtplib("send_message")),
    ("nodemailer", run_nodemailer),
]


# --- normalising what depends on the machine -----------------------------------------------

def machine_names() -> set[str]:
    """The names this machine goes by (the ones a client may put in its EHLO)."""
    names = {socket.gethostname(), socket.getfqdn()}
    try:
        canonical, aliases, _ = socket.gethostbyname_ex(socket.gethostname())
        names |= {canonical, *aliases}
    except OSError:
        pass
    return {n for n in names if n}


DATE_RE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|"
    r"Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4}|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]"
    r"\d\d:\d\d)?")


def normalise(text: str, server: SmtpMockServer, helo: str | None, from_machine: bool) -> str:
    text = DATE_RE.sub("<date>", text)
    text = text.replace(f"{server.host}:{server.port}", "127.0.0.1:PORT")
    text = re.sub(rf"\b{server.port}\b", "PORT", text)
    names = set(machine_names())
    if from_machine and helo:
        names.add(helo)
    for name in sorted(names, key=len, reverse=True):
        if name == "localhost" or name.startswith("[") or re.fullmatch(r"[0-9.]+", name):
            continue  # the same on every machine
        text = re.sub(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", "<hostname>", text)
    return text


# --- the table ------------------------------------------------------------------------------

@dataclass
class Row:
    client: str
    version: str
    how: str
    findings: list[tuple[str, str, str]]  # (code, severity, normalised text)


def rows_and_false_positives(runs: list[tuple[ClientRun, SmtpMockServer]]):
    rows, false_positives, unjudged = [], [], []
    for r, server in runs:
        found = []
        for s in r.sessions:
            helo = r.helo or None
            for f in s["Findings"]:
                code, sev = f["Code"], f["Severity"]
                if code == "helo-not-fqdn" and sev == "info" and r.helo_from_machine:
                    continue  # depends on the machine's name (MACHINE_NOTE)
                if (r.name, code) in FALSE_POSITIVES:
                    false_positives.append((r.name, code, f["Text"]))
                    continue
                if (r.name, code) not in EXPLANATIONS:
                    unjudged.append(f"{r.name}: {code} ({sev}): {f['Text']} [line {f['Line']}]")
                found.append((code, sev, normalise(f["Text"], server, helo, r.helo_from_machine)))
        rows.append(Row(r.name, r.version, r.how, found))
    return rows, false_positives, unjudged


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: list[Row]) -> list[str]:
    out = ["| client | version | how it was run | findings |", "|---|---|---|---|"]
    for row in rows:
        findings = "<br>".join(f"`{c}` ({s}): {cell(t)}" for c, s, t in row.findings) or "none"
        out.append(f"| {row.client} | {row.version} | `{cell(row.how)}` | {findings} |")
    return out


def render(plain: list[Row], utf8: list[Row]) -> str:
    out = [
        "# Findings of real SMTP clients in their default modes",
        "",
        "<!-- Generated by tests/integration/test_findings_clients.py; do not edit by hand. -->",
        "<!-- SMTPMOCK_UPDATE_DOCS=1 pytest tests/integration/test_findings_clients.py "
        "rewrites it. -->",
        "",
        "What smtpmock's findings ([findings.md](findings.md)) say about the clients people use,",
        "each run with the fewest options that send one plain text message to a host and port.",
        "A test runs them and fails when this page no longer matches what they do.",
        "",
        "## The server",
        "",
        SERVER_SETUP.rstrip(),
        "",
        "## Each client's default mode",
        "",
        DEFAULT_MODES.rstrip(),
        "",
        "## The findings",
        "",
        MACHINE_NOTE.rstrip(),
        "",
        *table(plain),
        "",
        "## The same with a UTF-8 body",
        "",
        UTF8_NOTE.rstrip(),
        "",
        *table(utf8),
    ]
    explained = [(row.client, c) for row in plain + utf8 for c, _, _ in row.findings]
    out += ["", "## Why each finding is real", ""]
    if explained:
        seen = set()
        for key in explained:
            if key not in seen:
                seen.add(key)
                out.append(f"- {key[0]}, `{key[1]}`: {EXPLANATIONS.get(key, 'NOT JUDGED YET')}")
    else:
        out.append("No client has a finding.")
    return "\n".join(out) + "\n"


# --- the tests ------------------------------------------------------------------------------

def run_clients(tmp_path_factory, clients, starttls: bool, v: Variant = PLAIN):
    """Each client against its own server (the default scenario, less STARTTLS unless
    `starttls`): yields [(ClientRun, server)]; the servers are stopped afterwards."""
    from conftest import base_args, require_binary

    require_binary()
    servers: list[SmtpMockServer] = []
    runs: list[tuple[ClientRun, SmtpMockServer]] = []
    dump = os.environ.get("SMTPMOCK_FINDINGS_TRANSCRIPTS")
    try:
        for key, run_client in clients:
            tmp = tmp_path_factory.mktemp(f"{v.key}-{key}")
            spool = tmp / "spool"
            spool.mkdir()
            args = base_args(spool)
            if not starttls:
                scenario = tmp / "scenario.yaml"
                scenario.write_text(server_scenario(), "utf-8")
                args += ["--scenario", str(scenario)]
            server = SmtpMockServer(args, spool, cwd=tmp)
            servers.append(server)
            r = run_client(server, tmp, v)
            [m] = server.wait_messages(1)
            assert m.mail_from == SENDER and m.recipients == [RECIPIENT], m.meta
            r.helo = m.envelope["Helo"]
            r.sessions = ended_sessions(server)
            if dump:
                Path(dump).mkdir(parents=True, exist_ok=True)
                name = f"{v.key}-{key}{'-starttls' if starttls else ''}.json"
                Path(dump, name).write_text(json.dumps(r.sessions, indent=1), "utf-8")
            runs.append((r, server))
        yield runs
    finally:
        for s in servers:
            s.stop()


@pytest.fixture(scope="module")
def client_runs(tmp_path_factory):
    """The plain message, the table's."""
    yield from run_clients(tmp_path_factory, CLIENTS, starttls=False, v=PLAIN)


@pytest.fixture(scope="module")
def utf8_runs(tmp_path_factory):
    """The UTF-8 message, the second table's."""
    yield from run_clients(tmp_path_factory, CLIENTS, starttls=False, v=UTF8)


def test_each_client_sent_in_one_session(client_runs, utf8_runs):
    for r, _ in client_runs + utf8_runs:
        assert len(r.sessions) == 1, (r.name, [s["ID"] for s in r.sessions])
        # The EHLO name is what DEFAULT_MODES says, so MACHINE_NOTE holds.
        if r.helo_from_machine:
            assert r.helo in machine_names() | {"[127.0.0.1]"}, (r.name, r.helo)
        else:
            assert r.helo == r.fixed_helo, (r.name, r.helo)


def test_every_finding_is_judged(client_runs, utf8_runs):
    _, _, unjudged = rows_and_false_positives(client_runs + utf8_runs)
    assert not unjudged, (
        "findings nobody has judged yet: read the transcript and the RFC clause; a real one gets "
        "a line in EXPLANATIONS, a false positive goes in FALSE_POSITIVES (and is reported as a "
        "bug):\n" + "\n".join(unjudged))


def test_the_doc_matches(client_runs, utf8_runs):
    text = render(rows_and_false_positives(client_runs)[0],
                  rows_and_false_positives(utf8_runs)[0])
    if os.environ.get("SMTPMOCK_UPDATE_DOCS") == "1":
        DOC.write_text(text, "utf-8")
        return
    committed = DOC.read_text("utf-8") if DOC.is_file() else ""
    if committed != text:
        diff = "".join(difflib.unified_diff(
            committed.splitlines(keepends=True), text.splitlines(keepends=True),
            f"{DOC} (committed)", "generated"))
        pytest.fail(f"{DOC.name} differs from what the clients do now (SMTPMOCK_UPDATE_DOCS=1 "
                    f"rewrites it):\n{diff}")


@pytest.mark.parametrize("key", [
    pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=FALSE_POSITIVES[k]),
                 id=f"{k[0]}:{k[1]}")
    for k in sorted(FALSE_POSITIVES)])
def test_no_false_positive(client_runs, utf8_runs, key):
    """A known false positive is gone (an XPASS here: remove its FALSE_POSITIVES entry)."""
    _, fps, _ = rows_and_false_positives(client_runs + utf8_runs)
    assert not [f for f in fps if (f[0], f[1]) == key], FALSE_POSITIVES[key]


def test_nodemailer_default_fails_on_the_self_signed_certificate(smtpmock, tmp_path):
    """The reason for the server setup: `smtpmock serve` as it starts offers STARTTLS with a
    self-signed certificate, and nodemailer's default upgrades and refuses that certificate."""
    require("node")
    if not (NODE_DIR / "node_modules" / "nodemailer").is_dir():
        pytest.fail(f"nodemailer is not installed: run `npm ci` in {NODE_DIR} (make test-deps)")
    req = {"host": smtpmock.host, "port": smtpmock.port, "from": SENDER, "to": RECIPIENT,
           "subject": PLAIN.subject, "text": "hi"}
    p = run(["node", str(NODE_DIR / "default_send.js"), json.dumps(req)], cwd=NODE_DIR)
    assert p.returncode == 1, describe(p)
    result = json.loads(p.stdout.decode().strip().splitlines()[-1])
    assert "self-signed certificate" in result["message"], result
    assert smtpmock.messages() == []


def test_starttls_on_offer_changes_nothing_for_the_others(client_runs, tmp_path_factory):
    """SERVER_SETUP's claim: swaks, curl, msmtp and smtplib, in their default modes, neither
    upgrade nor authenticate, so STARTTLS on offer (`smtpmock serve` as it starts) gives them
    the same findings as the table's server."""
    others = [c for c in CLIENTS if c[0] != "nodemailer"]
    table = {r.name: rows_and_false_positives([(r, s)])[0][0].findings for r, s in client_runs}
    for runs in run_clients(tmp_path_factory, others, starttls=True):
        for r, server in runs:
            assert not any(t["TLS"] for t in r.sessions[0]["Transcript"]), r.name
            assert any(t["Direction"] == "out" and t["Text"][4:] == "STARTTLS"
                       for t in r.sessions[0]["Transcript"]), r.name
            [row], _, _ = rows_and_false_positives([(r, server)])
            assert row.findings == table[r.name], r.name
