// Hand-computed cases for every METHODOLOGY.md formula; the arithmetic is in
// the comments. Tolerances are 1e-12 relative unless a case says otherwise.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "test_support.hpp"

using namespace riskd::risk;
using riskd::risk::test::day;
using riskd::risk::test::MiniMarket;

namespace {

constexpr double k_rel = 1e-12;
const TimeMs k_t = day("2025-01-01");
const double k_month_ms = 30.4375 * 86400000.0;

TimeMs plus_months(TimeMs t, double months) { return t + static_cast<TimeMs>(std::llround(months * k_month_ms)); }

ModelParams flat_model() {
  ModelParams m;
  m.rent_decline_per_year = 0.0;
  m.discount_rate = 0.0;
  return m;
}

GpuPool pool(double count, double life_months) {
  GpuPool p;
  p.model = "H100";
  p.index_series = "GPU";
  p.count = count;
  p.utilization = 1.0;
  p.opex_usd_per_gpu_hour = 0.0;
  p.in_service_ms = k_t;
  p.useful_life_months = life_months;
  return p;
}

Facility fixed_facility(double principal, double pct, double amort, TimeMs maturity) {
  Facility f;
  f.id = "f";
  f.principal_usd = principal;
  f.amortization_usd_per_year = amort;
  f.maturity_ms = maturity;
  f.rate = FixedRate{pct};
  return f;
}

BorrowerSpec base_spec() {
  BorrowerSpec b;
  b.id = "b";
  b.covenants = {0.5, 1.25};
  return b;
}

}  // namespace

TEST_CASE("crypto: mark is units x price, liquidation takes the haircut") {
  MiniMarket mk;
  mk.add("BTC-USD", SeriesKind::price, 50000.0);
  BorrowerSpec s = base_spec();
  s.crypto = {{"BTC-USD", 100.0, 0.10}};
  s.facilities = {fixed_facility(1e6, 5.0, 0.0, day("2030-01-01"))};
  const Valuer v{ModelParams{}};
  const Figures f = v.evaluate(mk.compile(s), mk.values, k_t);
  CHECK(f.crypto_usd == doctest::Approx(5e6).epsilon(k_rel));              // 100 * 50,000
  CHECK(f.crypto_liquidation_usd == doctest::Approx(4.5e6).epsilon(k_rel)); // 5e6 * 0.9
  CHECK(f.ltv == doctest::Approx(0.2).epsilon(k_rel));                      // 1e6 / 5e6
  CHECK(f.liquidation_ltv == doctest::Approx(1.0 / 4.5).epsilon(k_rel));
}

TEST_CASE("cash counts at par in mark and liquidation") {
  MiniMarket mk;
  BorrowerSpec s = base_spec();
  s.cash_usd = 2e6;
  s.facilities = {fixed_facility(1e6, 5.0, 0.0, day("2030-01-01"))};
  const Figures f = Valuer{ModelParams{}}.evaluate(mk.compile(s), mk.values, k_t);
  CHECK(f.mark_usd == 2e6);
  CHECK(f.liquidation_usd == 2e6);
  CHECK(f.ltv == doctest::Approx(0.5).epsilon(k_rel));
}

TEST_CASE("GPU pool: flat rent, no discounting: 12 months of 730 h x N x R") {
  MiniMarket mk;
  mk.add("GPU", SeriesKind::gpu_rent, 2.0);
  const CompiledBorrower b = [&] {
    BorrowerSpec s = base_spec();
    s.gpus = {pool(100, 12)};
    return mk.compile(s, flat_model());
  }();
  const PoolValue pv = Valuer{flat_model()}.value_pool(b.pools()[0], 2.0, k_t);
  // CF_m = 730 * 100 * 2 = 146,000; M = 12 -> mark = fwd12 = 1,752,000
  CHECK(pv.mark_usd == doctest::Approx(1752000.0).epsilon(k_rel));
  CHECK(pv.fwd12_usd == doctest::Approx(1752000.0).epsilon(k_rel));
  // δ = 0.10 + 0.40 * sqrt(100 / 20000) = 0.128284271247...
  const double delta = 0.10 + 0.40 * std::sqrt(100.0 / 20000.0);
  CHECK(pv.liquidation_usd == doctest::Approx(1752000.0 * (1.0 - delta)).epsilon(k_rel));
}

TEST_CASE("GPU pool: rent decays by (1-g)^(m/12) and cash flows discount by (1+d)^(m/12)") {
  MiniMarket mk;
  mk.add("GPU", SeriesKind::gpu_rent, 3.0);
  BorrowerSpec s = base_spec();
  GpuPool p = pool(10, 2);
  p.utilization = 0.8;
  p.opex_usd_per_gpu_hour = 0.5;
  s.gpus = {p};
  const ModelParams model;  // g = 0.30, d = 0.12
  const CompiledBorrower b = mk.compile(s, model);
  const PoolValue pv = Valuer{model}.value_pool(b.pools()[0], 3.0, k_t);
  // m=1: R_1 = 3 * 0.7^(1/12); CF_1 = 730 * 10 * (R_1 * 0.8 - 0.5); likewise m=2.
  const double cf1 = 730.0 * 10.0 * (3.0 * std::pow(0.7, 1.0 / 12.0) * 0.8 - 0.5);
  const double cf2 = 730.0 * 10.0 * (3.0 * std::pow(0.7, 2.0 / 12.0) * 0.8 - 0.5);
  CHECK(pv.mark_usd == doctest::Approx(cf1 / std::pow(1.12, 1.0 / 12.0) + cf2 / std::pow(1.12, 2.0 / 12.0)).epsilon(k_rel));
  CHECK(pv.fwd12_usd == doctest::Approx(cf1 + cf2).epsilon(k_rel));
}

TEST_CASE("GPU pool: take-or-pay GPUs earn the contract rate regardless of utilization until the end date") {
  MiniMarket mk;
  mk.add("GPU", SeriesKind::gpu_rent, 2.0);
  BorrowerSpec s = base_spec();
  GpuPool p = pool(100, 6);
  p.utilization = 0.5;
  p.opex_usd_per_gpu_hour = 0.5;
  p.contract = GpuContract{60.0, 3.0, plus_months(k_t, 3.0)};
  s.gpus = {p};
  const CompiledBorrower b = mk.compile(s, flat_model());
  const PoolValue pv = Valuer{flat_model()}.value_pool(b.pools()[0], 2.0, k_t);
  // spot per GPU-hour: max(0, 2*0.5 - 0.5) = 0.5; contract: 3 - 0.5 = 2.5
  // m<=3: 730 * (60*2.5 + 40*0.5) = 124,100; m=4..6: 730 * 100 * 0.5 = 36,500
  CHECK(pv.mark_usd == doctest::Approx(3 * 124100.0 + 3 * 36500.0).epsilon(k_rel));  // 481,800
  CHECK(pv.fwd12_usd == doctest::Approx(481800.0).epsilon(k_rel));
}

TEST_CASE("GPU pool: zero utilization leaves only contract income, rent below opex earns nothing") {
  MiniMarket mk;
  mk.add("GPU", SeriesKind::gpu_rent, 2.0);
  BorrowerSpec s = base_spec();
  GpuPool zero_util = pool(100, 12);
  zero_util.utilization = 0.0;
  zero_util.contract = GpuContract{10.0, 1.5, plus_months(k_t, 24.0)};
  GpuPool under_water = pool(100, 12);
  under_water.opex_usd_per_gpu_hour = 2.5;  // R * u = 2 < 2.5
  s.gpus = {zero_util, under_water};
  const CompiledBorrower b = mk.compile(s, flat_model());
  const Valuer v{flat_model()};
  // contracted: 12 * 730 * 10 * 1.5 = 131,400; spot: max(0, 0 - 0) = 0
  CHECK(v.value_pool(b.pools()[0], 2.0, k_t).mark_usd == doctest::Approx(131400.0).epsilon(k_rel));
  CHECK(v.value_pool(b.pools()[1], 2.0, k_t).mark_usd == 0.0);
}

TEST_CASE("GPU pool: a contract past the useful life only counts the months of life left") {
  MiniMarket mk;
  mk.add("GPU", SeriesKind::gpu_rent, 2.0);
  BorrowerSpec s = base_spec();
  GpuPool p = pool(10, 36);
  p.in_service_ms = plus_months(k_t, -33.5);  // age 33.5 -> M = floor(2.5) = 2
  p.contract = GpuContract{10.0, 4.0, plus_months(k_t, 60.0)};
  s.gpus = {p};
  const CompiledBorrower b = mk.compile(s, flat_model());
  // 2 months * 730 * 10 * 4 = 58,400
  CHECK(Valuer{flat_model()}.value_pool(b.pools()[0], 2.0, k_t).mark_usd == doctest::Approx(58400.0).epsilon(k_rel));
}

TEST_CASE("GPU pool: an expired pool and a future in-service date") {
  MiniMarket mk;
  mk.add("GPU", SeriesKind::gpu_rent, 2.0);
  BorrowerSpec s = base_spec();
  GpuPool old_pool = pool(10, 12);
  old_pool.in_service_ms = plus_months(k_t, -13.0);  // M = floor(max(0, 12 - 13)) = 0
  GpuPool future_pool = pool(10, 12);
  future_pool.in_service_ms = plus_months(k_t, 5.0);  // negative age counts as 0 -> M = 12
  s.gpus = {old_pool, future_pool};
  const CompiledBorrower b = mk.compile(s, flat_model());
  const Valuer v{flat_model()};
  CHECK(v.value_pool(b.pools()[0], 2.0, k_t).mark_usd == 0.0);
  CHECK(v.value_pool(b.pools()[1], 2.0, k_t).mark_usd == doctest::Approx(12 * 730.0 * 10 * 2).epsilon(k_rel));
}

TEST_CASE("liquidation: a sale big enough against market depth hits the maximum discount") {
  MiniMarket mk;
  mk.add("GPU", SeriesKind::gpu_rent, 2.0);
  BorrowerSpec s = base_spec();
  s.gpus = {pool(1e6, 12), pool(1e6, 12)};
  s.gpus[1].model = "OLD";
  const std::map<std::string, GpuModelParams> models{{"H100", {100.0, false}}, {"OLD", {100.0, true}}};
  const CompiledBorrower b = mk.compile(s, flat_model(), models);
  // δ = min(0.90, 0.10 + 0.40 * sqrt(1e6 / 100)) = 0.90 -> factor 0.10
  CHECK(b.pools()[0].liquidation_factor == doctest::Approx(0.10).epsilon(k_rel));
  // successor released: δ' = 1 - (1 - 0.9) * (1 - 0.2) = 0.92 -> factor 0.08
  CHECK(b.pools()[1].liquidation_factor == doctest::Approx(0.08).epsilon(k_rel));
}

TEST_CASE("mining: derived hashprice = btc_per_ph_day x BTC price, or the hashprice series") {
  MiniMarket mk;
  mk.add("BTC-USD", SeriesKind::price, 100000.0);
  mk.add("HP", SeriesKind::hashprice, 45.0);
  BorrowerSpec derived = base_spec();
  derived.mining = Mining{1000.0, 20.0, 0.0005, "BTC-USD", ""};
  derived.facilities = {fixed_facility(1e7, 10.0, 0.0, day("2030-01-01"))};
  BorrowerSpec series = derived;
  series.mining->hashprice_series = "HP";
  series.mining->opex_usd_per_ph_day = 50.0;  // above hashprice: mining earns 0
  const Valuer v{ModelParams{}};
  // h = 0.0005 * 100,000 = 50; 1000 * 365 * (50 - 20) = 10,950,000
  const Figures fd = v.evaluate(mk.compile(derived), mk.values, k_t);
  CHECK(fd.mining12_usd == doctest::Approx(10950000.0).epsilon(k_rel));
  // CFADS = 10.95M; DS = 1e7 * 10 % = 1e6 -> DSCR 10.95
  CHECK(fd.dscr == doctest::Approx(10.95).epsilon(k_rel));
  CHECK(v.evaluate(mk.compile(series), mk.values, k_t).mining12_usd == 0.0);
}

TEST_CASE("fixed costs reduce CFADS") {
  MiniMarket mk;
  mk.add("BTC-USD", SeriesKind::price, 100000.0);
  BorrowerSpec s = base_spec();
  s.mining = Mining{1000.0, 20.0, 0.0005, "BTC-USD", ""};
  s.fixed_costs_usd_per_year = 950000.0;
  s.facilities = {fixed_facility(1e7, 10.0, 0.0, day("2030-01-01"))};
  const Figures f = Valuer{ModelParams{}}.evaluate(mk.compile(s), mk.values, k_t);
  CHECK(f.cfads_usd == doctest::Approx(10950000.0 - 950000.0).epsilon(k_rel));
  CHECK(f.dscr == doctest::Approx(10.0).epsilon(k_rel));
}

TEST_CASE("debt service: interest, amortization and the maturity wall") {
  MiniMarket mk;
  BorrowerSpec s = base_spec();
  const Valuer v{ModelParams{}};
  const double year_ms = 365.25 * 86400000.0;
  // τ = 2: w = 1, DS = 100M * 5% + 10M = 15M, no balloon in the window.
  s.facilities = {fixed_facility(100e6, 5.0, 10e6, k_t + static_cast<TimeMs>(2 * year_ms))};
  CHECK(v.debt_service_usd(mk.compile(s), mk.values, k_t) == doctest::Approx(15e6).epsilon(k_rel));
  // τ = 0.5: w = 0.5, DS = 100M*5%*0.5 + 10M*0.5 + (100M - 10M*0.5) = 2.5M + 5M + 95M = 102.5M
  s.facilities = {fixed_facility(100e6, 5.0, 10e6, k_t + static_cast<TimeMs>(0.5 * year_ms))};
  CHECK(v.debt_service_usd(mk.compile(s), mk.values, k_t) == doctest::Approx(102.5e6).epsilon(k_rel));
  // matured: τ = 0, w = 0, the whole principal is due: DS = 100M
  s.facilities = {fixed_facility(100e6, 5.0, 10e6, k_t - 86400000)};
  CHECK(v.debt_service_usd(mk.compile(s), mk.values, k_t) == doctest::Approx(100e6).epsilon(k_rel));
  // balloon never negative: τ = 0.5, A*τ = 150M > 100M -> 0; DS = 2.5M + 150M = 152.5M
  s.facilities = {fixed_facility(100e6, 5.0, 300e6, k_t + static_cast<TimeMs>(0.5 * year_ms))};
  CHECK(v.debt_service_usd(mk.compile(s), mk.values, k_t) == doctest::Approx(152.5e6).epsilon(k_rel));
}

TEST_CASE("floating rate: base + spread, with the floor binding or not") {
  MiniMarket mk;
  mk.add("SOFR", SeriesKind::rate, 300.0);
  mk.add("SPREAD", SeriesKind::rate, 250.0);
  BorrowerSpec s = base_spec();
  Facility f = fixed_facility(100e6, 0.0, 0.0, day("2030-01-01"));
  f.rate = FloatingRate{"SOFR", 100.0, "", 5.0};
  s.facilities = {f};
  const Valuer v{ModelParams{}};
  const CompiledBorrower b = mk.compile(s);
  // (300 + 100) bp = 4 % < floor 5 % -> 5M
  CHECK(v.debt_service_usd(b, mk.values, k_t) == doctest::Approx(5e6).epsilon(k_rel));
  // floors ignored: 4M
  CHECK(v.debt_service_usd(b, mk.values, k_t, 0.0, false) == doctest::Approx(4e6).epsilon(k_rel));
  mk.set("SOFR", 500.0);  // 6 % > floor -> 6M
  CHECK(v.debt_service_usd(b, mk.values, k_t) == doctest::Approx(6e6).epsilon(k_rel));
  // spread from a series: 500 + 250 = 7.5 %
  f.rate = FloatingRate{"SOFR", 0.0, "SPREAD", 0.0};
  s.facilities = {f};
  CHECK(v.debt_service_usd(mk.compile(s), mk.values, k_t) == doctest::Approx(7.5e6).epsilon(k_rel));
}

TEST_CASE("ratios: no debt gives 0 LTV whatever the collateral, no collateral gives infinite LTV") {
  MiniMarket mk;
  BorrowerSpec none = base_spec();
  const Valuer v{ModelParams{}};
  const Figures f0 = v.evaluate(mk.compile(none), mk.values, k_t);
  CHECK(f0.ltv == 0.0);
  CHECK(f0.liquidation_ltv == 0.0);
  CHECK(std::isinf(f0.dscr));  // DS = 0: +infinity, never a breach
  BorrowerSpec debt_only = base_spec();
  debt_only.facilities = {fixed_facility(1e6, 5.0, 0.0, day("2030-01-01"))};
  const Figures f1 = v.evaluate(mk.compile(debt_only), mk.values, k_t);
  CHECK(std::isinf(f1.ltv));
  CHECK(std::isinf(f1.liquidation_ltv));
  CHECK(f1.dscr == 0.0);  // CFADS 0 / DS 50,000
}

TEST_CASE("breach price: P* = (D / max_ltv - C_other) / units, null when no price breaches") {
  MiniMarket mk;
  mk.add("BTC-USD", SeriesKind::price, 300000.0);
  BorrowerSpec s = base_spec();  // max_ltv 0.5
  s.cash_usd = 50e6;
  s.crypto = {{"BTC-USD", 600.0, 0.1}, {"BTC-USD", 400.0, 0.2}};  // aggregated: 1000 BTC
  s.facilities = {fixed_facility(100e6, 5.0, 0.0, day("2030-01-01"))};
  const Valuer v{ModelParams{}};
  CompiledBorrower b = mk.compile(s);
  const Figures f = v.evaluate(b, mk.values, k_t);
  BreachLevels lv = v.breach_levels(b, mk.values, k_t, f);
  // (100M / 0.5 - 50M) / 1000 = 150,000
  REQUIRE(lv.price_usd.size() == 1);
  CHECK(*lv.price_usd[0].second == doctest::Approx(150000.0).epsilon(k_rel));
  CHECK_FALSE(lv.spread_bps);  // no floating facility
  s.cash_usd = 250e6;  // C_other alone covers D / max_ltv -> no BTC price breaches
  b = mk.compile(s);
  lv = v.breach_levels(b, mk.values, k_t, v.evaluate(b, mk.values, k_t));
  CHECK_FALSE(lv.price_usd[0].second);
}

TEST_CASE("breach GPU index: the root of DSCR(R) = min_dscr, current value if already breached, null if never") {
  MiniMarket mk;
  mk.add("GPU", SeriesKind::gpu_rent, 2.0);
  BorrowerSpec s = base_spec();  // min_dscr 1.25
  s.gpus = {pool(1000, 24)};
  s.facilities = {fixed_facility(10e6, 10.0, 0.0, day("2030-01-01"))};  // DS = 1M
  const Valuer v{flat_model()};
  CompiledBorrower b = mk.compile(s, flat_model());
  Figures f = v.evaluate(b, mk.values, k_t);
  // fwd12(R) = 12 * 730 * 1000 * R = 8.76M R; DSCR = 8.76 R -> R* = 1.25 / 8.76
  BreachLevels lv = v.breach_levels(b, mk.values, k_t, f);
  CHECK(*lv.gpu_index_usd_per_gpu_hour[0].second == doctest::Approx(1.25 / 8.76).epsilon(1e-9));
  mk.set("GPU", 0.1);  // DSCR 0.876 < 1.25: already breached -> current value
  f = v.evaluate(b, mk.values, k_t);
  lv = v.breach_levels(b, mk.values, k_t, f);
  CHECK(*lv.gpu_index_usd_per_gpu_hour[0].second == 0.1);
  mk.set("GPU", 2.0);
  s.gpus[0].contract = GpuContract{1000.0, 1.0, plus_months(k_t, 24)};  // contract alone: DSCR 8.76
  b = mk.compile(s, flat_model());
  f = v.evaluate(b, mk.values, k_t);
  lv = v.breach_levels(b, mk.values, k_t, f);
  CHECK_FALSE(lv.gpu_index_usd_per_gpu_hour[0].second);
}

TEST_CASE("breach spread: parallel widening to the DSCR covenant, floors ignored, 0 when breached") {
  MiniMarket mk;
  mk.add("SOFR", SeriesKind::rate, 400.0);
  mk.add("BTC-USD", SeriesKind::price, 100000.0);
  BorrowerSpec s = base_spec();  // min_dscr 1.25
  s.mining = Mining{1000.0, 0.0, 0.0001, "BTC-USD", ""};  // h = 10 -> mining12 = 3.65M
  Facility fl = fixed_facility(20e6, 0.0, 0.0, day("2030-01-01"));
  fl.rate = FloatingRate{"SOFR", 100.0, "", 9.0};  // floor 9 % binds over 5 %
  s.facilities = {fl};
  const Valuer v{ModelParams{}};
  const CompiledBorrower b = mk.compile(s);
  Figures f = v.evaluate(b, mk.values, k_t);
  // DS (floored) = 1.8M, DSCR = 2.0278; DS without floor = 1M; Σ P w / 1e4 = 2000
  // Δ* = (3.65M / 1.25 - 1M) / 2000 = 960 bp
  BreachLevels lv = v.breach_levels(b, mk.values, k_t, f);
  CHECK(*lv.spread_bps == doctest::Approx(960.0).epsilon(1e-9));
  mk.set("BTC-USD", 10000.0);  // mining12 = 365,000 -> DSCR 0.2 < 1.25
  f = v.evaluate(b, mk.values, k_t);
  lv = v.breach_levels(b, mk.values, k_t, f);
  CHECK(*lv.spread_bps == 0.0);
}

TEST_CASE("stress: the series id beats @spread, which beats the kind's group") {
  SeriesCatalog cat;
  const SeriesId btc = cat.intern("BTC-USD", SeriesKind::price);
  const SeriesId eth = cat.intern("ETH-USD", SeriesKind::price);
  const SeriesId sofr = cat.intern("SOFR", SeriesKind::rate);
  const SeriesId spread = cat.intern("SPREAD", SeriesKind::rate);
  const SeriesId gpu = cat.intern("GPU", SeriesKind::gpu_rent);
  std::vector<bool> is_spread(cat.size(), false);
  is_spread[spread] = true;
  Scenario sc{"x", {{"@price", -0.5}, {"BTC-USD", -0.6}, {"@rate", 50.0}, {"@spread", 300.0}}};
  const auto ops = resolve_shocks(sc, cat, is_spread);
  CHECK(ops[btc].apply(100.0) == doctest::Approx(40.0));
  CHECK(ops[eth].apply(100.0) == doctest::Approx(50.0));
  CHECK(ops[sofr].apply(400.0) == doctest::Approx(450.0));    // additive bp
  CHECK(ops[spread].apply(400.0) == doctest::Approx(700.0));  // @spread beats @rate
  CHECK(ops[gpu].apply(2.0) == 2.0);                          // not shocked
  const Scenario cc = correlation_convergence_scenario();
  const auto cc_ops = resolve_shocks(cc, cat, is_spread);
  CHECK(cc_ops[btc].apply(100.0) == doctest::Approx(50.0));
  CHECK(cc_ops[gpu].apply(2.0) == doctest::Approx(1.2));
  CHECK(cc_ops[spread].apply(400.0) == doctest::Approx(700.0));
  CHECK(cc_ops[sofr].apply(400.0) == 400.0);  // base rates are not spreads
}

TEST_CASE("compiled borrower: the parts live in one block, in spec order, and survive copy and move") {
  MiniMarket mk;
  mk.add("BTC-USD", SeriesKind::price, 50000.0);
  mk.add("ETH-USD", SeriesKind::price, 3000.0);
  mk.add("GPU-A", SeriesKind::gpu_rent, 2.0);
  mk.add("GPU-B", SeriesKind::gpu_rent, 3.0);
  mk.add("SOFR", SeriesKind::rate, 400.0);
  BorrowerSpec s = base_spec();
  s.crypto = {{"BTC-USD", 10.0, 0.1}, {"ETH-USD", 20.0, 0.2}};
  GpuPool a = pool(100, 12);
  a.index_series = "GPU-A";
  GpuPool b = pool(50, 24);
  b.index_series = "GPU-B";
  s.gpus = {a, b};
  FloatingRate fl;
  fl.base_series = "SOFR";
  fl.spread_bps = 250.0;
  s.facilities = {fixed_facility(1e6, 5.0, 0.0, day("2030-01-01")), fixed_facility(2e6, 6.0, 0.0, day("2031-01-01"))};
  s.facilities[1].rate = fl;
  const CompiledBorrower c = mk.compile(s);
  REQUIRE(c.crypto().size() == 2);
  REQUIRE(c.pools().size() == 2);
  REQUIRE(c.facilities().size() == 2);
  CHECK(c.mining() == nullptr);
  CHECK(c.crypto()[1].units == 20.0);
  CHECK(c.pools()[0].count == 100.0);
  CHECK(c.pools()[1].count == 50.0);
  CHECK(c.pools()[1].index == *mk.catalog.find("GPU-B"));
  CHECK_FALSE(c.facilities()[0].floating);
  CHECK(c.facilities()[1].floating);
  CHECK(c.facilities()[1].spread_bps == 250.0);
  CHECK(c.parts.block_bytes() == 2 * sizeof(CompiledPool) + 2 * sizeof(CompiledFacility) + 2 * sizeof(CompiledHolding));
  // One block: pools, then facilities, then holdings.
  CHECK(static_cast<const void*>(c.facilities().data()) == static_cast<const void*>(c.pools().data() + 2));
  CHECK(static_cast<const void*>(c.crypto().data()) == static_cast<const void*>(c.facilities().data() + 2));

  const Valuer v{ModelParams{}};
  const Figures want = v.evaluate(c, mk.values, k_t);
  CompiledBorrower copy = c;  // deep copy: its own block
  CHECK(copy.pools().data() != c.pools().data());
  CHECK(v.evaluate(copy, mk.values, k_t).ltv == want.ltv);
  CHECK(v.evaluate(copy, mk.values, k_t).dscr == want.dscr);
  CompiledBorrower moved = std::move(copy);
  CHECK(copy.pools().empty());  // NOLINT(bugprone-use-after-move): moved-from is empty, not dangling
  CHECK(copy.crypto().empty());
  CHECK(copy.parts.block_bytes() == 0);
  CHECK(v.evaluate(moved, mk.values, k_t).ltv == want.ltv);
  moved = c;  // copy-assign over a block
  CHECK(v.evaluate(moved, mk.values, k_t).dscr == want.dscr);

  // Mining: present only when configured; an empty borrower has no block.
  BorrowerSpec m = base_spec();
  m.mining = Mining{1000.0, 20.0, 0.0005, "BTC-USD", ""};
  const CompiledBorrower cm = mk.compile(m);
  REQUIRE(cm.mining() != nullptr);
  CHECK(cm.mining()->hashrate_ph == 1000.0);
  CHECK(cm.mining()->derived_from_price);
  BorrowerSpec none = base_spec();
  none.facilities.clear();
  const CompiledBorrower cn = mk.compile(none);
  CHECK(cn.parts.block_bytes() == 0);
  CHECK(cn.pools().empty());
  CHECK(cn.mining() == nullptr);
}

TEST_CASE("compiled borrower: more than 65535 entries in a part is a clear error") {
  const std::vector<CompiledPool> pools(BorrowerParts::k_max_count + 1);
  CHECK_THROWS_WITH_AS(BorrowerParts({}, pools, {}, nullptr), "compiled borrower: more than 65535 GPU pools",
                       std::length_error);
}
