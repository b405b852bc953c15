#pragma once
// The bounded FIFO behind every notification sink: when full, a push drops
// the OLDEST item (the newest state matters most to an on-call person, and
// a later event of the same alert supersedes an earlier one).
// Not thread-safe: sinks guard it with their own mutex.
#include <algorithm>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace riskd::alerts {

/// A ring buffer that grows (doubling) up to `capacity` and then, when full,
/// overwrites its oldest slot by assignment: a steady stream into a full
/// queue (a dead receiver) reuses the slots' memory instead of freeing and
/// allocating per item. T must be default-constructible and assignable.
template <typename T>
class DropOldestQueue {
 public:
  /// Throws std::invalid_argument if `capacity` is 0.
  explicit DropOldestQueue(std::size_t capacity) : capacity_(capacity) {
    if (capacity == 0) throw std::invalid_argument("sink queue capacity must be at least 1");
  }

  /// Appends `item`; if the queue was full, the oldest item is dropped first.
  /// Returns the number of items dropped (0 or 1).
  template <typename U>
  std::size_t push(U&& item) {
    if (size_ == slots_.size() && slots_.size() < capacity_) grow();
    if (size_ == slots_.size()) {  // full at capacity: the oldest slot takes the new item
      slots_[head_] = std::forward<U>(item);
      head_ = next(head_);
      return 1;
    }
    slots_[(head_ + size_) % slots_.size()] = std::forward<U>(item);
    ++size_;
    return 0;
  }

  /// Removes and returns the oldest item, or nullopt if empty.
  std::optional<T> pop() {
    if (size_ == 0) return std::nullopt;
    std::optional<T> out(std::move(slots_[head_]));
    head_ = next(head_);
    --size_;
    return out;
  }

  /// Removes up to `n` of the oldest items and appends them, oldest first, to `out`.
  void pop_up_to(std::size_t n, std::vector<T>& out) {
    while (n-- > 0 && size_ > 0) out.push_back(*pop());
  }

  void clear() {
    while (size_ > 0) pop();
  }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }

 private:
  [[nodiscard]] std::size_t next(std::size_t i) const { return i + 1 == slots_.size() ? 0 : i + 1; }
  void grow() {
    std::vector<T> bigger(std::min(capacity_, std::max<std::size_t>(16, slots_.size() * 2)));
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move(slots_[(head_ + i) % slots_.size()]);
    slots_.swap(bigger);
    head_ = 0;
  }

  std::size_t capacity_;
  std::vector<T> slots_;  // ring: size_ items from head_
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace riskd::alerts
