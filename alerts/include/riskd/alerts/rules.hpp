#pragma once
// The alert rule state machine of METHODOLOGY.md "Alert rules": hysteresis,
// for_s, per-key seq. Pure and deterministic: time is the event time passed in.
#include <cstdint>
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
  bool firing = false;   // state: firing | resolved
  double value = 0.0;    // the metric then; non-finite is serialized as null
  double threshold = 0.0;
  risk::TimeMs at_ms = 0;
  std::uint64_t seq = 0;
};

/// State of one alert key.
struct RuleState {
  bool firing = false;
  bool pending = false;             // the firing condition holds, for_s not yet elapsed
  risk::TimeMs pending_since_ms = 0;
  std::uint64_t seq = 0;            // seq of the last event emitted for this key
  double value = 0.0;               // metric at the last evaluation
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

/// Firing condition and reported value/threshold of one rule on one result
/// (no history: what `evaluate` lists).
struct RuleReading {
  bool fire = false;
  bool resolve = false;
  double value = 0.0;
  double threshold = 0.0;
};
/// Inline: called for every rule of every borrower on every tick.
inline RuleReading read_rule(std::size_t rule_index, const risk::BorrowerResult& result,
                             const risk::Covenants& covenants, const risk::AlertingParams& params) {
  const double max_ltv = covenants.max_ltv;
  const double min_dscr = covenants.min_dscr;
  const double hl = params.ltv_hysteresis;
  const double hd = params.dscr_hysteresis;
  const risk::Figures& f = result.figures;
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

/// Alert state of every borrower's covenant rules. Single writer.
class CovenantAlerts {
 public:
  /// Steps every rule of borrower `index` on its latest result; appends
  /// transitions (unsorted) to `out`.
  void evaluate(std::size_t index, const risk::CompiledBorrower& borrower,
                const risk::BorrowerResult& result, std::span<const risk::Scenario> scenarios,
                const risk::AlertingParams& params, risk::TimeMs now_ms, std::vector<AlertEvent>& out);

  /// Keeps states aligned with the book after an upsert or removal.
  void resize(std::size_t borrowers, std::size_t rules_per_borrower);
  void erase(std::size_t index);
  void reset(std::size_t index);

  [[nodiscard]] const std::vector<RuleState>& states(std::size_t index) const { return states_[index]; }
  [[nodiscard]] std::vector<RuleState>& states(std::size_t index) { return states_[index]; }
  /// Latest event per rule of borrower `index` (what append_active reports
  /// for a firing rule); restored with the states at start and on reload.
  [[nodiscard]] const std::vector<AlertEvent>& last_events(std::size_t index) const { return last_[index]; }
  [[nodiscard]] std::vector<AlertEvent>& last_events(std::size_t index) { return last_[index]; }

  /// Appends the latest event of every firing rule (unsorted).
  void append_active(std::vector<AlertEvent>& out) const;

 private:
  std::vector<std::vector<RuleState>> states_;
  std::vector<std::vector<AlertEvent>> last_;  // latest event per rule, parallel to states_
};

/// Sorts events of one tick by key, byte-wise (METHODOLOGY.md).
void sort_by_key(std::vector<AlertEvent>& events);

}  // namespace riskd::alerts
