#pragma once
// Helpers for the notification sink tests: an outcome counter, polling, a
// free port, events, and a webhook receiver (Boost.Beast server on
// 127.0.0.1) that fails on purpose. (tests/system/ops_support.hpp has a
// free_port/poll_until too, but it needs the riskd binary; these tests do not.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "riskd/alerts/rules.hpp"
#include "riskd/alerts/sink.hpp"

namespace riskd::test {

using namespace std::chrono_literals;

/// Thread-safe tally of sink outcomes, usable as an alerts::OutcomeCounter.
class Outcomes {
 public:
  alerts::OutcomeCounter counter() {
    return [this](std::string_view sink, std::string_view outcome) {
      std::lock_guard lock(mutex_);
      sinks_[std::string(sink)] += 0;
      ++counts_[std::string(outcome)];
    };
  }
  [[nodiscard]] int operator[](const std::string& outcome) const {
    std::lock_guard lock(mutex_);
    const auto it = counts_.find(outcome);
    return it == counts_.end() ? 0 : it->second;
  }
  [[nodiscard]] std::vector<std::string> sinks() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [name, unused] : sinks_) out.push_back(name);
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, int> counts_;
  std::map<std::string, int> sinks_;
};

/// Polls `probe()` every 10 ms until true or `timeout` (generous: CI is loaded).
template <typename Probe>
bool eventually(Probe probe, std::chrono::milliseconds timeout = 60s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (probe()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return probe();
}

/// A port of 127.0.0.1 that was free a moment ago (nothing listens on it).
inline unsigned short unused_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A covenant event; `rule` as in rules.hpp (severity from the rule name).
inline alerts::AlertEvent event(const std::string& borrower, const std::string& rule, bool firing, std::uint64_t seq,
                                std::int64_t at_ms = 1'700'000'000'000, double value = 0.72, double threshold = 0.70) {
  alerts::AlertEvent e;
  e.key = borrower.empty() ? rule : borrower + "/" + rule;
  e.borrower = borrower;
  e.rule = rule;
  e.severity = rule.find("warning") != std::string::npos || rule.rfind("feed_stale", 0) == 0
                   ? alerts::Severity::warning
                   : (rule.rfind("stress_breach", 0) == 0 ? alerts::Severity::info : alerts::Severity::critical);
  e.firing = firing;
  e.value = value;
  e.threshold = threshold;
  e.at_ms = at_ms;
  e.seq = seq;
  return e;
}

/// An HTTP receiver on 127.0.0.1 for webhook tests. Each request is recorded;
/// the answer depends on the mode at the time it arrived:
///   ok        200 at once: the body counts as accepted;
///   fail_500  500 at once;
///   slow      200 only after `slow_delay` (longer than the sink's timeout),
///             recorded as late, never as accepted.
class WebhookReceiver {
 public:
  enum class Mode { ok, fail_500, slow };
  struct Request {
    std::string method;
    std::string target;
    std::string content_type;
    std::string body;
    Mode mode = Mode::ok;
  };

  /// Listens on 127.0.0.1:`port` (0: any free port).
  explicit WebhookReceiver(unsigned short port = 0) : acceptor_(ioc_) {
    namespace asio = boost::asio;
    const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~WebhookReceiver() {
    boost::asio::post(ioc_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
    });
    ioc_.stop();
    thread_.join();
  }
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  [[nodiscard]] unsigned short port() const { return port_; }
  [[nodiscard]] std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  void set_mode(Mode mode, std::chrono::milliseconds slow_delay = 0ms) {
    std::lock_guard lock(mutex_);
    mode_ = mode;
    slow_delay_ = slow_delay;
  }
  [[nodiscard]] std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  [[nodiscard]] std::size_t count(Mode mode) const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& r : requests_) n += r.mode == mode ? 1 : 0;
    return n;
  }
  /// Bodies answered 200 at once, in arrival order.
  [[nodiscard]] std::vector<std::string> accepted() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& r : requests_) {
      if (r.mode == Mode::ok) out.push_back(r.body);
    }
    return out;
  }

 private:
  boost::asio::awaitable<void> accept_loop() {
    namespace asio = boost::asio;
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(ioc_, serve(std::move(socket)), asio::detached);
    }
  }

  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket) {
    namespace asio = boost::asio;
    namespace http = boost::beast::http;
    constexpr auto use = asio::as_tuple(asio::use_awaitable);
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> req;
    if (auto [ec, n] = co_await http::async_read(socket, buffer, req, use); ec) co_return;
    Mode mode;
    std::chrono::milliseconds delay;
    {
      std::lock_guard lock(mutex_);
      mode = mode_;
      delay = slow_delay_;
      requests_.push_back({std::string(req.method_string()), std::string(req.target()),
                           std::string(req[http::field::content_type]), req.body(), mode});
    }
    if (mode == Mode::slow) {
      asio::steady_timer timer(socket.get_executor());
      timer.expires_after(delay);
      co_await timer.async_wait(use);
    }
    http::response<http::string_body> res{
        mode == Mode::fail_500 ? http::status::internal_server_error : http::status::ok, 11};
    res.body() = mode == Mode::fail_500 ? "failing on purpose" : "ok";
    res.keep_alive(false);
    res.prepare_payload();
    co_await http::async_write(socket, res, use);
    boost::system::error_code ignored;
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  }

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  Mode mode_ = Mode::ok;
  std::chrono::milliseconds slow_delay_{0};
  std::vector<Request> requests_;
};

}  // namespace riskd::test
