#!/usr/bin/env bash
# Every benchmark of docs/performance.md, one after another; each prints its
# markdown rows, riskd beside the baseline measured in the same run. Not part
# of the test command (figures are never asserted). Output is also kept in
# out/bench-<UTC time>.md.
#   bash scripts/bench.sh                   # all of them: ~30-40 min on 2 cores
#   bash scripts/bench.sh index e2e         # a selection, in the order given
# Names: engine (issue 2), index (issue 5 rows D-G), config (borrower
# documents), kafka, e2e and e2e-latency (issue 3: throughput with kcat's
# fetch settings; latency with riskd's fetch.wait.max.ms at 1 ms, which the
# development broker needs), e2e-100k (issue 5's end-to-end row), sinks
# (issue 4), sizing (docs/operations.md: RSS and answer sizes of a running
# daemon; SIZING_BASELINE=/path/to/an/older/riskd measures it alongside).
set -euo pipefail
cd "$(dirname "$0")/.."

all=(engine index config kafka e2e e2e-latency e2e-100k sinks sizing)
selected=("$@")
[ ${#selected[@]} -eq 0 ] && selected=("${all[@]}")

bash scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRISKD_BENCH=ON >/dev/null
cmake --build build/release -j "$(nproc)" --target riskd riskd_bench riskd_bench_index riskd_bench_config \
  riskd_bench_kafka riskd_bench_e2e riskd_bench_sinks

bin=build/release/tests/bench
mkdir -p out
out="out/bench-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "# riskd benchmarks, $(date -u +%FT%TZ), $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "$(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p')), load: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"
for name in "${selected[@]}"; do
  echo | tee -a "$out"
  echo "## $name" | tee -a "$out"
  case "$name" in
    engine) cmd=("$bin/riskd_bench" --runs 5) ;;
    index) cmd=("$bin/riskd_bench_index" --runs 3) ;;
    config) cmd=("$bin/riskd_bench_config" --runs 5) ;;
    kafka) cmd=("$bin/riskd_bench_kafka") ;;
    e2e) cmd=("$bin/riskd_bench_e2e" --runs 5) ;;
    e2e-latency) cmd=("$bin/riskd_bench_e2e" --runs 5 --daemon-fetch-wait 1) ;;
    e2e-100k) cmd=("$bin/riskd_bench_e2e" --borrowers 100000 --rate 50000 --book-via-topic --runs 1 --paced-codec lz4) ;;
    sinks) cmd=("$bin/riskd_bench_sinks" --runs 9) ;;
    sizing) cmd=(python3 tests/bench/sizing.py --borrowers 1000,10000 --runs 3 build/release/daemon/riskd
                 ${SIZING_BASELINE:+"$SIZING_BASELINE"}) ;;
    *) echo "unknown benchmark '$name'; expected one of: ${all[*]}" >&2; exit 2 ;;
  esac
  echo "\`${cmd[*]}\` (load before: $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$out"
  "${cmd[@]}" 2>&1 | tee -a "$out"
done
echo "written: $out"
