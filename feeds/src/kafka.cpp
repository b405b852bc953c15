// librdkafka (C API) behind the pimpl of kafka.hpp. Every handle is owned by
// a unique_ptr with its deleter; member order encodes destruction order
// (queues before their client, a mock cluster before the client it lives in).
#include "riskd/feeds/kafka.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <syslog.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <atomic>
#include <iostream>
#include <map>
#include <string_view>
#include <utility>

namespace riskd::feeds {

static_assert(k_offset_beginning == RD_KAFKA_OFFSET_BEGINNING);
static_assert(k_offset_end == RD_KAFKA_OFFSET_END);
static_assert(k_offset_stored == RD_KAFKA_OFFSET_STORED);

namespace {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* p) const noexcept { rd_kafka_conf_destroy(p); }
};
struct HandleDeleter {
  void operator()(rd_kafka_t* p) const noexcept { rd_kafka_destroy(p); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* p) const noexcept { rd_kafka_queue_destroy(p); }
};
struct TopicDeleter {
  void operator()(rd_kafka_topic_t* p) const noexcept { rd_kafka_topic_destroy(p); }
};
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* p) const noexcept { rd_kafka_topic_partition_list_destroy(p); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* p) const noexcept { rd_kafka_metadata_destroy(p); }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* p) const noexcept { rd_kafka_message_destroy(p); }
};
struct ErrorDeleter {
  void operator()(rd_kafka_error_t* p) const noexcept { rd_kafka_error_destroy(p); }
};
struct MockClusterDeleter {
  void operator()(rd_kafka_mock_cluster_t* p) const noexcept { rd_kafka_mock_cluster_destroy(p); }
};

using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using TopicPtr = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;
using MockClusterPtr = std::unique_ptr<rd_kafka_mock_cluster_t, MockClusterDeleter>;

using ErrorHandler = std::function<void(const std::string&)>;

/// How long assign() waits for metadata of topics partitions() has not seen.
constexpr std::chrono::milliseconds k_assign_metadata_timeout{5000};

/// librdkafka's own log lines at this level or more severe reach the error handler.
constexpr int k_forwarded_log_level = LOG_WARNING;

int to_timeout_ms(std::chrono::milliseconds timeout) {
  const auto ms = std::clamp<std::chrono::milliseconds::rep>(timeout.count(), 0, 24 * 3600 * 1000);
  return static_cast<int>(ms);
}

/// Sets one property; throws KafkaError naming it when librdkafka refuses it.
void set_property(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  std::array<char, 512> err{};
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err.data(), err.size()) != RD_KAFKA_CONF_OK) {
    throw KafkaError("kafka property " + name + ": " + err.data());
  }
}

/// Creates a client of `type` that owns `conf` from here on; throws KafkaError.
HandlePtr make_handle(rd_kafka_type_t type, ConfPtr conf) {
  std::array<char, 512> err{};
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err.data(), err.size());
  if (rk == nullptr) throw KafkaError(std::string("cannot create kafka client: ") + err.data());
  static_cast<void>(conf.release());  // rd_kafka_new took ownership
  return HandlePtr(rk);
}

PartitionListPtr make_list(const std::vector<TopicPartition>& partitions) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const auto& tp : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = tp.offset;
  }
  return list;
}

/// What a client's callbacks reach through its opaque pointer. Error and log
/// events go to `handler` (else stderr), on the thread that polls the client
/// (logs are queued, never spontaneous); delivery reports count into the atomics.
struct ClientContext {
  ErrorHandler handler;
  std::function<void(const DeliveryReport&)> delivery_handler;
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> failed{0};

  bool closing = false;  // set by the owner's destructor: the handler's captures may be gone

  void report(const std::string& text) const {
    if (closing) return;
    if (handler) {
      try {
        handler(text);
      } catch (...) {  // a throwing handler must not unwind through librdkafka
      }
    } else {
      std::cerr << "kafka: " << text << '\n';
    }
  }
};

extern "C" void client_error_cb(rd_kafka_t* /*rk*/, int err, const char* reason, void* opaque) {
  static_cast<ClientContext*>(opaque)->report(std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))) +
                                         ": " + reason);
}

extern "C" void client_log_cb(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  if (level > k_forwarded_log_level) return;
  if (std::string_view(facility) == "FAIL") return;  // connection failures: the error callback reports them too
  static_cast<ClientContext*>(rd_kafka_opaque(rk))->report(std::string(facility) + ": " + message);
}

/// Configures error and log delivery through `context` (served by poll calls).
void route_events(rd_kafka_conf_t* conf, ClientContext* context) {
  rd_kafka_conf_set_opaque(conf, context);
  rd_kafka_conf_set_error_cb(conf, client_error_cb);
  rd_kafka_conf_set_log_cb(conf, client_log_cb);
  set_property(conf, "log.queue", "true");
}

}  // namespace

// ---------------------------------------------------------------- consumer

struct KafkaConsumer::Impl {
  ClientContext context;  // the clients' callbacks point here: declared first, destroyed last
  HandlePtr rk;
  std::map<std::string, TopicPtr> topics;  // handles that keep leader metadata for assign()
  QueuePtr queue;  // the consumer queue (main queue and logs forwarded to it)
  std::vector<rd_kafka_message_t*> batch;

  ~Impl() {
    if (!rk) return;
    context.closing = true;
    queue.reset();
    rd_kafka_consumer_close(rk.get());
    topics.clear();
  }

  /// Metadata for every topic (never creates one), kept in the client's cache.
  MetadataPtr all_metadata(std::chrono::milliseconds timeout, rd_kafka_resp_err_t& err) const {
    const rd_kafka_metadata_t* raw = nullptr;
    err = rd_kafka_metadata(rk.get(), 1, nullptr, &raw, to_timeout_ms(timeout));
    return MetadataPtr(raw);
  }

  /// A topic handle created while the metadata cache knows the topic's leaders:
  /// without one, a partition assigned before its leader is known waits for
  /// librdkafka's fixed 500 ms offset-query retry before it starts fetching.
  void keep_topic_handle(const std::string& topic) {
    if (topics.count(topic) != 0) return;
    if (rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr)) topics.emplace(topic, rkt);
  }

  /// Waits up to `timeout` for messages and passes each of at most `max` of
  /// them to `take(i, msg)`, which takes ownership (errors go to the error
  /// handler and are freed here, partition EOFs are skipped).
  /// consume_batch_queue waits for a full batch until its timeout, so this
  /// blocks for the first message only and then takes what is already queued.
  template <typename Take>
  std::size_t consume(std::size_t max, std::chrono::milliseconds timeout, Take&& take) {
    if (max == 0) return 0;
    if (batch.size() < max) batch.resize(max);
    std::size_t got = 0;
    if (rd_kafka_message_t* first = rd_kafka_consumer_poll(rk.get(), to_timeout_ms(timeout))) {
      batch[0] = first;
      got = 1;
      if (max > 1) {
        const ssize_t more = rd_kafka_consume_batch_queue(queue.get(), 0, batch.data() + 1, max - 1);
        if (more > 0) got += static_cast<std::size_t>(more);
      }
    }
    std::size_t taken = 0;
    for (std::size_t i = 0; i < got; ++i) {
      rd_kafka_message_t* msg = batch[i];
      if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        const MessagePtr owned(msg);
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
        std::string where = msg->rkt != nullptr ? std::string(rd_kafka_topic_name(msg->rkt)) + " [" +
                                                      std::to_string(msg->partition) + "]: "
                                                : std::string();
        context.report(where + rd_kafka_message_errstr(msg));
        continue;
      }
      take(taken++, msg);
    }
    return taken;
  }
};

namespace {

extern "C" void consumer_commit_cb(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                                   rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  auto* context = static_cast<ClientContext*>(opaque);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    context->report(std::string("offset commit failed: ") + rd_kafka_err2str(err));
    return;
  }
  for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
    const auto& tp = offsets->elems[i];
    if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      context->report(std::string("offset commit failed for ") + tp.topic + " [" + std::to_string(tp.partition) +
                       "]: " + rd_kafka_err2str(tp.err));
    }
  }
}

}  // namespace

KafkaConsumer::KafkaConsumer(const std::string& bootstrap_servers, const std::string& group_id,
                             const KafkaProperties& properties)
    : impl_(std::make_unique<Impl>()) {
  ConfPtr conf(rd_kafka_conf_new());
  set_property(conf.get(), "bootstrap.servers", bootstrap_servers);
  // librdkafka's assign/poll/commit all need the group handle.
  if (group_id.empty()) throw KafkaError("kafka consumer: group.id must not be empty");
  set_property(conf.get(), "group.id", group_id);
  set_property(conf.get(), "auto.offset.reset", "earliest");
  for (const auto& [name, value] : properties) set_property(conf.get(), name, value);
  // The contract of this class, not tunables: offsets move only through commit(),
  // and end-of-partition is not an event.
  set_property(conf.get(), "enable.auto.commit", "false");
  set_property(conf.get(), "enable.auto.offset.store", "false");
  set_property(conf.get(), "enable.partition.eof", "false");
  route_events(conf.get(), &impl_->context);
  rd_kafka_conf_set_offset_commit_cb(conf.get(), consumer_commit_cb);

  impl_->rk = make_handle(RD_KAFKA_CONSUMER, std::move(conf));
  rd_kafka_set_log_queue(impl_->rk.get(), nullptr);  // logs to the main queue...
  rd_kafka_poll_set_consumer(impl_->rk.get());       // ...which is served by poll()
  impl_->queue.reset(rd_kafka_queue_get_consumer(impl_->rk.get()));
  if (!impl_->queue) throw KafkaError("kafka consumer has no consumer queue");
}

KafkaConsumer::~KafkaConsumer() = default;

std::vector<std::int32_t> KafkaConsumer::partitions(const std::string& topic, std::chrono::milliseconds timeout) {
  // Asks for every topic: a request naming the topic would let a broker with
  // auto-creation (the mock cluster has it) create the topic instead of failing.
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  const MetadataPtr md = impl_->all_metadata(timeout, err);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw KafkaError("metadata for topic " + topic + ": " + rd_kafka_err2str(err));
  }
  for (int t = 0; t < md->topic_cnt; ++t) {
    const auto& mt = md->topics[t];
    if (topic != mt.topic) continue;
    if (mt.err != RD_KAFKA_RESP_ERR_NO_ERROR) throw KafkaError("topic " + topic + ": " + rd_kafka_err2str(mt.err));
    if (mt.partition_cnt <= 0) throw KafkaError("topic " + topic + " has no partitions");
    std::vector<std::int32_t> ids;
    ids.reserve(static_cast<std::size_t>(mt.partition_cnt));
    for (int p = 0; p < mt.partition_cnt; ++p) ids.push_back(mt.partitions[p].id);
    std::sort(ids.begin(), ids.end());
    impl_->keep_topic_handle(topic);
    return ids;
  }
  throw KafkaError("topic " + topic + ": not in the cluster's metadata");
}

std::pair<std::int64_t, std::int64_t> KafkaConsumer::watermarks(const std::string& topic, std::int32_t partition,
                                                                std::chrono::milliseconds timeout) {
  std::int64_t low = 0;
  std::int64_t high = 0;
  const auto err = rd_kafka_query_watermark_offsets(impl_->rk.get(), topic.c_str(), partition, &low, &high,
                                                    to_timeout_ms(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw KafkaError("watermarks of " + topic + " [" + std::to_string(partition) + "]: " + rd_kafka_err2str(err));
  }
  return {low, high};
}

std::vector<TopicPartition> KafkaConsumer::committed(const std::vector<TopicPartition>& partitions,
                                                     std::chrono::milliseconds timeout) {
  auto list = make_list(partitions);
  const auto err = rd_kafka_committed(impl_->rk.get(), list.get(), to_timeout_ms(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) throw KafkaError(std::string("committed offsets: ") + rd_kafka_err2str(err));
  std::vector<TopicPartition> out;
  out.reserve(partitions.size());
  for (int i = 0; i < list->cnt; ++i) {
    const auto& tp = list->elems[i];
    if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw KafkaError(std::string("committed offset of ") + tp.topic + " [" + std::to_string(tp.partition) +
                       "]: " + rd_kafka_err2str(tp.err));
    }
    out.push_back({tp.topic, tp.partition, tp.offset >= 0 ? tp.offset : k_offset_stored});
  }
  return out;
}

void KafkaConsumer::assign(const std::vector<TopicPartition>& partitions) {
  const bool all_known = std::all_of(partitions.begin(), partitions.end(),
                                     [this](const TopicPartition& tp) { return impl_->topics.count(tp.topic) != 0; });
  if (!all_known) {
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    impl_->all_metadata(k_assign_metadata_timeout, err);  // best effort: fetching retries by itself
    for (const auto& tp : partitions) impl_->keep_topic_handle(tp.topic);
  }
  auto list = make_list(partitions);
  const auto err = rd_kafka_assign(impl_->rk.get(), list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) throw KafkaError(std::string("assign: ") + rd_kafka_err2str(err));
}

namespace {

/// Copies `src` into `dst`, reusing the storage `dst`'s strings already have.
void assign_optional(std::optional<std::string>& dst, const void* data, std::size_t size) {
  if (data == nullptr) {
    dst.reset();
  } else if (dst) {
    dst->assign(static_cast<const char*>(data), size);
  } else {
    dst.emplace(static_cast<const char*>(data), size);
  }
}

void fill_message(KafkaMessage& m, const rd_kafka_message_t* msg) {
  m.topic.assign(rd_kafka_topic_name(msg->rkt));
  m.partition = msg->partition;
  m.offset = msg->offset;
  assign_optional(m.key, msg->key, msg->key_len);
  assign_optional(m.value, msg->payload, msg->len);
  rd_kafka_timestamp_type_t ts_type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  const std::int64_t ts = rd_kafka_message_timestamp(msg, &ts_type);
  if (ts_type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts >= 0) {
    m.timestamp_ms = ts;
  } else {
    m.timestamp_ms.reset();
  }
}

}  // namespace

KafkaMessageView KafkaBatch::operator[](std::size_t i) const {
  const rd_kafka_message_t* msg = messages_[i];
  KafkaMessageView v;
  v.topic = rd_kafka_topic_name(msg->rkt);
  v.partition = msg->partition;
  v.offset = msg->offset;
  if (msg->key != nullptr) v.key.emplace(static_cast<const char*>(msg->key), msg->key_len);
  if (msg->payload != nullptr) v.value.emplace(static_cast<const char*>(msg->payload), msg->len);
  rd_kafka_timestamp_type_t ts_type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  const std::int64_t ts = rd_kafka_message_timestamp(msg, &ts_type);
  if (ts_type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts >= 0) v.timestamp_ms = ts;
  return v;
}

KafkaMessage KafkaBatch::copy(std::size_t i) const {
  KafkaMessage m;
  fill_message(m, messages_[i]);
  return m;
}

void KafkaBatch::clear() noexcept {
  for (rd_kafka_message_t* msg : messages_) rd_kafka_message_destroy(msg);
  messages_.clear();
}

std::size_t KafkaConsumer::poll(KafkaBatch& batch, std::size_t max, std::chrono::milliseconds timeout) {
  batch.clear();
  batch.messages_.reserve(max);
  return impl_->consume(max, timeout, [&](std::size_t, rd_kafka_message_t* msg) { batch.messages_.push_back(msg); });
}

std::size_t KafkaConsumer::poll(std::vector<KafkaMessage>& out, std::size_t max, std::chrono::milliseconds timeout) {
  return impl_->consume(max, timeout, [&](std::size_t, rd_kafka_message_t* msg) {
    const MessagePtr owned(msg);
    fill_message(out.emplace_back(), msg);
  });
}

std::size_t KafkaConsumer::poll_into(std::vector<KafkaMessage>& out, std::size_t max,
                                     std::chrono::milliseconds timeout) {
  return impl_->consume(max, timeout, [&](std::size_t i, rd_kafka_message_t* msg) {
    const MessagePtr owned(msg);
    if (i == out.size()) out.emplace_back();
    fill_message(out[i], msg);
  });
}

bool KafkaConsumer::commit(const std::vector<TopicPartition>& next_offsets, bool asynchronous) {
  if (next_offsets.empty()) return true;
  auto list = make_list(next_offsets);
  const auto err = rd_kafka_commit(impl_->rk.get(), list.get(), asynchronous ? 1 : 0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    impl_->context.report(std::string("offset commit failed: ") + rd_kafka_err2str(err));
    return false;
  }
  if (asynchronous) return true;
  bool ok = true;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& tp = list->elems[i];
    if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      impl_->context.report(std::string("offset commit failed for ") + tp.topic + " [" +
                             std::to_string(tp.partition) + "]: " + rd_kafka_err2str(tp.err));
      ok = false;
    }
  }
  return ok;
}

std::vector<std::pair<TopicPartition, std::int64_t>> KafkaConsumer::lag() {
  std::vector<std::pair<TopicPartition, std::int64_t>> out;
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_assignment(impl_->rk.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  PartitionListPtr list(raw);
  if (rd_kafka_position(impl_->rk.get(), list.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  out.reserve(static_cast<std::size_t>(list->cnt));
  for (int i = 0; i < list->cnt; ++i) {
    const auto& tp = list->elems[i];
    std::int64_t low = RD_KAFKA_OFFSET_INVALID;
    std::int64_t high = RD_KAFKA_OFFSET_INVALID;
    rd_kafka_get_watermark_offsets(impl_->rk.get(), tp.topic, tp.partition, &low, &high);
    std::int64_t lag = -1;  // unknown until a fetch response brought the high watermark
    std::int64_t position = tp.offset;
    if (position < 0 && low >= 0) position = low;  // nothing consumed yet: everything retained is unread
    if (high >= 0 && position >= 0) lag = std::max<std::int64_t>(0, high - position);
    out.push_back({TopicPartition{tp.topic, tp.partition, tp.offset >= 0 ? tp.offset : k_offset_stored}, lag});
  }
  return out;
}

void KafkaConsumer::on_error(std::function<void(const std::string&)> handler) {
  impl_->context.handler = std::move(handler);
}

// ---------------------------------------------------------------- producer

struct KafkaProducer::Impl {
  ClientContext context;  // the client's callbacks point here: declared first, destroyed last
  HandlePtr rk;
  rd_kafka_resp_err_t last_error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

namespace {

extern "C" void producer_dr_cb(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* opaque) {
  auto* context = static_cast<ClientContext*>(opaque);
  auto& counter = msg->err == RD_KAFKA_RESP_ERR_NO_ERROR ? context->delivered : context->failed;
  counter.fetch_add(1, std::memory_order_relaxed);
  if (context->closing || !context->delivery_handler) return;
  DeliveryReport report;
  report.token = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(msg->_private));
  report.delivered = msg->err == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (!report.delivered) report.error = rd_kafka_err2str(msg->err);
  if (msg->rkt != nullptr) report.topic = rd_kafka_topic_name(msg->rkt);
  report.partition = msg->partition;
  report.offset = msg->offset;
  try {
    context->delivery_handler(report);
  } catch (...) {  // must not unwind through librdkafka
  }
}

}  // namespace

KafkaProducer::KafkaProducer(const std::string& bootstrap_servers, const KafkaProperties& properties,
                             bool idempotent)
    : impl_(std::make_unique<Impl>()) {
  ConfPtr conf(rd_kafka_conf_new());
  set_property(conf.get(), "bootstrap.servers", bootstrap_servers);
  for (const auto& [name, value] : properties) set_property(conf.get(), name, value);
  if (idempotent) {
    set_property(conf.get(), "enable.idempotence", "true");
    set_property(conf.get(), "acks", "all");
  }
  route_events(conf.get(), &impl_->context);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), producer_dr_cb);
  impl_->rk = make_handle(RD_KAFKA_PRODUCER, std::move(conf));
  rd_kafka_set_log_queue(impl_->rk.get(), nullptr);  // logs served by poll()/flush()
}

KafkaProducer::~KafkaProducer() {
  if (!impl_ || !impl_->rk) return;
  impl_->context.closing = true;
  rd_kafka_t* rk = impl_->rk.get();
  if (rd_kafka_flush(rk, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Whatever is left fails now (served as failed delivery reports) so that
    // destroying the client never waits on an unreachable broker.
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk, 0);
  }
  impl_->rk.reset();
}

bool KafkaProducer::produce(const std::string& topic, const std::optional<std::string>& key,
                            const std::optional<std::string>& value, std::optional<risk::TimeMs> timestamp_ms,
                            std::optional<std::int32_t> partition, std::uint64_t delivery_token) {
  // rd_kafka_produceva rather than producev: same call, without the C-cast macros.
  std::array<rd_kafka_vu_t, 7> vus{};
  vus[0].vtype = RD_KAFKA_VTYPE_TOPIC;
  vus[0].u.cstr = topic.c_str();
  vus[1].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vus[1].u.i = RD_KAFKA_MSG_F_COPY;
  vus[2].vtype = RD_KAFKA_VTYPE_PARTITION;
  vus[2].u.i32 = partition.value_or(RD_KAFKA_PARTITION_UA);
  vus[3].vtype = RD_KAFKA_VTYPE_KEY;  // null pointer: no key
  vus[3].u.mem.ptr = key ? const_cast<char*>(key->data()) : nullptr;
  vus[3].u.mem.size = key ? key->size() : 0;
  vus[4].vtype = RD_KAFKA_VTYPE_VALUE;  // null pointer: a tombstone
  vus[4].u.mem.ptr = value ? const_cast<char*>(value->data()) : nullptr;
  vus[4].u.mem.size = value ? value->size() : 0;
  vus[5].vtype = RD_KAFKA_VTYPE_TIMESTAMP;  // 0: now
  vus[5].u.i64 = timestamp_ms.value_or(0);
  vus[6].vtype = RD_KAFKA_VTYPE_OPAQUE;  // comes back as the delivery report's token
  vus[6].u.ptr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(delivery_token));
  const ErrorPtr err(rd_kafka_produceva(impl_->rk.get(), vus.data(), vus.size()));
  impl_->last_error = err ? rd_kafka_error_code(err.get()) : RD_KAFKA_RESP_ERR_NO_ERROR;
  return err == nullptr;
}

std::string KafkaProducer::last_error() const {
  return impl_->last_error == RD_KAFKA_RESP_ERR_NO_ERROR ? std::string() : rd_kafka_err2str(impl_->last_error);
}

bool KafkaProducer::last_error_queue_full() const { return impl_->last_error == RD_KAFKA_RESP_ERR__QUEUE_FULL; }

std::size_t KafkaProducer::in_flight() const {
  return static_cast<std::size_t>(std::max(0, rd_kafka_outq_len(impl_->rk.get())));
}

void KafkaProducer::purge() {
  rd_kafka_t* rk = impl_->rk.get();
  rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  // Purged messages' reports are queued at once; serve them (bounded).
  for (int i = 0; i < 20 && rd_kafka_outq_len(rk) > 0; ++i) rd_kafka_poll(rk, 10);
  rd_kafka_poll(rk, 0);
}

void KafkaProducer::on_delivery(std::function<void(const DeliveryReport&)> handler) {
  impl_->context.delivery_handler = std::move(handler);
}

int KafkaProducer::poll(std::chrono::milliseconds timeout) {
  return rd_kafka_poll(impl_->rk.get(), to_timeout_ms(timeout));
}

bool KafkaProducer::flush(std::chrono::milliseconds timeout) {
  return rd_kafka_flush(impl_->rk.get(), to_timeout_ms(timeout)) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

std::uint64_t KafkaProducer::delivered() const { return impl_->context.delivered.load(std::memory_order_relaxed); }
std::uint64_t KafkaProducer::failed() const { return impl_->context.failed.load(std::memory_order_relaxed); }

void KafkaProducer::on_error(std::function<void(const std::string&)> handler) {
  impl_->context.handler = std::move(handler);
}

// ---------------------------------------------------------------- mock cluster

struct MockCluster::Impl {
  ClientContext context;  // the client's callbacks point here: declared first, destroyed last
  HandlePtr rk;               // hosts the cluster; must outlive it
  MockClusterPtr cluster;     // destroyed first
  std::string bootstrap;

  ~Impl() { cluster.reset(); }
};

MockCluster::MockCluster(int brokers) : impl_(std::make_unique<Impl>()) {
  if (brokers < 1) throw KafkaError("mock cluster needs at least one broker");
  ConfPtr conf(rd_kafka_conf_new());
  // The hosting client never connects anywhere; it only runs the cluster's thread.
  rd_kafka_conf_set_opaque(conf.get(), &impl_->context);
  rd_kafka_conf_set_log_cb(conf.get(), client_log_cb);
  set_property(conf.get(), "log_level", std::to_string(LOG_ERR));
  impl_->rk = make_handle(RD_KAFKA_PRODUCER, std::move(conf));
  impl_->cluster.reset(rd_kafka_mock_cluster_new(impl_->rk.get(), brokers));
  if (!impl_->cluster) throw KafkaError("cannot start the mock cluster (see log)");
  const char* bootstraps = rd_kafka_mock_cluster_bootstraps(impl_->cluster.get());
  if (bootstraps == nullptr) throw KafkaError("mock cluster has no bootstrap address");
  impl_->bootstrap = bootstraps;
}

MockCluster::~MockCluster() = default;

std::string MockCluster::bootstrap_servers() const { return impl_->bootstrap; }

void MockCluster::create_topic(const std::string& topic, int partitions) {
  if (topic.empty()) throw KafkaError("mock cluster: empty topic name");
  if (partitions < 1) throw KafkaError("mock cluster: topic " + topic + " needs at least one partition");
  const auto err = rd_kafka_mock_topic_create(impl_->cluster.get(), topic.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw KafkaError("mock cluster: cannot create topic " + topic + ": " + rd_kafka_err2str(err));
  }
}

void MockCluster::set_partition_leader(const std::string& topic, std::int32_t partition, int broker_id) {
  const auto err = rd_kafka_mock_partition_set_leader(impl_->cluster.get(), topic.c_str(), partition, broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw KafkaError("mock cluster: cannot move " + topic + " [" + std::to_string(partition) + "] to broker " +
                     std::to_string(broker_id) + ": " + rd_kafka_err2str(err));
  }
}

void MockCluster::set_group_coordinator(const std::string& group_id, int broker_id) {
  const auto err = rd_kafka_mock_coordinator_set(impl_->cluster.get(), "group", group_id.c_str(), broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw KafkaError("mock cluster: cannot set the coordinator of group " + group_id + ": " + rd_kafka_err2str(err));
  }
}

void MockCluster::set_broker_up(int broker_id, bool up) {
  const auto err = up ? rd_kafka_mock_broker_set_up(impl_->cluster.get(), broker_id)
                      : rd_kafka_mock_broker_set_down(impl_->cluster.get(), broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw KafkaError("mock cluster: cannot set broker " + std::to_string(broker_id) + (up ? " up: " : " down: ") +
                     rd_kafka_err2str(err));
  }
}

}  // namespace riskd::feeds
