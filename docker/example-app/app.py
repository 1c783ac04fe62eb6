"""Example application: sends one sign-up mail through the SMTP server in SMTP_HOST:SMTP_PORT.

Configured like a real app: host, port, credentials and STARTTLS from the environment. smtpmock's
certificate is self-signed, so this example does not verify it (a real app under test would be
given smtpmock's certificate, or --tls-cert/--tls-key, instead).
"""

import os
import smtplib
import ssl
import sys
import time
from email.message import EmailMessage

host = os.environ.get("SMTP_HOST", "smtpmock")
port = int(os.environ.get("SMTP_PORT", "1025"))
user = os.environ.get("SMTP_USER", "app")
password = os.environ.get("SMTP_PASSWORD", "secret")
to = os.environ.get("MAIL_TO", "alice@example.test")

msg = EmailMessage()
msg["From"] = "Example App <noreply@app.example.test>"
msg["To"] = to
msg["Subject"] = "Welcome to Example App"
msg.set_content("Hello,\n\nplease confirm your address: https://app.example.test/confirm/42\n")

tls = ssl.create_default_context()
tls.check_hostname = False
tls.verify_mode = ssl.CERT_NONE

deadline = time.monotonic() + 60  # the server may still be starting: retry, bounded
while True:
    try:
        with smtplib.SMTP(host, port, timeout=10) as smtp:
            smtp.starttls(context=tls)
            smtp.login(user, password)
            smtp.send_message(msg)
        break
    except (OSError, smtplib.SMTPException) as e:
        if time.monotonic() > deadline:
            sys.exit(f"app: could not send through {host}:{port}: {e}")
        time.sleep(1)
print(f"app: sent '{msg['Subject']}' to {to} through {host}:{port}", flush=True)
