// The documentation and the example book stay true: docs/methodology.md's
// worked example is recomputed by the engine, and the demo book replays the
// 2022-2025 history into the alerts the README promises.
#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include "riskd/config/config.hpp"
#include "riskd/risk/book.hpp"
#include "test_support.hpp"

using namespace riskd;
using test::read_text;
using test::run_riskd;
using test::source_path;

namespace {

/// Reads the `name = value` lines of the ```worked-example block.
std::map<std::string, double> worked_example_figures() {
  const std::string doc = read_text(source_path("docs/methodology.md"));
  const auto start = doc.find("```worked-example");
  REQUIRE(start != std::string::npos);
  const auto end = doc.find("```", start + 3);
  std::istringstream block(doc.substr(start, end - start));
  std::map<std::string, double> figures;
  std::string line;
  std::getline(block, line);  // the fence
  while (std::getline(block, line)) {
    const auto eq = line.find(" = ");
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    figures[line.substr(0, eq)] = std::stod(line.substr(eq + 3));
  }
  return figures;
}

}  // namespace

TEST_CASE("docs/methodology.md: the worked example's figures are the engine's") {
  const auto doc = worked_example_figures();
  REQUIRE(doc.size() >= 17);
  const config::Config cfg = config::load_config(source_path("tests/data/vectors/book.yaml"));
  risk::Book book(cfg.risk);
  const auto market = boost::json::parse(read_text(source_path("tests/data/vectors/market.json")));
  for (const auto& [id, v] : market.at("series").as_object()) {
    auto& st = book.catalog().state(*book.catalog().find(std::string(id)));
    st.has_value = true;
    st.value = v.to_number<double>();
    book.on_series_applied(*book.catalog().find(std::string(id)));
  }
  const risk::TimeMs t = *risk::parse_date("2025-12-19");
  book.set_valuation_day(t);
  book.revalue_all();
  const std::size_t i = *book.borrower_index("host-c");
  const risk::CompiledBorrower& b = book.borrowers()[i];
  const risk::Figures f = book.figures(i);
  const risk::CompiledPool& pool = b.pools()[0];
  const risk::PoolValue pv = book.valuer().value_pool(pool, book.values()[pool.index], t);
  const double age = risk::months_between(pool.in_service_ms, t);
  const risk::BreachLevels breach = book.valuer().breach_levels(b, book.values(), t, f);
  const std::map<std::string, double> engine{
      {"age_months", age},
      {"months_left", std::floor(pool.useful_life_months - age)},
      {"gpu_mark_usd", pv.mark_usd},
      {"gpu_fwd12_usd", pv.fwd12_usd},
      {"liquidation_discount", 1.0 - pool.liquidation_factor},
      {"gpu_liquidation_usd", pv.liquidation_usd},
      {"crypto_mark_usd", f.crypto_usd},
      {"crypto_liquidation_usd", f.crypto_liquidation_usd},
      {"mining12_usd", f.mining12_usd},
      {"cfads_usd", f.cfads_usd},
      {"debt_service_usd", f.debt_service_usd},
      {"debt_usd", f.debt_usd},
      {"ltv", f.ltv},
      {"liquidation_ltv", f.liquidation_ltv},
      {"dscr", f.dscr},
      {"btc_breach_price_usd", *breach.price_usd.at(0).second},
  };
  for (const auto& [name, value] : engine) {
    REQUIRE_MESSAGE(doc.count(name) == 1, "docs/methodology.md lacks " << name);
    CHECK_MESSAGE(value == doctest::Approx(doc.at(name)).epsilon(1e-9), name);
  }
  // δ before the obsolescence discount: 1 - (1 - δ') / (1 - δobs) for a released successor.
  CHECK(doc.at("fire_sale_discount") ==
        doctest::Approx(1.0 - pool.liquidation_factor / (1.0 - cfg.risk.model.obsolescence_discount)).epsilon(1e-9));
}

TEST_CASE("example book: check-config and evaluate on the 2025-12-19 snapshot") {
  const std::string book = source_path("config/examples/book.yaml");
  CHECK(run_riskd("check-config --config " + book).exit_code == 0);
  const auto r = run_riskd("evaluate --config " + book + " --market " + source_path("config/examples/market-2025-12-19.json"));
  REQUIRE(r.exit_code == 0);
  const auto doc = boost::json::parse(r.out);
  CHECK(doc.at("borrowers").as_array().size() >= 3);
  for (const auto& b : doc.at("borrowers").as_array()) {
    CHECK(b.at("ltv").is_number());
    CHECK(b.at("stress").as_object().contains("correlation_convergence"));
  }
}

TEST_CASE("example book: the 2022-2025 replay gives the promised alert history") {
  const auto r = run_riskd("replay --config " + source_path("config/examples/book.yaml") + " --ticks " +
                           source_path("config/examples/ticks-2022-2025.jsonl"));
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("rejected_parse 0, rejected_value 0, out_of_order 0, outlier 0, unknown_series 0") != std::string::npos);
  std::istringstream lines(r.out);
  std::string line;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> history;  // key -> (state, at)
  while (std::getline(lines, line)) {
    const auto ev = boost::json::parse(line);
    history[std::string(ev.at("key").as_string())].emplace_back(std::string(ev.at("state").as_string()),
                                                               std::string(ev.at("at").as_string()));
  }
  // The miner breaches LTV in the 2022 crashes and recovers in 2023.
  const auto& miner = history["miner-a/ltv_breach"];
  REQUIRE(miner.size() >= 2);
  CHECK(miner[0].first == "firing");
  CHECK(miner[0].second.substr(0, 4) == "2022");
  CHECK(miner[1].first == "resolved");
  CHECK(miner[1].second.substr(0, 4) == "2023");
  // The GPU cloud's DSCR sags as rents fall in 2024-25.
  const auto& cloud = history["cloud-b/dscr_warning"];
  REQUIRE_FALSE(cloud.empty());
  CHECK(cloud[0].second.substr(0, 4) >= "2024");
  // The correlation_convergence stress is visible for every borrower at some point.
  for (const char* id : {"miner-a", "cloud-b", "host-c"}) {
    CHECK_MESSAGE(!history[std::string(id) + "/stress_breach:correlation_convergence"].empty(), id);
  }
}
