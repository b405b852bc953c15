#!/usr/bin/env bash
# The main job: set up, build, and run the riskd daemon on the development
# broker, fed the real 2022-2025 market history (config/examples), with the
# API and metrics live on http://127.0.0.1:8080 until Ctrl-C.
#
#   RISKD_SPEED   how many times faster than event time the history is replayed
#                 (default 2000000: four years in about a minute)
#   RISKD_LISTEN  HTTP address (default 127.0.0.1:8080)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j "$(nproc)" --target riskd

riskd=build/release/daemon/riskd
book=config/examples/book.yaml
listen=${RISKD_LISTEN:-127.0.0.1:8080}
speed=${RISKD_SPEED:-2000000}
mkdir -p out
# The demo config is the example book with the Alertmanager and webhook outputs
# switched on (the example keeps them commented out for other uses).
sed -e 's|^  # alertmanager: {url: "http://127.0.0.1:9093"|  alertmanager: {url: "http://127.0.0.1:19093"|' \
    -e 's|^  # webhooks: \[{url: "http://127.0.0.1:9000/hook"|  webhooks: [{url: "http://127.0.0.1:19000/hook"|' \
    "$book" >out/demo.yaml
grep -q '^  alertmanager:' out/demo.yaml && grep -q '^  webhooks:' out/demo.yaml
book=out/demo.yaml
"$riskd" check-config --config "$book"

pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# The development broker runs as its own process (in memory only), so the
# daemon can be restarted against it. Each prints its address on stdout line 1.
first_line() {  # first_line FILE TIMEOUT_S: waits for the first line of FILE
  for _ in $(seq "$(($2 * 10))"); do
    if [ -s "$1" ] && head -n1 "$1" | grep -q .; then head -n1 "$1"; return 0; fi
    sleep 0.1
  done
  echo "run.sh: no address in $1 after $2 s; see the logs in out/" >&2
  return 1
}
rm -rf out/alertmanager
prometheus-alertmanager --config.file=deploy/alertmanager/alertmanager.yml --storage.path=out/alertmanager \
  --web.listen-address=127.0.0.1:19093 --cluster.listen-address= >out/alertmanager.log 2>&1 &
pids+=("$!")
: >out/webhook.jsonl
python3 scripts/webhook_receiver.py 127.0.0.1 19000 out/webhook.jsonl >out/webhook.log 2>&1 &
pids+=("$!")

"$riskd" broker --config "$book" >out/broker.out 2>out/broker.log &
pids+=("$!")
bootstrap=$(first_line out/broker.out 20)
echo "development broker: $bootstrap (in memory only; log out/broker.log)"

"$riskd" run --config "$book" --bootstrap "$bootstrap" --listen "$listen" >out/riskd.out 2>out/riskd.log &
daemon_pid=$!
pids+=("$daemon_pid")
url=$(first_line out/riskd.out 30)
echo "riskd: $url (log out/riskd.log)"

echo "feeding config/examples/ticks-2022-2025.jsonl at ${speed}x event time..."
"$riskd" feed --ticks config/examples/ticks-2022-2025.jsonl --topic md.crypto --bootstrap "$bootstrap" --speed "$speed"

cat <<MSG

The history is in. riskd keeps running; try:
  curl -s $url/api/v1/borrowers | python3 -m json.tool
  curl -s $url/api/v1/borrowers/miner-a
  curl -s $url/api/v1/alerts
  curl -s $url/api/v1/series
  curl -s -X POST $url/api/v1/what-if -d '{"shocks": {"BTC-USD": -0.3, "@gpu_rent": -0.2}}'
  curl -s $url/metrics | grep riskd_borrower_ltv_ratio
  curl -s $url/readyz
Dashboard: $url/   Alertmanager: http://127.0.0.1:19093/#/alerts
Alert events: the risk.alerts topic (kcat -C -b $bootstrap -t risk.alerts -e),
out/webhook.jsonl (webhook), Alertmanager, and out/riskd.log. Ctrl-C stops riskd (graceful) and the broker.
(Feeds look stale against the wall clock: the history ends in 2025, and riskd says so.)
MSG
wait "$daemon_pid"
