#include "riskd/alerts/rules.hpp"

#include <algorithm>

namespace riskd::alerts {

std::string_view to_string(Severity severity) {
  switch (severity) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::critical: return "critical";
  }
  return "info";
}

bool step(RuleState& state, bool fire, bool resolve, risk::TimeMs now_ms, risk::TimeMs for_ms) {
  if (state.firing) {
    if (!resolve) return false;
    state.firing = false;
    state.pending = false;
    return true;
  }
  if (!fire) {
    state.pending = false;
    return false;
  }
  if (!state.pending) {
    state.pending = true;
    state.pending_since_ms = now_ms;
  }
  if (now_ms - state.pending_since_ms < for_ms) return false;
  state.firing = true;
  state.pending = false;
  return true;
}

std::string rule_name(std::size_t rule_index, std::span<const risk::Scenario> scenarios) {
  switch (rule_index) {
    case 0: return "ltv_breach";
    case 1: return "ltv_warning";
    case 2: return "dscr_breach";
    case 3: return "dscr_warning";
    case 4: return "liquidation_shortfall";
    default: return "stress_breach:" + scenarios[rule_index - k_fixed_rules].name;
  }
}

Severity rule_severity(std::size_t rule_index) {
  switch (rule_index) {
    case 0:
    case 2:
    case 4: return Severity::critical;
    case 1:
    case 3: return Severity::warning;
    default: return Severity::info;
  }
}

RuleReading read_rule(std::size_t rule_index, const risk::BorrowerResult& result,
                      const risk::Covenants& covenants, const risk::AlertingParams& params) {
  const double max_ltv = covenants.max_ltv;
  const double min_dscr = covenants.min_dscr;
  const double hl = params.ltv_hysteresis;
  const double hd = params.dscr_hysteresis;
  const risk::Figures& f = result.figures;
  // Comparisons are written so that an infinite LTV breaches and an infinite
  // DSCR never does (IEEE inf compares as expected).
  switch (rule_index) {
    case 0: return {f.ltv > max_ltv, f.ltv <= max_ltv - hl, f.ltv, max_ltv};
    case 1: {
      const double level = max_ltv - params.warn_ltv_margin;
      return {f.ltv > level, f.ltv <= level - hl, f.ltv, level};
    }
    case 2: return {f.dscr < min_dscr, f.dscr >= min_dscr + hd, f.dscr, min_dscr};
    case 3: {
      const double level = min_dscr + params.warn_dscr_margin;
      return {f.dscr < level, f.dscr >= level + hd, f.dscr, level};
    }
    case 4: return {f.liquidation_ltv > 1.0, f.liquidation_ltv <= 1.0 - hl, f.liquidation_ltv, 1.0};
    default: {
      const risk::StressRatios& s = result.stress[rule_index - k_fixed_rules];
      return {s.ltv > max_ltv || s.dscr < min_dscr, s.ltv <= max_ltv - hl && s.dscr >= min_dscr + hd, s.ltv,
              max_ltv};
    }
  }
}

void CovenantAlerts::evaluate(std::size_t index, const risk::CompiledBorrower& borrower,
                              const risk::BorrowerResult& result, std::span<const risk::Scenario> scenarios,
                              const risk::AlertingParams& params, risk::TimeMs now_ms,
                              std::vector<AlertEvent>& out) {
  std::vector<RuleState>& states = states_[index];
  const auto for_ms = static_cast<risk::TimeMs>(params.for_s * 1000.0);
  for (std::size_t r = 0; r < states.size(); ++r) {
    const RuleReading reading = read_rule(r, result, borrower.covenants, params);
    RuleState& st = states[r];
    st.value = reading.value;
    if (!step(st, reading.fire, reading.resolve, now_ms, for_ms)) continue;
    AlertEvent ev;
    ev.borrower = borrower.id;
    ev.rule = rule_name(r, scenarios);
    ev.key = borrower.id + "/" + ev.rule;
    ev.severity = rule_severity(r);
    ev.firing = st.firing;
    ev.value = reading.value;
    ev.threshold = reading.threshold;
    ev.at_ms = now_ms;
    ev.seq = ++st.seq;
    last_[index][r] = ev;
    out.push_back(std::move(ev));
  }
}

void CovenantAlerts::resize(std::size_t borrowers, std::size_t rules_per_borrower) {
  states_.resize(borrowers);
  last_.resize(borrowers);
  for (auto& s : states_) s.resize(rules_per_borrower);
  for (auto& l : last_) l.resize(rules_per_borrower);
}

void CovenantAlerts::erase(std::size_t index) {
  states_.erase(states_.begin() + static_cast<std::ptrdiff_t>(index));
  last_.erase(last_.begin() + static_cast<std::ptrdiff_t>(index));
}

void CovenantAlerts::reset(std::size_t index) {
  for (auto& s : states_[index]) s = RuleState{};
  for (auto& e : last_[index]) e = AlertEvent{};
}

void CovenantAlerts::append_active(std::vector<AlertEvent>& out) const {
  for (std::size_t i = 0; i < states_.size(); ++i) {
    for (std::size_t r = 0; r < states_[i].size(); ++r) {
      if (states_[i][r].firing) out.push_back(last_[i][r]);
    }
  }
}

void sort_by_key(std::vector<AlertEvent>& events) {
  std::stable_sort(events.begin(), events.end(),
                   [](const AlertEvent& a, const AlertEvent& b) { return a.key < b.key; });
}

}  // namespace riskd::alerts
