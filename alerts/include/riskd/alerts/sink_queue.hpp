#pragma once
// The bounded FIFO behind every notification sink: when full, a push drops
// the OLDEST item (the newest state matters most to an on-call person, and
// a later event of the same alert supersedes an earlier one).
// Not thread-safe: sinks guard it with their own mutex.
#include <cstddef>
#include <deque>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace riskd::alerts {

template <typename T>
class DropOldestQueue {
 public:
  /// Throws std::invalid_argument if `capacity` is 0.
  explicit DropOldestQueue(std::size_t capacity) : capacity_(capacity) {
    if (capacity == 0) throw std::invalid_argument("sink queue capacity must be at least 1");
  }

  /// Appends `item`; if the queue was full, first removes the oldest item.
  /// Returns the number of items dropped (0 or 1).
  std::size_t push(T item) {
    std::size_t dropped = 0;
    if (items_.size() >= capacity_) {
      items_.pop_front();
      dropped = 1;
    }
    items_.push_back(std::move(item));
    return dropped;
  }

  /// Removes and returns the oldest item, or nullopt if empty.
  std::optional<T> pop() {
    if (items_.empty()) return std::nullopt;
    std::optional<T> out(std::move(items_.front()));
    items_.pop_front();
    return out;
  }

  /// Removes up to `n` of the oldest items and appends them, oldest first, to `out`.
  void pop_up_to(std::size_t n, std::vector<T>& out) {
    while (n-- > 0 && !items_.empty()) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
  }

  void clear() { items_.clear(); }
  [[nodiscard]] std::size_t size() const { return items_.size(); }
  [[nodiscard]] bool empty() const { return items_.empty(); }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }

 private:
  std::size_t capacity_;
  std::deque<T> items_;
};

}  // namespace riskd::alerts
