#pragma once
// Builds the engine's part of a Snapshot (figures, breach levels, alerts,
// series) on the engine thread. The live service adds its own fields
// (readiness of Kafka, lag, reload state) before publishing.
//
// SnapshotBuilder is incremental: it keeps every borrower's view and, at each
// build, rebuilds only the views of the borrowers the engine recomputed or
// that emitted an alert since the previous build (Engine::take_view_changes),
// plus those whose staleness flipped. Unchanged views, chunks of the borrower
// list, the id index and chunks of the active-alert list are shared with the
// previous snapshot. Cost: O(changed borrowers + N / chunk + series); a
// reshaped book (upsert, remove, reload, new day, first value of a series)
// costs a full build. The result equals build_snapshot() on the same engine
// (tests/daemon/test_snapshot_builder.cpp).
//
// A view is numbers only (figures, breach levels, stress ratios by scenario
// index, the firing list, staleness, rank) plus a pointer to name tables
// shared by every view of the layout: the engine thread formats no text. The
// JSON and metrics lines are rendered by the first reader that needs them
// (snapshot.hpp), off the engine thread.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "riskd/daemon/engine.hpp"
#include "riskd/daemon/snapshot.hpp"

namespace riskd::daemon {

class SnapshotBuilder {
 public:
  /// A new Snapshot of `engine` as it stands, with `version`. Calls
  /// Engine::refresh_results() first so the figures are exact, then
  /// Engine::take_view_changes(): use one builder per engine consumer. A
  /// different engine than last time (config reload) gets a full build.
  /// Fills not_ready_reasons with the series the book still waits for.
  std::shared_ptr<Snapshot> build(Engine& engine, std::uint64_t version, risk::TimeMs wall_now_ms);

  /// Views rebuilt by the last build() (for benchmarks and tests).
  [[nodiscard]] std::size_t last_rebuilt() const { return last_rebuilt_; }
  [[nodiscard]] bool last_was_full() const { return last_full_; }

 private:
  friend std::shared_ptr<Snapshot> build_snapshot(Engine&, std::uint64_t, risk::TimeMs);
  /// The snapshot from the kept state; `take_changes` false: a full build
  /// that leaves the engine's view changes alone.
  std::shared_ptr<Snapshot> build_impl(Engine& engine, std::uint64_t version, risk::TimeMs wall_now_ms,
                                       bool take_changes);
  void full(const Engine& e);
  void incremental(const Engine& e, std::vector<std::uint32_t> changed);
  void rebuild_alert_chunk(std::size_t c);

  const Engine* engine_ = nullptr;
  std::vector<BorrowerViewPtr> views_;  // [book index]; null while not evaluated
  std::vector<AlertListPtr> firing_;    // [book index]; null when nothing fires
  std::vector<std::size_t> pos_;        // [book index]: position in list_ (if evaluated)
  BorrowerList list_;
  std::shared_ptr<const BorrowerLayout> layout_;
  ViewNamesPtr names_;  // ids, series and scenario names of the views built since the last full build
  std::vector<std::uint32_t> alert_order_;  // book indices in key order of "id/"
  std::vector<std::size_t> alert_rank_;     // [book index]: position in alert_order_
  std::vector<std::uint32_t> rule_order_;   // rule indices in key order of their names
  std::vector<std::shared_ptr<const ActiveAlerts::Chunk>> alert_chunks_;
  std::size_t borrower_alert_count_ = 0;
  std::vector<std::uint8_t> series_stale_;  // [series]: feed_stale firing at the last build
  std::vector<std::string> not_evaluated_;
  std::size_t last_rebuilt_ = 0;
  bool last_full_ = false;
};

/// A from-scratch Snapshot of `engine` (a fresh SnapshotBuilder's first
/// build, leaving the engine's view changes for the live builder).
std::shared_ptr<Snapshot> build_snapshot(Engine& engine, std::uint64_t version, risk::TimeMs wall_now_ms);

}  // namespace riskd::daemon
