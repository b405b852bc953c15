// riskd run against `riskd broker`, both as separate processes: the API's
// figures, tick outcomes, borrower updates, readiness, restart, reload and
// graceful shutdown.
#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "../daemon/test_support.hpp"
#include "../support/http_client.hpp"
#include "../support/process.hpp"
#include "run_support.hpp"
#include "riskd/feeds/kafka.hpp"

using namespace std::chrono_literals;
using riskd::test::Child;
using riskd::test::Daemon;
using riskd::test::http_request;
using riskd::test::json_diff;
using riskd::test::read_text;
using riskd::test::source_path;
using riskd::test::unique_name;
using riskd::test::work_dir;

namespace {

/// The vectors book plus Kafka and HTTP settings pointing at `bootstrap`.
std::string write_config(const std::string& bootstrap, const std::string& group, const std::string& book_text) {
  const std::string path = work_dir() + "/" + group + ".yaml";
  std::ofstream(path) << book_text << "\nkafka: {bootstrap_servers: \"" << bootstrap << "\", group_id: " << group
                      << "}\nfeeds: {topics: [md.crypto, md.rates], borrowers_topic: risk.borrowers, state_topic: riskd.state}\n"
                      << "http: {listen: \"127.0.0.1:0\"}\n";
  return path;
}


struct Fixture {
  std::string log = work_dir() + "/" + unique_name("log") + ".txt";
  std::unique_ptr<Child> broker;
  std::string bootstrap;
  std::string group = unique_name("riskd-test");
  std::string config_path;
  Daemon daemon;
  std::unique_ptr<riskd::feeds::KafkaProducer> producer;

  Fixture() {
    broker = std::make_unique<Child>(
        std::vector<std::string>{RISKD_BINARY, "broker", "--topics", "md.crypto:2,md.rates,risk.borrowers,riskd.state"}, log);
    const auto line = broker->read_line(10s);
    REQUIRE_MESSAGE(line, "riskd broker printed no bootstrap address");
    bootstrap = *line;
    config_path = write_config(bootstrap, group, read_text(source_path("tests/data/vectors/book.yaml")));
    producer = std::make_unique<riskd::feeds::KafkaProducer>(bootstrap, riskd::feeds::KafkaProperties{}, false);
  }

  void tick(const std::string& topic, const std::string& json, const std::string& key = {}) {
    REQUIRE(producer->produce(topic, key.empty() ? std::nullopt : std::optional<std::string>(key), json));
    REQUIRE(producer->flush(5s));
  }

  /// The vectors market as ticks at 2025-12-19T16:00:00Z.
  void feed_vectors_market() {
    const auto market = boost::json::parse(read_text(source_path("tests/data/vectors/market.json")));
    for (const auto& [id, v] : market.at("series").as_object()) {
      const std::string topic = std::string(id) == "BTC-USD" ? "md.crypto" : "md.rates";
      tick(topic,
           R"({"series": ")" + std::string(id) + R"(", "value": )" + boost::json::serialize(v) +
               R"(, "ts": "2025-12-19T16:00:00Z"})",
           std::string(id));
    }
  }
};

/// Sorts each borrower's alerts array (order is free).
void sort_alerts(boost::json::value& doc) {
  for (auto& b : doc.at("borrowers").as_array()) {
    auto& a = b.as_object()["alerts"].as_array();
    std::sort(a.begin(), a.end(), [](const auto& x, const auto& y) {
      return boost::json::serialize(x) < boost::json::serialize(y);
    });
  }
}

double metric(const std::string& text, const std::string& series) {
  const auto pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return -1.0;
  return std::stod(text.substr(pos + series.size() + 2));
}

}  // namespace

TEST_CASE("run: not ready until every series has a value, then the API equals riskd evaluate on the same market") {
  Fixture f;
  f.daemon.start(f.config_path, f.log);
  CHECK(f.daemon.get("/healthz").status == 200);
  const auto not_ready = f.daemon.wait_for("/readyz", [](const auto& r) { return r.status == 503 && r.body.find("SOFR") != std::string::npos; });
  CHECK(not_ready.status == 503);
  CHECK(not_ready.body.find("has no value yet") != std::string::npos);

  f.feed_vectors_market();
  REQUIRE(f.daemon.wait_for("/readyz", [](const auto& r) { return r.status == 200; }).status == 200);
  const auto r = f.daemon.wait_for("/api/v1/borrowers", [](const auto& resp) {
    return resp.status == 200 && boost::json::parse(resp.body).at("borrowers").as_array().size() == 3;
  });
  REQUIRE(r.status == 200);
  boost::json::value got = boost::json::parse(r.body);
  boost::json::value want = boost::json::parse(read_text(source_path("tests/data/vectors/expected-evaluate.json")));
  sort_alerts(got);
  sort_alerts(want);
  CHECK(json_diff(got, want, 1e-9) == "");

  const auto one = f.daemon.get("/api/v1/borrowers/host-c");
  CHECK(one.status == 200);
  CHECK(boost::json::parse(one.body).at("ltv").to_number<double>() == doctest::Approx(0.6126281744505949).epsilon(1e-9));
  CHECK(f.daemon.get("/api/v1/borrowers/nobody").status == 404);
  const auto metrics = f.daemon.get("/metrics");
  CHECK(metric(metrics.body, R"(riskd_borrower_ltv_ratio{borrower="host-c"})") ==
        doctest::Approx(0.6126281744505949).epsilon(1e-9));
  const auto alerts = boost::json::parse(f.daemon.get("/api/v1/alerts").body);
  CHECK(alerts.as_array().size() >= 10);

  const auto what_if = http_request("127.0.0.1", f.daemon.port, "POST", "/api/v1/what-if", R"({"shocks": {"BTC-USD": -0.5}})");
  REQUIRE(what_if.status == 200);
  const auto shocked = boost::json::parse(what_if.body);
  CHECK(shocked.at("borrowers").at(0).at("ltv").to_number<double>() >
        got.at("borrowers").at(0).at("ltv").to_number<double>());
  CHECK(http_request("127.0.0.1", f.daemon.port, "POST", "/api/v1/what-if", R"({"shocks": {"NOPE": 1}})").status == 400);
}

TEST_CASE("run: every tick outcome is counted in riskd_ticks_total and /api/v1/series") {
  Fixture f;
  f.daemon.start(f.config_path, f.log);
  f.feed_vectors_market();
  // Keyed like the BTC ticks, so they share its partition and arrive in this order.
  f.tick("md.crypto", "this is not json", "BTC-USD");
  f.tick("md.crypto", R"({"series": "DOGE-USD", "value": 0.1, "ts": "2025-12-19T17:00:00Z"})", "BTC-USD");
  f.tick("md.crypto", R"({"series": "BTC-USD", "value": -1, "ts": "2025-12-19T17:00:00Z"})", "BTC-USD");
  f.tick("md.crypto", R"({"series": "BTC-USD", "value": 88000, "ts": "2025-12-18T00:00:00Z"})", "BTC-USD");
  f.tick("md.crypto", R"({"series": "BTC-USD", "value": 150000, "ts": "2025-12-19T18:00:00Z"})", "BTC-USD");  // > max_jump 0.12
  const auto m = f.daemon.wait_for("/metrics", [](const auto& r) {
    return metric(r.body, R"(riskd_ticks_total{outcome="outlier"})") == 1.0 &&
           metric(r.body, R"(riskd_ticks_total{outcome="applied"})") == 5.0;
  });
  CHECK(metric(m.body, R"(riskd_ticks_total{outcome="applied"})") == 5.0);
  CHECK(metric(m.body, R"(riskd_ticks_total{outcome="rejected_parse"})") == 1.0);
  CHECK(metric(m.body, R"(riskd_ticks_total{outcome="unknown_series"})") == 1.0);
  CHECK(metric(m.body, R"(riskd_ticks_total{outcome="rejected_value"})") == 1.0);
  CHECK(metric(m.body, R"(riskd_ticks_total{outcome="out_of_order"})") == 1.0);
  CHECK(metric(m.body, R"(riskd_ticks_total{outcome="outlier"})") == 1.0);
  const auto series = boost::json::parse(f.daemon.get("/api/v1/series").body);
  bool saw_btc = false;
  for (const auto& s : series.as_array()) {
    if (s.at("id").as_string() != "BTC-USD") continue;
    saw_btc = true;
    CHECK(s.at("value").to_number<double>() == 88103.38);
    CHECK(s.at("applied").to_number<std::int64_t>() == 1);
    CHECK(s.at("rejected").at("rejected_value").to_number<std::int64_t>() == 1);
    CHECK(s.at("rejected").at("out_of_order").to_number<std::int64_t>() == 1);
    CHECK(s.at("rejected").at("outlier").to_number<std::int64_t>() == 1);
  }
  CHECK(saw_btc);
}

TEST_CASE("run: borrower updates and tombstones change the book, an invalid document keeps the old version") {
  Fixture f;
  f.daemon.start(f.config_path, f.log);
  f.feed_vectors_market();
  REQUIRE(f.daemon.wait_for("/readyz", [](const auto& r) { return r.status == 200; }).status == 200);
  const std::string doc =
      R"({"id": "new-d", "covenants": {"max_ltv": 0.5, "min_dscr": 1.2}, "collateral": {"crypto": [{"series": "BTC-USD", "units": 100}]},)"
      R"( "facilities": [{"id": "t", "kind": "term_loan", "principal_usd": 4000000, "maturity": "2028-01-01", "rate": {"fixed_pct": 8}}]})";
  f.tick("risk.borrowers", doc, "new-d");
  auto r = f.daemon.wait_for("/api/v1/borrowers/new-d", [](const auto& resp) { return resp.status == 200; });
  REQUIRE(r.status == 200);
  // LTV = 4,000,000 / (100 * 88,103.38)
  CHECK(boost::json::parse(r.body).at("ltv").to_number<double>() == doctest::Approx(4e6 / 8810338.0).epsilon(1e-9));
  f.tick("risk.borrowers", R"({"id": "new-d", "covenants": {"max_ltv": -1}})", "new-d");  // invalid: old version stays
  f.tick("risk.borrowers", R"({"id": "other"})", "new-d");                              // id differs from key
  std::this_thread::sleep_for(500ms);
  CHECK(f.daemon.get("/api/v1/borrowers/new-d").status == 200);
  REQUIRE(f.producer->produce("risk.borrowers", std::string("new-d"), std::nullopt));  // tombstone
  REQUIRE(f.producer->flush(5s));
  r = f.daemon.wait_for("/api/v1/borrowers/new-d", [](const auto& resp) { return resp.status == 404; });
  CHECK(r.status == 404);
}

TEST_CASE("run: after kill -9 the daemon comes back with the same market state and figures") {
  Fixture f;
  f.daemon.start(f.config_path, f.log);
  f.feed_vectors_market();
  f.tick("md.crypto", R"({"series": "BTC-USD", "value": 90000, "ts": "2025-12-19T18:00:00Z"})", "BTC-USD");
  // Ticks on different partitions arrive in any order: wait for all of them.
  const auto before = f.daemon.wait_for("/api/v1/borrowers", [](const auto& r) {
    return r.status == 200 && r.body.find("\"as_of\": \"2025-12-19T18:00:00Z\"") != std::string::npos &&
           boost::json::parse(r.body).at("borrowers").as_array().size() == 3;
  });
  REQUIRE(before.status == 200);
  std::this_thread::sleep_for(1500ms);  // past the 1 s state/commit interval
  f.daemon.child->signal(SIGKILL);
  REQUIRE(f.daemon.child->wait(5s));
  Daemon again;
  again.start(f.config_path, f.log);
  const auto after = again.wait_for("/api/v1/borrowers", [](const auto& r) {
    return r.status == 200 && r.body.find("\"as_of\": \"2025-12-19T18:00:00Z\"") != std::string::npos &&
           boost::json::parse(r.body).at("borrowers").as_array().size() == 3;
  });
  REQUIRE(after.status == 200);
  CHECK(again.get("/readyz").status == 200);
  boost::json::value a = boost::json::parse(after.body);
  boost::json::value b = boost::json::parse(before.body);
  // Figures, not alert states: durable alert state is the alert-delivery issue's.
  for (auto* doc : {&a, &b}) {
    for (auto& borrower : doc->at("borrowers").as_array()) borrower.as_object().erase("alerts");
  }
  CHECK(json_diff(a, b, 1e-12) == "");
}

TEST_CASE("run: /metrics counts the dashboards connected to /api/v1/stream") {
  Fixture f;
  f.daemon.start(f.config_path, f.log);
  REQUIRE(f.daemon.wait_for("/healthz", [](const auto& r) { return r.status == 200; }).status == 200);
  const std::string before = f.daemon.get("/metrics").body;
  CHECK(metric(before, "riskd_stream_clients") == 0.0);
  CHECK(metric(before, "riskd_stream_clients_dropped_total") == 0.0);
  {
    boost::asio::io_context ioc;
    boost::beast::websocket::stream<boost::beast::tcp_stream> ws(ioc);
    ws.next_layer().connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), f.daemon.port));
    ws.handshake("127.0.0.1", "/api/v1/stream");
    const auto with_client = f.daemon.wait_for("/metrics", [](const auto& r) {
      return metric(r.body, "riskd_stream_clients") == 1.0;
    });
    CHECK(metric(with_client.body, "riskd_stream_clients") == 1.0);
    ws.close(boost::beast::websocket::close_code::normal);
  }
  const auto after = f.daemon.wait_for("/metrics", [](const auto& r) { return metric(r.body, "riskd_stream_clients") == 0.0; });
  CHECK(metric(after.body, "riskd_stream_clients") == 0.0);
  CHECK(metric(after.body, "riskd_stream_clients_dropped_total") == 0.0);  // closed by the client, not dropped
}

TEST_CASE("run: SIGHUP swaps in a good config and keeps the old one on a bad config") {
  Fixture f;
  f.daemon.start(f.config_path, f.log);
  f.feed_vectors_market();
  REQUIRE(f.daemon.wait_for("/readyz", [](const auto& r) { return r.status == 200; }).status == 200);
  std::string book = read_text(source_path("tests/data/vectors/book.yaml"));
  book.replace(book.find("max_ltv: 0.65"), 13, "max_ltv: 0.95");  // miner-a
  const std::string original = read_text(f.config_path);
  std::ofstream(f.config_path) << book << original.substr(original.find("\nkafka:"));
  f.daemon.child->signal(SIGHUP);
  auto r = f.daemon.wait_for("/api/v1/borrowers/miner-a", [](const auto& resp) {
    return resp.status == 200 && resp.body.find("93242.29") == std::string::npos;
  });
  // The breach price moves with the covenant: (650M / 0.95 - C_other) / 9000.
  CHECK(r.body.find("93242.29") == std::string::npos);
  CHECK(metric(f.daemon.get("/metrics").body, "riskd_config_last_reload_success") == 1.0);

  std::ofstream(f.config_path) << "borrowers: [{id: broken}]\n";
  f.daemon.child->signal(SIGHUP);
  const auto m = f.daemon.wait_for("/metrics", [](const auto& resp) {
    return metric(resp.body, "riskd_config_last_reload_success") == 0.0;
  });
  CHECK(metric(m.body, "riskd_config_last_reload_success") == 0.0);
  CHECK(f.daemon.get("/api/v1/borrowers/miner-a").status == 200);  // the old config still serves
}

TEST_CASE("run: SIGTERM stops within 10 s, exit 0, with the offsets of applied ticks committed") {
  Fixture f;
  f.daemon.start(f.config_path, f.log);
  f.feed_vectors_market();
  REQUIRE(f.daemon.wait_for("/readyz", [](const auto& r) { return r.status == 200; }).status == 200);
  f.daemon.child->signal(SIGTERM);
  const auto code = f.daemon.child->wait(10s);
  REQUIRE(code);
  CHECK(*code == 0);
  riskd::feeds::KafkaConsumer consumer(f.bootstrap, f.group, {});
  std::vector<riskd::feeds::TopicPartition> parts;
  for (const char* topic : {"md.crypto", "md.rates"}) {
    for (const auto p : consumer.partitions(topic, 5s)) parts.push_back({topic, p, 0});
  }
  for (const auto& c : consumer.committed(parts, 5s)) {
    const auto [low, high] = consumer.watermarks(c.topic, c.partition, 5s);
    if (high > low) CHECK_MESSAGE(c.offset == high, c.topic << "[" << c.partition << "]");
  }
}
