#include "riskd/alerts/rules.hpp"

#include <algorithm>
#include <cstring>

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

double rule_threshold(std::size_t rule_index, const risk::Covenants& covenants, const risk::AlertingParams& params) {
  switch (rule_index) {
    case 0: return covenants.max_ltv;
    case 1: return covenants.max_ltv - params.warn_ltv_margin;
    case 2: return covenants.min_dscr;
    case 3: return covenants.min_dscr + params.warn_dscr_margin;
    case 4: return 1.0;
    default: return covenants.max_ltv;
  }
}

std::size_t BorrowerRuleStates::size() const {
  return alerts_->rules();
}

RuleState BorrowerRuleStates::operator[](std::size_t rule) const {
  return alerts_->state(index_, rule);
}

RuleState CovenantAlerts::state(std::size_t index, std::size_t rule) const {
  const std::size_t s = slot(index, rule);
  RuleState st;
  st.firing = (flags_[s] & k_firing) != 0;
  st.pending = (flags_[s] & k_pending) != 0;
  st.pending_since_ms = st.pending ? time_ms_[s] : 0;
  st.seq = seq_[s];
  st.value = value_[s];
  return st;
}

bool CovenantAlerts::any_pending(std::size_t index) const {
  const std::uint8_t* f = flags_.data() + slot(index, 0);
  return std::any_of(f, f + rules_, [](std::uint8_t bits) { return (bits & k_pending) != 0; });
}

void CovenantAlerts::evaluate(std::size_t index, const risk::CompiledBorrower& borrower,
                              const risk::ResultView& result, std::span<const risk::Scenario> scenarios,
                              const risk::AlertingParams& params, risk::TimeMs now_ms, std::vector<AlertEvent>& out) {
  const auto for_ms = static_cast<risk::TimeMs>(params.for_s * 1000.0);
  const std::size_t first = slot(index, 0);
  for (std::size_t r = 0; r < rules_; ++r) {
    const std::size_t s = first + r;
    const RuleReading reading = read_rule(r, result, borrower.covenants, params);
    const std::uint8_t bits = flags_[s];
    // The common case, settled: not firing, not pending, condition absent.
    if (bits == 0 && !reading.fire) continue;
    RuleState st;
    st.firing = (bits & k_firing) != 0;
    st.pending = (bits & k_pending) != 0;
    st.pending_since_ms = time_ms_[s];
    st.seq = seq_[s];
    const bool transition = step(st, reading.fire, reading.resolve, now_ms, for_ms);
    flags_[s] = static_cast<std::uint8_t>((st.firing ? k_firing : 0) | (st.pending ? k_pending : 0));
    if (!transition) {
      if (st.pending) time_ms_[s] = st.pending_since_ms;
      continue;
    }
    seq_[s] = ++st.seq;
    time_ms_[s] = now_ms;
    value_[s] = reading.value;
    if (!pinned_.empty()) pinned_.erase(s);
    AlertEvent ev;
    ev.borrower = borrower.id;
    ev.rule = rule_name(r, scenarios);
    ev.key = borrower.id + "/" + ev.rule;
    ev.severity = rule_severity(r);
    ev.firing = st.firing;
    ev.value = reading.value;
    ev.threshold = reading.threshold;
    ev.at_ms = now_ms;
    ev.seq = st.seq;
    out.push_back(std::move(ev));
  }
}

void CovenantAlerts::resize(std::size_t borrowers, std::size_t rules_per_borrower) {
  if (rules_per_borrower != rules_ && borrowers_ > 0) {
    // Re-stride: each borrower keeps its first min(old, new) rules.
    CovenantAlerts wider;
    wider.resize(borrowers, rules_per_borrower);
    const std::size_t keep_borrowers = std::min(borrowers, borrowers_);
    const std::size_t keep_rules = std::min(rules_, rules_per_borrower);
    for (std::size_t i = 0; i < keep_borrowers; ++i) {
      for (std::size_t r = 0; r < keep_rules; ++r) {
        const std::size_t from = slot(i, r);
        const std::size_t to = wider.slot(i, r);
        wider.flags_[to] = flags_[from];
        wider.seq_[to] = seq_[from];
        wider.time_ms_[to] = time_ms_[from];
        wider.value_[to] = value_[from];
        const auto pin = pinned_.find(from);
        if (pin != pinned_.end()) wider.pinned_.emplace(to, pin->second);
      }
    }
    *this = std::move(wider);
    return;
  }
  rules_ = rules_per_borrower;
  const std::size_t slots = borrowers * rules_;
  if (borrowers < borrowers_) pinned_.erase(pinned_.lower_bound(slots), pinned_.end());
  borrowers_ = borrowers;
  flags_.resize(slots, 0);
  seq_.resize(slots, 0);
  time_ms_.resize(slots, 0);
  value_.resize(slots, 0.0);
}

void CovenantAlerts::erase(std::size_t index) {
  const auto first = static_cast<std::ptrdiff_t>(slot(index, 0));
  const auto last = first + static_cast<std::ptrdiff_t>(rules_);
  flags_.erase(flags_.begin() + first, flags_.begin() + last);
  seq_.erase(seq_.begin() + first, seq_.begin() + last);
  time_ms_.erase(time_ms_.begin() + first, time_ms_.begin() + last);
  value_.erase(value_.begin() + first, value_.begin() + last);
  --borrowers_;
  // Pins of the borrower go; those of later borrowers move down one stride.
  std::map<std::size_t, AlertEvent> moved;
  for (auto& [s, ev] : pinned_) {
    const auto signed_s = static_cast<std::ptrdiff_t>(s);
    if (signed_s < first) {
      moved.emplace(s, std::move(ev));
    } else if (signed_s >= last) {
      moved.emplace(s - rules_, std::move(ev));
    }
  }
  pinned_ = std::move(moved);
}

AlertEvent CovenantAlerts::rebuild(std::size_t s, std::size_t rule, const risk::CompiledBorrower& borrower,
                                   std::span<const risk::Scenario> scenarios,
                                   const risk::AlertingParams& params) const {
  AlertEvent ev;
  ev.borrower = borrower.id;
  ev.rule = rule_name(rule, scenarios);
  ev.key = borrower.id + "/" + ev.rule;
  ev.severity = rule_severity(rule);
  ev.firing = (flags_[s] & k_firing) != 0;
  ev.value = value_[s];
  ev.threshold = rule_threshold(rule, borrower.covenants, params);
  ev.at_ms = time_ms_[s];
  ev.seq = seq_[s];
  return ev;
}

std::optional<AlertEvent> CovenantAlerts::last_event(std::size_t index, std::size_t rule,
                                                     const risk::CompiledBorrower& borrower,
                                                     std::span<const risk::Scenario> scenarios,
                                                     const risk::AlertingParams& params) const {
  const std::size_t s = slot(index, rule);
  if ((flags_[s] & k_firing) == 0) return std::nullopt;
  if (const auto pin = pinned_.find(s); pin != pinned_.end()) return pin->second;
  return rebuild(s, rule, borrower, scenarios, params);
}

namespace {

bool same_event(const AlertEvent& a, const AlertEvent& b) {
  // Bit-for-bit on the numbers: a NaN or a -0.0 is kept as given.
  return a.key == b.key && a.borrower == b.borrower && a.rule == b.rule && a.severity == b.severity &&
         a.firing == b.firing && std::memcmp(&a.value, &b.value, sizeof a.value) == 0 &&
         std::memcmp(&a.threshold, &b.threshold, sizeof a.threshold) == 0 && a.at_ms == b.at_ms && a.seq == b.seq;
}

}  // namespace

void CovenantAlerts::restore(std::size_t index, std::size_t rule, const RuleState& state, const AlertEvent* last,
                             const risk::CompiledBorrower& borrower, std::span<const risk::Scenario> scenarios,
                             const risk::AlertingParams& params) {
  const std::size_t s = slot(index, rule);
  flags_[s] = static_cast<std::uint8_t>((state.firing ? k_firing : 0) | (state.pending ? k_pending : 0));
  seq_[s] = state.seq;
  time_ms_[s] = state.pending ? state.pending_since_ms : 0;
  value_[s] = state.value;
  pinned_.erase(s);
  if (last == nullptr || !state.firing) return;
  if (!state.pending) time_ms_[s] = last->at_ms;
  value_[s] = last->value;
  if (!same_event(rebuild(s, rule, borrower, scenarios, params), *last)) pinned_[s] = *last;
}

void CovenantAlerts::pin_firing(std::size_t index, const risk::CompiledBorrower& borrower,
                                std::span<const risk::Scenario> scenarios, const risk::AlertingParams& params) {
  for (std::size_t r = 0; r < rules_; ++r) {
    const std::size_t s = slot(index, r);
    if ((flags_[s] & k_firing) == 0 || pinned_.contains(s)) continue;
    pinned_.emplace(s, rebuild(s, r, borrower, scenarios, params));
  }
}

void CovenantAlerts::append_active(std::span<const risk::CompiledBorrower> borrowers,
                                   std::span<const risk::Scenario> scenarios, const risk::AlertingParams& params,
                                   std::vector<AlertEvent>& out) const {
  for (std::size_t i = 0; i < borrowers_; ++i) {
    for (std::size_t r = 0; r < rules_; ++r) {
      if (auto ev = last_event(i, r, borrowers[i], scenarios, params)) out.push_back(std::move(*ev));
    }
  }
}

std::size_t CovenantAlerts::memory_bytes() const {
  std::size_t bytes = flags_.capacity() + seq_.capacity() * sizeof(std::uint64_t) +
                      time_ms_.capacity() * sizeof(risk::TimeMs) + value_.capacity() * sizeof(double);
  for (const auto& [s, ev] : pinned_) bytes += sizeof(s) + sizeof(ev) + ev.key.capacity() + ev.rule.capacity();
  return bytes;
}

void sort_by_key(std::vector<AlertEvent>& events) {
  std::stable_sort(events.begin(), events.end(),
                   [](const AlertEvent& a, const AlertEvent& b) { return a.key < b.key; });
}

}  // namespace riskd::alerts
