#include "riskd/risk/trigger_index.hpp"

#include <algorithm>
#include <limits>

namespace riskd::risk {
namespace {

constexpr std::uint32_t k_absent = std::numeric_limits<std::uint32_t>::max();

/// A binary heap whose entries' positions are mirrored in `pos[entry.slot]`.
/// `Before(a, b)`: a belongs above b (max-heap: a.bound > b.bound).
template <typename Before>
struct PositionalHeap {
  template <typename E>
  static void place(std::vector<E>& heap, std::vector<std::uint32_t>& pos, std::size_t at, const E& e) {
    heap[at] = e;
    pos[e.slot] = static_cast<std::uint32_t>(at);
  }
  template <typename E>
  static void sift_up(std::vector<E>& heap, std::vector<std::uint32_t>& pos, std::size_t at) {
    const E e = heap[at];
    while (at > 0) {
      const std::size_t parent = (at - 1) / 2;
      if (!Before{}(e, heap[parent])) break;
      place(heap, pos, at, heap[parent]);
      at = parent;
    }
    place(heap, pos, at, e);
  }
  template <typename E>
  static void sift_down(std::vector<E>& heap, std::vector<std::uint32_t>& pos, std::size_t at) {
    const E e = heap[at];
    const std::size_t n = heap.size();
    for (;;) {
      std::size_t child = 2 * at + 1;
      if (child >= n) break;
      if (child + 1 < n && Before{}(heap[child + 1], heap[child])) ++child;
      if (!Before{}(heap[child], e)) break;
      place(heap, pos, at, heap[child]);
      at = child;
    }
    place(heap, pos, at, e);
  }
  /// Restores the heap order around `at` after its bound changed.
  template <typename E>
  static void fix(std::vector<E>& heap, std::vector<std::uint32_t>& pos, std::size_t at) {
    if (at > 0 && Before{}(heap[at], heap[(at - 1) / 2])) {
      sift_up(heap, pos, at);
    } else {
      sift_down(heap, pos, at);
    }
  }
  template <typename E>
  static void erase(std::vector<E>& heap, std::vector<std::uint32_t>& pos, std::size_t at) {
    pos[heap[at].slot] = k_absent;
    const E last = heap.back();
    heap.pop_back();
    if (at == heap.size()) return;
    place(heap, pos, at, last);
    fix(heap, pos, at);
  }
  /// Inserts `e`, or moves the slot's entry to e.bound.
  template <typename E>
  static void upsert(std::vector<E>& heap, std::vector<std::uint32_t>& pos, const E& e) {
    const std::uint32_t at = pos[e.slot];
    if (at != k_absent) {
      if (heap[at].bound == e.bound) return;
      heap[at].bound = e.bound;
      fix(heap, pos, at);
      return;
    }
    // Growth by 1/8 rather than doubling: the heaps are a large share of a
    // big book's memory and shrink_to_fit() trims them after a full boxing.
    if (heap.size() == heap.capacity()) heap.reserve(heap.size() + heap.size() / 8 + 16);
    heap.push_back(e);
    sift_up(heap, pos, heap.size() - 1);
  }
};

struct LowAbove {  // max-heap: the largest low bound on top
  template <typename E>
  bool operator()(const E& a, const E& b) const {
    return a.bound > b.bound;
  }
};
struct HighAbove {  // min-heap: the smallest high bound on top
  template <typename E>
  bool operator()(const E& a, const E& b) const {
    return a.bound < b.bound;
  }
};
using LowHeap = PositionalHeap<LowAbove>;
using HighHeap = PositionalHeap<HighAbove>;

}  // namespace

void TriggerIndex::reset(std::size_t /*borrowers*/, std::size_t slots, std::size_t series) {
  series_.clear();
  series_.resize(series);
  series_.shrink_to_fit();
  pos_low_.assign(slots, k_absent);
  pos_high_.assign(slots, k_absent);
  pos_low_.shrink_to_fit();
  pos_high_.shrink_to_fit();
}

void TriggerIndex::grow_series(std::size_t series) {
  if (series_.size() < series) series_.resize(series);
}

void TriggerIndex::clear_box(std::uint32_t first_slot, std::span<const SeriesId> coins) {
  for (std::size_t k = 0; k < coins.size(); ++k) {
    const std::uint32_t slot = first_slot + static_cast<std::uint32_t>(k);
    SeriesHeaps& h = series_[coins[k]];
    if (pos_low_[slot] != k_absent) LowHeap::erase(h.low, pos_low_, pos_low_[slot]);
    if (pos_high_[slot] != k_absent) HighHeap::erase(h.high, pos_high_, pos_high_[slot]);
  }
}

void TriggerIndex::set_box(std::uint32_t i, std::uint32_t first_slot, std::span<const SeriesId> coins,
                           std::span<const double> low, std::span<const double> high) {
  for (std::size_t k = 0; k < coins.size(); ++k) {
    const std::uint32_t slot = first_slot + static_cast<std::uint32_t>(k);
    SeriesHeaps& h = series_[coins[k]];
    LowHeap::upsert(h.low, pos_low_, Entry{low[k], i, slot});
    HighHeap::upsert(h.high, pos_high_, Entry{high[k], i, slot});
  }
}

bool TriggerIndex::box_of(std::uint32_t first_slot, std::span<const SeriesId> coins, std::span<double> low,
                          std::span<double> high) const {
  for (std::size_t k = 0; k < coins.size(); ++k) {
    const std::uint32_t slot = first_slot + static_cast<std::uint32_t>(k);
    if (pos_low_[slot] == k_absent || pos_high_[slot] == k_absent) return false;
    const SeriesHeaps& h = series_[coins[k]];
    low[k] = h.low[pos_low_[slot]].bound;
    high[k] = h.high[pos_high_[slot]].bound;
  }
  return true;
}

void TriggerIndex::prefetch_box(std::uint32_t first_slot, std::span<const SeriesId> coins) const {
  for (std::size_t k = 0; k < coins.size(); ++k) {
    const std::uint32_t slot = first_slot + static_cast<std::uint32_t>(k);
    const SeriesHeaps& h = series_[coins[k]];
    if (pos_low_[slot] != k_absent) __builtin_prefetch(h.low.data() + pos_low_[slot]);
    if (pos_high_[slot] != k_absent) __builtin_prefetch(h.high.data() + pos_high_[slot]);
  }
}

void TriggerIndex::collect(SeriesId sid, double value, std::vector<std::uint32_t>& out) {
  if (sid >= series_.size()) return;
  SeriesHeaps& h = series_[sid];
  // A borrower is on at most one side of `value`, so it is returned once.
  while (!h.low.empty() && h.low.front().bound > value) {
    out.push_back(h.low.front().borrower);
    LowHeap::erase(h.low, pos_low_, 0);
  }
  while (!h.high.empty() && h.high.front().bound < value) {
    out.push_back(h.high.front().borrower);
    HighHeap::erase(h.high, pos_high_, 0);
  }
}

void TriggerIndex::shrink_to_fit() {
  for (auto& h : series_) {
    h.low.shrink_to_fit();
    h.high.shrink_to_fit();
  }
}

std::size_t TriggerIndex::entries() const {
  std::size_t n = 0;
  for (const auto& h : series_) n += h.low.size() + h.high.size();
  return n;
}

std::size_t TriggerIndex::memory_bytes() const {
  std::size_t bytes = (pos_low_.capacity() + pos_high_.capacity()) * sizeof(std::uint32_t);
  bytes += series_.capacity() * sizeof(SeriesHeaps);
  for (const auto& h : series_) bytes += (h.low.capacity() + h.high.capacity()) * sizeof(Entry);
  return bytes;
}

}  // namespace riskd::risk
