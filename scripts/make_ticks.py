#!/usr/bin/env python3
"""Build config/examples/ticks-2022-2025.jsonl (and the 2025-12-19 market
snapshot) from the CSVs in /work/shared/data. Deterministic: same inputs,
byte-identical output. No network, standard library only.

Usage:
  make_ticks.py DATA_DIR [--out ticks.jsonl] [--market market.json]
                [--gpu-backfill seed|none]

What goes in (see docs/data-provenance.md for the full story):
  BTC-USD          btc_usd_daily.csv close_usd, one tick per UTC day at 23:59:00Z
                   (the close of that day's candle), 2022-01-01..2025-12-31;
                   plus the hourly closes of btc_usdt_1h_*.csv for
                   2024-08-04..2024-08-06 and 2025-10-10..2025-10-11 at HH:59:00Z
                   (hours 00..22; hour 23 is covered by the daily close).
  SOFR             sofr_pct.csv, percent x 100 = bp, one tick per published
                   business day D at D T22:00:00Z.
  GPU-H100-USD-HR  h100/a100 monthly index, published months only, on the 1st
  GPU-A100-USD-HR  of the month at 02:00:00Z, 2023-09..2025-12.
                   --gpu-backfill seed (default): ONE extra tick per GPU series
                   at 2022-01-01T02:00:00Z carrying the first published value
                   (2023-09). LABELLED BACKFILL: no GPU rental data exists in
                   shared/data before 2023-09. riskd's feed_stale rule then
                   (correctly) reports the series stale until 2023-09-01.
  MINER-SPREAD     ILLUSTRATIVE borrower credit spread in bp (no spread index
                   ships in shared/data): piecewise-linear between the anchor
                   dates below, one tick per SOFR business day at 22:30:00Z.
"""
import argparse
import csv
import datetime as dt
import json
import os
import sys

START = dt.date(2022, 1, 1)
END = dt.date(2025, 12, 31)
HOURLY_WINDOWS = [
    ("btc_usdt_1h_2024-07-22_2024-08-18.csv", dt.date(2024, 8, 4), dt.date(2024, 8, 6)),
    ("btc_usdt_1h_2025-10-01_2025-10-31.csv", dt.date(2025, 10, 10), dt.date(2025, 10, 11)),
]

# ILLUSTRATIVE spread anchors (bp). Shape: a high-yield-miner spread that is
# ~600 bp in calm markets and widens in the stress windows SOURCES.md lists.
# The levels are made up; only the dates of the stress events are real.
SPREAD_ANCHORS = [
    ("2022-01-01", 575),
    ("2022-04-29", 600),
    ("2022-05-12", 800),   # Terra/LUNA
    ("2022-06-01", 760),
    ("2022-06-18", 1100),  # Celsius / 3AC, BTC low 17.7k intraday
    ("2022-07-31", 950),
    ("2022-08-31", 900),
    ("2022-10-31", 950),
    ("2022-11-09", 1250),  # FTX
    ("2022-11-21", 1350),
    ("2022-12-31", 1200),
    ("2023-02-28", 950),
    ("2023-03-13", 1050),  # US regional banks
    ("2023-04-30", 850),
    ("2023-10-31", 750),
    ("2024-03-31", 600),
    ("2024-07-31", 575),
    ("2024-08-05", 700),   # carry-trade unwind
    ("2024-08-31", 600),
    ("2025-03-31", 575),
    ("2025-04-08", 750),   # tariff shock
    ("2025-05-31", 625),
    ("2025-10-09", 575),
    ("2025-10-10", 700),   # liquidation cascade
    ("2025-11-21", 725),
    ("2025-12-31", 680),
]


def iso(d, hh, mm=0):
    return f"{d.isoformat()}T{hh:02d}:{mm:02d}:00Z"


def spread_on(day):
    pts = [(dt.date.fromisoformat(a), v) for a, v in SPREAD_ANCHORS]
    if day <= pts[0][0]:
        return float(pts[0][1])
    for (d0, v0), (d1, v1) in zip(pts, pts[1:]):
        if d0 <= day <= d1:
            f = (day - d0).days / (d1 - d0).days
            return round(v0 + (v1 - v0) * f)  # whole bp
    return float(pts[-1][1])


def read_csv(data, name):
    with open(os.path.join(data, name), newline="") as fh:
        return list(csv.DictReader(fh))


def monthly(data, name):
    out = []
    for r in read_csv(data, name):
        if r["status"] != "published":
            continue
        y, m = map(int, r["month"].split("-"))
        d = dt.date(y, m, 1)
        if d <= END:
            out.append((d, float(r["index_rent_usd_per_gpu_hour"])))
    return out


def build(data, backfill):
    ticks = []  # (ts, series, value)
    # BTC daily closes
    for r in read_csv(data, "btc_usd_daily.csv"):
        d = dt.date.fromisoformat(r["date"])
        if START <= d <= END:
            ticks.append((iso(d, 23, 59), "BTC-USD", float(r["close_usd"])))
    # BTC hourly closes around two stress days
    for name, a, b in HOURLY_WINDOWS:
        for r in read_csv(data, name):
            t = dt.datetime.fromisoformat(r["ts_utc"].replace("Z", "+00:00"))
            if a <= t.date() <= b and t.hour < 23:
                ticks.append((iso(t.date(), t.hour, 59), "BTC-USD", float(r["close_usdt"])))
    # SOFR (percent -> bp) and the illustrative spread on the same business days
    for r in read_csv(data, "sofr_pct.csv"):
        d = dt.date.fromisoformat(r["date"])
        if START <= d <= END:
            bp = round(float(r["sofr_pct"]) * 100.0, 6)
            ticks.append((iso(d, 22), "SOFR", bp))
            ticks.append((iso(d, 22, 30), "MINER-SPREAD", spread_on(d)))
    # GPU monthly indices
    for series, name in (("GPU-H100-USD-HR", "h100_rent_usd_per_gpu_hour_monthly.csv"),
                         ("GPU-A100-USD-HR", "a100_rent_usd_per_gpu_hour_monthly.csv")):
        pub = monthly(data, name)
        if backfill == "seed" and pub and pub[0][0] > START:
            ticks.append((iso(START, 2), series, pub[0][1]))  # BACKFILL (labelled)
        for d, v in pub:
            if d >= START:
                ticks.append((iso(d, 2), series, v))
    ticks.sort(key=lambda x: (x[0], x[1]))
    return ticks


def snapshot(data, as_of="2025-12-19"):
    day = dt.date.fromisoformat(as_of)
    series = {}
    for r in read_csv(data, "btc_usd_daily.csv"):
        if r["date"] == as_of:
            series["BTC-USD"] = float(r["close_usd"])
    sofr = [r for r in read_csv(data, "sofr_pct.csv") if dt.date.fromisoformat(r["date"]) <= day]
    series["SOFR"] = round(float(sofr[-1]["sofr_pct"]) * 100.0, 6)
    for s, name in (("GPU-H100-USD-HR", "h100_rent_usd_per_gpu_hour_monthly.csv"),
                    ("GPU-A100-USD-HR", "a100_rent_usd_per_gpu_hour_monthly.csv")):
        series[s] = [v for d, v in monthly(data, name) if d <= day][-1]
    series["MINER-SPREAD"] = spread_on(day)
    return {"as_of": f"{as_of}T00:00:00Z", "series": dict(sorted(series.items()))}, sofr[-1]["date"]


def fmt(v):
    return int(v) if float(v).is_integer() and abs(v) < 1e15 else v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="directory with the shared/data CSVs")
    ap.add_argument("--out", default="config/examples/ticks-2022-2025.jsonl")
    ap.add_argument("--market", help="also write the 2025-12-19 snapshot here")
    ap.add_argument("--gpu-backfill", choices=["seed", "none"], default="seed")
    a = ap.parse_args()
    ticks = build(a.data, a.gpu_backfill)
    with open(a.out, "w", newline="\n") as fh:
        for ts, s, v in ticks:
            if s in ("SOFR", "MINER-SPREAD"):
                v = float(v)
            fh.write(json.dumps({"series": s, "value": v, "ts": ts}) + "\n")
    counts = {}
    for _, s, _ in ticks:
        counts[s] = counts.get(s, 0) + 1
    print(f"{a.out}: {len(ticks)} ticks {counts}", file=sys.stderr)
    if a.market:
        snap, sofr_date = snapshot(a.data)
        with open(a.market, "w", newline="\n") as fh:
            json.dump(snap, fh, indent=1)
            fh.write("\n")
        print(f"{a.market}: {snap} (SOFR of {sofr_date})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
