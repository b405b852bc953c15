#!/usr/bin/env bash
# The main job: set up, build, and run riskd on the demo book with the real
# 2022-2025 market history. Until the daemon lands (issue 3) this runs the
# batch commands: check the config, evaluate the 2025-12-19 snapshot, and
# replay the history into its alert events.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j "$(nproc)" --target riskd

riskd=build/release/daemon/riskd
book=config/examples/book.yaml
mkdir -p out
"$riskd" check-config --config "$book"
"$riskd" evaluate --config "$book" --market config/examples/market-2025-12-19.json > out/evaluate-2025-12-19.json
echo "evaluate: out/evaluate-2025-12-19.json"
"$riskd" replay --config "$book" --ticks config/examples/ticks-2022-2025.jsonl > out/alerts-2022-2025.jsonl
echo "replay: $(wc -l < out/alerts-2022-2025.jsonl) alert events in out/alerts-2022-2025.jsonl; the covenant breaches:"
grep -E '"rule": "(ltv_breach|dscr_breach|liquidation_shortfall)"' out/alerts-2022-2025.jsonl |
  sed -E 's/.*"key": "([^"]+)".*"state": "([a-z]+)", "value": ([^,]+),.*"at": "([^"]+)".*/  \4  \1  \2  (value \3)/'
