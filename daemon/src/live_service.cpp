#include "riskd/daemon/live_service.hpp"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "riskd/daemon/snapshot_builder.hpp"
#include "riskd/feeds/kafka.hpp"
#include "riskd/risk/json_text.hpp"

namespace riskd::daemon {
namespace {

using Clock = std::chrono::steady_clock;
using PartitionKey = std::pair<std::string, std::int32_t>;

risk::TimeMs wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr auto k_metadata_timeout = std::chrono::milliseconds(5000);
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

}  // namespace

struct LiveService::Impl {
  config::Config config;
  std::string bootstrap;
  LiveOptions options;
  LiveHooks hooks;

  std::unique_ptr<Engine> engine;  // engine thread only
  std::unique_ptr<feeds::KafkaConsumer> consumer;
  std::unique_ptr<feeds::KafkaProducer> state_producer;
  std::map<std::string, std::optional<risk::BorrowerSpec>> topic_borrowers;  // nullopt: tombstoned
  std::map<PartitionKey, std::int64_t> next_offsets;  // feed partitions: next offset to read
  std::vector<PartitionKey> assigned;
  bool offsets_dirty = false;
  bool state_dirty = false;
  bool market_changed = true;
  bool connected = false;
  bool restored = false;
  bool state_found = false;  // a market state was read from the state topic
  std::uint64_t borrowers_applied = 0;
  std::uint64_t borrowers_rejected = 0;
  RateLimitedLog tick_log{10, std::chrono::seconds(10)};
  std::vector<alerts::AlertEvent> events;

  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<bool> stopped{false};
  std::atomic<std::int64_t> heartbeat_ms{0};

  mutable std::mutex snapshot_mutex;  // guards `snapshot` (a pointer swap; no I/O under it)
  SnapshotPtr snapshot;
  std::uint64_t version = 0;

  std::mutex jobs_mutex;
  std::deque<std::function<void(Engine&)>> jobs;

  std::atomic<bool> reload_ok{true};
  std::atomic<double> reload_unix_s{0.0};

  void run();
  void restore_borrowers();
  void restore_state();
  void assign_feeds();
  void handle(const feeds::KafkaMessage& msg);
  void handle_borrower(const feeds::KafkaMessage& msg);
  void apply_borrower_to_engine(Engine& e, const std::string& id, const std::optional<risk::BorrowerSpec>& spec);
  void run_jobs();
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
    impl_->state_producer = std::make_unique<feeds::KafkaProducer>(impl_->bootstrap, impl_->config.kafka.properties, true);
  }
}

LiveService::~LiveService() { stop(); }

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
    auto fresh = std::make_unique<Engine>(shared->risk, StalenessClock::external);
    fresh->adopt_market(*impl->engine);
    for (const auto& [id, spec] : impl->topic_borrowers) impl->apply_borrower_to_engine(*fresh, id, spec);
    fresh->restore_alert_states(impl->engine->alert_states());
    fresh->revalue();
    impl->engine = std::move(fresh);
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

void LiveService::Impl::apply_borrower_to_engine(Engine& e, const std::string& id,
                                                 const std::optional<risk::BorrowerSpec>& spec) {
  if (spec) {
    e.upsert_borrower(*spec);
  } else {
    e.remove_borrower(id);
  }
}

void LiveService::Impl::handle_borrower(const feeds::KafkaMessage& msg) {
  const std::string source = msg.topic + "[" + std::to_string(msg.partition) + "]@" + std::to_string(msg.offset);
  if (!msg.key || msg.key->empty()) {
    ++borrowers_rejected;
    spdlog::warn("{}: borrower message without a key (the borrower id); ignored", source);
    return;
  }
  const std::string& id = *msg.key;
  if (!msg.value) {
    topic_borrowers[id] = std::nullopt;
    const bool removed = engine->remove_borrower(id);
    engine->revalue();
    ++borrowers_applied;
    market_changed = true;
    spdlog::info("{}: borrower '{}' {}", source, id, removed ? "removed (tombstone)" : "tombstone for an unknown borrower");
    return;
  }
  try {
    std::map<std::string, risk::SeriesKind> new_kinds;
    risk::BorrowerSpec spec = config::parse_borrower(*msg.value, source, known_kinds(), &new_kinds);
    if (spec.id != id) {
      ++borrowers_rejected;
      spdlog::warn("{}: borrower id '{}' differs from the message key '{}'; rejected, the previous version stays",
                   source, spec.id, id);
      return;
    }
    engine->upsert_borrower(spec);
    engine->revalue();  // figures now; its rules step on the next applied tick
    topic_borrowers[id] = std::move(spec);
    ++borrowers_applied;
    market_changed = true;
    spdlog::info("{}: borrower '{}' updated", source, id);
  } catch (const config::ConfigInvalid& e) {
    ++borrowers_rejected;
    for (const auto& err : e.errors()) spdlog::warn("borrower '{}' rejected, the previous version stays: {}", id, err.to_string());
  }
}

void LiveService::Impl::handle(const feeds::KafkaMessage& msg) {
  if (!config.feeds.borrowers_topic.empty() && msg.topic == config.feeds.borrowers_topic) {
    handle_borrower(msg);
    return;
  }
  const TickResult r = engine->apply(msg.value ? std::string_view(*msg.value) : std::string_view(), msg.timestamp_ms, events);
  next_offsets[{msg.topic, msg.partition}] = msg.offset + 1;
  offsets_dirty = true;
  if (r.outcome == risk::TickOutcome::applied) {
    state_dirty = true;
    market_changed = true;
    if (hooks.on_tick_latency) {
      hooks.on_tick_latency(static_cast<double>(wall_now_ms() - r.ts_ms) / 1000.0);
    }
  } else {
    tick_log.warn("{}[{}]@{}: {}: {}", msg.topic, msg.partition, msg.offset, risk::to_string(r.outcome), r.error);
  }
  for (const auto& ev : events) {
    if (hooks.on_event) hooks.on_event(ev);
  }
  if (!events.empty()) market_changed = true;
  events.clear();
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
  std::vector<feeds::KafkaMessage> batch;
  std::map<std::int32_t, std::int64_t> position;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  auto caught_up = [&] {
    return std::all_of(end.begin(), end.end(), [&](const auto& pe) { return position[pe.first] >= pe.second; });
  };
  while (!caught_up() && !stopping && Clock::now() < deadline) {
    batch.clear();
    consumer->poll(batch, options.max_batch, std::chrono::milliseconds(100));
    for (const auto& m : batch) {
      handle_borrower(m);
      position[m.partition] = m.offset + 1;
    }
  }
  if (!caught_up()) spdlog::warn("borrowers topic '{}': not read to its end within 60 s; continuing", topic);
  for (const auto& [p, off] : position) next_offsets[{topic, p}] = off;
  for (const auto& [p, off] : end) next_offsets.try_emplace({topic, p}, off);
  spdlog::info("borrowers topic '{}': {} applied, {} rejected; book has {} borrowers", topic, borrowers_applied,
               borrowers_rejected, engine->book().borrowers().size());
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
  std::vector<feeds::KafkaMessage> batch;
  std::int64_t position = from;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (position < high && !stopping && Clock::now() < deadline) {
    batch.clear();
    consumer->poll(batch, options.max_batch, std::chrono::milliseconds(100));
    for (const auto& m : batch) {
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
      next_offsets[{std::string(o.at("topic").as_string()), static_cast<std::int32_t>(o.at("partition").to_number<std::int64_t>())}] =
          o.at("next").to_number<std::int64_t>();
    }
  }
  state_found = true;
  engine->revalue();
  spdlog::info("market state restored from '{}': {} series, event time {}", topic, restored_series,
               risk::format_rfc3339(engine->event_time_ms()));
}

void LiveService::Impl::assign_feeds() {
  // With a restored market state, a partition the state does not list has
  // contributed nothing to it: read it from the beginning. Without one, the
  // group's committed offsets are all there is.
  const std::int64_t unlisted = state_found ? feeds::k_offset_beginning : feeds::k_offset_stored;
  std::vector<feeds::TopicPartition> parts;
  for (const auto& topic : config.feeds.topics) {
    for (const std::int32_t p : consumer->partitions(topic, k_metadata_timeout)) {
      const auto known = next_offsets.find({topic, p});
      parts.push_back({topic, p, known == next_offsets.end() ? unlisted : known->second});
    }
  }
  if (!config.feeds.borrowers_topic.empty()) {
    for (const std::int32_t p : consumer->partitions(config.feeds.borrowers_topic, k_metadata_timeout)) {
      const auto known = next_offsets.find({config.feeds.borrowers_topic, p});
      parts.push_back({config.feeds.borrowers_topic, p, known == next_offsets.end() ? feeds::k_offset_end : known->second});
    }
  }
  consumer->assign(parts);
  assigned.clear();
  for (const auto& tp : parts) assigned.emplace_back(tp.topic, tp.partition);
  spdlog::info("consuming {} partitions of {} feed topics", parts.size(), config.feeds.topics.size());
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

void LiveService::Impl::commit(bool synchronous) {
  if (!offsets_dirty) return;
  std::vector<feeds::TopicPartition> offsets;
  for (const auto& [tp, next] : next_offsets) {
    if (tp.first != config.feeds.borrowers_topic) offsets.push_back({tp.first, tp.second, next});
  }
  if (!offsets.empty() && consumer->commit(offsets, !synchronous)) offsets_dirty = false;
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
  for (const auto& [tp, next] : next_offsets) {
    if (tp.first == config.feeds.borrowers_topic) continue;
    j.begin_object().key("topic").string(tp.first).key("partition").integer(tp.second).key("next").integer(next).end_object();
  }
  j.end_array();
  j.end_object();
  if (state_producer->produce(config.feeds.state_topic, config.kafka.group_id, j.take())) state_dirty = false;
  state_producer->poll(std::chrono::milliseconds(0));
}

void LiveService::Impl::publish() {
  std::shared_ptr<Snapshot> snap = build_snapshot(*engine, ++version, wall_now_ms());
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
  {
    const std::lock_guard lock(snapshot_mutex);
    snapshot = std::move(snap);
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
      assign_feeds();
      connected = true;
      restored = true;
    } catch (const feeds::KafkaError& e) {
      spdlog::warn("start-up: {}; retrying in 1 s", e.what());
      heartbeat_ms = wall_now_ms();
      publish();
      for (int i = 0; i < 10 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  publish();
  std::vector<feeds::KafkaMessage> batch;
  batch.reserve(options.max_batch);
  auto last_publish = Clock::now();
  auto last_commit = Clock::now();
  auto last_stale = Clock::now();
  while (!stopping) {
    batch.clear();
    consumer->poll(batch, options.max_batch, std::chrono::milliseconds(20));
    for (const auto& m : batch) handle(m);
    run_jobs();
    const auto now = Clock::now();
    heartbeat_ms = wall_now_ms();
    if (now - last_stale >= options.staleness_interval) {
      engine->check_staleness(wall_now_ms(), events);
      for (const auto& ev : events) {
        if (hooks.on_event) hooks.on_event(ev);
      }
      if (!events.empty()) market_changed = true;
      events.clear();
      last_stale = now;
    }
    if (now - last_commit >= options.commit_interval) {
      commit(false);
      write_state();
      last_commit = now;
    }
    if (now - last_publish >= options.publish_interval) {
      if (market_changed || now - last_publish >= std::chrono::seconds(1)) {
        publish();
        last_publish = now;
      }
    }
  }
  // Graceful stop: the batch in hand is applied; commit, persist, flush.
  run_jobs();
  commit(true);
  state_dirty = state_dirty || restored;
  write_state();
  if (state_producer && !state_producer->flush(std::chrono::seconds(5))) {
    spdlog::warn("market state not acknowledged by the broker within 5 s");
  }
  publish();
  consumer.reset();  // closes the consumer
  stopped = true;
  spdlog::info("engine thread stopped: offsets committed, market state written");
}

}  // namespace riskd::daemon
