#!/usr/bin/env bash
# `make test-sanitize`: builds everything with AddressSanitizer and UndefinedBehaviorSanitizer in
# build-sanitize/ (gcc: the Debian libasan8/libubsan1 runtimes), then runs the whole ctest suite
# (unit + integration; the integration tests use the sanitized binary through SMTPMOCK_BIN).
# Every sanitizer report is written to a log directory instead of stderr, because the servers the
# integration tests start have their stderr captured by pytest: a report there would not fail a
# test. The run fails when ctest fails or when any report file exists afterwards.
# Leaks in libraries we cannot fix are listed, each with its reason, in tests/sanitize/lsan.supp.
set -u
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${SANITIZE_BUILD:-$SOURCE_DIR/build-sanitize}
JOBS=${JOBS:-$(nproc)}
LOG_DIR=$BUILD_DIR/sanitizer-logs
SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

seconds() { date +%s; }

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  # -O1 -g1: line tables are all a report's stack needs, and they compile much faster than -g -O2.
  cmake -S "$SOURCE_DIR" -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
    -DCMAKE_CXX_FLAGS="$SANITIZE" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DCMAKE_EXE_LINKER_FLAGS="$SANITIZE" || exit 1
fi

start=$(seconds)
cmake --build "$BUILD_DIR" -j "$JOBS" || exit 1
built=$(seconds)
echo "test-sanitize: build took $((built - start)) s"

rm -rf "$LOG_DIR" && mkdir -p "$LOG_DIR"
# ASAN_EXTRA adds options for a local triage run (alloc_dealloc_mismatch=0, say); CI sets none.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:log_path=$LOG_DIR/asan${ASAN_EXTRA:+:$ASAN_EXTRA}"
export LSAN_OPTIONS="suppressions=$SOURCE_DIR/tests/sanitize/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$LOG_DIR/ubsan"

(cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS" ${CTEST_ARGS:-})
status=$?
finished=$(seconds)
echo "test-sanitize: suite took $((finished - built)) s"

reports=$(find "$LOG_DIR" -type f | sort)
if [ -n "$reports" ]; then
  echo "test-sanitize: $(echo "$reports" | wc -l) sanitizer report(s):"
  for f in $reports; do
    echo "==== $f"
    cat "$f"
  done
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "test-sanitize: FAILED"
  exit 1
fi
echo "test-sanitize: clean (no sanitizer report, every test passed)"
