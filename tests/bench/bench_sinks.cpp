// riskd_bench_sinks: the engine thread's tick rate while its alert events go
// to dead notification sinks, beside the same replay with no sinks, in the
// same run (issue 4: a dead webhook or Alertmanager must not lower the tick
// rate by more than 5 %).
//
// Each run replays the same JSON tick path through a fresh daemon::Engine
// (100 random borrowers, BTC-USD mean-reverting around its start so that
// covenants breach and resolve often) and submits every event it emits to
// the sinks of the scenario:
//   none               events dropped on the floor (the baseline)
//   webhook refused    a webhook on a closed port of 127.0.0.1
//   webhook blackhole  a webhook on a socket that accepts (kernel backlog)
//                      and never answers: every attempt waits for timeout_s
//   alertmanager dead  Alertmanager on a closed port
//   all three          the three dead sinks together
// Scenarios rotate within each round; the figure is the median over --runs
// rounds, after one untimed warm-up replay. Sinks are created before and
// stopped (drain 0) after the timed part, so the outcome counts include the
// events still queued at that stop ("dropped").
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#pragma GCC diagnostic pop

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../support/random_book.hpp"
#include "bench_support.hpp"
#include "riskd/alerts/alertmanager_sink.hpp"
#include "riskd/alerts/webhook_sink.hpp"
#include "riskd/daemon/engine.hpp"

using namespace riskd;
using Clock = std::chrono::steady_clock;

namespace {

const risk::TimeMs k_t0 = *risk::parse_date("2025-12-19");

risk::RiskConfig make_config(std::size_t borrowers, std::uint64_t seed) {
  return test::random_book_config(borrowers, seed, k_t0);
}

/// One seed tick per series, then BTC-USD ticks: log-price Ornstein-Uhlenbeck
/// around the start (stationary sd ~9 %), 100 ms of event time apart.
std::vector<std::string> tick_path(std::size_t ticks, std::uint64_t seed) {
  std::vector<std::string> lines;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.004);
  risk::TimeMs ts = k_t0;
  char buf[160];
  double btc0 = 0.0;
  for (const auto& [settings, series] : test::random_series()) {
    if (series.first == "BTC-USD") btc0 = series.second;
    std::snprintf(buf, sizeof buf, R"({"series": "%s", "value": %.6f, "ts": %lld})", series.first.c_str(),
                  series.second, static_cast<long long>(ts));
    lines.emplace_back(buf);
  }
  double x = 0.0;  // log(BTC / start)
  for (std::size_t i = 0; i < ticks; ++i) {
    x += -0.001 * x + noise(rng);
    ts += 100;
    std::snprintf(buf, sizeof buf, R"({"series": "BTC-USD", "value": %.2f, "ts": %lld})", btc0 * std::exp(x),
                  static_cast<long long>(ts));
    lines.emplace_back(buf);
  }
  return lines;
}

/// Outcome tallies (thread-safe, as sinks require), as cheap as a cached
/// Prometheus counter: one relaxed atomic add per call, no lookup by string.
struct Tally {
  static constexpr std::array<std::string_view, 2> k_sinks{"webhook", "alertmanager"};
  static constexpr std::array<std::string_view, 5> k_outcomes{"sent", "failed", "retried", "dropped", "inhibited"};
  std::array<std::atomic<std::uint64_t>, k_sinks.size() * k_outcomes.size()> n{};
  alerts::OutcomeCounter counter() {
    return [this](std::string_view sink, std::string_view outcome) {
      const std::size_t s = sink == k_sinks[0] ? 0 : 1;
      std::size_t o = 0;
      while (o + 1 < k_outcomes.size() && k_outcomes[o] != outcome) ++o;
      n[s * k_outcomes.size() + o].fetch_add(1, std::memory_order_relaxed);
    };
  }
  std::map<std::string, std::uint64_t> counts() const {
    std::map<std::string, std::uint64_t> out;
    for (std::size_t s = 0; s < k_sinks.size(); ++s) {
      for (std::size_t o = 0; o < k_outcomes.size(); ++o) {
        if (const auto v = n[s * k_outcomes.size() + o].load(); v > 0) {
          out[std::string(k_sinks[s]) + "/" + std::string(k_outcomes[o])] = v;
        }
      }
    }
    return out;
  }
};

/// CPU time of the calling thread: unlike wall time, not inflated when other
/// processes of a shared machine take the core.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  std::size_t ticks = 200'000;
  std::string only;  // "A" (replay) or "B" (submit alone): run one section
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--ticks") == 0 && i + 1 < argc) ticks = std::strtoull(argv[++i], nullptr, 10);
    if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
  }
  const auto cfg = make_config(100, 11);
  const auto lines = tick_path(ticks, 12);

  // Dead endpoints: a closed port, and a listening socket nobody accepts on.
  boost::asio::io_context ioc;
  using tcp = boost::asio::ip::tcp;
  unsigned short closed_port = 0;
  {
    tcp::acceptor probe(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    closed_port = probe.local_endpoint().port();
  }
  tcp::acceptor blackhole(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  blackhole.listen(4096);
  const std::string refused_url = "http://127.0.0.1:" + std::to_string(closed_port) + "/hook";
  const std::string blackhole_url = "http://127.0.0.1:" + std::to_string(blackhole.local_endpoint().port()) + "/hook";

  struct Scenario {
    std::string name;
    std::function<std::vector<std::unique_ptr<alerts::Sink>>(Tally&)> make;
  };
  const auto webhook = [](const std::string& url, Tally& t) {
    alerts::WebhookSinkOptions o;
    o.url = url;  // defaults otherwise: timeout 5 s, queue 10,000, backoff 200 ms .. 30 s
    return alerts::make_webhook_sink(o, t.counter());
  };
  const auto alertmanager = [&](Tally& t) {
    alerts::AlertmanagerSinkOptions o;
    o.url = "http://127.0.0.1:" + std::to_string(closed_port);
    o.generator_base_url = "http://127.0.0.1:8080";
    return alerts::make_alertmanager_sink(o, t.counter());
  };
  std::vector<Scenario> scenarios{
      {"none", [](Tally&) { return std::vector<std::unique_ptr<alerts::Sink>>{}; }},
      {"webhook refused",
       [&](Tally& t) {
         std::vector<std::unique_ptr<alerts::Sink>> v;
         v.push_back(webhook(refused_url, t));
         return v;
       }},
      {"webhook blackhole",
       [&](Tally& t) {
         std::vector<std::unique_ptr<alerts::Sink>> v;
         v.push_back(webhook(blackhole_url, t));
         return v;
       }},
      {"alertmanager dead",
       [&](Tally& t) {
         std::vector<std::unique_ptr<alerts::Sink>> v;
         v.push_back(alertmanager(t));
         return v;
       }},
      {"all three",
       [&](Tally& t) {
         std::vector<std::unique_ptr<alerts::Sink>> v;
         v.push_back(webhook(refused_url, t));
         v.push_back(webhook(blackhole_url, t));
         v.push_back(alertmanager(t));
         return v;
       }},
  };

  {  // warm-up (caches, allocator, page faults), not timed
    daemon::Engine engine(cfg);
    std::vector<alerts::AlertEvent> events;
    for (const auto& line : lines) {
      events.clear();
      engine.apply(line, std::nullopt, events);
    }
  }
  if (only.empty() || only == "A") {
    std::vector<std::vector<double>> seconds(scenarios.size());
    std::vector<std::vector<double>> cpu_seconds(scenarios.size());
    std::vector<std::map<std::string, std::uint64_t>> last_counts(scenarios.size());
    std::size_t events_per_run = 0;
    for (int r = 0; r < runs; ++r) {
      for (std::size_t k = 0; k < scenarios.size(); ++k) {
        const std::size_t s = (k + static_cast<std::size_t>(r)) % scenarios.size();  // rotate the order
        Tally tally;
        auto sinks = scenarios[s].make(tally);
        daemon::Engine engine(cfg);
        std::vector<alerts::AlertEvent> events;
        std::size_t emitted = 0;
        const double cpu_start = thread_cpu_seconds();
        const auto start = Clock::now();
        for (const auto& line : lines) {
          events.clear();
          engine.apply(line, std::nullopt, events);
          emitted += events.size();
          for (const auto& ev : events) {
            for (auto& sink : sinks) sink->submit(ev);
          }
        }
        seconds[s].push_back(std::chrono::duration<double>(Clock::now() - start).count());
        cpu_seconds[s].push_back(thread_cpu_seconds() - cpu_start);
        for (auto& sink : sinks) sink->stop(std::chrono::milliseconds(0));
        events_per_run = emitted;
        last_counts[s] = tally.counts();
      }
    }

    const double n = static_cast<double>(lines.size());
    const double base_rate = n / bench::median(seconds[0]);
    std::printf("%zu ticks (BTC-USD), 100 borrowers, %zu alert events per run, median of %d runs\n\n", lines.size(),
                events_per_run, runs);
    std::printf(
        "| sinks | engine tick rate, wall | vs no sinks | engine tick rate, engine thread CPU time | vs no sinks | "
        "outcomes in the last run |\n|---|---|---|---|---|---|\n");
    const double base_cpu_rate = n / bench::median(cpu_seconds[0]);
    for (std::size_t s = 0; s < scenarios.size(); ++s) {
      const double rate = n / bench::median(seconds[s]);
      const double cpu_rate = n / bench::median(cpu_seconds[s]);
      std::string outcomes;
      for (const auto& [key, count] : last_counts[s]) {
        outcomes += (outcomes.empty() ? "" : ", ") + key + " " + std::to_string(count);
      }
      std::printf("| %s | %.1f k ticks/s | %+.1f %% | %.1f k ticks/s | %+.1f %% | %s |\n", scenarios[s].name.c_str(),
                  rate / 1e3, (rate / base_rate - 1.0) * 100.0, cpu_rate / 1e3,
                  (cpu_rate / base_cpu_rate - 1.0) * 100.0, outcomes.empty() ? "-" : outcomes.c_str());
    }
  }

  // B. submit() alone on the calling thread: 1,000,000 events into each dead
  // sink (the queue fills after 10,000, then every push drops the oldest).
  const std::size_t submits = 1'000'000;
  std::vector<alerts::AlertEvent> sample;
  {
    daemon::Engine engine(cfg);
    std::vector<alerts::AlertEvent> events;
    for (const auto& line : lines) {
      events.clear();
      engine.apply(line, std::nullopt, events);
      sample.insert(sample.end(), events.begin(), events.end());
      if (sample.size() >= 1000) break;
    }
  }
  if (!only.empty() && only != "B") return 0;
  std::printf("\n| submit() of %zu events, calling thread | ns per event (median of %d) |\n|---|---|\n", submits, runs);
  for (std::size_t s = 1; s < scenarios.size(); ++s) {
    std::vector<double> per_event;
    for (int r = 0; r < runs && !sample.empty(); ++r) {
      Tally tally;
      auto sinks = scenarios[s].make(tally);
      const auto start = Clock::now();
      for (std::size_t i = 0; i < submits; ++i) {
        for (auto& sink : sinks) sink->submit(sample[i % sample.size()]);
      }
      per_event.push_back(std::chrono::duration<double>(Clock::now() - start).count() / static_cast<double>(submits));
      for (auto& sink : sinks) sink->stop(std::chrono::milliseconds(0));
    }
    std::printf("| %s | %.0f ns |\n", scenarios[s].name.c_str(), bench::median(per_event) * 1e9);
  }
  return 0;
}
