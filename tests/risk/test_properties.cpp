// Property tests over randomly generated borrowers (fixed seeds: failures
// reproduce). Each property is checked on a few hundred books.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "../support/random_book.hpp"
#include "test_support.hpp"

using namespace riskd::risk;
using riskd::risk::test::day;
using riskd::risk::test::MiniMarket;

namespace {

const TimeMs k_t = day("2025-06-15");

struct RandomBook {
  MiniMarket market;
  CompiledBorrower borrower;
};

RandomBook random_borrower(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  RandomBook rb;
  for (const auto& [settings, series] : riskd::test::random_series()) {
    // Start each series at a random level between 0.2x and 1.8x its typical value.
    rb.market.add(series.first, *settings.kind, series.second * (0.2 + 1.6 * u01(rng)));
  }
  rb.borrower = rb.market.compile(riskd::test::random_borrower(rng, k_t, "rnd"));
  return rb;
}

}  // namespace

TEST_CASE("property: LTV never rises when a coin price rises") {
  std::mt19937_64 rng(20251219);
  const Valuer v{ModelParams{}};
  for (int i = 0; i < 500; ++i) {
    RandomBook rb = random_borrower(rng);
    const SeriesId sid = *rb.market.catalog.find(i % 2 == 0 ? "BTC-USD" : "ETH-USD");
    const Figures before = v.evaluate(rb.borrower, rb.market.values, k_t);
    rb.market.values[sid] *= 1.0 + 0.5 * static_cast<double>(i % 7 + 1) / 7.0;
    const Figures after = v.evaluate(rb.borrower, rb.market.values, k_t);
    CHECK(after.ltv <= before.ltv);
    CHECK(after.liquidation_ltv <= before.liquidation_ltv);
  }
}

TEST_CASE("property: DSCR never falls when a GPU index rises") {
  std::mt19937_64 rng(42);
  const Valuer v{ModelParams{}};
  for (int i = 0; i < 500; ++i) {
    RandomBook rb = random_borrower(rng);
    const SeriesId sid = *rb.market.catalog.find(i % 2 == 0 ? "GPU-H100" : "GPU-A100");
    const Figures before = v.evaluate(rb.borrower, rb.market.values, k_t);
    rb.market.values[sid] *= 1.0 + static_cast<double>(i % 5 + 1) / 10.0;
    const Figures after = v.evaluate(rb.borrower, rb.market.values, k_t);
    if (std::isinf(before.dscr)) {
      CHECK(std::isinf(after.dscr));
    } else {
      CHECK(after.dscr >= before.dscr - 1e-12 * std::abs(before.dscr));
    }
  }
}

TEST_CASE("property: re-evaluating at each reported breach level lands on the covenant within 1e-6") {
  std::mt19937_64 rng(7);
  const Valuer v{ModelParams{}};
  int price_roots = 0;
  int gpu_roots = 0;
  int spread_roots = 0;
  for (int i = 0; i < 800; ++i) {
    RandomBook rb = random_borrower(rng);
    const CompiledBorrower& b = rb.borrower;
    const Figures f = v.evaluate(b, rb.market.values, k_t);
    const BreachLevels lv = v.breach_levels(b, rb.market.values, k_t, f);
    for (const auto& [sid, level] : lv.price_usd) {
      if (!level) continue;
      std::vector<double> moved = rb.market.values;
      moved[sid] = *level;
      CHECK(v.evaluate(b, moved, k_t).ltv == doctest::Approx(b.covenants.max_ltv).epsilon(1e-6));
      ++price_roots;
    }
    for (const auto& [sid, level] : lv.gpu_index_usd_per_gpu_hour) {
      if (!level || f.dscr < b.covenants.min_dscr) continue;  // already breached: the current value
      std::vector<double> moved = rb.market.values;
      moved[sid] = *level;
      CHECK(v.evaluate(b, moved, k_t).dscr == doctest::Approx(b.covenants.min_dscr).epsilon(1e-6));
      ++gpu_roots;
    }
    if (lv.spread_bps && f.dscr >= b.covenants.min_dscr) {
      const double ds = v.debt_service_usd(b, rb.market.values, k_t, *lv.spread_bps, false);
      CHECK(f.cfads_usd / ds == doctest::Approx(b.covenants.min_dscr).epsilon(1e-6));
      ++spread_roots;
    }
  }
  // The generator must exercise every branch, or the property proves nothing.
  CHECK(price_roots > 50);
  CHECK(gpu_roots > 10);
  CHECK(spread_roots > 10);
}
