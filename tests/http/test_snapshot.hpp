#pragma once
// A hand-built Snapshot for the HTTP and metrics tests: two evaluated
// borrowers (miner-a with an ltv_warning firing; gpu-b with no debt service,
// so an infinite DSCR), one waiting borrower, a firing feed_stale alert, and
// three series (one without a value).
#include <memory>
#include <string>
#include <vector>

#include "riskd/daemon/snapshot.hpp"
#include "riskd/risk/json_text.hpp"
#include "riskd/risk/market.hpp"
#include "riskd/risk/time.hpp"

namespace riskd::test {

inline constexpr risk::TimeMs k_event_time_ms = 1'766'138'400'123;  // 2025-12-19T10:00:00.123Z

/// The borrower object of a view written independently of BorrowerView::json
/// (with JsonText, as write_borrower does): the tests' expected text.
inline std::string borrower_json(const daemon::BorrowerView& b) {
  risk::JsonText out;
  const risk::Figures& f = b.figures;
  const daemon::ViewNames& names = *b.names;
  out.begin_object();
  out.key("id").string(b.id());
  out.key("ltv").number(f.ltv);
  out.key("liquidation_ltv").number(f.liquidation_ltv);
  out.key("dscr").number(f.dscr);
  out.key("debt_usd").number(f.debt_usd);
  out.key("cfads_usd").number(f.cfads_usd);
  out.key("debt_service_usd").number(f.debt_service_usd);
  out.key("collateral").begin_object();
  out.key("crypto_usd").number(f.crypto_usd);
  out.key("gpu_usd").number(f.gpu_usd);
  out.key("cash_usd").number(f.cash_usd);
  out.key("mark_usd").number(f.mark_usd);
  out.key("liquidation_usd").number(f.liquidation_usd);
  out.end_object();
  out.key("breach").begin_object().key("price").begin_object();
  for (const auto& [sid, level] : b.breach.price_usd) out.key(names.series[sid]).number(level);
  out.end_object().key("gpu_index").begin_object();
  for (const auto& [sid, level] : b.breach.gpu_index_usd_per_gpu_hour) out.key(names.series[sid]).number(level);
  out.end_object().key("spread_bps").number(b.breach.spread_bps).end_object();
  out.key("stress").begin_object();
  for (std::size_t k = 0; k < b.stress.size(); ++k) {
    const risk::StressRatios& r = b.stress[k];
    out.key(names.scenarios[k]).begin_object();
    out.key("ltv").number(r.ltv).key("liquidation_ltv").number(r.liquidation_ltv).key("dscr").number(r.dscr);
    out.end_object();
  }
  out.end_object();
  out.key("alerts").begin_array();
  for (const auto& a : b.firing_alerts()) {
    out.begin_object().key("rule").string(a.rule).key("severity").string(alerts::to_string(a.severity)).end_object();
  }
  out.end_array();
  out.end_object();
  return out.take();
}

inline alerts::AlertEvent firing_event(std::string key, std::string borrower, std::string rule,
                                       alerts::Severity severity, double value, double threshold) {
  alerts::AlertEvent e;
  e.key = std::move(key);
  e.borrower = std::move(borrower);
  e.rule = std::move(rule);
  e.severity = severity;
  e.firing = true;
  e.value = value;
  e.threshold = threshold;
  e.at_ms = k_event_time_ms - 60'000;
  e.seq = 1;
  return e;
}

/// Name tables of a hand-built view: its id and the series and scenario
/// names its breach levels and stress ratios refer to by index.
inline daemon::ViewNamesPtr view_names(std::string id, std::vector<std::string> series,
                                       std::vector<std::string> scenarios) {
  auto n = std::make_shared<daemon::ViewNames>();
  n->ids = {std::move(id)};
  n->series = std::move(series);
  n->scenarios = std::move(scenarios);
  return n;
}

/// Gives view `v` the id `id` (new name tables, the same series and scenarios).
inline void set_id(daemon::BorrowerView& v, std::string id) {
  v.names = view_names(std::move(id), v.names->series, v.names->scenarios);
  v.name_index = 0;
}

/// Renames scenario `k` of view `v` (new name tables).
inline void set_scenario_name(daemon::BorrowerView& v, std::size_t k, std::string name) {
  auto n = std::make_shared<daemon::ViewNames>(*v.names);
  n->scenarios.at(k) = std::move(name);
  v.names = std::move(n);
}

/// A copy of `v` (without its rendered caches) that the caller may edit.
inline std::shared_ptr<daemon::BorrowerView> copy_view(const daemon::BorrowerView& v) {
  auto c = std::make_shared<daemon::BorrowerView>();
  c->names = v.names;
  c->name_index = v.name_index;
  c->figures = v.figures;
  c->breach = v.breach;
  c->stress = v.stress;
  c->firing = v.firing;
  c->stale = v.stale;
  c->worst_severity = v.worst_severity;
  c->breach_depth = v.breach_depth;
  return c;
}

/// Replaces borrower `i` of `s` by a copy and returns it for editing (other
/// snapshots sharing the view or its chunk are unaffected).
inline daemon::BorrowerView& edit_borrower(daemon::Snapshot& s, std::size_t i) {
  auto c = copy_view(s.borrowers[i]);
  daemon::BorrowerView& ref = *c;
  s.borrowers.set(i, std::move(c));
  return ref;
}

/// Replaces the borrower list of `s` (the layout is dropped: find() scans).
inline void set_borrowers(daemon::Snapshot& s, const std::vector<daemon::BorrowerViewPtr>& views) {
  s.borrowers = daemon::BorrowerList(views);
  s.layout = nullptr;
}

inline std::shared_ptr<daemon::Snapshot> make_snapshot(bool ready = true) {
  auto s = std::make_shared<daemon::Snapshot>();
  s->version = 7;
  s->event_time_ms = k_event_time_ms;
  s->valuation_day_ms = risk::valuation_day_ms(k_event_time_ms);
  s->published_at_ms = k_event_time_ms;

  auto a_ptr = std::make_shared<daemon::BorrowerView>();
  daemon::BorrowerView& a = *a_ptr;
  a.names = view_names("miner-a", {"BTC-USD", "ETH-USD"}, {"btc_crash", "correlation_convergence"});
  a.figures.ltv = 0.6675;
  a.figures.liquidation_ltv = 0.95;
  a.figures.dscr = 1.41;
  a.figures.debt_usd = 1.25e9;
  a.figures.cfads_usd = 4.1e8;
  a.figures.debt_service_usd = 2.9e8;
  a.figures.crypto_usd = 4.5e8;
  a.figures.gpu_usd = 1.5e9;
  a.figures.cash_usd = 2.5e7;
  a.figures.mark_usd = 1.975e9;
  a.figures.liquidation_usd = 1.3e9;
  a.breach.price_usd = {{0, 54000.0}, {1, std::nullopt}};
  a.stress = {{0.9, 1.4, 0.8}, {0.95, 1.5, 0.7}};
  a.firing = std::make_shared<const daemon::AlertList>(daemon::AlertList{
      firing_event("miner-a/ltv_warning", "miner-a", "ltv_warning", alerts::Severity::warning, 0.6675, 0.65)});
  a.worst_severity = alerts::Severity::warning;
  a.breach_depth = (0.6675 - 0.65) / 0.65;

  auto b_ptr = std::make_shared<daemon::BorrowerView>();
  daemon::BorrowerView& b = *b_ptr;
  b.names = view_names("gpu-b", {"GPU-H100-USD-HR"}, {"correlation_convergence"});
  b.figures.ltv = 0.25;
  b.figures.liquidation_ltv = 0.4;
  b.figures.dscr = risk::k_infinity;  // no debt service
  b.figures.debt_usd = 1e8;
  b.figures.gpu_usd = 4e8;
  b.figures.mark_usd = 4e8;
  b.figures.liquidation_usd = 2.5e8;
  b.breach.gpu_index_usd_per_gpu_hour = {{0, 1.05}};
  b.stress = {{0.5, 0.8, risk::k_infinity}};
  b.stale = true;

  s->borrowers = daemon::BorrowerList({a_ptr, b_ptr});
  auto layout = std::make_shared<daemon::BorrowerLayout>();
  layout->ids = {"miner-a", "gpu-b"};
  layout->index = {{"miner-a", 0}, {"gpu-b", 1}};
  s->layout = std::move(layout);
  s->not_evaluated = {"waiting-c"};
  s->set_active_alerts({firing_event("feed_stale:HASHPRICE", "", "feed_stale", alerts::Severity::warning, 900.0, 600.0),
                        a.firing->front()});

  daemon::SeriesView btc;
  btc.id = "BTC-USD";
  btc.kind = risk::SeriesKind::price;
  btc.has_value = true;
  btc.value = 87250.5;
  btc.ts_ms = k_event_time_ms;
  btc.stale_after_s = 60.0;
  btc.counts = {120, 1, 2, 3, 4, 0};
  daemon::SeriesView gpu;
  gpu.id = "GPU-H100-USD-HR";
  gpu.kind = risk::SeriesKind::gpu_rent;
  gpu.has_value = true;
  gpu.value = 2.1;
  gpu.ts_ms = k_event_time_ms - 30'000;
  gpu.counts = {10, 0, 0, 0, 0, 0};
  daemon::SeriesView hash;
  hash.id = "HASHPRICE";
  hash.kind = risk::SeriesKind::hashprice;
  hash.stale = true;
  s->series = {btc, gpu, hash};
  s->tick_counts = {130, 1, 2, 3, 4, 5};
  s->borrower_updates_applied = 3;
  s->borrower_updates_rejected = 1;
  s->ready = ready;
  if (!ready) s->not_ready_reasons = {"kafka: not connected", "series HASHPRICE has no value (needed by miner-a)"};
  s->lag = {{"md.crypto", 0, 12}, {"md.gpu", 3, 0}};
  return s;
}

}  // namespace riskd::test
