#pragma once
// riskd_tick_to_evaluation_seconds (INTERFACES.md "Metrics"), counted on the
// engine thread: the latencies of one polled batch are sorted into the
// histogram's buckets here, without a lock, and handed to the Prometheus
// histogram once per batch (Metrics::observe(const TickLatencyTally&)), so
// an applied tick costs an array increment, not a clock read, a
// std::function call and a mutex.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace riskd::daemon {

/// The histogram's bucket upper bounds in seconds: 10 µs .. 1 s, 1-2.5-5 per
/// decade (a sample equal to a bound counts in that bucket, as Prometheus'
/// `le`). The +Inf bucket is implicit.
inline constexpr std::array<double, 16> k_tick_latency_buckets_s{
    1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0};

/// Tick-to-evaluation latencies not yet handed to the histogram. One owner
/// thread; not thread-safe.
class TickLatencyTally {
 public:
  /// Counts one latency in seconds; negative or non-finite values are
  /// ignored (as Metrics::observe(double) does).
  void add(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0.0) return;
    const auto bucket = static_cast<std::size_t>(
        std::lower_bound(k_tick_latency_buckets_s.begin(), k_tick_latency_buckets_s.end(), seconds) -
        k_tick_latency_buckets_s.begin());
    ++counts_[bucket];
    sum_s_ += seconds;
    ++total_;
  }
  /// Counts `count` ticks of the same latency (one bucket search).
  void add(double seconds, std::uint64_t count) {
    if (count == 0 || !std::isfinite(seconds) || seconds < 0.0) return;
    const auto bucket = static_cast<std::size_t>(
        std::lower_bound(k_tick_latency_buckets_s.begin(), k_tick_latency_buckets_s.end(), seconds) -
        k_tick_latency_buckets_s.begin());
    counts_[bucket] += count;
    sum_s_ += seconds * static_cast<double>(count);
    total_ += count;
  }
  void clear() {
    counts_.fill(0);
    sum_s_ = 0.0;
    total_ = 0;
  }

  /// Per bucket (the last is +Inf), not cumulative.
  [[nodiscard]] const std::array<std::uint64_t, k_tick_latency_buckets_s.size() + 1>& counts() const {
    return counts_;
  }
  [[nodiscard]] double sum_s() const { return sum_s_; }
  [[nodiscard]] std::uint64_t total() const { return total_; }
  [[nodiscard]] bool empty() const { return total_ == 0; }

 private:
  std::array<std::uint64_t, k_tick_latency_buckets_s.size() + 1> counts_{};
  double sum_s_ = 0.0;
  std::uint64_t total_ = 0;
};

}  // namespace riskd::daemon
