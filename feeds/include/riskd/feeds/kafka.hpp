#pragma once
// RAII wrappers over librdkafka (kept out of this header: pimpl), and the
// development broker (librdkafka's mock cluster). Each object has one owner
// thread; none is thread-safe unless a method says so. Constructors throw
// KafkaError; hot-path calls report errors through return values.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "riskd/risk/time.hpp"

struct rd_kafka_message_s;  // librdkafka's rd_kafka_message_t, kept opaque here

namespace riskd::feeds {

class KafkaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// librdkafka configuration: `bootstrap.servers` plus user properties passed as is.
using KafkaProperties = std::map<std::string, std::string>;

/// One message, not owning its strings: of a KafkaBatch (read in place from
/// librdkafka's buffers; valid until the batch is cleared, refilled, moved
/// from or destroyed) or of a KafkaMessage (valid while it is unchanged).
/// Copy what must live longer.
struct KafkaMessageView {
  std::string_view topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string_view> key;       // nullopt: no key (an empty key is an empty view)
  std::optional<std::string_view> value;     // nullopt: a tombstone (null value)
  std::optional<risk::TimeMs> timestamp_ms;  // the message timestamp, if any
};

struct KafkaMessage {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;          // nullopt: a tombstone (null value)
  std::optional<risk::TimeMs> timestamp_ms;  // the message timestamp, if any

  [[nodiscard]] KafkaMessageView view() const {
    return {topic, partition, offset, key ? std::optional<std::string_view>(*key) : std::nullopt,
            value ? std::optional<std::string_view>(*value) : std::nullopt, timestamp_ms};
  }
};

/// The messages of one KafkaConsumer::poll, kept in librdkafka's buffers (no
/// copy): it owns the librdkafka messages and releases each once, on clear(),
/// on the next poll into it, or on destruction. Only messages are held
/// (errors were reported by the poll). Move-only; not thread-safe. Every
/// batch must be cleared or destroyed before the consumer that filled it
/// (librdkafka's contract: a consumer closes only once its messages are freed).
class KafkaBatch {
 public:
  KafkaBatch() = default;
  ~KafkaBatch() { clear(); }
  KafkaBatch(const KafkaBatch&) = delete;
  KafkaBatch& operator=(const KafkaBatch&) = delete;
  KafkaBatch(KafkaBatch&& other) noexcept : messages_(std::move(other.messages_)) { other.messages_.clear(); }
  KafkaBatch& operator=(KafkaBatch&& other) noexcept {
    if (this != &other) {
      clear();
      messages_.swap(other.messages_);
    }
    return *this;
  }

  [[nodiscard]] std::size_t size() const { return messages_.size(); }
  [[nodiscard]] bool empty() const { return messages_.empty(); }
  /// The i-th message (i < size()), in the order the consumer returned them.
  [[nodiscard]] KafkaMessageView operator[](std::size_t i) const;
  /// A copy of the i-th message that owns its strings.
  [[nodiscard]] KafkaMessage copy(std::size_t i) const;
  /// Releases every message to librdkafka; size() is 0 after. Never throws.
  void clear() noexcept;

 private:
  friend class KafkaConsumer;
  std::vector<rd_kafka_message_s*> messages_;  // owned; capacity kept across polls
};

/// Special start offsets for assign().
inline constexpr std::int64_t k_offset_beginning = -2;
inline constexpr std::int64_t k_offset_end = -1;
inline constexpr std::int64_t k_offset_stored = -1000;  // the group's committed offset, else beginning

struct TopicPartition {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = k_offset_stored;  // start offset (assign) or next offset to read (commit)
};

/// A consumer with manual partition assignment: riskd reads every partition
/// of its feed topics itself (no group rebalancing); `group.id` is used only
/// to commit offsets, so consumer lag shows in standard Kafka tooling.
class KafkaConsumer {
 public:
  /// Throws KafkaError if the configuration is rejected or `group_id` is
  /// empty. `properties` are applied after riskd's defaults (auto.offset.reset
  /// =earliest) and before its invariants (enable.auto.commit,
  /// enable.auto.offset.store and enable.partition.eof are always false).
  KafkaConsumer(const std::string& bootstrap_servers, const std::string& group_id, const KafkaProperties& properties);
  ~KafkaConsumer();  // closes the consumer; never throws
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  /// Partition ids of `topic` from the cluster's metadata; throws KafkaError
  /// if the topic does not exist or the broker does not answer in `timeout`.
  std::vector<std::int32_t> partitions(const std::string& topic, std::chrono::milliseconds timeout);

  /// Low and high watermarks (first offset, next offset to be written), asked
  /// of the partition leader; throws KafkaError on error or timeout.
  std::pair<std::int64_t, std::int64_t> watermarks(const std::string& topic, std::int32_t partition,
                                                   std::chrono::milliseconds timeout);

  /// Committed offsets of the group for these partitions (k_offset_stored where
  /// none); throws KafkaError on error or timeout.
  std::vector<TopicPartition> committed(const std::vector<TopicPartition>& partitions,
                                        std::chrono::milliseconds timeout);

  /// Replaces the assignment; each partition starts at its `offset` (a real
  /// offset or one of the k_offset_* values). Throws KafkaError if refused.
  /// For a topic partitions() has not seen, first waits up to 5 s for the
  /// cluster's metadata (so that fetching starts at once).
  void assign(const std::vector<TopicPartition>& partitions);

  /// Waits up to `timeout` for messages and appends at most `max` to `out`.
  /// Errors (broker down, unknown partition) are passed to the error handler
  /// and never thrown; partition-EOF events are not messages.
  std::size_t poll(std::vector<KafkaMessage>& out, std::size_t max, std::chrono::milliseconds timeout);
  /// As poll, but without copying: replaces `batch`'s messages (releasing
  /// those it held) with at most `max` messages read in place; returns how
  /// many. The fast path of the live loop.
  std::size_t poll(KafkaBatch& batch, std::size_t max, std::chrono::milliseconds timeout);
  /// As poll, but writes the n messages over out[0, n) (growing `out` when
  /// it is shorter) and returns n. `out` is never shrunk: its messages keep
  /// their strings' storage from call to call, so a steady stream of messages
  /// no larger than earlier ones allocates nothing. out[n, out.size()) are
  /// stale messages of earlier calls, not to be read.
  std::size_t poll_into(std::vector<KafkaMessage>& out, std::size_t max, std::chrono::milliseconds timeout);

  /// Commits `next_offset`s (the offset of the next message to read).
  /// Returns false (and reports through the error handler) on failure.
  bool commit(const std::vector<TopicPartition>& next_offsets, bool asynchronous);

  /// Consumer lag per assigned partition (high watermark - position), from
  /// cached watermarks; cheap, no broker round trip. The TopicPartition's
  /// offset is the position (k_offset_stored before the first message); the
  /// lag is -1 until a fetch response has brought the high watermark.
  std::vector<std::pair<TopicPartition, std::int64_t>> lag();

  /// Called (on the polling thread) for errors and librdkafka warnings;
  /// without a handler they are written to stderr. Never called from the
  /// destructor.
  void on_error(std::function<void(const std::string&)> handler);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The broker's answer for one produced message (a delivery report).
struct DeliveryReport {
  std::uint64_t token = 0;  // what produce() was given; 0 when none
  bool delivered = false;   // true: acknowledged (with acks=all: by every in-sync replica)
  std::string error;        // why not, when !delivered
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;  // the message's offset when delivered
};

/// A producer (idempotent when `idempotent`: acks=all, enable.idempotence).
class KafkaProducer {
 public:
  KafkaProducer(const std::string& bootstrap_servers, const KafkaProperties& properties, bool idempotent);
  ~KafkaProducer();  // flushes for up to 5 s, then closes; never throws
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  /// Enqueues one message (value nullopt: a tombstone). Returns false if the
  /// local queue is full or the topic is unknown; never blocks.
  /// `delivery_token` comes back in the message's DeliveryReport.
  bool produce(const std::string& topic, const std::optional<std::string>& key,
               const std::optional<std::string>& value, std::optional<risk::TimeMs> timestamp_ms = std::nullopt,
               std::optional<std::int32_t> partition = std::nullopt, std::uint64_t delivery_token = 0);
  /// Why the last produce() returned false (e.g. "Local: Queue full").
  [[nodiscard]] std::string last_error() const;
  /// True when the last produce() failed because the local queue was full
  /// (queue.buffering.max.messages/kbytes): retry after poll() served reports.
  [[nodiscard]] bool last_error_queue_full() const;
  /// Messages produced and not yet reported (queued or in flight).
  [[nodiscard]] std::size_t in_flight() const;
  /// Serves delivery reports; returns the number of events served.
  int poll(std::chrono::milliseconds timeout);
  /// Waits until every message is delivered or `timeout`; false on timeout.
  bool flush(std::chrono::milliseconds timeout);
  /// Fails every message not yet delivered at once (their reports, with an
  /// error, are served by this call): for a bounded shutdown when the broker
  /// does not answer. The destructor then has nothing left to flush.
  void purge();
  /// Messages delivered / failed so far (delivery reports served by poll/flush).
  [[nodiscard]] std::uint64_t delivered() const;
  [[nodiscard]] std::uint64_t failed() const;

  /// Called (on the thread calling poll/flush) for client errors and
  /// librdkafka warnings; without a handler they are written to stderr.
  /// Never called from the destructor.
  void on_error(std::function<void(const std::string&)> handler);
  /// Called (on the thread calling poll/flush/purge) with every delivery
  /// report; must not throw. Never called from the destructor.
  void on_delivery(std::function<void(const DeliveryReport&)> handler);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The development broker: librdkafka's in-memory mock cluster, speaking the
/// Kafka protocol over TCP on 127.0.0.1. For development and tests only: no
/// persistence, no compaction, no TLS/SASL, 5 MiB of batches per partition.
class MockCluster {
 public:
  /// Starts `brokers` mock brokers; throws KafkaError on failure.
  explicit MockCluster(int brokers = 1);
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  /// e.g. "127.0.0.1:39421"
  [[nodiscard]] std::string bootstrap_servers() const;
  /// Creates a topic (replication factor 1); throws KafkaError on failure.
  void create_topic(const std::string& topic, int partitions);

  // Fault injection for tests (brokers are numbered 1..N). Each throws
  // KafkaError when the mock cluster refuses.
  /// Moves the leadership of one partition to `broker_id`.
  void set_partition_leader(const std::string& topic, std::int32_t partition, int broker_id);
  /// Makes `broker_id` the coordinator of consumer group `group_id` (commits).
  void set_group_coordinator(const std::string& group_id, int broker_id);
  /// Disconnects a broker and refuses new connections (false), or lets it
  /// accept connections again (true). Leadership does not move.
  void set_broker_up(int broker_id, bool up);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace riskd::feeds
