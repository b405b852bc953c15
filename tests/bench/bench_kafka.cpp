// Consumer throughput against kcat, side by side in one run (issue 3,
// "Performance"): a mock cluster holds 1,000,000 small tick messages (lz4,
// 4 partitions); KafkaConsumer::poll and `kcat -C -e -q -o beginning` each
// read all of them, three times, interleaved; prints both median rates and
// their ratio (kcat writes to /dev/null; one more untimed kcat run checks it
// read every message). Not a test: exits 0 whatever the ratio, 1 if a run failed.
//
// usage: riskd_bench_kafka [MESSAGES]   (kcat must be on PATH)
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "riskd/feeds/kafka.hpp"
#include "bench_support.hpp"

extern char** environ;

namespace {

using riskd::bench::count_lines;
using riskd::bench::median;

using Clock = std::chrono::steady_clock;
using riskd::feeds::KafkaConsumer;
using riskd::feeds::KafkaMessage;
using riskd::feeds::KafkaProducer;
using riskd::feeds::MockCluster;

constexpr const char* k_topic = "bench.ticks";
constexpr int k_partitions = 4;
constexpr int k_runs = 3;
// The same fetch settings for both readers (kcat gets them as -X).
const riskd::feeds::KafkaProperties k_fetch_properties{{"fetch.wait.max.ms", "10"},
                                                       {"queued.min.messages", "10000000"}};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Fills the topic; the mock keeps 5 MiB of batches per partition, so batches
/// are large and lz4-compressed (about 1 MiB per partition for 1M ticks).
bool produce_ticks(const std::string& bootstrap, std::size_t count) {
  const char* series[] = {"BTC-USD", "GPU-H100-USD-HR", "GPU-A100-USD-HR", "SOFR", "HASHPRICE", "MINER-SPREAD"};
  KafkaProducer producer(bootstrap,
                         {{"compression.type", "lz4"},
                          {"linger.ms", "100"},
                          {"batch.num.messages", "50000"},
                          {"batch.size", "1000000"},
                          {"queue.buffering.max.messages", "2000000"},
                          {"queue.buffering.max.kbytes", "1048576"}},
                         true);
  std::uint64_t state = 0x9E3779B97F4A7C15ULL;
  double value = 87250.5;
  constexpr std::int64_t base_ms = 1'766'138'400'000;  // 2025-12-19T10:00:00Z
  char buf[160];
  for (std::size_t i = 0; i < count; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    value *= 1.0 + (static_cast<double>(state % 2001) - 1000.0) * 1e-6;
    const char* s = series[i % (sizeof series / sizeof series[0])];
    const int n = std::snprintf(buf, sizeof buf, R"({"series": "%s", "value": %.2f, "ts": %lld})", s, value,
                                static_cast<long long>(base_ms + static_cast<std::int64_t>(i) * 10));
    const auto partition = static_cast<std::int32_t>(i % k_partitions);
    while (!producer.produce(k_topic, std::string(s), std::string(buf, static_cast<std::size_t>(n)), std::nullopt,
                             partition)) {
      producer.poll(std::chrono::milliseconds(10));
    }
    if (i % 10000 == 0) producer.poll(std::chrono::milliseconds(0));
  }
  if (!producer.flush(std::chrono::seconds(120))) return false;
  return producer.delivered() == count && producer.failed() == 0;
}

/// Reads every message with KafkaConsumer::poll; returns msg/s or 0 on failure.
double run_ours(const std::string& bootstrap, std::size_t count) {
  const auto start = Clock::now();
  KafkaConsumer consumer(bootstrap, "riskd-bench", k_fetch_properties);
  std::vector<riskd::feeds::TopicPartition> tps;
  for (const auto p : consumer.partitions(k_topic, std::chrono::seconds(10))) {
    tps.push_back({k_topic, p, riskd::feeds::k_offset_beginning});
  }
  consumer.assign(tps);
  std::vector<KafkaMessage> batch;
  batch.reserve(10000);
  std::size_t got = 0;
  std::size_t bytes = 0;
  const auto deadline = start + std::chrono::seconds(120);
  while (got < count && Clock::now() < deadline) {
    batch.clear();
    got += consumer.poll(batch, 10000, std::chrono::milliseconds(100));
    for (const auto& m : batch) bytes += m.value ? m.value->size() : 0;
  }
  const double s = seconds_since(start);
  if (got != count || bytes == 0) {
    std::fprintf(stderr, "bench: KafkaConsumer read %zu of %zu messages\n", got, count);
    return 0;
  }
  return static_cast<double>(count) / s;
}

/// Runs kcat to the end of the topic (stdout to `out_path`); returns msg/s or 0.
double run_kcat(const std::string& bootstrap, std::size_t count, const char* out_path) {
  std::vector<std::string> args{"kcat", "-C", "-b", bootstrap, "-t", k_topic, "-e", "-q", "-o", "beginning"};
  for (const auto& [name, value] : k_fetch_properties) {
    args.push_back("-X");
    args.push_back(name + "=" + value);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const auto start = Clock::now();
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, "kcat", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    std::fprintf(stderr, "bench: cannot run kcat (is it installed?)\n");
    return 0;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const double s = seconds_since(start);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench: kcat failed\n");
    return 0;
  }
  return static_cast<double>(count) / s;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  if (count == 0) {
    std::fprintf(stderr, "usage: riskd_bench_kafka [MESSAGES]\n");
    return 2;
  }
  try {
    MockCluster cluster;
    cluster.create_topic(k_topic, k_partitions);
    const auto bootstrap = cluster.bootstrap_servers();
    const auto produce_start = Clock::now();
    if (!produce_ticks(bootstrap, count)) {
      std::fprintf(stderr, "bench: producing failed\n");
      return 1;
    }
    std::printf("produced %zu ticks to %s (%d partitions, lz4) in %.2f s\n", count, k_topic, k_partitions,
                seconds_since(produce_start));
    {
      // The mock silently drops the oldest batches past 5 MiB per partition.
      KafkaConsumer probe(bootstrap, "riskd-bench-probe", {});
      std::int64_t total = 0;
      for (int p = 0; p < k_partitions; ++p) {
        const auto [low, high] = probe.watermarks(k_topic, p, std::chrono::seconds(10));
        if (low != 0) {
          std::fprintf(stderr, "bench: partition %d lost its first %lld messages (mock size limit)\n", p,
                       static_cast<long long>(low));
          return 1;
        }
        total += high;
      }
      if (total != static_cast<std::int64_t>(count)) {
        std::fprintf(stderr, "bench: the topic holds %lld messages\n", static_cast<long long>(total));
        return 1;
      }
    }

    char out_path[] = "/tmp/riskd-bench-kcat-XXXXXX";
    const int fd = mkstemp(out_path);
    if (fd < 0) return 1;
    close(fd);
    std::vector<double> ours;
    std::vector<double> kcat;
    for (int run = 0; run < k_runs; ++run) {
      ours.push_back(run_ours(bootstrap, count));
      kcat.push_back(run_kcat(bootstrap, count, "/dev/null"));
      std::printf("run %d: KafkaConsumer::poll %.0f msg/s, kcat %.0f msg/s\n", run + 1, ours.back(), kcat.back());
      std::fflush(stdout);
    }
    // Untimed: check that kcat did read everything.
    run_kcat(bootstrap, count, out_path);
    const std::size_t kcat_lines = count_lines(out_path);
    unlink(out_path);
    if (kcat_lines != count) {
      std::fprintf(stderr, "bench: kcat printed %zu messages, expected %zu\n", kcat_lines, count);
      return 1;
    }
    if (std::find(ours.begin(), ours.end(), 0.0) != ours.end() ||
        std::find(kcat.begin(), kcat.end(), 0.0) != kcat.end()) {
      return 1;
    }
    const double o = median(ours);
    const double k = median(kcat);
    std::printf("median of %d: KafkaConsumer::poll %.0f msg/s, kcat %.0f msg/s, ratio %.2f (target >= 0.80)\n", k_runs,
                o, k, o / k);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
