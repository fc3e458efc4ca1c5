#!/usr/bin/env bash
# test.sh - the whole test suite, as CI runs it: installs what is missing,
# then builds and runs every test twice (a Debug build with -Werror, and an
# ASan+UBSan build), then runs each libFuzzer target briefly.
#   FUZZ_SECONDS=N  seconds per fuzz target (default 15; 0 skips fuzzing)
#   SKIP_DEPS=1     do not check packages
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)
passed=0
failed=0
failures=()

step() {
  local name=$1
  shift
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name")
  fi
}

if [ "${SKIP_DEPS:-0}" != 1 ]; then
  scripts/install-deps.sh || { echo "test.sh: installing dependencies failed"; exit 1; }
fi

build() { # dir, cmake args...
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug "$@" >/dev/null && cmake --build "$dir" -j"$jobs" 2>&1 | grep -E 'error|warning|Error' ; test "${PIPESTATUS[0]}" -eq 0
}

step "build (Debug, -Werror)" build build
step "tests (Debug)" ctest --test-dir build --output-on-failure -j"$jobs"
step "build (ASan+UBSan)" build build-asan -DSM_SANITIZE=ON
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  step "tests (ASan+UBSan)" ctest --test-dir build-asan --output-on-failure -j"$jobs"

fuzz_one() { # binary, corpus dir, seconds
  local log
  log=$(mktemp)
  "$1" -max_total_time="$3" -print_final_stats=1 -rss_limit_mb=2048 -artifact_prefix="$2/../" "$2" >"$log" 2>&1
  local rc=$?
  grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|crash-' "$log"
  [ $rc -eq 0 ] || tail -40 "$log"
  rm -f "$log"
  return $rc
}

fuzz_seconds=${FUZZ_SECONDS:-15}
if [ "$fuzz_seconds" -gt 0 ]; then
  step "build (libFuzzer)" env CC=clang bash -c "cmake -S . -B build-fuzz -DSM_FUZZ=ON -DSM_TESTS=OFF >/dev/null && cmake --build build-fuzz -j$jobs >/dev/null"
  for bin in build-fuzz/tests/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    corpus="$root/build-fuzz/corpus-$name"
    mkdir -p "$corpus"
    [ -d "tests/fuzz/corpus/$name" ] && cp -n tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null
    step "fuzz $name (${fuzz_seconds}s)" fuzz_one "$bin" "$corpus" "$fuzz_seconds"
  done
fi

echo
if [ $failed -ne 0 ]; then
  printf 'failed: %s\n' "${failures[@]}"
fi
echo "steps: $passed passed, $failed failed"
[ $failed -eq 0 ]
