// `riskd broker`: the development broker (librdkafka's mock cluster) as a
// standalone process, so tests and demos can run it apart from the daemon.
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "riskd/config/config.hpp"
#include "riskd/daemon/cli.hpp"
#include "riskd/daemon/commands.hpp"
#include "riskd/feeds/kafka.hpp"

namespace riskd::daemon {
namespace {

constexpr int k_max_partitions = 1024;
constexpr int k_max_brokers = 16;
constexpr std::size_t k_max_topic_name = 249;  // Kafka's own limit

constexpr const char* k_broker_help = R"(usage: riskd broker [--topics NAME[:PARTITIONS],...] [--brokers N] [--config FILE]

Runs a development Kafka broker: librdkafka's mock cluster, speaking the Kafka
protocol over TCP on 127.0.0.1 (random free ports). Creates the topics given
(PARTITIONS defaults to 1; with --config also the config's feeds.topics,
borrowers_topic, state_topic, alerts_topic and signals_topic), then prints the bootstrap
address ALONE on the first line of stdout and logs one line per topic on
stderr. Runs until SIGINT or SIGTERM, then exits 0.

  --topics LIST   comma-separated NAME or NAME:PARTITIONS (1..1024)
  --brokers N     number of mock brokers (1..16, default 1)
  --config FILE   also create the topics a riskd config names

FOR DEVELOPMENT AND TESTS ONLY, NOT PRODUCTION. Data lives in memory and is
lost when the process stops. Limits of the mock cluster: each partition keeps
at most 5 MiB of record batches (and 100,000 batches); beyond that the oldest
batches are silently dropped and the low watermark moves up. No compaction
(a compacted topic keeps every version), no persistence, no TLS or SASL,
no ACLs. Producing to an unknown topic creates it.
)";

struct TopicSpec {
  std::string name;
  int partitions = 1;
};

bool parse_int(std::string_view text, int lo, int hi, int& out) {
  int v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

bool valid_topic_name(std::string_view name) {
  if (name.empty() || name.size() > k_max_topic_name || name == "." || name == "..") return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

/// Parses `a,b:6`; returns an error message or "".
std::string parse_topics(std::string_view list, std::vector<TopicSpec>& out) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (item.empty()) continue;
    TopicSpec spec;
    const auto colon = item.find(':');
    spec.name = std::string(item.substr(0, colon));
    if (colon != std::string_view::npos && !parse_int(item.substr(colon + 1), 1, k_max_partitions, spec.partitions)) {
      return "--topics: bad partition count in '" + std::string(item) + "' (1.." + std::to_string(k_max_partitions) +
             ")";
    }
    if (!valid_topic_name(spec.name)) {
      return "--topics: bad topic name '" + spec.name + "' (letters, digits, '.', '_', '-'; at most 249)";
    }
    out.push_back(std::move(spec));
  }
  return {};
}

int broker_usage_error(const std::string& message) {
  std::cerr << "riskd broker: " << message << "\n\n" << k_broker_help;
  return k_exit_bad_input;
}

/// Blocks SIGINT and SIGTERM in this thread (and the threads it starts) for
/// its lifetime, so that sigwait() receives them; restores the old mask.
class BlockStopSignals {
 public:
  BlockStopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~BlockStopSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  BlockStopSignals(const BlockStopSignals&) = delete;
  BlockStopSignals& operator=(const BlockStopSignals&) = delete;

  /// Waits for SIGINT or SIGTERM; returns its number.
  int wait() const {
    int sig = 0;
    while (sigwait(&set_, &sig) != 0) {
    }
    return sig;
  }

 private:
  sigset_t set_{};
  sigset_t old_{};
};

}  // namespace

int cmd_broker(int argc, char** argv) {
  std::vector<TopicSpec> topics;
  int brokers = 1;
  std::string config_path;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << k_broker_help;
      return k_exit_ok;
    }
    std::string value;
    if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (arg == "--topics" || arg == "--brokers" || arg == "--config") {
      if (i + 1 >= argc) return broker_usage_error("option " + arg + " needs a value");
      value = argv[++i];
    }
    if (arg == "--topics") {
      if (auto err = parse_topics(value, topics); !err.empty()) return broker_usage_error(err);
    } else if (arg == "--brokers") {
      if (!parse_int(value, 1, k_max_brokers, brokers)) {
        return broker_usage_error("--brokers must be an integer in 1.." + std::to_string(k_max_brokers));
      }
    } else if (arg == "--config") {
      config_path = value;
    } else {
      return broker_usage_error("unexpected argument '" + arg + "'");
    }
  }

  if (!config_path.empty()) {
    try {
      const auto cfg = config::load_config(config_path);
      std::vector<std::string> names = cfg.feeds.topics;
      for (const auto* name : {&cfg.feeds.borrowers_topic, &cfg.feeds.state_topic, &cfg.outputs.alerts_topic, &cfg.outputs.signals_topic}) {
        if (!name->empty()) names.push_back(*name);
      }
      for (const auto& name : names) topics.push_back({name, 1});
    } catch (const config::ConfigInvalid& e) {
      for (const auto& err : e.errors()) std::cerr << err.to_string() << '\n';
      std::cerr << "riskd broker: " << e.errors().size() << " error(s) in " << config_path << '\n';
      return k_exit_bad_input;
    }
  }
  // The first mention of a topic decides its partition count.
  std::vector<TopicSpec> unique;
  for (auto& t : topics) {
    bool seen = false;
    for (const auto& u : unique) seen = seen || u.name == t.name;
    if (!seen) unique.push_back(std::move(t));
  }

  try {
    const BlockStopSignals signals;  // before the cluster starts its threads
    feeds::MockCluster cluster(brokers);
    for (const auto& t : unique) cluster.create_topic(t.name, t.partitions);
    std::cout << cluster.bootstrap_servers() << '\n' << std::flush;
    for (const auto& t : unique) {
      std::cerr << "riskd broker: topic " << t.name << " (" << t.partitions
                << (t.partitions == 1 ? " partition)" : " partitions)") << '\n';
    }
    std::cerr << "riskd broker: " << brokers << (brokers == 1 ? " broker" : " brokers") << " on "
              << cluster.bootstrap_servers()
              << "; in memory only, for development and tests; SIGINT or SIGTERM stops it" << std::endl;
    const int sig = signals.wait();
    std::cerr << "riskd broker: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping" << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "riskd broker: " << e.what() << '\n';
    return k_exit_runtime;
  }
  return k_exit_ok;
}

}  // namespace riskd::daemon
