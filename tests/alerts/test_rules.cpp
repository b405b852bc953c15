#include <doctest/doctest.h>

#include <limits>

#include "riskd/alerts/event.hpp"
#include "riskd/alerts/rules.hpp"

using namespace riskd;
using alerts::RuleState;

namespace {

constexpr double k_inf = std::numeric_limits<double>::infinity();

/// An evaluation as the rules read it (risk::ResultView), owning its stress ratios.
struct Result {
  risk::StressRatios base;
  std::vector<risk::StressRatios> stress;
  operator risk::ResultView() const {  // NOLINT(google-explicit-constructor)
    return {base.ltv, base.liquidation_ltv, base.dscr, stress};
  }
};

Result result(double ltv, double liq_ltv, double dscr, std::vector<risk::StressRatios> stress = {}) {
  Result r;
  r.base = {ltv, liq_ltv, dscr};
  r.stress = std::move(stress);
  return r;
}

struct Harness {
  alerts::CovenantAlerts alerts;
  risk::CompiledBorrower borrower;
  std::vector<risk::Scenario> scenarios{risk::Scenario{"s1", {}}};
  risk::AlertingParams params;
  Harness() {
    borrower.id = "b";
    borrower.covenants = {0.70, 1.25};
    alerts.resize(1, alerts::k_fixed_rules + scenarios.size());
  }
  std::vector<alerts::AlertEvent> eval(const Result& r, risk::TimeMs now_ms) {
    std::vector<alerts::AlertEvent> out;
    alerts.evaluate(0, borrower, r, scenarios, params, now_ms, out);
    return out;
  }
  void active(std::vector<alerts::AlertEvent>& out) const {
    alerts.append_active(std::span(&borrower, 1), scenarios, params, out);
  }
  std::vector<alerts::AlertEvent> ltv(double v, risk::TimeMs now_ms = 0) {
    return eval(result(v, 0.5, 2.0, {{0.1, 0.1, 9.0}}), now_ms);
  }
};

bool has(const std::vector<alerts::AlertEvent>& evs, const std::string& rule, bool firing) {
  for (const auto& e : evs) {
    if (e.rule == rule && e.firing == firing) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("ltv breach fires above max_ltv and resolves only past the hysteresis band") {
  Harness h;                                          // max_ltv 0.70, hl 0.01
  CHECK_FALSE(has(h.ltv(0.70), "ltv_breach", true));  // not strictly above
  CHECK(has(h.ltv(0.7001), "ltv_breach", true));
  CHECK(h.ltv(0.695).empty());  // inside the band: still firing, no event
  CHECK(h.alerts.states(0)[0].firing);
  const auto evs = h.ltv(0.69);  // <= 0.70 - 0.01
  CHECK(has(evs, "ltv_breach", true) == false);
  CHECK(has(evs, "ltv_breach", false));
}

TEST_CASE("ltv warning uses the margin and reports max_ltv - wl as threshold") {
  Harness h;
  const auto evs = h.ltv(0.66);  // > 0.70 - 0.05
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].rule == "ltv_warning");
  CHECK(evs[0].severity == alerts::Severity::warning);
  CHECK(evs[0].threshold == 0.70 - 0.05);
  CHECK(h.ltv(0.645).empty());                     // band: (0.64, 0.65]
  CHECK(has(h.ltv(0.639), "ltv_warning", false));  // 0.70 - 0.05 - 0.01 is 0.6399999999999999 in binary
}

TEST_CASE("dscr breach and warning fire below the covenant, resolve above it plus hysteresis") {
  Harness h;  // min 1.25, wd 0.10, hd 0.02
  auto evs = h.eval(result(0.1, 0.1, 1.2, {{0.1, 0.1, 9.0}}), 0);
  CHECK(has(evs, "dscr_breach", true));
  CHECK(has(evs, "dscr_warning", true));
  evs = h.eval(result(0.1, 0.1, 1.26, {{0.1, 0.1, 9.0}}), 0);  // breach: 1.26 < 1.27 stays firing
  CHECK(evs.empty());
  evs = h.eval(result(0.1, 0.1, 1.27, {{0.1, 0.1, 9.0}}), 0);
  CHECK(has(evs, "dscr_breach", false));
  CHECK_FALSE(has(evs, "dscr_warning", false));  // needs >= 1.35 + 0.02
  evs = h.eval(result(0.1, 0.1, 1.37, {{0.1, 0.1, 9.0}}), 0);
  CHECK(has(evs, "dscr_warning", false));
}

TEST_CASE("an infinite LTV breaches, an infinite DSCR never does") {
  Harness h;
  const auto evs = h.eval(result(k_inf, k_inf, k_inf, {{k_inf, k_inf, k_inf}}), 0);
  CHECK(has(evs, "ltv_breach", true));
  CHECK(has(evs, "liquidation_shortfall", true));
  CHECK(has(evs, "stress_breach:s1", true));
  CHECK_FALSE(has(evs, "dscr_breach", true));
  CHECK_FALSE(has(evs, "dscr_warning", true));
}

TEST_CASE("liquidation shortfall fires above 1 and resolves at 1 - hl") {
  Harness h;
  CHECK(has(h.eval(result(0.1, 1.001, 9.0, {{0.1, 0.1, 9.0}}), 0), "liquidation_shortfall", true));
  CHECK(h.eval(result(0.1, 0.995, 9.0, {{0.1, 0.1, 9.0}}), 0).empty());
  CHECK(has(h.eval(result(0.1, 0.99, 9.0, {{0.1, 0.1, 9.0}}), 0), "liquidation_shortfall", false));
}

TEST_CASE("stress breach fires on stressed LTV or DSCR, resolves when both clear, value is the stressed LTV") {
  Harness h;
  auto evs = h.eval(result(0.1, 0.1, 9.0, {{0.5, 0.6, 1.0}}), 0);  // DSCR 1.0 < 1.25
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].rule == "stress_breach:s1");
  CHECK(evs[0].severity == alerts::Severity::info);
  CHECK(evs[0].value == 0.5);
  CHECK(evs[0].threshold == 0.70);
  CHECK(h.eval(result(0.1, 0.1, 9.0, {{0.5, 0.6, 1.26}}), 0).empty());   // DSCR not past 1.27
  CHECK(h.eval(result(0.1, 0.1, 9.0, {{0.695, 0.6, 2.0}}), 0).empty());  // LTV not past 0.69
  CHECK(has(h.eval(result(0.1, 0.1, 9.0, {{0.69, 0.6, 1.27}}), 0), "stress_breach:s1", false));
}

TEST_CASE("for_s: the condition must hold at every evaluation for for_s of event time") {
  Harness h;
  h.params.for_s = 60;
  CHECK(h.ltv(0.8, 1'000).empty());  // starts waiting at t = 1 s
  CHECK(h.ltv(0.8, 30'000).empty());
  CHECK(h.ltv(0.6, 40'000).empty());  // stopped holding: the wait starts over
  CHECK(h.ltv(0.8, 50'000).empty());  // waiting since 50 s
  CHECK(h.ltv(0.8, 109'999).empty());
  const auto evs = h.ltv(0.8, 110'000);  // 60 s after 50 s
  CHECK(has(evs, "ltv_breach", true));
  CHECK(evs[0].at_ms == 110'000);
}

TEST_CASE("seq starts at 1 per key and only grows") {
  Harness h;
  for (int cycle = 1; cycle <= 3; ++cycle) {
    const auto fire = h.ltv(0.8);
    const auto resolve = h.ltv(0.5);
    for (const auto& e : fire) {
      if (e.rule == "ltv_breach") CHECK(e.seq == static_cast<std::uint64_t>(2 * cycle - 1));
    }
    for (const auto& e : resolve) {
      if (e.rule == "ltv_breach") CHECK(e.seq == static_cast<std::uint64_t>(2 * cycle));
    }
  }
}

TEST_CASE("events of one tick sort byte-wise by key") {
  std::vector<alerts::AlertEvent> evs(4);
  evs[0].key = "miner-a/ltv_warning";
  evs[1].key = "feed_stale:BTC-USD";
  evs[2].key = "Zeta/ltv_breach";  // uppercase sorts before lowercase
  evs[3].key = "miner-a/ltv_breach";
  alerts::sort_by_key(evs);
  CHECK(evs[0].key == "Zeta/ltv_breach");
  CHECK(evs[1].key == "feed_stale:BTC-USD");
  CHECK(evs[2].key == "miner-a/ltv_breach");
  CHECK(evs[3].key == "miner-a/ltv_warning");
}

TEST_CASE("active alerts list the latest event of every firing rule") {
  Harness h;
  h.ltv(0.8, 5'000);
  std::vector<alerts::AlertEvent> active;
  h.active(active);
  CHECK(active.size() == 2);  // ltv_breach and ltv_warning
  h.ltv(0.5, 6'000);
  active.clear();
  h.active(active);
  CHECK(active.empty());
}

TEST_CASE("an active alert is its firing event as emitted, rebuilt from the compact state") {
  Harness h;
  h.params.for_s = 0;
  // Every rule fires: LTV, liquidation LTV, DSCR and the stress rule.
  const auto fired = h.eval(result(0.93, 1.2, 0.8, {{0.99, 1.3, 0.5}}), 7'000);
  REQUIRE(fired.size() == 6);
  std::vector<alerts::AlertEvent> active;
  h.active(active);
  alerts::sort_by_key(active);
  auto sorted = fired;
  alerts::sort_by_key(sorted);
  REQUIRE(active.size() == sorted.size());
  for (std::size_t k = 0; k < sorted.size(); ++k) CHECK(alerts::to_json(active[k]) == alerts::to_json(sorted[k]));
  // Still firing with other readings: no event, the active alert stays the firing one.
  CHECK(h.eval(result(0.95, 1.25, 0.7, {{0.98, 1.3, 0.4}}), 8'000).empty());
  std::vector<alerts::AlertEvent> again;
  h.active(again);
  alerts::sort_by_key(again);
  REQUIRE(again.size() == sorted.size());
  for (std::size_t k = 0; k < sorted.size(); ++k) CHECK(alerts::to_json(again[k]) == alerts::to_json(sorted[k]));
}

TEST_CASE("a resolved rule keeps its seq but no last event") {
  Harness h;
  h.ltv(0.8, 1'000);
  h.ltv(0.5, 2'000);
  CHECK_FALSE(h.alerts.last_event(0, 0, h.borrower, h.scenarios, h.params).has_value());
  CHECK(h.alerts.state(0, 0).seq == 2);
  CHECK_FALSE(h.alerts.state(0, 0).firing);
  const auto refire = h.ltv(0.8, 3'000);
  REQUIRE(has(refire, "ltv_breach", true));
  CHECK(h.alerts.last_event(0, 0, h.borrower, h.scenarios, h.params)->seq == 3);
}

TEST_CASE("pending_since survives state() and restore()") {
  Harness h;
  h.params.for_s = 60;
  CHECK(h.ltv(0.8, 1'000).empty());
  const RuleState st = h.alerts.state(0, 0);
  CHECK(st.pending);
  CHECK(st.pending_since_ms == 1'000);
  CHECK(h.alerts.any_pending(0));
  Harness other;
  other.params.for_s = 60;
  other.alerts.restore(0, 0, st, nullptr, other.borrower, other.scenarios, other.params);
  CHECK(other.alerts.state(0, 0).pending_since_ms == 1'000);
  CHECK(has(other.ltv(0.8, 61'000), "ltv_breach", true));  // 60 s after the restored start
}

TEST_CASE("a restored last event that cannot be rebuilt is reported as given until the next transition") {
  Harness h;
  RuleState st;
  st.firing = true;
  st.seq = 7;
  alerts::AlertEvent ev;
  ev.key = "b/ltv_breach";
  ev.borrower = "b";
  ev.rule = "ltv_breach";
  ev.severity = alerts::Severity::critical;
  ev.firing = true;
  ev.value = 0.81;
  ev.threshold = 0.75;  // the covenant of then: 0.70 now
  ev.at_ms = 1'234;
  ev.seq = 7;
  h.alerts.restore(0, 0, st, &ev, h.borrower, h.scenarios, h.params);
  std::vector<alerts::AlertEvent> active;
  h.active(active);
  REQUIRE(active.size() == 1);
  CHECK(alerts::to_json(active[0]) == alerts::to_json(ev));
  const auto resolved = h.ltv(0.5, 2'000);
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].seq == 8);
  CHECK(resolved[0].threshold == 0.70);
  h.ltv(0.8, 3'000);
  active.clear();
  h.active(active);
  REQUIRE(active.size() == 2);  // breach and warning, both fresh
  CHECK(active[0].threshold != 0.75);
  CHECK(active[1].threshold != 0.75);
}

TEST_CASE("pin_firing keeps the threshold of then when the covenants change") {
  Harness h;
  h.ltv(0.8, 1'000);
  h.alerts.pin_firing(0, h.borrower, h.scenarios, h.params);
  h.borrower.covenants.max_ltv = 0.75;
  CHECK(h.ltv(0.8).empty());  // still breaching the new covenant: no event
  const auto ev = h.alerts.last_event(0, 0, h.borrower, h.scenarios, h.params);
  REQUIRE(ev.has_value());
  CHECK(ev->threshold == 0.70);
  CHECK(ev->at_ms == 1'000);
}

TEST_CASE("erase and resize keep every other borrower's states and pinned events in place") {
  alerts::CovenantAlerts a;
  std::vector<risk::Scenario> scenarios{risk::Scenario{"s1", {}}};
  risk::AlertingParams params;
  std::vector<risk::CompiledBorrower> book(3);
  for (std::size_t i = 0; i < book.size(); ++i) {
    book[i].id = "b" + std::to_string(i);
    book[i].covenants = {0.70, 1.25};
  }
  a.resize(3, alerts::k_fixed_rules + 1);
  std::vector<alerts::AlertEvent> out;
  for (std::size_t i = 0; i < 3; ++i) {
    a.evaluate(i, book[i], result(0.75 + 0.05 * static_cast<double>(i), 0.5, 2.0, {{0.1, 0.1, 9.0}}), scenarios, params,
               static_cast<risk::TimeMs>(i), out);
  }
  a.pin_firing(2, book[2], scenarios, params);
  const auto b2 = a.last_event(2, 0, book[2], scenarios, params);
  REQUIRE(b2.has_value());
  book[2].covenants.max_ltv = 0.60;  // rebuilt now, b2's threshold would read 0.60: only the pin says 0.70
  CHECK(a.last_event(2, 0, book[2], scenarios, params)->threshold == 0.70);
  a.erase(0);
  book.erase(book.begin());
  CHECK(a.borrowers() == 2);
  CHECK(alerts::to_json(*a.last_event(1, 0, book[1], scenarios, params)) == alerts::to_json(*b2));
  CHECK(a.last_event(0, 0, book[0], scenarios, params)->value == 0.80);
  // A wider stride (one more scenario) keeps the existing rules' states.
  a.resize(2, alerts::k_fixed_rules + 2);
  CHECK(a.rules() == alerts::k_fixed_rules + 2);
  CHECK(alerts::to_json(*a.last_event(1, 0, book[1], scenarios, params)) == alerts::to_json(*b2));
  CHECK(a.state(0, 0).firing);
  CHECK_FALSE(a.state(0, alerts::k_fixed_rules + 1).firing);
  a.resize(1, alerts::k_fixed_rules + 2);
  CHECK(a.borrowers() == 1);
  a.resize(2, alerts::k_fixed_rules + 2);  // the dropped borrower's state and pin went with it
  CHECK_FALSE(a.state(1, 0).firing);
  CHECK(a.state(1, 0).seq == 0);
  scenarios.push_back(risk::Scenario{"s2", {}});
  a.evaluate(1, book[1], result(0.85, 0.5, 2.0, {{0.1, 0.1, 9.0}, {0.1, 0.1, 9.0}}), scenarios, params, 9, out);
  CHECK(a.last_event(1, 0, book[1], scenarios, params)->threshold == 0.60);
}
