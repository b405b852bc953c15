// End to end through the broker (issue 3, "Performance"): `riskd broker` and
// `riskd run` as separate processes, real Kafka protocol over TCP, real HTTP.
//
//   A. Throughput. A fresh broker per run gets a backlog on md.crypto (4
//      partitions, lz4, values a random walk of up to ±--step-bp (default 1)
//      basis points a tick, "ts" in
//      epoch ms increasing by 1 ms a tick, key = series id): one seed tick for
//      each series of the book not in the backlog, then the backlog ticks.
//      A series keeps its order only within one partition, so each backlog
//      series has its own partition; and the mock broker keeps 5 MiB of
//      batches per partition (about 250,000-350,000 of these ticks), so:
//        --series coins (default): 1,000,000 ticks, BTC-USD, ETH-USD and two
//          price series the bench declares (SOL-USD, LTC-USD) round-robin,
//          one partition each;
//        --series btc: 300,000 BTC-USD ticks, all in partition 0;
//        --series mix: 1,000,000 ticks, BTC-USD, ETH-USD, GPU-H100 and
//          GPU-A100 (GPU index ticks revalue pools: an engine figure).
//      The bench checks that the broker kept them all (low watermarks 0),
//      times kcat reading the whole topic (`kcat -C -e -q -o beginning`, to
//      /dev/null) and `kcat -c 1` (its start-up: connect, metadata, first
//      fetch, exit), then starts `riskd run` with --borrowers random
//      borrowers (tests/support/random_book.hpp; in the config, or with
//      --book-via-topic as JSON documents keyed by id on risk.borrowers) and
//      reads riskd's own "feeds caught up" log line: the wall time of the
//      first polled and the last handled message. Two ratios:
//        steady state (the headline): riskd messages / (last - first) against
//          kcat (N - 1) / (time of kcat -e - time of kcat -c 1): each side's
//          consumption rate with its own start-up taken out the same way;
//        spawn to done: N / (spawn -> last handled) against N / kcat's time.
//      /metrics (polled every 50 ms) confirms every message was applied;
//      spawn to /readyz 200 is reported beside.
//   B. Latency. With that daemon still running, a paced producer sends
//      BTC-USD ticks stamped with the wall clock at 10,000 ticks/s for 20 s
//      (after 100 untimed warm-up ticks); riskd_tick_to_evaluation_seconds
//      is scraped before and after, and p50/p99 are read off the delta's
//      cumulative buckets as "<= bound".
//   C. Reload. A SIGHUP with the config unchanged; the time from the signal
//      to riskd's "config reloaded" log line (10 ms polls of the log).
//
// riskd gets kcat's fetch settings through kafka.properties. The mock broker
// does not cut a fetch's wait short when data arrives (librdkafka's mock
// Fetch handler delays an empty answer by the whole fetch.wait.max.ms), so
// that setting bounds the latency from below; --daemon-fetch-wait MS gives
// riskd another value (kcat keeps 10 ms).
//
// Median of --runs runs (default 3); prints a markdown table. Not a test:
// exits 0 whatever the figures, 1 if a run failed. Every child (broker,
// daemon, kcat, perf) is killed when its guard goes out of scope.
//
// usage: riskd_bench_e2e [--series coins|btc|mix] [--ticks N] [--runs R] [--rate TICKS_PER_S] [--seconds S]
//                        [--borrowers B] [--book-via-topic] [--daemon-fetch-wait MS] [--linger MS] [--codec C]
//                        [--paced-codec C] [--step-bp BP] [--perf FILE] [--riskd BINARY] [--keep]
//   --book-via-topic  borrowers as documents on the borrowers topic (4,000 per
//                partition), not in the config (whose 16 MiB limit a
//                100,000-borrower YAML exceeds); past 10,000 borrowers the
//                config sets metrics.borrower_series: none
//   --linger MS  linger.ms of the paced producer (default 1)
//   --codec C    compression.type of the backlog (default lz4)
//   --paced-codec C  compression.type of phase B's paced producer (default
//                none: the development broker keeps 5 MiB of record batches
//                per partition and finds a fetch offset by walking them from
//                the oldest, one batch per fetch, so lz4's ~10-tick batches
//                of ~300 B let that walk grow to ~17,000 batches and its
//                thread saturates after ~15 s at 10,000 ticks/s; uncompressed
//                batches keep it under ~6,000. A real broker indexes offsets.)
//   --perf FILE  also runs `perf record -g -p <riskd run>` over phase A of
//                the first run, writing FILE
//   --keep       keeps the work directory (configs, logs) under /tmp
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "../support/borrower_json.hpp"
#include "../support/http_client.hpp"
#include "bench_support.hpp"
#include "../support/process.hpp"
#include "../support/random_book.hpp"
#include "riskd/feeds/kafka.hpp"
#include "riskd/risk/time.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using riskd::test::Child;

namespace {

using riskd::bench::count_lines;
using riskd::bench::median;

constexpr const char* k_topic = "md.crypto";
constexpr int k_partitions = 4;
constexpr const char* k_borrowers_topic = "risk.borrowers";
/// Borrowers per partition of the borrowers topic: the mock broker keeps
/// 5 MiB of (zstd) batches per partition; a document is ~700 bytes.
constexpr std::size_t k_borrowers_per_partition = 4000;
// Fetch settings given to kcat as -X and to riskd through kafka.properties.
const std::vector<std::pair<std::string, std::string>> k_fetch_properties{{"fetch.wait.max.ms", "10"},
                                                                          {"queued.min.messages", "10000000"}};

struct Options {
  std::size_t ticks = 0;  // 0: 300,000 for btc, 1,000,000 for coins and mix
  int runs = 3;
  double rate = 10'000.0;
  double seconds = 20.0;
  std::size_t borrowers = 100;
  std::string linger_ms = "1";  // the paced producer's linger.ms
  std::string codec = "lz4";    // compression.type of the backlog
  std::string paced_codec = "none";  // compression.type of the paced producer (phase B): see the header
  std::string series = "coins";  // backlog series: coins | btc | mix
  std::string daemon_fetch_wait;  // riskd's fetch.wait.max.ms if not kcat's
  std::string perf_path;
  // The binary measured as `riskd run` (e.g. a baseline build, --riskd); the broker is always RISKD_BINARY.
  std::string riskd = RISKD_BINARY;
  bool keep = false;
  bool book_via_topic = false;  // borrowers as documents on the borrowers topic, not in the config
  double step_bp = 1.0;         // largest move of a tick, basis points
};

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string tail(const std::string& text, std::size_t n = 2000) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

// --- the book --------------------------------------------------------------

std::string num(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", x);
  return buf;
}


/// Two price series the bench declares beyond the random book's (no borrower
/// holds them; their ticks are applied and counted like any other): with
/// BTC-USD and ETH-USD they make the four partitions of --series coins.
const std::vector<std::pair<std::string, double>> k_extra_coins{{"SOL-USD", 140.0}, {"LTC-USD", 85.0}};

/// The config's series and scenarios (tests/support/random_book.hpp's, as in
/// bench_engine, plus k_extra_coins).
std::string book_header_yaml() {
  std::ostringstream y;
  y << "series:\n";
  for (const auto& [settings, series] : riskd::test::random_series()) {
    y << "  " << series.first << ": {kind: " << riskd::risk::to_string(*settings.kind) << "}\n";
  }
  for (const auto& [series, value] : k_extra_coins) y << "  " << series << ": {kind: price}\n";
  y << "scenarios:\n"
       "  - {name: btc_crash, shocks: {BTC-USD: -0.6}}\n"
       "  - {name: rent_collapse, shocks: {\"@gpu_rent\": -0.5, \"@spread\": 250}}\n";
  return y.str();
}

/// `count` random borrowers (tests/support/random_book.hpp, seed 2) as JSON documents.
std::vector<riskd::risk::BorrowerSpec> random_borrowers(std::size_t count, riskd::risk::TimeMs t_ms) {
  std::vector<riskd::risk::BorrowerSpec> out;
  out.reserve(count);
  std::mt19937_64 rng(2);
  for (std::size_t i = 0; i < count; ++i) out.push_back(riskd::test::random_borrower(rng, t_ms, "b" + std::to_string(i)));
  return out;
}

/// The config's book: header, and the borrowers as YAML list entries unless
/// they come through the borrowers topic.
std::string book_yaml(const std::vector<riskd::risk::BorrowerSpec>& borrowers, bool via_topic) {
  std::string y = book_header_yaml();
  if (via_topic) return y;
  y += "borrowers:\n";
  for (const auto& b : borrowers) y += "  - " + riskd::test::borrower_json(b) + "\n";
  return y;
}

std::string write_config(const std::string& dir, const std::string& book, const std::string& bootstrap,
                         const std::string& group, const std::string& fetch_wait, bool via_topic, bool big_book) {
  const std::string path = dir + "/" + group + ".yaml";
  std::ofstream out(path);
  out << book << "kafka:\n  bootstrap_servers: \"" << bootstrap << "\"\n  group_id: " << group
      << "\n  properties:\n";
  for (const auto& [name, value] : k_fetch_properties) {
    const bool wait = name == "fetch.wait.max.ms" && !fetch_wait.empty();
    out << "    " << name << ": \"" << (wait ? fetch_wait : value) << "\"\n";
  }
  out << "feeds: {topics: [" << k_topic << "]" << (via_topic ? std::string(", borrowers_topic: ") + k_borrowers_topic : "")
      << "}\nhttp: {listen: \"127.0.0.1:0\"}\n";
  // Per-borrower series would make every /metrics scrape O(book) (README: use none past ~10,000).
  if (big_book) out << "metrics: {borrower_series: none}\n";
  return path;
}

// --- processes -------------------------------------------------------------

/// Spawns argv with stdout to `out_path` and stderr to `err_path`; waits at
/// most `timeout`, then SIGKILLs it. Returns the exit status (-1: timeout).
int run_to_file(const std::vector<std::string>& argv, const char* out_path, const std::string& err_path,
                std::chrono::seconds timeout, double* cpu_s = nullptr) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -2;
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  while (true) {
    rusage usage{};
    const pid_t r = wait4(pid, &status, WNOHANG, &usage);
    if (r == pid) {
      if (cpu_s != nullptr) {  // user + system CPU of the whole process, every thread
        *cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                 static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
      }
      break;
    }
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(1ms);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// kcat reading the whole topic; with `first_only`, exiting after the first
/// message (`-c 1`): its start-up (connect, metadata, first fetch) and exit.
std::vector<std::string> kcat_argv(const std::string& bootstrap, bool first_only = false) {
  std::vector<std::string> args{"kcat", "-C", "-b", bootstrap, "-t", k_topic, "-e", "-q", "-o", "beginning"};
  if (first_only) {
    args.push_back("-c");
    args.push_back("1");
  }
  for (const auto& [name, value] : k_fetch_properties) {
    args.push_back("-X");
    args.push_back(name + "=" + value);
  }
  return args;
}

/// Stops a child with `sig`, waiting up to `timeout`; the guard SIGKILLs it otherwise.
void stop_child(Child& c, int sig, std::chrono::milliseconds timeout) {
  c.signal(sig);
  c.wait(timeout);
}

/// CPU seconds (utime + stime) of each thread of `pid` with its name, from /proc/PID/task/*/stat.
std::vector<std::pair<std::string, double>> thread_cpu_s(pid_t pid) {
  std::vector<std::pair<std::string, double>> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    const std::string text = read_text(entry.path().string() + "/stat");
    const auto open = text.find('(');
    const auto close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 2));  // from field 3 (state)
    std::string field;
    double ticks = 0.0;
    for (int i = 3; rest >> field && i <= 15; ++i) {
      if (i == 14 || i == 15) ticks += std::strtod(field.c_str(), nullptr);
    }
    out.emplace_back(text.substr(open + 1, close - open - 1), ticks / static_cast<double>(sysconf(_SC_CLK_TCK)));
  }
  return out;
}

// --- metrics ---------------------------------------------------------------

/// The value of the sample named exactly `series` (name plus labels), or -1.
double metric(const std::string& text, const std::string& series) {
  std::size_t pos = 0;
  while ((pos = text.find(series + " ", pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') return std::strtod(text.c_str() + pos + series.size() + 1, nullptr);
    pos += series.size();
  }
  return -1.0;
}

struct Histogram {
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative count), +Inf last
  double sum = 0.0;
  double count = 0.0;
};

Histogram histogram(const std::string& text, const std::string& name) {
  Histogram h;
  const std::string prefix = name + "_bucket{le=\"";
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      const auto close = line.find('"', prefix.size());
      const std::string le = line.substr(prefix.size(), close - prefix.size());
      const double bound = le == "+Inf" ? std::numeric_limits<double>::infinity() : std::strtod(le.c_str(), nullptr);
      h.buckets.emplace_back(bound, std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr));
    } else if (line.rfind(name + "_sum ", 0) == 0) {
      h.sum = std::strtod(line.c_str() + name.size() + 5, nullptr);
    } else if (line.rfind(name + "_count ", 0) == 0) {
      h.count = std::strtod(line.c_str() + name.size() + 7, nullptr);
    }
  }
  std::sort(h.buckets.begin(), h.buckets.end());
  return h;
}

Histogram minus(const Histogram& after, const Histogram& before) {
  Histogram d = after;
  for (std::size_t i = 0; i < d.buckets.size() && i < before.buckets.size(); ++i) d.buckets[i].second -= before.buckets[i].second;
  d.sum -= before.sum;
  d.count -= before.count;
  return d;
}

/// The smallest bucket bound holding at least q of the observations.
double quantile_bound(const Histogram& h, double q) {
  const double total = h.buckets.empty() ? 0.0 : h.buckets.back().second;
  for (const auto& [bound, cumulative] : h.buckets) {
    if (cumulative >= q * total) return bound;
  }
  return std::numeric_limits<double>::infinity();
}

std::string format_bound(double s) {
  if (std::isinf(s)) return "> 1 s";
  char buf[32];
  if (s < 1e-3) {
    std::snprintf(buf, sizeof buf, "≤ %g µs", s * 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "≤ %g ms", s * 1e3);
  }
  return buf;
}

// --- one run ---------------------------------------------------------------

struct Daemon {
  std::unique_ptr<Child> child;
  unsigned short port = 0;
  [[nodiscard]] riskd::test::HttpResponse get(const std::string& target) const {
    return riskd::test::http_request("127.0.0.1", port, "GET", target, {}, std::chrono::seconds(5));
  }
};

struct RunResult {
  double produce_s = 0.0;
  double kcat_rate = 0.0;         // messages / (spawn -> exit of `kcat -e`)
  double kcat_first_s = 0.0;      // spawn -> exit of `kcat -c 1`: start-up, first message, exit
  double kcat_steady_rate = 0.0;  // (messages - 1) / (kcat time - kcat_first_s)
  double riskd_rate = 0.0;        // messages / (spawn -> last message handled)
  double riskd_first_s = 0.0;     // spawn -> first message polled (riskd's log)
  double startup_s = 0.0;         // spawn -> /readyz 200 (polled every 50 ms)
  double steady_rate = 0.0;       // messages / (first polled -> last handled), riskd's "feeds caught up" line
  double steady_ratio = 0.0;      // steady_rate / kcat_steady_rate, this run
  double spawn_ratio = 0.0;       // riskd_rate / kcat_rate, this run
  double kcat_cpu_rate = 0.0;     // messages per CPU second of the kcat process (all threads, start-up included)
  double riskd_cpu_rate = 0.0;    // messages per CPU second of the riskd process from spawn to caught up
  double cpu_ratio = 0.0;
  double engine_us_per_msg = 0.0;  // CPU of riskd's busiest own thread (the engine thread) per message
  double broker_us_per_msg = 0.0;  // CPU of librdkafka's busiest rdk:broker thread per message
  double other_us_per_msg = 0.0;   // every other thread of the process
  double p50 = 0.0;
  double p99 = 0.0;
  double mean_latency = 0.0;
  double latency_count = 0.0;
  double share_5ms = 0.0;       // observations <= 5 ms
  double achieved_rate = 0.0;
  std::size_t sent = 0;
  double reload_s = 0.0;  // SIGHUP -> riskd's "config reloaded" log line
};

class Failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The backlog's series, one per partition of md.crypto (each series keeps
/// its order only within one partition, and the mock broker keeps about
/// 350,000 such ticks per partition, so 1,000,000 ticks of one series do not
/// fit): "mix" spreads the ticks evenly over two coins and two GPU rent
/// indices; "btc" puts them all on BTC-USD in partition 0.
std::vector<std::string> backlog_series(const Options& opt) {
  if (opt.series == "btc") return {"BTC-USD"};
  if (opt.series == "coins") return {"BTC-USD", "ETH-USD", k_extra_coins[0].first, k_extra_coins[1].first};
  return {"BTC-USD", "ETH-USD", "GPU-H100", "GPU-A100"};
}

/// The book's other series get one tick each before the backlog.
std::vector<std::pair<std::string, double>> seed_series(const Options& opt) {
  const auto backlog = backlog_series(opt);
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [settings, series] : riskd::test::random_series()) {
    if (std::find(backlog.begin(), backlog.end(), series.first) == backlog.end()) out.push_back(series);
  }
  return out;
}

std::string tick_json(const std::string& series, double value, std::int64_t ts_ms) {
  char buf[128];
  const int n = std::snprintf(buf, sizeof buf, R"({"series": "%s", "value": %.8g, "ts": %lld})", series.c_str(), value,
                              static_cast<long long>(ts_ms));
  return std::string(buf, static_cast<std::size_t>(n));
}

/// A random walk per series, up to ±`step_bp` basis points a tick, uniform
/// (xorshift, as bench_kafka). With 100,000 borrowers, levels lie every few
/// cents around the price: ±1 bp (±$8.80 on BTC) crosses some borrower's
/// level on most ticks; --step-bp 0.001 (±0.9 cent) on a fraction of them.
class Walks {
 public:
  explicit Walks(double step_bp) : step_(step_bp * 1e-4 / 1000.0) {
    for (const auto& [settings, series] : riskd::test::random_series()) value_[series.first] = series.second;
    for (const auto& [series, value] : k_extra_coins) value_[series] = value;
  }
  double next(const std::string& series) {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    double& v = value_[series];
    v *= 1.0 + (static_cast<double>(state_ % 2001) - 1000.0) * step_;
    return v;
  }

 private:
  double step_;  // relative move per unit of the 2001-step draw
  std::uint64_t state_ = 0x9E3779B97F4A7C15ULL;
  std::map<std::string, double> value_;
};

/// Seeds the series not in the backlog, then `opt.ticks` ticks round-robin
/// over the backlog series (series k on partition k), timestamps base_ms + i.
/// Returns the number of messages produced.
std::size_t produce_backlog(const std::string& bootstrap, const Options& opt, Walks& walks, std::int64_t base_ms) {
  riskd::feeds::KafkaProducer producer(bootstrap,
                                       {{"compression.type", opt.codec},
                                        {"linger.ms", "100"},
                                        {"batch.num.messages", "50000"},
                                        {"batch.size", "1000000"},
                                        {"queue.buffering.max.messages", "2000000"},
                                        {"queue.buffering.max.kbytes", "1048576"}},
                                       true);
  std::size_t total = 0;
  for (const auto& [series, value] : seed_series(opt)) {
    if (!producer.produce(k_topic, series, tick_json(series, value, base_ms - 1000))) throw Failure("produce failed");
    ++total;
  }
  const auto series = backlog_series(opt);
  for (std::size_t i = 0; i < opt.ticks; ++i) {
    const std::size_t k = i % series.size();
    const std::string v = tick_json(series[k], walks.next(series[k]), base_ms + static_cast<std::int64_t>(i));
    while (!producer.produce(k_topic, series[k], v, std::nullopt, static_cast<std::int32_t>(k))) producer.poll(10ms);
    if (i % 10000 == 0) producer.poll(0ms);
    ++total;
  }
  if (!producer.flush(120s) || producer.delivered() != total || producer.failed() != 0) {
    throw Failure("producing the backlog failed");
  }
  return total;
}

void check_broker_kept(const std::string& bootstrap, std::size_t total) {
  riskd::feeds::KafkaConsumer probe(bootstrap, "riskd-bench-probe", {});
  std::int64_t held = 0;
  for (int p = 0; p < k_partitions; ++p) {
    const auto [low, high] = probe.watermarks(k_topic, p, 10s);
    if (low != 0) {
      throw Failure("partition " + std::to_string(p) + " lost its first " + std::to_string(low) +
                    " messages (the mock broker keeps 5 MiB per partition)");
    }
    held += high;
  }
  if (held != static_cast<std::int64_t>(total)) {
    throw Failure("the topic holds " + std::to_string(held) + " messages, expected " + std::to_string(total));
  }
}

constexpr std::size_t k_warmup_ticks = 100;

/// Produces BTC-USD ticks stamped with the wall clock at `rate` per second.
/// First sends k_warmup_ticks and waits for their delivery (so that the
/// producer's connection set-up is not timed), then calls `warm()`.
std::size_t produce_paced(const std::string& bootstrap, Walks& walks, const Options& opt, double& achieved,
                          const std::function<void()>& warm) {
  const double rate = opt.rate;
  const double seconds = opt.seconds;
  riskd::feeds::KafkaProducer producer(bootstrap, {{"linger.ms", opt.linger_ms}, {"compression.type", opt.paced_codec}}, false);
  const std::string key = "BTC-USD";
  for (std::size_t i = 0; i < k_warmup_ticks; ++i) {
    if (!producer.produce(k_topic, key, tick_json(key, walks.next(key), wall_ms()), std::nullopt, 0)) throw Failure("warm-up produce failed");
    std::this_thread::sleep_for(1ms);
  }
  if (!producer.flush(10s)) throw Failure("warm-up ticks not delivered");
  warm();
  const auto start = Clock::now();
  const auto total = static_cast<std::size_t>(rate * seconds);
  std::size_t sent = 0;
  while (sent < total) {
    const double due_s = static_cast<double>(sent) / rate;
    const auto due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(due_s));
    if (Clock::now() < due) {
      producer.poll(0ms);
      std::this_thread::sleep_until(std::min(due, Clock::now() + 200us));
      continue;
    }
    // Everything due now goes out with the current timestamp.
    while (sent < total && Clock::now() >= start + std::chrono::duration_cast<Clock::duration>(
                                                        std::chrono::duration<double>(static_cast<double>(sent) / rate))) {
      if (!producer.produce(k_topic, key, tick_json(key, walks.next(key), wall_ms()), std::nullopt, 0)) {
        producer.poll(1ms);
        continue;
      }
      ++sent;
    }
    producer.poll(0ms);
  }
  achieved = static_cast<double>(sent) / seconds_since(start);
  if (!producer.flush(30s) || producer.failed() != 0) throw Failure("paced producer: delivery failed");
  return sent;
}

double wall_unix_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// riskd's "feeds caught up: N messages handled in S s ...; first polled at
/// T0, last handled at T1 (unix s)" log line (daemon/src/live_service.cpp).
struct CatchUpLine {
  std::size_t messages = 0;
  double first_unix_s = 0.0;
  double last_unix_s = 0.0;
};

std::optional<CatchUpLine> catch_up_line(const std::string& log) {
  const auto at = log.find("feeds caught up: ");
  if (at == std::string::npos) return std::nullopt;
  CatchUpLine c;
  unsigned long long n = 0;
  double span = 0.0;
  double rate = 0.0;
  if (std::sscanf(log.c_str() + at,
                  "feeds caught up: %llu messages handled in %lf s from the first to the last (%lf msg/s); first "
                  "polled at %lf, last handled at %lf",
                  &n, &span, &rate, &c.first_unix_s, &c.last_unix_s) != 5) {
    return std::nullopt;
  }
  c.messages = static_cast<std::size_t>(n);
  return c;
}

/// Produces every borrower as a JSON document keyed by its id on the
/// borrowers topic (zstd), and checks the broker kept them all.
void produce_borrowers(const std::string& bootstrap, const std::vector<riskd::risk::BorrowerSpec>& borrowers,
                       int partitions) {
  riskd::feeds::KafkaProducer producer(bootstrap,
                                       {{"compression.type", "zstd"},
                                        {"linger.ms", "100"},
                                        {"batch.num.messages", "10000"},
                                        {"batch.size", "1000000"},
                                        {"queue.buffering.max.messages", "2000000"},
                                        {"queue.buffering.max.kbytes", "2097151"}},
                                       true);
  for (const auto& b : borrowers) {
    while (!producer.produce(k_borrowers_topic, b.id, riskd::test::borrower_json(b))) producer.poll(10ms);
  }
  if (!producer.flush(300s) || producer.delivered() != borrowers.size()) throw Failure("producing the borrowers failed");
  riskd::feeds::KafkaConsumer probe(bootstrap, "riskd-bench-probe", {});
  std::int64_t held = 0;
  for (int p = 0; p < partitions; ++p) {
    const auto [low, high] = probe.watermarks(k_borrowers_topic, p, 10s);
    if (low != 0) throw Failure("borrowers partition " + std::to_string(p) + " lost messages (5 MiB per partition)");
    held += high;
  }
  if (held != static_cast<std::int64_t>(borrowers.size())) throw Failure("the borrowers topic lost messages");
}

int borrower_partitions(const Options& opt) {
  return static_cast<int>(std::max<std::size_t>(1, (opt.borrowers + k_borrowers_per_partition - 1) / k_borrowers_per_partition));
}

RunResult run_once(const Options& opt, const std::string& dir, const std::string& book,
                   const std::vector<riskd::risk::BorrowerSpec>& borrowers, int run) {
  RunResult res;
  const std::string log = dir + "/run" + std::to_string(run) + ".log";
  auto fail = [&](const std::string& what) { return Failure(what + "\n--- log tail ---\n" + tail(read_text(log))); };

  std::string topics = std::string(k_topic) + ":" + std::to_string(k_partitions);
  if (opt.book_via_topic) topics += std::string(",") + k_borrowers_topic + ":" + std::to_string(borrower_partitions(opt));
  Child broker({RISKD_BINARY, "broker", "--topics", topics}, log);
  const auto line = broker.read_line(15s);
  if (!line) throw fail("riskd broker printed no bootstrap address");
  const std::string bootstrap = *line;

  // A. the backlog, then kcat, then riskd run on it.
  Walks walks(opt.step_bp);
  const std::int64_t base_ms = wall_ms() - static_cast<std::int64_t>(opt.ticks) - 60'000;
  const auto produce_start = Clock::now();
  const std::size_t total = produce_backlog(bootstrap, opt, walks, base_ms);
  res.produce_s = seconds_since(produce_start);
  check_broker_kept(bootstrap, total);
  if (opt.book_via_topic) produce_borrowers(bootstrap, borrowers, borrower_partitions(opt));

  {
    const auto start = Clock::now();
    double kcat_cpu_s = 0.0;
    const int rc = run_to_file(kcat_argv(bootstrap), "/dev/null", log, 300s, &kcat_cpu_s);
    const double s = seconds_since(start);
    res.kcat_cpu_rate = static_cast<double>(total) / kcat_cpu_s;
    if (rc != 0) throw fail("kcat failed (status " + std::to_string(rc) + "; is kcat on PATH?)");
    res.kcat_rate = static_cast<double>(total) / s;
    // kcat's start-up is a fixed cost: the least disturbed of 3 runs of `kcat -c 1`.
    res.kcat_first_s = std::numeric_limits<double>::infinity();
    for (int i = 0; i < 3; ++i) {
      const auto first_start = Clock::now();
      if (run_to_file(kcat_argv(bootstrap, true), "/dev/null", log, 60s) != 0) throw fail("kcat -c 1 failed");
      res.kcat_first_s = std::min(res.kcat_first_s, seconds_since(first_start));
    }
    if (res.kcat_first_s >= s) throw fail("kcat -c 1 took longer than kcat -e: the machine is too loaded to measure");
    res.kcat_steady_rate = static_cast<double>(total - 1) / (s - res.kcat_first_s);
    if (run == 0) {  // untimed: kcat did read every message
      const std::string out = dir + "/kcat.out";
      run_to_file(kcat_argv(bootstrap), out.c_str(), log, 300s);
      const std::size_t lines = count_lines(out.c_str());
      std::filesystem::remove(out);
      if (lines != total) throw fail("kcat printed " + std::to_string(lines) + " messages, expected " + std::to_string(total));
    }
  }

  const std::string group = "riskd-bench-" + std::to_string(getpid()) + "-" + std::to_string(run);
  const std::string config =
      write_config(dir, book, bootstrap, group, opt.daemon_fetch_wait, opt.book_via_topic, opt.borrowers > 10'000);
  Daemon d;
  const double spawn_unix_s = wall_unix_s();
  const auto spawn = Clock::now();
  d.child = std::make_unique<Child>(std::vector<std::string>{opt.riskd, "run", "--config", config}, log);
  const auto url = d.child->read_line(30s);
  if (!url) throw fail("riskd run printed no URL");
  d.port = static_cast<unsigned short>(std::stoi(url->substr(url->rfind(':') + 1)));
  std::unique_ptr<Child> perf;
  if (run == 0 && !opt.perf_path.empty()) {
    perf = std::make_unique<Child>(std::vector<std::string>{"/usr/bin/perf", "record", "-g", "-o", opt.perf_path, "-p",
                                                            std::to_string(d.child->pid())},
                                   dir + "/perf.log");
  }
  std::optional<double> ready_s;
  double applied = 0.0;
  std::string text;
  const auto deadline = spawn + 300s + std::chrono::seconds(opt.borrowers / 100);
  while (Clock::now() < deadline) {
    if (!ready_s && d.get("/readyz").status == 200) ready_s = seconds_since(spawn);
    const auto m = d.get("/metrics");
    if (m.status == 200) {
      text = m.body;
      applied = metric(text, "riskd_ticks_total{outcome=\"applied\"}");
      if (applied >= static_cast<double>(total)) break;
    }
    std::this_thread::sleep_for(50ms);
  }
  const double riskd_polled_s = seconds_since(spawn);
  if (perf) stop_child(*perf, SIGINT, 30s);
  if (applied < static_cast<double>(total)) {
    std::string outcomes;
    for (const char* o : {"rejected_parse", "rejected_value", "out_of_order", "outlier", "unknown_series"}) {
      outcomes += std::string(" ") + o + "=" + num(metric(text, std::string("riskd_ticks_total{outcome=\"") + o + "\"}"));
    }
    throw fail("riskd applied " + num(applied) + " of " + std::to_string(total) + " ticks;" + outcomes);
  }
  res.startup_s = ready_s.value_or(riskd_polled_s);
  // riskd's own clock of the catch-up (logged once, after the first empty poll with no lag).
  std::optional<CatchUpLine> caught;
  for (const auto until = Clock::now() + 10s; !caught && Clock::now() < until; std::this_thread::sleep_for(20ms)) {
    caught = catch_up_line(read_text(log));
  }
  if (!caught) throw fail("riskd logged no 'feeds caught up' line");
  if (caught->messages != total) {
    throw fail("riskd's catch-up line counts " + std::to_string(caught->messages) + " messages, expected " +
               std::to_string(total) + " (an idle poll mid-backlog?)");
  }
  res.riskd_first_s = caught->first_unix_s - spawn_unix_s;
  {  // riskd's CPU so far (every thread; start-up and the idle polls since the catch-up included)
    std::istringstream stat(read_text("/proc/" + std::to_string(d.child->pid()) + "/stat"));
    std::string field;
    double ticks = 0.0;
    for (int i = 1; stat >> field && i <= 15; ++i) {
      if (i == 14 || i == 15) ticks += std::strtod(field.c_str(), nullptr);  // utime, stime
    }
    res.riskd_cpu_rate = static_cast<double>(total) / (ticks / static_cast<double>(sysconf(_SC_CLK_TCK)));
    res.cpu_ratio = res.riskd_cpu_rate / res.kcat_cpu_rate;
    // Per thread: the engine thread is riskd's busiest own thread, the broker
    // thread librdkafka's busiest rdk:broker thread (clock ticks: ±10 ms each).
    double engine_s = 0.0;
    double broker_s = 0.0;
    double all_s = 0.0;
    for (const auto& [name, cpu_s] : thread_cpu_s(d.child->pid())) {
      all_s += cpu_s;
      if (name.rfind("rdk:broker", 0) == 0) {
        broker_s = std::max(broker_s, cpu_s);
      } else if (name.rfind("rdk:", 0) != 0) {
        engine_s = std::max(engine_s, cpu_s);
      }
    }
    const double per_msg_us = 1e6 / static_cast<double>(total);
    res.engine_us_per_msg = engine_s * per_msg_us;
    res.broker_us_per_msg = broker_s * per_msg_us;
    res.other_us_per_msg = (all_s - engine_s - broker_s) * per_msg_us;
  }
  res.riskd_rate = static_cast<double>(total) / (caught->last_unix_s - spawn_unix_s);
  res.steady_rate = static_cast<double>(caught->messages) / (caught->last_unix_s - caught->first_unix_s);
  res.steady_ratio = res.steady_rate / res.kcat_steady_rate;
  res.spawn_ratio = res.riskd_rate / res.kcat_rate;

  // B. latency at a paced rate, through the same daemon.
  auto wait_applied = [&](double want) {
    const auto wait_until = Clock::now() + 60s;
    while (Clock::now() < wait_until) {
      const auto m = d.get("/metrics");
      if (m.status == 200) {
        text = m.body;
        applied = metric(text, "riskd_ticks_total{outcome=\"applied\"}");
        if (applied >= want) return;
      }
      std::this_thread::sleep_for(50ms);
    }
    throw fail("riskd applied " + num(applied) + " of " + num(want) + " ticks in the paced phase");
  };
  Histogram before;
  res.sent = produce_paced(bootstrap, walks, opt, res.achieved_rate, [&] {
    wait_applied(static_cast<double>(total + k_warmup_ticks));
    before = histogram(text, "riskd_tick_to_evaluation_seconds");
  });
  wait_applied(static_cast<double>(total + k_warmup_ticks + res.sent));
  const Histogram delta = minus(histogram(text, "riskd_tick_to_evaluation_seconds"), before);
  res.latency_count = delta.count;
  res.p50 = quantile_bound(delta, 0.50);
  res.p99 = quantile_bound(delta, 0.99);
  for (const auto& [bound, cumulative] : delta.buckets) {
    if (bound <= 0.005 && delta.count > 0) res.share_5ms = cumulative / delta.count;
  }
  res.mean_latency = delta.count > 0 ? delta.sum / delta.count : 0.0;
  std::string buckets;
  double previous = 0.0;
  for (const auto& [bound, cumulative] : delta.buckets) {
    if (cumulative > previous) buckets += " " + format_bound(bound) + ": " + num(cumulative - previous) + ";";
    previous = cumulative;
  }
  std::fprintf(stderr, "run %d: latency buckets:%s\n", run + 1, buckets.c_str());

  // C. A SIGHUP reload of the unchanged config with this book (the topic's
  // documents, with --book-via-topic, are merged in again): signal to the log line.
  const auto reload_start = Clock::now();
  d.child->signal(SIGHUP);
  for (const auto until = reload_start + 900s; read_text(log).find("config reloaded from") == std::string::npos;
       std::this_thread::sleep_for(10ms)) {
    if (Clock::now() > until) throw fail("riskd logged no 'config reloaded' line within 900 s of SIGHUP");
  }
  res.reload_s = seconds_since(reload_start);

  stop_child(*d.child, SIGTERM, 15s);
  stop_child(broker, SIGTERM, 10s);
  return res;
}

}  // namespace

/// The value of a numeric flag: a finite number > 0 (an integer where
/// `integer`), or a message naming the flag and the text.
double positive_flag(const std::string& flag, const char* text, bool integer) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || errno != 0 || !std::isfinite(v) || v <= 0.0 ||
      (integer && v != std::floor(v))) {
    throw Failure(flag + ": expected " + (integer ? "a whole number" : "a number") + " greater than 0, got '" +
                  text + "'");
  }
  return v;
}

int main(int argc, char** argv) try {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--ticks" && has_value) {
      opt.ticks = static_cast<std::size_t>(positive_flag(a, argv[++i], true));
    } else if (a == "--runs" && has_value) {
      opt.runs = static_cast<int>(positive_flag(a, argv[++i], true));
    } else if (a == "--rate" && has_value) {
      opt.rate = positive_flag(a, argv[++i], false);
    } else if (a == "--seconds" && has_value) {
      opt.seconds = positive_flag(a, argv[++i], false);
    } else if (a == "--borrowers" && has_value) {
      opt.borrowers = static_cast<std::size_t>(positive_flag(a, argv[++i], true));
    } else if (a == "--daemon-fetch-wait" && has_value) {
      opt.daemon_fetch_wait = std::to_string(static_cast<long long>(positive_flag(a, argv[++i], true)));
    } else if (a == "--series" && has_value) {
      opt.series = argv[++i];
    } else if (a == "--codec" && has_value) {
      opt.codec = argv[++i];
    } else if (a == "--paced-codec" && has_value) {
      opt.paced_codec = argv[++i];
    } else if (a == "--linger" && has_value) {
      opt.linger_ms = argv[++i];
    } else if (a == "--perf" && has_value) {
      opt.perf_path = argv[++i];
    } else if (a == "--riskd" && has_value) {
      opt.riskd = argv[++i];
    } else if (a == "--keep") {
      opt.keep = true;
    } else if (a == "--book-via-topic") {
      opt.book_via_topic = true;
    } else if (a == "--step-bp" && has_value) {
      opt.step_bp = positive_flag(a, argv[++i], false);
    } else {
      std::fprintf(stderr,
                   "usage: riskd_bench_e2e [--series coins|btc|mix] [--ticks N] [--runs R] [--rate TICKS_PER_S] "
                   "[--seconds S] [--borrowers B] [--book-via-topic] [--daemon-fetch-wait MS] [--linger MS] "
                   "[--codec C] [--paced-codec C] [--step-bp BP] [--perf FILE] [--riskd BINARY] [--keep]\n");
      return 2;
    }
  }
  if (opt.series != "btc" && opt.series != "mix" && opt.series != "coins") return 2;
  if (opt.ticks == 0) opt.ticks = opt.series == "btc" ? 300'000 : 1'000'000;
  if (opt.runs <= 0 || opt.rate <= 0 || opt.seconds <= 0 || opt.borrowers == 0) return 2;

  char dir_template[] = "/tmp/riskd-bench-e2e-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) return 1;
  const std::string dir = dir_template;
  const auto borrowers = random_borrowers(opt.borrowers, riskd::risk::valuation_day_ms(wall_ms()));
  const std::string book = book_yaml(borrowers, opt.book_via_topic);

  std::vector<RunResult> results;
  try {
    for (int run = 0; run < opt.runs; ++run) {
      results.push_back(run_once(opt, dir, book, borrowers, run));
      const auto& r = results.back();
      std::fprintf(stderr,
                   "run %d: produced in %.1f s; kcat %.0f msg/s spawn to exit (-c 1: %.3f s; %.0f msg/s after it); "
                   "riskd %.0f msg/s spawn to last handled (first message polled %.3f s after spawn, /readyz %.2f s; "
                   "%.0f msg/s first to last; ratios %.3f steady, %.3f spawn; CPU %.0f vs kcat %.0f msg/CPU-s; CPU a message: "
                   "engine thread %.3f us, broker thread %.3f us, others %.3f us); latency p50 %s p99 %s mean %.2f ms, %.2f %% <= 5 ms, over %.0f ticks "
                   "at %.0f ticks/s; reload %.3f s\n",
                   run + 1, r.produce_s, r.kcat_rate, r.kcat_first_s, r.kcat_steady_rate, r.riskd_rate,
                   r.riskd_first_s, r.startup_s, r.steady_rate, r.steady_ratio, r.spawn_ratio, r.riskd_cpu_rate,
                   r.kcat_cpu_rate, r.engine_us_per_msg, r.broker_us_per_msg, r.other_us_per_msg,
                   format_bound(r.p50).c_str(),
                   format_bound(r.p99).c_str(), r.mean_latency * 1e3, r.share_5ms * 100.0, r.latency_count,
                   r.achieved_rate, r.reload_s);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench: %s\n(logs in %s)\n", e.what(), dir.c_str());
    return 1;
  }
  if (!opt.keep) std::filesystem::remove_all(dir);

  auto col = [&](double RunResult::*field) {
    std::vector<double> v;
    for (const auto& r : results) v.push_back(r.*field);
    return median(v);
  };
  const double riskd_rate = col(&RunResult::riskd_rate);
  const double kcat_rate = col(&RunResult::kcat_rate);
  const double steady_rate = col(&RunResult::steady_rate);
  const double kcat_steady_rate = col(&RunResult::kcat_steady_rate);
  // Ratios are taken per run (both sides measured minutes apart at most), then the median.
  const double steady_ratio = col(&RunResult::steady_ratio);
  const double spawn_ratio = col(&RunResult::spawn_ratio);
  const std::string series_text = opt.series == "btc"     ? "BTC-USD"
                                  : opt.series == "coins" ? "BTC-USD, ETH-USD, SOL-USD, LTC-USD"
                                                          : "BTC-USD, ETH-USD, GPU-H100, GPU-A100";
  const std::string fetch_wait = opt.daemon_fetch_wait.empty() ? "10" : opt.daemon_fetch_wait;
  const std::string book_text = opt.book_via_topic ? "borrowers topic" : "config";
  std::printf("| benchmark | riskd | baseline (same run) | target | notes |\n|---|---|---|---|---|\n");
  std::printf("| A. %zu ticks (%s, one partition each) + %zu seeds from `riskd broker` (%s), %zu borrowers (%s): "
              "first message to last, each side's own start-up excluded | %.0f ticks/s | kcat %.0f msg/s; ratio "
              "**%.3f** (median of the runs' ratios) | ratio >= 0.80 | median of %d; riskd: its 'feeds caught up' log line; kcat: (N - 1) / (time "
              "of `kcat -e` - time of `kcat -c 1`) |\n",
              opt.ticks, series_text.c_str(), seed_series(opt).size(), opt.codec.c_str(), opt.borrowers,
              book_text.c_str(), steady_rate, kcat_steady_rate, steady_ratio, opt.runs);
  std::printf("| A. same, spawn to last message | %.0f ticks/s | kcat %.0f msg/s (spawn to exit); ratio **%.3f** | | "
              "median of %d; start-up: riskd first message %.3f s after spawn (/readyz %.2f s), kcat -c 1 %.3f s |\n",
              riskd_rate, kcat_rate, spawn_ratio, opt.runs, col(&RunResult::riskd_first_s),
              col(&RunResult::startup_s), col(&RunResult::kcat_first_s));
  std::printf("| A. same, messages per CPU second of the whole process (every thread; riskd: spawn to caught up, "
              "kcat: its whole run) | %.0f msg/CPU-s | kcat %.0f msg/CPU-s; ratio **%.3f** | | median of %d; "
              "insensitive to other load on the machine |\n",
              col(&RunResult::riskd_cpu_rate), col(&RunResult::kcat_cpu_rate), col(&RunResult::cpu_ratio), opt.runs);
  std::printf("| A. same, CPU a message by thread (riskd: spawn to caught up; clock ticks of 10 ms) | engine thread %.3f "
              "us, librdkafka broker thread %.3f us, other threads %.3f us | kcat (whole process) %.3f us | | median "
              "of %d |\n",
              col(&RunResult::engine_us_per_msg), col(&RunResult::broker_us_per_msg),
              col(&RunResult::other_us_per_msg), 1e6 / col(&RunResult::kcat_cpu_rate), opt.runs);
  std::printf("| B. BTC-USD tick ts to evaluation at %.0f ticks/s for %.0f s (riskd fetch.wait.max.ms=%s; producer "
              "linger.ms=%s, %s), p50 | %s | | | median of %d; mean %.2f ms |\n",
              opt.rate, opt.seconds, fetch_wait.c_str(), opt.linger_ms.c_str(), opt.paced_codec.c_str(), format_bound(col(&RunResult::p50)).c_str(), opt.runs,
              col(&RunResult::mean_latency) * 1e3);
  std::printf("| B. same, p99 | %s | | p99 < 5 ms | median of %d; %.2f %% of ticks <= 5 ms; %.0f ticks observed "
              "per run at %.0f ticks/s |\n",
              format_bound(col(&RunResult::p99)).c_str(), opt.runs, col(&RunResult::share_5ms) * 100.0,
              col(&RunResult::latency_count), col(&RunResult::achieved_rate));
  std::printf("| C. SIGHUP reload of the unchanged config, %zu borrowers (%s): signal to riskd's 'config reloaded' log "
              "line | %.3f s | | | median of %d; the book rebuilt and revalued, the market and alert states kept |\n",
              opt.borrowers, book_text.c_str(), col(&RunResult::reload_s), opt.runs);
  return 0;
} catch (const Failure& e) {
  std::fprintf(stderr, "riskd_bench_e2e: %s\n", e.what());
  return 2;
}
