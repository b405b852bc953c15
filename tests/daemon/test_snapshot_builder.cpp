// Incremental publication (issue 5 item 4): on random books and random tick
// paths, with upserts, removals, restored alert states and a config reload
// (a new engine) along the way, every snapshot of the incremental
// SnapshotBuilder equals build_snapshot() from scratch on the same engine:
// every borrower view (JSON, figures, breach levels, stress, firing alerts,
// stale, rank), the active alerts, the waiting borrowers, the series, the
// metrics exposition and the stream messages.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../support/random_book.hpp"
#include "riskd/daemon/engine.hpp"
#include "riskd/daemon/metrics.hpp"
#include "riskd/daemon/snapshot_builder.hpp"
#include "riskd/daemon/stream_hub.hpp"

using namespace riskd;

namespace {

const risk::TimeMs k_t0 = *risk::parse_date("2025-12-19");

bool same(double a, double b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

void check_same_alerts(const daemon::AlertList& got, const daemon::AlertList& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    INFO("alert ", want[k].key);
    CHECK(got[k].key == want[k].key);
    CHECK(got[k].borrower == want[k].borrower);
    CHECK(got[k].rule == want[k].rule);
    CHECK(got[k].severity == want[k].severity);
    CHECK(got[k].firing == want[k].firing);
    CHECK(got[k].seq == want[k].seq);
    CHECK(got[k].at_ms == want[k].at_ms);
    CHECK(same(got[k].value, want[k].value));
    CHECK(same(got[k].threshold, want[k].threshold));
  }
}

/// The exposition without its wall-clock lines.
std::string metrics_text(const daemon::SnapshotPtr& snap, config::BorrowerSeries mode, std::size_t cap) {
  daemon::Metrics m([snap] { return snap; }, mode, "test");
  m.set_max_alerting_borrowers(cap);
  std::istringstream in(m.render());
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("riskd_snapshot_age_seconds ", 0) == 0) continue;
    if (line.rfind("riskd_config_last_reload_timestamp_seconds ", 0) == 0) continue;  // construction time
    out += line;
    out += '\n';
  }
  return out;
}

void check_same_snapshot(const daemon::Snapshot& got, const daemon::Snapshot& want, daemon::Engine& e) {
  CHECK(got.event_time_ms == want.event_time_ms);
  CHECK(got.valuation_day_ms == want.valuation_day_ms);
  CHECK(got.not_evaluated == want.not_evaluated);
  CHECK(got.not_ready_reasons == want.not_ready_reasons);
  REQUIRE(got.borrowers.size() == want.borrowers.size());
  for (std::size_t i = 0; i < want.borrowers.size(); ++i) {
    const daemon::BorrowerView& a = got.borrowers[i];
    const daemon::BorrowerView& b = want.borrowers[i];
    INFO("borrower ", b.id);
    REQUIRE(a.id == b.id);
    CHECK(a.json == b.json);
    CHECK(same(a.figures.ltv, b.figures.ltv));
    CHECK(same(a.figures.dscr, b.figures.dscr));
    CHECK(same(a.figures.mark_usd, b.figures.mark_usd));
    CHECK(same(a.figures.liquidation_ltv, b.figures.liquidation_ltv));
    REQUIRE(a.price_breach_usd.size() == b.price_breach_usd.size());
    for (std::size_t k = 0; k < b.price_breach_usd.size(); ++k) {
      CHECK(a.price_breach_usd[k].first == b.price_breach_usd[k].first);
      CHECK(a.price_breach_usd[k].second.has_value() == b.price_breach_usd[k].second.has_value());
      if (b.price_breach_usd[k].second) CHECK(same(*a.price_breach_usd[k].second, *b.price_breach_usd[k].second));
    }
    REQUIRE(a.stress.size() == b.stress.size());
    for (std::size_t k = 0; k < b.stress.size(); ++k) {
      CHECK(a.stress[k].first == b.stress[k].first);
      CHECK(same(a.stress[k].second.ltv, b.stress[k].second.ltv));
      CHECK(same(a.stress[k].second.dscr, b.stress[k].second.dscr));
    }
    check_same_alerts(a.firing_alerts(), b.firing_alerts());
    CHECK(a.stale == b.stale);
    CHECK(a.worst_severity == b.worst_severity);
    CHECK(same(a.breach_depth, b.breach_depth));
    CHECK(got.find(b.id) == &a);
  }
  const daemon::AlertList active = got.active_alert_list();
  CHECK(got.active_alerts.count == active.size());
  check_same_alerts(active, want.active_alert_list());
  check_same_alerts(active, e.active_alerts());  // the engine's own sorted list
  REQUIRE(got.series.size() == want.series.size());
  for (std::size_t s = 0; s < want.series.size(); ++s) {
    CHECK(got.series[s].id == want.series[s].id);
    CHECK(same(got.series[s].value, want.series[s].value));
    CHECK(got.series[s].stale == want.series[s].stale);
  }
}

struct Path {
  risk::RiskConfig config;
  std::vector<feeds::Tick> ticks;
};

Path random_path(std::uint64_t seed, std::size_t borrowers, std::size_t ticks) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  Path p;
  risk::RiskConfig& cfg = p.config;
  for (const auto& [settings, series] : test::random_series()) cfg.series[series.first] = settings;
  cfg.series["GPU-A100"].stale_after_s = 3 * 3600;  // feed_stale fires and resolves in event time
  cfg.alerting.for_s = seed % 2 == 0 ? 0.0 : 600.0;
  cfg.alerting.ltv_hysteresis = 0.01;
  cfg.alerting.warn_ltv_margin = 0.05;
  cfg.scenarios = {risk::Scenario{"btc_crash", {{"BTC-USD", -0.6}}},
                   risk::Scenario{"rent_collapse", {{"@gpu_rent", -0.5}, {"@spread", 250.0}}}};
  for (std::size_t i = 0; i < borrowers; ++i) {
    risk::BorrowerSpec b = test::random_borrower(rng, k_t0, "b" + std::to_string(i));
    b.covenants.max_ltv = 0.2 + 1.2 * u01(rng);  // near the ratios: rules fire and resolve
    cfg.borrowers.push_back(std::move(b));
  }
  std::vector<std::pair<std::string, double>> level;
  for (const auto& [settings, series] : test::random_series()) level.push_back(series);
  risk::TimeMs ts = k_t0 + 3600 * 1000;
  for (const auto& [id, v] : level) p.ticks.push_back(feeds::Tick{id, v, ts});
  std::normal_distribution<double> step(0.0, 0.03);
  for (std::size_t k = 0; k < ticks; ++k) {
    ts += static_cast<risk::TimeMs>(1000 * (1 + 120 * u01(rng)));
    if (u01(rng) < 0.004) ts += risk::k_ms_per_day;  // day roll
    const double which = u01(rng);
    // Mostly BTC; GPU-A100 rarely, so that it goes stale and recovers.
    const std::size_t s = which < 0.6 ? 0 : which < 0.8 ? 1 : which < 0.82 ? 2 : 3 + static_cast<std::size_t>(u01(rng) * 3.999);
    auto& [id, v] = level[std::min(s, level.size() - 1)];
    if (id == "SOFR" || id == "SPREAD") {
      v = std::max(1.0, v + (u01(rng) < 0.5 ? -25.0 : 25.0));
    } else {
      v *= std::exp(step(rng));
    }
    p.ticks.push_back(feeds::Tick{id, v, ts});
  }
  return p;
}

}  // namespace

TEST_CASE("incremental snapshots equal from-scratch snapshots on random books, updates and reloads") {
  std::size_t builds = 0;
  std::size_t partial_builds = 0;  // incremental builds that rebuilt fewer views than the book has
  std::size_t stale_flips = 0;
  std::size_t stream_checks = 0;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    INFO("seed ", seed);
    const Path path = random_path(seed, 40, 1500);
    std::mt19937_64 rng(seed * 101);
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    auto engine = std::make_unique<daemon::Engine>(path.config, daemon::StalenessClock::event_time);
    daemon::SnapshotBuilder builder;
    daemon::SnapshotPtr prev_incremental;
    daemon::SnapshotPtr prev_scratch;
    bool prev_stale = false;
    std::vector<alerts::AlertEvent> events;
    std::size_t extra = 0;
    for (std::size_t k = 0; k < path.ticks.size(); ++k) {
      events.clear();
      engine->apply_tick(path.ticks[k], events);
      const double r = u01(rng);
      if (r < 0.004) {  // a borrower replaced (new covenants) or added
        risk::BorrowerSpec b = test::random_borrower(rng, k_t0, u01(rng) < 0.5 ? "b3" : "x" + std::to_string(extra++));
        b.covenants.max_ltv = 0.3 + u01(rng);
        engine->upsert_borrower(b);
      } else if (r < 0.006) {
        engine->remove_borrower("b" + std::to_string(static_cast<int>(u01(rng) * 40)));
      } else if (r < 0.007) {  // the alert states restored as they are
        engine->restore_alert_states(engine->alert_states(), engine->last_events());
      } else if (r < 0.008) {  // a config reload: a new engine takes over the market
        auto fresh = std::make_unique<daemon::Engine>(path.config, daemon::StalenessClock::event_time);
        fresh->adopt_market(*engine);
        fresh->restore_alert_states(engine->alert_states(), engine->last_events());
        engine = std::move(fresh);
      }
      if (u01(rng) > 0.15) continue;  // publish now and then
      const daemon::SnapshotPtr got = builder.build(*engine, k, 0);
      const daemon::SnapshotPtr want = daemon::build_snapshot(*engine, k, 0);
      ++builds;
      if (!builder.last_was_full() && builder.last_rebuilt() < got->borrowers.size()) ++partial_builds;
      bool any_stale = false;
      for (const auto& s : want->series) any_stale = any_stale || s.stale;
      if (any_stale != prev_stale) ++stale_flips;
      prev_stale = any_stale;
      check_same_snapshot(*got, *want, *engine);
      if (k % 5 == 0) {
        for (const std::size_t cap : {std::size_t{3}, std::size_t{5'000}}) {
          CHECK(metrics_text(got, config::BorrowerSeries::alerting, cap) ==
                metrics_text(want, config::BorrowerSeries::alerting, cap));
        }
        CHECK(metrics_text(got, config::BorrowerSeries::all, 3) == metrics_text(want, config::BorrowerSeries::all, 3));
      }
      if (prev_incremental) {  // the stream sends what changed, judged by pointers, as by JSON
        const auto a = daemon::stream_messages(prev_incremental.get(), *got);
        const auto b = daemon::stream_messages(prev_scratch.get(), *want);
        REQUIRE(a.size() == b.size());
        for (std::size_t m = 0; m < a.size(); ++m) CHECK(*a[m] == *b[m]);
        ++stream_checks;
      }
      prev_incremental = got;
      prev_scratch = want;
    }
  }
  MESSAGE(builds, " builds, ", partial_builds, " partial, ", stale_flips, " stale flips, ", stream_checks,
          " stream diffs");
  CHECK(builds > 500);
  CHECK(partial_builds > builds / 4);  // the builder really is incremental
  CHECK(stale_flips > 0);              // staleness flips were exercised
}

TEST_CASE("an unchanged engine republishes the same views, chunks and layout") {
  const Path path = random_path(7, 600, 50);
  daemon::Engine e(path.config, daemon::StalenessClock::event_time);
  std::vector<alerts::AlertEvent> events;
  for (const auto& t : path.ticks) e.apply_tick(t, events);
  daemon::SnapshotBuilder builder;
  const daemon::SnapshotPtr first = builder.build(e, 1, 0);
  CHECK(builder.last_was_full());
  const daemon::SnapshotPtr second = builder.build(e, 2, 0);
  CHECK_FALSE(builder.last_was_full());
  CHECK(builder.last_rebuilt() == 0);
  REQUIRE(first->borrowers.size() == second->borrowers.size());
  REQUIRE(first->borrowers.size() > daemon::BorrowerList::k_chunk);
  CHECK(first->layout == second->layout);
  for (std::size_t c = 0; c < first->borrowers.chunk_count(); ++c) CHECK(second->borrowers.same_chunk(first->borrowers, c));
  CHECK(daemon::stream_messages(first.get(), *second).empty());
  // A GPU index tick changes only that index's dependents.
  events.clear();
  e.apply_tick(feeds::Tick{"GPU-A100", 1.7, e.event_time_ms() + 1000}, events);
  const daemon::SnapshotPtr third = builder.build(e, 3, 0);
  CHECK_FALSE(builder.last_was_full());
  CHECK(builder.last_rebuilt() > 0);
  CHECK(builder.last_rebuilt() < third->borrowers.size());
  std::size_t shared = 0;
  for (std::size_t i = 0; i < third->borrowers.size(); ++i) shared += third->borrowers.ptr(i) == second->borrowers.ptr(i);
  CHECK(shared == third->borrowers.size() - builder.last_rebuilt());
  // The published snapshot is untouched by later builds.
  for (std::size_t i = 0; i < second->borrowers.size(); ++i) CHECK(second->borrowers.ptr(i) == first->borrowers.ptr(i));
}
