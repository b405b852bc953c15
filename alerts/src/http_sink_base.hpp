#pragma once
// Internal: what the Alertmanager and webhook sinks share. One executor
// thread running an io_context (Asio/Beast, C++20 coroutines), a bounded
// drop-oldest queue guarded by `mutex_`, a wake-up posted by submit(), the
// stop/drain path, rate-limited logs, capped exponential backoff with full
// jitter, and one HTTP/1.1 POST with a deadline.
//
// GCC 12 at -O2 reports -Wnull-dereference false positives inside Asio once
// inlined (chriskohlhoff/asio#847): silenced for the library headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#pragma GCC diagnostic pop

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "riskd/alerts/http_endpoint.hpp"
#include "riskd/alerts/sink.hpp"
#include "riskd/alerts/sink_queue.hpp"

namespace riskd::alerts::detail {

using SteadyClock = std::chrono::steady_clock;

/// Capped exponential backoff with full jitter: the n-th delay (n from 0) is
/// uniform in [0, min(max, initial × 2^n)].
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max);
  std::chrono::milliseconds next();
  void reset() { attempt_ = 0; }
  [[nodiscard]] std::uint32_t attempts() const { return attempt_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::uint32_t attempt_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
};

struct PostResult {
  int status = 0;     // HTTP status; 0 when no answer came
  std::string error;  // why there was no answer (connect refused, timed out, ...)
  std::string body;   // the first KiB of the answer
  [[nodiscard]] bool ok() const { return status >= 200 && status < 300; }
  [[nodiscard]] std::string describe() const;
};

/// One POST of `body` (application/json) to `endpoint` on a fresh
/// connection; `timeout` bounds the whole exchange (resolve, connect, write,
/// read). Never throws for network errors.
boost::asio::awaitable<PostResult> post_json(const HttpEndpoint& endpoint, std::string target, std::string body,
                                             std::chrono::milliseconds timeout);

/// Validates a timeout in seconds (finite, > 0); throws std::invalid_argument naming `what`.
std::chrono::milliseconds checked_timeout(double seconds, std::string_view what);

class HttpSinkBase : public Sink {
 public:
  ~HttpSinkBase() override;
  [[nodiscard]] std::string_view name() const override { return name_; }
  void stop(std::chrono::milliseconds drain) override;

 protected:
  /// `url` is for logs. Throws std::invalid_argument on a zero capacity or a
  /// non-positive backoff.
  HttpSinkBase(std::string name, std::string url, std::size_t capacity, std::chrono::milliseconds initial_backoff,
               std::chrono::milliseconds max_backoff, OutcomeCounter count);

  /// Starts the executor; the derived constructor calls it last.
  void start();
  /// Derived destructors call it first: the executor uses derived members.
  void stop_now() { stop(std::chrono::milliseconds(0)); }

  /// The delivery loop (executor thread). Returns once `draining()` and
  /// nothing is left to deliver.
  virtual boost::asio::awaitable<void> run() = 0;

  // --- engine side (any thread), under mutex_ ---
  /// Appends to the queue; a full queue drops its oldest event (tallied and
  /// logged by the executor).
  void enqueue_locked(const AlertEvent& event);
  /// Tallies an inhibited event; the executor reports it (see flush_counts).
  void note_inhibited() { inhibited_pending_.fetch_add(1, std::memory_order_relaxed); }
  [[nodiscard]] bool accepting_locked() const { return accepting_; }

  // --- executor side ---
  /// Waits until woken by a submit, a stop, or `until`; returns at once if
  /// the queue holds events.
  boost::asio::awaitable<void> wait_for_work(SteadyClock::time_point until);
  boost::asio::awaitable<void> sleep_for(std::chrono::milliseconds delay);
  [[nodiscard]] bool draining() const { return draining_; }
  /// Events taken off the queue and not yet delivered: counted "dropped" if
  /// the sink is stopped before they are.
  void set_in_flight(std::size_t n) { in_flight_ = n; }
  void count(std::string_view outcome, std::uint64_t n = 1) const;
  /// Logs a failed attempt: the first of a streak, then at most every 30 s.
  void log_failure(const PostResult& result, std::chrono::milliseconds retry_in);
  void log_recovery();

  std::mutex mutex_;  // guards queue_ and accepting_
  DropOldestQueue<AlertEvent> queue_;
  Backoff backoff_;
  std::string url_;

 private:
  boost::asio::awaitable<void> run_guarded();
  boost::asio::awaitable<void> report_drops();
  /// Reports the drops and inhibitions tallied by submit() to the counter
  /// (executor thread, or after the join): the engine thread never calls it.
  void flush_counts();
  void wake_locked();

  std::string name_;
  OutcomeCounter count_;
  bool accepting_ = true;
  bool idle_ = false;                                // under mutex_: the executor waits for work and needs a wake-up
  std::atomic<std::uint64_t> dropped_pending_{0};    // tallied by submit, not yet counted
  std::atomic<std::uint64_t> inhibited_pending_{0};  // idem
  std::uint64_t dropped_unlogged_ = 0;               // executor thread
  std::uint64_t dropped_total_ = 0;                  // executor thread
  std::size_t in_flight_ = 0;                        // executor thread; read after join
  bool draining_ = false;                            // executor thread
  std::uint64_t failed_streak_ = 0;                  // executor thread
  SteadyClock::time_point last_failure_log_{};

  std::mutex stop_mutex_;  // serializes stop()
  bool stopped_ = false;
  std::mutex done_mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;

  struct Io {
    boost::asio::io_context ioc{1};
    boost::asio::steady_timer wake{ioc};
  };
  std::unique_ptr<Io> io_;
  std::thread thread_;
};

}  // namespace riskd::alerts::detail
