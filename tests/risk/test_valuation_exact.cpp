// The GPU pool valuation (Valuer::value_pool, value_pools, pool_fwd12_usd) is
// vectorised and skips months whose cash flow is zero; its results must be
// bit-identical to METHODOLOGY.md's loop as written, because `riskd replay`
// output is compared byte for byte with the spec vectors. The reference below
// is that loop, month by month, with no tables and no shortcuts.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "riskd/risk/valuation.hpp"

using namespace riskd::risk;

namespace {

/// METHODOLOGY.md "GPU pools (income approach)", transcribed.
PoolValue reference_value_pool(const CompiledPool& pool, double rent_usd_per_gpu_hour, TimeMs t_ms,
                               const ModelParams& model) {
  const double age = std::max(0.0, months_between(pool.in_service_ms, t_ms));
  const auto months_left = static_cast<long>(std::floor(std::max(0.0, pool.useful_life_months - age)));
  const double contract_months = pool.has_contract ? months_between(t_ms, pool.contract_end_ms) : 0.0;
  PoolValue v;
  for (long m = 1; m <= months_left; ++m) {
    const double years = static_cast<double>(m) / 12.0;
    const double rent_m = rent_usd_per_gpu_hour * std::pow(1.0 - model.rent_decline_per_year, years);
    const double contracted = static_cast<double>(m) <= contract_months ? pool.contract_gpus : 0.0;
    const double cf = k_hours_per_month *
                      (contracted * std::max(0.0, pool.contract_usd_per_gpu_hour - pool.opex_usd_per_gpu_hour) +
                       (pool.count - contracted) *
                           std::max(0.0, rent_m * pool.utilization - pool.opex_usd_per_gpu_hour));
    v.mark_usd += cf / std::pow(1.0 + model.discount_rate, years);
    if (m <= 12) v.fwd12_usd += cf;
  }
  v.liquidation_usd = v.mark_usd * pool.liquidation_factor;
  return v;
}

std::uint64_t bits(double x) { return std::bit_cast<std::uint64_t>(x); }

constexpr double k_month_ms = 30.4375 * 86400000.0;
const TimeMs k_t0 = *parse_date("2025-12-19");

/// `months` whole months of METHODOLOGY.md's 30.4375 days, in ms.
TimeMs whole_months(long months) {
  return static_cast<TimeMs>(std::llround(static_cast<double>(months) * k_month_ms));
}

/// Random pools over the cases that matter for exactness: lives ending within
/// a few months, around the vector path's limit (120 months), beyond the tables
/// (1,200 months); contracts ended, ending on a whole month, ending after the
/// life; rents near opex (the clamp), zero, and above; zero counts and
/// utilizations; whole-month ages and fractional ones.
struct PoolGen {
  std::mt19937_64 rng;
  explicit PoolGen(std::uint64_t seed) : rng(seed) {}
  double u01() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }
  double range(double lo, double hi) { return lo + (hi - lo) * u01(); }
  bool chance(double p) { return u01() < p; }
  long pick(long lo, long hi) { return std::uniform_int_distribution<long>(lo, hi)(rng); }

  double life_months() {
    const double r = u01();
    if (r < 0.1) return static_cast<double>(pick(1, 4));
    if (r < 0.8) return std::floor(range(24, 73));
    if (r < 0.9) return range(1, 100);  // fractional life
    if (r < 0.94) return static_cast<double>(pick(115, 125));  // around the vector path's limit
    if (r < 0.97) return static_cast<double>(pick(230, 400));
    return static_cast<double>(pick(1195, 1260));
  }

  CompiledPool pool(TimeMs t_ms) {
    CompiledPool p;
    p.index = 0;
    p.count = chance(0.05) ? 0.0 : std::floor(range(1, 30000));
    p.utilization = chance(0.05) ? 0.0 : chance(0.1) ? 1.0 : u01();
    p.opex_usd_per_gpu_hour = chance(0.1) ? 0.0 : range(0, 2);
    p.useful_life_months = life_months();
    const TimeMs service_days_ms = static_cast<TimeMs>(range(-200, 2500)) * k_ms_per_day;
    p.in_service_ms = t_ms - (chance(0.3) ? whole_months(pick(-10, 80)) : service_days_ms);
    if (chance(0.5)) {
      p.has_contract = true;
      p.contract_gpus = chance(0.1) ? p.count : std::floor(p.count * u01());
      p.contract_usd_per_gpu_hour = chance(0.1) ? p.opex_usd_per_gpu_hour * range(0, 1) : range(0.5, 4);
      const TimeMs contract_days_ms = static_cast<TimeMs>(range(-100, 2400)) * k_ms_per_day;
      p.contract_end_ms = t_ms + (chance(0.3) ? whole_months(pick(-3, 90)) : contract_days_ms);
    }
    p.liquidation_factor = range(0.05, 1.0);
    return p;
  }

  /// A rent near the pool's break-even (opex / utilization / decay_m for some m), or anywhere.
  double rent(const CompiledPool& p, const ModelParams& model) {
    const double r = u01();
    if (r < 0.05) return 0.0;
    if (r < 0.5 && p.utilization > 0.0) {
      const double decay = std::pow(1.0 - model.rent_decline_per_year, static_cast<double>(pick(0, 80)) / 12.0);
      const double even = p.opex_usd_per_gpu_hour / p.utilization / decay;
      return chance(0.3) ? even : even * range(0.98, 1.02);
    }
    return range(0, 6);
  }

  ModelParams model() {
    ModelParams m;
    const double r = u01();
    if (r < 0.15) {
      m.rent_decline_per_year = 0.0;  // flat rent: the margin never reaches zero by decay
    } else if (r < 0.3) {
      m.discount_rate = 0.0;
    } else if (r < 0.6) {
      m.rent_decline_per_year = range(0, 0.9);
      m.discount_rate = range(-0.5, 0.5);
    }  // else the defaults, 0.30 and 0.12
    return m;
  }
};

/// The valuer on both vector paths (AVX where the CPU has it, SSE2).
struct Valuers {
  Valuer best;
  Valuer baseline;
  explicit Valuers(const ModelParams& model)
      : best(model, Valuer::Simd::best), baseline(model, Valuer::Simd::baseline) {}
  [[nodiscard]] const ModelParams& model() const { return best.model(); }
};

void check_pool(const Valuers& valuers, const CompiledPool& pool, double rent, TimeMs t_ms) {
  const PoolValue want = reference_value_pool(pool, rent, t_ms, valuers.model());
  for (const Valuer* valuer : {&valuers.best, &valuers.baseline}) {
    const PoolValue got = valuer->value_pool(pool, rent, t_ms);
    INFO("rent ", rent, " life ", pool.useful_life_months, " contract ", pool.has_contract,
         valuer == &valuers.best ? " best" : " baseline");
    CHECK(bits(got.mark_usd) == bits(want.mark_usd));
    CHECK(bits(got.liquidation_usd) == bits(want.liquidation_usd));
    CHECK(bits(got.fwd12_usd) == bits(want.fwd12_usd));
    CHECK(bits(valuer->pool_fwd12_usd(pool, rent, t_ms)) == bits(want.fwd12_usd));
  }
}

}  // namespace

TEST_CASE("value_pool and pool_fwd12_usd equal the METHODOLOGY loop bit for bit on random pools") {
  PoolGen gen(20261126);
  int zero_marks = 0;
  int long_lives = 0;
  for (int model_i = 0; model_i < 40; ++model_i) {
    const Valuers valuer(gen.model());
    for (int i = 0; i < 500; ++i) {
      const TimeMs t_ms = k_t0 + static_cast<TimeMs>(gen.pick(-400, 400)) * k_ms_per_day;
      const CompiledPool pool = gen.pool(t_ms);
      const double rent = gen.rent(pool, valuer.model());
      check_pool(valuer, pool, rent, t_ms);
      zero_marks += valuer.best.value_pool(pool, rent, t_ms).mark_usd == 0.0 ? 1 : 0;
      long_lives += pool.useful_life_months > 240 ? 1 : 0;
    }
  }
  // The generator reaches the cases it is meant to.
  CHECK(zero_marks > 100);
  CHECK(long_lives > 100);
}

TEST_CASE("value_pool equals the METHODOLOGY loop for every remaining life 0..80 and every contract end") {
  const Valuers valuer{ModelParams{}};
  for (long life = 0; life <= 80; ++life) {
    for (long contract = -2; contract <= 82; contract += 3) {
      for (const double rent : {0.0, 0.35, 0.8, 1.7, 2.2, 4.0}) {
        CompiledPool p;
        p.count = 1000.0;
        p.utilization = 0.8;
        p.opex_usd_per_gpu_hour = 0.3;
        p.in_service_ms = k_t0;
        p.useful_life_months = static_cast<double>(life);
        p.has_contract = contract >= 0;
        p.contract_gpus = 400.0;
        p.contract_usd_per_gpu_hour = 2.5;
        p.contract_end_ms = k_t0 + whole_months(contract);
        p.liquidation_factor = 0.7;
        check_pool(valuer, p, rent, k_t0);
      }
    }
  }
}

TEST_CASE("value_pool equals the METHODOLOGY loop on inputs outside the validated config") {
  // Negative and NaN rents, negative counts, utilization and opex: the
  // zero-month shortcut must switch itself off, the results stay identical.
  PoolGen gen(7);
  const Valuers valuer{ModelParams{}};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int i = 0; i < 2000; ++i) {
    CompiledPool p = gen.pool(k_t0);
    if (gen.chance(0.3)) p.count = -p.count;
    if (gen.chance(0.3)) p.utilization = -p.utilization;
    if (gen.chance(0.2)) p.opex_usd_per_gpu_hour = -p.opex_usd_per_gpu_hour;
    const double r = gen.u01();
    const double rent = r < 0.3 ? -gen.range(0, 3) : r < 0.4 ? nan : r < 0.45 ? -0.0 : gen.range(0, 3);
    check_pool(valuer, p, rent, k_t0);
  }
  ModelParams growing;
  growing.rent_decline_per_year = -0.2;  // rents rise: the margin can turn positive late
  const Valuers rising{growing};
  for (int i = 0; i < 2000; ++i) {
    const CompiledPool p = gen.pool(k_t0);
    check_pool(rising, p, gen.rent(p, growing), k_t0);
  }
}

TEST_CASE("value_pools sums pools in order exactly as pool-by-pool reference values, for 0 to 5 pools") {
  PoolGen gen(99);
  for (int i = 0; i < 3000; ++i) {
    const Valuers valuers(gen.model());
    const TimeMs t_ms = k_t0 + static_cast<TimeMs>(gen.pick(-400, 400)) * k_ms_per_day;
    CompiledBorrower b;
    std::vector<double> values;
    const long pools = gen.pick(0, 5);
    std::vector<CompiledPool> parts;
    for (long k = 0; k < pools; ++k) {
      CompiledPool p = gen.pool(t_ms);
      p.index = static_cast<SeriesId>(gen.pick(0, 2));  // pools may share an index series
      parts.push_back(p);
    }
    b.parts = BorrowerParts({}, parts, {}, nullptr);
    for (int sid = 0; sid < 3; ++sid) values.push_back(gen.range(0, 4));
    for (const auto& p : b.pools()) values[p.index] = gen.rent(p, valuers.model());
    SlowTerms want;
    for (const auto& p : b.pools()) {
      const PoolValue v = reference_value_pool(p, values[p.index], t_ms, valuers.model());
      want.gpu_mark_usd += v.mark_usd;
      want.gpu_liquidation_usd += v.liquidation_usd;
      want.gpu_fwd12_usd += v.fwd12_usd;
    }
    for (const Valuer* valuer : {&valuers.best, &valuers.baseline}) {
      SlowTerms got;
      got.gpu_mark_usd = 123.0;  // value_pools overwrites the GPU part
      valuer->value_pools(b, values, t_ms, got);
      INFO("pools ", pools, valuer == &valuers.best ? " best" : " baseline");
      CHECK(bits(got.gpu_mark_usd) == bits(want.gpu_mark_usd));
      CHECK(bits(got.gpu_liquidation_usd) == bits(want.gpu_liquidation_usd));
      CHECK(bits(got.gpu_fwd12_usd) == bits(want.gpu_fwd12_usd));
    }
  }
}

TEST_CASE("value_pools over all variants at once equals value_pools variant by variant, 1 to 20 variants, shared rents") {
  PoolGen gen(4242);
  for (int i = 0; i < 2000; ++i) {
    const Valuers valuers(gen.model());
    const TimeMs t_ms = k_t0 + static_cast<TimeMs>(gen.pick(-400, 400)) * k_ms_per_day;
    CompiledBorrower b;
    const long pools = gen.pick(0, 4);
    std::vector<CompiledPool> parts;
    for (long k = 0; k < pools; ++k) {
      CompiledPool p = gen.pool(t_ms);
      p.index = static_cast<SeriesId>(gen.pick(0, 2));
      parts.push_back(p);
    }
    b.parts = BorrowerParts({}, parts, {}, nullptr);
    const auto variants = static_cast<std::size_t>(gen.pick(1, 20));
    std::vector<std::vector<double>> values(variants);
    for (auto& v : values) {
      for (int sid = 0; sid < 3; ++sid) v.push_back(gen.chance(0.2) ? 0.0 : gen.range(0, 4));
    }
    // Variants often share a rent (a scenario that leaves an index alone):
    // value_pools values such a pool once for all of them.
    for (std::size_t v = 1; v < variants; ++v) {
      for (int sid = 0; sid < 3; ++sid) {
        const auto earlier = static_cast<std::size_t>(gen.pick(0, static_cast<long>(v) - 1));
        if (gen.chance(0.4)) values[v][sid] = values[earlier][sid];
        if (gen.chance(0.05)) values[v][sid] = -0.0;  // same value as 0.0, other bits: valued apart, same result
      }
    }
    for (const Valuer* valuer : {&valuers.best, &valuers.baseline}) {
      std::vector<SlowTerms> got(variants);
      for (auto& s : got) s.gpu_fwd12_usd = 7.0;  // overwritten
      valuer->value_pools(b, values, t_ms, got);
      for (std::size_t v = 0; v < variants; ++v) {
        SlowTerms want;
        for (const auto& p : b.pools()) {
          const PoolValue pv = reference_value_pool(p, values[v][p.index], t_ms, valuers.model());
          want.gpu_mark_usd += pv.mark_usd;
          want.gpu_liquidation_usd += pv.liquidation_usd;
          want.gpu_fwd12_usd += pv.fwd12_usd;
        }
        INFO("pools ", pools, " variant ", v, " of ", variants, valuer == &valuers.best ? " best" : " baseline");
        CHECK(bits(got[v].gpu_mark_usd) == bits(want.gpu_mark_usd));
        CHECK(bits(got[v].gpu_liquidation_usd) == bits(want.gpu_liquidation_usd));
        CHECK(bits(got[v].gpu_fwd12_usd) == bits(want.gpu_fwd12_usd));
      }
    }
  }
}
