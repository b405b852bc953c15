#pragma once
// The trigger index: for every price series, the borrowers' "quiet boxes"
// in two binary heaps, so that a tick moving a series from `old` to `new`
// finds the borrowers whose box it leaves in O(log N + k) instead of
// visiting the whole book.
//
// A borrower's quiet box is one interval [low_s, high_s] per price series s
// it is boxed on (the engine computes it: inside the box none of its rule
// readings can change). The index only stores and queries boxes; it knows
// nothing about valuation. Single writer, not thread-safe.
//
// Representation: per series a max-heap of low bounds and a min-heap of high
// bounds, entries {bound, borrower, version}. Replacing a box bumps the
// borrower's version and pushes new entries; old entries become garbage that
// queries skip and that is compacted away once a heap holds more than twice
// its live entries (amortised O(1) per push). Flat vectors, 16 bytes an
// entry: no node-based containers.
#include <cstdint>
#include <span>
#include <vector>

#include "riskd/risk/market.hpp"

namespace riskd::risk {

class TriggerIndex {
 public:
  /// Drops every box; sized for `borrowers` borrowers and `series` series.
  void reset(std::size_t borrowers, std::size_t series);
  /// Makes room for series ids below `series` (the catalog grew).
  void grow_series(std::size_t series);

  /// Replaces borrower `i`'s box: for each k, series coins[k] gets the
  /// interval [low[k], high[k]] (low[k] <= high[k]). `coins` must be the same
  /// list at every call for `i` until the next reset.
  void set_box(std::uint32_t i, std::span<const SeriesId> coins, std::span<const double> low,
               std::span<const double> high);
  /// Removes borrower `i`'s box (no-op when it has none).
  void clear_box(std::uint32_t i, std::span<const SeriesId> coins);
  [[nodiscard]] bool has_box(std::uint32_t i) const { return boxed_[i] != 0; }

  /// Appends to `out` every boxed borrower whose interval on `sid` does not
  /// contain `value` (low > value or high < value). Those entries leave the
  /// heaps; the caller must set_box or clear_box each borrower returned
  /// before the next call. A borrower may be returned once per call.
  void collect(SeriesId sid, double value, std::vector<std::uint32_t>& out);

  /// Entries held (live and garbage), for the memory figures.
  [[nodiscard]] std::size_t entries() const;
  [[nodiscard]] std::size_t memory_bytes() const;

 private:
  struct Entry {
    double bound;
    std::uint32_t borrower;
    std::uint32_t version;
  };
  struct SeriesHeaps {
    std::vector<Entry> low;   // max-heap on bound
    std::vector<Entry> high;  // min-heap on bound
    std::size_t live = 0;     // boxed borrowers on this series
  };
  [[nodiscard]] bool valid(const Entry& e) const {
    return boxed_[e.borrower] != 0 && version_[e.borrower] == e.version;
  }
  void maybe_compact(SeriesHeaps& h);

  std::vector<SeriesHeaps> series_;
  std::vector<std::uint32_t> version_;  // [borrower]
  std::vector<std::uint8_t> boxed_;     // [borrower]
};

}  // namespace riskd::risk
