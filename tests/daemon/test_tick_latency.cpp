// The engine thread's per-batch latency tally (daemon/include/riskd/daemon/
// tick_latency.hpp) against the Prometheus histogram fed one value at a time:
// the exposition must be the same.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "riskd/daemon/metrics.hpp"
#include "riskd/daemon/tick_latency.hpp"

using riskd::daemon::k_tick_latency_buckets_s;
using riskd::daemon::Metrics;
using riskd::daemon::TickLatencyTally;

namespace {

Metrics make_metrics() {
  return Metrics([] { return riskd::daemon::SnapshotPtr(); }, riskd::config::BorrowerSeries::none);
}

/// The riskd_tick_to_evaluation_seconds lines of an exposition.
std::string histogram_lines(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::string out;
  while (std::getline(in, line)) {
    if (line.rfind("riskd_tick_to_evaluation_seconds", 0) == 0) out += line + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("a tally sorts latencies into the histogram's buckets as Prometheus' le does, ignoring bad values") {
  TickLatencyTally t;
  CHECK(t.empty());
  t.add(1e-5);     // exactly a bound: that bucket
  t.add(1.1e-5);   // just over: the next
  t.add(0.003);    // 5 ms bucket
  t.add(2.0);      // over 1 s: +Inf
  t.add(0.0);      // the first bucket
  t.add(0.001, 3);  // three ticks of 1 ms
  t.add(-0.001);
  t.add(std::numeric_limits<double>::quiet_NaN());
  t.add(std::numeric_limits<double>::infinity());
  t.add(0.5, 0);  // no ticks
  CHECK(t.total() == 8);
  const auto& c = t.counts();
  REQUIRE(c.size() == k_tick_latency_buckets_s.size() + 1);
  CHECK(c[0] == 2);   // 0 and 1e-5
  CHECK(c[1] == 1);   // 1.1e-5 <= 2.5e-5
  CHECK(c[6] == 3);   // 1e-3
  CHECK(c[8] == 1);   // 5e-3
  CHECK(c[16] == 1);  // +Inf
  CHECK(t.sum_s() == doctest::Approx(1e-5 + 1.1e-5 + 0.003 + 2.0 + 0.003));
  t.clear();
  CHECK(t.empty());
  CHECK(t.sum_s() == 0.0);
}

TEST_CASE("Metrics::observe of a tally gives the exposition that observing each latency gives") {
  const std::vector<double> latencies{0.0, 1e-5, 2e-5, 4e-4, 0.0012, 0.0012, 0.0049, 0.005, 0.07, 0.3, 0.99, 1.0, 3.5};
  Metrics one_by_one = make_metrics();
  Metrics batched = make_metrics();
  TickLatencyTally t;
  for (const double s : latencies) {
    one_by_one.observe(s);
    t.add(s);
  }
  batched.observe(t);
  batched.observe(TickLatencyTally{});  // an empty tally changes nothing
  const std::string expected = histogram_lines(one_by_one.render());
  REQUIRE(expected.find("riskd_tick_to_evaluation_seconds_count 13") != std::string::npos);
  CHECK(histogram_lines(batched.render()) == expected);
  // A second batch adds to the first.
  batched.observe(t);
  for (const double s : latencies) one_by_one.observe(s);
  CHECK(histogram_lines(batched.render()) == histogram_lines(one_by_one.render()));
}
