// The borrowers topic read at start (LiveService::restore_borrowers: every
// document parsed, the book built once) must leave the same book as the same
// documents applied one by one by a running daemon (upserts, replacements,
// tombstones, invalid documents). Two `riskd run` against one `riskd broker`:
// "live" starts first and applies the documents as they come; "restored"
// starts after them and reads them from the beginning. Both then get the same
// market and must serve the same borrowers with the same figures, and so must
// "live" after a SIGHUP reload rebuilds its book from the documents it holds.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <algorithm>
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
using riskd::test::read_text;
using riskd::test::source_path;
using riskd::test::unique_name;
using riskd::test::work_dir;

namespace {

std::string write_config(const std::string& bootstrap, const std::string& group) {
  const std::string path = work_dir() + "/" + group + ".yaml";
  std::ofstream(path) << read_text(source_path("tests/data/vectors/book.yaml")) << "\nkafka: {bootstrap_servers: \""
                      << bootstrap << "\", group_id: " << group
                      << "}\nfeeds: {topics: [md.crypto, md.rates], borrowers_topic: risk.borrowers}\n"
                      << "http: {listen: \"127.0.0.1:0\"}\n";
  return path;
}


std::string borrower(const std::string& id, double max_ltv, double units, const std::string& coin = "BTC-USD") {
  return R"({"id": ")" + id + R"(", "covenants": {"max_ltv": )" + std::to_string(max_ltv) +
         R"(, "min_dscr": 1.2}, "collateral": {"crypto": [{"series": ")" + coin + R"(", "units": )" + std::to_string(units) +
         R"(}]}, "facilities": [{"id": "t", "kind": "term_loan", "principal_usd": 4000000, "maturity": "2028-01-01", "rate": {"fixed_pct": 8}}]})";
}

/// Each borrower's id, LTV and DSCR, sorted by id: what both daemons must agree on.
std::vector<std::string> figures(const std::string& body) {
  std::vector<std::string> out;
  const boost::json::value doc = boost::json::parse(body);  // alive for the loop
  for (const auto& b : doc.at("borrowers").as_array()) {
    const auto& o = b.as_object();
    out.push_back(std::string(o.at("id").as_string()) + " ltv=" + boost::json::serialize(o.at("ltv")) +
                  " dscr=" + boost::json::serialize(o.at("dscr")));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("borrowers restore: reading the topic at start builds the book that applying it live builds") {
  const std::string log = work_dir() + "/" + unique_name("log") + ".txt";
  Child broker({RISKD_BINARY, "broker", "--topics", "md.crypto,md.rates,risk.borrowers:3"}, log);
  const auto line = broker.read_line(10s);
  REQUIRE_MESSAGE(line, "riskd broker printed no bootstrap address");
  const std::string bootstrap = *line;
  riskd::feeds::KafkaProducer producer(bootstrap, {}, false);
  auto send = [&](const std::string& topic, const std::string& key, const std::optional<std::string>& value) {
    REQUIRE(producer.produce(topic, key, value));
    REQUIRE(producer.flush(5s));
  };

  Daemon live;
  const std::string live_log = work_dir() + "/" + unique_name("live-log") + ".txt";
  live.start(write_config(bootstrap, unique_name("live")), live_log);
  // Assigned (the borrowers topic at its end) before the documents come.
  for (const auto until = std::chrono::steady_clock::now() + 20s;
       read_text(live_log).find("consuming") == std::string::npos && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(50ms);
  }
  REQUIRE_MESSAGE(read_text(live_log).find("consuming") != std::string::npos, read_text(live_log));
  std::this_thread::sleep_for(1s);

  // The history: new borrowers, a replacement, tombstones (of a topic borrower,
  // of a config borrower, of an unknown id), a borrower removed and added back
  // (it moves to the end of the book), an invalid document and one whose id
  // differs from its key (both rejected, the previous version stays).
  const std::string first_config_id =
      std::string(boost::json::parse(read_text(source_path("tests/data/vectors/expected-evaluate.json")))
                      .at("borrowers")
                      .as_array()
                      .at(0)
                      .at("id")
                      .as_string());
  // The first twelve as one burst (one flush): the live daemon gets them in
  // one poll and applies them to its book together.
  for (int i = 0; i < 12; ++i) {
    REQUIRE(producer.produce("risk.borrowers", "t" + std::to_string(i), borrower("t" + std::to_string(i), 0.5, 100 + i)));
  }
  REQUIRE(producer.flush(5s));
  send("risk.borrowers", "t3", borrower("t3", 0.6, 250));
  send("risk.borrowers", "t4", std::nullopt);
  send("risk.borrowers", first_config_id, std::nullopt);
  send("risk.borrowers", "nobody", std::nullopt);
  send("risk.borrowers", "t5", std::nullopt);
  send("risk.borrowers", "t5", borrower("t5", 0.7, 55));
  send("risk.borrowers", "t6", R"({"id": "t6", "covenants": {"max_ltv": -1}})");
  send("risk.borrowers", "t7", borrower("other", 0.5, 1));
  send("risk.borrowers", "t8", "not a document");
  // A series the config does not know, used only by a topic borrower.
  send("risk.borrowers", "t12", borrower("t12", 0.5, 2000, "ETH-USD"));

  Daemon restored;
  restored.start(write_config(bootstrap, unique_name("restored")), log);

  const auto market = boost::json::parse(read_text(source_path("tests/data/vectors/market.json")));
  for (const auto& [id, v] : market.at("series").as_object()) {
    send(std::string(id) == "BTC-USD" ? "md.crypto" : "md.rates", std::string(id),
         R"({"series": ")" + std::string(id) + R"(", "value": )" + boost::json::serialize(v) +
             R"(, "ts": "2025-12-19T16:00:00Z"})");
  }
  send("md.crypto", "ETH-USD", R"({"series": "ETH-USD", "value": 3000, "ts": "2025-12-19T16:00:00Z"})");
  for (const Daemon* d : {&live, &restored}) {
    REQUIRE(d->wait_for("/readyz", [](const auto& r) { return r.status == 200; }).status == 200);
  }
  // The live daemon applied every document before the market came; wait
  // until both show the final book (t5 back, t4 and the config borrower gone).
  const auto final_book = [&](const riskd::test::HttpResponse& r) {
    if (r.status != 200) return false;
    const auto f = figures(r.body);
    const auto has = [&](const std::string& id) {
      return std::any_of(f.begin(), f.end(), [&](const std::string& s) { return s.rfind(id + " ", 0) == 0; });
    };
    return has("t5") && !has("t4") && !has(first_config_id) && has("t11") && has("t12");
  };
  const auto a = live.wait_for("/api/v1/borrowers", final_book);
  const auto b = restored.wait_for("/api/v1/borrowers", final_book);
  REQUIRE(final_book(a));
  REQUIRE(final_book(b));
  CHECK(figures(a.body) == figures(b.body));
  CHECK(read_text(live_log).find("documents applied together") != std::string::npos);
  CHECK(figures(b.body).size() >= 11);  // 12 new, t4 gone, t5 back; config borrowers minus one
  // The replacement and the rejected documents: t3 has its second version, t6's and t7's first stay.
  const double btc = market.at("series").at("BTC-USD").to_number<double>();
  const auto t3 = boost::json::parse(restored.get("/api/v1/borrowers/t3").body);
  CHECK(t3.at("ltv").to_number<double>() == doctest::Approx(4e6 / (250 * btc)).epsilon(1e-9));
  CHECK(restored.get("/api/v1/borrowers/t6").status == 200);
  CHECK(restored.get("/api/v1/borrowers/other").status == 404);
  // Both count the same accepted and rejected documents.
  const std::string ma = live.get("/metrics").body;
  const std::string mb = restored.get("/metrics").body;
  for (const std::string series : {"riskd_borrower_updates_total{outcome=\"applied\"}", "riskd_borrower_updates_total{outcome=\"rejected\"}"}) {
    const auto pa = ma.find("\n" + series + " ");
    const auto pb = mb.find("\n" + series + " ");
    REQUIRE(pa != std::string::npos);
    REQUIRE(pb != std::string::npos);
    CHECK(std::stod(ma.substr(pa + series.size() + 2)) == std::stod(mb.substr(pb + series.size() + 2)));
  }
  CHECK(boost::json::parse(restored.get("/api/v1/borrowers/t12").body).at("ltv").to_number<double>() ==
        doctest::Approx(4e6 / (2000 * 3000.0)).epsilon(1e-9));

  // SIGHUP with the config unchanged: the live daemon rebuilds its book from
  // the config and every topic document it holds; same borrowers, same
  // figures, still ready (t12's ETH-USD, a series only the topic uses, keeps
  // its value).
  live.child->signal(SIGHUP);
  for (const auto until = std::chrono::steady_clock::now() + 20s;
       read_text(live_log).find("config reloaded") == std::string::npos && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(50ms);
  }
  REQUIRE_MESSAGE(read_text(live_log).find("config reloaded") != std::string::npos, read_text(live_log));
  const auto reloaded = live.wait_for("/api/v1/borrowers", final_book);
  CHECK(figures(reloaded.body) == figures(b.body));
  CHECK(live.get("/readyz").status == 200);
  CHECK(boost::json::parse(live.get("/api/v1/borrowers/t12").body).at("ltv").to_number<double>() ==
        doctest::Approx(4e6 / (2000 * 3000.0)).epsilon(1e-9));

  restored.child->signal(SIGTERM);
  live.child->signal(SIGTERM);
  CHECK(restored.child->wait(15s) == 0);
  CHECK(live.child->wait(15s) == 0);
  broker.signal(SIGTERM);
  broker.wait(10s);
}
