// The dashboard in Debian's Chromium (headless), driven over the DevTools
// protocol with a Beast WebSocket client: `riskd broker` and `riskd run` as
// subprocesses on the vectors book, ticks produced to the broker, the page
// loaded from the daemon. The rendered figures (read from the page's data-*
// attributes) must equal the API's, follow new ticks, and a screenshot is
// saved under the build tree (tests/system/dashboard.png).
// GCC 12 at -O2 reports -Wnull-dereference false positives inside Asio
// (chriskohlhoff/asio#847): silenced for the library headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <doctest/doctest.h>
#include <unistd.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../daemon/test_support.hpp"
#include "../support/http_client.hpp"
#include "../support/process.hpp"
#include "riskd/feeds/kafka.hpp"
#pragma GCC diagnostic pop

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using riskd::test::Child;
using riskd::test::http_request;
using riskd::test::read_text;
using riskd::test::source_path;

namespace {

std::string fresh_dir(const std::string& name) {
  static std::atomic<int> n{0};
  const std::string dir = std::string(RISKD_BINARY_DIR) + "/tests/system/work/" + name + "-" +
                          std::to_string(::getpid()) + "-" + std::to_string(++n);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

template <typename Pred>
bool poll_until(Pred pred, std::chrono::milliseconds timeout, std::chrono::milliseconds every = 100ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(every);
  }
  return pred();
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for a daemon that must
/// come back on the same address).
unsigned short free_port() {
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

/// `riskd broker` + `riskd run` on the vectors book, HTTP on 127.0.0.1 at
/// `listen_port` (0: any), and a producer for ticks stamped with the wall
/// clock (so no feed is stale).
class Daemon {
 public:
  explicit Daemon(const std::string& dir, unsigned short listen_port = 0) : log_(dir + "/riskd.log") {
    broker_ = std::make_unique<Child>(
        std::vector<std::string>{RISKD_BINARY, "broker", "--topics", "md.crypto,md.rates,riskd.state"}, log_);
    const auto bootstrap = broker_->read_line(30s);
    REQUIRE_MESSAGE(bootstrap, "riskd broker printed no address; log: " << read_text(log_));
    config_ = dir + "/riskd.yaml";
    std::ofstream(config_) << read_text(source_path("tests/data/vectors/book.yaml"))
                           << "\nkafka: {bootstrap_servers: \"" << *bootstrap << "\", group_id: riskd-dashboard-test}\n"
                           << "feeds: {topics: [md.crypto, md.rates], state_topic: riskd.state}\n"
                           << "http: {listen: \"127.0.0.1:" << listen_port << "\"}\n";
    start_run();
    producer_ = std::make_unique<riskd::feeds::KafkaProducer>(*bootstrap, riskd::feeds::KafkaProperties{}, false);
  }

  /// Starts `riskd run` (again) and reads its HTTP port.
  void start_run() {
    daemon_ = std::make_unique<Child>(std::vector<std::string>{RISKD_BINARY, "run", "--config", config_}, log_);
    const auto url = daemon_->read_line(30s);
    REQUIRE_MESSAGE(url, "riskd run printed no URL; log: " << read_text(log_));
    port_ = static_cast<unsigned short>(std::stoi(url->substr(url->rfind(':') + 1)));
  }
  /// SIGTERM to `riskd run`; it must exit 0 (graceful).
  void stop_run() {
    daemon_->signal(SIGTERM);
    const auto code = daemon_->wait(30s);
    REQUIRE_MESSAGE(code.has_value(), "riskd run did not stop; log: " << read_text(log_));
    CHECK(*code == 0);
  }

  /// One tick per series of the vectors market, BTC-USD scaled by `btc_factor`.
  void feed_market(double btc_factor) {
    const auto market = json::parse(read_text(source_path("tests/data/vectors/market.json")));
    const std::int64_t ts = now_ms();
    for (const auto& [id, v] : market.at("series").as_object()) {
      const bool btc = std::string(id) == "BTC-USD";
      const double value = v.to_number<double>() * (btc ? btc_factor : 1.0);
      const std::string tick = R"({"series": ")" + std::string(id) + R"(", "value": )" +
                               json::serialize(json::value(value)) + R"(, "ts": )" + std::to_string(ts) + "}";
      REQUIRE(producer_->produce(btc ? "md.crypto" : "md.rates", std::string(id), tick));
    }
    REQUIRE(producer_->flush(10s));
  }

  [[nodiscard]] json::value get_json(const std::string& target) const {
    const auto r = http_request("127.0.0.1", port_, "GET", target);
    REQUIRE_MESSAGE(r.status == 200, target << " answered " << r.status << "; log: " << read_text(log_));
    return json::parse(r.body);
  }
  [[nodiscard]] int status(const std::string& target) const {
    return http_request("127.0.0.1", port_, "GET", target).status;
  }
  [[nodiscard]] unsigned short port() const { return port_; }
  [[nodiscard]] const std::string& log() const { return log_; }

 private:
  std::string log_;
  std::string config_;
  std::unique_ptr<Child> broker_;
  std::unique_ptr<Child> daemon_;
  std::unique_ptr<riskd::feeds::KafkaProducer> producer_;
  unsigned short port_ = 0;
};

std::string base64_decode(std::string_view in) {
  static constexpr std::string_view k_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : in) {
    const auto pos = k_alphabet.find(c);
    if (pos == std::string_view::npos) continue;  // '=' padding, line breaks
    buffer = (buffer << 6U) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> static_cast<unsigned>(bits)) & 0xFFU));
    }
  }
  return out;
}

/// Headless Chromium with a DevTools WebSocket to its one page. Every call is
/// bounded by a deadline; the browser is closed (then killed) at the end.
class Browser {
 public:
  explicit Browser(const std::string& dir) : profile_(dir + "/chromium-profile"), ws_(ioc_) {
    const std::string binary =
        std::filesystem::exists("/usr/lib/chromium/chromium") ? "/usr/lib/chromium/chromium" : "/usr/bin/chromium";
    REQUIRE_MESSAGE(std::filesystem::exists(binary),
                    "Debian's chromium is not installed (scripts/setup.sh installs it)");
    std::filesystem::create_directories(profile_);
    child_ = std::make_unique<Child>(
        std::vector<std::string>{binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                 "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                                 "--hide-scrollbars", "--force-color-profile=srgb", "--window-size=1600,1200",
                                 "--user-data-dir=" + profile_, "--remote-debugging-address=127.0.0.1",
                                 "--remote-debugging-port=0", "about:blank"},
        dir + "/chromium.log");
    // Chromium writes its DevTools port to the profile once it listens.
    const std::string port_file = profile_ + "/DevToolsActivePort";
    std::string port_text;
    REQUIRE_MESSAGE(poll_until(
                        [&] {
                          port_text = read_text(port_file);
                          return port_text.find('\n') != std::string::npos;
                        },
                        60s),
                    "chromium wrote no DevToolsActivePort; log: " << read_text(dir + "/chromium.log"));
    port_ = static_cast<unsigned short>(std::stoi(port_text.substr(0, port_text.find('\n'))));

    std::string page_ws;
    REQUIRE_MESSAGE(poll_until(
                        [&] {
                          const auto r = http_request("127.0.0.1", port_, "GET", "/json/list");
                          if (r.status != 200) return false;
                          const json::value targets = json::parse(r.body);
                          for (const auto& t : targets.as_array()) {
                            if (t.at("type") == "page") {
                              page_ws = std::string(t.at("webSocketDebuggerUrl").as_string());
                              return true;
                            }
                          }
                          return false;
                        },
                        30s),
                    "chromium lists no page target");
    const std::string path = page_ws.substr(page_ws.find('/', std::string("ws://").size()));
    beast::get_lowest_layer(ws_).expires_after(30s);
    beast::get_lowest_layer(ws_).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
    ws_.read_message_max(256 * 1024 * 1024);
    boost::system::error_code result = asio::error::would_block;
    ws_.async_handshake("127.0.0.1:" + std::to_string(port_), path, [&](boost::system::error_code ec) { result = ec; });
    run();
    REQUIRE_MESSAGE(!result, "DevTools handshake failed: " << result.message());
  }
  ~Browser() {
    try {
      call("Browser.close", {}, 10s);
    } catch (...) {  // the Child guard kills it anyway
    }
    if (child_) child_->wait(10s);
  }
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  /// Sends a DevTools command and returns its "result" (events in between are skipped).
  json::object call(const std::string& method, json::object params = {}, std::chrono::milliseconds timeout = 60s) {
    const std::int64_t id = ++next_id_;
    const std::string text =
        json::serialize(json::object{{"id", id}, {"method", method}, {"params", std::move(params)}});
    boost::system::error_code result = asio::error::would_block;
    beast::get_lowest_layer(ws_).expires_after(timeout);
    ws_.text(true);
    ws_.async_write(asio::buffer(text), [&](boost::system::error_code ec, std::size_t) { result = ec; });
    run();
    REQUIRE_MESSAGE(!result, method << ": write failed: " << result.message());
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      beast::flat_buffer buffer;
      result = asio::error::would_block;
      beast::get_lowest_layer(ws_).expires_at(deadline);
      ws_.async_read(buffer, [&](boost::system::error_code ec, std::size_t) { result = ec; });
      run();
      REQUIRE_MESSAGE(!result, method << ": no answer: " << result.message());
      json::value msg = json::parse(beast::buffers_to_string(buffer.data()));
      const auto* msg_id = msg.as_object().if_contains("id");
      if (msg_id == nullptr || msg_id->to_number<std::int64_t>() != id) continue;  // an event
      if (const auto* error = msg.as_object().if_contains("error"))
        FAIL(method << " failed: " << json::serialize(*error));
      return msg.as_object()["result"].as_object();
    }
    FAIL(method << ": no answer within the timeout");
    return {};
  }

  /// Evaluates `expression` in the page; its value (JSON-able). A throw fails
  /// the test unless `threw` is given (then set, and null returned).
  json::value eval(const std::string& expression, bool* threw = nullptr) {
    const json::object r = call("Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}});
    if (threw != nullptr) *threw = r.contains("exceptionDetails");
    if (const auto* ex = r.if_contains("exceptionDetails"); ex != nullptr && threw == nullptr) {
      FAIL("page threw: " << json::serialize(*ex));
    }
    const auto& value = r.at("result").as_object();
    const auto* v = value.if_contains("value");
    return v == nullptr ? json::value() : *v;
  }

  /// Polls `expression` until it evaluates to true (a throw, e.g. while the
  /// page is still loading, counts as not yet).
  bool wait_true(const std::string& expression, std::chrono::milliseconds timeout = 60s) {
    bool threw = false;
    return poll_until([&] { return eval(expression, &threw) == true; }, timeout, 200ms);
  }

 private:
  void run() {
    ioc_.restart();
    ioc_.run();
  }

  std::string profile_;
  std::unique_ptr<Child> child_;
  unsigned short port_ = 0;
  asio::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
  std::int64_t next_id_ = 0;
};

/// The page's book rows: [{id, level, ltv, liquidation_ltv, dscr}] with the raw data-value strings.
constexpr const char* k_rows_js = R"JS(JSON.stringify([...document.querySelectorAll('#book tbody tr')].map(r => ({
  id: r.dataset.borrower, level: r.dataset.level,
  ltv: r.querySelector('[data-field=ltv]').dataset.value,
  liquidation_ltv: r.querySelector('[data-field=liquidation_ltv]').dataset.value,
  dscr: r.querySelector('[data-field=dscr]').dataset.value})))
)JS";

/// True if the page's `text` (a data-value) is the API's `v`: the same double, or "null" for null.
bool same_number(const std::string& text, const json::value& v) {
  if (v.is_null()) return text == "null";
  if (text == "null") return false;
  const double x = std::stod(text);
  const double y = v.to_number<double>();
  return std::abs(x - y) <= 1e-12 * std::max(1.0, std::abs(y));
}

/// Compares every row of the page with the API's document; "" when equal, else the first difference.
std::string compare_book(Browser& browser, const json::value& doc) {
  const json::value rows = json::parse(std::string(browser.eval(k_rows_js).as_string()));
  const auto& borrowers = doc.at("borrowers").as_array();
  if (rows.as_array().size() != borrowers.size()) return "row count differs: " + json::serialize(rows);
  for (const auto& b : borrowers) {
    const std::string id(b.at("id").as_string());
    const json::object* row = nullptr;
    for (const auto& r : rows.as_array()) {
      if (r.at("id").as_string() == id) row = &r.as_object();
    }
    if (row == nullptr) return id + ": no row";
    for (const char* field : {"ltv", "liquidation_ltv", "dscr"}) {
      if (!same_number(std::string(row->at(field).as_string()), b.at(field))) {
        return id + "." + field + ": page " + std::string(row->at(field).as_string()) + ", API " +
               json::serialize(b.at(field));
      }
    }
    std::string level = "ok";
    for (const auto& a : b.at("alerts").as_array()) {
      const auto& sev = a.at("severity").as_string();
      if (sev == "critical" || (sev == "warning" && level != "critical") || (sev == "info" && level == "ok")) {
        level = std::string(sev);
      }
    }
    if (row->at("level").as_string() != level)
      return id + ": level " + json::serialize(row->at("level")) + ", expected " + level;
  }
  return {};
}

}  // namespace

TEST_CASE("dashboard: headless Chromium shows the API's figures, follows new ticks, and is saved as a screenshot") {
  const std::string dir = fresh_dir("dashboard");
  Daemon daemon(dir);
  daemon.feed_market(1.0);
  REQUIRE_MESSAGE(poll_until([&] { return daemon.status("/readyz") == 200; }, 60s),
                  "riskd never became ready; log: " << read_text(daemon.log()));

  Browser browser(dir);
  browser.call("Emulation.setDeviceMetricsOverride",
               {{"width", 1600}, {"height", 1200}, {"deviceScaleFactor", 1}, {"mobile", false}});
  browser.call("Page.enable");
  browser.call("Page.navigate", {{"url", "http://127.0.0.1:" + std::to_string(daemon.port()) + "/"}});

  // The stream is live and the book has one row per evaluated borrower.
  const json::value first = daemon.get_json("/api/v1/borrowers");
  const std::size_t n = first.at("borrowers").as_array().size();
  REQUIRE(n == 3);
  REQUIRE_MESSAGE(browser.wait_true("document.body.dataset.stream === 'live' && "
                                    "document.querySelectorAll('#book tbody tr').length === " +
                                    std::to_string(n)),
                  "the page never went live; body: " << browser.eval("document.body.innerText"));

  // Every rendered ratio equals the API's (the market is quiet: one comparison suffices,
  // but poll in case a snapshot was still on its way).
  std::string diff;
  CHECK_MESSAGE(poll_until(
                    [&] {
                      diff = compare_book(browser, daemon.get_json("/api/v1/borrowers"));
                      return diff.empty();
                    },
                    30s, 250ms),
                diff);

  // The polled panels: each feed's value, and the alert count.
  const json::value series = daemon.get_json("/api/v1/series");
  for (const auto& s : series.as_array()) {
    const std::string id(s.at("id").as_string());
    CAPTURE(id);
    CHECK(browser.wait_true("(() => { const c = document.querySelector('#feeds tr[data-series=\"" + id +
                                "\"] td.num'); return !!c && c.dataset.value === String(" +
                                json::serialize(s.at("value")) + "); })()",
                            30s));
  }
  const std::size_t alerts = daemon.get_json("/api/v1/alerts").as_array().size();
  CHECK(browser.wait_true("document.querySelectorAll('#alerts tbody tr').length === " + std::to_string(alerts), 30s));

  // Clicking miner-a shows its breach levels in words, with the API's BTC level.
  browser.eval("document.querySelector('#book tr[data-borrower=\"miner-a\"]').click(), true");
  REQUIRE(browser.wait_true("document.querySelector('#detail h2')?.dataset.borrower === 'miner-a'", 30s));
  const json::value btc_level = first.at("borrowers").at(0).at("breach").at("price").at("BTC-USD");
  REQUIRE(first.at("borrowers").at(0).at("id") == "miner-a");
  const json::value sentence = browser.eval(
      "(() => { const li = document.querySelector('#detail ul.breach li[data-series=\"BTC-USD\"]');"
      " return li ? [li.dataset.level, li.textContent] : null; })()");
  REQUIRE_MESSAGE(sentence.is_array(), "no BTC-USD breach sentence for miner-a");
  CHECK(same_number(std::string(sentence.at(0).as_string()), btc_level));
  const std::string text(sentence.at(1).as_string());
  INFO("sentence: " << text);
  CHECK((text.find("LTV breaches if BTC falls below $") == 0 || text.find("LTV is breached at today's BTC") == 0));

  // Live: BTC falls 8 %; the API's LTVs change and the page follows without a reload.
  const std::string before = std::string(browser.eval(k_rows_js).as_string());
  const json::value ltv_before = daemon.get_json("/api/v1/borrowers/miner-a").at("ltv");
  daemon.feed_market(0.92);
  REQUIRE_MESSAGE(poll_until([&] { return daemon.get_json("/api/v1/borrowers/miner-a").at("ltv") != ltv_before; }, 60s),
                  "miner-a's LTV did not move after the BTC tick; log: " << read_text(daemon.log()));
  CHECK_MESSAGE(poll_until(
                    [&] {
                      diff = compare_book(browser, daemon.get_json("/api/v1/borrowers"));
                      return diff.empty();
                    },
                    30s, 250ms),
                diff);
  CHECK(std::string(browser.eval(k_rows_js).as_string()) != before);
  CHECK(browser.eval("Number(document.body.dataset.messages) >= 2") == true);
  // miner-a's LTV chart now has a line (two or more points since the page opened).
  CHECK(browser.wait_true("document.querySelectorAll('#detail svg.chart polyline.chart-line').length >= 1", 30s));

  // A what-if from the page: BTC slider to -50 % shows the book under that shock.
  browser.eval(R"JS((() => { const s = document.getElementById('shock-BTC-USD'); s.value = -50;
                     s.dispatchEvent(new Event('input')); return true; })())JS");
  CHECK(browser.wait_true("document.querySelectorAll('#whatif tbody tr').length === " + std::to_string(n), 30s));

  // Screenshot of the whole page under the build tree.
  const json::object metrics = browser.call("Page.getLayoutMetrics");
  const auto& size = metrics.at("cssContentSize").as_object();
  const double height = std::min(size.at("height").to_number<double>(), 4000.0);
  json::object clip;
  clip["x"] = 0;
  clip["y"] = 0;
  clip["width"] = 1600;
  clip["height"] = height;
  clip["scale"] = 1;
  json::object params;
  params["format"] = "png";
  params["captureBeyondViewport"] = true;
  params["clip"] = std::move(clip);
  const json::object shot = browser.call("Page.captureScreenshot", std::move(params));
  const std::string png = base64_decode(shot.at("data").as_string());
  const std::string path = std::string(RISKD_BINARY_DIR) + "/tests/system/dashboard.png";
  std::ofstream(path, std::ios::binary) << png;
  MESSAGE("screenshot: " << path);
  CHECK(png.size() > 20'000);
  CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
}

TEST_CASE(
    "dashboard: a stopped daemon shows the disconnected banner and the page reconnects by itself when it is back") {
  const std::string dir = fresh_dir("dashboard-reconnect");
  Daemon daemon(dir, free_port());
  daemon.feed_market(1.0);
  REQUIRE_MESSAGE(poll_until([&] { return daemon.status("/readyz") == 200; }, 60s),
                  "riskd never became ready; log: " << read_text(daemon.log()));
  Browser browser(dir);
  browser.call("Page.navigate", {{"url", "http://127.0.0.1:" + std::to_string(daemon.port()) + "/"}});
  REQUIRE(browser.wait_true("document.body.dataset.stream === 'live' && document.getElementById('banner').hidden"));

  daemon.stop_run();
  CHECK(
      browser.wait_true("document.body.dataset.stream === 'down' && !document.getElementById('banner').hidden && "
                        "document.getElementById('banner').textContent.startsWith('Disconnected from riskd')",
                        30s));
  // The figures stay on screen (frozen) while the daemon is away.
  CHECK(browser.eval("document.querySelectorAll('#book tbody tr').length === 3") == true);

  daemon.start_run();
  // Backoff is at most 30 s (jittered +20 %): give it twice that.
  CHECK(browser.wait_true("document.body.dataset.stream === 'live' && document.getElementById('banner').hidden", 90s));
  std::string diff;
  CHECK_MESSAGE(poll_until(
                    [&] {
                      const auto r = http_request("127.0.0.1", daemon.port(), "GET", "/api/v1/borrowers");
                      if (r.status != 200) return false;
                      diff = compare_book(browser, json::parse(r.body));
                      return diff.empty();
                    },
                    60s, 250ms),
                diff);
}
