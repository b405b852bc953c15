#!/usr/bin/env python3
"""Memory and answer sizes of a running riskd (docs/operations.md, Sizing).

For each book size N: the vectors book's three borrowers repeated to N, a
`riskd broker` and `riskd run` on it (`metrics.borrower_series: all`), the
vectors market fed once with `riskd feed`, three `/metrics` scrapes and one
`/api/v1/borrowers`; then VmRSS and VmHWM from /proc, a SIGHUP reload of the
same config, and VmRSS again. Each binary given is measured in turn, run by
run (interleaved), so a baseline build sits beside riskd in the same run.

  python3 tests/bench/sizing.py --borrowers 1000,10000 --runs 3 \
      build/release/daemon/riskd [BASELINE_RISKD ...]

Prints a markdown table of medians (kB and MB are 10^3 and 10^6 bytes). Exit 1 on a failure
to start, with the daemon's log named.
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VECTORS = os.path.join(REPO, "tests", "data", "vectors")


def book_yaml(n: int, bootstrap: str) -> str:
    """The vectors book with its borrowers repeated to n (ids made unique)."""
    src = open(os.path.join(VECTORS, "book.yaml")).read()
    head, body = src.split("borrowers:\n", 1)
    blocks = re.split(r"(?m)^  - id: ", body)[1:]
    out = [head, "borrowers:\n"]
    for i in range(n):
        bid, rest = blocks[i % len(blocks)].split("\n", 1)
        out.append(f"  - id: {bid.strip()}-{i}\n{rest}")
    out.append(f'\nkafka: {{bootstrap_servers: "{bootstrap}", group_id: sizing}}\n'
               'feeds: {topics: [md.crypto], state_topic: ""}\n'
               'http: {listen: "127.0.0.1:0"}\n'
               'metrics: {borrower_series: all}\n')
    return "".join(out)


def proc_kb(pid: int, field: str) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/{pid}/status")


def wait_for(predicate, timeout_s: float, what: str, log: str):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}; see {log}")


def measure(riskd: str, n: int, work: str) -> dict:
    os.makedirs(work, exist_ok=True)
    broker_log, daemon_log = os.path.join(work, "broker.log"), os.path.join(work, "riskd.log")
    broker = subprocess.Popen([riskd, "broker", "--topics", "md.crypto"], stdout=subprocess.PIPE,
                              stderr=open(broker_log, "w"), text=True)
    daemon = None
    try:
        bootstrap = broker.stdout.readline().strip()
        if not bootstrap:
            raise RuntimeError(f"riskd broker printed no address; see {broker_log}")
        config = os.path.join(work, "book.yaml")
        open(config, "w").write(book_yaml(n, bootstrap))
        daemon = subprocess.Popen([riskd, "run", "--config", config], stdout=subprocess.PIPE,
                                  stderr=open(daemon_log, "w"), text=True)
        url = daemon.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"riskd run printed no address; see {daemon_log}")
        market = json.load(open(os.path.join(VECTORS, "market.json")))
        ticks = os.path.join(work, "ticks.jsonl")
        with open(ticks, "w") as f:
            for series, value in market["series"].items():
                f.write(json.dumps({"series": series, "value": value, "ts": market["as_of"]}) + "\n")
        subprocess.run([riskd, "feed", "--ticks", ticks, "--topic", "md.crypto", "--bootstrap", bootstrap],
                       check=True, capture_output=True)

        def ready():
            try:
                return urllib.request.urlopen(url + "/readyz").status == 200
            except Exception:
                return False
        wait_for(ready, 600, "/readyz", daemon_log)
        metrics_bytes = 0
        for _ in range(3):
            metrics_bytes = len(urllib.request.urlopen(url + "/metrics").read())
        api_bytes = len(urllib.request.urlopen(url + "/api/v1/borrowers").read())
        row = {"rss_kb": proc_kb(daemon.pid, "VmRSS"), "hwm_kb": proc_kb(daemon.pid, "VmHWM"),
               "metrics_bytes": metrics_bytes, "api_bytes": api_bytes}
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "config reloaded" in open(daemon_log).read(), 600, "the SIGHUP reload", daemon_log)
        urllib.request.urlopen(url + "/metrics").read()
        row["rss_after_reload_kb"] = proc_kb(daemon.pid, "VmRSS")
        row["hwm_after_reload_kb"] = proc_kb(daemon.pid, "VmHWM")
        return row
    finally:
        for p in (daemon, broker):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--borrowers", default="1000,10000", help="book sizes, comma-separated")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("riskd", nargs="+", help="riskd binaries; the first is the one measured, the rest baselines")
    args = ap.parse_args()
    try:
        sizes = sorted({int(x) for x in args.borrowers.split(",")})
    except ValueError:
        print(f"--borrowers: expected comma-separated integers, got '{args.borrowers}'", file=sys.stderr)
        return 2
    if args.runs < 1 or any(n < 1 for n in sizes):
        print("--runs and --borrowers must be positive", file=sys.stderr)
        return 2
    results = {}  # (n, binary index) -> list of rows
    with tempfile.TemporaryDirectory(prefix="riskd-sizing-") as tmp:
        for run in range(args.runs):
            for n in sizes:
                for b, riskd in enumerate(args.riskd):
                    try:
                        row = measure(riskd, n, os.path.join(tmp, f"{n}-{b}-{run}"))
                    except (RuntimeError, subprocess.CalledProcessError) as e:
                        print(f"{riskd}, {n} borrowers, run {run + 1}: {e}", file=sys.stderr)
                        return 1
                    results.setdefault((n, b), []).append(row)
                    print(f"run {run + 1}, {n} borrowers, {riskd}: {row}", file=sys.stderr)

    def med(rows, key, scale):
        return statistics.median(r[key] for r in rows) / scale
    def per_borrower(n, b):
        """The RSS slope from the smallest book: what one more borrower costs."""
        n0 = sizes[0]
        if n == n0:
            return "(smallest book)"
        grow_kb = med(results[(n, b)], "rss_kb", 1) - med(results[(n0, b)], "rss_kb", 1)
        return f"{grow_kb * 1.024 / (n - n0):.1f}"
    print("| borrowers | riskd | RSS ready (MB) | peak RSS (MB) | RSS after SIGHUP reload (MB) | peak after reload (MB) "
          "| RSS per borrower, slope from the smallest book (kB) | `/metrics` (MB) | `/api/v1/borrowers` (MB) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in sizes:
        for b, riskd in enumerate(args.riskd):
            rows = results[(n, b)]
            print(f"| {n:,} | {riskd}{'' if b == 0 else ' (baseline)'} | {med(rows, 'rss_kb', 1e3):.0f} "
                  f"| {med(rows, 'hwm_kb', 1e3):.0f} | {med(rows, 'rss_after_reload_kb', 1e3):.0f} "
                  f"| {med(rows, 'hwm_after_reload_kb', 1e3):.0f} | {per_borrower(n, b)} "
                  f"| {med(rows, 'metrics_bytes', 1e6):.1f} | {med(rows, 'api_bytes', 1e6):.1f} |")
    print(f"\nmedians of {args.runs} runs; {len(args.riskd)} binaries interleaved run by run", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
