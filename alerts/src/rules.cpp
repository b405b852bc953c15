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
