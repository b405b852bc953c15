#pragma once
// The live engine loop of `riskd run`: one thread that owns the Engine (the
// single writer), consumes the feed and borrowers topics, applies ticks,
// commits offsets only after applying them, persists the market state, and
// publishes immutable Snapshots for the HTTP server and metrics.
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
#include <thread>
#include <vector>

#include "riskd/config/config.hpp"
#include "riskd/daemon/engine.hpp"
#include "riskd/daemon/snapshot.hpp"

namespace riskd::daemon {

struct LiveOptions {
  std::chrono::milliseconds publish_interval{100};  // snapshot at most this often
  std::chrono::milliseconds commit_interval{1000};  // offsets and market state
  std::chrono::milliseconds staleness_interval{1000};
  std::size_t max_batch = 10'000;                   // messages per poll
  std::size_t max_jobs = 64;                        // queued what-if / reload jobs
};

/// Observers called on the engine thread; they must not block.
struct LiveHooks {
  std::function<void(const alerts::AlertEvent&)> on_event;
  std::function<void(double seconds)> on_tick_latency;  // wall clock now - tick ts
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
