#pragma once
// The live engine loop of `riskd run`: one thread that owns the Engine (the
// single writer), consumes the feed and borrowers topics, applies ticks,
// publishes alert events and signals to Kafka, commits offsets only after
// applying the ticks and the broker acknowledging the events they caused,
// persists the market state, and publishes immutable Snapshots for the HTTP
// server and metrics.
//
// Delivery (README "Delivery guarantees"): alert events go to
// `outputs.alerts_topic` through an idempotent producer (acks=all). A feed
// offset is committed, and a market state naming it written, only once every
// event of the ticks before it is acknowledged. At start the alerts topic is
// read to its end and every key's state and seq restored, so seq keeps
// growing and an alert firing before the restart is not fired again; events
// already on the topic are not produced again when the ticks after the last
// market state are re-read.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "riskd/config/config.hpp"
#include "riskd/daemon/engine.hpp"
#include "riskd/daemon/snapshot.hpp"
#include "riskd/daemon/tick_latency.hpp"

namespace riskd::daemon {

struct LiveOptions {
  std::chrono::milliseconds publish_interval{100};  // snapshot at most this often
  std::chrono::milliseconds commit_interval{1000};  // offsets and market state
  std::chrono::milliseconds staleness_interval{1000};
  std::size_t max_batch = 10'000;  // messages per poll
  std::size_t max_jobs = 64;       // queued what-if / reload jobs
  /// Alert events produced and not yet acknowledged at which the engine
  /// stops consuming ticks (back-pressure on the feed, never loss).
  std::size_t outbox_capacity = 50'000;
  /// How long a due market-state write may hold back consumption waiting for
  /// in-flight events to be acknowledged; past it the write is skipped until
  /// the next interval.
  std::chrono::milliseconds checkpoint_wait{200};
  /// At a graceful stop: how long to wait for in-flight events and signals.
  std::chrono::milliseconds stop_flush{2500};
  /// A snapshot costs O(book) on the engine thread; the next one waits at
  /// least this many times the last one's build time, so publication takes
  /// at most 1 / (1 + k) of the engine thread however large the book
  /// (riskd_snapshot_age_seconds shows the resulting age).
  unsigned publish_cost_multiple = 9;
  /// ...but never waits longer than this, so snapshots stay younger than
  /// the RiskdSnapshotStale alert's 10 s unless one takes longer to build.
  std::chrono::milliseconds max_publish_gap{5000};
};

/// The wait between the end of one snapshot publication and the next:
/// publish_interval, or publish_cost_multiple × `last_cost` if longer, at
/// most max_publish_gap (and never less than publish_interval).
[[nodiscard]] inline std::chrono::steady_clock::duration publish_gap(const LiveOptions& options,
                                                                     std::chrono::steady_clock::duration last_cost) {
  using Duration = std::chrono::steady_clock::duration;
  const Duration cap = std::max<Duration>(options.max_publish_gap, options.publish_interval);
  return std::clamp<Duration>(last_cost * options.publish_cost_multiple, options.publish_interval, cap);
}

/// Observers called on the engine thread; they must not block.
struct LiveHooks {
  std::function<void(const alerts::AlertEvent&)> on_event;
  /// Once per polled batch with applied ticks (and not on an empty tally):
  /// each applied tick's wall clock after the batch was applied minus its
  /// ts, so an early tick of a batch is counted at most one batch's handling
  /// time late (conservative); riskd_tick_to_evaluation_seconds.
  std::function<void(const TickLatencyTally&)> on_tick_latencies;
  /// Outcomes of the Kafka outputs, for riskd_alert_notifications_total:
  /// sink "kafka" (alert events: sent, retried, backpressure, duplicate) and
  /// "kafka_signals" (sent, failed).
  std::function<void(std::string_view sink, std::string_view outcome)> on_notification;
  /// Once, after the start-up restore and before any on_event: the alerts
  /// the alerts topic shows firing (latest event per key). They are not
  /// emitted again (on_event never sees them), e.g. for a sink that must
  /// keep them alive (Alertmanager) without paging anew.
  std::function<void(const std::vector<alerts::AlertEvent>&)> on_restored_firing;
};

class LiveService {
 public:
  /// Throws feeds::KafkaError if Kafka cannot be configured.
  LiveService(config::Config config, std::string bootstrap_servers, LiveOptions options, LiveHooks hooks);
  ~LiveService();  // stops and joins
  LiveService(const LiveService&) = delete;
  LiveService& operator=(const LiveService&) = delete;

  /// Starts the engine thread: restore, then consume.
  void start();
  /// Stops consuming, finishes the batch in hand, commits offsets, writes the
  /// market state, closes the consumer. Idempotent; blocks until done.
  void stop();

  /// Latest snapshot (null before the first); thread-safe.
  [[nodiscard]] SnapshotPtr snapshot() const;
  /// True while the engine thread turns (updated every loop).
  [[nodiscard]] bool alive() const;

  /// Runs `job` on the engine thread between batches. Returns false (and
  /// does not run it) when the job queue is full or the service is stopping.
  bool post(std::function<void(Engine&)> job);

  /// Swaps in a new config (validated by the caller) on the engine thread,
  /// keeping the market state and the alert state of unchanged keys.
  /// Kafka and HTTP settings take effect only at restart.
  bool reload(config::Config config);
  /// Records a failed reload (the old config stays) for /metrics.
  void reload_failed();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace riskd::daemon
