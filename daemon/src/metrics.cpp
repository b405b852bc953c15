#include "riskd/daemon/metrics.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <utility>
#include <vector>

#include "riskd/alerts/rules.hpp"
#include "riskd/risk/market.hpp"

namespace riskd::daemon {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

double wall_clock_unix_s() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(now).count();
}

MetricFamily make_family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void add_sample(MetricFamily& family, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (family.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  family.metric.push_back(std::move(m));
}

bool exports_borrower(const BorrowerView& b, config::BorrowerSeries mode) {
  switch (mode) {
    case config::BorrowerSeries::all: return true;
    case config::BorrowerSeries::alerting: return !b.firing.empty();
    case config::BorrowerSeries::none: return false;
  }
  return false;
}

/// Turns the snapshot of the moment into the per-borrower and per-series
/// families. Stateless between scrapes; thread-safe if the source is.
class SnapshotCollector final : public prometheus::Collectable {
 public:
  SnapshotCollector(Metrics::SnapshotSource source, config::BorrowerSeries mode)
      : source_(std::move(source)), mode_(mode) {}

  void set_mode(config::BorrowerSeries mode) { mode_.store(mode, std::memory_order_relaxed); }
  [[nodiscard]] config::BorrowerSeries mode() const { return mode_.load(std::memory_order_relaxed); }

  std::vector<MetricFamily> Collect() const override {
    const SnapshotPtr snap = source_ ? source_() : nullptr;
    const config::BorrowerSeries mode = this->mode();

    auto ltv = make_family("riskd_borrower_ltv_ratio", "Loan-to-value on the mark (debt / mark collateral); +Inf when there is no collateral", MetricType::Gauge);
    auto liq_ltv = make_family("riskd_borrower_liquidation_ltv_ratio", "Loan-to-value on the liquidation value of the collateral", MetricType::Gauge);
    auto dscr = make_family("riskd_borrower_dscr_ratio", "Debt service coverage ratio (CFADS / debt service); +Inf when there is no debt service", MetricType::Gauge);
    auto collateral = make_family("riskd_borrower_collateral_usd", "Collateral value in USD by basis (mark or liquidation)", MetricType::Gauge);
    auto debt = make_family("riskd_borrower_debt_usd", "Outstanding principal in USD", MetricType::Gauge);
    auto breach = make_family("riskd_borrower_price_breach_usd", "Price of a crypto series (USD per coin) at which the borrower breaches its LTV covenant; absent when undefined", MetricType::Gauge);
    auto stress_ltv = make_family("riskd_borrower_stress_ltv_ratio", "Loan-to-value under a stress scenario", MetricType::Gauge);
    auto stress_dscr = make_family("riskd_borrower_stress_dscr_ratio", "DSCR under a stress scenario; +Inf when there is no debt service", MetricType::Gauge);
    auto borrower_stale = make_family("riskd_borrower_stale", "1 while a series the borrower needs is stale", MetricType::Gauge);
    auto alert_active = make_family("riskd_alert_active", "1 while the alert fires; feed rules have borrower=\"\"", MetricType::Gauge);
    auto series_value = make_family("riskd_series_value", "Latest applied value of the series, in its kind's unit", MetricType::Gauge);
    auto series_ts = make_family("riskd_series_last_event_timestamp_seconds", "Event time of the series' newest applied tick, Unix seconds", MetricType::Gauge);
    auto series_stale = make_family("riskd_series_stale", "1 while feed_stale fires for the series", MetricType::Gauge);
    auto ticks = make_family("riskd_ticks_total", "Market ticks by outcome", MetricType::Counter);
    auto updates = make_family("riskd_borrower_updates_total", "Borrower topic documents by outcome", MetricType::Counter);
    auto lag = make_family("riskd_kafka_consumer_lag_messages", "Consumer lag per partition, in messages", MetricType::Gauge);
    auto borrowers = make_family("riskd_borrowers", "Borrowers in the book by state (evaluated, or waiting for a series)", MetricType::Gauge);
    auto age = make_family("riskd_snapshot_age_seconds", "Wall-clock age of the published state", MetricType::Gauge);

    if (snap) {
      for (const BorrowerView& b : snap->borrowers) {
        if (!exports_borrower(b, mode)) continue;
        const risk::Figures& f = b.figures;
        add_sample(ltv, {{"borrower", b.id}}, f.ltv);
        add_sample(liq_ltv, {{"borrower", b.id}}, f.liquidation_ltv);
        add_sample(dscr, {{"borrower", b.id}}, f.dscr);
        add_sample(collateral, {{"basis", "mark"}, {"borrower", b.id}}, f.mark_usd);
        add_sample(collateral, {{"basis", "liquidation"}, {"borrower", b.id}}, f.liquidation_usd);
        add_sample(debt, {{"borrower", b.id}}, f.debt_usd);
        for (const auto& [series, level] : b.price_breach_usd) {
          if (level) add_sample(breach, {{"borrower", b.id}, {"series", series}}, *level);
        }
        for (const auto& [scenario, ratios] : b.stress) {
          add_sample(stress_ltv, {{"borrower", b.id}, {"scenario", scenario}}, ratios.ltv);
          add_sample(stress_dscr, {{"borrower", b.id}, {"scenario", scenario}}, ratios.dscr);
        }
        add_sample(borrower_stale, {{"borrower", b.id}}, b.stale ? 1.0 : 0.0);
      }
      for (const alerts::AlertEvent& a : snap->active_alerts) {
        if (!a.firing) continue;
        if (!a.borrower.empty()) {
          // Per-borrower series follow the cardinality mode; every borrower with
          // an alert firing is an "alerting" borrower.
          if (mode == config::BorrowerSeries::none) continue;
        }
        add_sample(alert_active,
                   {{"borrower", a.borrower}, {"rule", a.rule}, {"severity", std::string(alerts::to_string(a.severity))}},
                   1.0);
      }
      for (const SeriesView& s : snap->series) {
        if (s.has_value) {
          add_sample(series_value, {{"series", s.id}}, s.value);
          add_sample(series_ts, {{"series", s.id}}, static_cast<double>(s.ts_ms) / 1000.0);
        }
        add_sample(series_stale, {{"series", s.id}}, s.stale ? 1.0 : 0.0);
      }
      for (std::size_t i = 0; i < risk::k_tick_outcome_count; ++i) {
        add_sample(ticks, {{"outcome", std::string(risk::to_string(static_cast<risk::TickOutcome>(i)))}},
                   static_cast<double>(snap->tick_counts[i]));
      }
      add_sample(updates, {{"outcome", "applied"}}, static_cast<double>(snap->borrower_updates_applied));
      add_sample(updates, {{"outcome", "rejected"}}, static_cast<double>(snap->borrower_updates_rejected));
      for (const PartitionLag& p : snap->lag) {
        add_sample(lag, {{"partition", std::to_string(p.partition)}, {"topic", p.topic}},
                   static_cast<double>(p.lag_messages));
      }
      add_sample(borrowers, {{"state", "evaluated"}}, static_cast<double>(snap->borrowers.size()));
      add_sample(borrowers, {{"state", "waiting"}}, static_cast<double>(snap->not_evaluated.size()));
      const double age_s = wall_clock_unix_s() - static_cast<double>(snap->published_at_ms) / 1000.0;
      add_sample(age, {}, age_s > 0.0 ? age_s : 0.0);
    }

    std::vector<MetricFamily> out;
    out.reserve(18);
    for (MetricFamily* f : {&ltv, &liq_ltv, &dscr, &collateral, &debt, &breach, &stress_ltv, &stress_dscr,
                            &borrower_stale, &alert_active, &series_value, &series_ts, &series_stale, &ticks,
                            &updates, &lag, &borrowers, &age}) {
      out.push_back(std::move(*f));
    }
    return out;
  }

 private:
  Metrics::SnapshotSource source_;
  std::atomic<config::BorrowerSeries> mode_;
};

prometheus::Histogram::BucketBoundaries latency_buckets() {
  // 10 µs .. 1 s, 1-2.5-5 per decade.
  return {1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3,
          1e-2, 2.5e-2, 5e-2, 0.1,  0.25,   0.5,  1.0};
}

}  // namespace

struct Metrics::Impl {
  Impl(SnapshotSource source, config::BorrowerSeries mode, const std::string& version)
      : registry(std::make_shared<prometheus::Registry>()),
        collector(std::move(source), mode),
        tick_to_evaluation(prometheus::BuildHistogram()
                               .Name("riskd_tick_to_evaluation_seconds")
                               .Help("Latency from a tick's timestamp to the end of its evaluation")
                               .Register(*registry)
                               .Add({}, latency_buckets())),
        reload_success(prometheus::BuildGauge()
                           .Name("riskd_config_last_reload_success")
                           .Help("1 if the last config (re)load succeeded, else 0")
                           .Register(*registry)
                           .Add({})),
        reload_timestamp(prometheus::BuildGauge()
                             .Name("riskd_config_last_reload_timestamp_seconds")
                             .Help("Unix time of the last successful config (re)load")
                             .Register(*registry)
                             .Add({})),
        notifications(prometheus::BuildCounter()
                          .Name("riskd_alert_notifications_total")
                          .Help("Alert notifications by sink and outcome")
                          .Register(*registry)) {
    prometheus::BuildGauge()
        .Name("riskd_build_info")
        .Help("Always 1; the riskd version as a label")
        .Register(*registry)
        .Add({{"version", version}})
        .Set(1.0);
    reload_success.Set(1.0);
    reload_timestamp.Set(wall_clock_unix_s());
  }

  std::shared_ptr<prometheus::Registry> registry;
  SnapshotCollector collector;
  prometheus::Histogram& tick_to_evaluation;
  prometheus::Gauge& reload_success;
  prometheus::Gauge& reload_timestamp;
  prometheus::Family<prometheus::Counter>& notifications;
};

Metrics::Metrics(SnapshotSource source, config::BorrowerSeries borrower_series, std::string version)
    : impl_(std::make_unique<Impl>(std::move(source), borrower_series, version)) {}

Metrics::~Metrics() = default;

void Metrics::set_borrower_series(config::BorrowerSeries mode) { impl_->collector.set_mode(mode); }

config::BorrowerSeries Metrics::borrower_series() const { return impl_->collector.mode(); }

void Metrics::observe(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0.0) return;
  impl_->tick_to_evaluation.Observe(seconds);
}

void Metrics::config_reloaded(bool ok, double unix_s) {
  impl_->reload_success.Set(ok ? 1.0 : 0.0);
  if (ok) impl_->reload_timestamp.Set(unix_s);
}

void Metrics::notification(std::string_view sink, std::string_view outcome) {
  impl_->notifications.Add({{"sink", std::string(sink)}, {"outcome", std::string(outcome)}}).Increment();
}

std::string Metrics::render() const {
  std::vector<MetricFamily> families = impl_->registry->Collect();
  std::vector<MetricFamily> from_snapshot = impl_->collector.Collect();
  families.insert(families.end(), std::make_move_iterator(from_snapshot.begin()),
                  std::make_move_iterator(from_snapshot.end()));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace riskd::daemon
