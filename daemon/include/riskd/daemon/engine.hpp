#pragma once
// The engine: the single writer of the risk state. Applies ticks (decode,
// validate, apply), re-evaluates the book, steps the alert rules and returns
// the events each tick caused, sorted by key. Used by `replay` in event time
// and by `run` on its engine thread. Not thread-safe by design.
#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "riskd/alerts/rules.hpp"
#include "riskd/risk/book.hpp"
#include "riskd/risk/market.hpp"

namespace riskd::daemon {

struct TickResult {
  risk::TickOutcome outcome = risk::TickOutcome::applied;
  std::string error;     // why it was not applied (empty when applied)
  std::string series;    // the tick's series, when it decoded
  risk::TimeMs ts_ms = 0;  // the tick's ts, when it decoded
};

enum class StalenessClock {
  event_time,  // replay: judged at every applied tick against T
  external,    // run: the caller calls check_staleness with the wall clock
};

class Engine {
 public:
  explicit Engine(const risk::RiskConfig& config, StalenessClock clock = StalenessClock::event_time);

  /// Decodes, validates and applies one tick; on `applied` re-evaluates the
  /// book and appends the transitions it caused to `events`, sorted by key.
  /// `fallback_ts_ms` stands in for an absent `ts` (the Kafka timestamp).
  TickResult apply(std::string_view tick_json, std::optional<risk::TimeMs> fallback_ts_ms,
                   std::vector<alerts::AlertEvent>& events);

  /// Fires feed_stale for every series older than its stale_after_s at `now_ms`.
  void check_staleness(risk::TimeMs now_ms, std::vector<alerts::AlertEvent>& events);

  /// Adds or replaces a borrower (already validated). A replaced borrower's
  /// alert states are kept for the rules it still has; its next evaluation
  /// (on the next applied tick) emits any transition.
  void upsert_borrower(const risk::BorrowerSpec& spec);
  /// Removes a borrower and its alert states; false if unknown.
  bool remove_borrower(std::string_view id);

  /// Sets a series' value and ts without evaluating or emitting anything
  /// (state restore at start). Unknown series are ignored; returns false then.
  bool restore_series(std::string_view id, double value, risk::TimeMs ts_ms);
  /// Re-evaluates the book on the current market without stepping any rule.
  void revalue();
  /// Takes over the market of `old` (values, ts, held outliers, counts) for
  /// the series both know, and its event time (config reload).
  void adopt_market(const Engine& old);
  /// True while feed_stale fires for the series.
  [[nodiscard]] bool is_stale(risk::SeriesId sid) const { return sid < stale_.size() && stale_[sid].firing; }

  /// Every alert state by key ("borrower/rule" or "feed_stale:<series>").
  [[nodiscard]] std::map<std::string, alerts::RuleState> alert_states() const;
  /// Restores the states of the keys this engine has; others are ignored.
  void restore_alert_states(const std::map<std::string, alerts::RuleState>& states);

  /// The result document on the current market shocked by `scenario`
  /// (alerts: conditions holding). Changes nothing.
  [[nodiscard]] std::string what_if(const risk::Scenario& scenario) const;

  /// Brings book().results() up to date with the market as it stands.
  /// Readers of figures (snapshots, signals) call it first: apply() only
  /// guarantees exact alert events, not that every borrower's figures were
  /// recomputed. Cost: the borrowers touched since the last call.
  void refresh_results();

  [[nodiscard]] const risk::Book& book() const { return book_; }
  /// Event time T: the largest ts applied so far (0 before the first tick).
  [[nodiscard]] risk::TimeMs event_time_ms() const { return event_time_ms_; }
  [[nodiscard]] const std::array<std::uint64_t, risk::k_tick_outcome_count>& counts() const { return counts_; }
  /// Alerts firing now, as their latest events, sorted by key.
  [[nodiscard]] std::vector<alerts::AlertEvent> active_alerts() const;
  [[nodiscard]] const alerts::CovenantAlerts& covenant_alerts() const { return covenant_alerts_; }

 private:
  void count(risk::TickOutcome outcome) { ++counts_[static_cast<std::size_t>(outcome)]; }
  void on_applied(risk::SeriesId sid, std::vector<alerts::AlertEvent>& events);

  risk::Book book_;
  StalenessClock clock_;
  alerts::CovenantAlerts covenant_alerts_;
  std::vector<alerts::RuleState> stale_;  // by SeriesId
  std::vector<alerts::AlertEvent> last_event_stale_;  // by SeriesId, last feed_stale event
  risk::TimeMs event_time_ms_ = 0;
  bool has_event_time_ = false;
  std::array<std::uint64_t, risk::k_tick_outcome_count> counts_{};
};

}  // namespace riskd::daemon
