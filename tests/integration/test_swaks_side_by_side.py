"""swaks and `smtpmock send`, side by side (issue 13).

Each row of TABLE is a swaks command line, taken from swaks' manual (QUICK START and the option
descriptions of swaks 20201014.0) or from common tutorials. The same argv (everything after the
program name) is run once with `swaks` and once with `smtpmock send`, one after the other,
against the same running smtpmock (a fresh server per row, on an ephemeral 127.0.0.1 port).
The row passes when both runs

- exit with the same code;
- left the same messages in the store, fetched through the HTTP API (`/api/v1/messages`,
  `/api/v1/message/{ID}`, `/api/v1/message/{ID}/raw`): the same envelope, the same header
  section (names, order, values; normalised as described at `normalise_headers`), the same MIME
  tree (content types, dispositions, file names, decoded part bodies) and the same attachment
  list as the API reports it;
- made the server see the same client commands (`/api/v1/session/{ID}/transcript`, lines
  from the client only; see `client_lines` for the one AUTH line allowed to differ).

One difference holds for every row without -h/--helo (docs/client.md): the default EHLO name.
swaks says its host name (gethostbyname's name for it, else hostname(): "EHLO vm" on a machine
without a domain name); `smtpmock send` says the machine's FQDN, else the address literal of
its end of the connection ("EHLO [127.0.0.1]", RFC 5321 4.1.4). Where the two differ, send's
documented name (`send_default_helo`) is replaced by swaks' in send's greeting lines and
envelope before the comparison, and a row whose send greeted with anything else fails; so
every other aspect is still compared in full.

Every difference of a row is collected and reported at once, so a failing row says everything
that differs, not only the first thing. A row whose feature has not landed in `smtpmock send`
yet fails (usually with exit 2 and "not supported yet"); it is kept as it is, never skipped.

Fixture files (bodies, a DATA file, attachments) are in tests/integration/swaks/; they are
copied to a per-test directory that is both clients' working directory, so argv names them by
their plain names, as a user at a shell would. The TLS rows' certificates are made there with the
openssl tool at the start of the row that uses them (as test_tls.py does): server.pem/server.key
(CN=localhost, SAN IP:127.0.0.1) and client.pem/client.key. Placeholders in argv (and in a row's
`serve` flags): {server} is 127.0.0.1:PORT, {port} the SMTP port alone, {smtps} and {smtps_port}
the implicit-TLS listener, {closed} an address where nothing listens, {work} that directory.

Only 127.0.0.1 is used; every subprocess and every HTTP call has a timeout.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import BINARY, http_call
from test_send_findings import send_default_helo

SWAKS = shutil.which("swaks") or "/usr/bin/swaks"
FIXTURES = Path(__file__).resolve().parent / "swaks"
RUN_TIMEOUT = 60  # seconds for one client run (swaks' own --timeout default is 30 s)
SETTLE_TIMEOUT = 10.0  # seconds for the server to end the sessions of a finished client run

SENDER = "alice@client.example"
RCPT = "bob@dest.example"
USER, PASSWORD = "alice", "secret"

# --- scenarios ----------------------------------------------------------------------------------

# The default scenario (None below) advertises STARTTLS with smtpmock's self-signed certificate
# (swaks does not verify by default, `smtpmock send` neither) and AUTH PLAIN LOGIN CRAM-MD5 with
# any credentials accepted.

# AUTH with one real user, so a wrong password is refused (535) and exits 28.
AUTH_USERS = f"""\
name: sbs-auth
hostname: mx.auth.example
ehlo: {{extensions: [PIPELINING, ENHANCEDSTATUSCODES, "AUTH PLAIN LOGIN CRAM-MD5", STARTTLS]}}
auth: {{users: [{{user: {USER}, password: {PASSWORD}}}]}}
"""

# Neither STARTTLS nor AUTH: -tls must fail (29), -tlso carry on in the clear, -a fail (28).
PLAIN_ONLY = """\
name: sbs-plain
hostname: mx.plain.example
ehlo: {extensions: [PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME]}
"""

# Refusals at each stage, selected by address, so one server serves the good and the bad rows.
REFUSALS = """\
name: sbs-refusals
hostname: mx.refusals.example
ehlo: {extensions: [PIPELINING, ENHANCEDSTATUSCODES, STARTTLS, "AUTH PLAIN LOGIN"]}
rules:
  - name: unknown-user
    on: rcpt
    match: {recipient: "*@blocked.example"}
    reply: "550 5.1.1 <{recipient}>: Recipient address rejected: User unknown"
  - name: bad-sender
    on: mail
    match: {sender: "*@spammer.example"}
    reply: "550 5.7.1 <{sender}>: Sender address rejected"
  - name: refuse-data
    on: data
    match: {sender: "*@nodata.example"}
    reply: "554 5.5.1 no data today"
  - name: content-refused
    on: message
    match: {header: {Subject: "*reject me*"}}
    reply: "552 5.3.4 message refused"
"""

# The server's side of a failing conversation: it hangs up, or TLS breaks.
DROPS = """\
name: sbs-drops
hostname: mx.drops.example
ehlo: {extensions: [PIPELINING, ENHANCEDSTATUSCODES, STARTTLS]}
rules:
  - name: hang-up-after-mail
    on: mail
    match: {sender: "*@hangup.example"}
    disconnect: after_reply
  - name: shutting-down
    on: rcpt
    match: {recipient: "*@shutdown.example"}
    reply: "421 4.3.2 shutting down"
  - name: try-later
    on: rcpt
    match: {recipient: "*@later.example"}
    reply: "451 4.7.1 try again later"
"""

# EHLO refused (an old server): swaks' ESMTP falls back to HELO; with HELO refused too, 22.
NO_EHLO = """\
name: sbs-no-ehlo
hostname: mx.old.example
rules:
  - name: no-ehlo
    on: ehlo
    reply: "502 5.5.2 EHLO not implemented"
  - name: no-helo-for-strangers
    on: helo
    match: {helo: "stranger.example"}
    reply: "550 5.7.1 go away"
"""

TLS_FAILS = """\
name: sbs-tls-fails
hostname: mx.tls-fails.example
ehlo: {extensions: [PIPELINING, ENHANCEDSTATUSCODES, STARTTLS]}
tls: {handshake: fail}
"""

TLS_EXPIRED = """\
name: sbs-tls-expired
hostname: mx.tls-expired.example
ehlo: {extensions: [PIPELINING, ENHANCEDSTATUSCODES, STARTTLS]}
tls: {certificate: expired}
"""

# A 421 banner: swaks exits 21.
BUSY = """\
name: sbs-busy
hostname: mx.busy.example
rules:
  - name: busy
    on: connect
    reply: "421 4.3.2 Too busy, try later"
"""

SMTPS = ("--smtps-listen", "127.0.0.1:0")  # server flags for the tls-on-connect rows


# --- the table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    argv: str  # shell words (shlex), placeholders as in the module docstring
    notes: str
    scenario: str | None = None  # YAML text; None is the bundled default scenario
    bundled: str | None = None  # or a bundled scenario by name (scenarios/NAME.yaml)
    stdin: bytes = b""
    serve: tuple[str, ...] = ()  # extra `smtpmock serve` flags
    exit: int = 0  # swaks' own exit code for this row (checks the row, before any comparison)
    # A difference docs/client.md documents (smtpmock send on purpose unlike swaks): what may
    # differ ("exit", "sessions", "messages"), and what send must do instead (its exit code and
    # the RCPT lines of its session). A documented difference that is no longer there fails the
    # row too, so the table and the docs follow the code.
    differs: tuple[str, ...] = ()
    send_exit: int | None = None
    send_rcpts: tuple[str, ...] | None = None

    def words(self, subst: dict[str, str]) -> list[str]:
        out = []
        for w in shlex.split(self.argv):
            for k, v in subst.items():
                w = w.replace("{" + k + "}", v)
            out.append(w)
        return out


STD = f"-t {RCPT} -f {SENDER} -s {{server}}"  # the usual "who, from, where" of a tutorial
EICAR_STAND_IN = b"X5O!P%@AP STAND-IN FOR THE EICAR TEST STRING (harmless)\n"
STDIN_BODY = b"body line one, from stdin\nbody line two\n"
STDIN_DATA = (b"From: stdin@client.example\nTo: bob@dest.example\nSubject: data from stdin\n"
              b"\nThe whole DATA came from stdin.\n")

TABLE: list[Row] = [
    # --- basics and swaks' short forms ---------------------------------------------------------
    Row("quick-start", f"--to {RCPT} --server {{server}}",
        "man QUICK START: default sender ($LOGNAME@host), default HELO, default message"),
    Row("short-t-f-s", STD, "the one-letter forms every tutorial uses"),
    Row("server-then-port", f"-t {RCPT} -f {SENDER} -s 127.0.0.1 -p {{port}}",
        "-s HOST and -p PORT apart"),
    Row("server-slash-port", f"-t {RCPT} -f {SENDER} -s 127.0.0.1/{{port}}",
        "man --server: SERVER/PORT"),
    Row("server-bracket-port", f"-t {RCPT} -f {SENDER} -s '[127.0.0.1]:{{port}}'",
        "man --server: [SERVER]:PORT"),
    Row("to-comma-space", f"-t '{RCPT}, carol@dest.example' -f {SENDER} -s {{server}}",
        "a comma list with a space after the comma (swaks keeps the space: RCPT TO:< carol@...>, "
        "refused; send trims it and delivers to both)",
        differs=("sessions", "messages"), send_rcpts=(RCPT, "carol@dest.example")),
    Row("from-in-brackets", f"-t {RCPT} -f '<{SENDER}>' -s {{server}}",
        "a sender typed with its angle brackets: swaks sends MAIL FROM:<<...>>, refused (23)",
        exit=23),
    Row("helo-h", f"{STD} -h client.example", "-h is --helo/--ehlo in swaks (not help)"),
    Row("ehlo-long", f"{STD} --ehlo mail.client.example", "--ehlo spelled out"),
    Row("two-recipients-comma", f"-t {RCPT},carol@dest.example -f {SENDER} -s {{server}}",
        "a comma list of recipients; To: lists both"),
    Row("null-sender", f"-t {RCPT} -f '<>' -s {{server}}", "man --from: \"<>\" is the null sender"),
    Row("timeout", f"{STD} --timeout 10s", "--timeout with a unit"),
    # --- headers -------------------------------------------------------------------------------
    Row("h-subject", f"{STD} --h-Subject 'Test message'", "--h-NAME replaces the default Subject"),
    Row("header-replace-and-add", f"{STD} --header 'Subject: hello' --header 'X-Test: 1'",
        "--header replaces an existing header, adds a new one"),
    Row("header-dash-name", f"{STD} --header-X-Test 'test email'",
        "man QUICK START's --header-X-Test form"),
    Row("h-from-display-name", f"{STD} --h-From '\"Fred Example\" <fred@example.com>'",
        "man CONFIGURATION's h_From example: replaces the From: header only"),
    Row("add-header-ah", f"{STD} -ah 'X-Test-Header: foo'", "-ah adds at the end of the headers"),
    Row("add-header-two-in-one", f"{STD} --add-header 'Foo: bar\\nBaz: foo'",
        "man --add-header: one option, two headers separated by a literal \\n"),
    Row("add-header-token", f"{STD} -ah 'X-Envelope-From: %FROM_ADDRESS%'",
        "a token in an added header"),
    Row("add-header-same-name", f"{STD} --add-header 'Subject: a second subject'",
        "--add-header always adds: a second Subject: after X-Mailer"),
    Row("header-lowercase-name", f"{STD} --header 'subject: lower-case name'",
        "swaks matches header names case-sensitively: a second, lower-case subject: is added"),
    Row("header-twice", f"{STD} --header 'X-Test: a' --header 'X-Test: b'",
        "a --header for a name the template lacks is added, each time"),
    Row("to-repeated", f"-t {RCPT} -t carol@dest.example -f {SENDER} -s {{server}}",
        "swaks keeps only the last -t (docs/client.md: smtpmock sends to both)",
        differs=("sessions", "messages"), send_rcpts=(RCPT, "carol@dest.example")),
    # --- body and DATA -------------------------------------------------------------------------
    Row("body-text", f"{STD} --body 'Hello World'", "--body TEXT"),
    Row("body-at-file", f"{STD} --body @body.txt", "--body @FILE"),
    Row("body-stdin", f"{STD} --body -", "--body - reads stdin", stdin=STDIN_BODY),
    Row("body-bare-filename", f"--to {RCPT} -s {{server}} --body gtube.txt",
        "man QUICK START (GTUBE): a bare file name that exists is read (deprecated form)"),
    Row("data-at-file", f"{STD} --data @message.eml",
        "--data @FILE: the whole DATA, tokens expanded, a leading dot stuffed"),
    Row("data-stdin", f"{STD} -d -", "-d - reads the DATA from stdin", stdin=STDIN_DATA),
    Row("data-inline-newlines",
        f"{STD} --data 'Subject: inline\\nX-Test: 1\\n\\nline one\\n.leading dot\\nlast'",
        "--data TEXT with literal \\n for line breaks (man --data)"),
    Row("tokens-in-body",
        f"{STD} --header 'X-Rcpt: %TO_ADDRESS%' "
        "--body 'to %TO_ADDRESS% from %FROM_ADDRESS% at %DATE%%NEWLINE%id <%MESSAGEID%>'",
        "%TO_ADDRESS% %FROM_ADDRESS% %DATE% %MESSAGEID% %NEWLINE% in a header and the body"),
    Row("tokens-in-data",
        f"{STD} --data 'From: %FROM_ADDRESS%%NEWLINE%To: %TO_ADDRESS%%NEWLINE%Date: %DATE%"
        "%NEWLINE%Message-Id: <%MESSAGEID%>%NEWLINE%Subject: tokens%NEWLINE%%NEWLINE%body'",
        "a DATA built from tokens only"),
    Row("body-backslash-n", f"{STD} --body 'line one\\nline two'",
        "a literal \\n in --body is a line break, as in --data"),
    Row("body-leading-dots", f"{STD} --body '.one dot%NEWLINE%..two dots%NEWLINE%.'",
        "lines starting with a dot are stuffed, and stored as typed"),
    Row("body-at-at", f"{STD} --body @@not-a-file", "@@text is the text @text (man --data)"),
    Row("body-8bit", f"{STD} --h-Subject 'Grüße' --body 'Grüße aus Köln'",
        "8-bit UTF-8 in a header and the body, sent as is; send declares it with BODY=8BITMIME "
        "on MAIL (RFC 6152 3), swaks does not (docs/client.md)",
        differs=("sessions", "messages"), send_rcpts=(RCPT,)),
    Row("body-and-attach-both-stdin", f"{STD} --body - --attach -",
        "man --attach: - may be given for --body and --attach, the same stdin each time",
        stdin=STDIN_BODY),
    Row("data-mbox-from-line", f"{STD} --data 'From alice@client.example Tue Dec  1 12:00:00 2026"
        "\\nSubject: mbox\\n\\nbody'", "a leading mbox From_ line is stripped"),
    Row("data-new-headers-token",
        f"{STD} -ah 'X-Added: 1' --data 'Subject: placed%NEWLINE%%NEW_HEADERS%X-Last: 1"
        "%NEWLINE%%NEWLINE%body'", "%NEW_HEADERS% places the added headers"),
    Row("data-with-body-token", f"{STD} --body 'the body' --data 'Subject: t%NEWLINE%%NEWLINE%"
        "[%BODY%]'", "%BODY% in a --data template"),
    # --- attachments ---------------------------------------------------------------------------
    Row("attach-stdin-eicar",
        f"-t {RCPT} --attach - --server {{server}} --suppress-data",
        "man QUICK START (EICAR): --attach - reads stdin; -f left to its default",
        stdin=EICAR_STAND_IN),
    Row("attach-at-file", f"{STD} --attach @notes.txt",
        "--attach @FILE: application/octet-stream (swaks 20201014 names the part \"@notes.txt\")"),
    Row("attach-bare-filename", f"{STD} --attach notes.txt",
        "tutorial form: a bare file name, named after the file"),
    Row("attach-type-png", f"{STD} --attach-type image/png --attach logo.png",
        "--attach-type applies to the --attach after it; a binary file"),
    Row("attach-name", f"{STD} --attach-name report.txt --attach-type text/plain --attach notes.txt",
        "--attach-name renames the next attachment"),
    Row("body-and-attach", f"{STD} --body 'see the attachment' --attach notes.txt",
        "--body becomes the first (text/plain) part of multipart/mixed"),
    Row("attach-body-alternative",
        f"{STD} --attach-type text/plain --attach-body 'plain text body' "
        "--attach-type text/html --attach-body '<p>html body</p>'",
        "man --attach-body: two bodies stack as multipart/alternative"),
    Row("attach-two-types", f"{STD} --attach-type text/plain --attach @notes.txt "
        "--attach-type image/png --attach @logo.png", "two attachments, each with its type"),
    Row("attach-name-without-name", f"{STD} --attach-name --attach notes.txt",
        "--attach-name without a name: no file name for the next part"),
    # --- stop points ---------------------------------------------------------------------------
    Row("quit-after-rcpt-hide-all", f"--to {RCPT} --server {{server}} --quit-after RCPT --hide-all",
        "man QUICK START: verify recipients without sending"),
    Row("q-connect", f"{STD} -q CONNECT", "quit after the banner"),
    Row("q-banner", f"{STD} -q BANNER", "BANNER is CONNECT"),
    Row("q-first-helo-tls", f"{STD} -tls -q FIRST-HELO", "quit after the EHLO before STARTTLS"),
    Row("q-tls", f"{STD} -tls -q TLS", "quit right after the TLS handshake"),
    Row("q-helo", f"{STD} -q HELO", "quit after EHLO"),
    Row("q-auth", f"{STD} -a -au {USER} -ap {PASSWORD} -q AUTH", "quit after AUTH",
        scenario=AUTH_USERS),
    Row("q-mail", f"{STD} --quit MAIL", "quit after MAIL FROM"),
    Row("q-aliases", f"{STD} -tls -q STARTTLS", "STARTTLS is TLS as a stop point"),
    Row("q-to-alias", f"{STD} -q TO", "TO is RCPT"),
    Row("q-from-alias", f"{STD} -q FROM", "FROM is MAIL"),
    Row("q-first-ehlo-alias", f"{STD} -tls -q FIRST-EHLO", "FIRST-EHLO is FIRST-HELO"),
    Row("q-auth-without-auth", f"{STD} -q AUTH",
        "man: AUTH quits where authentication would have been, even without --auth"),
    Row("q-tls-without-tls", f"{STD} -q TLS", "man: TLS quits where TLS would have been"),
    Row("q-tls-on-connect", f"-t {RCPT} -f {SENDER} -s {{smtps}} -tlsc -q TLS",
        "TLS as the stop point with -tlsc", serve=SMTPS),
    Row("q-first-helo-without-tls", f"{STD} -q FIRST-HELO", "without STARTTLS, as HELO"),
    Row("q-data-invalid", f"{STD} -q DATA",
        "DATA is a stop point of --drop-after only: swaks refuses the option (exit 1)", exit=1),
    Row("drop-after-connect", f"{STD} -da CONNECT", "drop after the banner, no QUIT"),
    Row("drop-after-first-helo-tls", f"{STD} -tls --drop-after FIRST-HELO",
        "drop after the EHLO before STARTTLS"),
    Row("drop-after-tls", f"{STD} -tls --drop-after TLS", "drop right after the TLS handshake"),
    Row("drop-after-helo", f"{STD} --drop-after HELO", "drop after EHLO"),
    Row("drop-after-auth", f"{STD} -a -au {USER} -ap {PASSWORD} --drop-after AUTH",
        "drop after AUTH", scenario=AUTH_USERS),
    Row("drop-after-mail", f"{STD} --drop-after MAIL", "drop after MAIL FROM"),
    Row("drop-after-rcpt", f"{STD} --drop-after RCPT", "drop (no QUIT) after RCPT"),
    Row("drop-after-data", f"{STD} -da DATA", "drop after the 354"),
    Row("drop-after-dot", f"{STD} --drop-after DOT", "drop after the 250 to the message: stored"),
    Row("drop-after-send-rcpt", f"{STD} -das RCPT", "drop right after sending RCPT, unanswered"),
    Row("drop-after-send-dot", f"{STD} --drop-after-send DOT",
        "drop right after sending the final dot: the server still stores the message"),
    # --- TLS -----------------------------------------------------------------------------------
    Row("tls", f"{STD} -tls", "STARTTLS; swaks does not verify the self-signed certificate"),
    Row("tls-optional", f"{STD} -tlso", "-tlso with STARTTLS offered: TLS is used"),
    Row("tls-optional-not-offered", f"{STD} -tlso", "-tlso without STARTTLS: carries on in clear",
        scenario=PLAIN_ONLY),
    Row("tls-not-offered", f"{STD} -tls", "-tls without STARTTLS: exit 29", scenario=PLAIN_ONLY, exit=29),
    Row("tls-on-connect", f"-t {RCPT} -f {SENDER} -s {{smtps}} -tlsc", "implicit TLS (-tlsc)",
        serve=SMTPS),
    Row("tls-on-connect-port", f"-t {RCPT} -f {SENDER} -s 127.0.0.1 -p {{smtps_port}} "
        "--tls-on-connect", "--tls-on-connect with -p", serve=SMTPS),
    Row("tls-protocol", f"{STD} -tls --tls-protocol tlsv1_2", "-tlsp: TLS 1.2 only"),
    Row("tls-sni", f"{STD} -tls --tls-sni mx.dest.example", "--tls-sni NAME"),
    Row("tls-cert-key", f"{STD} -tls --tls-cert client.pem --tls-key client.key",
        "a client certificate offered (the server does not ask for one)"),
    Row("tls-ca-path", f"{STD} -tls --tls-ca-path /etc/ssl/certs",
        "--tls-ca-path without --tls-verify: nothing is verified"),
    Row("tls-verify-ca-path", f"{STD} -tls --tls-verify --tls-ca-path server.pem",
        "the server's own certificate (serve --tls-cert) verified against it as the CA",
        serve=("--tls-cert", "{work}/server.pem", "--tls-key", "{work}/server.key")),
    Row("tls-verify-self-signed", f"{STD} -tls --tls-verify",
        "smtpmock's generated self-signed certificate does not verify: exit 29", exit=29),
    Row("tls-optional-strict", f"{STD} -tlsos", "-tlsos with STARTTLS offered"),
    Row("tls-handshake-fails", f"{STD} -tls", "the server aborts the handshake: exit 29",
        scenario=TLS_FAILS, exit=29),
    Row("tls-optional-handshake-fails", f"{STD} -tlso",
        "-tlso and a failed handshake (man: \"odd things may happen\"): swaks writes MAIL on the "
        "dead connection (6), send stops with 29 (docs/client.md)", scenario=TLS_FAILS, exit=6,
        differs=("exit", "sessions"), send_exit=29, send_rcpts=()),
    Row("tls-verify-expired", f"{STD} -tls --tls-verify", "an expired certificate: exit 29",
        scenario=TLS_EXPIRED, exit=29),
    Row("tls-starttls-injection", f"{STD} -tls",
        "a reply injected before the handshake (bundled starttls-injection): swaks takes it for "
        "its EHLO reply inside TLS and goes on (25); send aborts with 29 (docs/client.md)",
        bundled="starttls-injection", exit=25, differs=("exit", "sessions", "messages"),
        send_exit=29, send_rcpts=()),
    # --- AUTH ----------------------------------------------------------------------------------
    Row("auth-plain", f"{STD} -a PLAIN -au {USER} -ap {PASSWORD}", "AUTH PLAIN",
        scenario=AUTH_USERS),
    Row("auth-login", f"{STD} -a LOGIN -au {USER} -ap {PASSWORD}", "AUTH LOGIN",
        scenario=AUTH_USERS),
    Row("auth-cram-md5-quick-start",
        f"--to {RCPT} --from {SENDER} -s {{server}} --auth CRAM-MD5 --auth-user {USER} "
        f"--auth-password {PASSWORD} --header-X-Test 'test email'",
        "man QUICK START (password given instead of prompted)", scenario=AUTH_USERS),
    Row("auth-any", f"{STD} -a -au {USER} -ap {PASSWORD}", "-a without a type: swaks' choice",
        scenario=AUTH_USERS),
    Row("auth-user-implies-auth", f"{STD} -au {USER} -ap {PASSWORD}", "-au implies -a",
        scenario=AUTH_USERS),
    Row("auth-hide-password", f"{STD} -a LOGIN -au {USER} -ap {PASSWORD} -ahp",
        "-ahp changes only the printed transcript", scenario=AUTH_USERS),
    Row("auth-type-list", f"{STD} -a CRAM-MD5,PLAIN -au {USER} -ap {PASSWORD}",
        "man -a: a comma list, tried in order", scenario=AUTH_USERS),
    Row("auth-optional-not-offered", f"{STD} -ao -au {USER} -ap {PASSWORD}",
        "-ao: no AUTH offered, carry on without", scenario=PLAIN_ONLY),
    Row("auth-plaintext", f"{STD} -a LOGIN -au {USER} -ap {PASSWORD} -apt",
        "-apt only changes how AUTH is printed", scenario=AUTH_USERS),
    Row("auth-user-empty", f"{STD} -a PLAIN -au '<>' -ap {PASSWORD}",
        "man --auth-user: \"<>\" is an empty user name (any credentials accepted here)"),
    Row("auth-refused", f"{STD} -a PLAIN -au {USER} -ap wrong", "535: exit 28",
        scenario=AUTH_USERS, exit=28),
    Row("auth-not-offered", f"{STD} -a -au {USER} -ap {PASSWORD}", "no AUTH advertised: exit 28",
        scenario=PLAIN_ONLY, exit=28),
    Row("auth-over-tls", f"{STD} -tls -a PLAIN -au {USER} -ap {PASSWORD}", "STARTTLS, then AUTH",
        scenario=AUTH_USERS),
    Row("docs-client-md-example",
        f"--server {{server}} --from a@example.test --to b@example.test --auth LOGIN "
        f"--auth-user {USER} --auth-password {PASSWORD} --tls --pipeline "
        "--header 'Subject: hello' --body 'Hello World'",
        "the first example of docs/client.md", scenario=AUTH_USERS),
    # --- protocol, pipelining, output options ----------------------------------------------------
    Row("pipeline", f"-t {RCPT},carol@dest.example -f {SENDER} -s {{server}} --pipeline",
        "PIPELINING: MAIL, RCPTs and DATA in one write"),
    Row("protocol-smtp", f"{STD} --protocol SMTP", "HELO instead of EHLO"),
    Row("protocol-esmtpsa", f"{STD} --protocol ESMTPSA -au {USER} -ap {PASSWORD}",
        "ESMTPSA = EHLO, -tls, -a", scenario=AUTH_USERS),
    Row("protocol-esmtps", f"{STD} --protocol ESMTPS", "ESMTPS = EHLO and -tls"),
    Row("protocol-ssmtp", f"-t {RCPT} -f {SENDER} -s {{smtps}} --protocol SSMTP",
        "SSMTP = EHLO and -tlsc (the port given in -s wins over 465)", serve=SMTPS),
    Row("protocol-lmtp", f"{STD} --protocol LMTP",
        "LHLO: smtpmock (an SMTP server) refuses it, swaks exits 22", exit=22),
    Row("suppress-data", f"{STD} -n", "-n only summarises DATA in the output"),
    Row("silent", f"{STD} -S", "-S: no output unless an error"),
    Row("silent-2", f"{STD} --silent 2", "--silent 2: errors only"),
    Row("silent-3", f"{STD} -S 3", "-S 3: no output at all"),
    Row("hide-all", f"{STD} -ha", "-ha"),
    Row("ipv4", f"{STD} -4", "-4"),
    Row("ipv6-with-ipv4-server", f"{STD} -6",
        "-6 with an IPv4 address: swaks refuses before connecting, exit 1", exit=1),
    Row("local-interface", f"{STD} -li 127.0.0.1", "-li binds the local side to 127.0.0.1"),
    Row("output-file", f"{STD} --output-file transcript.txt", "the transcript goes to a file"),
    Row("show-time-lapse", f"{STD} -stl", "-stl prints round-trip times"),
    # --- failures: the exit codes must match -----------------------------------------------------
    Row("rcpt-550", f"-t nobody@blocked.example -f {SENDER} -s {{server}}",
        "the only recipient refused: exit 24", scenario=REFUSALS, exit=24),
    Row("rcpt-one-of-two-550", f"-t {RCPT},nobody@blocked.example -f {SENDER} -s {{server}}",
        "one recipient refused, the other accepted: the message goes to one", scenario=REFUSALS),
    Row("mail-550", f"-t {RCPT} -f bulk@spammer.example -s {{server}}", "MAIL refused: exit 23",
        scenario=REFUSALS, exit=23),
    Row("data-554", f"-t {RCPT} -f x@nodata.example -s {{server}}", "DATA refused: exit 25",
        scenario=REFUSALS, exit=25),
    Row("message-552", f"{STD} --h-Subject 'please reject me'",
        "the message refused after the dot: exit 26", scenario=REFUSALS, exit=26),
    Row("rcpt-550-pipelined", f"-t nobody@blocked.example -f {SENDER} -s {{server}} --pipeline",
        "the only recipient refused inside a pipelined group: exit 24", scenario=REFUSALS,
        exit=24),
    Row("q-rcpt-550", f"-t nobody@blocked.example -f {SENDER} -s {{server}} -q RCPT",
        "verify a bad recipient (man QUICK START loop): exit 24", scenario=REFUSALS, exit=24),
    Row("server-hangs-up-after-mail", f"-t {RCPT} -f x@hangup.example -s {{server}}",
        "250 to MAIL, then the server closes: exit 6 (man EXIT CODES)", scenario=DROPS, exit=6),
    Row("rcpt-421", f"-t x@shutdown.example -f {SENDER} -s {{server}}",
        "421 to RCPT (the server closes)", scenario=DROPS, exit=24),
    Row("rcpt-451", f"-t x@later.example -f {SENDER} -s {{server}}",
        "451 to the only RCPT: exit 24", scenario=DROPS, exit=24),
    Row("ehlo-refused-helo-fallback", STD, "502 to EHLO: swaks tries HELO and goes on",
        scenario=NO_EHLO),
    Row("ehlo-and-helo-refused", f"{STD} -h stranger.example", "EHLO and HELO refused: exit 22",
        scenario=NO_EHLO, exit=22),
    Row("banner-421", STD, "a 421 banner: exit 21", scenario=BUSY, exit=21),
    Row("unknown-option", f"{STD} --no-such-option",
        "swaks: \"Unknown option\", exit 1; send: exit 2 with a did-you-mean (SPEC, "
        "docs/client.md)", exit=1, differs=("exit",), send_exit=2),
    Row("connection-refused", f"-t {RCPT} -f {SENDER} -s {{closed}}", "nothing listens: exit 2", exit=2),
]

assert len({r.id for r in TABLE}) == len(TABLE), "row ids must be unique"


# --- normalisation --------------------------------------------------------------------------------

# %DATE% (swaks' Date: and default Subject:, and the token wherever it is used) is the time of
# the run; the two runs are seconds apart, so every RFC 5322 date is replaced by one marker.
DATE_RE = re.compile(rb"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} "
                     rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                     rb"\d{2}:\d{2}(?::\d{2})? [+-]\d{4}")
# A MIME boundary embeds swaks' process id (----=_MIME_BOUNDARY_000_<pid>); only its value is
# replaced, the parameter and its place stay compared.
BOUNDARY_RE = re.compile(rb'boundary=(?:"[^"]*"|[^;\s]+)', re.I)


def normalise(data: bytes, message_id: bytes | None) -> bytes:
    data = DATE_RE.sub(b"<DATE>", data)
    # %MESSAGEID% embeds the time and the process id (swaks: YYYYmmddHHMMSS.PID@host, the pid
    # zero-padded to six digits); the message's own id is replaced wherever it appears (the
    # Message-Id: header, the token in a body) by its shape, every digit a 9, so the format
    # and the host name are still compared.
    if message_id:
        data = data.replace(message_id, b"MESSAGEID:" + re.sub(rb"\d", b"9", message_id))
    return data


def message_id_of(headers: list[tuple[str, bytes]]) -> bytes | None:
    for name, value in headers:
        if name.lower() == "message-id":
            return value.strip().strip(b"<>") or None
    return None


def raw_headers(raw: bytes) -> list[tuple[str, bytes]]:
    """The header section as (name, unfolded value) in order, nothing merged or reordered."""
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw
    fields: list[list] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1] += line  # unfolding removes only the CRLF (RFC 5322 2.2.3)
        elif b":" in line:
            name, _, value = line.partition(b":")
            fields.append([name.decode("latin-1"), value.lstrip(b" \t")])
        else:
            fields.append(["<not a header>", line])
    return [(n, v) for n, v in fields]


def normalise_headers(raw: bytes) -> list[tuple[str, str]]:
    """Header names, order and values, with what legitimately differs replaced:

    - Date: and any date in a value (Subject: test %DATE%): the time of each run (DATE_RE);
    - Message-Id: time.pid@host, compared by its shape (see `normalise`), wherever the token
      put it;
    - X-Mailer: the program's name and version ("swaks v20201014.0 jetmore.org/..." against
      smtpmock's); compared by presence and place only;
    - the MIME boundary value (swaks puts its pid in it).
    """
    headers = raw_headers(raw)
    mid = message_id_of(headers)
    out = []
    for name, value in headers:
        low = name.lower()
        if low == "x-mailer":
            value = b"<X-MAILER>"
        elif low == "content-type":
            value = BOUNDARY_RE.sub(b"boundary=<BOUNDARY>", value)
        value = normalise(value, mid)
        out.append((name, value.decode("utf-8", "replace")))
    return out


def mime_tree(raw: bytes) -> dict:
    """The MIME structure: content type and its parameters (without the boundary), disposition,
    file name, decoded body (normalised like the headers), children, and the names and order of
    each part's own header lines (the root's are the message headers, compared above).

    Content-Type, Content-Disposition and Content-Transfer-Encoding are compared as parsed, not
    as text: quoting (filename="a" or filename=a) and folding are the MIME writer's choice
    (swaks' own code against GMime's) and mean the same (RFC 2045 5.1); the transfer encoding
    is compared by what it decodes to (swaks writes "BASE64"). Other part headers
    (Content-Description, Content-ID) are compared as text, unfolded."""
    mid = message_id_of(raw_headers(raw))
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    parsed = ("content-type", "content-disposition", "content-transfer-encoding")

    def part_headers(part) -> list[tuple[str, str | None]]:
        return [(name, None if name.lower() in parsed
                 else re.sub(r"\r?\n", "", str(value)))
                for name, value in part.items()]

    def node(part, root: bool = False) -> dict:
        params = [(k.lower(), v) for k, v in (part.get_params() or [])[1:] if k.lower() != "boundary"]
        n = {
            "type": part.get_content_type(),
            "params": params,
            "disposition": part.get_content_disposition(),
            "filename": part.get_filename(),
        }
        if not root:
            n["headers"] = part_headers(part)
        if part.is_multipart():
            n["parts"] = [node(p) for p in part.get_payload()]
        else:
            body = part.get_payload(decode=True)
            n["body"] = normalise(body if body is not None else b"", mid)
        return n

    return node(msg, root=True)


# --- the default EHLO name (the one documented difference of every row) -------------------------

HELO_OPTIONS = ("-h", "--h", "-helo", "--helo", "-ehlo", "--ehlo", "-lhlo", "--lhlo")
GREETINGS = ("EHLO ", "HELO ", "LHLO ")


def swaks_default_helo() -> str:
    """swaks 20201014's get_hostname(): (gethostbyname(hostname()))[0] || hostname()."""
    host = socket.gethostname()
    try:
        return socket.gethostbyname_ex(host)[0] or host
    except OSError:
        return host


def names_helo(args: list[str]) -> bool:
    return any(a in HELO_OPTIONS or a.startswith(tuple(o + "=" for o in HELO_OPTIONS))
               for a in args)


def default_helo_divergence(ours: "Outcome", args: list[str]) -> list[str]:
    """Replaces send's documented default EHLO name by swaks' (see the module docstring), in
    place; returns a difference when send greeted with another name."""
    if names_helo(args):
        return []
    theirs_name, ours_name = swaks_default_helo(), send_default_helo("127.0.0.1")
    if theirs_name == ours_name:
        return []
    wrong = []
    for session in ours.sessions:
        for i, (tls, line) in enumerate(session):
            if line.upper().startswith(GREETINGS):
                if line[5:] == ours_name:
                    session[i] = (tls, line[:5] + theirs_name)
                else:
                    wrong.append(line)
    for m in ours.messages:
        if m["envelope"].get("Helo") == ours_name:
            m["envelope"]["Helo"] = theirs_name
    if wrong:
        return [f"smtpmock send's default EHLO name: {wrong}, documented {ours_name!r}"]
    return []


# --- running both clients -------------------------------------------------------------------------


def client_env(home: Path) -> dict[str, str]:
    """The same environment for both: no SWAKS_OPT_*/SMTPMOCK_* settings, a HOME without
    .swaksrc, a fixed LOGNAME (both derive the default sender from it)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SWAKS_", "SMTPMOCK_"))}
    env.update(HOME=str(home), LOGNAME="tester", USER="tester", LC_ALL="C.UTF-8", TZ="UTC")
    return env


def make_certificates(work: Path) -> None:
    """server.pem/.key (CN=localhost, SAN IP:127.0.0.1) and client.pem/.key, in `work`."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed")
    for name, subject, ext in (
            ("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
            ("client", "/CN=swaks-client.example", "subjectAltName=DNS:swaks-client.example")):
        p = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(work / f"{name}.key"), "-out", str(work / f"{name}.pem"),
             "-days", "2", "-subj", subject, "-addext", ext],
            capture_output=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr.decode(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api_json(server, path: str):
    status, body = http_call(server, "GET", path, timeout=10)
    assert status == 200, f"GET {path}: {status} {body[:300]!r}"
    return json.loads(body)


def session_ids(server) -> dict[str, bool]:
    """Every session the server knows: ID -> still live."""
    data = api_json(server, "/api/v1/sessions?start=0&limit=100000")
    return {s["ID"]: bool(s.get("Live")) for s in data["sessions"]}


def message_ids(server) -> list[str]:
    data = api_json(server, "/api/v1/messages?start=0&limit=100000")
    return [m["ID"] for m in data["messages"]]


def client_lines(transcript: list[dict]) -> list[tuple[bool, str]]:
    """What the client sent, as the server saw it: (inside TLS, line).

    AUTH: the server's transcript masks credentials (PLAIN's initial response, LOGIN's user and
    password lines, CRAM-MD5's response become ********), so they compare equal. The CRAM-MD5
    response is also the only one allowed to differ in substance (an HMAC of the server's
    per-session random challenge), so it is masked here too should the server ever show it.
    """
    out = []
    cram = False
    for entry in transcript:
        if entry.get("Direction") != "in":
            continue
        text = entry.get("Text", "")
        if cram and not text.startswith("*"):
            text = "<CRAM-MD5 response>"
        cram = text.upper().startswith("AUTH CRAM-MD5")
        out.append((bool(entry.get("TLS")), text))
    return out


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    sessions: list[list[tuple[bool, str]]]
    messages: list[dict]


def observe(server, argv: list[str], row: Row, cwd: Path, env: dict) -> Outcome:
    has_http = server is not None and server.http_port is not None
    before_sessions = set(session_ids(server)) if has_http else set()
    before_messages = set(message_ids(server)) if has_http else set()
    r = subprocess.run(argv, cwd=cwd, env=env, input=row.stdin, capture_output=True,
                       timeout=RUN_TIMEOUT)
    sessions: list[list[tuple[bool, str]]] = []
    messages: list[dict] = []
    if has_http:
        # The client has exited; wait (bounded) until the server has ended its sessions.
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            now = session_ids(server)
            new = [i for i in now if i not in before_sessions]
            if not any(now[i] for i in new) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for sid in reversed(new):  # the list is newest first
            t = api_json(server, f"/api/v1/session/{sid}/transcript")
            sessions.append(client_lines(t["Transcript"]))
        for mid in reversed([m for m in message_ids(server) if m not in before_messages]):
            meta = api_json(server, f"/api/v1/message/{mid}")
            status, raw = http_call(server, "GET", f"/api/v1/message/{mid}/raw", timeout=10)
            assert status == 200, f"raw of {mid}: {status}"
            env_ = meta.get("Envelope") or {}
            messages.append({
                # TLSCipher is left out: the cipher suite is the two TLS libraries' choice.
                "envelope": {k: env_.get(k) for k in
                             ("Helo", "ESMTP", "MailFrom", "MailParams", "Recipients",
                              "AuthUser", "TLSVersion")},
                "headers": normalise_headers(raw),
                "mime": mime_tree(raw),
                "attachments": [(a.get("FileName"), a.get("ContentType"), a.get("Size"))
                                for a in meta.get("Attachments") or []],
                "inline": [(a.get("FileName"), a.get("ContentType"), a.get("Size"))
                           for a in meta.get("Inline") or []],
            })
    return Outcome(r.returncode, r.stdout.decode("utf-8", "replace"),
                   r.stderr.decode("utf-8", "replace"), sessions, messages)


def differences(theirs: Outcome, ours: Outcome) -> list[str]:
    diffs = []
    if theirs.exit_code != ours.exit_code:
        diffs.append(f"exit code: swaks {theirs.exit_code}, smtpmock send {ours.exit_code}")
    if len(theirs.sessions) != len(ours.sessions):
        diffs.append(f"sessions: swaks {len(theirs.sessions)}, smtpmock send {len(ours.sessions)}")
    for i, (a, b) in enumerate(zip(theirs.sessions, ours.sessions)):
        if a != b:
            diffs.append(f"session {i} client lines:\n  swaks:    {a}\n  smtpmock: {b}")
    if len(theirs.messages) != len(ours.messages):
        diffs.append(f"messages: swaks {len(theirs.messages)}, smtpmock send {len(ours.messages)}")
    for i, (a, b) in enumerate(zip(theirs.messages, ours.messages)):
        for key in ("envelope", "headers", "mime", "attachments", "inline"):
            if a[key] != b[key]:
                diffs.append(f"message {i} {key}:\n  swaks:    {a[key]!r}\n"
                             f"  smtpmock: {b[key]!r}")
    return diffs


def tail(text: str, n: int = 2500) -> str:
    return text if len(text) <= n else "..." + text[-n:]


@pytest.mark.parametrize("row", TABLE, ids=[r.id for r in TABLE])
def test_swaks_side_by_side(row: Row, smtpmock_factory, tmp_path: Path):
    assert Path(SWAKS).is_file(), "swaks is not installed (expected /usr/bin/swaks)"
    work = tmp_path / "work"
    shutil.copytree(FIXTURES, work)
    home = tmp_path / "home"
    home.mkdir()
    env = client_env(home)

    if ".pem" in row.argv or any(".pem" in a for a in row.serve):
        make_certificates(work)
    serve = [a.replace("{work}", str(work)) for a in row.serve]
    server = smtpmock_factory(*serve, scenario=row.bundled, scenario_yaml=row.scenario)
    subst = {"work": str(work), "server": server.address, "port": str(server.port), "closed": f"127.0.0.1:{free_port()}"}
    if server.smtps_port is not None:
        subst["smtps"] = f"127.0.0.1:{server.smtps_port}"
        subst["smtps_port"] = str(server.smtps_port)
    args = row.words(subst)
    assert not any("{" in a and "}" in a and a.strip("{}") in ("smtps", "smtps_port")
                   for a in args), "this row needs serve=SMTPS"

    theirs = observe(server, [SWAKS, *args], row, work, env)
    ours = observe(server, [str(BINARY), "send", *args], row, work, env)

    if theirs.exit_code != row.exit:
        pytest.fail(f"the row is wrong: swaks exits {theirs.exit_code}, the table says {row.exit}\n"
                    f"$ swaks {shlex.join(args)}\n{tail(theirs.stdout)}\n{tail(theirs.stderr)}",
                    pytrace=False)
    diffs = default_helo_divergence(ours, args) + differences(theirs, ours)
    if row.differs:
        aspect = {"exit": ("exit code",), "sessions": ("sessions", "session "),
                  "messages": ("messages", "message ")}
        allowed = tuple(p for a in row.differs for p in aspect[a])
        documented = [d for d in diffs if d.startswith(allowed)]
        if not documented:
            pytest.fail(f"{row.id}: the documented difference ({', '.join(row.differs)}) is gone: "
                        "update the row and docs/client.md", pytrace=False)
        diffs = [d for d in diffs if not d.startswith(allowed)]
        if row.send_exit is not None and ours.exit_code != row.send_exit:
            diffs.append(f"exit code: smtpmock send {ours.exit_code}, documented {row.send_exit}")
        if row.send_rcpts is not None:
            rcpts = tuple(line.split(":", 1)[1].strip().strip("<>") for session in ours.sessions
                          for _, line in session if line.upper().startswith("RCPT TO:"))
            if rcpts != row.send_rcpts:
                diffs.append(f"smtpmock send's RCPTs: {rcpts}, documented {row.send_rcpts}")
    if diffs:
        pytest.fail(
            f"{row.id}: {row.notes}\n$ swaks {shlex.join(args)}\n\n" + "\n".join(diffs)
            + f"\n\n--- swaks (exit {theirs.exit_code}) stdout/stderr:\n{tail(theirs.stdout)}"
            f"\n{tail(theirs.stderr)}\n--- smtpmock send (exit {ours.exit_code}) stdout/stderr:\n"
            f"{tail(ours.stdout)}\n{tail(ours.stderr)}", pytrace=False)
