"""docs/openapi.yaml against the real binary: tests/integration/node/openapi.test.mjs validates
the document (an npm OpenAPI validator), calls every operation it lists on a server started
here with --http-auth, and checks every answer (status, Content-Type, headers, body schema)
against it with Ajv; it fails when an operation is documented but never called.

The server gets ephemeral ports (conftest); the Node run is bounded in time; only 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import HERE, SOURCE_DIR

NODE_DIR = HERE / "node"
DOCUMENT = SOURCE_DIR / "docs" / "openapi.yaml"
CREDENTIALS = "openapi:test-secret"
PACKAGES = ("nodemailer", "yaml", "ajv", "ajv-formats", "@seriousme/openapi-schema-validator")


def test_openapi_document_matches_every_endpoint(smtpmock_factory):
    if shutil.which("node") is None:
        pytest.fail("node is not installed (make test installs it)")
    for package in PACKAGES:
        if not (NODE_DIR / "node_modules" / package).is_dir():
            pytest.fail(f"{package} is not installed: run `npm ci` in {NODE_DIR}")
    assert DOCUMENT.is_file(), DOCUMENT
    server = smtpmock_factory("--http-auth", CREDENTIALS)
    env = dict(os.environ, SMTPMOCK_HTTP_URL=server.http_url, SMTPMOCK_SMTP_HOST=server.host,
               SMTPMOCK_SMTP_PORT=str(server.port), SMTPMOCK_HTTP_AUTH=CREDENTIALS,
               SMTPMOCK_OPENAPI=str(DOCUMENT))
    p = subprocess.run(["node", "--test", "--test-reporter=spec", "openapi.test.mjs"],
                       cwd=NODE_DIR, env=env, capture_output=True, timeout=180,
                       stdin=subprocess.DEVNULL)
    out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    assert p.returncode == 0, out + "\n--- server ---\n" + server.stderr_text()[-5000:]
    assert "✖" not in out, out
