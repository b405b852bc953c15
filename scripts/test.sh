#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every suite.
#   1. fuzz:    libFuzzer targets (clang), each for RISKD_FUZZ_SECONDS (default 20)
#   2. asan:    unit + integration tests under -fsanitize=address,undefined
#   3. release: unit + integration + system tests on the optimized build
#      (summary printed last). "system" tests drive Debian's Alertmanager,
#      Prometheus and Chromium against the daemon; they run once, here.
# Set RISKD_SKIP_SANITIZE=1 or RISKD_SKIP_FUZZ=1 to skip a stage locally.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
jobs=$(nproc)

if [ "${RISKD_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzz build (clang, libFuzzer)"
  cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DRISKD_FUZZ=ON -DRISKD_BENCH=OFF -DRISKD_FUZZ_SECONDS="${RISKD_FUZZ_SECONDS:-20}" >/dev/null
  cmake --build build/fuzz -j "$jobs" --target fuzz_tick fuzz_config
  ctest --no-tests=error --test-dir build/fuzz -L fuzz --output-on-failure
fi

if [ "${RISKD_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== sanitizer build (address, undefined)"
  cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRISKD_SANITIZE=ON -DRISKD_BENCH=OFF >/dev/null
  cmake --build build/asan -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --no-tests=error --test-dir build/asan -L 'unit|integration' -j "$jobs" --output-on-failure
fi

echo "== release build"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j "$jobs"
ctest --no-tests=error --test-dir build/release -L 'unit|integration|system' -j "$jobs" --output-on-failure
