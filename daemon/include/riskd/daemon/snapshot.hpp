#pragma once
// An immutable picture of the engine's state, published by the engine thread
// (the single writer) and read by the HTTP server, the metrics exposition and
// the WebSocket stream without locks on the risk state. Borrower views hold
// numbers; their JSON and metrics text are rendered lazily by the readers
// (BorrowerView::json), never by the engine thread.
//
// Publication is incremental (snapshot_builder.hpp): a BorrowerView is built
// once and shared, by pointer, by every snapshot until that borrower's
// figures, alerts or staleness change; the per-borrower lists are chunked so
// that a publication copies O(changed borrowers + N / chunk) pointers. Two
// snapshots holding the same view pointer hold the same borrower picture.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "riskd/alerts/rules.hpp"
#include "riskd/risk/market.hpp"
#include "riskd/risk/valuation.hpp"

namespace riskd::daemon {

using AlertList = std::vector<alerts::AlertEvent>;
using AlertListPtr = std::shared_ptr<const AlertList>;

/// The names a borrower view refers to by index: built once per book layout
/// (a full build), shared by every view built from it, immutable.
struct ViewNames {
  std::vector<std::string> ids;        // borrower ids, by BorrowerView::name_index (book index)
  std::vector<std::string> series;     // series ids, by risk::SeriesId
  std::vector<std::string> scenarios;  // stress scenario names, by scenario index
};
using ViewNamesPtr = std::shared_ptr<const ViewNames>;

/// One borrower's picture: numbers only, built on the engine thread in
/// O(rules + series + scenarios) without formatting any text. Its JSON object
/// and its metrics lines are rendered lazily, by the first reader that needs
/// them (HTTP handler, metrics scrape, stream publisher), once per view; a
/// view is immutable once published apart from those caches, which are
/// thread-safe (std::call_once). Not copyable (the caches' flags).
struct BorrowerView {
  ViewNamesPtr names;           // never null in a published view
  std::uint32_t name_index = 0;  // this borrower's id: names->ids[name_index]
  risk::Figures figures;
  /// Breach levels (Valuer::breach_levels): price per crypto series, GPU
  /// index per GPU series (ids in names->series), spread; nullopt = undefined.
  risk::BreachLevels breach;
  std::vector<risk::StressRatios> stress;  // [scenario index] (names in names->scenarios)
  AlertListPtr firing;  // alerts firing now for this borrower, sorted by key; null when none
  bool stale = false;   // depends on a series with a firing feed_stale
  /// Rank among alerting borrowers (metrics cap): the worst severity firing,
  /// then how far past its threshold the worst firing rule is now, relative
  /// to the threshold (0 when none is past).
  alerts::Severity worst_severity = alerts::Severity::info;
  double breach_depth = 0.0;

  BorrowerView() = default;
  BorrowerView(const BorrowerView&) = delete;
  BorrowerView& operator=(const BorrowerView&) = delete;

  [[nodiscard]] const std::string& id() const { return names->ids[name_index]; }
  /// The firing alerts (empty when none).
  [[nodiscard]] const AlertList& firing_alerts() const;
  [[nodiscard]] bool alerting() const { return firing && !firing->empty(); }

  /// The borrower object of the result document (INTERFACES.md), one line,
  /// byte for byte what write_borrower() writes with indent 0. Rendered at
  /// the first call (by whichever thread makes it) and cached; thread-safe.
  [[nodiscard]] const std::string& json() const;
  /// True once json() has rendered (tests: publication itself renders none).
  [[nodiscard]] bool json_rendered() const { return json_rendered_.load(std::memory_order_acquire); }
  /// True when json() of both views is the same text, judged on the numbers
  /// and names without rendering either (stream diffs). Cost O(fields).
  [[nodiscard]] bool same_json(const BorrowerView& other) const;

  /// Cache of the metrics exposition (metrics.cpp): this borrower's sample
  /// lines per family, rendered at the first scrape that exports it.
  mutable std::once_flag metric_lines_once;
  mutable std::vector<std::string> metric_lines;

 private:
  mutable std::once_flag json_once_;
  mutable std::string json_;
  mutable std::atomic<bool> json_rendered_{false};
};

using BorrowerViewPtr = std::shared_ptr<const BorrowerView>;

/// A persistent vector of borrower views: fixed-size chunks shared between
/// snapshots; a publication replaces only the chunks holding a changed view.
class BorrowerList {
 public:
  static constexpr std::size_t k_chunk = 256;
  using Chunk = std::vector<BorrowerViewPtr>;

  BorrowerList() = default;
  explicit BorrowerList(const std::vector<BorrowerViewPtr>& views);
  /// A copy shares every chunk and never modifies one in place.
  BorrowerList(const BorrowerList& other);
  BorrowerList& operator=(const BorrowerList& other);
  BorrowerList(BorrowerList&&) noexcept = default;
  BorrowerList& operator=(BorrowerList&&) noexcept = default;

  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] const BorrowerViewPtr& ptr(std::size_t i) const { return (*chunks_[i / k_chunk])[i % k_chunk]; }
  [[nodiscard]] const BorrowerView& operator[](std::size_t i) const { return *ptr(i); }
  /// Replaces view `i`. A chunk this list created since its last seal() is
  /// written in place; any other is copied first (copy on write).
  void set(std::size_t i, BorrowerViewPtr view);
  /// Appends (used while building).
  void push_back(BorrowerViewPtr view);
  /// Call after copying this list into a snapshot: from then on set()
  /// leaves every chunk the copy shares untouched.
  void seal() { fresh_.assign(chunks_.size(), 0); }

  template <typename F>
  void for_each(F&& f) const {
    for (const auto& c : chunks_)
      for (const auto& v : *c) f(*v);
  }
  /// True when chunk `c` of both lists is the same object (nothing changed in it).
  [[nodiscard]] std::size_t chunk_count() const { return chunks_.size(); }
  [[nodiscard]] bool same_chunk(const BorrowerList& other, std::size_t c) const {
    return c < chunks_.size() && c < other.chunks_.size() && chunks_[c] == other.chunks_[c];
  }

 private:
  std::vector<std::shared_ptr<Chunk>> chunks_;  // never modified once shared with another list
  std::vector<std::uint8_t> fresh_;              // [chunk]: created by this list since its last seal()
  std::size_t size_ = 0;
};

/// The evaluated borrowers' ids in book order and the id -> position index;
/// replaced only when that set or order changes (shared otherwise).
struct BorrowerLayout {
  std::vector<std::string> ids;
  std::unordered_map<std::string, std::size_t> index;
};

/// The active alerts sorted by key, kept as chunks of the borrowers' firing
/// lists (borrowers in key order) plus the few feed alerts; iterate with
/// Snapshot::for_each_active_alert.
struct ActiveAlerts {
  static constexpr std::size_t k_chunk = 256;
  using Chunk = std::vector<AlertListPtr>;  // null entries: borrowers with nothing firing
  std::vector<std::shared_ptr<const Chunk>> chunks;
  AlertList feed;  // feed_stale alerts, sorted by key
  std::size_t count = 0;
};

struct SeriesView {
  std::string id;
  risk::SeriesKind kind = risk::SeriesKind::price;
  bool has_value = false;
  double value = 0.0;
  risk::TimeMs ts_ms = 0;
  std::optional<double> stale_after_s;
  bool stale = false;  // feed_stale firing
  std::array<std::uint64_t, risk::k_tick_outcome_count> counts{};
};

struct PartitionLag {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t lag_messages = 0;
};

struct Snapshot {
  std::uint64_t version = 0;          // grows with every publication
  risk::TimeMs event_time_ms = 0;     // T
  risk::TimeMs valuation_day_ms = 0;  // t
  risk::TimeMs published_at_ms = 0;   // wall clock
  BorrowerList borrowers;             // evaluated borrowers, in book order
  /// Ids and index of `borrowers`; may be null (find() then scans).
  std::shared_ptr<const BorrowerLayout> layout;
  std::vector<std::string> not_evaluated;  // borrowers waiting for a series
  ActiveAlerts active_alerts;              // sorted by key
  std::vector<SeriesView> series;          // in catalog order
  std::array<std::uint64_t, risk::k_tick_outcome_count> tick_counts{};
  std::uint64_t borrower_updates_applied = 0;
  std::uint64_t borrower_updates_rejected = 0;
  bool ready = false;
  std::vector<std::string> not_ready_reasons;  // why /readyz answers 503
  bool config_reload_ok = true;
  double config_last_reload_unix_s = 0.0;
  std::vector<PartitionLag> lag;

  /// The result document of INTERFACES.md built from the borrowers' JSON
  /// (renders the views not rendered yet: call it off the engine thread).
  [[nodiscard]] std::string result_document() const;
  [[nodiscard]] const BorrowerView* find(const std::string& id) const;
  /// Calls f(const alerts::AlertEvent&) for every active alert, sorted by key.
  template <typename F>
  void for_each_active_alert(F&& f) const;
  /// Every active alert, sorted by key (a copy: O(active alerts)).
  [[nodiscard]] AlertList active_alert_list() const;
  /// Sets active_alerts from a list sorted by key (tests, hand-built snapshots).
  void set_active_alerts(const AlertList& sorted);
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

template <typename F>
void Snapshot::for_each_active_alert(F&& f) const {
  // Borrower keys ("id/rule") come chunk by chunk in key order; feed keys
  // ("feed_stale:series") are merged in by plain byte-wise comparison.
  std::size_t next_feed = 0;
  const AlertList& feed = active_alerts.feed;
  for (const auto& chunk : active_alerts.chunks) {
    for (const AlertListPtr& list : *chunk) {
      if (!list) continue;
      for (const alerts::AlertEvent& a : *list) {
        while (next_feed < feed.size() && feed[next_feed].key < a.key) f(feed[next_feed++]);
        f(a);
      }
    }
  }
  while (next_feed < feed.size()) f(feed[next_feed++]);
}

}  // namespace riskd::daemon
