"""Assertions over smtpmock's HTTP API after run.sh's three swaks messages (plain, AUTH, STARTTLS).

Usage: assert_api.py BASE_URL   (e.g. http://127.0.0.1:8025). Exit 0 when every check holds.
Shapes are Mailpit's API v1 (PascalCase) plus smtpmock's Envelope, as in SPEC.md section 4.
"""

import json
import sys
import urllib.parse
import urllib.request

base = sys.argv[1].rstrip("/")
failures: list[str] = []


def check(what: str, ok: bool) -> None:
    print(("   ok   " if ok else "   FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def get(path: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(base + path, timeout=40) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type", "")


def get_json(path: str):
    status, body, _ = get(path)
    if status != 200:
        raise SystemExit(f"   FAIL GET {path}: {status} {body[:300]!r}")
    return json.loads(body)


# The server answers the wait once all three are stored (they are, swaks has had its 250s).
status, _, _ = get("/api/v1/messages/wait?count=3&timeout=10s")
check("GET /api/v1/messages/wait?count=3: 200", status == 200)

listing = get_json("/api/v1/messages")
messages = listing.get("messages", [])
check(f"GET /api/v1/messages: 3 messages (total={listing.get('total')})",
      listing.get("total") == 3 and len(messages) == 3)
by_subject = {m.get("Subject"): m for m in messages}
check("subjects: docker plain, docker auth, docker starttls",
      set(by_subject) == {"docker plain", "docker auth", "docker starttls"})
check("newest first", messages and messages[0].get("Subject") == "docker starttls")

for name, to in (("plain", "plain@example.test"), ("auth", "auth@example.test"),
                 ("starttls", "tls@example.test")):
    summary = by_subject.get(f"docker {name}")
    if summary is None:
        continue
    message = get_json(f"/api/v1/message/{urllib.parse.quote(summary['ID'])}")
    envelope = message.get("Envelope") or {}
    recipients = [r.get("Address") for r in envelope.get("Recipients", [])]
    check(f"{name}: To is {to}", [a.get("Address") for a in message.get("To", [])] == [to])
    check(f"{name}: From is sender@example.test",
          (message.get("From") or {}).get("Address") == "sender@example.test")
    check(f"{name}: envelope MAIL FROM and RCPT TO",
          envelope.get("MailFrom") == "sender@example.test" and recipients == [to])
    check(f"{name}: client address is the host side of the port mapping",
          bool(envelope.get("ClientAddress")))
    check(f"{name}: session id", bool(message.get("SessionID")))
    status, raw, _ = get(f"/api/v1/message/{urllib.parse.quote(summary['ID'])}/raw")
    check(f"{name}: raw message carries the body",
          status == 200 and f"body of the {name} message".encode() in raw)
    if name == "auth":
        check("auth: envelope AuthUser is alice", envelope.get("AuthUser") == "alice")
    else:
        check(f"{name}: no AuthUser", not envelope.get("AuthUser"))
    if name == "starttls":
        check(f"starttls: TLSVersion {envelope.get('TLSVersion')!r}",
              str(envelope.get("TLSVersion", "")).startswith("TLS"))
    else:
        check(f"{name}: no TLS", not envelope.get("TLSVersion"))

latest = get_json("/api/v1/message/latest")
check("message/latest is the starttls message", latest.get("Subject") == "docker starttls")

found = get_json("/api/v1/search?query=" + urllib.parse.quote("subject:\"docker auth\""))
check("search subject:\"docker auth\" finds one message",
      [m.get("Subject") for m in found.get("messages", [])] == ["docker auth"])

sessions = get_json("/api/v1/sessions")
session_list = sessions if isinstance(sessions, list) else sessions.get("sessions", [])
check(f"sessions recorded ({len(session_list)})", len(session_list) >= 3)

status, body, ctype = get("/metrics")
check("GET /metrics: Prometheus text", status == 200 and b"# TYPE" in body)

sys.exit(1 if failures else 0)
