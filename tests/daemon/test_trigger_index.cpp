// Exactness of the trigger index: on random books and random tick paths the
// indexed engine emits exactly the events of the brute-force engine (every
// field), and after refresh_results() reports exactly the same figures.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "../support/random_book.hpp"
#include "riskd/daemon/engine.hpp"
#include "riskd/risk/trigger_index.hpp"

using namespace riskd;

namespace {

const risk::TimeMs k_t0 = *risk::parse_date("2025-12-19");

struct Case {
  risk::RiskConfig config;
  std::vector<std::string> ticks;
  std::vector<risk::BorrowerSpec> upserts;  // applied between tick batches
};

/// A random book (for_s, hysteresis, scenarios, mining, floating facilities)
/// and a random path: coin random walks with jumps, GPU/rate/hashprice ticks,
/// day rolls, out-of-order, outlier, rejected and unknown ticks.
Case random_case(std::uint64_t seed, std::size_t borrowers, std::size_t ticks) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  Case c;
  risk::RiskConfig& cfg = c.config;
  for (const auto& [settings, series] : test::random_series()) cfg.series[series.first] = settings;
  cfg.series["ETH-USD"].max_jump = 0.15;            // outliers held and confirmed
  cfg.series["GPU-A100"].stale_after_s = 3 * 3600;  // feed_stale in event time
  const double for_choices[] = {0.0, 0.0, 30.0, 600.0};
  cfg.alerting.for_s = for_choices[seed % 4];
  cfg.alerting.ltv_hysteresis = u01(rng) < 0.5 ? 0.0 : 0.02 * u01(rng);
  cfg.alerting.dscr_hysteresis = u01(rng) < 0.5 ? 0.0 : 0.05 * u01(rng);
  cfg.alerting.warn_ltv_margin = 0.1 * u01(rng);
  cfg.alerting.warn_dscr_margin = 0.2 * u01(rng);
  cfg.scenarios = {risk::Scenario{"btc_crash", {{"BTC-USD", -0.6}}},
                   risk::Scenario{"rent_collapse", {{"@gpu_rent", -0.5}, {"@spread", 250.0}}}};
  // A shock past -100 % makes the scenario price fall as the coin rises: the
  // index must leave such borrowers on the brute-force path.
  if (seed % 3 == 0) cfg.scenarios.push_back(risk::Scenario{"inverted", {{"ETH-USD", -1.5}}});
  for (std::size_t i = 0; i < borrowers; ++i) {
    risk::BorrowerSpec b = test::random_borrower(rng, k_t0, "b" + std::to_string(i));
    // Covenants near the current ratios so that the path crosses them often.
    b.covenants.max_ltv = 0.2 + 1.2 * u01(rng);
    if (i % 7 == 3) b.facilities.clear();  // no debt: ratios 0 / +inf
    cfg.borrowers.push_back(std::move(b));
  }
  for (std::size_t i = 0; i < 3; ++i) {
    risk::BorrowerSpec b = test::random_borrower(rng, k_t0, i == 0 ? "b1" : "late" + std::to_string(i));
    c.upserts.push_back(std::move(b));
  }

  std::vector<std::pair<std::string, double>> level;
  for (const auto& [settings, series] : test::random_series()) level.push_back(series);
  risk::TimeMs ts = k_t0 + 3600 * 1000;
  std::normal_distribution<double> step(0.0, 0.01);
  auto line = [](const std::string& series, double value, risk::TimeMs t) {
    char buf[200];
    std::snprintf(buf, sizeof buf, R"({"series": "%s", "value": %.17g, "ts": %lld})", series.c_str(), value,
                  static_cast<long long>(t));
    return std::string(buf);
  };
  for (std::size_t k = 0; k < ticks; ++k) {
    const double r = u01(rng);
    if (k < level.size()) {  // every series gets a value early on, in a random-ish order
      const auto& [id, v] = level[(k * 3) % level.size()];
      c.ticks.push_back(line(id, v, ts));
      continue;
    }
    ts += static_cast<risk::TimeMs>(1000 * (1 + 60 * u01(rng)));
    if (r < 0.003) ts += risk::k_ms_per_day;  // day roll
    if (r < 0.01) {
      c.ticks.push_back(line("BTC-USD", level[0].second, ts - 3600 * 1000));  // out of order
    } else if (r < 0.015) {
      c.ticks.push_back(line("BTC-USD", -1.0, ts));  // rejected value
    } else if (r < 0.02) {
      c.ticks.push_back(line("DOGE-USD", 0.1, ts));  // unknown series
    } else if (r < 0.05) {
      const bool noise = u01(rng) < 0.5;  // an ETH outlier, then noise or a confirming tick
      c.ticks.push_back(line("ETH-USD", level[1].second * 1.4, ts));
      if (!noise) level[1].second *= 1.4;
      c.ticks.push_back(line("ETH-USD", level[1].second * (1 + 0.01 * u01(rng)), ts + 1));
    } else {
      std::size_t s = 0;
      const double which = u01(rng);
      if (which < 0.6) {
        s = 0;
      } else if (which < 0.8) {
        s = 1;
      } else {
        s = 2 + static_cast<std::size_t>(u01(rng) * 4.999);
      }
      auto& [id, v] = level[s];
      if (id == "SOFR" || id == "SPREAD") {
        v = std::max(1.0, v + (u01(rng) < 0.5 ? -25.0 : 25.0));
      } else {
        const double jump = u01(rng) < 0.03 ? (u01(rng) < 0.5 ? 0.7 : 1.35) : 1.0;
        v *= jump * std::exp(s < 2 ? 3.0 * step(rng) : step(rng));
      }
      c.ticks.push_back(line(id, v, ts));
    }
  }
  return c;
}

void check_same_events(const std::vector<alerts::AlertEvent>& got, const std::vector<alerts::AlertEvent>& want,
                       std::size_t tick) {
  REQUIRE_MESSAGE(got.size() == want.size(), "tick ", tick, ": ", got.size(), " events vs ", want.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    const auto& a = got[k];
    const auto& b = want[k];
    INFO("tick ", tick, " event ", k, " key ", b.key);
    CHECK(a.key == b.key);
    CHECK(a.borrower == b.borrower);
    CHECK(a.rule == b.rule);
    CHECK(a.severity == b.severity);
    CHECK(a.firing == b.firing);
    CHECK(a.seq == b.seq);
    CHECK(a.at_ms == b.at_ms);
    CHECK(a.threshold == b.threshold);
    CHECK((a.value == b.value || (std::isnan(a.value) && std::isnan(b.value))));
  }
}

bool same(double a, double b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

void check_same_figures(daemon::Engine& indexed, const daemon::Engine& brute, std::size_t tick) {
  indexed.refresh_results();
  const risk::Book& bi = indexed.book();
  const risk::Book& bb = brute.book();
  REQUIRE(bi.borrowers().size() == bb.borrowers().size());
  for (std::size_t i = 0; i < bb.borrowers().size(); ++i) {
    INFO("tick ", tick, " borrower ", brute.book().borrowers()[i].id);
    REQUIRE(bi.evaluated(i) == bb.evaluated(i));
    if (!bb.evaluated(i)) continue;
    const risk::Figures a = bi.figures(i);
    const risk::Figures b = bb.figures(i);
    CHECK(same(a.ltv, b.ltv));
    CHECK(same(a.liquidation_ltv, b.liquidation_ltv));
    CHECK(same(a.dscr, b.dscr));
    CHECK(same(a.cfads_usd, b.cfads_usd));
    CHECK(same(a.debt_service_usd, b.debt_service_usd));
    CHECK(same(a.mark_usd, b.mark_usd));
    CHECK(same(a.liquidation_usd, b.liquidation_usd));
    CHECK(same(a.gpu_usd, b.gpu_usd));
    CHECK(same(a.mining12_usd, b.mining12_usd));
    const auto si = indexed.book().stress(i);
    const auto sb = brute.book().stress(i);
    REQUIRE(si.size() == sb.size());
    for (std::size_t k = 0; k < sb.size(); ++k) {
      CHECK(same(si[k].ltv, sb[k].ltv));
      CHECK(same(si[k].liquidation_ltv, sb[k].liquidation_ltv));
      CHECK(same(si[k].dscr, sb[k].dscr));
    }
  }
}

struct RunTotals {
  std::size_t events = 0;
  std::size_t applied = 0;
  daemon::IndexStats stats;
};

RunTotals run_case(const Case& c) {
  daemon::Engine indexed(c.config, daemon::StalenessClock::event_time, daemon::EvalMode::indexed);
  daemon::Engine brute(c.config, daemon::StalenessClock::event_time, daemon::EvalMode::brute_force);
  std::vector<alerts::AlertEvent> ev_i;
  std::vector<alerts::AlertEvent> ev_b;
  RunTotals totals;
  std::size_t next_upsert = 0;
  for (std::size_t k = 0; k < c.ticks.size(); ++k) {
    ev_i.clear();
    ev_b.clear();
    const daemon::TickResult ri = indexed.apply(c.ticks[k], std::nullopt, ev_i);
    const daemon::TickResult rb = brute.apply(c.ticks[k], std::nullopt, ev_b);
    REQUIRE(ri.outcome == rb.outcome);
    if (rb.outcome == risk::TickOutcome::applied) ++totals.applied;
    check_same_events(ev_i, ev_b, k);
    totals.events += ev_b.size();
    if (k % 97 == 0) check_same_figures(indexed, brute, k);
    // Borrower updates mid-path: a replaced borrower, new ones, a removal.
    if (k > 0 && k % (c.ticks.size() / 4) == 0 && next_upsert < c.upserts.size()) {
      indexed.upsert_borrower(c.upserts[next_upsert]);
      brute.upsert_borrower(c.upserts[next_upsert]);
      ++next_upsert;
      if (next_upsert == 2) {
        CHECK(indexed.remove_borrower("b2") == brute.remove_borrower("b2"));
      }
      indexed.revalue();
      brute.revalue();
      check_same_figures(indexed, brute, k);
    }
  }
  check_same_figures(indexed, brute, c.ticks.size());
  CHECK(indexed.active_alerts().size() == brute.active_alerts().size());
  totals.stats = indexed.index_stats();
  return totals;
}

}  // namespace

TEST_CASE("trigger index: indexed and brute-force engines emit identical events and figures on random books") {
  std::size_t events = 0;
  std::size_t applied = 0;
  std::uint64_t visits = 0;
  std::uint64_t boxes = 0;
  std::uint64_t kept = 0;
  std::size_t borrower_ticks = 0;
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    INFO("seed ", seed);
    const Case c = random_case(seed, 60, 3000);
    const RunTotals t = run_case(c);
    // The non-monotone scenario puts ETH holders on the brute-force path.
    if (seed % 3 == 0) CHECK(t.stats.unboxable > 0);
    if (seed % 3 != 0) CHECK(t.stats.unboxable == 0);
    events += t.events;
    applied += t.applied;
    visits += t.stats.visits;
    boxes += t.stats.boxes;
    kept += t.stats.boxes_kept;
    borrower_ticks += t.applied * c.config.borrowers.size();
  }
  // The comparison means something only if the paths cause many transitions
  // and the index actually skips most borrowers.
  CHECK(events > 2000);
  CHECK(boxes > 1000);
  // Both ways of boxing a visited borrower ran: its old box verified and
  // kept (GPU, rate, hashprice ticks, day rolls), and a new box computed.
  CHECK(kept > 100);
  CHECK(boxes - kept > 1000);
  MESSAGE("boxes ", boxes, " (kept ", kept, "), events ", events, ", applied ticks ", applied, ", visits ", visits, " of ", borrower_ticks);
  CHECK(visits * 4 < borrower_ticks);
}

TEST_CASE("trigger index: a borrower with a rule pending under for_s fires at the same tick as brute force") {
  // One borrower, LTV pushed over the covenant and held there: with for_s the
  // rule is pending for several ticks inside an unchanged market.
  risk::RiskConfig cfg;
  cfg.series["BTC-USD"] = {risk::SeriesKind::price, std::nullopt, std::nullopt};
  cfg.series["ETH-USD"] = {risk::SeriesKind::price, std::nullopt, std::nullopt};
  cfg.alerting.for_s = 120;
  risk::BorrowerSpec b;
  b.id = "b";
  b.covenants = {0.5, 1.0};
  b.crypto = {{"BTC-USD", 1000.0, 0.1}};
  risk::Facility f;
  f.id = "f";
  f.principal_usd = 50e6;
  f.maturity_ms = k_t0 + 1000 * risk::k_ms_per_day;
  f.rate = risk::FixedRate{5.0};
  b.facilities = {f};
  cfg.borrowers = {b};
  daemon::Engine indexed(cfg, daemon::StalenessClock::event_time, daemon::EvalMode::indexed);
  daemon::Engine brute(cfg, daemon::StalenessClock::event_time, daemon::EvalMode::brute_force);
  auto tick = [](const char* s, double v, risk::TimeMs ts) {
    return std::string(R"({"series": ")") + s + R"(", "value": )" + std::to_string(v) + R"(, "ts": )" +
           std::to_string(ts) + "}";
  };
  std::vector<std::string> path = {tick("BTC-USD", 200000, k_t0), tick("ETH-USD", 3000, k_t0)};
  // LTV = 50e6 / (1000 * P): over 0.5 below P = 100,000.
  for (int s = 1; s <= 10; ++s) {
    const bool btc = s == 2;  // the only BTC move: LTV over the covenant from +60 s on
    path.push_back(tick(btc ? "BTC-USD" : "ETH-USD", btc ? 90000 : 3000 + s, k_t0 + s * 30000));
  }
  std::vector<alerts::AlertEvent> ei;
  std::vector<alerts::AlertEvent> eb;
  std::vector<alerts::AlertEvent> all_b;
  for (std::size_t k = 0; k < path.size(); ++k) {
    ei.clear();
    eb.clear();
    indexed.apply(path[k], std::nullopt, ei);
    brute.apply(path[k], std::nullopt, eb);
    check_same_events(ei, eb, k);
    all_b.insert(all_b.end(), eb.begin(), eb.end());
  }
  // ETH ticks do not touch the borrower's box: only the pending set makes
  // the indexed engine step it when for_s elapses on an ETH tick.
  const auto fired = std::find_if(all_b.begin(), all_b.end(), [](const auto& e) { return e.key == "b/ltv_breach"; });
  REQUIRE(fired != all_b.end());
  CHECK(fired->at_ms == k_t0 + 180000);  // first held at +60 s, 120 s later: the ETH tick at +180 s
}

TEST_CASE("trigger index: collect returns exactly the borrowers whose interval excludes the value") {
  risk::TriggerIndex index;
  index.reset(4, 5, 2);  // slots: borrower 0 -> 0, 1 -> 1, 2 -> 2..3, 3 -> 4
  const risk::SeriesId s0[] = {0};
  const risk::SeriesId s01[] = {0, 1};
  index.set_box(0, 0, s0, std::vector<double>{90.0}, std::vector<double>{110.0});
  index.set_box(1, 1, s0, std::vector<double>{95.0}, std::vector<double>{100.0});
  index.set_box(2, 2, s01, std::vector<double>{50.0, 9.0}, std::vector<double>{200.0, 11.0});
  CHECK(index.entries() == 8);
  std::vector<std::uint32_t> out;
  index.collect(0, 100.0, out);  // inside every interval, bounds inclusive
  CHECK(out.empty());
  index.collect(0, 92.0, out);
  CHECK(out == std::vector<std::uint32_t>{1});
  CHECK(index.entries() == 7);  // the low entry that fired left; its high entry waits for set_box
  index.set_box(1, 1, s0, std::vector<double>{80.0}, std::vector<double>{92.0});
  CHECK(index.entries() == 8);  // the high entry was moved in place, the low one re-inserted
  out.clear();
  index.collect(1, 12.0, out);
  CHECK(out == std::vector<std::uint32_t>{2});
  index.clear_box(2, s01);
  CHECK(index.entries() == 4);
  out.clear();
  index.collect(0, 10.0, out);  // borrower 2 has no box any more
  std::sort(out.begin(), out.end());
  CHECK(out == std::vector<std::uint32_t>{0, 1});
  index.clear_box(0, s0);  // the caller's part of the contract: re-box or clear
  index.clear_box(1, s0);
  CHECK(index.entries() == 0);
  // Replacing a box moves its entries: the heaps hold live entries only.
  for (int k = 0; k < 20000; ++k) index.set_box(3, 4, s0, std::vector<double>{1.0}, std::vector<double>{2.0 + k});
  CHECK(index.entries() == 2);
  out.clear();
  index.collect(0, 1e9, out);
  CHECK(out == std::vector<std::uint32_t>{3});
}

TEST_CASE("trigger index: boxes moved in place answer like a brute-force scan on random boxes") {
  // Many borrowers, one or two series each, boxes replaced, cleared and
  // collected at random: every collect returns exactly the borrowers whose
  // current interval excludes the value (each once), checked by a scan.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  const std::size_t n = 3000;
  std::vector<std::vector<risk::SeriesId>> coins(n);
  std::vector<std::uint32_t> first_slot(n);
  std::uint32_t slots = 0;
  for (std::size_t i = 0; i < n; ++i) {
    coins[i] = i % 3 == 0 ? std::vector<risk::SeriesId>{0, 1} : std::vector<risk::SeriesId>{static_cast<risk::SeriesId>(i % 2)};
    first_slot[i] = slots;
    slots += static_cast<std::uint32_t>(coins[i].size());
  }
  risk::TriggerIndex index;
  index.reset(n, slots, 2);
  // model[i][k]: {low, high} on coins[i][k], or absent
  std::vector<std::vector<std::pair<double, double>>> model(n);
  std::vector<bool> boxed(n, false);
  auto box = [&](std::size_t i) {
    std::vector<double> low, high;
    model[i].clear();
    for (std::size_t k = 0; k < coins[i].size(); ++k) {
      const double mid = 100.0 * u01(rng);
      const double half = 5.0 * u01(rng);
      low.push_back(mid - half);
      high.push_back(mid + half);
      model[i].emplace_back(mid - half, mid + half);
    }
    index.set_box(static_cast<std::uint32_t>(i), first_slot[i], coins[i], low, high);
    boxed[i] = true;
  };
  for (std::size_t i = 0; i < n; ++i) box(i);
  std::vector<std::uint32_t> out;
  for (int round = 0; round < 300; ++round) {
    const auto sid = static_cast<risk::SeriesId>(round % 2);
    const double value = 100.0 * u01(rng);
    std::vector<std::uint32_t> expected;
    for (std::size_t i = 0; i < n; ++i) {
      if (!boxed[i]) continue;
      for (std::size_t k = 0; k < coins[i].size(); ++k) {
        if (coins[i][k] == sid && (model[i][k].first > value || model[i][k].second < value)) {
          expected.push_back(static_cast<std::uint32_t>(i));
        }
      }
    }
    out.clear();
    index.collect(sid, value, out);
    std::sort(out.begin(), out.end());
    REQUIRE(out == expected);
    // The caller's part: re-box or clear every borrower returned, plus
    // random others (moved in place while fully in the heaps).
    for (const std::uint32_t i : out) {
      if (u01(rng) < 0.2) {
        index.clear_box(first_slot[i], coins[i]);
        boxed[i] = false;
      } else {
        box(i);
      }
    }
    for (int k = 0; k < 50; ++k) {
      const auto i = static_cast<std::size_t>(u01(rng) * static_cast<double>(n));
      if (u01(rng) < 0.1) {
        index.clear_box(first_slot[i], coins[i]);
        boxed[i] = false;
      } else {
        box(i);
      }
    }
    std::size_t live = 0;
    for (std::size_t i = 0; i < n; ++i) live += boxed[i] ? 2 * coins[i].size() : 0;
    REQUIRE(index.entries() == live);
  }
}
