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

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <string_view>
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

// ---------------------------------------------------------------------------
// Per-borrower families, written as text by hand (the format of
// prometheus-cpp's TextSerializer: "%.16g", +Inf/-Inf/Nan, escaped label
// values) so that each borrower's lines are rendered once per view and the
// exposition is a concatenation (BorrowerView::metric_lines).

struct FamilyDef {
  const char* name;
  const char* help;
};

enum BorrowerFamily : std::size_t {
  f_ltv,
  f_liq_ltv,
  f_dscr,
  f_collateral,
  f_debt,
  f_breach,
  f_stress_ltv,
  f_stress_dscr,
  f_stale,
  f_alert_active,
  k_borrower_families
};

constexpr std::array<FamilyDef, k_borrower_families> k_borrower_family_defs{{
    {"riskd_borrower_ltv_ratio", "Loan-to-value on the mark (debt / mark collateral); +Inf when there is no collateral"},
    {"riskd_borrower_liquidation_ltv_ratio", "Loan-to-value on the liquidation value of the collateral"},
    {"riskd_borrower_dscr_ratio", "Debt service coverage ratio (CFADS / debt service); +Inf when there is no debt service"},
    {"riskd_borrower_collateral_usd", "Collateral value in USD by basis (mark or liquidation)"},
    {"riskd_borrower_debt_usd", "Outstanding principal in USD"},
    {"riskd_borrower_price_breach_usd", "Price of a crypto series (USD per coin) at which the borrower breaches its LTV covenant; absent when undefined"},
    {"riskd_borrower_stress_ltv_ratio", "Loan-to-value under a stress scenario"},
    {"riskd_borrower_stress_dscr_ratio", "DSCR under a stress scenario; +Inf when there is no debt service"},
    {"riskd_borrower_stale", "1 while a series the borrower needs is stale"},
    {"riskd_alert_active", "1 while the alert fires; feed rules have borrower=\"\""},
}};

void append_value(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "Nan";
  } else if (std::isinf(v)) {
    out += v < 0 ? "-Inf" : "+Inf";
  } else {
    std::array<char, 40> buf{};
    const int n = std::snprintf(buf.data(), buf.size(), "%.16g", v);  // what std::ostream writes at precision 16
    out.append(buf.data(), static_cast<std::size_t>(std::max(n, 0)));
  }
}

void append_label_value(std::string& out, std::string_view v) {
  for (const char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

void append_sample(std::string& out, std::string_view name, Labels labels, double value) {
  out += name;
  if (labels.size() > 0) {
    out += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out += ',';
      first = false;
      out += k;
      out += "=\"";
      append_label_value(out, v);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  append_value(out, value);
  out += '\n';
}

void append_header(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

/// The borrower's lines of every per-borrower family, rendered once per view.
const std::vector<std::string>& borrower_lines(const BorrowerView& b) {
  std::call_once(b.metric_lines_once, [&] {
    std::vector<std::string> lines(k_borrower_families);
    const auto name = [](BorrowerFamily f) { return std::string_view(k_borrower_family_defs[f].name); };
    const risk::Figures& f = b.figures;
    const std::string_view id = b.id();
    const ViewNames& names = *b.names;
    append_sample(lines[f_ltv], name(f_ltv), {{"borrower", id}}, f.ltv);
    append_sample(lines[f_liq_ltv], name(f_liq_ltv), {{"borrower", id}}, f.liquidation_ltv);
    append_sample(lines[f_dscr], name(f_dscr), {{"borrower", id}}, f.dscr);
    append_sample(lines[f_collateral], name(f_collateral), {{"basis", "mark"}, {"borrower", id}}, f.mark_usd);
    append_sample(lines[f_collateral], name(f_collateral), {{"basis", "liquidation"}, {"borrower", id}},
                  f.liquidation_usd);
    append_sample(lines[f_debt], name(f_debt), {{"borrower", id}}, f.debt_usd);
    for (const auto& [sid, level] : b.breach.price_usd) {
      if (level) {
        append_sample(lines[f_breach], name(f_breach), {{"borrower", id}, {"series", names.series[sid]}}, *level);
      }
    }
    for (std::size_t k = 0; k < b.stress.size(); ++k) {
      const std::string_view scenario = names.scenarios[k];
      const risk::StressRatios& ratios = b.stress[k];
      append_sample(lines[f_stress_ltv], name(f_stress_ltv), {{"borrower", id}, {"scenario", scenario}}, ratios.ltv);
      append_sample(lines[f_stress_dscr], name(f_stress_dscr), {{"borrower", id}, {"scenario", scenario}},
                    ratios.dscr);
    }
    append_sample(lines[f_stale], name(f_stale), {{"borrower", id}}, b.stale ? 1.0 : 0.0);
    for (const alerts::AlertEvent& a : b.firing_alerts()) {
      if (!a.firing) continue;
      append_sample(lines[f_alert_active], name(f_alert_active),
                    {{"borrower", a.borrower}, {"rule", a.rule}, {"severity", alerts::to_string(a.severity)}}, 1.0);
    }
    b.metric_lines = std::move(lines);
  });
  return b.metric_lines;
}

/// Worst first: severity, then how far past the threshold, then id.
bool worse(const BorrowerView* a, const BorrowerView* b) {
  if (a->worst_severity != b->worst_severity) return a->worst_severity > b->worst_severity;
  if (a->breach_depth != b->breach_depth) return a->breach_depth > b->breach_depth;
  return a->id() < b->id();
}

/// The borrowers whose per-borrower series are exported, and how many
/// alerting borrowers the cap left out.
std::vector<const BorrowerView*> exported_borrowers(const Snapshot& snap, config::BorrowerSeries mode,
                                                    std::size_t cap, std::size_t& omitted) {
  std::vector<const BorrowerView*> out;
  omitted = 0;
  switch (mode) {
    case config::BorrowerSeries::none: return out;
    case config::BorrowerSeries::all:
      out.reserve(snap.borrowers.size());
      snap.borrowers.for_each([&](const BorrowerView& b) { out.push_back(&b); });
      return out;
    case config::BorrowerSeries::alerting: break;
  }
  snap.borrowers.for_each([&](const BorrowerView& b) {
    if (b.alerting()) out.push_back(&b);
  });
  const auto worse_ordered = [](const BorrowerView* a, const BorrowerView* b) { return worse(a, b); };
  if (out.size() > cap) {
    omitted = out.size() - cap;
    std::nth_element(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(cap), out.end(), worse_ordered);
    out.resize(cap);
  }
  std::sort(out.begin(), out.end(), worse_ordered);
  return out;
}

/// Turns the snapshot of the moment into the per-borrower and per-series
/// families. Stateless between scrapes (per-view caches aside); thread-safe
/// if the source is.
class SnapshotCollector {
 public:
  SnapshotCollector(Metrics::SnapshotSource source, config::BorrowerSeries mode)
      : source_(std::move(source)), mode_(mode) {}

  void set_mode(config::BorrowerSeries mode) { mode_.store(mode, std::memory_order_relaxed); }
  [[nodiscard]] config::BorrowerSeries mode() const { return mode_.load(std::memory_order_relaxed); }
  void set_cap(std::size_t cap) { cap_.store(cap, std::memory_order_relaxed); }
  [[nodiscard]] std::size_t cap() const { return cap_.load(std::memory_order_relaxed); }

  /// Appends the per-borrower families as text and returns the others as
  /// families for the TextSerializer.
  std::vector<MetricFamily> collect(std::string& text) const {
    const SnapshotPtr snap = source_ ? source_() : nullptr;
    const config::BorrowerSeries mode = this->mode();

    std::size_t omitted = 0;
    const std::vector<const BorrowerView*> exported =
        snap ? exported_borrowers(*snap, mode, cap(), omitted) : std::vector<const BorrowerView*>{};
    for (std::size_t f = 0; f < k_borrower_families; ++f) {
      append_header(text, k_borrower_family_defs[f].name, k_borrower_family_defs[f].help, "gauge");
      if (f == f_alert_active && snap) {
        // Feed rules have no borrower: always exported.
        for (const alerts::AlertEvent& a : snap->active_alerts.feed) {
          if (!a.firing) continue;
          append_sample(text, k_borrower_family_defs[f].name,
                        {{"borrower", a.borrower}, {"rule", a.rule}, {"severity", alerts::to_string(a.severity)}}, 1.0);
        }
      }
      for (const BorrowerView* b : exported) text += borrower_lines(*b)[f];
    }

    auto omitted_family = make_family("riskd_metrics_borrowers_omitted",
                                      "Borrowers with an alert firing left out of the per-borrower families by the "
                                      "borrower_series: alerting cap (the worst are kept)",
                                      MetricType::Gauge);
    auto series_value = make_family("riskd_series_value", "Latest applied value of the series, in its kind's unit", MetricType::Gauge);
    auto series_ts = make_family("riskd_series_last_event_timestamp_seconds", "Event time of the series' newest applied tick, Unix seconds", MetricType::Gauge);
    auto series_stale = make_family("riskd_series_stale", "1 while feed_stale fires for the series", MetricType::Gauge);
    auto ticks = make_family("riskd_ticks_total", "Market ticks by outcome", MetricType::Counter);
    auto updates = make_family("riskd_borrower_updates_total", "Borrower topic documents by outcome", MetricType::Counter);
    auto lag = make_family("riskd_kafka_consumer_lag_messages", "Consumer lag per partition, in messages", MetricType::Gauge);
    auto borrowers = make_family("riskd_borrowers", "Borrowers in the book by state (evaluated, or waiting for a series)", MetricType::Gauge);
    auto age = make_family("riskd_snapshot_age_seconds", "Wall-clock age of the published state", MetricType::Gauge);

    if (snap) {
      add_sample(omitted_family, {}, static_cast<double>(omitted));
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
    out.reserve(9);
    for (MetricFamily* f :
         {&omitted_family, &series_value, &series_ts, &series_stale, &ticks, &updates, &lag, &borrowers, &age}) {
      out.push_back(std::move(*f));
    }
    return out;
  }

 private:
  Metrics::SnapshotSource source_;
  std::atomic<config::BorrowerSeries> mode_;
  std::atomic<std::size_t> cap_{Metrics::k_default_max_alerting_borrowers};
};

prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {k_tick_latency_buckets_s.begin(), k_tick_latency_buckets_s.end()};
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
                          .Register(*registry)),
        stream_clients(prometheus::BuildGauge()
                           .Name("riskd_stream_clients")
                           .Help("Clients connected to /api/v1/stream")
                           .Register(*registry)
                           .Add({})),
        stream_clients_dropped(prometheus::BuildCounter()
                                   .Name("riskd_stream_clients_dropped_total")
                                   .Help("/api/v1/stream clients dropped for falling behind the updates")
                                   .Register(*registry)
                                   .Add({})) {
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
  prometheus::Gauge& stream_clients;
  prometheus::Counter& stream_clients_dropped;
  std::mutex stream_mutex;  // one raise of stream_clients_dropped at a time
};

Metrics::Metrics(SnapshotSource source, config::BorrowerSeries borrower_series, std::string version)
    : impl_(std::make_unique<Impl>(std::move(source), borrower_series, version)) {}

Metrics::~Metrics() = default;

void Metrics::set_borrower_series(config::BorrowerSeries mode) { impl_->collector.set_mode(mode); }

void Metrics::set_max_alerting_borrowers(std::size_t count) { impl_->collector.set_cap(count); }

std::size_t Metrics::max_alerting_borrowers() const { return impl_->collector.cap(); }

config::BorrowerSeries Metrics::borrower_series() const { return impl_->collector.mode(); }

void Metrics::observe(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0.0) return;
  impl_->tick_to_evaluation.Observe(seconds);
}

void Metrics::observe(const TickLatencyTally& tally) {
  if (tally.empty()) return;
  const std::vector<double> increments(tally.counts().begin(), tally.counts().end());
  impl_->tick_to_evaluation.ObserveMultiple(increments, tally.sum_s());
}

void Metrics::config_reloaded(bool ok, double unix_s) {
  impl_->reload_success.Set(ok ? 1.0 : 0.0);
  if (ok) impl_->reload_timestamp.Set(unix_s);
}

void Metrics::notification(std::string_view sink, std::string_view outcome) {
  impl_->notifications.Add({{"sink", std::string(sink)}, {"outcome", std::string(outcome)}}).Increment();
}

void Metrics::stream_clients(std::size_t connected, std::uint64_t dropped_total) {
  impl_->stream_clients.Set(static_cast<double>(connected));
  const std::lock_guard lock(impl_->stream_mutex);
  const double raise = static_cast<double>(dropped_total) - impl_->stream_clients_dropped.Value();
  if (raise > 0.0) impl_->stream_clients_dropped.Increment(raise);
}

std::string Metrics::render() const {
  std::vector<MetricFamily> families = impl_->registry->Collect();
  std::string borrower_text;
  std::vector<MetricFamily> from_snapshot = impl_->collector.collect(borrower_text);
  families.insert(families.end(), std::make_move_iterator(from_snapshot.begin()),
                  std::make_move_iterator(from_snapshot.end()));
  std::string text = prometheus::TextSerializer().Serialize(families);
  text += borrower_text;
  return text;
}

}  // namespace riskd::daemon
