#pragma once
// The alert events riskd has handed to Kafka and the broker has not yet
// acknowledged, with the feed positions they gate. Pure bookkeeping, no I/O;
// owned by the engine thread (not thread-safe).
//
// Contract (commit gating): the tick at (topic, partition, offset) that caused
// an event is "acknowledged" once every event it caused is. The offset riskd
// may commit for a partition is never past the oldest tick whose events are
// not all acknowledged, so a crash re-reads that tick and re-emits its events
// with the same (key, seq).
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace riskd::daemon {

/// Where a tick was read: its partition and offset.
struct FeedPosition {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
};

class AlertOutbox {
 public:
  struct Entry {
    std::string key;                    // the alert key (the Kafka message key)
    std::string value;                  // the alert event JSON
    std::optional<FeedPosition> cause;  // nullopt: not caused by a tick (wall-clock staleness)
  };

  /// `capacity`: size() at which full() turns true (the caller then stops
  /// consuming ticks). add() itself never refuses.
  explicit AlertOutbox(std::size_t capacity) : capacity_(capacity) {}

  /// Records one event to deliver; it starts unsent. Returns its token (> 0,
  /// increasing: token order is emission order).
  std::uint64_t add(std::string key, std::string value, std::optional<FeedPosition> cause);
  /// The producer accepted the entry (it is in flight).
  void mark_sent(std::uint64_t token);
  /// The producer refused the entry or its delivery failed: send it again.
  /// Unknown tokens are ignored.
  void mark_unsent(std::uint64_t token);
  /// The broker acknowledged the entry: forget it. False for unknown tokens
  /// (e.g. a report for an entry already acknowledged).
  bool acknowledge(std::uint64_t token);

  /// Tokens to (re)send, oldest first.
  [[nodiscard]] const std::set<std::uint64_t>& unsent() const { return unsent_; }
  /// The entry of a token that is in the outbox (precondition).
  [[nodiscard]] const Entry& entry(std::uint64_t token) const { return entries_.at(token); }

  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] bool empty() const { return entries_.empty(); }
  [[nodiscard]] bool full() const { return entries_.size() >= capacity_; }

  /// The offset to commit for a partition whose next unread offset is
  /// `next_offset`: `next_offset`, or the offset of the oldest tick of that
  /// partition with an unacknowledged event if that is smaller.
  [[nodiscard]] std::int64_t commit_offset(const std::string& topic, std::int32_t partition,
                                           std::int64_t next_offset) const;

 private:
  using PartitionKey = std::pair<std::string, std::int32_t>;
  std::size_t capacity_;
  std::uint64_t next_token_ = 1;
  std::map<std::uint64_t, Entry> entries_;
  std::set<std::uint64_t> unsent_;
  std::map<PartitionKey, std::map<std::int64_t, std::size_t>> gates_;  // offset -> unacknowledged events
};

}  // namespace riskd::daemon
