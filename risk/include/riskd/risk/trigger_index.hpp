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
// bounds, entries {bound, borrower, slot}. A slot is one (borrower, series)
// pair: the caller numbers them 0..slots-1, a borrower's slots consecutive
// from its `first_slot` (the engine's CSR of coins). Each slot's position in
// its two heaps is kept (4 bytes a side), so replacing a box moves its
// entries in place (sift up or down, O(log N), O(1) for small moves) and the
// heaps hold exactly the live entries: no garbage, no compaction. Flat
// vectors, 16 bytes an entry, growth slack bounded to 1/8 (see reserve_for).
#include <cstdint>
#include <span>
#include <vector>

#include "riskd/risk/market.hpp"

namespace riskd::risk {

class TriggerIndex {
 public:
  /// Drops every box; sized for `borrowers` borrowers holding `slots` slots
  /// in all, and `series` series.
  void reset(std::size_t borrowers, std::size_t slots, std::size_t series);
  /// Makes room for series ids below `series` (the catalog grew).
  void grow_series(std::size_t series);

  /// Replaces borrower `i`'s box: for each k, series coins[k] (slot
  /// first_slot + k) gets the interval [low[k], high[k]] (low[k] <= high[k]).
  /// `first_slot` and `coins` must be the same at every call for `i` until
  /// the next reset, and slot ranges of different borrowers must not overlap.
  void set_box(std::uint32_t i, std::uint32_t first_slot, std::span<const SeriesId> coins,
               std::span<const double> low, std::span<const double> high);
  /// Reads borrower `i`'s box into low/high (sized like coins); false, with
  /// low/high unspecified, unless every side of every coin is in the heaps.
  bool box_of(std::uint32_t first_slot, std::span<const SeriesId> coins, std::span<double> low,
              std::span<double> high) const;
  /// Hints the CPU to fetch the heap entries box_of will read (a visit loop
  /// calls it a few borrowers ahead: the entries sit at random places).
  void prefetch_box(std::uint32_t first_slot, std::span<const SeriesId> coins) const;
  /// Removes borrower `i`'s box (no-op when it has none).
  void clear_box(std::uint32_t first_slot, std::span<const SeriesId> coins);

  /// Appends to `out` every boxed borrower whose interval on `sid` does not
  /// contain `value` (low > value or high < value). Those entries leave the
  /// heaps; the caller must set_box or clear_box each borrower returned
  /// before the next call. A borrower may be returned once per call.
  void collect(SeriesId sid, double value, std::vector<std::uint32_t>& out);

  /// Gives back the heaps' growth slack (after boxing a whole book at once).
  void shrink_to_fit();

  /// Entries held (all live), for the memory figures and tests.
  [[nodiscard]] std::size_t entries() const;
  [[nodiscard]] std::size_t memory_bytes() const;

 private:
  struct Entry {
    double bound;
    std::uint32_t borrower;
    std::uint32_t slot;
  };
  struct SeriesHeaps {
    std::vector<Entry> low;   // max-heap on bound
    std::vector<Entry> high;  // min-heap on bound
  };

  std::vector<SeriesHeaps> series_;
  std::vector<std::uint32_t> pos_low_;   // [slot]: index in its low heap, or k_absent
  std::vector<std::uint32_t> pos_high_;  // [slot]: index in its high heap, or k_absent
};

}  // namespace riskd::risk
