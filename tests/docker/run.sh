#!/usr/bin/env bash
# make test-docker: builds docker/Dockerfile with podman and tests the image from the outside.
#
#   build (timed, then a timed no-change rebuild) · image size, config, labels, runtime libraries
#   run with published ports · start-to-healthy · swaks from the host: plain, AUTH, STARTTLS
#   assertions over the HTTP API · HEALTHCHECK · non-root PID 1 · SIGTERM stop time
#   a mounted /scenarios file selected by SMTPMOCK_SCENARIO · several listeners (SMTPMOCK_LISTEN)
#   · docker/compose.yaml with podman-compose
#   the README's Testcontainers for Node snippet against podman's Docker-compatible socket
#
# Needs `make docker-deps` (podman, runc, podman-compose, the local debian:bookworm-slim).
# Every port is on 127.0.0.1 (free high ports chosen at start); every wait is bounded. On exit
# it removes the containers, networks, images and the podman service it made.
# SMTPMOCK_DOCKER_KEEP=1 keeps the images, for a faster rerun (without it a rerun still finds
# ccache's cache mount in /var/tmp/buildah-cache and recompiles only what changed).
# SMTPMOCK_DOCKER_SKIP_NODE=1 skips the Testcontainers step.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
HERE=$ROOT/tests/docker

RUN=smtpmock-td-$$                                  # prefix of every container/network made here
IMAGE=localhost/smtpmock:test-docker
BUILD_IMAGE=localhost/smtpmock-build:test-docker     # the build stage, tagged so cleanup can remove it
APP_IMAGE=localhost/smtpmock-example-app:test-docker
PROJECT=smtpmocktd$$                                 # compose project name
SOCK=/tmp/podman-smtpmock.sock
TMP=$(mktemp -d /tmp/smtpmock-docker.XXXXXX)
SERVICE_PID=""
declare -a FIGURES=()

# ----------------------------------------------------------------------------------------------
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
log() { printf '\n== %s\n' "$*"; }
ok() { printf '   ok   %s\n' "$*"; }
fail() { printf '   FAIL %s\n' "$*" >&2; exit 1; }
figure() { FIGURES+=("$(printf '%-28s %s' "$1" "$2")"); printf '   %-28s %s\n' "$1" "$2"; }
# podman without systemd reports, on every run/rm of a container with a HEALTHCHECK, that it
# cannot schedule the check ("unable to get systemd connection"); harmless, so filtered out.
podman() { command podman "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# a container's log, indented, for failures
show_logs() { echo "--- podman logs $1 (last 40 lines)"; podman logs "$1" 2>&1 | tail -40 | sed 's/^/   | /'; }

cleanup() {
  local rc=$?
  set +e
  if [ -n "$SERVICE_PID" ]; then
    kill "$SERVICE_PID" 2>/dev/null; wait "$SERVICE_PID" 2>/dev/null; rm -f "$SOCK"
  fi
  rm -f "$HERE/node/.readme-snippet.test.mjs"
  if [ -f "$TMP/compose.env" ]; then
    ( set -a; . "$TMP/compose.env"; podman-compose -p "$PROJECT" -f docker/compose.yaml down -t 2 ) \
      >/dev/null 2>&1
  fi
  # containers made here: by name, by compose project, and any left from our images (Testcontainers)
  local ids
  ids=$( { podman ps -aq --filter "name=^$RUN"; podman ps -aq --filter "name=^${PROJECT}_";
           podman ps -aq --filter "ancestor=$IMAGE"; podman ps -aq --filter "ancestor=$APP_IMAGE"; } \
         2>/dev/null | sort -u)
  [ -n "$ids" ] && podman rm -f -t 0 $ids >/dev/null 2>&1
  for net in $(podman network ls -q --filter "name=^${PROJECT}" 2>/dev/null); do
    podman network rm -f "$net" >/dev/null 2>&1
  done
  if [ "${SMTPMOCK_DOCKER_KEEP:-0}" != 1 ]; then
    podman rmi -f "$IMAGE" "$BUILD_IMAGE" "$APP_IMAGE" >/dev/null 2>&1
  fi
  rm -rf "$TMP"
  if [ ${#FIGURES[@]} -gt 0 ]; then
    echo; echo "== figures"; printf '   %s\n' "${FIGURES[@]}"
  fi
  [ $rc = 0 ] && echo "== test-docker: all passed" || echo "== test-docker: FAILED (exit $rc)"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits (bounded) until `podman healthcheck run` succeeds; prints seconds since $2.
wait_healthy() {
  local name=$1 start=$2 deadline=$(( $(date +%s) + ${3:-30} ))
  until podman healthcheck run "$name" >/dev/null 2>&1; do
    if [ "$(podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then
      show_logs "$name" >&2; fail "$name exited before it was healthy"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      show_logs "$name" >&2; fail "$name not healthy within ${3:-30} s"
    fi
    sleep 0.1
  done
  since "$start"
}

for tool in podman podman-compose swaks curl python3; do
  command -v $tool >/dev/null || fail "$tool is missing (make docker-deps test-deps)"
done
podman image exists docker.io/library/debian:bookworm-slim || fail "no debian:bookworm-slim image (make docker-deps)"

# ----------------------------------------------------------------------------------------------
log "build $IMAGE (podman build --format docker)"
build() {
  local args=(--pull=never --format docker -f docker/Dockerfile
    --build-arg VERSION="$(sed -n 's/^project(smtpmock VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
    --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
    --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)")
  # The build stage first, under a name (the image build below reuses its cached layers).
  podman build "${args[@]}" --target build -t "$BUILD_IMAGE" . >"$TMP/build.log" 2>&1 \
    && podman build "${args[@]}" -t "$IMAGE" . >>"$TMP/build.log" 2>&1 \
    || { tail -60 "$TMP/build.log"; fail "podman build failed"; }
}
t=$(now); build; figure "build" "$(since "$t") s"
t=$(now); build; figure "rebuild, nothing changed" "$(since "$t") s"

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
gz=$(podman save --format docker-archive "$IMAGE" 2>/dev/null | gzip | wc -c)  # as a registry stores it
figure "image size" "$(( size / 1000000 )) MB uncompressed, $(( gz / 1000000 )) MB gzip-compressed"

podman image inspect "$IMAGE" >"$TMP/inspect.json"
python3 - "$TMP/inspect.json" <<'EOF' || fail "image configuration"
import json, sys
image = json.load(open(sys.argv[1]))[0]
config = image.get("Config", {})
problems = []
def want(what, ok):
    print(("   ok   " if ok else "   FAIL ") + what)
    if not ok: problems.append(what)
health = image.get("Healthcheck") or config.get("Healthcheck") or {}
env = dict(e.split("=", 1) for e in config.get("Env", []))
labels = config.get("Labels") or image.get("Labels") or {}
want("USER is non-root: " + str(config.get("User")), config.get("User") not in (None, "", "0", "root", "0:0"))
want("HEALTHCHECK is smtpmock healthcheck: " + str(health.get("Test")), health.get("Test") == ["CMD", "smtpmock", "healthcheck"])
want("EXPOSE 1025 8025", {"1025/tcp", "8025/tcp"} <= set(config.get("ExposedPorts", {})))
want("SMTPMOCK_SMTP_LISTEN=0.0.0.0:1025", env.get("SMTPMOCK_SMTP_LISTEN") == "0.0.0.0:1025")
want("SMTPMOCK_HTTP_LISTEN=0.0.0.0:8025", env.get("SMTPMOCK_HTTP_LISTEN") == "0.0.0.0:8025")
want("SMTPMOCK_SCENARIO_DIR starts with /scenarios", env.get("SMTPMOCK_SCENARIO_DIR", "").startswith("/scenarios:"))
want("STOPSIGNAL SIGTERM", config.get("StopSignal") in (None, "SIGTERM", "15"))
for key in ("title", "description", "version", "revision", "created"):
    want(f"label org.opencontainers.image.{key}", bool(labels.get(f"org.opencontainers.image.{key}")))
sys.exit(1 if problems else 0)
EOF
podman run --rm --entrypoint ldd "$IMAGE" /usr/local/bin/smtpmock >"$TMP/ldd.txt"
! grep -q 'not found' "$TMP/ldd.txt" || { cat "$TMP/ldd.txt"; fail "a library is missing in the image"; }
ok "ldd: every library found ($(grep -c '=>' "$TMP/ldd.txt") shared libraries)"

# ----------------------------------------------------------------------------------------------
log "run with published ports on 127.0.0.1"
SMTP=$(free_port); HTTP=$(free_port)
C1=$RUN-main
t=$(now)
podman run -d --name "$C1" -p "127.0.0.1:$SMTP:1025" -p "127.0.0.1:$HTTP:8025" "$IMAGE" >/dev/null
healthy=$(wait_healthy "$C1" "$t")
figure "start to healthy" "$healthy s (podman run to the first passing HEALTHCHECK)"
status=$(podman inspect --format '{{.State.Healthcheck.Status}}' "$C1")
[ "$status" = healthy ] || fail "health status is '$status'"
ok "HEALTHCHECK passes, status $status"
podman logs "$C1" 2>&1 | grep -q 'smtpmock ready smtp=0.0.0.0:1025' || { show_logs "$C1"; fail "no ready line for 0.0.0.0:1025"; }
ok "ready line: $(podman logs "$C1" 2>&1 | grep -o 'smtpmock ready.*' | head -1)"
for path in /readyz /livez; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$HTTP$path")
  [ "$code" = 200 ] || fail "GET $path from the host: $code"
done
ok "GET /readyz and /livez from the host: 200"
page=$(curl -s --max-time 5 "http://127.0.0.1:$HTTP/")
printf '%s' "$page" | grep -q 'src="ui/app.js"' || fail "GET / is not the web UI: $(printf '%s' "$page" | head -c 200)"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$HTTP/ui/app.js")
[ "$code" = 200 ] || fail "GET /ui/app.js from the host: $code"
# The socket stays open after the 101: curl gives up after 2 s (exit 28) with the code printed.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H 'Connection: Upgrade' \
  -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
  "http://127.0.0.1:$HTTP/api/events" || true)
[ "$code" = 101 ] || fail "GET /api/events (WebSocket) from the host: $code"
ok "the web UI from the image: /, /ui/app.js and the /api/events WebSocket"

log "swaks from the host to 127.0.0.1:$SMTP"
swaks_to() {  # NAME ARGS... : one message; transcript in $TMP/swaks-NAME.txt
  local name=$1; shift
  swaks --server 127.0.0.1 --port "$SMTP" --timeout 10 --from sender@example.test \
    --header "Subject: docker $name" --body "body of the $name message" "$@" \
    >"$TMP/swaks-$name.txt" 2>&1 || { local rc=$?; cat "$TMP/swaks-$name.txt"; fail "swaks $name (exit $rc)"; }
  # the reply to the end of data: the line after the lone "."
  ok "swaks $name: $(awk 'f {sub(/^ *<[-~] */, ""); print; exit} /^ *[-~]> \.$/ {f=1}' "$TMP/swaks-$name.txt")"
}
swaks_to plain --to plain@example.test
swaks_to auth --to auth@example.test --auth PLAIN --auth-user alice --auth-password secret
swaks_to starttls --to tls@example.test --tls
grep -q '~> ' "$TMP/swaks-starttls.txt" || fail "swaks did not speak inside TLS"

log "assertions over the HTTP API"
python3 "$HERE/assert_api.py" "http://127.0.0.1:$HTTP" || { show_logs "$C1"; fail "API assertions"; }

log "process identity"
uid=$(podman exec "$C1" awk '/^Uid:/ {print $2}' /proc/1/status)
comm=$(podman exec "$C1" cat /proc/1/comm)
[ "$uid" != 0 ] || fail "PID 1 runs as root"
[ "$comm" = smtpmock ] || fail "PID 1 is '$comm', not smtpmock"
ids=$(podman exec "$C1" id)
[[ $ids == "uid=10001(smtpmock) gid=10001(smtpmock)"* ]] || fail "unexpected identity: $ids"
ok "PID 1 is smtpmock, uid $uid (non-root); $ids"
out=$(podman exec "$C1" smtpmock healthcheck 2>&1) || fail "smtpmock healthcheck inside the container: $out"
ok "smtpmock healthcheck: exit 0 ($out)"

log "SIGTERM to PID 1"
exec 3<>"/dev/tcp/127.0.0.1/$SMTP"                   # a session is open meanwhile
read -r -t 5 banner <&3 || true
printf 'EHLO docker-test\r\n' >&3
while read -r -t 5 line <&3; do [[ $line == "250 "* ]] && break; done
t=$(now)
podman kill --signal TERM "$C1" >/dev/null
printf 'NOOP\r\n' >&3 2>/dev/null || true
reply=$(timeout 3 head -n 1 <&3 | tr -d '\r') || true
timeout 10 podman wait "$C1" >/dev/null || fail "still running 10 s after SIGTERM"
wall=$(since "$t")
exec 3<&- 3>&-
[[ $reply == "421 4.3.2 "* ]] || fail "the open session got '$reply' to NOOP after SIGTERM, not 421 4.3.2"
ok "the open session's next command got: $reply"
code=$(podman inspect --format '{{.State.ExitCode}}' "$C1")
finished=$(podman inspect --format '{{.State.FinishedAt}}' "$C1")
stop=$(python3 - "$t" "$finished" <<'EOF'
import sys, datetime, re
t0 = float(sys.argv[1])
# "2025-05-20 10:11:12.123456789 +0000 UTC" (podman) → seconds since the epoch
m = re.match(r"(\S+ \S+?)(?:\.(\d+))? ([+-]\d{4})", sys.argv[2])
base = datetime.datetime.strptime(m.group(1) + " " + m.group(3), "%Y-%m-%d %H:%M:%S %z").timestamp()
print(f"{base + float('0.' + (m.group(2) or '0')) - t0:.2f}")
EOF
)
[ "$code" = 0 ] || { show_logs "$C1"; fail "exit code $code after SIGTERM (not a clean exit)"; }
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 2.0 else 1)" "$stop" \
  || fail "stop took $stop s (limit 2 s)"
figure "stop time (SIGTERM to exit)" "$stop s, exit code $code ($wall s until podman wait returned)"
podman logs "$C1" 2>&1 | grep -q 'shutting down' || fail "no shutdown line in the log"
podman rm "$C1" >/dev/null

# ----------------------------------------------------------------------------------------------
log "a scenario file mounted at /scenarios, selected by SMTPMOCK_SCENARIO=example"
mkdir -p "$TMP/scenarios"
cp docker/scenarios/example.yaml "$TMP/scenarios/example.yaml"
chmod 0755 "$TMP/scenarios"; chmod 0644 "$TMP/scenarios/example.yaml"
SMTP=$(free_port); HTTP=$(free_port)
C2=$RUN-scenario
t=$(now)
podman run -d --name "$C2" -p "127.0.0.1:$SMTP:1025" -p "127.0.0.1:$HTTP:8025" \
  -v "$TMP/scenarios:/scenarios:ro" -e SMTPMOCK_SCENARIO=example "$IMAGE" >/dev/null
wait_healthy "$C2" "$t" >/dev/null
swaks --server 127.0.0.1 --port "$SMTP" --timeout 10 --from a@example.test --to x@blocked.example \
  >"$TMP/swaks-blocked.txt" 2>&1 && fail "the mounted scenario's rule did not refuse x@blocked.example"
grep -q '220 mx.example.test ESMTP smtpmock example scenario' "$TMP/swaks-blocked.txt" \
  || { cat "$TMP/swaks-blocked.txt"; fail "banner of the mounted scenario not seen"; }
grep -q '550 5.1.1 <x@blocked.example>' "$TMP/swaks-blocked.txt" \
  || { cat "$TMP/swaks-blocked.txt"; fail "no 550 from the mounted scenario's rule"; }
ok "banner and 550 rule of /scenarios/example.yaml"
podman exec "$C2" smtpmock scenario list >"$TMP/list.txt"
grep -q '^ *example' "$TMP/list.txt" && grep -q '^ *powermta' "$TMP/list.txt" \
  || { cat "$TMP/list.txt"; fail "scenario list lacks the mounted or the bundled scenarios"; }
ok "smtpmock scenario list: the mounted scenario and the bundled ones"
podman rm -f -t 2 "$C2" >/dev/null

log "bundled scenario by name (SMTPMOCK_SCENARIO=powermta)"
SMTP=$(free_port); HTTP=$(free_port)
C3=$RUN-bundled
t=$(now)
podman run -d --name "$C3" -p "127.0.0.1:$SMTP:1025" -p "127.0.0.1:$HTTP:8025" \
  -e SMTPMOCK_SCENARIO=powermta "$IMAGE" >/dev/null
wait_healthy "$C3" "$t" >/dev/null
swaks --server 127.0.0.1 --port "$SMTP" --timeout 10 --quit-after EHLO >"$TMP/swaks-powermta.txt" 2>&1 \
  || { cat "$TMP/swaks-powermta.txt"; fail "swaks to powermta"; }
grep -q 'PowerMTA(TM) v4.0' "$TMP/swaks-powermta.txt" || { cat "$TMP/swaks-powermta.txt"; fail "powermta banner"; }
ok "PowerMTA banner from /usr/local/share/smtpmock/scenarios/powermta.yaml"
podman rm -f -t 2 "$C3" >/dev/null

log "several personalities in one container (SMTPMOCK_LISTEN)"
SMTP=$(free_port); YAHOO=$(free_port); SMTPS=$(free_port); HTTP=$(free_port)
C4=$RUN-listeners
t=$(now)
podman run -d --name "$C4" -p "127.0.0.1:$SMTP:1025" -p "127.0.0.1:$YAHOO:1026" \
  -p "127.0.0.1:$SMTPS:1465" -p "127.0.0.1:$HTTP:8025" \
  -e SMTPMOCK_LISTEN="0.0.0.0:1026=yahoo,name=yahoo,0.0.0.0:1465=tls-required,tls=implicit,name=tls" \
  "$IMAGE" >/dev/null
wait_healthy "$C4" "$t" >/dev/null
python3 - "$SMTP" "$YAHOO" "$SMTPS" "$HTTP" <<'EOF' || { show_logs "$C4"; fail "listeners from the host"; }
import json, socket, ssl, sys, urllib.request
smtp, yahoo, smtps, http = map(int, sys.argv[1:])
def session(port, tls=False):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = ctx.wrap_socket(raw)
    f = raw.makefile("rwb")
    def reply():
        lines = []
        while True:
            line = f.readline().decode().rstrip("\r\n")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines
    banner = reply()
    f.write(b"EHLO host.example\r\n"); f.flush()
    ehlo = reply()
    f.write(b"QUIT\r\n"); f.flush()
    reply()
    raw.close()
    return banner, ehlo
banner, ehlo = session(yahoo)
assert banner == ["220 mta7.am0.yahoodns.net ESMTP ready"], banner
assert ehlo == ["250-mta7.am0.yahoodns.net", "250-8BITMIME", "250-SIZE 41943040",
                "250 PIPELINING"], ehlo
banner, _ = session(smtp)
assert banner[0].startswith("220 ") and "smtpmock" in banner[0], banner
banner, _ = session(smtps, tls=True)
assert banner[0].startswith("220 mx.tls-required.example"), banner
with urllib.request.urlopen(f"http://127.0.0.1:{http}/readyz", timeout=10) as r:
    ready = r.read().decode()
assert "yahoo 0.0.0.0:1026 tls=starttls scenario=yahoo" in ready, ready
assert "tls 0.0.0.0:1465 tls=implicit scenario=tls-required" in ready, ready
url = f"http://127.0.0.1:{http}/api/v1/sessions?listener=yahoo"
with urllib.request.urlopen(url, timeout=10) as r:
    sessions = json.load(r)["sessions"]
assert len(sessions) == 1 and sessions[0]["Listener"]["Name"] == "yahoo", sessions
EOF
ok "1025 default, 1026 yahoo (byte-exact EHLO), 1465 implicit TLS; /readyz and ?listener= from the host"
podman rm -f -t 2 "$C4" >/dev/null

# ----------------------------------------------------------------------------------------------
log "docker/compose.yaml with podman-compose"
{
  echo "SMTPMOCK_IMAGE=$IMAGE"              # already built: compose reuses it
  echo "EXAMPLE_APP_IMAGE=$APP_IMAGE"
  echo "SMTPMOCK_SMTP_PORT=$(free_port)"
  echo "SMTPMOCK_YAHOO_PORT=$(free_port)"
  echo "SMTPMOCK_HTTP_PORT=$(free_port)"
  echo "BUILDAH_FORMAT=docker"
} >"$TMP/compose.env"
compose() { ( set -a; . "$TMP/compose.env"; podman-compose -p "$PROJECT" -f docker/compose.yaml "$@" ); }
t=$(now)
compose up -d >"$TMP/compose-up.txt" 2>&1 || { cat "$TMP/compose-up.txt"; fail "podman-compose up"; }
for service in app test; do
  code=$(timeout 120 podman wait "${PROJECT}_${service}_1" 2>/dev/null) || code=timeout
  if [ "$code" != 0 ]; then
    show_logs "${PROJECT}_smtpmock_1"; show_logs "${PROJECT}_${service}_1"
    fail "compose service $service: exit $code"
  fi
  ok "compose service $service exited 0: $(podman logs "${PROJECT}_${service}_1" 2>&1 | tail -1)"
done
figure "compose up to test passed" "$(since "$t") s (includes building the example app image)"
compose run --rm test >"$TMP/compose-run.txt" 2>&1 || { cat "$TMP/compose-run.txt"; fail "compose run --rm test"; }
ok "compose run --rm test: $(grep -c '^ok ' "$TMP/compose-run.txt") assertions passed"
compose down -t 2 >/dev/null 2>&1 || fail "podman-compose down"
for net in $(podman network ls -q --filter "name=^${PROJECT}"); do podman network rm -f "$net" >/dev/null; done
[ -z "$(podman ps -aq --filter "name=^${PROJECT}_")" ] || fail "compose down left containers"
rm -f "$TMP/compose.env"
ok "compose down: no containers left, network removed"

# ----------------------------------------------------------------------------------------------
if [ "${SMTPMOCK_DOCKER_SKIP_NODE:-0}" = 1 ]; then
  log "Testcontainers for Node: skipped (SMTPMOCK_DOCKER_SKIP_NODE=1)"
  exit 0
fi
log "the README's Testcontainers for Node snippet, against podman's Docker-compatible socket"
command -v node >/dev/null && command -v npm >/dev/null || fail "node/npm missing (make test-deps)"
rm -f "$SOCK"
command podman system service --time=0 "unix://$SOCK" >"$TMP/podman-service.log" 2>&1 &
SERVICE_PID=$!
for _ in $(seq 100); do
  curl -s --max-time 1 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1 && break
  sleep 0.1
done
curl -s --max-time 2 --unix-socket "$SOCK" http://d/_ping | grep -q OK || fail "podman system service did not answer on $SOCK"
ok "podman system service on $SOCK"
(cd "$HERE/node" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || fail "npm ci in tests/docker/node"
# The snippet is docs/docker.md's ```js block after the "example: docker-node" marker, run as it is.
python3 - docs/docker.md "$HERE/node/.readme-snippet.test.mjs" <<'EOF' || fail "no Node snippet in docs/docker.md"
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"<!-- example: docker-node[^>]*-->\s*```js\n(.*?)```", text, re.S)
if not m: sys.exit(1)
open(sys.argv[2], "w").write(m.group(1))
EOF
t=$(now)
(cd "$HERE/node" && DOCKER_HOST="unix://$SOCK" TESTCONTAINERS_RYUK_DISABLED=true \
   TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 SMTPMOCK_IMAGE="$IMAGE" \
   timeout 180 node --import ./loopback-ports.mjs --test .readme-snippet.test.mjs) \
   >"$TMP/node.txt" 2>&1 || { cat "$TMP/node.txt"; tail -20 "$TMP/podman-service.log"; fail "Node snippet"; }
grep -E '^# (pass|fail)' "$TMP/node.txt" | sed 's/^/   /'
figure "Testcontainers Node test" "$(since "$t") s"
