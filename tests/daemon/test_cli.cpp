// The command line as INTERFACES.md gives it, on the spec vectors.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "test_support.hpp"

using riskd::test::json_diff;
using riskd::test::read_text;
using riskd::test::run_riskd;
using riskd::test::source_path;

namespace {

const std::string k_vectors = source_path("tests/data/vectors");
const std::string k_book = k_vectors + "/book.yaml";

/// Sorts every borrower's `alerts` array (its order is free per the vectors' README).
void sort_alerts(boost::json::value& doc) {
  for (auto& b : doc.at("borrowers").as_array()) {
    auto& alerts = b.as_object()["alerts"].as_array();
    std::sort(alerts.begin(), alerts.end(), [](const boost::json::value& x, const boost::json::value& y) {
      return boost::json::serialize(x) < boost::json::serialize(y);
    });
  }
}

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = std::string(RISKD_BINARY_DIR) + "/tests/daemon/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace

TEST_CASE("evaluate on the vectors book and market matches expected-evaluate.json to 1e-9") {
  const auto r = run_riskd("evaluate --config " + k_book + " --market " + k_vectors + "/market.json");
  REQUIRE(r.exit_code == 0);
  boost::json::value got = boost::json::parse(r.out);
  boost::json::value want = boost::json::parse(read_text(k_vectors + "/expected-evaluate.json"));
  sort_alerts(got);
  sort_alerts(want);
  CHECK(json_diff(got, want, 1e-9) == "");
}

TEST_CASE("replay on the vectors matches expected-replay.jsonl and is byte-identical across runs") {
  const std::string args = "replay --config " + k_book + " --ticks " + k_vectors + "/ticks.jsonl";
  const auto first = run_riskd(args);
  const auto second = run_riskd(args);
  REQUIRE(first.exit_code == 0);
  CHECK(first.out == second.out);
  std::istringstream got(first.out);
  std::istringstream want(read_text(k_vectors + "/expected-replay.jsonl"));
  std::string g;
  std::string w;
  int line = 0;
  while (std::getline(want, w)) {
    ++line;
    REQUIRE_MESSAGE(std::getline(got, g), "missing event at line " << line);
    CHECK_MESSAGE(json_diff(boost::json::parse(g), boost::json::parse(w), 1e-6) == "", "line " << line);
  }
  CHECK_FALSE(std::getline(got, g));
}

TEST_CASE("replay reports the count of each tick outcome and names the rejected lines on stderr") {
  const auto r = run_riskd("replay --config " + k_book + " --ticks " + k_vectors + "/ticks.jsonl");
  REQUIRE(r.exit_code == 0);
  // expected-counts.json: applied 1281, rejected_value 1, unknown_series 1, rejected_parse 2, out_of_order 1, outlier 1
  CHECK(r.err.find("applied 1281, rejected_parse 2, rejected_value 1, out_of_order 1, outlier 1, unknown_series 1") !=
        std::string::npos);
  CHECK(r.err.find("ticks.jsonl:61: rejected_value") != std::string::npos);
  CHECK(r.err.find("ticks.jsonl:62: unknown_series") != std::string::npos);
  CHECK(r.err.find("ticks.jsonl:63: rejected_parse") != std::string::npos);
  CHECK(r.err.find("ticks.jsonl:64: out_of_order") != std::string::npos);
  CHECK(r.err.find("ticks.jsonl:65: rejected_parse") != std::string::npos);
}

TEST_CASE("check-config accepts the vectors book and exits 2 on a bad config with every error positioned") {
  CHECK(run_riskd("check-config --config " + k_book).exit_code == 0);
  const std::string bad = write_temp("bad.yaml",
                                     "borrowers:\n"
                                     "  - id: b1\n"
                                     "    covenants: {max_ltv: 0, min_dscr: 1.2}\n"
                                     "    collateral: {cash_usd: -5}\n"
                                     "    facilities: []\n");
  const auto r = run_riskd("check-config --config " + bad);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("bad.yaml:3:") != std::string::npos);
  CHECK(r.err.find("max_ltv") != std::string::npos);
  CHECK(r.err.find("bad.yaml:4:") != std::string::npos);
  CHECK(r.err.find("cash_usd") != std::string::npos);
}

TEST_CASE("usage errors exit 2, --help exits 0") {
  CHECK(run_riskd("").exit_code == 2);
  CHECK(run_riskd("frobnicate --config x").exit_code == 2);
  CHECK(run_riskd("replay --config " + k_book).exit_code == 2);  // --ticks missing
  CHECK(run_riskd("evaluate --config " + k_book + " --bogus 1").exit_code == 2);
  const auto help = run_riskd("replay --help");
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("usage: riskd replay") != std::string::npos);
  CHECK(run_riskd("--help").exit_code == 0);
  CHECK(run_riskd("evaluate --help").exit_code == 0);
  CHECK(run_riskd("check-config --help").exit_code == 0);
}

TEST_CASE("evaluate names what is wrong with a market snapshot and exits 2") {
  const std::string not_json = write_temp("m1.json", "{\n  \"as_of\": \"2025-12-19T00:00:00Z\",\n  \"series\": {oops}\n}\n");
  auto r = run_riskd("evaluate --config " + k_book + " --market " + not_json);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("m1.json:3:") != std::string::npos);
  const std::string missing = write_temp("m2.json", R"({"as_of": "2025-12-19T00:00:00Z", "series": {"BTC-USD": 88000}})");
  r = run_riskd("evaluate --config " + k_book + " --market " + missing);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("series.SOFR: missing; borrower 'miner-a' needs it") != std::string::npos);
  const std::string negative = write_temp(
      "m3.json", R"({"as_of": "2025-12-19T00:00:00Z", "series": {"BTC-USD": -1, "SOFR": 366, "GPU-H100-USD-HR": 3,
                  "GPU-A100-USD-HR": 1.8, "MINER-SPREAD": 680}})");
  r = run_riskd("evaluate --config " + k_book + " --market " + negative);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("series.BTC-USD") != std::string::npos);
  r = run_riskd("evaluate --config " + k_book + " --market /nonexistent/market.json");
  CHECK(r.exit_code == 2);
}

TEST_CASE("evaluate --at overrides as_of and moves the valuation day") {
  const auto r = run_riskd("evaluate --config " + k_book + " --market " + k_vectors + "/market.json --at 2026-06-30T12:00:00Z");
  REQUIRE(r.exit_code == 0);
  const auto doc = boost::json::parse(r.out);
  CHECK(doc.at("as_of").as_string() == "2026-06-30T12:00:00Z");
  const auto base = boost::json::parse(run_riskd("evaluate --config " + k_book + " --market " + k_vectors + "/market.json").out);
  // host-c's pool ages by half a year: its GPU value must fall.
  CHECK(doc.at("borrowers").at(2).at("collateral").at("gpu_usd").to_number<double>() <
        base.at("borrowers").at(2).at("collateral").at("gpu_usd").to_number<double>());
}
