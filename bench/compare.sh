#!/usr/bin/env bash
# Side-by-side benchmark of smtpmock, Postfix's smtp-sink and aiosmtpd (when importable), one
# run, driven by Postfix's smtp-source over 127.0.0.1; prints a Markdown report and writes it
# to bench/RESULTS.md. The harness is bench/compare.py (Python standard library only).
# Usage: bench/compare.sh [--quick] [--messages N] [--reps N] [--idle N,N] [--output FILE] ...
# SMTPMOCK_BIN: the smtpmock binary (default build/server/app/smtpmock); benchmark a copy when
# the build directory may be rebuilt meanwhile. Needs smtp-source and smtp-sink (apt: postfix).
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/compare.py" "$@"
