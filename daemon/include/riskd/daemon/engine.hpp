#pragma once
// The engine: the single writer of the risk state. Applies ticks (decode,
// validate, apply), re-evaluates the book, steps the alert rules and returns
// the events each tick caused, sorted by key. Used by `replay` in event time
// and by `run` on its engine thread. Not thread-safe by design.
#include <array>
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
  std::string error;  // why it was not applied (empty when applied)
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
