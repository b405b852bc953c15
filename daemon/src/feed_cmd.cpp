// `riskd feed`: produces a JSONL tick file into a Kafka topic, as fast as
// possible or replaying its event-time spacing.
#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "riskd/config/config.hpp"
#include "riskd/daemon/cli.hpp"
#include "riskd/daemon/commands.hpp"
#include "riskd/feeds/kafka.hpp"
#include "riskd/risk/time.hpp"

namespace riskd::daemon {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* k_feed_help = R"(usage: riskd feed --ticks FILE --topic TOPIC [--bootstrap HOST:PORT | --config FILE] [--speed X]

Produces each non-blank line of FILE (JSONL ticks, {"series", "value", "ts"})
as one Kafka message to TOPIC, in file order. The key is the tick's "series"
when the line is a JSON object with a string series, else there is no key;
the line is sent as is, valid or not (the consumer decides). The Kafka
message timestamp is the time of sending.

  --ticks FILE           the JSONL tick file
  --topic TOPIC          the topic to produce to
  --bootstrap HOST:PORT  the brokers (e.g. the first line printed by 'riskd broker')
  --config FILE          take kafka.bootstrap_servers and kafka.properties from a
                         riskd config; --bootstrap, if also given, wins
  --speed X              replay the spacing of the ticks' "ts" (RFC 3339 or epoch
                         ms) X times faster; lines without a usable ts are sent
                         at once. Without --speed: as fast as possible.

Shows a progress bar on a terminal, else prints one summary line on stderr:
  feed: N messages to TOPIC in S s (R msg/s), F failed
Exit codes: 0 every message delivered, 1 a delivery failed or Kafka failed,
2 bad usage or unreadable file. SIGINT/SIGTERM stop sending, flush and exit 1.
)";

/// Default delivery timeout: a message not delivered in this time fails
/// (librdkafka's own default, 300 s, is too long for a command line tool).
constexpr const char* k_default_message_timeout_ms = "30000";
/// How long produce() may keep failing (local queue full) before giving up.
constexpr auto k_enqueue_give_up = std::chrono::seconds(30);
constexpr auto k_progress_interval = std::chrono::milliseconds(100);
constexpr int k_bar_width = 30;

volatile sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

/// Installs on_stop_signal for SIGINT and SIGTERM; restores the old actions.
class StopSignalScope {
 public:
  StopSignalScope() {
    g_stop_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignalScope() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

struct Line {
  std::string_view text;
  std::optional<std::string> key;     // the tick's series
  std::optional<risk::TimeMs> ts_ms;  // the tick's event time
};

/// Key and event time of one line; both absent when it is not a tick object.
void inspect(Line& line) {
  boost::json::error_code ec;
  const boost::json::value v = boost::json::parse(line.text, ec);
  if (ec || !v.is_object()) return;
  const auto& obj = v.get_object();
  if (const auto* s = obj.if_contains("series"); s != nullptr && s->is_string()) {
    line.key = std::string(s->get_string());
  }
  if (const auto* ts = obj.if_contains("ts"); ts != nullptr) {
    if (ts->is_string()) {
      line.ts_ms = risk::parse_rfc3339(std::string_view(ts->get_string()));
    } else if (ts->is_int64() && ts->get_int64() >= 0) {
      line.ts_ms = ts->get_int64();
    } else if (ts->is_uint64() && ts->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
      line.ts_ms = static_cast<risk::TimeMs>(ts->get_uint64());
    }
  }
}

int feed_usage_error(const std::string& message) {
  std::cerr << "riskd feed: " << message << "\n\n" << k_feed_help;
  return k_exit_bad_input;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// The progress bar on a terminal (stderr), redrawn at most every 100 ms.
class Progress {
 public:
  Progress(bool enabled, std::size_t total) : enabled_(enabled), total_(total) {}

  void update(std::size_t sent, Clock::time_point start, bool force = false) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (!force && now - last_ < k_progress_interval) return;
    last_ = now;
    const double fraction = total_ == 0 ? 1.0 : static_cast<double>(sent) / static_cast<double>(total_);
    const int filled = static_cast<int>(fraction * k_bar_width);
    const double elapsed = seconds_since(start);
    const double rate = elapsed > 0 ? static_cast<double>(sent) / elapsed : 0.0;
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.append(static_cast<std::size_t>(k_bar_width - filled), '-');
    char text[160];
    std::snprintf(text, sizeof text, "\rfeed [%s] %3d%% %zu/%zu %.0f msg/s ", bar.c_str(),
                  static_cast<int>(fraction * 100.0), sent, total_, rate);
    std::cerr << text << std::flush;
    drawn_ = true;
  }

  /// Clears the bar so that a log line can be written.
  void clear() {
    if (!enabled_ || !drawn_) return;
    std::cerr << "\r\033[K" << std::flush;
    drawn_ = false;
  }

 private:
  bool enabled_;
  std::size_t total_;
  Clock::time_point last_{};
  bool drawn_ = false;
};

bool read_whole_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return !in.bad();
}

}  // namespace

int cmd_feed(int argc, char** argv) {
  std::string ticks_path;
  std::string topic;
  std::string bootstrap;
  std::string config_path;
  std::optional<double> speed;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << k_feed_help;
      return k_exit_ok;
    }
    if (arg.rfind("--", 0) != 0) return feed_usage_error("unexpected argument '" + arg + "'");
    std::string value;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else {
      if (i + 1 >= argc) return feed_usage_error("option " + arg + " needs a value");
      value = argv[++i];
    }
    if (arg == "--ticks") {
      ticks_path = value;
    } else if (arg == "--topic") {
      topic = value;
    } else if (arg == "--bootstrap") {
      bootstrap = value;
    } else if (arg == "--config") {
      config_path = value;
    } else if (arg == "--speed") {
      double x = 0;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), x);
      if (ec != std::errc() || ptr != value.data() + value.size() || !std::isfinite(x) || x <= 0) {
        return feed_usage_error("--speed must be a positive number, got '" + value + "'");
      }
      speed = x;
    } else {
      return feed_usage_error("unknown option " + arg);
    }
  }
  if (ticks_path.empty()) return feed_usage_error("--ticks FILE is required");
  if (topic.empty()) return feed_usage_error("--topic TOPIC is required");

  feeds::KafkaProperties properties{{"acks", "all"}, {"message.timeout.ms", k_default_message_timeout_ms}};
  if (!config_path.empty()) {
    try {
      const auto cfg = config::load_config(config_path);
      for (const auto& [name, value] : cfg.kafka.properties) properties[name] = value;
      if (bootstrap.empty()) {
        if (cfg.kafka.bootstrap_servers == "embedded") {
          std::cerr << "riskd feed: " << config_path
                    << ": kafka.bootstrap_servers is \"embedded\", a broker inside the riskd process; pass "
                       "--bootstrap HOST:PORT (the address 'riskd broker' prints, or the daemon logs)\n";
          return k_exit_bad_input;
        }
        bootstrap = cfg.kafka.bootstrap_servers;
      }
    } catch (const config::ConfigInvalid& e) {
      for (const auto& err : e.errors()) std::cerr << err.to_string() << '\n';
      std::cerr << "riskd feed: " << e.errors().size() << " error(s) in " << config_path << '\n';
      return k_exit_bad_input;
    }
  }
  if (bootstrap.empty()) return feed_usage_error("--bootstrap HOST:PORT or --config FILE is required");

  std::string text;
  if (!read_whole_file(ticks_path, text)) {
    std::cerr << ticks_path << ": cannot read file\n";
    return k_exit_bad_input;
  }
  std::vector<Line> lines;
  for (std::size_t pos = 0; pos < text.size();) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") != std::string_view::npos) lines.push_back({line, std::nullopt, std::nullopt});
    pos = end + 1;
  }
  for (auto& line : lines) inspect(line);

  const bool on_terminal = isatty(STDERR_FILENO) == 1;
  Progress progress(on_terminal, lines.size());
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;
  std::size_t sent = 0;
  bool interrupted = false;
  bool enqueue_failed = false;
  double elapsed_s = 0;
  const auto start = Clock::now();
  try {
    const StopSignalScope stop_signals;
    feeds::KafkaProducer producer(bootstrap, properties, /*idempotent=*/false);
    producer.on_error([&progress](const std::string& message) {
      progress.clear();
      std::cerr << "riskd feed: kafka: " << message << '\n';
    });

    std::optional<risk::TimeMs> first_ts;
    risk::TimeMs latest_ts = 0;
    for (const auto& line : lines) {
      if (g_stop_signal != 0) break;
      if (speed && line.ts_ms) {
        if (!first_ts) first_ts = *line.ts_ms;
        latest_ts = std::max(latest_ts, *line.ts_ms);  // time never runs backwards
        const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double, std::milli>(
                                         static_cast<double>(latest_ts - *first_ts) / *speed));
        while (g_stop_signal == 0 && Clock::now() < due) {
          const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now());
          producer.poll(std::clamp(wait, std::chrono::milliseconds(0), std::chrono::milliseconds(100)));
          progress.update(sent, start);
        }
      }
      const auto enqueue_start = Clock::now();
      while (!producer.produce(topic, line.key, std::string(line.text))) {
        if (g_stop_signal != 0) break;
        if (Clock::now() - enqueue_start > k_enqueue_give_up) {
          enqueue_failed = true;
          break;
        }
        producer.poll(std::chrono::milliseconds(100));  // local queue full: serve delivery reports
      }
      if (enqueue_failed || g_stop_signal != 0) break;
      ++sent;
      producer.poll(std::chrono::milliseconds(0));
      progress.update(sent, start);
    }
    interrupted = g_stop_signal != 0;

    // Bounded: every message is delivered or fails within message.timeout.ms.
    long timeout_ms = 30000;
    if (const auto it = properties.find("message.timeout.ms"); it != properties.end()) {
      std::from_chars(it->second.data(), it->second.data() + it->second.size(), timeout_ms);
    }
    producer.flush(std::chrono::milliseconds(std::max(0L, timeout_ms)) + std::chrono::seconds(5));
    elapsed_s = seconds_since(start);  // before the client's teardown
    delivered = producer.delivered();
    failed = sent - std::min<std::uint64_t>(sent, delivered);  // failed or never confirmed
    progress.update(sent, start, /*force=*/true);
  } catch (const std::exception& e) {
    progress.clear();
    std::cerr << "riskd feed: " << e.what() << '\n';
    return k_exit_runtime;
  }

  progress.clear();
  if (enqueue_failed) {
    std::cerr << "riskd feed: could not enqueue a message for " << std::chrono::seconds(k_enqueue_give_up).count()
              << " s (local queue full or unknown topic); stopped\n";
  }
  if (interrupted) std::cerr << "riskd feed: interrupted; " << (lines.size() - sent) << " lines not sent\n";
  char summary[256];
  std::snprintf(summary, sizeof summary, "feed: %llu messages to %s in %.3f s (%.0f msg/s), %llu failed",
                static_cast<unsigned long long>(delivered), topic.c_str(), elapsed_s,
                elapsed_s > 0 ? static_cast<double>(delivered) / elapsed_s : 0.0,
                static_cast<unsigned long long>(failed));
  std::cerr << summary << '\n';
  return (failed == 0 && !interrupted && !enqueue_failed) ? k_exit_ok : k_exit_runtime;
}

}  // namespace riskd::daemon
