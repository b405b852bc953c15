#pragma once
// Signals (INTERFACES.md "Signal"): the borrower's result object plus "at",
// published on the signals topic when one of its ratios moved by more than
// 1e-4 relative since its last signal, at most once per 100 ms of event time
// per borrower. Owned by the engine thread (not thread-safe).
//
// Cost: collect() does nothing until event time has moved 100 ms since the
// last check; a check then looks only at the borrowers that depend on a
// series applied since the last check (all borrowers when the valuation day
// changed or the book changed), plus those whose change was held back by
// the 100 ms limit. "Ratios" are ltv, liquidation_ltv and dscr.
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "riskd/daemon/engine.hpp"

namespace riskd::daemon {

class SignalTracker {
 public:
  static constexpr risk::TimeMs k_min_interval_ms = 100;
  static constexpr double k_min_relative_move = 1e-4;

  /// Receives (borrower id, signal JSON); returns false if it could not take
  /// it (then the borrower is retried at the next check).
  using Send = std::function<bool(const std::string& borrower_id, std::string json)>;

  /// Series `sid` was applied: the borrowers using it may have new figures.
  void touched(risk::SeriesId sid) { touched_.insert(sid); }
  /// The book changed (borrower added, replaced or removed; config reload):
  /// every borrower is a candidate at the next check.
  void invalidate() {
    all_ = true;
    index_stale_ = true;
  }

  /// At most every 100 ms of event time: refreshes the engine's results and
  /// sends a signal for each candidate borrower that is due.
  void collect(Engine& engine, const Send& send);

  /// Signals sent so far.
  [[nodiscard]] std::uint64_t sent() const { return sent_; }

 private:
  struct Last {
    double ltv = 0.0;
    double liquidation_ltv = 0.0;
    double dscr = 0.0;
    risk::TimeMs at_ms = 0;
  };
  bool checked_ = false;
  risk::TimeMs last_check_ms_ = 0;
  risk::TimeMs last_day_ms_ = 0;
  bool all_ = true;
  bool index_stale_ = true;
  std::vector<std::vector<std::size_t>> users_;  // by SeriesId: indices of the borrowers using it
  std::set<risk::SeriesId> touched_;
  std::set<std::string> held_;  // changed, but within 100 ms of their last signal
  std::unordered_map<std::string, Last> last_;
  std::uint64_t sent_ = 0;
};

/// True when `now` differs from `before` by more than `relative` of |before|
/// (infinite and non-finite values: any change of kind counts).
bool moved(double before, double now, double relative);

}  // namespace riskd::daemon
