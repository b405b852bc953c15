// Property tests over randomly generated borrowers (fixed seeds: failures
// reproduce). Each property is checked on a few hundred books.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "test_support.hpp"

using namespace riskd::risk;
using riskd::risk::test::day;
using riskd::risk::test::MiniMarket;

namespace {

const TimeMs k_t = day("2025-06-15");

struct RandomBook {
  MiniMarket market;
  CompiledBorrower borrower;
  BorrowerSpec spec;
};

RandomBook random_borrower(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  auto range = [&](double lo, double hi) { return lo + (hi - lo) * u01(rng); };
  RandomBook rb;
  rb.market.add("BTC-USD", SeriesKind::price, range(15000, 150000));
  rb.market.add("ETH-USD", SeriesKind::price, range(800, 5000));
  rb.market.add("GPU-H100", SeriesKind::gpu_rent, range(0.5, 6));
  rb.market.add("GPU-A100", SeriesKind::gpu_rent, range(0.3, 3));
  rb.market.add("SOFR", SeriesKind::rate, range(0, 550));
  rb.market.add("SPREAD", SeriesKind::rate, range(200, 900));
  rb.market.add("HASHPRICE", SeriesKind::hashprice, range(30, 120));
  BorrowerSpec& s = rb.spec;
  s.id = "rnd";
  s.covenants = {range(0.3, 0.9), range(1.0, 2.0)};
  s.cash_usd = u01(rng) < 0.5 ? range(0, 1e8) : 0.0;
  if (u01(rng) < 0.8) s.crypto.push_back({"BTC-USD", range(10, 20000), range(0, 0.3)});
  if (u01(rng) < 0.3) s.crypto.push_back({"ETH-USD", range(100, 100000), range(0, 0.3)});
  const int pools = static_cast<int>(range(0, 3.99));
  for (int i = 0; i < pools; ++i) {
    GpuPool p;
    p.model = i % 2 == 0 ? "H100" : "A100";
    p.index_series = i % 2 == 0 ? "GPU-H100" : "GPU-A100";
    p.count = std::floor(range(100, 30000));
    p.utilization = range(0, 1);
    p.opex_usd_per_gpu_hour = range(0, 1);
    p.in_service_ms = k_t - static_cast<TimeMs>(range(-200, 1500)) * 86400000LL;
    p.useful_life_months = std::floor(range(24, 72));
    if (u01(rng) < 0.5) {
      p.contract = GpuContract{std::floor(p.count * u01(rng)), range(1, 4),
                               k_t + static_cast<TimeMs>(range(-100, 1200)) * 86400000LL};
    }
    s.gpus.push_back(p);
  }
  if (u01(rng) < 0.5) {
    Mining m;
    m.hashrate_ph = range(100, 30000);
    m.opex_usd_per_ph_day = range(0, 50);
    if (u01(rng) < 0.5) {
      m.hashprice_series = "HASHPRICE";
    } else {
      m.btc_per_ph_day = range(0.0003, 0.0008);
    }
    s.mining = m;
  }
  s.fixed_costs_usd_per_year = u01(rng) < 0.5 ? range(0, 5e7) : 0.0;
  const int facilities = 1 + static_cast<int>(range(0, 2.99));
  for (int i = 0; i < facilities; ++i) {
    Facility f;
    f.id = "f" + std::to_string(i);
    f.principal_usd = range(1e7, 1e9);
    f.amortization_usd_per_year = u01(rng) < 0.5 ? range(0, f.principal_usd / 4) : 0.0;
    f.maturity_ms = k_t + static_cast<TimeMs>(range(-100, 2500)) * 86400000LL;
    if (u01(rng) < 0.5) {
      f.rate = FixedRate{range(0, 12)};
    } else {
      FloatingRate fl;
      fl.base_series = "SOFR";
      if (u01(rng) < 0.5) {
        fl.spread_series = "SPREAD";
      } else {
        fl.spread_bps = range(100, 900);
      }
      fl.floor_pct = u01(rng) < 0.5 ? range(0, 8) : 0.0;
      f.rate = fl;
    }
    s.facilities.push_back(f);
  }
  rb.borrower = rb.market.compile(s);
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
