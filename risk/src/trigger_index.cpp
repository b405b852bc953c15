#include "riskd/risk/trigger_index.hpp"

#include <algorithm>

namespace riskd::risk {
namespace {

struct LowerBound {  // max-heap: the largest low bound on top
  template <typename E>
  bool operator()(const E& a, const E& b) const {
    return a.bound < b.bound;
  }
};
struct HigherBound {  // min-heap: the smallest high bound on top
  template <typename E>
  bool operator()(const E& a, const E& b) const {
    return a.bound > b.bound;
  }
};

}  // namespace

void TriggerIndex::reset(std::size_t borrowers, std::size_t series) {
  series_.clear();
  series_.resize(series);
  version_.assign(borrowers, 0);
  boxed_.assign(borrowers, 0);
}

void TriggerIndex::grow_series(std::size_t series) {
  if (series_.size() < series) series_.resize(series);
}

void TriggerIndex::clear_box(std::uint32_t i, std::span<const SeriesId> coins) {
  if (boxed_[i] == 0) return;
  boxed_[i] = 0;
  ++version_[i];
  for (const SeriesId sid : coins) --series_[sid].live;
}

void TriggerIndex::set_box(std::uint32_t i, std::span<const SeriesId> coins, std::span<const double> low,
                           std::span<const double> high) {
  clear_box(i, coins);
  boxed_[i] = 1;
  const std::uint32_t version = ++version_[i];
  for (std::size_t k = 0; k < coins.size(); ++k) {
    SeriesHeaps& h = series_[coins[k]];
    h.low.push_back({low[k], i, version});
    std::push_heap(h.low.begin(), h.low.end(), LowerBound{});
    h.high.push_back({high[k], i, version});
    std::push_heap(h.high.begin(), h.high.end(), HigherBound{});
    ++h.live;
    maybe_compact(h);
  }
}

void TriggerIndex::maybe_compact(SeriesHeaps& h) {
  // Both heaps hold one live entry per boxed borrower; the rest is garbage.
  const std::size_t limit = 2 * h.live + 1024;
  auto compact = [&](std::vector<Entry>& heap, auto cmp) {
    if (heap.size() <= limit) return;
    std::erase_if(heap, [&](const Entry& e) { return !valid(e); });
    std::make_heap(heap.begin(), heap.end(), cmp);
  };
  compact(h.low, LowerBound{});
  compact(h.high, HigherBound{});
}

void TriggerIndex::collect(SeriesId sid, double value, std::vector<std::uint32_t>& out) {
  if (sid >= series_.size()) return;
  SeriesHeaps& h = series_[sid];
  // A borrower is on at most one side of `value`, so it is returned once.
  while (!h.low.empty() && h.low.front().bound > value) {
    const Entry e = h.low.front();
    std::pop_heap(h.low.begin(), h.low.end(), LowerBound{});
    h.low.pop_back();
    if (valid(e)) out.push_back(e.borrower);
  }
  while (!h.high.empty() && h.high.front().bound < value) {
    const Entry e = h.high.front();
    std::pop_heap(h.high.begin(), h.high.end(), HigherBound{});
    h.high.pop_back();
    if (valid(e)) out.push_back(e.borrower);
  }
}

std::size_t TriggerIndex::entries() const {
  std::size_t n = 0;
  for (const auto& h : series_) n += h.low.size() + h.high.size();
  return n;
}

std::size_t TriggerIndex::memory_bytes() const {
  std::size_t bytes = version_.capacity() * sizeof(std::uint32_t) + boxed_.capacity();
  for (const auto& h : series_) bytes += (h.low.capacity() + h.high.capacity()) * sizeof(Entry);
  return bytes;
}

}  // namespace riskd::risk
