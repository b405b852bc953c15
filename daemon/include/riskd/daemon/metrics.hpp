#pragma once
// Prometheus exposition of riskd (INTERFACES.md "Metrics"). Owns a
// prometheus-cpp registry for what the process measures itself (histogram,
// counters, gauges) and, at scrape time, turns the latest Snapshot into the
// per-borrower and per-series families. prometheus-cpp stays behind a pimpl:
// users of this header never see its types.
//
// Families built from the snapshot (gauges unless said otherwise):
//   riskd_borrower_ltv_ratio, riskd_borrower_liquidation_ltv_ratio,
//   riskd_borrower_dscr_ratio {borrower}
//   riskd_borrower_collateral_usd {borrower, basis=mark|liquidation}
//   riskd_borrower_debt_usd {borrower}
//   riskd_borrower_price_breach_usd {borrower, series}  (no sample when the level is undefined)
//   riskd_borrower_stress_ltv_ratio, riskd_borrower_stress_dscr_ratio {borrower, scenario}
//   riskd_borrower_stale {borrower}                      (1 while a series it needs is stale)
//   riskd_alert_active {borrower, rule, severity}        (1 while firing; feed rules: borrower="")
//   riskd_series_value, riskd_series_last_event_timestamp_seconds {series} (series with a value)
//   riskd_series_stale {series}
//   riskd_ticks_total {outcome} (counter)
//   riskd_borrower_updates_total {outcome=applied|rejected} (counter)
//   riskd_kafka_consumer_lag_messages {topic, partition}
//   riskd_borrowers {state=evaluated|waiting}
//   riskd_snapshot_age_seconds (wall clock now - publication time)
// Infinite ratios (e.g. DSCR with no debt service) are exported as +Inf, which
// the text format supports; the JSON API reports them as null instead.
//
//   riskd_metrics_borrowers_omitted                      (alerting borrowers left out by the cap)
// `borrower_series` bounds cardinality for every family with a `borrower`
// label: all | alerting (only borrowers with at least one alert firing, at
// most max_alerting_borrowers() of them: the worst first by severity, then
// by how far the worst firing rule is past its threshold, then by id; the
// rest are counted in riskd_metrics_borrowers_omitted) | none
// (riskd_alert_active then keeps only the feed rules, borrower="").
// Per-borrower lines are rendered once per published borrower view and
// cached in it, so a scrape costs O(exported lines) plus one pass over the
// snapshot's views (alerting: to find and rank the alerting ones).
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "riskd/config/config.hpp"
#include "riskd/daemon/snapshot.hpp"
#include "riskd/daemon/tick_latency.hpp"

namespace riskd::daemon {

class Metrics {
 public:
  using SnapshotSource = std::function<SnapshotPtr()>;

  /// `source` is called at every scrape (from the HTTP thread) and must be
  /// thread-safe; it may return null (no snapshot families then).
  /// `version` is the riskd_build_info label.
  Metrics(SnapshotSource source, config::BorrowerSeries borrower_series, std::string version = "dev");
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  /// Thread-safe; takes effect at the next scrape (SIGHUP reload).
  void set_borrower_series(config::BorrowerSeries mode);
  [[nodiscard]] config::BorrowerSeries borrower_series() const;

  /// The cap of `borrower_series: alerting`, in borrowers. Thread-safe.
  static constexpr std::size_t k_default_max_alerting_borrowers = 5'000;
  void set_max_alerting_borrowers(std::size_t count);
  [[nodiscard]] std::size_t max_alerting_borrowers() const;

  /// riskd_tick_to_evaluation_seconds += one tick's latency, in seconds, from
  /// its timestamp to the end of its evaluation. Thread-safe. Buckets 10 µs .. 1 s
  /// (1-2.5-5 per decade); negative or non-finite values are ignored.
  void observe(double seconds);
  /// riskd_tick_to_evaluation_seconds += a tally of latencies (the engine
  /// thread's, once per batch): one histogram update for all of them.
  /// Thread-safe; an empty tally changes nothing.
  void observe(const TickLatencyTally& tally);

  /// riskd_config_last_reload_success (1/0) and, on success,
  /// riskd_config_last_reload_timestamp_seconds = `unix_s`. Thread-safe.
  /// Initially: success 1, timestamp the construction time.
  void config_reloaded(bool ok, double unix_s);

  /// riskd_alert_notifications_total{sink, outcome} += 1. Thread-safe. The
  /// label values must come from a small fixed set (sink names, outcomes such
  /// as sent|failed|dropped): each pair is a series forever. The family is
  /// absent from the exposition until the first call.
  void notification(std::string_view sink, std::string_view outcome);

  /// riskd_stream_clients = `connected` (dashboards on /api/v1/stream now)
  /// and riskd_stream_clients_dropped_total = `dropped_total` (clients cut
  /// off for falling behind, since start; a count that only grows: a lower
  /// value is ignored). Thread-safe; the HTTP server's counts, set at scrape.
  void stream_clients(std::size_t connected, std::uint64_t dropped_total);

  /// The whole exposition in Prometheus text format 0.0.4. Thread-safe; calls
  /// the snapshot source once. Never throws for data reasons (allocation aside).
  [[nodiscard]] std::string render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace riskd::daemon
