#pragma once
// Helpers for the delivery tests: read a topic to its end, compare alert
// events with `riskd replay` (the daemon handle is run_support.hpp's).
#include <doctest/doctest.h>

#include <unistd.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../daemon/test_support.hpp"
#include "../support/http_client.hpp"
#include "../support/process.hpp"
#include "run_support.hpp"
#include "riskd/feeds/kafka.hpp"
#include "riskd/risk/time.hpp"

namespace riskd::test {

using namespace std::chrono_literals;

/// Every message of `topic` (all partitions) up to the high watermarks as of
/// the call, in offset order per partition (partitions one after another).
inline std::vector<feeds::KafkaMessage> read_topic(const std::string& bootstrap, const std::string& topic) {
  feeds::KafkaConsumer consumer(bootstrap, unique_name("reader"), {});
  consumer.on_error([](const std::string&) {});
  std::map<std::int32_t, std::int64_t> end;
  std::vector<feeds::TopicPartition> parts;
  for (const auto p : consumer.partitions(topic, 10s)) {
    const auto [low, high] = consumer.watermarks(topic, p, 10s);
    if (high > low) end[p] = high;
    parts.push_back({topic, p, feeds::k_offset_beginning});
  }
  consumer.assign(parts);
  std::map<std::int32_t, std::vector<feeds::KafkaMessage>> by_partition;
  std::map<std::int32_t, std::int64_t> pos;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  auto done = [&] {
    for (const auto& [p, high] : end) {
      if (pos[p] < high) return false;
    }
    return true;
  };
  std::vector<feeds::KafkaMessage> got;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    got.clear();
    consumer.poll(got, 10'000, 100ms);
    for (auto& m : got) {
      pos[m.partition] = m.offset + 1;
      by_partition[m.partition].push_back(std::move(m));
    }
  }
  REQUIRE_MESSAGE(done(), "topic " << topic << " not read to its end within 30 s");
  std::vector<feeds::KafkaMessage> out;
  for (auto& [p, msgs] : by_partition) {
    for (auto& m : msgs) {
      if (m.offset < end[p]) out.push_back(std::move(m));
    }
  }
  return out;
}

/// Alert events (parsed) of the alerts topic, in topic order.
inline std::vector<boost::json::object> read_alerts(const std::string& bootstrap, const std::string& topic) {
  std::vector<boost::json::object> out;
  for (const auto& m : read_topic(bootstrap, topic)) {
    REQUIRE(m.value);
    const auto v = boost::json::parse(*m.value);
    REQUIRE(m.key);
    CHECK(*m.key == v.at("key").as_string());  // message key = alert key
    CHECK_MESSAGE(!m.key->empty(), "an alert event without a key: " << *m.value);
    out.push_back(v.as_object());
  }
  return out;
}

inline bool is_feed_rule(const boost::json::object& ev) {
  return std::string(ev.at("key").as_string()).rfind("feed_stale:", 0) == 0;
}

inline std::vector<boost::json::object> covenant_events(const std::vector<boost::json::object>& all) {
  std::vector<boost::json::object> out;
  for (const auto& ev : all) {
    if (!is_feed_rule(ev)) out.push_back(ev);
  }
  return out;
}

/// `riskd replay` of `ticks_path`: its covenant events (staleness is judged
/// in event time by replay and in wall-clock time by run: not comparable).
inline std::vector<boost::json::object> replay_events(const std::string& config_path, const std::string& ticks_path) {
  const RunResult r = run_riskd("replay --config " + config_path + " --ticks " + ticks_path);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::vector<boost::json::object> out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto ev = boost::json::parse(line).as_object();
    if (!is_feed_rule(ev)) out.push_back(std::move(ev));
  }
  return out;
}

inline std::string event_id(const boost::json::object& ev) {
  return std::string(ev.at("key").as_string()) + "#" + std::to_string(ev.at("seq").to_number<std::int64_t>());
}

/// The lines of a JSONL file.
inline std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// A tick line's ts in ms, if it has one.
inline std::optional<risk::TimeMs> tick_ts(const std::string& line) {
  boost::json::error_code ec;
  const auto v = boost::json::parse(line, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto* ts = v.as_object().if_contains("ts");
  if (ts == nullptr) return std::nullopt;
  if (ts->is_int64()) return ts->as_int64();
  if (ts->is_string()) return risk::parse_rfc3339(std::string(ts->as_string()));
  return std::nullopt;
}

/// `riskd run` as a child process; knows its HTTP port.
/// Polls `pred()` every 100 ms until true or `timeout`; returns its last value.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return pred();
}

/// A webhook receiver on 127.0.0.1 (port chosen by the system): answers
/// every POST with `status()` (500 while failing on purpose) and records the
/// bodies it answered 2xx to, in arrival order.
class WebhookReceiver {
 public:
  WebhookReceiver() : acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { serve(); });
  }
  ~WebhookReceiver() {
    stop_ = true;
    // Wake the blocking accept with a connection of our own.
    boost::system::error_code ec;
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket wake(ioc);
    wake.connect({boost::asio::ip::make_address("127.0.0.1"), port()}, ec);
    if (thread_.joinable()) thread_.join();
  }
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  [[nodiscard]] unsigned short port() const { return acceptor_.local_endpoint().port(); }
  void set_status(int status) { status_ = status; }
  [[nodiscard]] std::vector<std::string> delivered() const {
    const std::lock_guard lock(mutex_);
    return delivered_;
  }
  [[nodiscard]] std::size_t refused() const { return refused_; }

 private:
  void serve() {
    namespace beast = boost::beast;
    namespace http = beast::http;
    while (!stop_) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec) continue;
      beast::tcp_stream stream(std::move(socket));
      beast::flat_buffer buffer;
      // Keep-alive: serve requests on this connection until the client closes it.
      while (!stop_) {
        http::request<http::string_body> req;
        stream.expires_after(std::chrono::seconds(5));  // an idle keep-alive connection is closed
        http::read(stream, buffer, req, ec);
        if (ec) break;
        const int status = status_;
        if (status / 100 == 2) {
          const std::lock_guard lock(mutex_);
          delivered_.push_back(req.body());
        } else {
          ++refused_;
        }
        http::response<http::string_body> res{static_cast<http::status>(status), req.version()};
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        http::write(stream, res, ec);
        if (ec || !req.keep_alive()) break;
      }
      stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    }
  }

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> status_{200};
  std::atomic<std::size_t> refused_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> delivered_;
};

}  // namespace riskd::test
