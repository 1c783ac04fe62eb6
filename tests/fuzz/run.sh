#!/usr/bin/env bash
# `make fuzz FUZZ_SECONDS=N`: builds the libFuzzer targets in build-fuzz/ and runs each for N
# seconds (default 60) from its committed seed corpus (tests/fuzz/corpus/<target>/; what the run
# finds goes to build-fuzz/corpus/<target>/, never into the source tree). Fails when a target
# crashes, leaks, times out (-timeout=1), runs out of memory (-rss_limit_mb=1024) or breaks an
# invariant (__builtin_trap); the failing input is saved in build-fuzz/artifacts/<target>/.
# Prints the executions and executions per second of each target from libFuzzer's final stats.
# The code under test is built with gcc, ASan, UBSan and gcc's coverage instrumentation and
# driven by clang 14's libFuzzer runtime (tests/fuzz/coverage_shim.cpp says why).
set -u
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${FUZZ_BUILD:-$SOURCE_DIR/build-fuzz}
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-fuzz_server fuzz_client_reply fuzz_data_roundtrip fuzz_scenario_loader fuzz_http_search fuzz_thumbnail}
FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
COVERAGE="-fsanitize-coverage=trace-pc,trace-cmp"

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  # The coverage flags go in the build type's flags, which CMake's compiler checks do not use:
  # their test programs could not link the coverage callbacks.
  cmake -S "$SOURCE_DIR" -B "$BUILD_DIR" -G Ninja -DSMTPMOCK_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
    -DCMAKE_CXX_FLAGS="$FLAGS" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 $COVERAGE" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" || exit 1
fi
start=$(date +%s)
cmake --build "$BUILD_DIR" -j "$JOBS" --target fuzz_targets || exit 1
echo "fuzz: build took $(($(date +%s) - start)) s"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=1"
export LSAN_OPTIONS="suppressions=$SOURCE_DIR/tests/sanitize/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# Targets run FUZZ_PARALLEL at a time (default: the number of cores; each libFuzzer process is
# single-threaded), so CI's 60 s per target costs about 60 s x targets / cores of wall time.
FUZZ_PARALLEL=${FUZZ_PARALLEL:-$(nproc)}

run_target() {
  local t=$1
  local work="$BUILD_DIR/corpus/$t"
  local artifacts="$BUILD_DIR/artifacts/$t"
  local log="$BUILD_DIR/fuzz-$t.log"
  mkdir -p "$work" "$artifacts"
  "$BUILD_DIR/tests/fuzz/$t" -max_total_time="$FUZZ_SECONDS" -timeout=1 -rss_limit_mb=1024 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "$SOURCE_DIR/tests/fuzz/corpus/$t" \
    >"$log" 2>&1
  echo $? >"$BUILD_DIR/fuzz-$t.rc"
}

running=0
for t in $TARGETS; do
  echo "fuzz: $t for ${FUZZ_SECONDS} s"
  run_target "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$FUZZ_PARALLEL" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

failed=0
summary=""
for t in $TARGETS; do
  log="$BUILD_DIR/fuzz-$t.log"
  rc=$(cat "$BUILD_DIR/fuzz-$t.rc" 2>/dev/null || echo 99)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ -z "$execs" ]; then
    # A crash ends the run before the final stats: take the last progress line's count.
    execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    rate=$(grep -o 'exec/s: [0-9]*' "$log" | tail -1 | sed 's/exec.s: //')
  fi
  if [ "$rc" -ne 0 ]; then
    failed=1
    status="FAILED (exit $rc)"
    echo "---- $t: failure, from $log"
    grep -E "^==[0-9]+==ERROR|^SUMMARY|ALARM|fuzz invariant violated|runtime error|Test unit written|^0x|^(#[0-9]+ )|    #[0-9]+ " "$log" | head -40
  else
    status="ok"
  fi
  summary="$summary$(printf '%-22s %12s execs %8s exec/s  %s' "$t" "${execs:-?}" "${rate:-?}" "$status")\n"
done
echo "fuzz: results (${FUZZ_SECONDS} s each, ${FUZZ_PARALLEL} at a time)"
printf "$summary"
exit $failed
