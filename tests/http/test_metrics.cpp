// Metrics: the text exposition built from a hand-built snapshot.
#include "riskd/daemon/metrics.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "test_snapshot.hpp"

using riskd::config::BorrowerSeries;
using riskd::daemon::Metrics;
using riskd::daemon::SnapshotPtr;

namespace {

std::vector<std::string> sample_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.front() != '#') lines.push_back(line);
  }
  return lines;
}

/// Sample lines whose text contains `needle`.
std::size_t count_lines(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (const auto& line : sample_lines(text)) n += line.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

/// Sample lines with a non-empty borrower label.
std::size_t borrower_lines(const std::string& text) {
  return count_lines(text, "borrower=\"") - count_lines(text, "borrower=\"\"");
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : sample_lines(text)) {
    if (l == line) return true;
  }
  return false;
}

Metrics make_metrics(BorrowerSeries mode, SnapshotPtr snap = riskd::test::make_snapshot()) {
  return Metrics([snap] { return snap; }, mode, "1.2.3");
}

}  // namespace

TEST_CASE("metrics text declares every family of INTERFACES.md and the extra ones") {
  Metrics m = make_metrics(BorrowerSeries::all);
  m.notification("alertmanager", "sent");  // a labelled family appears with its first series
  const std::string text = m.render();
  for (const std::string family :
       {"riskd_borrower_ltv_ratio gauge", "riskd_borrower_liquidation_ltv_ratio gauge", "riskd_borrower_dscr_ratio gauge",
        "riskd_borrower_collateral_usd gauge", "riskd_borrower_debt_usd gauge", "riskd_borrower_price_breach_usd gauge",
        "riskd_borrower_stress_ltv_ratio gauge", "riskd_borrower_stress_dscr_ratio gauge", "riskd_alert_active gauge",
        "riskd_series_value gauge", "riskd_series_last_event_timestamp_seconds gauge", "riskd_ticks_total counter",
        "riskd_kafka_consumer_lag_messages gauge", "riskd_tick_to_evaluation_seconds histogram",
        "riskd_alert_notifications_total counter", "riskd_build_info gauge", "riskd_config_last_reload_success gauge",
        "riskd_config_last_reload_timestamp_seconds gauge", "riskd_borrowers gauge", "riskd_snapshot_age_seconds gauge",
        "riskd_stream_clients gauge", "riskd_stream_clients_dropped_total counter"}) {
    CAPTURE(family);
    CHECK(text.find("# TYPE " + family + "\n") != std::string::npos);
  }
}

TEST_CASE("metrics samples carry the snapshot's figures and labels") {
  Metrics m = make_metrics(BorrowerSeries::all);
  const std::string text = m.render();
  CHECK(has_line(text, "riskd_borrower_ltv_ratio{borrower=\"miner-a\"} 0.6675"));
  CHECK(has_line(text, "riskd_borrower_liquidation_ltv_ratio{borrower=\"miner-a\"} 0.95"));
  CHECK(has_line(text, "riskd_borrower_dscr_ratio{borrower=\"miner-a\"} 1.41"));
  CHECK(has_line(text, "riskd_borrower_collateral_usd{basis=\"mark\",borrower=\"miner-a\"} 1975000000"));
  CHECK(has_line(text, "riskd_borrower_collateral_usd{basis=\"liquidation\",borrower=\"miner-a\"} 1300000000"));
  CHECK(has_line(text, "riskd_borrower_debt_usd{borrower=\"miner-a\"} 1250000000"));
  CHECK(has_line(text, "riskd_borrower_price_breach_usd{borrower=\"miner-a\",series=\"BTC-USD\"} 54000"));
  CHECK(count_lines(text, "series=\"ETH-USD\"") == 0);  // undefined breach level: no sample
  CHECK(has_line(text, "riskd_borrower_stress_ltv_ratio{borrower=\"miner-a\",scenario=\"btc_crash\"} 0.9"));
  CHECK(has_line(text, "riskd_borrower_stress_dscr_ratio{borrower=\"miner-a\",scenario=\"correlation_convergence\"} 0.7"));
  CHECK(has_line(text, "riskd_alert_active{borrower=\"miner-a\",rule=\"ltv_warning\",severity=\"warning\"} 1"));
  CHECK(has_line(text, "riskd_alert_active{borrower=\"\",rule=\"feed_stale\",severity=\"warning\"} 1"));
  CHECK(has_line(text, "riskd_series_value{series=\"BTC-USD\"} 87250.5"));
  CHECK(has_line(text, "riskd_series_last_event_timestamp_seconds{series=\"BTC-USD\"} 1766138400.123"));
  CHECK(count_lines(text, "riskd_series_value{series=\"HASHPRICE\"}") == 0);  // no value yet
  CHECK(has_line(text, "riskd_ticks_total{outcome=\"applied\"} 130"));
  CHECK(has_line(text, "riskd_ticks_total{outcome=\"rejected_parse\"} 1"));
  CHECK(has_line(text, "riskd_ticks_total{outcome=\"rejected_value\"} 2"));
  CHECK(has_line(text, "riskd_ticks_total{outcome=\"out_of_order\"} 3"));
  CHECK(has_line(text, "riskd_ticks_total{outcome=\"outlier\"} 4"));
  CHECK(has_line(text, "riskd_ticks_total{outcome=\"unknown_series\"} 5"));
  CHECK(has_line(text, "riskd_kafka_consumer_lag_messages{partition=\"0\",topic=\"md.crypto\"} 12"));
  CHECK(has_line(text, "riskd_borrowers{state=\"evaluated\"} 2"));
  CHECK(has_line(text, "riskd_borrowers{state=\"waiting\"} 1"));
  CHECK(has_line(text, "riskd_build_info{version=\"1.2.3\"} 1"));
  CHECK(count_lines(text, "riskd_snapshot_age_seconds ") == 1);
}

TEST_CASE("infinite ratios are exported as +Inf") {
  Metrics m = make_metrics(BorrowerSeries::all);
  const std::string text = m.render();
  CHECK(has_line(text, "riskd_borrower_dscr_ratio{borrower=\"gpu-b\"} +Inf"));
  CHECK(has_line(text, "riskd_borrower_stress_dscr_ratio{borrower=\"gpu-b\",scenario=\"correlation_convergence\"} +Inf"));
}

TEST_CASE("borrower_series all, alerting and none bound the per-borrower series") {
  Metrics m = make_metrics(BorrowerSeries::all);
  const std::string all = m.render();
  // per borrower: ltv, liq ltv, dscr, 2 collateral, debt, stale = 7, plus breaches,
  // 2 per stress scenario, and its firing alerts.
  const std::size_t miner_a = 7 + 1 + 2 * 2 + 1;
  const std::size_t gpu_b = 7 + 0 + 2 * 1;
  CHECK(count_lines(all, "borrower=\"miner-a\"") == miner_a);
  CHECK(count_lines(all, "borrower=\"gpu-b\"") == gpu_b);
  CHECK(borrower_lines(all) == miner_a + gpu_b);

  m.set_borrower_series(BorrowerSeries::alerting);
  CHECK(m.borrower_series() == BorrowerSeries::alerting);
  const std::string alerting = m.render();
  CHECK(count_lines(alerting, "borrower=\"miner-a\"") == miner_a);
  CHECK(count_lines(alerting, "borrower=\"gpu-b\"") == 0);
  CHECK(borrower_lines(alerting) == miner_a);

  m.set_borrower_series(BorrowerSeries::none);
  const std::string none = m.render();
  CHECK(borrower_lines(none) == 0);
  // feed rules have no borrower: they stay, as do the per-series families.
  CHECK(count_lines(none, "riskd_alert_active{borrower=\"\",rule=\"feed_stale\"") == 1);
  CHECK(count_lines(none, "riskd_series_value{") == 2);
}

TEST_CASE("the latency histogram, reload gauges and notification counters are in the exposition") {
  Metrics m = make_metrics(BorrowerSeries::none);
  m.observe(0.00002);
  m.observe(0.003);
  m.observe(-1.0);  // ignored
  m.config_reloaded(false, 0.0);
  m.notification("alertmanager", "sent");
  m.notification("alertmanager", "sent");
  m.notification("webhook", "failed");
  const std::string text = m.render();
  CHECK(has_line(text, "riskd_tick_to_evaluation_seconds_count 2"));
  CHECK(has_line(text, "riskd_tick_to_evaluation_seconds_bucket{le=\"1e-05\"} 0"));
  CHECK(has_line(text, "riskd_tick_to_evaluation_seconds_bucket{le=\"2.5e-05\"} 1"));
  CHECK(has_line(text, "riskd_tick_to_evaluation_seconds_bucket{le=\"0.005\"} 2"));
  CHECK(has_line(text, "riskd_tick_to_evaluation_seconds_bucket{le=\"+Inf\"} 2"));
  CHECK(has_line(text, "riskd_config_last_reload_success 0"));
  CHECK(has_line(text, "riskd_alert_notifications_total{outcome=\"sent\",sink=\"alertmanager\"} 2"));
  CHECK(has_line(text, "riskd_alert_notifications_total{outcome=\"failed\",sink=\"webhook\"} 1"));

  m.config_reloaded(true, 1766138400.0);
  const std::string after = m.render();
  CHECK(has_line(after, "riskd_config_last_reload_success 1"));
  CHECK(has_line(after, "riskd_config_last_reload_timestamp_seconds 1766138400"));
}

TEST_CASE("stream clients: the gauge follows the count, the dropped counter only grows") {
  Metrics m = make_metrics(BorrowerSeries::none);
  CHECK(has_line(m.render(), "riskd_stream_clients 0"));
  CHECK(has_line(m.render(), "riskd_stream_clients_dropped_total 0"));
  m.stream_clients(3, 2);
  CHECK(has_line(m.render(), "riskd_stream_clients 3"));
  CHECK(has_line(m.render(), "riskd_stream_clients_dropped_total 2"));
  m.stream_clients(1, 1);  // a lower total is not a reset
  CHECK(has_line(m.render(), "riskd_stream_clients 1"));
  CHECK(has_line(m.render(), "riskd_stream_clients_dropped_total 2"));
  m.stream_clients(0, 5);
  CHECK(has_line(m.render(), "riskd_stream_clients 0"));
  CHECK(has_line(m.render(), "riskd_stream_clients_dropped_total 5"));
}

TEST_CASE("metrics render without a snapshot: families declared, no snapshot samples") {
  Metrics m([] { return SnapshotPtr{}; }, BorrowerSeries::all);
  const std::string text = m.render();
  CHECK(text.find("# TYPE riskd_borrower_ltv_ratio gauge") != std::string::npos);
  CHECK(count_lines(text, "riskd_borrower_") == 0);
  CHECK(count_lines(text, "riskd_ticks_total") == 0);
  CHECK(has_line(text, "riskd_build_info{version=\"dev\"} 1"));
}

namespace {

/// The test snapshot plus `n` alerting borrowers "al-<k>" whose worst rule
/// is critical for k % 3 == 0 (else warning) and lies k % 7 + 1 tenths past
/// its threshold.
SnapshotPtr snapshot_with_alerting(std::size_t n) {
  auto s = riskd::test::make_snapshot();
  std::vector<riskd::daemon::BorrowerViewPtr> views{s->borrowers.ptr(0), s->borrowers.ptr(1)};
  for (std::size_t k = 0; k < n; ++k) {
    auto v = riskd::test::copy_view(s->borrowers[1]);
    riskd::test::set_id(*v, "al-" + std::to_string(k));
    const bool critical = k % 3 == 0;
    const std::string rule = critical ? "ltv_breach" : "ltv_warning";
    const auto severity = critical ? riskd::alerts::Severity::critical : riskd::alerts::Severity::warning;
    v->firing = std::make_shared<const riskd::daemon::AlertList>(riskd::daemon::AlertList{
        riskd::test::firing_event(v->id() + "/" + rule, v->id(), rule, severity, 0.9, 0.8)});
    v->worst_severity = severity;
    v->breach_depth = 0.1 * static_cast<double>(k % 7 + 1);
    views.push_back(std::move(v));
  }
  riskd::test::set_borrowers(*s, views);
  return s;
}

}  // namespace

TEST_CASE("borrower_series alerting keeps at most the cap of borrowers, worst first, and counts the rest") {
  const std::size_t n = 40;
  const SnapshotPtr snap = snapshot_with_alerting(n);
  Metrics m([snap] { return snap; }, BorrowerSeries::alerting);
  CHECK(m.max_alerting_borrowers() == Metrics::k_default_max_alerting_borrowers);
  const std::string uncapped = m.render();
  CHECK(has_line(uncapped, "riskd_metrics_borrowers_omitted 0"));
  CHECK(count_lines(uncapped, "riskd_borrower_ltv_ratio{") == n + 1);  // miner-a too

  m.set_max_alerting_borrowers(5);
  const std::string capped = m.render();
  CHECK(has_line(capped, "riskd_metrics_borrowers_omitted 36"));  // 41 alerting, 5 kept
  // Kept: critical (k % 3 == 0) with the deepest breach (k % 7 == 6): k = 6, 27, then k % 7 == 5: 12, 33,
  // then k % 7 == 4: 18, 39 -> the first five by id among equals: al-27, al-6, al-12, al-33, al-18 (id breaks ties).
  std::vector<std::string> kept;
  for (const auto& line : sample_lines(capped)) {
    if (line.rfind("riskd_borrower_ltv_ratio{", 0) == 0) kept.push_back(line.substr(line.find('"') + 1, line.rfind('"') - line.find('"') - 1));
  }
  CHECK(kept == std::vector<std::string>{"al-27", "al-6", "al-12", "al-33", "al-18"});
  // Every per-borrower family, riskd_alert_active included, keeps only those five; feed rules stay.
  CHECK(borrower_lines(capped) == 5 * (7 + 0 + 2 * 1 + 1));
  CHECK(count_lines(capped, "riskd_alert_active{borrower=\"\",rule=\"feed_stale\"") == 1);
  CHECK(count_lines(capped, "borrower=\"miner-a\"") == 0);  // a warning only 2.7 % past: not among the worst

  // all and none ignore the cap.
  m.set_borrower_series(BorrowerSeries::all);
  const std::string all = m.render();
  CHECK(count_lines(all, "riskd_borrower_ltv_ratio{") == n + 2);
  CHECK(has_line(all, "riskd_metrics_borrowers_omitted 0"));
  m.set_borrower_series(BorrowerSeries::none);
  CHECK(borrower_lines(m.render()) == 0);
}

TEST_CASE("metrics text is well formed: one HELP and TYPE per family, before its samples, no family split") {
  const SnapshotPtr snap = snapshot_with_alerting(10);
  Metrics m([snap] { return snap; }, BorrowerSeries::all);
  m.observe(0.001);
  std::istringstream in(m.render());
  std::vector<std::string> declared;
  std::string current;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      current = line.substr(7, line.find(' ', 7) - 7);
      CHECK(std::find(declared.begin(), declared.end(), current) == declared.end());
      declared.push_back(current);
      continue;
    }
    if (line.front() == '#') continue;
    const std::string name = line.substr(0, line.find_first_of("{ "));
    INFO(line);
    // histogram samples carry suffixes of their family's name
    CHECK((name == current || name.rfind(current + "_", 0) == 0));
  }
  CHECK(declared.size() >= 20);
}
