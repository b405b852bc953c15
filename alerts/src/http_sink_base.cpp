// GCC 12 at -O2 reports -Wnull-dereference false positives inside Asio and
// Beast once inlined (chriskohlhoff/asio#847): silenced for those headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include "http_sink_base.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace riskd::alerts::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;
constexpr auto k_use = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t k_response_limit_bytes = 64 * 1024;
constexpr std::size_t k_kept_body_bytes = 1024;
/// How often tallies of submit() (dropped, inhibited) reach the counter.
constexpr auto k_count_flush_interval = std::chrono::milliseconds(200);

// ---------------------------------------------------------------------------
// Backoff, timeouts

Backoff::Backoff(milliseconds initial, milliseconds max) : initial_(initial), max_(max) {}

milliseconds Backoff::next() {
  const std::int64_t cap = max_.count();
  std::int64_t ceiling = initial_.count();
  for (std::uint32_t i = 0; i < attempt_ && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  if (attempt_ < 64) ++attempt_;
  std::uniform_int_distribution<std::int64_t> jitter(0, ceiling);
  return milliseconds(jitter(rng_));
}

milliseconds checked_timeout(double seconds, std::string_view what) {
  if (!std::isfinite(seconds) || seconds <= 0.0 || seconds > 1e7) {
    throw std::invalid_argument(std::string(what) + " must be a number of seconds > 0, got " + std::to_string(seconds));
  }
  return milliseconds(std::max<std::int64_t>(1, std::llround(seconds * 1000.0)));
}

// ---------------------------------------------------------------------------
// One POST

std::string PostResult::describe() const {
  if (status == 0) return error.empty() ? std::string("no answer") : error;
  std::string out = "HTTP " + std::to_string(status);
  if (!body.empty()) out += ": " + body.substr(0, 200);
  return out;
}

asio::awaitable<PostResult> post_json(const HttpEndpoint& endpoint, std::string target, std::string body,
                                      milliseconds timeout) {
  PostResult out;
  const auto ex = co_await asio::this_coro::executor;
  const auto deadline = SteadyClock::now() + timeout;
  const auto failed = [&](const boost::system::error_code& ec, std::string_view step) {
    out.error = ec == beast::error::timeout || ec == asio::error::operation_aborted
                    ? std::string(step) + " timed out after " + std::to_string(timeout.count()) + " ms"
                    : std::string(step) + ": " + ec.message();
  };

  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(endpoint.host, ec);
  if (!ec) {
    endpoints.emplace_back(address, endpoint.port);
  } else {
    tcp::resolver resolver(ex);
    asio::steady_timer guard(ex);
    guard.expires_at(deadline);
    guard.async_wait([&resolver](const boost::system::error_code& e) {
      if (!e) resolver.cancel();
    });
    auto [rec, results] = co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), k_use);
    guard.cancel();
    if (rec) {
      failed(rec, "resolve " + endpoint.host);
      co_return out;
    }
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }

  beast::tcp_stream stream(ex);
  stream.expires_at(deadline);
  if (auto [cec, ep] = co_await stream.async_connect(endpoints, k_use); cec) {
    failed(cec, "connect");
    co_return out;
  }
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, endpoint.host_header);
  req.set(http::field::user_agent, "riskd");
  req.set(http::field::content_type, "application/json");
  req.keep_alive(false);
  req.body() = std::move(body);
  req.prepare_payload();
  if (auto [wec, n] = co_await http::async_write(stream, req, k_use); wec) {
    failed(wec, "send");
    co_return out;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(k_response_limit_bytes);
  if (auto [rec, n] = co_await http::async_read(stream, buffer, parser, k_use); rec) {
    failed(rec, "read answer");
    co_return out;
  }
  out.status = static_cast<int>(parser.get().result_int());
  out.body = parser.get().body().substr(0, k_kept_body_bytes);
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return out;
}

// ---------------------------------------------------------------------------
// The sink runtime

HttpSinkBase::HttpSinkBase(std::string name, std::string url, std::size_t capacity, milliseconds initial_backoff,
                           milliseconds max_backoff, OutcomeCounter count)
    : queue_(capacity),
      backoff_(initial_backoff, max_backoff),
      url_(std::move(url)),
      name_(std::move(name)),
      count_(std::move(count)),
      io_(std::make_unique<Io>()) {
  if (initial_backoff.count() <= 0 || max_backoff < initial_backoff) {
    throw std::invalid_argument(name_ + " sink " + url_ +
                                ": backoff must be > 0 ms with max_backoff >= initial_backoff");
  }
}

HttpSinkBase::~HttpSinkBase() {
  stop_now();
}

void HttpSinkBase::start() {
  asio::co_spawn(io_->ioc, run_guarded(), asio::detached);
  asio::co_spawn(io_->ioc, report_drops(), asio::detached);
  thread_ = std::thread([this] { io_->ioc.run(); });
}

asio::awaitable<void> HttpSinkBase::run_guarded() {
  try {
    co_await run();
  } catch (const std::exception& e) {
    spdlog::error("{} sink {}: delivery stopped: {}", name_, url_, e.what());
  }
  {
    std::lock_guard lock(done_mutex_);
    done_ = true;
  }
  done_cv_.notify_all();
}

asio::awaitable<void> HttpSinkBase::report_drops() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  SteadyClock::time_point last_log{};
  for (;;) {
    timer.expires_after(k_count_flush_interval);
    co_await timer.async_wait(k_use);
    flush_counts();
    const auto now = SteadyClock::now();
    if (dropped_unlogged_ == 0) continue;
    if (last_log != SteadyClock::time_point{} && now - last_log < std::chrono::seconds(10)) continue;
    dropped_total_ += dropped_unlogged_;
    last_log = now;
    spdlog::warn("{} sink {}: queue full ({} events): dropped the {} oldest undelivered events ({} since start)", name_,
                 url_, queue_.capacity(), dropped_unlogged_, dropped_total_);
    dropped_unlogged_ = 0;
  }
}

void HttpSinkBase::flush_counts() {
  const std::uint64_t dropped = dropped_pending_.exchange(0, std::memory_order_relaxed);
  const std::uint64_t inhibited = inhibited_pending_.exchange(0, std::memory_order_relaxed);
  dropped_unlogged_ += dropped;
  count("dropped", dropped);
  count("inhibited", inhibited);
}

void HttpSinkBase::count(std::string_view outcome, std::uint64_t n) const {
  if (!count_) return;
  for (std::uint64_t i = 0; i < n; ++i) count_(name_, outcome);
}

void HttpSinkBase::enqueue_locked(const AlertEvent& event) {
  if (queue_.push(event) > 0) dropped_pending_.fetch_add(1, std::memory_order_relaxed);
  wake_locked();
}

void HttpSinkBase::wake_locked() {
  // Only an idle executor needs a wake-up: while it delivers or backs off it
  // looks at the queue again by itself, so a submit then costs no syscall.
  if (!idle_) return;
  idle_ = false;
  asio::post(io_->ioc, [this] { io_->wake.cancel(); });
}

asio::awaitable<void> HttpSinkBase::wait_for_work(SteadyClock::time_point until) {
  {
    std::lock_guard lock(mutex_);
    if (!queue_.empty()) co_return;
    idle_ = true;  // from here a submit posts a wake-up; the wait starts before it can run
  }
  io_->wake.expires_at(until);
  co_await io_->wake.async_wait(k_use);
  std::lock_guard lock(mutex_);
  idle_ = false;
}

asio::awaitable<void> HttpSinkBase::sleep_for(milliseconds delay) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(delay);
  co_await timer.async_wait(k_use);
}

void HttpSinkBase::log_failure(const PostResult& result, milliseconds retry_in) {
  ++failed_streak_;
  const auto now = SteadyClock::now();
  if (failed_streak_ == 1 || now - last_failure_log_ >= std::chrono::seconds(30)) {
    last_failure_log_ = now;
    spdlog::warn("{} sink {}: delivery failed ({}); {} failed attempts in a row, next in {} ms", name_, url_,
                 result.describe(), failed_streak_, retry_in.count());
  }
}

void HttpSinkBase::log_recovery() {
  if (failed_streak_ == 0) return;
  spdlog::info("{} sink {}: delivering again after {} failed attempts", name_, url_, failed_streak_);
  failed_streak_ = 0;
}

void HttpSinkBase::stop(milliseconds drain) {
  std::lock_guard stop_lock(stop_mutex_);
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard lock(mutex_);
    accepting_ = false;
  }
  const auto deadline = SteadyClock::now() + std::max(drain, milliseconds(0));
  asio::post(io_->ioc, [this] {
    draining_ = true;
    io_->wake.cancel();
  });
  if (thread_.joinable()) {
    std::unique_lock lock(done_mutex_);
    done_cv_.wait_until(lock, deadline, [this] { return done_; });
  }
  io_->ioc.stop();
  if (thread_.joinable()) thread_.join();
  // The executor is gone: its state can be read here.
  flush_counts();
  std::size_t left = in_flight_;
  {
    std::lock_guard lock(mutex_);
    left += queue_.size();
    queue_.clear();
  }
  if (left > 0) {
    count("dropped", left);
    spdlog::warn("{} sink {}: stopped with {} events undelivered (counted dropped)", name_, url_, left);
  }
  io_.reset();  // destroys the suspended coroutines while every member they use is alive
}

}  // namespace riskd::alerts::detail
