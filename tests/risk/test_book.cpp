#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>

#include "riskd/risk/index_rows.hpp"
#include "riskd/risk/series_id_list.hpp"
#include "test_support.hpp"

using namespace riskd::risk;
using riskd::risk::test::day;

namespace {

/// Every field bit for bit (Book::figures rebuilds the ones it does not store).
void check_same(const Figures& got, const Figures& want) {
  const double Figures::*fields[] = {
      &Figures::ltv,         &Figures::liquidation_ltv,     &Figures::dscr,     &Figures::debt_usd,
      &Figures::cfads_usd,   &Figures::debt_service_usd,    &Figures::crypto_usd, &Figures::crypto_liquidation_usd,
      &Figures::gpu_usd,     &Figures::gpu_liquidation_usd, &Figures::cash_usd, &Figures::mark_usd,
      &Figures::liquidation_usd, &Figures::mining12_usd};
  static_assert(sizeof fields / sizeof fields[0] * sizeof(double) == sizeof(Figures));
  for (std::size_t k = 0; k < sizeof fields / sizeof fields[0]; ++k) {
    INFO("field ", k);
    CHECK(std::memcmp(&(got.*fields[k]), &(want.*fields[k]), sizeof(double)) == 0);
  }
}

RiskConfig one_borrower_config() {
  RiskConfig cfg;
  cfg.series["BTC-USD"] = {SeriesKind::price, std::nullopt, std::nullopt};
  cfg.series["GPU"] = {SeriesKind::gpu_rent, std::nullopt, std::nullopt};
  cfg.series["SOFR"] = {SeriesKind::rate, std::nullopt, std::nullopt};
  BorrowerSpec b;
  b.id = "b1";
  b.covenants = {0.7, 1.2};
  b.crypto = {{"BTC-USD", 1000.0, 0.1}};
  GpuPool p;
  p.index_series = "GPU";
  p.count = 1000;
  p.in_service_ms = day("2025-01-01");
  b.gpus = {p};
  Facility f;
  f.id = "f";
  f.principal_usd = 50e6;
  f.maturity_ms = day("2029-01-01");
  f.rate = FloatingRate{"SOFR", 300.0, "", 0.0};
  b.facilities = {f};
  cfg.borrowers = {b};
  return cfg;
}

void set(Book& book, const char* id, double v, TimeMs ts) {
  const SeriesId sid = *book.catalog().find(id);
  SeriesState& st = book.catalog().state(sid);
  st.has_value = true;
  st.value = v;
  st.ts_ms = ts;
  book.on_series_applied(sid);
}

}  // namespace

TEST_CASE("book: a borrower with a series missing is not evaluated") {
  Book book(one_borrower_config());
  const TimeMs t = day("2025-06-01");
  book.set_valuation_day(t);
  set(book, "BTC-USD", 100000.0, t);
  set(book, "GPU", 2.0, t);
  book.revalue_all();
  CHECK_FALSE(book.evaluated(0));
  CHECK(book.missing_series() == std::vector<SeriesId>{*book.catalog().find("SOFR")});
  set(book, "SOFR", 400.0, t);
  book.revalue_all();
  CHECK(book.evaluated(0));
  CHECK(book.missing_series().empty());
}

TEST_CASE("book: cached slow terms are refreshed by GPU, rate and day changes, exactly as a full evaluation") {
  Book book(one_borrower_config());
  TimeMs t = day("2025-06-01");
  book.set_valuation_day(t);
  set(book, "BTC-USD", 100000.0, t);
  set(book, "GPU", 2.0, t);
  set(book, "SOFR", 400.0, t);
  auto check_exact = [&] {
    book.revalue_all();
    const Figures full = book.valuer().evaluate(book.borrowers()[0], book.values(), book.valuation_day());
    check_same(book.figures(0), full);
  };
  check_exact();
  set(book, "BTC-USD", 60000.0, t);
  check_exact();
  set(book, "GPU", 1.5, t);
  check_exact();
  set(book, "SOFR", 500.0, t);
  check_exact();
  t += 40 * k_ms_per_day;
  book.set_valuation_day(t);
  check_exact();
}

TEST_CASE("book: the built-in correlation_convergence comes first, a configured one replaces it") {
  RiskConfig cfg = one_borrower_config();
  cfg.scenarios = {Scenario{"btc_crash", {{"BTC-USD", -0.6}}}};
  CHECK(Book(cfg).scenarios().size() == 2);
  CHECK(Book(cfg).scenarios()[0].name == "correlation_convergence");
  cfg.scenarios.push_back(Scenario{"correlation_convergence", {{"@price", -0.9}}});
  const Book book(cfg);
  REQUIRE(book.scenarios().size() == 2);
  CHECK(book.scenarios()[0].shocks.at("@price") == -0.9);
  CHECK(book.scenarios()[1].name == "btc_crash");
}

TEST_CASE("book: stressed ratios equal a full evaluation on the shocked market") {
  RiskConfig cfg = one_borrower_config();
  cfg.scenarios = {Scenario{"btc_crash", {{"BTC-USD", -0.6}}}};
  Book book(cfg);
  const TimeMs t = day("2025-06-01");
  book.set_valuation_day(t);
  set(book, "BTC-USD", 100000.0, t);
  set(book, "GPU", 2.0, t);
  set(book, "SOFR", 400.0, t);
  book.revalue_all();
  for (std::size_t k = 0; k < book.scenarios().size(); ++k) {
    const auto shocked = book.shocked(book.scenario_ops(k), book.values());
    const Figures f = book.valuer().evaluate(book.borrowers()[0], shocked, t);
    CHECK(book.stress(0)[k].ltv == f.ltv);
    CHECK(book.stress(0)[k].dscr == f.dscr);
  }
  // btc_crash: crypto at 40,000
  const auto crash = book.shocked(book.scenario_ops(1), book.values());
  CHECK(crash[*book.catalog().find("BTC-USD")] == doctest::Approx(40000.0));
}

TEST_CASE("book: upsert and remove keep the other borrowers' results") {
  RiskConfig cfg = one_borrower_config();
  Book book(cfg);
  BorrowerSpec second = cfg.borrowers[0];
  second.id = "b2";
  second.crypto[0].units = 10.0;
  CHECK(book.upsert(second) == 1);
  CHECK(book.borrowers().size() == 2);
  CHECK(*book.borrower_index("b2") == 1);
  second.crypto[0].units = 20.0;
  CHECK(book.upsert(second) == 1);
  CHECK(book.borrowers()[1].crypto()[0].units == 20.0);
  CHECK(book.remove("b1"));
  CHECK_FALSE(book.remove("b1"));
  CHECK(*book.borrower_index("b2") == 0);
}

TEST_CASE("book: borrower_index finds every id after upserts and removals in any order") {
  RiskConfig cfg = one_borrower_config();
  Book book(cfg);
  std::vector<std::string> ids{"b1"};
  // Ids that sort differently from their insertion order.
  for (const char* id : {"zeta", "alpha", "b10", "b2", "Alpha", "b1-x", "m"}) {
    BorrowerSpec s = cfg.borrowers[0];
    s.id = id;
    CHECK(book.upsert(s) == ids.size());
    ids.emplace_back(id);
  }
  auto check_all = [&] {
    REQUIRE(book.borrowers().size() == ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const auto found = book.borrower_index(ids[i]);
      REQUIRE(found.has_value());
      CHECK(*found == i);
      CHECK(book.borrowers()[i].id == ids[i]);
    }
    CHECK_FALSE(book.borrower_index("b").has_value());
    CHECK_FALSE(book.borrower_index("zz").has_value());
    CHECK_FALSE(book.borrower_index("").has_value());
  };
  check_all();
  for (const char* id : {"b10", "b1", "zeta"}) {
    CHECK(book.remove(id));
    ids.erase(std::find(ids.begin(), ids.end(), id));
    check_all();
  }
  // Slow terms stay one block per borrower and variant after the removals.
  const TimeMs t = day("2025-06-01");
  book.set_valuation_day(t);
  set(book, "BTC-USD", 100000.0, t);
  set(book, "GPU", 2.0, t);
  set(book, "SOFR", 430.0, t);
  book.revalue_all();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    REQUIRE(book.slow_terms(i).size() == book.variant_count());
    const Figures full = book.valuer().evaluate(book.borrowers()[i], book.values(), t);
    CHECK(book.slow_terms(i)[0].gpu_mark_usd == full.gpu_usd);
    check_same(book.figures(i), full);
  }
}

TEST_CASE("SeriesIdList: in place up to three ids, on the heap beyond, vector-like in both") {
  SeriesIdList a;
  CHECK(a.empty());
  for (SeriesId id : {7u, 3u, 5u}) add_unique(a, id);
  add_unique(a, 3);
  CHECK(a.size() == 3);
  CHECK(a == SeriesIdList{7, 3, 5});
  for (SeriesId id = 10; id < 40; ++id) a.push_back(id);  // spills, grows twice
  REQUIRE(a.size() == 33);
  CHECK(a[0] == 7);
  CHECK(a[32] == 39);
  std::sort(a.begin(), a.end());
  CHECK(std::is_sorted(a.begin(), a.end()));
  CHECK(std::binary_search(a.begin(), a.end(), 21u));
  SeriesIdList copy = a;  // deep copy
  copy.push_back(99);
  CHECK(a.size() == 33);
  CHECK(copy.size() == 34);
  SeriesIdList moved = std::move(copy);
  CHECK(moved.size() == 34);
  CHECK(copy.empty());  // NOLINT(bugprone-use-after-move): a moved-from list is empty
  SeriesIdList small{1, 2};
  small = a;  // in place <- heap
  CHECK(small == a);
  a = SeriesIdList{4};  // heap <- in place
  CHECK(a == SeriesIdList{4});
  CHECK(a.contains(4));
  CHECK_FALSE(a.contains(5));
}

TEST_CASE("IndexRows: rows keep their values in order, a row beyond the built ones is empty") {
  IndexRows rows;
  const std::vector<std::pair<std::size_t, std::uint32_t>> pairs{{2, 10}, {0, 11}, {2, 12}, {2, 13}, {0, 14}};
  rows.build(4, [&](auto&& emit) {
    for (const auto& [row, value] : pairs) emit(row, value);
  });
  CHECK(rows.rows() == 4);
  CHECK(std::vector<std::uint32_t>(rows[0].begin(), rows[0].end()) == std::vector<std::uint32_t>{11, 14});
  CHECK(rows[1].empty());
  CHECK(std::vector<std::uint32_t>(rows[2].begin(), rows[2].end()) == std::vector<std::uint32_t>{10, 12, 13});
  CHECK(rows[3].empty());
  CHECK(rows[4].empty());
  CHECK(rows[100].empty());
  rows.build(1, [](auto&&) {});
  CHECK(rows[0].empty());
}
