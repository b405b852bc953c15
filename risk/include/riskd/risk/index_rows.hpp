#pragma once
// IndexRows: rows of 32-bit indices (e.g. the borrowers reading each series)
// in one array with row offsets (CSR). 4 bytes an entry and 4 a row, where a
// vector per row costs 24 bytes plus a heap block with its growth slack.
// Built once from a callback that lists the (row, value) pairs; immutable
// afterwards.
#include <cstdint>
#include <span>
#include <vector>

namespace riskd::risk {

class IndexRows {
 public:
  /// Builds `rows` rows from `for_each_pair(emit)`, which must call
  /// emit(row, value) for every pair, row < rows, the same pairs in the same
  /// order each time (it is called twice). A row keeps its values in order.
  template <typename ForEachPair>
  void build(std::size_t rows, ForEachPair&& for_each_pair) {
    begin_.assign(rows + 1, 0);
    for_each_pair([&](std::size_t row, std::uint32_t) { ++begin_[row + 1]; });
    for (std::size_t r = 0; r < rows; ++r) begin_[r + 1] += begin_[r];
    values_.assign(begin_[rows], 0);
    std::vector<std::uint32_t> next(begin_.begin(), begin_.end() - 1);
    for_each_pair([&](std::size_t row, std::uint32_t value) { values_[next[row]++] = value; });
  }

  /// The values of `row`; empty for a row beyond those built.
  [[nodiscard]] std::span<const std::uint32_t> operator[](std::size_t row) const {
    if (row + 1 >= begin_.size()) return {};
    return {values_.data() + begin_[row], values_.data() + begin_[row + 1]};
  }
  [[nodiscard]] std::size_t rows() const { return begin_.empty() ? 0 : begin_.size() - 1; }
  [[nodiscard]] std::size_t memory_bytes() const {
    return (begin_.capacity() + values_.capacity()) * sizeof(std::uint32_t);
  }

 private:
  std::vector<std::uint32_t> begin_;   // [row + 1]: offsets into values_
  std::vector<std::uint32_t> values_;  // every row's values, row after row
};

}  // namespace riskd::risk
