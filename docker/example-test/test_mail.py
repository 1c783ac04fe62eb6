"""Example test step: asserts over smtpmock's HTTP API what the app sent.

Waits (server-side long-poll, bounded) for the sign-up mail, then checks its recipient, subject,
body, and the envelope smtpmock recorded: the AUTH user and that STARTTLS was used.
Exit 0 when every assertion holds.
"""

import json
import os
import sys
import time
import urllib.parse
import urllib.request

api = os.environ.get("SMTPMOCK_API", "http://smtpmock:8025")
to = os.environ.get("MAIL_TO", "alice@example.test")


def get(path):
    with urllib.request.urlopen(api + path, timeout=40) as r:
        return r.status, r.read()


deadline = time.monotonic() + 60
while True:  # the API may not be up yet when this container starts
    try:
        query = urllib.parse.quote(f"to:{to}")
        status, body = get(f"/api/v1/messages/wait?query={query}&count=1&timeout=30s")
        if status == 200:
            break
    except OSError as e:
        if time.monotonic() > deadline:
            sys.exit(f"test: no message for {to} at {api}: {e}")
    time.sleep(1)

_, body = get("/api/v1/message/latest")
message = json.loads(body)
env = message["Envelope"]
_, raw = get(f"/api/v1/message/{message['ID']}/raw")

failures = []
def check(what, ok):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)

check(f"recipient is {to}", [r["Address"] for r in env["Recipients"]] == [to])
check("subject is the welcome mail", message["Subject"] == "Welcome to Example App")
check("body carries the confirmation link", b"https://app.example.test/confirm/42" in raw)
check("the app authenticated as 'app'", env.get("AuthUser") == "app")
check("the app used STARTTLS", bool(env.get("TLSVersion")))
sys.exit(1 if failures else 0)
