// The engine: tick outcomes, event ordering, event-time staleness.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <random>

#include "riskd/alerts/event.hpp"
#include "riskd/config/config.hpp"
#include "riskd/daemon/engine.hpp"
#include "riskd/daemon/live_service.hpp"
#include "../support/random_book.hpp"
#include "test_support.hpp"

using namespace riskd;

namespace {

config::Config vectors_config() {
  return config::load_config(test::source_path("tests/data/vectors/book.yaml"));
}

std::string tick(const std::string& series, double value, const std::string& ts) {
  return R"({"series": ")" + series + R"(", "value": )" + std::to_string(value) + R"(, "ts": ")" + ts + R"("})";
}

/// Feeds every series the vectors book needs at `ts`.
void feed_all(daemon::Engine& e, const std::string& ts, std::vector<alerts::AlertEvent>& events, double btc = 88000) {
  e.apply(tick("SOFR", 366, ts), std::nullopt, events);
  e.apply(tick("MINER-SPREAD", 680, ts), std::nullopt, events);
  e.apply(tick("GPU-H100-USD-HR", 3.3, ts), std::nullopt, events);
  e.apply(tick("GPU-A100-USD-HR", 1.79, ts), std::nullopt, events);
  e.apply(tick("BTC-USD", btc, ts), std::nullopt, events);
}

}  // namespace

TEST_CASE("engine: a borrower raises nothing until every series it needs has a value") {
  daemon::Engine e(vectors_config().risk);
  std::vector<alerts::AlertEvent> events;
  e.apply(tick("BTC-USD", 88000, "2025-12-19T10:00:00Z"), std::nullopt, events);
  CHECK(events.empty());  // host-c also needs GPU-H100-USD-HR
  e.apply(tick("GPU-H100-USD-HR", 3.3, "2025-12-19T10:00:00Z"), std::nullopt, events);
  CHECK_FALSE(events.empty());
  for (const auto& ev : events) CHECK(ev.borrower == "host-c");
}

TEST_CASE("engine: events caused by one tick come sorted byte-wise by key") {
  daemon::Engine e(vectors_config().risk);
  std::vector<alerts::AlertEvent> events;
  feed_all(e, "2025-12-19T10:00:00Z", events);
  REQUIRE(events.size() > 3);
  // All of the last tick's events share its `at`; check they are in key order.
  std::vector<std::string> keys;
  for (const auto& ev : events) {
    if (ev.at_ms == events.back().at_ms) keys.push_back(ev.key);
  }
  CHECK(std::is_sorted(keys.begin(), keys.end()));
}

TEST_CASE("engine: a rejected tick changes no state and raises nothing") {
  daemon::Engine e(vectors_config().risk);
  std::vector<alerts::AlertEvent> events;
  feed_all(e, "2025-12-19T10:00:00Z", events);
  const auto before = e.book().figures(0).ltv;
  const auto t_before = e.event_time_ms();
  events.clear();
  CHECK(e.apply(R"({"series": "BTC-USD", "value": -5, "ts": "2025-12-20T00:00:00Z"})", std::nullopt, events).outcome ==
        risk::TickOutcome::rejected_value);
  CHECK(e.apply(R"({"series": "BTC-USD", "value": 5, "ts": "2020-01-01T00:00:00Z"})", std::nullopt, events).outcome ==
        risk::TickOutcome::out_of_order);
  CHECK(e.apply("garbage", std::nullopt, events).outcome == risk::TickOutcome::rejected_parse);
  CHECK(e.apply(R"({"series": "ETH-USD", "value": 5, "ts": "2026-01-01T00:00:00Z"})", std::nullopt, events).outcome ==
        risk::TickOutcome::unknown_series);
  CHECK(events.empty());
  CHECK(e.book().figures(0).ltv == before);
  CHECK(e.event_time_ms() == t_before);
  CHECK(e.counts()[static_cast<std::size_t>(risk::TickOutcome::rejected_value)] == 1);
  CHECK(e.counts()[static_cast<std::size_t>(risk::TickOutcome::unknown_series)] == 1);
}

TEST_CASE("engine: feed_stale fires in event time past stale_after_s and resolves on a fresh tick") {
  config::Config cfg = vectors_config();  // GPU-H100-USD-HR: stale_after_s 3456000 (40 days)
  daemon::Engine e(cfg.risk);
  std::vector<alerts::AlertEvent> events;
  feed_all(e, "2025-01-01T00:00:00Z", events);
  events.clear();
  e.apply(tick("BTC-USD", 90000, "2025-02-09T23:59:59Z"), std::nullopt, events);  // age < 40 days
  for (const auto& ev : events) CHECK(ev.key != "feed_stale:GPU-H100-USD-HR");
  events.clear();
  e.apply(tick("BTC-USD", 90000, "2025-02-10T00:00:01Z"), std::nullopt, events);  // 40 days + 1 s
  const auto stale =
      std::find_if(events.begin(), events.end(), [](const auto& ev) { return ev.key == "feed_stale:GPU-H100-USD-HR"; });
  REQUIRE(stale != events.end());
  CHECK(stale->firing);
  CHECK(stale->borrower.empty());
  CHECK(stale->severity == alerts::Severity::warning);
  CHECK(stale->value == doctest::Approx(3456001.0));
  CHECK(stale->threshold == 3456000.0);
  CHECK(stale->seq == 1);
  const auto active = e.active_alerts();
  CHECK(std::any_of(active.begin(), active.end(), [](const auto& a) { return a.key == "feed_stale:GPU-H100-USD-HR"; }));
  events.clear();
  e.apply(tick("GPU-H100-USD-HR", 3.1, "2025-02-11T00:00:00Z"), std::nullopt, events);
  const auto resolved =
      std::find_if(events.begin(), events.end(), [](const auto& ev) { return ev.key == "feed_stale:GPU-H100-USD-HR"; });
  REQUIRE(resolved != events.end());
  CHECK_FALSE(resolved->firing);
  CHECK(resolved->seq == 2);
}

TEST_CASE("engine: the Kafka timestamp stands in for an absent ts") {
  daemon::Engine e(vectors_config().risk);
  std::vector<alerts::AlertEvent> events;
  CHECK(e.apply(R"({"series": "BTC-USD", "value": 88000})", std::nullopt, events).outcome ==
        risk::TickOutcome::rejected_parse);
  CHECK(e.apply(R"({"series": "BTC-USD", "value": 88000})", 1766138400000, events).outcome ==
        risk::TickOutcome::applied);
  CHECK(e.event_time_ms() == 1766138400000);
}

TEST_CASE("engine: replacing a borrower keeps its firing alerts and their last events, in both modes") {
  for (const auto mode : {daemon::EvalMode::indexed, daemon::EvalMode::brute_force}) {
    const config::Config cfg = vectors_config();
    daemon::Engine e(cfg.risk, daemon::StalenessClock::event_time, mode);
    std::vector<alerts::AlertEvent> events;
    feed_all(e, "2025-12-19T10:00:00Z", events, 30000);  // a BTC crash: covenant alerts fire
    const auto before = e.active_alerts();
    REQUIRE(std::any_of(before.begin(), before.end(), [](const auto& a) { return !a.borrower.empty(); }));
    for (const auto& spec : cfg.risk.borrowers) e.upsert_borrower(spec);
    e.revalue();
    const auto after = e.active_alerts();
    REQUIRE(after.size() == before.size());
    for (std::size_t k = 0; k < after.size(); ++k) {
      CHECK(after[k].key == before[k].key);
      CHECK(after[k].seq == before[k].seq);
      CHECK(after[k].at_ms == before[k].at_ms);
    }
    // Unchanged specs on an unchanged market: the next tick emits nothing new.
    events.clear();
    e.apply(tick("SOFR", 366, "2025-12-19T10:00:01Z"), std::nullopt, events);
    CHECK(events.empty());
  }
}

TEST_CASE("engine: restored alert states bring their last events, so a restart or reload reports and resolves them") {
  config::Config cfg = vectors_config();
  daemon::Engine before(cfg.risk);
  std::vector<alerts::AlertEvent> events;
  feed_all(before, "2025-01-01T00:00:00Z", events);
  before.apply(tick("BTC-USD", 90000, "2025-02-10T00:00:01Z"), std::nullopt, events);  // GPU-H100 goes stale
  const auto active_before = before.active_alerts();
  REQUIRE(std::any_of(active_before.begin(), active_before.end(),
                      [](const auto& a) { return a.key == "feed_stale:GPU-H100-USD-HR"; }));

  // A fresh engine on the same market, given the states and the last events.
  daemon::Engine after(cfg.risk);
  after.adopt_market(before);
  after.restore_alert_states(before.alert_states(), before.last_events());
  const auto active_after = after.active_alerts();
  REQUIRE(active_after.size() == active_before.size());
  for (std::size_t i = 0; i < active_before.size(); ++i) {
    CHECK(alerts::to_json(active_after[i]) == alerts::to_json(active_before[i]));
  }

  // The restored feed_stale resolves with its key and the next seq.
  events.clear();
  after.apply(tick("GPU-H100-USD-HR", 3.1, "2025-02-11T00:00:00Z"), std::nullopt, events);
  const auto resolved =
      std::find_if(events.begin(), events.end(), [](const auto& ev) { return ev.key == "feed_stale:GPU-H100-USD-HR"; });
  REQUIRE(resolved != events.end());
  CHECK_FALSE(resolved->firing);
  CHECK(resolved->rule == "feed_stale:GPU-H100-USD-HR");
  CHECK(resolved->threshold == 3456000.0);
  CHECK(resolved->seq == 2);

  // Without last events (e.g. a lost alerts topic) the resolution still carries its key.
  daemon::Engine bare(cfg.risk);
  bare.adopt_market(before);
  bare.restore_alert_states(before.alert_states());
  events.clear();
  bare.apply(tick("GPU-H100-USD-HR", 3.1, "2025-02-11T00:00:00Z"), std::nullopt, events);
  CHECK(std::any_of(events.begin(), events.end(), [](const auto& ev) {
    return ev.key == "feed_stale:GPU-H100-USD-HR" && !ev.firing && ev.seq == 2;
  }));
}

TEST_CASE("live service: snapshot publication backs off to a bounded share of the engine thread") {
  using namespace std::chrono_literals;
  daemon::LiveOptions options;  // 100 ms, k = 9
  CHECK(daemon::publish_gap(options, 0ms) == 100ms);
  CHECK(daemon::publish_gap(options, 5ms) == 100ms);     // a small book: the configured cadence
  CHECK(daemon::publish_gap(options, 200ms) == 1800ms);  // a large one: 200 ms of every 2 s
  CHECK(daemon::publish_gap(options, 2s) == 5s);         // capped: snapshots stay younger than the 10 s alert
  options.publish_cost_multiple = 0;
  CHECK(daemon::publish_gap(options, 10s) == 100ms);  // k = 0: always the configured cadence
}

TEST_CASE("engine: an upsert that tightens the covenants under firing rules keeps their events as emitted") {
  config::Config cfg = vectors_config();
  daemon::Engine e(cfg.risk);
  std::vector<alerts::AlertEvent> events;
  feed_all(e, "2025-12-19T10:00:00Z", events);
  const auto before = e.active_alerts();
  REQUIRE_FALSE(before.empty());
  const std::string borrower = before.front().borrower;
  REQUIRE_FALSE(borrower.empty());
  // Tighter covenants: every firing rule of the borrower stays firing, but a
  // threshold rebuilt from the new covenants would differ from the emitted one.
  risk::BorrowerSpec spec;
  for (const auto& b : cfg.risk.borrowers) {
    if (b.id == borrower) spec = b;
  }
  REQUIRE(spec.id == borrower);
  spec.covenants.max_ltv -= 0.01;
  spec.covenants.min_dscr += 0.01;
  e.upsert_borrower(spec);
  events.clear();
  e.apply(tick("BTC-USD", 88000, "2025-12-19T10:00:01Z"), std::nullopt, events);
  const auto after = e.active_alerts();
  for (const auto& was : before) {
    if (was.borrower != borrower) continue;
    const auto now = std::find_if(after.begin(), after.end(), [&](const auto& a) { return a.key == was.key; });
    REQUIRE(now != after.end());
    CHECK(alerts::to_json(*now) == alerts::to_json(was));
  }
  // The rebuilt form would have moved: the pin is what kept the thresholds.
  const auto moved = std::find_if(before.begin(), before.end(), [&](const auto& a) {
    return a.borrower == borrower && (a.rule == "ltv_breach" || a.rule == "dscr_breach" || a.rule == "ltv_warning" ||
                                      a.rule == "dscr_warning" || a.rule.starts_with("stress_breach:"));
  });
  CHECK(moved != before.end());
}

TEST_CASE("engine: borrower changes applied together leave what applying them one by one leaves") {
  const risk::TimeMs t0 = *risk::parse_date("2025-12-19");
  std::mt19937_64 rng(20261127);
  const risk::RiskConfig cfg = test::random_book_config(30, 7, t0);
  const auto fresh = [&](const std::string& id) { return test::random_borrower(rng, t0, id); };
  auto tightened = cfg.borrowers[0];
  tightened.covenants.max_ltv *= 0.5;
  // New borrowers, replacements (one with tighter covenants under a firing
  // rule), removals (of a config borrower, of an unknown id, of one added
  // in the same batch), and a borrower removed and added back (it moves to
  // the end of the book).
  const std::vector<daemon::Engine::BorrowerChange> changes{
      {"n1", fresh("n1")},      {"b3", fresh("b3")}, {"b5", std::nullopt}, {"nobody", std::nullopt},
      {"n2", fresh("n2")},      {"n1", std::nullopt}, {"b7", std::nullopt}, {"b7", fresh("b7")},
      {"b0", tightened},        {"n3", fresh("n3")},
  };
  for (const auto mode : {daemon::EvalMode::indexed, daemon::EvalMode::brute_force}) {
    daemon::Engine one_by_one(cfg, daemon::StalenessClock::event_time, mode);
    daemon::Engine together(cfg, daemon::StalenessClock::event_time, mode);
    std::vector<alerts::AlertEvent> ev_a;
    std::vector<alerts::AlertEvent> ev_b;
    for (const auto& [settings, series] : test::random_series()) {
      const double value = series.first == "BTC-USD" ? 20000.0 : series.second;  // a crash: some rules fire
      one_by_one.apply(tick(series.first, value, "2025-12-19T10:00:00Z"), std::nullopt, ev_a);
      together.apply(tick(series.first, value, "2025-12-19T10:00:00Z"), std::nullopt, ev_b);
    }
    REQUIRE(!ev_a.empty());
    std::size_t removed_one_by_one = 0;
    for (const auto& c : changes) {
      if (c.spec) {
        one_by_one.upsert_borrower(*c.spec);
      } else {
        removed_one_by_one += one_by_one.remove_borrower(c.id) ? 1 : 0;
      }
    }
    CHECK(together.apply_borrower_changes(changes) == removed_one_by_one);
    CHECK(removed_one_by_one == 3);  // b5, n1, b7
    one_by_one.revalue();
    together.revalue();

    const auto& a = one_by_one.book();
    const auto& b = together.book();
    REQUIRE(a.borrowers().size() == b.borrowers().size());
    for (std::size_t i = 0; i < a.borrowers().size(); ++i) {
      CAPTURE(i);
      CHECK(a.borrowers()[i].id == b.borrowers()[i].id);
      CHECK(std::bit_cast<std::uint64_t>(a.figures(i).ltv) == std::bit_cast<std::uint64_t>(b.figures(i).ltv));
      CHECK(std::bit_cast<std::uint64_t>(a.figures(i).dscr) == std::bit_cast<std::uint64_t>(b.figures(i).dscr));
    }
    CHECK(a.borrowers().back().id == "n3");
    const auto states_a = one_by_one.alert_states();
    const auto states_b = together.alert_states();
    REQUIRE(states_a.size() == states_b.size());
    for (auto ia = states_a.begin(), ib = states_b.begin(); ia != states_a.end(); ++ia, ++ib) {
      CAPTURE(ia->first);
      CHECK(ia->first == ib->first);
      CHECK(ia->second.firing == ib->second.firing);
      CHECK(ia->second.seq == ib->second.seq);
      CHECK(std::bit_cast<std::uint64_t>(ia->second.value) == std::bit_cast<std::uint64_t>(ib->second.value));
    }
    CHECK(one_by_one.last_events().size() == together.last_events().size());

    // The next tick steps the same rules the same way.
    ev_a.clear();
    ev_b.clear();
    one_by_one.apply(tick("BTC-USD", 90000, "2025-12-19T10:00:01Z"), std::nullopt, ev_a);
    together.apply(tick("BTC-USD", 90000, "2025-12-19T10:00:01Z"), std::nullopt, ev_b);
    REQUIRE(ev_a.size() == ev_b.size());
    CHECK(!ev_a.empty());
    for (std::size_t k = 0; k < ev_a.size(); ++k) {
      CHECK(ev_a[k].key == ev_b[k].key);
      CHECK(ev_a[k].seq == ev_b[k].seq);
      CHECK(ev_a[k].firing == ev_b[k].firing);
    }
  }
}
