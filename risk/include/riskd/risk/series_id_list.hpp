#pragma once
// SeriesIdList: a short list of SeriesIds (the series one borrower reads),
// 16 bytes, holding up to k_inline ids in place and more in one heap block.
// A compiled borrower keeps five such lists; as std::vector each cost 24
// bytes plus a heap block of at least 32 (issue 5: memory per borrower).
// The interface is the part of std::vector the book uses: contiguous
// iteration (sort, binary_search), size, push_back.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <stdexcept>

#include "riskd/risk/market.hpp"

namespace riskd::risk {

class SeriesIdList {
 public:
  static constexpr std::size_t k_inline = 3;
  static constexpr std::size_t k_max_size = UINT16_MAX;

  SeriesIdList() = default;
  SeriesIdList(std::initializer_list<SeriesId> ids) { append(ids.begin(), ids.end()); }
  SeriesIdList(const SeriesIdList& other) { append(other.begin(), other.end()); }
  SeriesIdList(SeriesIdList&& other) noexcept { take(other); }
  SeriesIdList& operator=(const SeriesIdList& other) {
    if (this != &other) {
      clear();
      append(other.begin(), other.end());
    }
    return *this;
  }
  SeriesIdList& operator=(SeriesIdList&& other) noexcept {
    if (this != &other) {
      release();
      take(other);
    }
    return *this;
  }
  ~SeriesIdList() { release(); }

  [[nodiscard]] SeriesId* data() { return on_heap() ? heap() : ids_; }
  [[nodiscard]] const SeriesId* data() const { return on_heap() ? heap() : ids_; }
  [[nodiscard]] SeriesId* begin() { return data(); }
  [[nodiscard]] SeriesId* end() { return data() + size_; }
  [[nodiscard]] const SeriesId* begin() const { return data(); }
  [[nodiscard]] const SeriesId* end() const { return data() + size_; }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] SeriesId operator[](std::size_t k) const { return data()[k]; }
  [[nodiscard]] bool contains(SeriesId id) const { return std::find(begin(), end(), id) != end(); }
  friend bool operator==(const SeriesIdList& a, const SeriesIdList& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

  void push_back(SeriesId id) {
    if (size_ == capacity_) grow();
    data()[size_++] = id;
  }
  /// Keeps the heap block, if any.
  void clear() { size_ = 0; }

 private:
  [[nodiscard]] bool on_heap() const { return capacity_ > k_inline; }
  // On the heap, the first 8 bytes of ids_ hold the block's address.
  [[nodiscard]] SeriesId* heap() const {
    SeriesId* p = nullptr;
    std::memcpy(&p, ids_, sizeof p);
    return p;
  }
  void set_heap(SeriesId* p) { std::memcpy(ids_, &p, sizeof p); }
  template <typename It>
  void append(It first, It last) {
    for (; first != last; ++first) push_back(*first);
  }
  void grow() {
    if (capacity_ >= k_max_size) throw std::length_error("SeriesIdList: more than 65535 series");
    const auto capacity = static_cast<std::uint16_t>(std::min<std::size_t>(k_max_size, 2 * std::size_t{capacity_}));
    auto block = std::make_unique<SeriesId[]>(capacity);
    std::copy(begin(), end(), block.get());
    release();
    set_heap(block.release());
    capacity_ = capacity;
  }
  void release() {
    if (on_heap()) delete[] heap();
    capacity_ = k_inline;
  }
  void take(SeriesIdList& other) {
    std::memcpy(ids_, other.ids_, sizeof ids_);
    size_ = other.size_;
    capacity_ = other.capacity_;
    other.size_ = 0;
    other.capacity_ = k_inline;
  }

  SeriesId ids_[k_inline] = {};  // the ids, or on the heap the block's address
  std::uint16_t size_ = 0;
  std::uint16_t capacity_ = k_inline;
};
static_assert(sizeof(SeriesIdList) == 16);
static_assert(sizeof(SeriesId) * SeriesIdList::k_inline >= sizeof(SeriesId*));

/// Appends `id` unless the list holds it already.
inline void add_unique(SeriesIdList& ids, SeriesId id) {
  if (!ids.contains(id)) ids.push_back(id);
}

}  // namespace riskd::risk
