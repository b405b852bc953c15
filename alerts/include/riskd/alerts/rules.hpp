#pragma once
// The alert rule state machine of METHODOLOGY.md "Alert rules": hysteresis,
// for_s, per-key seq. Pure and deterministic: time is the event time passed in.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "riskd/risk/book.hpp"
#include "riskd/risk/model.hpp"
#include "riskd/risk/time.hpp"

namespace riskd::alerts {

enum class Severity : std::uint8_t { info, warning, critical };
std::string_view to_string(Severity severity);

/// One transition of one alert (INTERFACES.md "Alert event").
struct AlertEvent {
  std::string key;       // "borrower/rule" or "feed_stale:<series>"
  std::string borrower;  // empty for feed rules (serialized as null)
  std::string rule;
  Severity severity = Severity::info;
  bool firing = false;  // state: firing | resolved
  double value = 0.0;   // the metric then; non-finite is serialized as null
  double threshold = 0.0;
  risk::TimeMs at_ms = 0;
  std::uint64_t seq = 0;
};

/// State of one alert key.
struct RuleState {
  bool firing = false;
  bool pending = false;  // the firing condition holds, for_s not yet elapsed
  risk::TimeMs pending_since_ms = 0;
  std::uint64_t seq = 0;  // seq of the last event emitted for this key
  double value = 0.0;     // covenant rules: the metric of the last event (CovenantAlerts keeps no other)
};

/// Advances one rule at event time `now_ms`. While not firing, `fire` must
/// hold at every evaluation for `for_ms` (from the first evaluation where it
/// held) before the rule fires; while firing, `resolve` resolves it at once.
/// Returns true on a transition (the caller emits an event with ++seq).
bool step(RuleState& state, bool fire, bool resolve, risk::TimeMs now_ms, risk::TimeMs for_ms);

/// The covenant rules of one borrower, in a fixed order: ltv_breach,
/// ltv_warning, dscr_breach, dscr_warning, liquidation_shortfall, then
/// stress_breach:<scenario> per scenario in Book order.
inline constexpr std::size_t k_fixed_rules = 5;
std::string rule_name(std::size_t rule_index, std::span<const risk::Scenario> scenarios);
Severity rule_severity(std::size_t rule_index);
/// The threshold read_rule() reports for a rule: it depends on the
/// covenants and the alerting parameters only, never on the figures.
double rule_threshold(std::size_t rule_index, const risk::Covenants& covenants, const risk::AlertingParams& params);

/// Firing condition and reported value/threshold of one rule on one result
/// (no history: what `evaluate` lists).
struct RuleReading {
  bool fire = false;
  bool resolve = false;
  double value = 0.0;
  double threshold = 0.0;
};
/// Inline: called for every rule of every borrower on every tick.
inline RuleReading read_rule(std::size_t rule_index, const risk::ResultView& result,
                             const risk::Covenants& covenants, const risk::AlertingParams& params) {
  const double max_ltv = covenants.max_ltv;
  const double min_dscr = covenants.min_dscr;
  const double hl = params.ltv_hysteresis;
  const double hd = params.dscr_hysteresis;
  const risk::ResultView& f = result;
  // Written so that an infinite LTV breaches and an infinite DSCR never does.
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
      const risk::StressRatios& st = result.stress[rule_index - k_fixed_rules];
      return {st.ltv > max_ltv || st.dscr < min_dscr, st.ltv <= max_ltv - hl && st.dscr >= min_dscr + hd, st.ltv,
              max_ltv};
    }
  }
}

class CovenantAlerts;

/// The rule states of one borrower (CovenantAlerts::states), by value.
class BorrowerRuleStates {
 public:
  BorrowerRuleStates(const CovenantAlerts& alerts, std::size_t index) : alerts_(&alerts), index_(index) {}
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] RuleState operator[](std::size_t rule) const;

 private:
  const CovenantAlerts* alerts_;
  std::size_t index_;
};

/// Alert state of every borrower's covenant rules. Single writer.
///
/// Storage contract (memory per borrower is what a large book pays): one
/// flat slot per (borrower, rule), slot = index * rules() + rule, holding
/// the state bits, seq and one time and one value. The time is
/// pending_since_ms while the rule is pending, else the at_ms of its last
/// event; the value is the last event's value. The last event of a key is
/// therefore kept only while its rule fires (what active_alerts() reports
/// and reload carries over); key, borrower, rule and severity are rebuilt
/// from the borrower and the rule, the threshold from the covenants and the
/// alerting parameters. An event that cannot be rebuilt so (restored from
/// outside, or the covenants changed under a firing rule) is pinned whole
/// until the rule's next transition.
class CovenantAlerts {
 public:
  /// Steps every rule of borrower `index` on its latest result; appends
  /// transitions (unsorted) to `out`.
  void evaluate(std::size_t index, const risk::CompiledBorrower& borrower, const risk::ResultView& result,
                std::span<const risk::Scenario> scenarios, const risk::AlertingParams& params, risk::TimeMs now_ms,
                std::vector<AlertEvent>& out);

  /// Keeps states aligned with the book after an upsert or removal:
  /// resize keeps the states of the first min(old, new) rules of every
  /// borrower that stays; new ones start clear.
  void resize(std::size_t borrowers, std::size_t rules_per_borrower);
  /// Drops borrower `index`; later borrowers move down by one.
  void erase(std::size_t index);

  [[nodiscard]] std::size_t borrowers() const { return borrowers_; }
  [[nodiscard]] std::size_t rules() const { return rules_; }
  [[nodiscard]] BorrowerRuleStates states(std::size_t index) const { return {*this, index}; }
  [[nodiscard]] RuleState state(std::size_t index, std::size_t rule) const;
  [[nodiscard]] bool firing(std::size_t index, std::size_t rule) const {
    return (flags_[slot(index, rule)] & k_firing) != 0;
  }
  /// True when some rule of borrower `index` is pending under for_s.
  [[nodiscard]] bool any_pending(std::size_t index) const;

  /// The latest event of a firing rule (what append_active reports);
  /// nullopt while the rule does not fire. `borrower`, `scenarios` and
  /// `params` must be those the rule is evaluated with.
  [[nodiscard]] std::optional<AlertEvent> last_event(std::size_t index, std::size_t rule,
                                                     const risk::CompiledBorrower& borrower,
                                                     std::span<const risk::Scenario> scenarios,
                                                     const risk::AlertingParams& params) const;
  /// Restores one rule's state and, when given, the latest event it reports
  /// while firing (kept as given: pinned unless it is what would be rebuilt).
  void restore(std::size_t index, std::size_t rule, const RuleState& state, const AlertEvent* last,
               const risk::CompiledBorrower& borrower, std::span<const risk::Scenario> scenarios,
               const risk::AlertingParams& params);
  /// Pins the latest events of borrower `index`'s firing rules as they are
  /// now: call before its covenants change (their thresholds would move).
  void pin_firing(std::size_t index, const risk::CompiledBorrower& borrower, std::span<const risk::Scenario> scenarios,
                  const risk::AlertingParams& params);

  /// Appends the latest event of every firing rule (unsorted); `borrowers`
  /// is the book the states are aligned with.
  void append_active(std::span<const risk::CompiledBorrower> borrowers, std::span<const risk::Scenario> scenarios,
                     const risk::AlertingParams& params, std::vector<AlertEvent>& out) const;

  /// Bytes held (capacity of the slot arrays and the pinned events).
  [[nodiscard]] std::size_t memory_bytes() const;

 private:
  static constexpr std::uint8_t k_firing = 1;
  static constexpr std::uint8_t k_pending = 2;
  [[nodiscard]] std::size_t slot(std::size_t index, std::size_t rule) const { return index * rules_ + rule; }
  [[nodiscard]] AlertEvent rebuild(std::size_t s, std::size_t rule, const risk::CompiledBorrower& borrower,
                                   std::span<const risk::Scenario> scenarios, const risk::AlertingParams& params) const;

  std::size_t rules_ = 0;
  std::size_t borrowers_ = 0;
  std::vector<std::uint8_t> flags_;           // [slot]: k_firing | k_pending
  std::vector<std::uint64_t> seq_;            // [slot]: seq of the last event
  std::vector<risk::TimeMs> time_ms_;         // [slot]: pending_since_ms while pending, else the last event's at_ms
  std::vector<double> value_;                 // [slot]: the last event's value
  std::map<std::size_t, AlertEvent> pinned_;  // [slot]: last events not rebuilt from the slot (rare)
};

/// Sorts events of one tick by key, byte-wise (METHODOLOGY.md).
void sort_by_key(std::vector<AlertEvent>& events);

}  // namespace riskd::alerts
