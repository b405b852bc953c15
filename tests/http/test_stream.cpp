// GET /api/v1/stream and the dashboard's files: the pure diff and backlog
// (stream_hub.hpp), then the WebSocket over real TCP on 127.0.0.1:0 against a
// fake ApiBackend (the boundary) whose snapshot the test replaces.
// GCC 12 at -O2 reports -Wnull-dereference false positives inside Asio's
// scheduler and executors and libstdc++'s shared_ptr once they are inlined
// (chriskohlhoff/asio#847): silenced for the library headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <doctest/doctest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "../support/http_client.hpp"
#include "riskd/daemon/http_server.hpp"
#include "riskd/daemon/stream_hub.hpp"
#include "test_snapshot.hpp"
#pragma GCC diagnostic pop

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using riskd::daemon::ApiBackend;
using riskd::daemon::BorrowerView;
using riskd::daemon::HttpServer;
using riskd::daemon::HttpServerOptions;
using riskd::daemon::Snapshot;
using riskd::daemon::SnapshotPtr;
using riskd::daemon::StreamBacklog;
using riskd::daemon::StreamMessage;

namespace {

/// The stream reads only snapshot(); the rest answers like a healthy daemon.
class SnapshotBackend final : public ApiBackend {
 public:
  SnapshotPtr snapshot() const override {
    std::lock_guard lock(mutex_);
    return snapshot_;
  }
  std::string metrics_text() const override { return "riskd_up 1\n"; }
  bool alive() const override { return true; }
  void what_if(std::string, std::function<void(int, std::string)> done) override { done(503, "{}"); }

  void publish(SnapshotPtr s) {
    std::lock_guard lock(mutex_);
    snapshot_ = std::move(s);
  }

 private:
  mutable std::mutex mutex_;
  SnapshotPtr snapshot_;
};

struct StreamServer {
  explicit StreamServer(HttpServerOptions options = {}, SnapshotPtr first = riskd::test::make_snapshot()) {
    backend.publish(std::move(first));
    options.listen = "127.0.0.1:0";
    options.stream_poll_interval = 5ms;
    server = std::make_unique<HttpServer>(ioc, backend, options);
    server->start();
    for (auto& t : threads) t = std::thread([this] { ioc.run(); });
  }
  ~StreamServer() {
    server->stop();
    join_io();
  }
  void join_io() {
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  }
  StreamServer(const StreamServer&) = delete;
  StreamServer& operator=(const StreamServer&) = delete;

  SnapshotBackend backend;
  asio::io_context ioc;
  std::unique_ptr<HttpServer> server;
  std::array<std::thread, 2> threads;
};

/// Polls `pred` every 10 ms until true or `timeout`.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

/// A WebSocket client; every operation is bounded by a deadline.
class WsClient {
 public:
  /// Connects and upgrades; `receive_buffer_bytes` > 0 shrinks the socket's
  /// receive buffer (a slow reader fills up sooner).
  explicit WsClient(std::uint16_t port, int receive_buffer_bytes = 0) : ws_(ioc_) {
    auto& socket = beast::get_lowest_layer(ws_).socket();
    socket.open(tcp::v4());
    if (receive_buffer_bytes > 0) socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer_bytes));
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    boost::system::error_code result = asio::error::would_block;
    beast::get_lowest_layer(ws_).expires_after(10s);
    ws_.async_handshake("127.0.0.1:" + std::to_string(port), "/api/v1/stream",
                        [&](boost::system::error_code ec) { result = ec; });
    run();
    REQUIRE_MESSAGE(!result, "WebSocket handshake failed: " << result.message());
  }

  /// The next text message; nullopt and `error` when the read failed (closed, timeout).
  std::optional<std::string> read(std::chrono::milliseconds deadline = 10s,
                                  boost::system::error_code* error = nullptr) {
    buffer_.clear();
    boost::system::error_code result = asio::error::would_block;
    beast::get_lowest_layer(ws_).expires_after(deadline);
    ws_.async_read(buffer_, [&](boost::system::error_code ec, std::size_t) { result = ec; });
    run();
    if (error != nullptr) *error = result;
    if (result) return std::nullopt;
    return beast::buffers_to_string(buffer_.data());
  }

  json::value read_json(std::chrono::milliseconds deadline = 10s) {
    boost::system::error_code ec;
    const auto text = read(deadline, &ec);
    REQUIRE_MESSAGE(text.has_value(), "no stream message: " << ec.message());
    return json::parse(*text);
  }

  /// Reads until the stream ends; returns how it ended (closed, eof, reset...) or
  /// timeout if it did not end within `deadline`.
  boost::system::error_code read_until_end(std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    boost::system::error_code ec;
    while (std::chrono::steady_clock::now() < until) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (!read(left, &ec)) return ec;
    }
    return beast::error::timeout;
  }

  [[nodiscard]] websocket::close_reason reason() const { return ws_.reason(); }

 private:
  void run() {
    ioc_.restart();
    ioc_.run();
  }

  asio::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
};

/// The test snapshot with miner-a's debt_usd set to `k` and, with
/// `pad_bytes`, its second scenario renamed to that many characters (a
/// larger JSON object).
std::shared_ptr<Snapshot> snapshot_with(int k, std::size_t pad_bytes = 0) {
  auto s = riskd::test::make_snapshot();
  s->version = static_cast<std::uint64_t>(100 + k);
  BorrowerView& a = riskd::test::edit_borrower(*s, 0);
  a.figures.debt_usd = k;
  if (pad_bytes > 0) riskd::test::set_scenario_name(a, 1, std::string(pad_bytes, 'x'));
  return s;
}

/// The `k` of snapshot_with() in a borrower object.
int k_of(const json::value& borrower) {
  return static_cast<int>(borrower.at("debt_usd").as_double());
}

/// A raw HTTP exchange (the stream route answers plain requests too).
http::response<http::string_body> raw_get(std::uint16_t port, const std::string& target,
                                          const std::vector<std::pair<std::string, std::string>>& headers) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(10s);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  for (const auto& [name, value] : headers) req.set(name, value);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return res;
}

}  // namespace

// ---------------------------------------------------------------------------
// Pure parts

TEST_CASE("stream_messages: nothing sent yet gives the result document") {
  const auto s = riskd::test::make_snapshot();
  const auto messages = riskd::daemon::stream_messages(nullptr, *s);
  REQUIRE(messages.size() == 1);
  CHECK(*messages[0] == s->result_document());
}

TEST_CASE("stream_messages: only the borrowers whose JSON changed, in book order") {
  const auto prev = riskd::test::make_snapshot();
  auto next = riskd::test::make_snapshot();
  CHECK(riskd::daemon::stream_messages(prev.get(), *next).empty());

  riskd::test::edit_borrower(*next, 1).figures.ltv = 0.3;
  riskd::test::edit_borrower(*next, 0).figures.ltv = 0.7;
  const auto both = riskd::daemon::stream_messages(prev.get(), *next);
  REQUIRE(both.size() == 2);
  CHECK(*both[0] == next->borrowers[0].json());
  CHECK(*both[1] == next->borrowers[1].json());
  CHECK(json::parse(*both[1]).at("ltv") == 0.3);

  auto only_b = riskd::test::make_snapshot();
  riskd::test::edit_borrower(*only_b, 1).figures.ltv = 0.3;
  const auto one = riskd::daemon::stream_messages(prev.get(), *only_b);
  REQUIRE(one.size() == 1);
  CHECK(*one[0] == only_b->borrowers[1].json());
}

TEST_CASE("stream_messages: a borrower added, removed or reordered resends the whole document") {
  const auto prev = riskd::test::make_snapshot();
  auto removed = riskd::test::make_snapshot();
  riskd::test::set_borrowers(*removed, {removed->borrowers.ptr(0)});
  auto reordered = riskd::test::make_snapshot();
  riskd::test::set_borrowers(*reordered, {reordered->borrowers.ptr(1), reordered->borrowers.ptr(0)});
  auto added = riskd::test::make_snapshot();
  auto waiting = riskd::test::copy_view(added->borrowers[0]);
  riskd::test::set_id(*waiting, "waiting-c");
  riskd::test::set_borrowers(*added, {added->borrowers.ptr(0), added->borrowers.ptr(1), waiting});
  for (const auto& next : {removed, reordered, added}) {
    const auto messages = riskd::daemon::stream_messages(prev.get(), *next);
    REQUIRE(messages.size() == 1);
    CHECK(*messages[0] == next->result_document());
  }
}

TEST_CASE("the stream backlog refuses past its message or byte limit but always takes one message") {
  const auto msg = [](std::size_t n) { return std::make_shared<const std::string>(n, 'x'); };
  StreamBacklog by_count(3, 1'000'000);
  CHECK(by_count.push(msg(10)));
  CHECK(by_count.push(msg(10)));
  CHECK(by_count.push(msg(10)));
  CHECK_FALSE(by_count.push(msg(10)));
  CHECK(by_count.size() == 3);
  CHECK(by_count.bytes() == 30);
  REQUIRE(by_count.pop());
  CHECK(by_count.push(msg(10)));

  StreamBacklog by_bytes(100, 100);
  CHECK(by_bytes.push(msg(60)));
  CHECK_FALSE(by_bytes.push(msg(41)));
  CHECK(by_bytes.push(msg(40)));
  CHECK(by_bytes.bytes() == 100);
  by_bytes.clear();
  CHECK(by_bytes.empty());
  CHECK(by_bytes.bytes() == 0);
  CHECK(by_bytes.push(msg(500)));  // larger than the limit, but alone: a big result document still goes
  CHECK_FALSE(by_bytes.push(msg(1)));
  const StreamMessage first = by_bytes.pop();
  REQUIRE(first);
  CHECK(first->size() == 500);
  CHECK(by_bytes.pop() == nullptr);
}

// ---------------------------------------------------------------------------
// Over TCP

TEST_CASE("stream: the first message is the result document, later ones the changed borrower objects") {
  StreamServer f;
  WsClient c(f.server->port());
  const json::value first = c.read_json();
  CHECK(first == json::parse(riskd::test::make_snapshot()->result_document()));
  REQUIRE(eventually([&] { return f.server->stream_clients() == 1; }));

  for (int k = 1; k <= 3; ++k) {
    f.backend.publish(snapshot_with(k));
    const json::value m = c.read_json();
    CHECK(m.at("id") == "miner-a");
    CHECK(k_of(m) == k);  // gpu-b did not change: never re-sent, so the next message is miner-a again
  }
  // gpu-b changes alone: only gpu-b comes.
  auto s = snapshot_with(3);
  riskd::test::edit_borrower(*s, 1).figures.ltv = 0.5;
  f.backend.publish(s);
  CHECK(c.read_json() == json::parse(s->borrowers[1].json()));
  // The borrower set changes: the whole document again.
  auto smaller = snapshot_with(4);
  riskd::test::set_borrowers(*smaller, {smaller->borrowers.ptr(0)});
  f.backend.publish(smaller);
  const json::value doc = c.read_json();
  CHECK(doc == json::parse(smaller->result_document()));
  CHECK(doc.at("borrowers").as_array().size() == 1);
  // Nothing changes: nothing comes (the read times out, which also ends this client).
  f.backend.publish(snapshot_with(4));  // same JSON, new snapshot object
  f.backend.publish(smaller);
  boost::system::error_code ec;
  CHECK_FALSE(c.read(300ms, &ec).has_value());
  CHECK(ec == beast::error::timeout);
}

TEST_CASE("stream: a client connected before the first snapshot gets the document when it is published") {
  StreamServer f({}, nullptr);
  WsClient c(f.server->port());
  REQUIRE(eventually([&] { return f.server->stream_clients() == 1; }));
  std::this_thread::sleep_for(100ms);  // several watcher rounds with no snapshot: nothing may be sent
  const auto s = snapshot_with(1);
  f.backend.publish(s);
  CHECK(c.read_json() == json::parse(s->result_document()));
}

TEST_CASE("stream: a late client starts from the current document, not from old changes") {
  StreamServer f;
  WsClient early(f.server->port());
  early.read_json();
  f.backend.publish(snapshot_with(1));
  CHECK(k_of(early.read_json()) == 1);
  WsClient late(f.server->port());
  const json::value doc = late.read_json();
  CHECK(k_of(doc.at("borrowers").at(0)) == 1);
  f.backend.publish(snapshot_with(2));
  CHECK(k_of(late.read_json()) == 2);
  CHECK(k_of(early.read_json()) == 2);
}

TEST_CASE("stream: a plain GET gets 426 and a cross-origin upgrade 403") {
  StreamServer f;
  const auto plain = raw_get(f.server->port(), "/api/v1/stream", {});
  CHECK(plain.result() == http::status::upgrade_required);
  CHECK(plain[http::field::upgrade] == "websocket");
  CHECK(json::parse(plain.body()).at("error").as_string().find("WebSocket") != json::string::npos);

  const std::vector<std::pair<std::string, std::string>> upgrade = {{"Connection", "Upgrade"},
                                                                    {"Upgrade", "websocket"},
                                                                    {"Sec-WebSocket-Version", "13"},
                                                                    {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  auto foreign = upgrade;
  foreign.emplace_back("Origin", "http://evil.example");
  const auto refused = raw_get(f.server->port(), "/api/v1/stream", foreign);
  CHECK(refused.result() == http::status::forbidden);
  CHECK(json::parse(refused.body()).at("error").as_string().find("Origin") != json::string::npos);

  auto same = upgrade;
  same.emplace_back("Origin", "http://127.0.0.1:" + std::to_string(f.server->port()));
  CHECK(raw_get(f.server->port(), "/api/v1/stream", same).result() == http::status::switching_protocols);
  CHECK(raw_get(f.server->port(), "/api/v1/stream", upgrade).result() == http::status::switching_protocols);
}

TEST_CASE("stream: a slow client is dropped with 1008 while a fast one gets every update in time") {
  HttpServerOptions o;
  o.stream_backlog_messages = 8;
  o.stream_backlog_bytes = 4 * 1024 * 1024;
  o.stream_close_timeout = 1s;
  StreamServer f(o);
  WsClient slow(f.server->port(), 4096);  // never reads until the end
  WsClient fast(f.server->port());
  fast.read_json();
  REQUIRE(eventually([&] { return f.server->stream_clients() == 2; }));

  // 64 KiB per update: the slow client's socket buffers fill within a few
  // hundred updates, then its backlog of 8.
  const std::size_t pad = 64 * 1024;
  std::chrono::steady_clock::duration worst{};
  int k = 0;
  while (f.server->stream_clients_dropped() == 0 && k < 2000) {
    ++k;
    const auto start = std::chrono::steady_clock::now();
    f.backend.publish(snapshot_with(k, pad));
    const json::value m = fast.read_json();
    REQUIRE(k_of(m) == k);  // in order, none missing
    worst = std::max(worst, std::chrono::steady_clock::now() - start);
  }
  INFO("updates sent: " << k);
  CHECK(f.server->stream_clients_dropped() == 1);
  CHECK(eventually([&] { return f.server->stream_clients() == 1; }));
  CHECK(worst < 5s);
  // The fast client keeps getting updates after the drop.
  f.backend.publish(snapshot_with(k + 1, pad));
  CHECK(k_of(fast.read_json()) == k + 1);

  // The slow client reads what was buffered, then the stream ends: a 1008
  // close frame if it could still be sent, else the socket closed.
  const boost::system::error_code end = slow.read_until_end(30s);
  CHECK(end != beast::error::timeout);
  if (end == websocket::error::closed) {
    CHECK(slow.reason().code == websocket::close_code::policy_error);
    CHECK(std::string(slow.reason().reason.c_str()).find("too slow") != std::string::npos);
  }
}

TEST_CASE("stream: stop sends 1001 going away and leaves the io_context without work") {
  auto f = std::make_unique<StreamServer>();
  WsClient c(f->server->port());
  c.read_json();
  REQUIRE(eventually([&] { return f->server->stream_clients() == 1; }));
  std::thread reader([&] {
    boost::system::error_code ec;
    const auto unexpected = c.read(10s, &ec);
    CHECK_FALSE(unexpected.has_value());
    CHECK(ec == websocket::error::closed);
    CHECK(c.reason().code == websocket::close_code::going_away);
  });
  const auto start = std::chrono::steady_clock::now();
  f->server->stop();
  f->join_io();  // returns once no handler is left: the watcher and the stream are gone
  reader.join();
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(f->server->stream_clients() == 0);
  CHECK(f->server->connections() == 0);
}

TEST_CASE("stream: an idle client that answers no ping is closed after the idle timeout") {
  HttpServerOptions o;
  o.stream_idle_timeout = 400ms;
  StreamServer f(o);
  // A raw TCP client that upgrades and then never reads: it cannot answer pings.
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), f.server->port()));
  const std::string upgrade =
      "GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
      "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  asio::write(socket, asio::buffer(upgrade));
  REQUIRE(eventually([&] { return f.server->stream_clients() == 1; }));
  CHECK(eventually([&] { return f.server->stream_clients() == 0; }, 10s));
}

// ---------------------------------------------------------------------------
// The dashboard's files

TEST_CASE("dashboard: / is the page, its assets are served with their types, unknown ones are 404") {
  StreamServer f;
  const auto page = raw_get(f.server->port(), "/", {});
  CHECK(page.result() == http::status::ok);
  CHECK(page[http::field::content_type] == "text/html; charset=utf-8");
  CHECK(std::string(page["Content-Security-Policy"]).find("default-src 'self'") != std::string::npos);
  CHECK(page["X-Content-Type-Options"] == "nosniff");
  CHECK(page.body().find("<!doctype html>") == 0);

  // Every file the page loads is served from /assets/ with its type.
  const std::regex ref(R"re((?:src|href)="(/assets/[^"]+)")re");
  int refs = 0;
  for (auto it = std::sregex_iterator(page.body().begin(), page.body().end(), ref); it != std::sregex_iterator();
       ++it) {
    const std::string target = (*it)[1];
    CAPTURE(target);
    const auto res = raw_get(f.server->port(), target, {});
    CHECK(res.result() == http::status::ok);
    CHECK_FALSE(res.body().empty());
    ++refs;
  }
  CHECK(refs >= 3);
  CHECK(raw_get(f.server->port(), "/assets/app.js", {})[http::field::content_type] == "text/javascript; charset=utf-8");
  CHECK(raw_get(f.server->port(), "/assets/style.css", {})[http::field::content_type] == "text/css; charset=utf-8");
  const auto missing = raw_get(f.server->port(), "/assets/nope.js", {});
  CHECK(missing.result() == http::status::not_found);
  CHECK(json::parse(missing.body()).at("error") == "no such file");
  CHECK(raw_get(f.server->port(), "/assets/../index.html", {}).result() == http::status::not_found);
}

TEST_CASE("dashboard: no asset loads anything from another host (works air-gapped)") {
  StreamServer f;
  const std::regex remote(
      R"re((src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|import[^;]*["'](https?:)?//|fetch\(\s*["'](https?:)?//)re");
  for (const char* target : {"/", "/assets/app.js", "/assets/charts.js", "/assets/style.css"}) {
    CAPTURE(target);
    const auto res = raw_get(f.server->port(), target, {});
    REQUIRE(res.result() == http::status::ok);
    CHECK_FALSE(std::regex_search(res.body(), remote));
  }
}
