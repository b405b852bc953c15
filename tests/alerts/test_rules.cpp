#include <doctest/doctest.h>

#include <limits>

#include "riskd/alerts/rules.hpp"

using namespace riskd;
using alerts::RuleState;

namespace {

constexpr double k_inf = std::numeric_limits<double>::infinity();

risk::BorrowerResult result(double ltv, double liq_ltv, double dscr, std::vector<risk::StressRatios> stress = {}) {
  risk::BorrowerResult r;
  r.evaluated = true;
  r.figures.ltv = ltv;
  r.figures.liquidation_ltv = liq_ltv;
  r.figures.dscr = dscr;
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
  std::vector<alerts::AlertEvent> eval(const risk::BorrowerResult& r, risk::TimeMs now_ms) {
    std::vector<alerts::AlertEvent> out;
    alerts.evaluate(0, borrower, r, scenarios, params, now_ms, out);
    return out;
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
  Harness h;  // max_ltv 0.70, hl 0.01
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
  CHECK(h.ltv(0.645).empty());           // band: (0.64, 0.65]
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
  CHECK(h.eval(result(0.1, 0.1, 9.0, {{0.5, 0.6, 1.26}}), 0).empty());  // DSCR not past 1.27
  CHECK(h.eval(result(0.1, 0.1, 9.0, {{0.695, 0.6, 2.0}}), 0).empty());  // LTV not past 0.69
  CHECK(has(h.eval(result(0.1, 0.1, 9.0, {{0.69, 0.6, 1.27}}), 0), "stress_breach:s1", false));
}

TEST_CASE("for_s: the condition must hold at every evaluation for for_s of event time") {
  Harness h;
  h.params.for_s = 60;
  CHECK(h.ltv(0.8, 1'000).empty());    // starts waiting at t = 1 s
  CHECK(h.ltv(0.8, 30'000).empty());
  CHECK(h.ltv(0.6, 40'000).empty());   // stopped holding: the wait starts over
  CHECK(h.ltv(0.8, 50'000).empty());   // waiting since 50 s
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
  h.alerts.append_active(active);
  CHECK(active.size() == 2);  // ltv_breach and ltv_warning
  h.ltv(0.5, 6'000);
  active.clear();
  h.alerts.append_active(active);
  CHECK(active.empty());
}
