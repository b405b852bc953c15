#pragma once
// The engine: the single writer of the risk state. Applies ticks (decode,
// validate, apply), re-evaluates the book, steps the alert rules and returns
// the events each tick caused, sorted by key. Used by `replay` in event time
// and by `run` on its engine thread. Not thread-safe by design.
#include <array>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "riskd/alerts/rules.hpp"
#include "riskd/feeds/tick.hpp"
#include "riskd/risk/book.hpp"
#include "riskd/risk/index_rows.hpp"
#include "riskd/risk/market.hpp"
#include "riskd/risk/trigger_index.hpp"

namespace riskd::daemon {

struct TickResult {
  risk::TickOutcome outcome = risk::TickOutcome::applied;
  std::string error;       // why it was not applied (empty when applied)
  std::string series;      // the tick's series, when it decoded
  risk::TimeMs ts_ms = 0;  // the tick's ts, when it decoded
};

enum class StalenessClock {
  event_time,  // replay: judged at every applied tick against T
  external,    // run: the caller calls check_staleness with the wall clock
};

/// How apply() finds the borrowers a tick can change. Both emit the same
/// events (tests/daemon/test_trigger_index.cpp checks it on random books).
enum class EvalMode {
  /// Trigger index (risk/README.md "Trigger index"): a price tick visits only
  /// the borrowers whose quiet box it leaves, plus those with a rule pending
  /// under for_s and those the index cannot box; other ticks visit the
  /// series' dependents; a new day or a series' first value visits everyone.
  /// Figures of unvisited borrowers are brought up to date by refresh_results().
  indexed,
  /// Every applied tick revalues and steps every borrower: O(N) per tick.
  brute_force,
};

/// Counters of the indexed path, for benchmarks and tests.
struct IndexStats {
  std::uint64_t ticks = 0;        // applied ticks
  std::uint64_t visits = 0;       // borrower evaluations stepped by ticks
  std::uint64_t full_visits = 0;  // ticks that visited every borrower
  std::uint64_t boxes = 0;        // quiet boxes computed (or kept)
  std::uint64_t boxes_kept = 0;   // of which kept whole: both corners verified still quiet
  std::uint64_t searches = 0;     // box sides where the closed-form guess failed and a search ran
  std::uint64_t pending = 0;      // borrowers with a rule pending now
  std::uint64_t unboxable = 0;    // borrowers on the brute-force path now
};

class Engine {
 public:
  explicit Engine(const risk::RiskConfig& config, StalenessClock clock = StalenessClock::event_time,
                  EvalMode mode = EvalMode::indexed);

  /// Decodes, validates and applies one tick; on `applied` re-evaluates the
  /// book and appends the transitions it caused to `events`, sorted by key.
  /// `fallback_ts_ms` stands in for an absent `ts` (the Kafka timestamp).
  TickResult apply(std::string_view tick_json, std::optional<risk::TimeMs> fallback_ts_ms,
                   std::vector<alerts::AlertEvent>& events);

  /// apply() for a tick already decoded (benchmarks, and callers that decode
  /// elsewhere): validates and applies it.
  TickResult apply_tick(const feeds::Tick& tick, std::vector<alerts::AlertEvent>& events);

  /// Fires feed_stale for every series older than its stale_after_s at `now_ms`.
  void check_staleness(risk::TimeMs now_ms, std::vector<alerts::AlertEvent>& events);

  /// Adds or replaces a borrower (already validated). A replaced borrower's
  /// alert states are kept for the rules it still has; its next evaluation
  /// (on the next applied tick) emits any transition.
  void upsert_borrower(const risk::BorrowerSpec& spec);
  /// Removes a borrower and its alert states; false if unknown.
  bool remove_borrower(std::string_view id);

  /// One change of the book: `spec` upserts, nullopt removes `id`.
  struct BorrowerChange {
    std::string id;
    std::optional<risk::BorrowerSpec> spec;
  };
  /// upsert_borrower / remove_borrower for each change, in order, with the
  /// same result, but the trigger index and views rebuilt once for all of
  /// them (each one alone re-indexes the whole book). Returns how many
  /// removals found their borrower.
  std::size_t apply_borrower_changes(std::span<const BorrowerChange> changes);

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
  /// The latest event of every firing key (covenant rules and feed_stale)
  /// and of every feed_stale key that has emitted one: what a reload carries
  /// over. Covenant rules keep no event once resolved (alerts/README.md).
  [[nodiscard]] std::map<std::string, alerts::AlertEvent> last_events() const;
  /// Restores the states of the keys this engine has; others are ignored.
  /// `last_events` (the latest event per key, e.g. from the alerts topic)
  /// restores what active_alerts() reports for a rule restored as firing,
  /// and what its resolution event is built from.
  void restore_alert_states(const std::map<std::string, alerts::RuleState>& states,
                            const std::map<std::string, alerts::AlertEvent>& last_events = {});

  /// The result document on the current market shocked by `scenario`
  /// (alerts: conditions holding). Changes nothing.
  [[nodiscard]] std::string what_if(const risk::Scenario& scenario) const;

  /// Brings book().results() up to date with the market as it stands.
  /// Readers of figures (snapshots, signals) call it first: apply() only
  /// guarantees exact alert events, not that every borrower's figures were
  /// recomputed. Cost: the borrowers touched since the last call.
  void refresh_results();

  /// What changed for incremental snapshots (snapshot_builder.hpp) since
  /// the previous take_view_changes().
  struct ViewChanges {
    /// Every borrower may have changed: first call, book reshaped (upsert,
    /// remove, market adopted), alert states restored, or every figure
    /// recomputed at once (new day, restore, brute-force mode).
    bool all = false;
    /// Otherwise: book indices (unsorted, unique) of the borrowers whose
    /// figures were recomputed or that emitted an alert event.
    std::vector<std::uint32_t> borrowers;
  };
  /// Hands over the changes recorded since the last call and starts afresh.
  /// Call after refresh_results() so that its recomputations are included.
  ViewChanges take_view_changes();
  /// The latest event of every firing feed_stale alert, in series order:
  /// the feed part of active_alerts() without the O(alerts) sort.
  [[nodiscard]] std::vector<alerts::AlertEvent> firing_feed_alerts() const;

  [[nodiscard]] const risk::Book& book() const { return book_; }
  /// Event time T: the largest ts applied so far (0 before the first tick).
  [[nodiscard]] risk::TimeMs event_time_ms() const { return event_time_ms_; }
  [[nodiscard]] const std::array<std::uint64_t, risk::k_tick_outcome_count>& counts() const { return counts_; }
  /// Alerts firing now, as their latest events, sorted by key.
  [[nodiscard]] std::vector<alerts::AlertEvent> active_alerts() const;
  [[nodiscard]] const alerts::CovenantAlerts& covenant_alerts() const { return covenant_alerts_; }
  [[nodiscard]] EvalMode mode() const { return mode_; }
  [[nodiscard]] IndexStats index_stats() const;
  /// Bytes held by the trigger index and the engine's per-borrower arrays.
  [[nodiscard]] std::size_t index_memory_bytes() const;

 private:
  void count(risk::TickOutcome outcome) { ++counts_[static_cast<std::size_t>(outcome)]; }
  void on_applied(risk::SeriesId sid, std::vector<alerts::AlertEvent>& events);
  void step_all(risk::TimeMs now_ms, std::vector<alerts::AlertEvent>& events);
  void step_indexed(risk::SeriesId sid, risk::TimeMs now_ms, std::vector<alerts::AlertEvent>& events);
  void visit(std::size_t i, risk::TimeMs now_ms, std::vector<alerts::AlertEvent>& events);
  /// Asks the CPU for what visit(i) will read at random places (a visit
  /// loop calls it a few borrowers ahead); no effect on results.
  void prefetch_visit(std::size_t i) const;
  /// Sizes the index structures for the book as it is; everyone is visited
  /// on the next applied tick and every figure is refreshed on the next read.
  void rebuild_index();
  /// Boxes borrower i after an evaluation, or puts it on the pending or
  /// brute-force list.
  void classify(std::size_t i);
  [[nodiscard]] bool monotone_now(std::size_t i) const;
  /// Closed-form guess of the largest quiet down/up moves (unverified).
  bool guess_quiet_moves(std::size_t i, double& g_down, double& g_up) const;
  /// Fire/resolve bits of every rule with borrower i's coins at f times
  /// their current value (2 bits a rule); writes the coin values used.
  /// Scratch markets: copies of the book's variant values, synced once per
  /// visiting tick (sync_scratch_values); readings_at overwrites the probed
  /// coins and classify() puts them back, so between classify calls they
  /// equal the book's values.
  std::uint64_t readings_at(std::size_t i, double f, std::span<double> coin_values);
  /// The same with borrower i's coins at `coin_values` (in coins(i) order).
  std::uint64_t readings_with(std::size_t i, std::span<const double> coin_values);
  /// Fire/resolve bits (2 a rule) of `result`'s rule readings.
  [[nodiscard]] std::uint64_t rule_bits(const risk::ResultView& result, const risk::Covenants& covenants) const;
  void sync_scratch_values();
  [[nodiscard]] std::span<const risk::SeriesId> coins(std::size_t i) const {
    return {coin_ids_.data() + coin_begin_[i], coin_ids_.data() + coin_begin_[i + 1]};
  }

  EvalMode mode_;
  // Indexed path (unused in brute_force mode). Flat arrays by borrower.
  risk::TriggerIndex index_;
  std::vector<std::uint32_t> coin_begin_;      // [borrower + 1]: CSR into coin_ids_
  std::vector<risk::SeriesId> coin_ids_;       // price series a borrower is boxed on
  std::vector<std::uint8_t> static_monotone_;  // [borrower]: signs allow a box
  risk::IndexRows direct_;                     // [series]: dependents not boxed on it
  risk::IndexRows dependents_;                 // [series]: every borrower reading it
  std::vector<std::uint8_t> flags_;            // [borrower]: k_flag_* bits
  std::vector<std::uint32_t> pending_;         // borrowers with a rule pending (for_s)
  std::vector<std::uint32_t> unboxable_;       // borrowers that cannot be boxed now
  std::vector<std::uint32_t> visit_list_;      // scratch
  std::vector<std::uint8_t> seen_value_;       // [series]: had a value at the last tick
  bool visit_all_ = true;                      // next applied tick visits everyone
  bool first_value_ = false;                   // this tick is its series' first value
  // refresh_results(): figures are current for borrower i iff eval_seq_[i]
  // >= changed_seq_[s] for each series s it reads.
  std::uint64_t seq_ = 0;                                 // applied ticks and market changes
  std::vector<std::uint64_t> eval_seq_;                   // [borrower]
  std::vector<std::uint64_t> changed_seq_;                // [series]
  std::vector<risk::SeriesId> changed_series_;            // changed since the last refresh
  std::vector<std::uint8_t> changed_listed_;              // [series]: in changed_series_
  std::vector<double> probe_coins_, box_low_, box_high_;  // scratch, per coin
  bool all_dirty_ = true;                                 // refresh everything
  std::vector<std::vector<double>> scratch_values_;       // [variant] probe markets
  std::vector<risk::StressRatios> scratch_stress_;  // [scenario] probe ratios
  IndexStats stats_;
  // take_view_changes(): borrowers changed since the last call.
  void view_changed(std::size_t i);
  void view_changed_all() { view_all_ = true; }
  bool view_all_ = true;
  std::vector<std::uint32_t> view_changed_;  // unique, thanks to view_marked_
  std::vector<std::uint8_t> view_marked_;    // [borrower]: in view_changed_

  risk::Book book_;
  StalenessClock clock_;
  alerts::CovenantAlerts covenant_alerts_;
  std::vector<alerts::RuleState> stale_;              // by SeriesId
  std::vector<alerts::AlertEvent> last_event_stale_;  // by SeriesId, last feed_stale event
  risk::TimeMs event_time_ms_ = 0;
  bool has_event_time_ = false;
  std::array<std::uint64_t, risk::k_tick_outcome_count> counts_{};
};

}  // namespace riskd::daemon
