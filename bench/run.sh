#!/usr/bin/env bash
# Throughput benchmark: smtpmock (1 and 2 I/O threads) side by side with Postfix's smtp-sink,
# both driven by Postfix's smtp-source over 127.0.0.1. Reports messages per second and the
# server's peak RSS. Usage: bench/run.sh [MESSAGES] [SESSIONS] [SIZE]
# Needs: a built smtpmock (build/server/app/smtpmock), smtp-source and smtp-sink (apt: postfix;
# the postfix daemon itself is never started). Figures depend on the machine: compare the rows
# of one run, not runs of different machines.
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${1:-20000}
SESSIONS=${2:-20}
SIZE=${3:-1000}
BIN=${SMTPMOCK_BIN:-build/server/app/smtpmock}
for tool in smtp-source smtp-sink; do
  command -v $tool >/dev/null || { echo "bench: $tool not found (apt-get install postfix)"; exit 2; }
done

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench: nothing listening on $1" >&2; return 1
}

# Runs smtp-source against 127.0.0.1:$1 and prints "seconds messages/s".
drive() {
  local start end
  start=$(date +%s.%N)
  smtp-source -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -f bench@example.test -t sink@example.test \
    "127.0.0.1:$1" >/dev/null
  end=$(date +%s.%N)
  /usr/bin/python3 -c "d=$end-$start; print(f'{d:.2f} {$MESSAGES/d:.0f}')"
}

peak_rss_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo "?"; }

printf '%-26s %10s %10s %12s\n' server seconds msgs/s peak_rss_kB
for threads in 1 2; do
  port=$(free_port)
  "$BIN" serve --smtp-listen "127.0.0.1:$port" --threads "$threads" --max-messages 1000 \
    --log-level warn 2>/dev/null &
  pid=$!
  wait_port "$port"
  read -r secs rate < <(drive "$port")
  printf '%-26s %10s %10s %12s\n' "smtpmock --threads $threads" "$secs" "$rate" "$(peak_rss_kb $pid)"
  kill -TERM $pid; wait $pid || true
done
port=$(free_port)
smtp-sink -u nobody -c "127.0.0.1:$port" 1000 >/dev/null &
pid=$!
wait_port "$port"
read -r secs rate < <(drive "$port")
printf '%-26s %10s %10s %12s\n' "smtp-sink" "$secs" "$rate" "$(peak_rss_kb $pid)"
kill -TERM $pid; wait $pid 2>/dev/null || true
