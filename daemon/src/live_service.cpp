#include "riskd/daemon/live_service.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "riskd/alerts/event.hpp"
#include "riskd/daemon/alert_outbox.hpp"
#include "riskd/daemon/result_json.hpp"
#include "riskd/daemon/signals.hpp"
#include "riskd/daemon/snapshot_builder.hpp"
#include "riskd/feeds/kafka.hpp"
#include "riskd/risk/json_text.hpp"
#include "heap.hpp"

namespace riskd::daemon {
namespace {

using Clock = std::chrono::steady_clock;
using PartitionKey = std::pair<std::string, std::int32_t>;

risk::TimeMs wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr auto k_metadata_timeout = std::chrono::milliseconds(5000);

double wall_now_unix_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// The first catch-up after start: from the first feed message handed to the
/// live loop to the first moment every assigned partition shows no lag. One
/// log line says how many messages that was and how fast (operators see how
/// long a restart took to catch up; bench_e2e reads its rate). Clocked per
/// polled batch, not per message.
struct CatchUp {
  bool done = false;
  std::uint64_t messages = 0;  // feed messages handled (any outcome) since the first
  double first_unix_s = 0.0;   // when the first batch with messages was polled
  double last_unix_s = 0.0;    // when the last such batch was handled
};

/// The next offset to read per (topic, partition): what the std::map keyed by
/// (topic string, partition) held before, with the same order (topic, then
/// partition), so commits and market states list partitions as they did.
/// The live loop records every message here: it compares the message's
/// partition with the one it found last (a batch is mostly runs of one
/// partition), so the hot path neither builds a key string nor allocates.
/// A partition gets an entry when its first offset is set.
class NextOffsets {
 public:
  struct Entry {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t next = 0;
  };


 private:
  /// The first entry not before (topic, partition).
  template <typename Entries>  // std::vector<Entry>, const or not
  static auto lower_bound(Entries& entries, std::string_view topic, std::int32_t partition) {
    return std::lower_bound(entries.begin(), entries.end(), std::pair(topic, partition),
                            [](const Entry& e, const std::pair<std::string_view, std::int32_t>& key) {
                              const int c = std::string_view(e.topic).compare(key.first);
                              return c < 0 || (c == 0 && e.partition < key.second);
                            });
  }

 public:
  void set(std::string_view topic, std::int32_t partition, std::int64_t next) {
    if (last_ < entries_.size() && entries_[last_].partition == partition && entries_[last_].topic == topic) {
      entries_[last_].next = next;
      return;
    }
    const auto it = lower_bound(entries_, topic, partition);
    last_ = static_cast<std::size_t>(it - entries_.begin());
    if (it != entries_.end() && it->partition == partition && it->topic == topic) {
      it->next = next;
    } else {
      entries_.insert(it, Entry{std::string(topic), partition, next});
    }
  }
  /// Sets `next` only if the partition has no entry yet.
  void set_if_absent(std::string_view topic, std::int32_t partition, std::int64_t next) {
    if (!find(topic, partition)) set(topic, partition, next);
  }
  [[nodiscard]] std::optional<std::int64_t> find(std::string_view topic, std::int32_t partition) const {
    const auto it = lower_bound(entries_, topic, partition);
    if (it != entries_.end() && it->partition == partition && it->topic == topic) return it->next;
    return std::nullopt;
  }
  [[nodiscard]] const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;  // sorted by (topic, partition)
  std::size_t last_ = 0;        // the entry set last
};
constexpr std::size_t k_state_tail_messages = 1000;

/// Logs at most `burst` lines per `window`, then one line with the count skipped.
class RateLimitedLog {
 public:
  RateLimitedLog(std::size_t burst, std::chrono::seconds window) : burst_(burst), window_(window) {}
  template <typename... Args>
  void warn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    const auto now = Clock::now();
    if (now - window_start_ > window_) {
      if (skipped_ > 0) spdlog::warn("{} similar messages suppressed in the last {} s", skipped_, window_.count());
      window_start_ = now;
      in_window_ = 0;
      skipped_ = 0;
    }
    if (in_window_++ < burst_) {
      spdlog::warn(fmt, std::forward<Args>(args)...);
    } else {
      ++skipped_;
    }
  }

 private:
  std::size_t burst_;
  std::chrono::seconds window_;
  Clock::time_point window_start_{};
  std::size_t in_window_ = 0;
  std::size_t skipped_ = 0;
};

/// An alert event read back from the alerts topic (the fields of alerts::to_json).
alerts::AlertEvent event_from_json(const boost::json::object& o) {
  alerts::AlertEvent ev;
  auto str = [&](const char* name) -> std::string {
    const auto* v = o.if_contains(name);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  auto num = [&](const char* name) -> double {
    const auto* v = o.if_contains(name);
    return v != nullptr && v->is_number() ? v->to_number<double>()
                                          : std::numeric_limits<double>::infinity();  // null: infinite
  };
  ev.key = str("key");
  ev.borrower = str("borrower");
  ev.rule = str("rule");
  const std::string severity = str("severity");
  ev.severity = severity == "critical"  ? alerts::Severity::critical
                : severity == "warning" ? alerts::Severity::warning
                                        : alerts::Severity::info;
  ev.firing = str("state") == "firing";
  ev.value = num("value");
  ev.threshold = num("threshold");
  ev.at_ms = risk::parse_rfc3339(str("at")).value_or(0);
  if (const auto* seq = o.if_contains("seq"); seq != nullptr && seq->is_int64() && seq->as_int64() >= 0) {
    ev.seq = static_cast<std::uint64_t>(seq->as_int64());
  }
  return ev;
}

/// The config's borrowers with the borrowers topic's documents applied: what
/// upserting and removing them one by one, in id order, leaves. A document
/// replaces the config borrower of its id in place, a tombstone removes it,
/// a document for another id is appended (in id order). O(N log N); the
/// upserts one by one re-index the whole book each (O(N^2)).
std::vector<risk::BorrowerSpec> with_topic_borrowers(
    std::vector<risk::BorrowerSpec> configured,
    const std::map<std::string, std::optional<risk::BorrowerSpec>>& topic) {
  std::vector<risk::BorrowerSpec> out;
  out.reserve(configured.size() + topic.size());
  std::unordered_set<std::string> in_config;
  for (auto& b : configured) {
    in_config.insert(b.id);
    const auto t = topic.find(b.id);
    if (t == topic.end()) {
      out.push_back(std::move(b));
    } else if (t->second) {
      out.push_back(*t->second);
    }
  }
  for (const auto& [id, spec] : topic) {
    if (spec && !in_config.contains(id)) out.push_back(*spec);
  }
  return out;
}

}  // namespace

struct LiveService::Impl {
  config::Config config;
  std::string bootstrap;
  LiveOptions options;
  LiveHooks hooks;

  std::unique_ptr<Engine> engine;  // engine thread only
  std::unique_ptr<feeds::KafkaConsumer> consumer;
  std::unique_ptr<feeds::KafkaProducer> state_producer;
  std::unique_ptr<feeds::KafkaProducer> out_producer;  // alerts and signals topics (idempotent, acks=all)
  std::unique_ptr<AlertOutbox> outbox;                 // events not yet acknowledged
  SignalTracker signals;
  // Alerts topic: per partition, the next offset after the last event this
  // process saw acknowledged (or found there at start). A market state names
  // these so a restart knows which alert states match its market.
  std::map<std::int32_t, std::int64_t> alerts_next;
  // Restart: the latest seq per key found on the alerts topic; an event the
  // engine re-derives with a seq not above it is already there (not produced
  // again, not passed to on_event).
  std::map<std::string, std::uint64_t> delivered_seq;
  // Events on the alerts topic past the market state's alert offsets that
  // re-reading the ticks must derive again before a new market state may
  // be written (its alert offsets would otherwise cover events of ticks it
  // has not seen). Given up once event time passes awaiting_until_ms.
  std::set<std::pair<std::string, std::uint64_t>> awaiting;
  risk::TimeMs awaiting_until_ms = 0;
  // From the market state: alert offsets it reflects and pending (for_s) rules.
  std::optional<std::map<std::int32_t, std::int64_t>> checkpoint_alerts;
  std::map<std::string, risk::TimeMs> checkpoint_pending;
  std::map<PartitionKey, std::int64_t> committed;  // last committed offsets
  // The batch in hand, read in place from librdkafka's buffers (no copy);
  // released by the next poll, and before the consumer is closed.
  feeds::KafkaBatch batch;
  std::size_t batch_size = 0;
  std::size_t batch_pos = 0;  // next message of `batch` to handle
  // The ts of each tick applied since the last flush_tick_latencies(), in
  // order: the clock is read once per batch, after it is applied.
  std::vector<risk::TimeMs> applied_ts;
  TickLatencyTally latencies;
  bool backpressure = false;
  Clock::time_point backpressure_since{};
  std::uint64_t duplicates = 0;
  std::vector<alerts::AlertEvent> restored_firing;  // firing on the alerts topic at start
  RateLimitedLog delivery_log{5, std::chrono::seconds(10)};
  RateLimitedLog publish_log{1, std::chrono::seconds(300)};
  std::map<std::string, std::optional<risk::BorrowerSpec>> topic_borrowers;  // nullopt: tombstoned
  // Documents read live and not yet in the engine: applied together at the
  // end of the polled batch or before the next tick (flush_borrower_changes).
  std::vector<Engine::BorrowerChange> pending_borrowers;
  NextOffsets next_offsets;  // feed (and, until assignment, borrowers) partitions: next offset to read
  bool state_dirty = false;
  bool market_changed = true;
  bool connected = false;
  bool restored = false;
  bool state_found = false;  // a market state was read from the state topic
  std::uint64_t borrowers_applied = 0;
  std::uint64_t borrowers_rejected = 0;
  RateLimitedLog tick_log{10, std::chrono::seconds(10)};
  CatchUp catch_up;
  // Set while restore_borrowers reads the borrowers topic from the
  // beginning: accepted documents only update topic_borrowers and these,
  // and the engine is built once at the end. (An upsert re-indexes and
  // revalues the whole book, so N upserts at start cost O(N²): 100,000
  // borrowers would take hours.)
  struct BorrowerRestore {
    std::map<std::string, risk::SeriesKind> kinds;  // known_kinds() plus those the documents introduced
    std::vector<std::string> order;                 // the book's ids in the order N upserts would give
    std::unordered_set<std::string> in_book;        // the ids in `order`
  };
  std::optional<BorrowerRestore> restoring;
  std::vector<alerts::AlertEvent> events;

  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<bool> stopped{false};
  std::atomic<std::int64_t> heartbeat_ms{0};

  mutable std::mutex snapshot_mutex;  // guards `snapshot` (a pointer swap; no I/O under it)
  SnapshotPtr snapshot;
  std::uint64_t version = 0;
  SnapshotBuilder snapshot_builder;  // engine thread; rebuilds only changed borrowers

  std::mutex jobs_mutex;
  std::deque<std::function<void(Engine&)>> jobs;

  std::atomic<bool> reload_ok{true};
  std::atomic<double> reload_unix_s{0.0};

  void run();
  void restore_borrowers();
  void restore_state();
  void assign_feeds();
  void restore_alerts();
  void handle(const feeds::KafkaMessageView& msg);
  void flush_tick_latencies();
  void flush_borrower_changes();
  void emit(const alerts::AlertEvent& ev, std::optional<FeedPosition> cause);
  void send_unsent();
  void on_delivery(const feeds::DeliveryReport& report);
  void pump_outputs(std::chrono::milliseconds wait);
  void collect_signals();
  [[nodiscard]] bool checkpoint_allowed();
  void notify(std::string_view sink, std::string_view outcome) const {
    if (hooks.on_notification) hooks.on_notification(sink, outcome);
  }
  void handle_borrower(const feeds::KafkaMessageView& msg);
  void build_restored_book();
  void run_jobs();
  void observe_catch_up();
  void commit(bool synchronous);
  void write_state();
  void publish();
  [[nodiscard]] std::map<std::string, risk::SeriesKind> known_kinds() const;
};

LiveService::LiveService(config::Config config, std::string bootstrap_servers, LiveOptions options, LiveHooks hooks)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->bootstrap = std::move(bootstrap_servers);
  impl_->options = options;
  impl_->hooks = std::move(hooks);
  impl_->engine = std::make_unique<Engine>(impl_->config.risk, StalenessClock::external);
  impl_->consumer = std::make_unique<feeds::KafkaConsumer>(impl_->bootstrap, impl_->config.kafka.group_id,
                                                           impl_->config.kafka.properties);
  impl_->consumer->on_error([](const std::string& e) { spdlog::warn("kafka consumer: {}", e); });
  if (!impl_->config.feeds.state_topic.empty()) {
    impl_->state_producer =
        std::make_unique<feeds::KafkaProducer>(impl_->bootstrap, impl_->config.kafka.properties, true);
  }
  impl_->outbox = std::make_unique<AlertOutbox>(impl_->options.outbox_capacity);
  if (!impl_->config.outputs.alerts_topic.empty() || !impl_->config.outputs.signals_topic.empty()) {
    impl_->out_producer =
        std::make_unique<feeds::KafkaProducer>(impl_->bootstrap, impl_->config.kafka.properties, true);
    impl_->out_producer->on_error(
        [](const std::string& e) { spdlog::warn("kafka producer (alerts, signals): {}", e); });
    Impl* impl = impl_.get();
    impl_->out_producer->on_delivery([impl](const feeds::DeliveryReport& r) { impl->on_delivery(r); });
  }
}

LiveService::~LiveService() {
  stop();
}

void LiveService::start() {
  impl_->heartbeat_ms = wall_now_ms();
  impl_->thread = std::thread([this] { impl_->run(); });
}

void LiveService::stop() {
  impl_->stopping = true;
  if (impl_->thread.joinable()) impl_->thread.join();
}

SnapshotPtr LiveService::snapshot() const {
  const std::lock_guard lock(impl_->snapshot_mutex);
  return impl_->snapshot;
}

bool LiveService::alive() const {
  if (impl_->stopped) return false;
  return wall_now_ms() - impl_->heartbeat_ms.load() < 10'000;
}

bool LiveService::post(std::function<void(Engine&)> job) {
  if (impl_->stopping) return false;
  const std::lock_guard lock(impl_->jobs_mutex);
  if (impl_->jobs.size() >= impl_->options.max_jobs) return false;
  impl_->jobs.push_back(std::move(job));
  return true;
}

bool LiveService::reload(config::Config config) {
  auto shared = std::make_shared<config::Config>(std::move(config));
  Impl* impl = impl_.get();
  return post([impl, shared](Engine&) {
    // One engine built with every borrower, then the market: series that
    // only topic borrowers use are in its catalog when the values are copied.
    risk::RiskConfig rc = shared->risk;
    rc.borrowers = with_topic_borrowers(std::move(rc.borrowers), impl->topic_borrowers);
    auto fresh = std::make_unique<Engine>(rc, StalenessClock::external);
    fresh->adopt_market(*impl->engine);
    fresh->restore_alert_states(impl->engine->alert_states(), impl->engine->last_events());
    fresh->revalue();
    impl->engine = std::move(fresh);
    release_free_heap();  // the old engine's book, index and alert states
    impl->signals.invalidate();
    const auto kafka_before = impl->config.kafka.bootstrap_servers;
    impl->config.risk = shared->risk;
    impl->config.outputs = shared->outputs;
    impl->config.metrics = shared->metrics;
    if (shared->kafka.bootstrap_servers != kafka_before || shared->feeds.topics != impl->config.feeds.topics) {
      spdlog::warn("config reload: Kafka and feed settings take effect only at restart");
    }
    impl->reload_ok = true;
    impl->reload_unix_s = static_cast<double>(wall_now_ms()) / 1000.0;
    impl->market_changed = true;
    spdlog::info("config reloaded from {}: {} borrowers", shared->path, impl->engine->book().borrowers().size());
  });
}

void LiveService::reload_failed() {
  impl_->reload_ok = false;
  impl_->reload_unix_s = static_cast<double>(wall_now_ms()) / 1000.0;
}

std::map<std::string, risk::SeriesKind> LiveService::Impl::known_kinds() const {
  std::map<std::string, risk::SeriesKind> kinds;
  for (const auto& st : engine->book().catalog().states()) kinds.emplace(st.id, st.kind);
  return kinds;
}

void LiveService::Impl::handle_borrower(const feeds::KafkaMessageView& msg) {
  const std::string source =
      std::string(msg.topic) + "[" + std::to_string(msg.partition) + "]@" + std::to_string(msg.offset);
  if (!msg.key || msg.key->empty()) {
    ++borrowers_rejected;
    spdlog::warn("{}: borrower message without a key (the borrower id); ignored", source);
    return;
  }
  const std::string id(*msg.key);
  if (!msg.value && restoring) {
    if (restoring->in_book.erase(id) > 0) {  // stable, as Book::remove (tombstones are rare: O(N) each)
      restoring->order.erase(std::find(restoring->order.begin(), restoring->order.end(), id));
    }
    topic_borrowers[id] = std::nullopt;
    ++borrowers_applied;
    spdlog::debug("{}: borrower '{}' tombstone", source, id);
    return;
  }
  if (!msg.value) {
    topic_borrowers[id] = std::nullopt;
    pending_borrowers.push_back({id, std::nullopt});
    ++borrowers_applied;
    spdlog::info("{}: borrower '{}' tombstone", source, id);
    return;
  }
  try {
    std::map<std::string, risk::SeriesKind> new_kinds;
    risk::BorrowerSpec spec = config::parse_borrower(std::string(*msg.value), source,
                                                     restoring ? restoring->kinds : known_kinds(), &new_kinds);
    if (spec.id != id) {
      ++borrowers_rejected;
      spdlog::warn("{}: borrower id '{}' differs from the message key '{}'; rejected, the previous version stays",
                   source, spec.id, id);
      return;
    }
    if (restoring) {
      restoring->kinds.insert(new_kinds.begin(), new_kinds.end());
      if (restoring->in_book.insert(id).second) restoring->order.push_back(id);  // appended, as an upsert
      topic_borrowers[id] = std::move(spec);
      ++borrowers_applied;
      spdlog::debug("{}: borrower '{}' read", source, id);
      return;
    }
    pending_borrowers.push_back({id, spec});
    topic_borrowers[id] = std::move(spec);
    ++borrowers_applied;
    spdlog::info("{}: borrower '{}' updated", source, id);
  } catch (const config::ConfigInvalid& e) {
    ++borrowers_rejected;
    for (const auto& err : e.errors())
      spdlog::warn("borrower '{}' rejected, the previous version stays: {}", id, err.to_string());
  }
}

void LiveService::Impl::handle(const feeds::KafkaMessageView& msg) {
  if (!config.feeds.borrowers_topic.empty() && msg.topic == config.feeds.borrowers_topic) {
    handle_borrower(msg);
    return;
  }
  flush_borrower_changes();  // a tick after a document sees the book with it
  const TickResult r = engine->apply(msg.value.value_or(std::string_view()), msg.timestamp_ms, events);
  next_offsets.set(msg.topic, msg.partition, msg.offset + 1);
  if (r.outcome == risk::TickOutcome::applied) {
    state_dirty = true;
    market_changed = true;
    // Only collect_signals reads what was touched (and a reload that adds
    // a signals topic invalidates the tracker), so skip the look-up without one.
    if (out_producer && !config.outputs.signals_topic.empty()) {
      if (const auto sid = engine->book().catalog().find(r.series)) signals.touched(*sid);
    }
    if (hooks.on_tick_latencies) applied_ts.push_back(r.ts_ms);
  } else {
    tick_log.warn("{}[{}]@{}: {}: {}", msg.topic, msg.partition, msg.offset, risk::to_string(r.outcome), r.error);
  }
  for (const auto& ev : events) {
    emit(ev, FeedPosition{std::string(msg.topic), msg.partition, msg.offset});
  }
  events.clear();
  if (r.outcome == risk::TickOutcome::applied) collect_signals();
}

// The borrower documents queued since the last call, applied to the book
// at once: one re-index and one revaluation for all of them (figures now;
// their rules step on the next applied tick).
void LiveService::Impl::flush_borrower_changes() {
  if (pending_borrowers.empty()) return;
  const std::size_t removed = engine->apply_borrower_changes(pending_borrowers);
  engine->revalue();
  signals.invalidate();
  market_changed = true;
  if (pending_borrowers.size() > 1) {
    spdlog::info("borrowers topic: {} documents applied together ({} removals of a borrower in the book); book has {} borrowers",
                 pending_borrowers.size(), removed, engine->book().borrowers().size());
  }
  pending_borrowers.clear();
}

// The ticks applied since the last call, with one wall-clock read now: runs
// of equal ts (common within a batch) cost one bucket search.
void LiveService::Impl::flush_tick_latencies() {
  if (applied_ts.empty()) return;
  const risk::TimeMs now_ms = wall_now_ms();
  for (std::size_t i = 0; i < applied_ts.size();) {
    std::size_t j = i + 1;
    while (j < applied_ts.size() && applied_ts[j] == applied_ts[i]) ++j;
    latencies.add(static_cast<double>(now_ms - applied_ts[i]) / 1000.0, j - i);
    i = j;
  }
  applied_ts.clear();
  if (!latencies.empty()) hooks.on_tick_latencies(latencies);
  latencies.clear();
}

void LiveService::Impl::emit(const alerts::AlertEvent& ev, std::optional<FeedPosition> cause) {
  market_changed = true;
  state_dirty = true;
  if (const auto d = delivered_seq.find(ev.key); d != delivered_seq.end()) {
    if (ev.seq <= d->second) {
      // Re-derived after a restart: already on the alerts topic (and passed to the sinks then).
      awaiting.erase({ev.key, ev.seq});
      if (duplicates++ == 0)
        spdlog::info("re-reading ticks after the restart: events already on the alerts topic are not sent again");
      notify("kafka", "duplicate");
      return;
    }
    delivered_seq.erase(d);
  }
  if (hooks.on_event) hooks.on_event(ev);
  if (out_producer && !config.outputs.alerts_topic.empty()) {
    outbox->add(ev.key, alerts::to_json(ev), std::move(cause));
    send_unsent();
  }
}

void LiveService::Impl::send_unsent() {
  while (!outbox->unsent().empty()) {
    const std::uint64_t token = *outbox->unsent().begin();
    const AlertOutbox::Entry& e = outbox->entry(token);
    if (!out_producer->produce(config.outputs.alerts_topic, e.key, e.value, std::nullopt, std::nullopt, token)) {
      delivery_log.warn(
          "alerts topic '{}': producer refused an event ({}); holding {} events and the feed until it takes them",
          config.outputs.alerts_topic, out_producer->last_error(), outbox->unsent().size());
      return;
    }
    outbox->mark_sent(token);
  }
}

void LiveService::Impl::on_delivery(const feeds::DeliveryReport& r) {
  if (r.token == 0) {  // a signal
    notify("kafka_signals", r.delivered ? "sent" : "failed");
    if (!r.delivered) delivery_log.warn("signals topic '{}': a signal was not delivered: {}", r.topic, r.error);
    return;
  }
  if (r.delivered) {
    if (outbox->acknowledge(r.token)) {
      auto& next = alerts_next[r.partition];
      next = std::max(next, r.offset + 1);
      notify("kafka", "sent");
    }
    return;
  }
  // Not delivered (after librdkafka's own retries, e.g. message.timeout.ms):
  // send it again; the tick's offset stays uncommitted meanwhile.
  outbox->mark_unsent(r.token);
  notify("kafka", "retried");
  delivery_log.warn("alerts topic '{}': an event was not delivered ({}); sending it again", r.topic, r.error);
}

void LiveService::Impl::pump_outputs(std::chrono::milliseconds wait) {
  if (!out_producer) return;
  out_producer->poll(wait);  // serves delivery reports (on_delivery) on this thread
  send_unsent();
}

void LiveService::Impl::collect_signals() {
  if (!out_producer || config.outputs.signals_topic.empty()) return;
  signals.collect(*engine, [this](const std::string& id, std::string json) {
    if (out_producer->produce(config.outputs.signals_topic, id, json)) return true;
    delivery_log.warn("signals topic '{}': producer refused a signal for '{}' ({}); retried at the next check",
                      config.outputs.signals_topic, id, out_producer->last_error());
    return false;
  });
}

bool LiveService::Impl::checkpoint_allowed() {
  if (!outbox->empty()) return false;
  if (!awaiting.empty() && engine->event_time_ms() > awaiting_until_ms) {
    spdlog::warn(
        "{} events found on the alerts topic after the last market state were not derived again by the "
        "ticks up to their time (feed order differed); no longer waiting for them",
        awaiting.size());
    awaiting.clear();
  }
  return awaiting.empty();
}

void LiveService::Impl::restore_borrowers() {
  const std::string& topic = config.feeds.borrowers_topic;
  if (topic.empty()) return;
  std::vector<feeds::TopicPartition> parts;
  std::map<std::int32_t, std::int64_t> end;
  for (const std::int32_t p : consumer->partitions(topic, k_metadata_timeout)) {
    const auto [low, high] = consumer->watermarks(topic, p, k_metadata_timeout);
    if (high > low) end[p] = high;
    parts.push_back({topic, p, feeds::k_offset_beginning});
  }
  consumer->assign(parts);
  restoring.emplace();
  restoring->kinds = known_kinds();
  for (const auto& b : engine->book().borrowers()) {
    restoring->order.push_back(b.id);
    restoring->in_book.insert(b.id);
  }
  std::vector<feeds::KafkaMessage> got;
  std::map<std::int32_t, std::int64_t> position;
  // Gives up only after 60 s without a document: a large book takes longer
  // than that to parse (100,000 documents: ~75 s on a loaded 2-core machine),
  // and the documents left over would each cost a whole-book upsert.
  constexpr auto k_stall = std::chrono::seconds(60);
  auto deadline = Clock::now() + k_stall;
  auto caught_up = [&] {
    return std::all_of(end.begin(), end.end(), [&](const auto& pe) { return position[pe.first] >= pe.second; });
  };
  while (!caught_up() && !stopping && Clock::now() < deadline) {
    got.clear();
    consumer->poll(got, options.max_batch, std::chrono::milliseconds(100));
    if (!got.empty()) deadline = Clock::now() + k_stall;
    for (const auto& m : got) {
      handle_borrower(m.view());
      position[m.partition] = m.offset + 1;
    }
  }
  if (!caught_up()) spdlog::warn("borrowers topic '{}': nothing read for 60 s before its end; continuing", topic);
  build_restored_book();
  for (const auto& [p, off] : position) next_offsets.set(topic, p, off);
  for (const auto& [p, off] : end) next_offsets.set_if_absent(topic, p, off);
  spdlog::info("borrowers topic '{}': {} applied, {} rejected; book has {} borrowers", topic, borrowers_applied,
               borrowers_rejected, engine->book().borrowers().size());
}

// The end of the borrowers restore: one engine with the config's borrowers
// and the topic's documents in the order the upserts and removals one by
// one would have left them, built and valued once.
void LiveService::Impl::build_restored_book() {
  BorrowerRestore done = std::move(*restoring);
  restoring.reset();
  std::unordered_map<std::string, const risk::BorrowerSpec*> configured;
  for (const auto& b : config.risk.borrowers) configured.emplace(b.id, &b);
  risk::RiskConfig rc = config.risk;
  rc.borrowers.clear();
  rc.borrowers.reserve(done.order.size());
  for (const auto& id : done.order) {
    const auto t = topic_borrowers.find(id);
    if (t != topic_borrowers.end() && t->second) {
      rc.borrowers.push_back(*t->second);
    } else if (const auto c = configured.find(id); c != configured.end()) {
      rc.borrowers.push_back(*c->second);
    }
  }
  engine = std::make_unique<Engine>(rc, StalenessClock::external);
  release_free_heap();  // the engine built at start, and the documents' parse trees
  engine->revalue();
  signals.invalidate();
  market_changed = true;
}

void LiveService::Impl::restore_state() {
  const std::string& topic = config.feeds.state_topic;
  if (topic.empty()) return;
  std::vector<std::int32_t> parts;
  try {
    parts = consumer->partitions(topic, k_metadata_timeout);
  } catch (const feeds::KafkaError& e) {
    spdlog::warn("state topic '{}' unavailable ({}); starting with an empty market", topic, e.what());
    return;
  }
  if (parts.empty()) return;
  const auto [low, high] = consumer->watermarks(topic, 0, k_metadata_timeout);
  if (high <= low) {
    spdlog::info("state topic '{}' is empty: first start", topic);
    return;
  }
  const std::int64_t from = std::max(low, high - static_cast<std::int64_t>(k_state_tail_messages));
  consumer->assign({{topic, 0, from}});
  std::optional<std::string> latest;
  std::vector<feeds::KafkaMessage> got;
  std::int64_t position = from;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (position < high && !stopping && Clock::now() < deadline) {
    got.clear();
    consumer->poll(got, options.max_batch, std::chrono::milliseconds(100));
    for (const auto& m : got) {
      position = m.offset + 1;
      if (m.key && *m.key == config.kafka.group_id && m.value) latest = m.value;
    }
  }
  if (!latest) {
    spdlog::info("state topic '{}': no state for group '{}'", topic, config.kafka.group_id);
    return;
  }
  boost::json::error_code ec;
  const boost::json::value doc = boost::json::parse(*latest, ec);
  if (ec || !doc.is_object()) {
    spdlog::error("state topic '{}': latest state is not valid JSON; starting with an empty market", topic);
    return;
  }
  std::size_t restored_series = 0;
  if (const auto* series = doc.as_object().if_contains("series"); series != nullptr && series->is_object()) {
    for (const auto& [id, v] : series->as_object()) {
      const auto* o = v.if_object();
      if (o == nullptr || !o->contains("value") || !o->contains("ts")) continue;
      const double value = o->at("value").to_number<double>();
      const risk::TimeMs ts = o->at("ts").to_number<std::int64_t>();
      if (engine->restore_series(std::string(id), value, ts)) ++restored_series;
    }
  }
  if (const auto* offsets = doc.as_object().if_contains("offsets"); offsets != nullptr && offsets->is_array()) {
    for (const auto& o : offsets->as_array()) {
      next_offsets.set(std::string(o.at("topic").as_string()),
                       static_cast<std::int32_t>(o.at("partition").to_number<std::int64_t>()),
                       o.at("next").to_number<std::int64_t>());
    }
  }
  if (const auto* al = doc.as_object().if_contains("alerts"); al != nullptr && al->is_object()) {
    const auto* topic_name = al->as_object().if_contains("topic");
    const auto* offs = al->as_object().if_contains("offsets");
    if (topic_name != nullptr && topic_name->is_string() && topic_name->as_string() == config.outputs.alerts_topic &&
        offs != nullptr && offs->is_array()) {
      std::map<std::int32_t, std::int64_t> offsets;
      for (const auto& o : offs->as_array()) {
        offsets[static_cast<std::int32_t>(o.at("partition").to_number<std::int64_t>())] =
            o.at("next").to_number<std::int64_t>();
      }
      checkpoint_alerts = std::move(offsets);
    }
    if (const auto* pending = al->as_object().if_contains("pending"); pending != nullptr && pending->is_object()) {
      for (const auto& [key, since] : pending->as_object())
        checkpoint_pending[std::string(key)] = since.to_number<std::int64_t>();
    }
  }
  state_found = true;
  engine->revalue();
  spdlog::info("market state restored from '{}': {} series, event time {}", topic, restored_series,
               risk::format_rfc3339(engine->event_time_ms()));
}

// Reads the alerts topic from the beginning to its end (every partition) and
// restores each key's state and seq. With a market state that names the
// alerts offsets it matches, the states are those of the events before those
// offsets (consistent with the restored market; the ticks after it derive the
// rest again), else those of the latest event per key.
void LiveService::Impl::restore_alerts() {
  const std::string& topic = config.outputs.alerts_topic;
  if (topic.empty()) return;
  std::vector<std::int32_t> parts;
  try {
    parts = consumer->partitions(topic, k_metadata_timeout);
  } catch (const feeds::KafkaError& e) {
    spdlog::warn("alerts topic '{}' unavailable ({}); alert states start fresh", topic, e.what());
    return;
  }
  std::map<std::int32_t, std::int64_t> end;
  std::vector<feeds::TopicPartition> assign;
  for (const std::int32_t p : parts) {
    const auto [low, high] = consumer->watermarks(topic, p, k_metadata_timeout);
    alerts_next[p] = high;
    if (high > low) end[p] = high;
    assign.push_back({topic, p, feeds::k_offset_beginning});
  }
  struct Seen {
    bool firing = false;
    std::uint64_t seq = 0;
  };
  std::map<std::string, alerts::AlertEvent> latest_event;
  std::map<std::string, alerts::AlertEvent> checkpoint_event;
  if (!checkpoint_alerts && !state_found && !config.feeds.state_topic.empty()) {
    // A state topic with no state in it: the feeds are read from the
    // beginning (assign_feeds) and derive every event again, so start from
    // fresh alert states and skip the events already on the topic.
    checkpoint_alerts.emplace();
  } else if (!checkpoint_alerts && !state_found) {
    // No state topic: if no feed offset was ever committed either, the feeds
    // are read from the beginning and derive every event again, as above.
    std::vector<feeds::TopicPartition> feed_parts;
    for (const auto& t : config.feeds.topics) {
      for (const std::int32_t p : consumer->partitions(t, k_metadata_timeout)) feed_parts.push_back({t, p, 0});
    }
    const auto committed_now = consumer->committed(feed_parts, k_metadata_timeout);
    if (std::none_of(committed_now.begin(), committed_now.end(), [](const auto& tp) { return tp.offset >= 0; })) {
      checkpoint_alerts.emplace();
    }
  }
  std::map<std::string, Seen> latest;
  std::map<std::string, Seen> at_checkpoint;
  std::size_t invalid = 0;
  std::size_t after_checkpoint = 0;
  consumer->assign(assign);
  std::map<std::int32_t, std::int64_t> position;
  const auto caught_up = [&] {
    return std::all_of(end.begin(), end.end(), [&](const auto& pe) { return position[pe.first] >= pe.second; });
  };
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  std::vector<feeds::KafkaMessage> got;
  while (!caught_up() && !stopping && Clock::now() < deadline) {
    got.clear();
    consumer->poll(got, options.max_batch, std::chrono::milliseconds(100));
    for (const auto& m : got) {
      position[m.partition] = m.offset + 1;
      boost::json::error_code ec;
      const boost::json::value v = m.value ? boost::json::parse(*m.value, ec) : boost::json::value();
      const auto* o = ec ? nullptr : v.if_object();
      const auto* key = o ? o->if_contains("key") : nullptr;
      const auto* state = o ? o->if_contains("state") : nullptr;
      const auto* seq = o ? o->if_contains("seq") : nullptr;
      if (key == nullptr || !key->is_string() || state == nullptr || !state->is_string() || seq == nullptr ||
          !seq->is_int64() || seq->as_int64() < 0) {
        if (invalid++ < 5) spdlog::warn("{}[{}]@{}: not an alert event; ignored", topic, m.partition, m.offset);
        continue;
      }
      const std::string k(key->as_string());
      const Seen seen{state->as_string() == "firing", static_cast<std::uint64_t>(seq->as_int64())};
      if (auto& l = latest[k]; seen.seq >= l.seq) {
        l = seen;
        latest_event[k] = event_from_json(*o);
      }
      if (!checkpoint_alerts) continue;
      const auto cp = checkpoint_alerts->find(m.partition);
      if (cp != checkpoint_alerts->end() && m.offset < cp->second) {
        if (auto& c = at_checkpoint[k]; seen.seq >= c.seq) {
          c = seen;
          checkpoint_event[k] = event_from_json(*o);
        }
      } else {
        ++after_checkpoint;
        awaiting.insert({k, seen.seq});
        if (k.rfind("feed_stale:", 0) != 0) {
          const auto* at = o->if_contains("at");
          if (at != nullptr && at->is_string()) {
            if (const auto at_ms = risk::parse_rfc3339(std::string(at->as_string()))) {
              awaiting_until_ms = std::max(awaiting_until_ms, *at_ms);
            }
          }
        }
      }
    }
  }
  if (!caught_up()) {
    // Starting with part of the alert history would fire alerts again.
    throw feeds::KafkaError("alerts topic '" + topic + "' not read to its end within 60 s");
  }
  std::map<std::string, alerts::RuleState> states;
  for (const auto& [k, seen] : checkpoint_alerts ? at_checkpoint : latest) {
    alerts::RuleState st;
    st.firing = seen.firing;
    st.seq = seen.seq;
    states[k] = st;
  }
  for (const auto& [k, since_ms] : checkpoint_pending) {
    auto& st = states[k];
    if (!st.firing) {
      st.pending = true;
      st.pending_since_ms = since_ms;
    }
  }
  engine->restore_alert_states(states, checkpoint_alerts ? checkpoint_event : latest_event);
  for (const auto& [k, seen] : latest) delivered_seq[k] = seen.seq;
  restored_firing.clear();
  for (const auto& [k, ev] : latest_event) {
    if (ev.firing) restored_firing.push_back(ev);
  }
  const auto firing = std::count_if(states.begin(), states.end(), [](const auto& kv) { return kv.second.firing; });
  spdlog::info("alert state restored from '{}': {} keys, {} firing{}; {} events after it to derive again{}", topic,
               states.size(), firing,
               !checkpoint_alerts           ? " (latest event per key)"
               : checkpoint_alerts->empty() ? " (none: the feeds are read from the beginning)"
                                            : " (as of the market state)",
               after_checkpoint, invalid > 0 ? ", " + std::to_string(invalid) + " invalid messages ignored" : "");
}

void LiveService::Impl::assign_feeds() {
  // The market state is what makes a feed offset meaningful: a partition the
  // restored state does not list has contributed nothing to it, and with no
  // state at all (first start, or a crash after the group's offsets were
  // committed but before the state naming them was acknowledged) resuming at
  // committed offsets would start from an empty market and derive alerts
  // late. So with a state topic, unlisted partitions are read from the
  // beginning; only without one are the group's committed offsets used.
  const std::int64_t unlisted =
      config.feeds.state_topic.empty() ? feeds::k_offset_stored : feeds::k_offset_beginning;
  std::vector<feeds::TopicPartition> parts;
  for (const auto& topic : config.feeds.topics) {
    for (const std::int32_t p : consumer->partitions(topic, k_metadata_timeout)) {
      std::int64_t start = next_offsets.find(topic, p).value_or(unlisted);
      if (start == feeds::k_offset_beginning) {
        // "From the beginning" as an explicit offset, the low watermark:
        // asking for it connects to the partition's leader now, and an
        // explicit offset needs no offset query after assign (seen to cost
        // librdkafka's 500 ms retry in about one start in three). Should the
        // low watermark move before the fetch, auto.offset.reset=earliest
        // lands on the new beginning, as k_offset_beginning would.
        try {
          start = consumer->watermarks(topic, p, k_metadata_timeout).first;
        } catch (const feeds::KafkaError& e) {
          spdlog::debug("{}[{}]: no low watermark ({}); assigned from the beginning", topic, p, e.what());
        }
      }
      parts.push_back({topic, p, start});
    }
  }
  if (!config.feeds.borrowers_topic.empty()) {
    for (const std::int32_t p : consumer->partitions(config.feeds.borrowers_topic, k_metadata_timeout)) {
      parts.push_back({config.feeds.borrowers_topic, p,
                       next_offsets.find(config.feeds.borrowers_topic, p).value_or(feeds::k_offset_end)});
    }
  }
  consumer->assign(parts);
  spdlog::info("consuming {} partitions of {} feed topics", parts.size(), config.feeds.topics.size());
}

// Called after each poll until the first catch-up is logged: counts the
// batch, or, on an empty poll after messages, checks the lag.
void LiveService::Impl::observe_catch_up() {
  if (batch_size > 0) {
    if (catch_up.messages == 0) catch_up.first_unix_s = wall_now_unix_s();
    catch_up.messages += batch_size;
    return;
  }
  if (catch_up.messages == 0) return;
  // Only partitions this assignment has consumed from count: a position is
  // unknown for one that had nothing to read since it was assigned (an
  // empty or idle partition, the borrowers topic after its restore), and
  // lag() would then count everything retained as unread.
  const auto lags = consumer->lag();
  if (lags.empty() || std::any_of(lags.begin(), lags.end(), [](const auto& tl) {
        return tl.first.offset >= 0 && tl.second != 0;
      })) {
    return;
  }
  catch_up.done = true;
  const double span_s = catch_up.last_unix_s - catch_up.first_unix_s;
  spdlog::info(
      "feeds caught up: {} messages handled in {:.6f} s from the first to the last ({:.0f} msg/s); first polled at "
      "{:.6f}, last handled at {:.6f} (unix s)",
      catch_up.messages, span_s, span_s > 0 ? static_cast<double>(catch_up.messages) / span_s : 0.0,
      catch_up.first_unix_s, catch_up.last_unix_s);
}

void LiveService::Impl::run_jobs() {
  std::deque<std::function<void(Engine&)>> todo;
  {
    const std::lock_guard lock(jobs_mutex);
    todo.swap(jobs);
  }
  for (auto& job : todo) {
    try {
      job(*engine);
    } catch (const std::exception& e) {
      spdlog::error("engine job failed: {}", e.what());
    }
  }
}

// Commits, per feed partition, the next offset to read, held back to the
// oldest tick whose alert events the broker has not acknowledged yet.
void LiveService::Impl::commit(bool synchronous) {
  std::vector<feeds::TopicPartition> offsets;
  for (const auto& e : next_offsets.entries()) {
    if (e.topic == config.feeds.borrowers_topic) continue;
    const std::int64_t off = outbox->commit_offset(e.topic, e.partition, e.next);
    const auto c = committed.find({e.topic, e.partition});
    if (c == committed.end() || c->second != off) offsets.push_back({e.topic, e.partition, off});
  }
  if (offsets.empty() || !consumer->commit(offsets, !synchronous)) return;
  for (const auto& tp : offsets) committed[{tp.topic, tp.partition}] = tp.offset;
}

void LiveService::Impl::write_state() {
  if (!state_producer || !state_dirty) return;
  risk::JsonText j;
  j.begin_object();
  j.key("version").integer(1);
  j.key("event_time_ms").integer(engine->event_time_ms());
  j.key("series").begin_object();
  for (const auto& st : engine->book().catalog().states()) {
    if (!st.has_value) continue;
    j.key(st.id).begin_object().key("value").number(st.value).key("ts").integer(st.ts_ms).end_object();
  }
  j.end_object();
  j.key("offsets").begin_array();
  for (const auto& e : next_offsets.entries()) {
    if (e.topic == config.feeds.borrowers_topic) continue;
    j.begin_object()
        .key("topic")
        .string(e.topic)
        .key("partition")
        .integer(e.partition)
        .key("next")
        .integer(e.next)
        .end_object();
  }
  j.end_array();
  if (!config.outputs.alerts_topic.empty()) {
    // The alert states matching this market: the events before these offsets.
    j.key("alerts").begin_object();
    j.key("topic").string(config.outputs.alerts_topic);
    j.key("offsets").begin_array();
    for (const auto& [p, next] : alerts_next)
      j.begin_object().key("partition").integer(p).key("next").integer(next).end_object();
    j.end_array();
    j.key("pending").begin_object();
    if (engine->book().config().alerting.for_s > 0) {  // with for_s 0 no rule is ever left pending
      for (const auto& [k, st] : engine->alert_states()) {
        if (st.pending && !st.firing) j.key(k).integer(st.pending_since_ms);
      }
    }
    j.end_object();
    j.end_object();
  }
  j.end_object();
  if (state_producer->produce(config.feeds.state_topic, config.kafka.group_id, j.take())) state_dirty = false;
  state_producer->poll(std::chrono::milliseconds(0));
}

void LiveService::Impl::publish() {
  std::shared_ptr<Snapshot> snap = snapshot_builder.build(*engine, ++version, wall_now_ms());
  snap->borrower_updates_applied = borrowers_applied;
  snap->borrower_updates_rejected = borrowers_rejected;
  std::vector<std::string> service_reasons;
  if (!connected) service_reasons.emplace_back("not connected to Kafka yet");
  if (!restored) service_reasons.emplace_back("restoring borrowers and market state");
  snap->not_ready_reasons.insert(snap->not_ready_reasons.begin(), service_reasons.begin(), service_reasons.end());
  snap->ready = snap->not_ready_reasons.empty();
  snap->config_reload_ok = reload_ok;
  snap->config_last_reload_unix_s = reload_unix_s;
  for (const auto& [tp, lag] : consumer->lag()) snap->lag.push_back({tp.topic, tp.partition, lag});
  SnapshotPtr previous;  // released after the lock: freeing its replaced views takes time
  {
    const std::lock_guard lock(snapshot_mutex);
    previous = std::exchange(snapshot, std::move(snap));
  }
  market_changed = false;
}

void LiveService::Impl::run() {
  spdlog::info("engine thread: {} borrowers in the config, Kafka at {}", engine->book().borrowers().size(), bootstrap);
  publish();
  // Start-up: retry until Kafka answers (a broker may start after riskd).
  while (!stopping && !restored) {
    try {
      restore_borrowers();
      restore_state();
      restore_alerts();
      assign_feeds();
      connected = true;
      restored = true;
    } catch (const feeds::KafkaError& e) {
      spdlog::warn("start-up: {}; retrying in 1 s", e.what());
      // A retry starts over from a clean slate.
      checkpoint_alerts.reset();
      checkpoint_pending.clear();
      awaiting.clear();
      delivered_seq.clear();
      heartbeat_ms = wall_now_ms();
      publish();
      for (int i = 0; i < 10 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  signals.invalidate();
  if (hooks.on_restored_firing && !stopping) hooks.on_restored_firing(restored_firing);
  restored_firing.clear();
  publish();
  batch_size = 0;
  auto last_publish = Clock::now();
  Clock::duration last_publish_cost{};
  auto last_commit = Clock::now();
  auto last_stale = Clock::now();
  bool checkpoint_due = false;
  auto checkpoint_due_since = Clock::now();
  while (!stopping) {
    pump_outputs(std::chrono::milliseconds(0));
    // Back-pressure: too many events unacknowledged, or the producer refuses
    // them: stop taking ticks (they wait in Kafka) until it recovers.
    const bool blocked = outbox->full() || !outbox->unsent().empty();
    if (blocked != backpressure) {
      backpressure = blocked;
      if (blocked) {
        backpressure_since = Clock::now();
        notify("kafka", "backpressure");
        spdlog::warn(
            "alerts topic: {} events unacknowledged ({} not yet accepted by the producer); feed consumption "
            "paused until the broker acknowledges them",
            outbox->size(), outbox->unsent().size());
      } else {
        spdlog::info("alerts topic: caught up after {} ms; feed consumption resumed",
                     std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - backpressure_since).count());
      }
    }
    // A due market state waits (briefly) for the events in flight, so that it
    // never names offsets past ticks whose events are unacknowledged.
    const bool barrier = checkpoint_due && !outbox->empty();
    if (!blocked && !barrier) {
      if (batch_pos >= batch_size) {
        batch_pos = 0;
        batch_size = consumer->poll(batch, options.max_batch, std::chrono::milliseconds(20));
        if (!catch_up.done) observe_catch_up();
      }
      while (batch_pos < batch_size && !outbox->full()) handle(batch[batch_pos++]);
      flush_borrower_changes();
      flush_tick_latencies();
      if (!catch_up.done && batch_size > 0) catch_up.last_unix_s = wall_now_unix_s();
    } else {
      pump_outputs(std::chrono::milliseconds(10));
    }
    run_jobs();
    const auto now = Clock::now();
    heartbeat_ms = wall_now_ms();
    if (now - last_stale >= options.staleness_interval) {
      engine->check_staleness(wall_now_ms(), events);
      for (const auto& ev : events) emit(ev, std::nullopt);
      events.clear();
      last_stale = now;
    }
    if (now - last_commit >= options.commit_interval) {
      // With a state topic, offsets are committed with the market state (so
      // a restart that finds no state finds no commit either and re-reads
      // the feeds from the beginning); without one, gated, every interval.
      if (!state_producer) commit(false);
      if (!checkpoint_due) {
        checkpoint_due = true;
        checkpoint_due_since = now;
      }
      last_commit = now;
    }
    if (checkpoint_due) {
      if (checkpoint_allowed()) {
        commit(false);
        write_state();
        checkpoint_due = false;
      } else if (now - checkpoint_due_since >= options.checkpoint_wait) {
        checkpoint_due = false;  // events still in flight: try at the next interval
      }
    }
    const auto gap = publish_gap(options, last_publish_cost);
    if (now - last_publish >= gap &&
        (market_changed || now - last_publish >= std::max<Clock::duration>(gap, std::chrono::seconds(1)))) {
      const auto t0 = Clock::now();
      publish();
      last_publish = Clock::now();
      last_publish_cost = last_publish - t0;
      if (publish_gap(options, last_publish_cost) > std::chrono::seconds(1)) {
        publish_log.warn(
            "snapshots of {} borrowers take {} ms to build: published every {} ms, not {} ms",
            engine->book().borrowers().size(),
            std::chrono::duration_cast<std::chrono::milliseconds>(last_publish_cost).count(),
            std::chrono::duration_cast<std::chrono::milliseconds>(publish_gap(options, last_publish_cost)).count(),
            options.publish_interval.count());
      }
    }
  }
  // Graceful stop: the batch in hand is applied; wait (bounded) for the
  // broker to acknowledge the events in flight, commit up to them, persist.
  while (batch_pos < batch_size) handle(batch[batch_pos++]);
  flush_borrower_changes();
  flush_tick_latencies();
  batch.clear();  // librdkafka's messages go back before the consumer closes
  batch_size = 0;
  run_jobs();
  const auto flush_deadline = Clock::now() + options.stop_flush;
  while (out_producer && (!outbox->empty() || out_producer->in_flight() > 0) && Clock::now() < flush_deadline) {
    pump_outputs(std::chrono::milliseconds(20));
  }
  commit(true);
  if (checkpoint_allowed()) {
    state_dirty = state_dirty || restored;
    write_state();
    if (state_producer && !state_producer->flush(std::chrono::seconds(2))) {
      spdlog::warn("market state not acknowledged by the broker within 2 s");
    }
  } else {
    spdlog::warn(
        "{} alert events not acknowledged by the broker at stop: offsets committed only up to the ticks "
        "that caused them and no market state written past them; a restart re-reads those ticks and "
        "sends the events again with the same (key, seq)",
        outbox->size());
  }
  if (out_producer) out_producer->purge();  // nothing left for its destructor to wait on
  publish();
  consumer.reset();  // closes the consumer
  stopped = true;
  spdlog::info("engine thread stopped");
}

}  // namespace riskd::daemon
