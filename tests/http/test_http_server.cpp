// HttpServer over real TCP on 127.0.0.1:0, against a fake ApiBackend (the
// boundary) serving a hand-built snapshot.
// GCC 12 at -O2 reports -Wnull-dereference false positives inside Asio's
// scheduler and executors and libstdc++'s shared_ptr once they are inlined
// (chriskohlhoff/asio#847): silenced for the library headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include "riskd/daemon/http_server.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "riskd/daemon/metrics.hpp"
#include "test_snapshot.hpp"
#pragma GCC diagnostic pop

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using riskd::daemon::ApiBackend;
using riskd::daemon::HttpServer;
using riskd::daemon::HttpServerOptions;
using riskd::daemon::SnapshotPtr;

namespace {

enum class WhatIfMode { immediate, from_thread, never };

class FakeBackend final : public ApiBackend {
 public:
  FakeBackend()
      : metrics_([this] { return snapshot(); }, riskd::config::BorrowerSeries::all, "test") {}
  ~FakeBackend() override { join(); }
  FakeBackend(const FakeBackend&) = delete;
  FakeBackend& operator=(const FakeBackend&) = delete;

  SnapshotPtr snapshot() const override {
    std::lock_guard lock(mutex_);
    return snapshot_;
  }
  std::string metrics_text() const override { return metrics_.render(); }
  bool alive() const override { return alive_.load(); }
  void what_if(std::string body, std::function<void(int, std::string)> done) override {
    {
      std::lock_guard lock(mutex_);
      what_if_bodies_.push_back(body);
    }
    const std::string answer = "{\"as_of\": \"2025-12-19T10:00:00.123Z\", \"borrowers\": [], \"echo\": " + body + "}";
    switch (what_if_mode_) {
      case WhatIfMode::immediate: done(200, answer); break;
      case WhatIfMode::from_thread: {
        std::lock_guard lock(mutex_);
        threads_.emplace_back([done = std::move(done), answer] {
          std::this_thread::sleep_for(50ms);
          done(200, answer);
        });
        break;
      }
      case WhatIfMode::never: {
        std::lock_guard lock(mutex_);
        parked_.push_back(std::move(done));
        break;
      }
    }
  }

  void set_snapshot(SnapshotPtr s) {
    std::lock_guard lock(mutex_);
    snapshot_ = std::move(s);
  }
  void join() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }
  std::vector<std::function<void(int, std::string)>> take_parked() {
    std::lock_guard lock(mutex_);
    return std::move(parked_);
  }
  std::vector<std::string> what_if_bodies() const {
    std::lock_guard lock(mutex_);
    return what_if_bodies_;
  }

  std::atomic<bool> alive_{true};
  WhatIfMode what_if_mode_ = WhatIfMode::immediate;

 private:
  mutable std::mutex mutex_;
  SnapshotPtr snapshot_ = riskd::test::make_snapshot();
  riskd::daemon::Metrics metrics_;
  std::vector<std::thread> threads_;
  std::vector<std::function<void(int, std::string)>> parked_;
  std::vector<std::string> what_if_bodies_;
};

/// The server on 127.0.0.1:0, its io_context run by two threads (so the
/// sessions' strands matter).
struct ServerFixture {
  explicit ServerFixture(HttpServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    server = std::make_unique<HttpServer>(ioc, backend, options);
    server->start();
    for (auto& t : threads) t = std::thread([this] { ioc.run(); });
  }
  ~ServerFixture() {
    server->stop();
    join_io();
    backend.join();
  }
  /// Returns once the io_context has no work left.
  void join_io() {
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  }
  ServerFixture(const ServerFixture&) = delete;
  ServerFixture& operator=(const ServerFixture&) = delete;

  FakeBackend backend;
  asio::io_context ioc;
  std::unique_ptr<HttpServer> server;
  std::array<std::thread, 2> threads;
};

using Response = http::response<http::string_body>;

/// A small Beast client; every operation is bounded by a deadline.
class Client {
 public:
  explicit Client(std::uint16_t port) : stream_(ioc_) {
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  void send_raw(const std::string& bytes) {
    boost::system::error_code result = asio::error::would_block;
    stream_.expires_after(5s);
    asio::async_write(stream_, asio::buffer(bytes), [&](boost::system::error_code ec, std::size_t) { result = ec; });
    run();
    REQUIRE_MESSAGE(!result, "write failed: " << result.message());
  }

  /// Reads one response; nullopt (and `error`) if the read failed or the deadline passed.
  std::optional<Response> read(bool head = false, std::chrono::milliseconds deadline = 5s,
                               boost::system::error_code* error = nullptr) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    parser.skip(head);
    boost::system::error_code result = asio::error::would_block;
    stream_.expires_after(deadline);
    http::async_read(stream_, buffer_, parser, [&](boost::system::error_code ec, std::size_t) { result = ec; });
    run();
    if (error != nullptr) *error = result;
    if (result) return std::nullopt;
    return parser.release();
  }

  Response request(http::verb verb, const std::string& target, const std::string& body = {},
                   bool keep_alive = true) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(keep_alive);
    if (verb == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    boost::system::error_code result = asio::error::would_block;
    stream_.expires_after(5s);
    http::async_write(stream_, req, [&](boost::system::error_code ec, std::size_t) { result = ec; });
    run();
    REQUIRE_MESSAGE(!result, "write failed: " << result.message());
    auto res = read(verb == http::verb::head);
    REQUIRE_MESSAGE(res.has_value(), "no response to " << target);
    return std::move(*res);
  }

  /// True if the peer closes the connection (EOF or reset) within `deadline`.
  bool closed_by_peer(std::chrono::milliseconds deadline) {
    std::array<char, 4096> scratch{};
    boost::system::error_code result = asio::error::would_block;
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      result = asio::error::would_block;
      stream_.expires_at(until);
      stream_.async_read_some(asio::buffer(scratch), [&](boost::system::error_code ec, std::size_t) { result = ec; });
      run();
      if (result == asio::error::eof || result == asio::error::connection_reset) return true;
      if (result) return false;  // timeout (our deadline) or another error
    }
    return false;
  }

 private:
  void run() {
    ioc_.restart();
    ioc_.run();
  }

  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

Response get(std::uint16_t port, const std::string& target) {
  Client c(port);
  return c.request(http::verb::get, target, {}, false);
}

json::value parse(const Response& res) { return json::parse(res.body()); }

std::string content_type(const Response& res) { return std::string(res[http::field::content_type]); }

void check_json_error(const Response& res, http::status status) {
  CHECK(res.result() == status);
  CHECK(content_type(res) == "application/json");
  const json::value v = parse(res);
  REQUIRE(v.is_object());
  CHECK(v.as_object().at("error").is_string());
}

}  // namespace

TEST_CASE("the listen address must be HOST:PORT with an IP host") {
  asio::io_context ioc;
  FakeBackend backend;
  for (const char* bad : {"8080", "127.0.0.1:", "127.0.0.1:99999", "example.invalid:80", "127.0.0.1:8x"}) {
    CAPTURE(bad);
    HttpServerOptions o;
    o.listen = bad;
    CHECK_THROWS_AS(HttpServer(ioc, backend, o), std::invalid_argument);
  }
  HttpServerOptions o;
  o.listen = ":0";  // host defaults to 127.0.0.1, port 0 = any
  HttpServer server(ioc, backend, o);
  CHECK(server.port() != 0);
}

TEST_CASE("healthz answers 200 while alive and 503 when the loops stall") {
  ServerFixture f;
  Response ok = get(f.server->port(), "/healthz");
  CHECK(ok.result() == http::status::ok);
  CHECK(content_type(ok) == "application/json");
  CHECK(parse(ok).as_object().at("status") == "ok");

  f.backend.alive_ = false;
  check_json_error(get(f.server->port(), "/healthz"), http::status::service_unavailable);
}

TEST_CASE("readyz is 200 when ready, else 503 with the reasons") {
  ServerFixture f;
  Response ok = get(f.server->port(), "/readyz");
  CHECK(ok.result() == http::status::ok);
  CHECK(parse(ok).as_object().at("ready") == true);

  f.backend.set_snapshot(riskd::test::make_snapshot(false));
  Response no = get(f.server->port(), "/readyz");
  CHECK(no.result() == http::status::service_unavailable);
  CHECK(content_type(no) == "application/json");
  const json::object body = parse(no).as_object();
  CHECK(body.at("ready") == false);
  REQUIRE(body.at("reasons").as_array().size() == 2);
  CHECK(body.at("reasons").as_array()[0] == "kafka: not connected");

  f.backend.set_snapshot(nullptr);
  Response starting = get(f.server->port(), "/readyz");
  CHECK(starting.result() == http::status::service_unavailable);
  CHECK(parse(starting).as_object().at("reasons").as_array()[0] == "starting");
}

TEST_CASE("metrics is the backend's Prometheus text") {
  ServerFixture f;
  Response res = get(f.server->port(), "/metrics");
  CHECK(res.result() == http::status::ok);
  CHECK(content_type(res).rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(res.body().find("riskd_borrower_ltv_ratio{borrower=\"miner-a\"} 0.6675\n") != std::string::npos);
  CHECK(res.body().find("riskd_borrower_dscr_ratio{borrower=\"gpu-b\"} +Inf\n") != std::string::npos);
}

TEST_CASE("borrowers is the result document with the snapshot's figures") {
  ServerFixture f;
  const auto snap = f.backend.snapshot();
  Response res = get(f.server->port(), "/api/v1/borrowers");
  CHECK(res.result() == http::status::ok);
  CHECK(content_type(res) == "application/json");
  const json::object doc = parse(res).as_object();
  CHECK(doc.at("as_of") == "2025-12-19T10:00:00.123Z");
  const json::array& borrowers = doc.at("borrowers").as_array();
  REQUIRE(borrowers.size() == snap->borrowers.size());
  for (std::size_t i = 0; i < borrowers.size(); ++i) {
    const json::object& b = borrowers[i].as_object();
    const auto& view = snap->borrowers[i];
    CHECK(b.at("id").as_string() == view.id());
    CHECK(b.at("ltv").to_number<double>() == doctest::Approx(view.figures.ltv).epsilon(1e-12));
    CHECK(b.at("liquidation_ltv").to_number<double>() == doctest::Approx(view.figures.liquidation_ltv).epsilon(1e-12));
    CHECK(b.at("debt_usd").to_number<double>() == doctest::Approx(view.figures.debt_usd).epsilon(1e-12));
    CHECK(b.at("collateral").as_object().at("mark_usd").to_number<double>() ==
          doctest::Approx(view.figures.mark_usd).epsilon(1e-12));
  }
  CHECK(borrowers[0].as_object().at("dscr").to_number<double>() == doctest::Approx(1.41));
  CHECK(borrowers[1].as_object().at("dscr").is_null());  // infinite DSCR is null in JSON
  CHECK(borrowers[0].as_object().at("breach").as_object().at("price").as_object().at("BTC-USD") == 54000.0);
}

TEST_CASE("one borrower by id, percent-decoded, and 404 for unknown or malformed ids") {
  ServerFixture f;
  const auto snap = f.backend.snapshot();
  Response res = get(f.server->port(), "/api/v1/borrowers/gpu-b");
  CHECK(res.result() == http::status::ok);
  CHECK(content_type(res) == "application/json");
  CHECK(res.body() == snap->borrowers[1].json());
  CHECK(res.body() == riskd::test::borrower_json(snap->borrowers[1]));
  CHECK(get(f.server->port(), "/api/v1/borrowers/miner%2Da?x=1").body() == snap->borrowers[0].json());

  check_json_error(get(f.server->port(), "/api/v1/borrowers/nobody"), http::status::not_found);
  check_json_error(get(f.server->port(), "/api/v1/borrowers/miner-a%2Fx"), http::status::not_found);
  check_json_error(get(f.server->port(), "/api/v1/borrowers/" + std::string(65, 'a')), http::status::not_found);
  check_json_error(get(f.server->port(), "/api/v1/borrowers/"), http::status::not_found);
}

TEST_CASE("alerts lists the active alert events") {
  ServerFixture f;
  Response res = get(f.server->port(), "/api/v1/alerts");
  CHECK(res.result() == http::status::ok);
  CHECK(content_type(res) == "application/json");
  const json::array alerts = parse(res).as_array();
  REQUIRE(alerts.size() == 2);
  const json::object& feed = alerts[0].as_object();
  CHECK(feed.at("key") == "feed_stale:HASHPRICE");
  CHECK(feed.at("borrower").is_null());
  CHECK(feed.at("state") == "firing");
  const json::object& ltv = alerts[1].as_object();
  CHECK(ltv.at("key") == "miner-a/ltv_warning");
  CHECK(ltv.at("borrower") == "miner-a");
  CHECK(ltv.at("severity") == "warning");
  CHECK(ltv.at("seq") == 1);
}

TEST_CASE("series lists kind, value, ts, age, staleness and counts") {
  ServerFixture f;
  Response res = get(f.server->port(), "/api/v1/series");
  CHECK(res.result() == http::status::ok);
  CHECK(content_type(res) == "application/json");
  const json::array series = parse(res).as_array();
  REQUIRE(series.size() == 3);
  const json::object& btc = series[0].as_object();
  CHECK(btc.at("id") == "BTC-USD");
  CHECK(btc.at("kind") == "price");
  CHECK(btc.at("value") == 87250.5);
  CHECK(btc.at("ts") == "2025-12-19T10:00:00.123Z");
  CHECK(btc.at("age_s").to_number<double>() > 0.0);  // by the wall clock: the snapshot is in the past
  CHECK(btc.at("stale") == false);
  CHECK(btc.at("stale_after_s") == 60.0);
  CHECK(btc.at("applied") == 120);
  const json::object& rejected = btc.at("rejected").as_object();
  CHECK(rejected.at("rejected_parse") == 1);
  CHECK(rejected.at("rejected_value") == 2);
  CHECK(rejected.at("out_of_order") == 3);
  CHECK(rejected.at("outlier") == 4);
  CHECK(rejected.at("unknown_series") == 0);
  const json::object& hash = series[2].as_object();
  CHECK(hash.at("kind") == "hashprice");
  CHECK(hash.at("value").is_null());
  CHECK(hash.at("ts").is_null());
  CHECK(hash.at("age_s").is_null());
  CHECK(hash.at("stale") == true);
  CHECK(hash.at("stale_after_s").is_null());
}

TEST_CASE("series_json computes age_s from the given wall clock") {
  const auto snap = riskd::test::make_snapshot();
  const json::array series =
      json::parse(riskd::daemon::series_json(*snap, riskd::test::k_event_time_ms + 1500)).as_array();
  CHECK(series[0].as_object().at("age_s") == 1.5);
  CHECK(series[1].as_object().at("age_s") == 31.5);
}

TEST_CASE("API routes answer 503 starting before the first snapshot") {
  ServerFixture f;
  f.backend.set_snapshot(nullptr);
  for (const char* target : {"/api/v1/borrowers", "/api/v1/borrowers/miner-a", "/api/v1/alerts", "/api/v1/series"}) {
    CAPTURE(target);
    Response res = get(f.server->port(), target);
    check_json_error(res, http::status::service_unavailable);
    CHECK(parse(res).as_object().at("error") == "starting");
  }
  Client c(f.server->port());
  check_json_error(c.request(http::verb::post, "/api/v1/what-if", R"({"shocks": {}})"),
                   http::status::service_unavailable);
  CHECK(get(f.server->port(), "/healthz").result() == http::status::ok);
}

TEST_CASE("unknown routes are 404 and wrong methods 405 with Allow") {
  ServerFixture f;
  check_json_error(get(f.server->port(), "/nope"), http::status::not_found);
  check_json_error(get(f.server->port(), "/index.html"), http::status::not_found);  // "/" is the dashboard
  check_json_error(get(f.server->port(), "/healthz/"), http::status::not_found);
  check_json_error(get(f.server->port(), "/api/v1/borrowers/a/b"), http::status::not_found);

  Client c(f.server->port());
  Response post_health = c.request(http::verb::post, "/healthz", "{}");
  check_json_error(post_health, http::status::method_not_allowed);
  CHECK(post_health[http::field::allow] == "GET, HEAD");
  Response get_what_if = c.request(http::verb::get, "/api/v1/what-if");
  check_json_error(get_what_if, http::status::method_not_allowed);
  CHECK(get_what_if[http::field::allow] == "POST");
  Response del = c.request(http::verb::delete_, "/api/v1/borrowers");
  check_json_error(del, http::status::method_not_allowed);
}

TEST_CASE("HEAD answers the GET headers without a body") {
  ServerFixture f;
  Client c(f.server->port());
  const std::string full = c.request(http::verb::get, "/api/v1/borrowers").body();
  Response head = c.request(http::verb::head, "/api/v1/borrowers");
  CHECK(head.result() == http::status::ok);
  CHECK(head[http::field::content_length] == std::to_string(full.size()));
  CHECK(head.body().empty());
  // the connection is still in a good state
  CHECK(c.request(http::verb::get, "/healthz").result() == http::status::ok);
}

TEST_CASE("keep-alive serves two requests on one connection") {
  ServerFixture f;
  Client c(f.server->port());
  Response first = c.request(http::verb::get, "/healthz");
  CHECK(first.result() == http::status::ok);
  CHECK(first.keep_alive());
  Response second = c.request(http::verb::get, "/api/v1/borrowers/miner-a");
  CHECK(second.result() == http::status::ok);
  CHECK(f.server->connections() == 1);
}

TEST_CASE("a body over 64 KiB gets 413 and the connection is closed") {
  ServerFixture f;
  Client c(f.server->port());
  const std::string body(64 * 1024 + 1, ' ');
  std::string raw = "POST /api/v1/what-if HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  c.send_raw(raw);
  auto res = c.read();
  REQUIRE(res.has_value());
  check_json_error(*res, http::status::payload_too_large);
  CHECK_FALSE(res->keep_alive());
  CHECK(c.closed_by_peer(3s));
  CHECK(f.backend.what_if_bodies().empty());

  // exactly 64 KiB is accepted (and is a bad what-if, being only spaces)
  Client ok(f.server->port());
  check_json_error(ok.request(http::verb::post, "/api/v1/what-if", std::string(64 * 1024, ' ')),
                   http::status::bad_request);
}

TEST_CASE("a header over 8 KiB gets 431 or a closed connection") {
  ServerFixture f;
  Client c(f.server->port());
  c.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9 * 1024, 'a') + "\r\n\r\n");
  boost::system::error_code ec;
  auto res = c.read(false, 3s, &ec);
  if (res) {
    check_json_error(*res, http::status::request_header_fields_too_large);
    CHECK(c.closed_by_peer(3s));
  } else {
    CHECK((ec == http::error::end_of_stream || ec == asio::error::connection_reset || ec == asio::error::eof));
  }
}

TEST_CASE("a malformed request gets 400 and the connection is closed") {
  ServerFixture f;
  Client c(f.server->port());
  c.send_raw("GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n");
  auto res = c.read();
  REQUIRE(res.has_value());
  check_json_error(*res, http::status::bad_request);
  CHECK(c.closed_by_peer(3s));
}

TEST_CASE("what-if rejects bad JSON with 400 and never reaches the engine") {
  ServerFixture f;
  Client c(f.server->port());
  for (const char* body : {"{not json", "[1, 2]", R"({"shocks": 3})", R"({"shocks": {}, "extra": 1})", ""}) {
    CAPTURE(body);
    check_json_error(c.request(http::verb::post, "/api/v1/what-if", body), http::status::bad_request);
  }
  CHECK(f.backend.what_if_bodies().empty());
}

TEST_CASE("what-if answers when done() fires from another thread") {
  ServerFixture f;
  f.backend.what_if_mode_ = WhatIfMode::from_thread;
  Client c(f.server->port());
  const std::string body = R"({"shocks": {"BTC-USD": -0.6}})";
  Response res = c.request(http::verb::post, "/api/v1/what-if", body);
  CHECK(res.result() == http::status::ok);
  CHECK(content_type(res) == "application/json");
  const json::object doc = parse(res).as_object();
  CHECK(doc.at("echo").as_object().at("shocks").as_object().at("BTC-USD") == -0.6);
  REQUIRE(f.backend.what_if_bodies().size() == 1);
  CHECK(f.backend.what_if_bodies()[0] == body);
  // keep-alive survives the asynchronous answer
  CHECK(c.request(http::verb::get, "/healthz").result() == http::status::ok);

  f.backend.what_if_mode_ = WhatIfMode::immediate;  // done() inside what_if()
  CHECK(c.request(http::verb::post, "/api/v1/what-if", body).result() == http::status::ok);
}

TEST_CASE("Expect: 100-continue gets 100 Continue, then the answer") {
  ServerFixture f;
  Client c(f.server->port());
  const std::string body = R"({"shocks": {"@price": -0.5}})";
  c.send_raw("POST /api/v1/what-if HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n");
  auto interim = c.read();
  REQUIRE(interim.has_value());
  CHECK(interim->result() == http::status::continue_);
  c.send_raw(body);
  auto res = c.read();
  REQUIRE(res.has_value());
  CHECK(res->result() == http::status::ok);
}

TEST_CASE("a what-if that never completes times out with 503 and a late done() is ignored") {
  HttpServerOptions o;
  o.what_if_timeout = 300ms;
  ServerFixture f(o);
  f.backend.what_if_mode_ = WhatIfMode::never;
  Client c(f.server->port());
  const auto start = std::chrono::steady_clock::now();
  Response res = c.request(http::verb::post, "/api/v1/what-if", R"({"shocks": {}})");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  check_json_error(res, http::status::service_unavailable);
  CHECK(elapsed >= 250ms);
  CHECK(elapsed < 3s);

  auto parked = f.backend.take_parked();
  REQUIRE(parked.size() == 1);
  parked[0](200, "{}");  // too late: nothing is sent
  Response next = c.request(http::verb::get, "/healthz");
  CHECK(next.result() == http::status::ok);
  CHECK(next.body() == R"({"status": "ok"})");
}

TEST_CASE("a slow client that sends half a request is disconnected after the read timeout") {
  HttpServerOptions o;
  o.read_timeout = 1s;
  ServerFixture f(o);
  Client c(f.server->port());
  const auto start = std::chrono::steady_clock::now();
  c.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // no blank line: the request never ends
  CHECK(c.closed_by_peer(5s));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed >= 900ms);
  CHECK(elapsed < 3s);
}

TEST_CASE("connections over the cap are closed at once") {
  HttpServerOptions o;
  o.max_connections = 2;
  ServerFixture f(o);
  Client a(f.server->port());
  Client b(f.server->port());
  CHECK(a.request(http::verb::get, "/healthz").result() == http::status::ok);
  CHECK(b.request(http::verb::get, "/healthz").result() == http::status::ok);
  Client c(f.server->port());
  CHECK(c.closed_by_peer(3s));
  CHECK(a.request(http::verb::get, "/healthz").result() == http::status::ok);
}

TEST_CASE("stop closes open connections and leaves the io_context without work") {
  HttpServerOptions o;
  o.what_if_timeout = 60s;
  auto f = std::make_unique<ServerFixture>(o);
  f->backend.what_if_mode_ = WhatIfMode::never;
  Client idle(f->server->port());
  CHECK(idle.request(http::verb::get, "/healthz").result() == http::status::ok);
  Client waiting(f->server->port());
  waiting.send_raw("POST /api/v1/what-if HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\n{\"shocks\": {}}");
  for (int i = 0; i < 100 && f->backend.what_if_bodies().empty(); ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(f->backend.what_if_bodies().size() == 1);

  const auto start = std::chrono::steady_clock::now();
  f->server->stop();
  f->join_io();  // returns once no handler is left
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(idle.closed_by_peer(2s));
  CHECK(waiting.closed_by_peer(2s));
}
