#include "riskd/risk/valuation.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>
#include <memory>
#include <stdexcept>

#include <immintrin.h>  // SSE2 (baseline x86-64); AVX only where the CPU has it

namespace riskd::risk {
namespace {

constexpr int k_table_months = 1200;  // pools beyond 100 years of life fall back to std::pow
constexpr long k_fast_months = 120;   // longer remaining lives take the month-by-month loop
constexpr long k_pad = 4;             // doubles read past the last month by one vector (AVX: 4 lanes)

double fire_sale_discount(double count, const GpuModelParams& gm, const ModelParams& mp) {
  const double depth_ratio = gm.secondary_depth_units > 0.0 ? count / gm.secondary_depth_units : k_infinity;
  const double delta =
      std::min(mp.fire_sale_max, mp.fire_sale_base + mp.fire_sale_impact * std::pow(depth_ratio, mp.fire_sale_exponent));
  return gm.successor_released ? 1.0 - (1.0 - delta) * (1.0 - mp.obsolescence_discount) : delta;
}

}  // namespace

namespace {

template <typename T>
std::byte* copy_part(std::span<const T> part, std::byte* to) {
  std::uninitialized_copy(part.begin(), part.end(), reinterpret_cast<T*>(to));
  return to + part.size_bytes();
}

std::uint16_t part_count(std::size_t n, const char* what) {
  if (n > BorrowerParts::k_max_count) {
    throw std::length_error(std::string("compiled borrower: more than 65535 ") + what);
  }
  return static_cast<std::uint16_t>(n);
}

}  // namespace

BorrowerParts::BorrowerParts(std::span<const CompiledHolding> crypto, std::span<const CompiledPool> pools,
                             std::span<const CompiledFacility> facilities, const CompiledMining* mining)
    : n_pools_(part_count(pools.size(), "GPU pools")),
      n_facilities_(part_count(facilities.size(), "facilities")),
      n_crypto_(part_count(crypto.size(), "crypto holdings")),
      has_mining_(mining != nullptr) {
  const std::size_t bytes = block_bytes();
  if (bytes == 0) return;
  block_ = std::make_unique_for_overwrite<std::byte[]>(bytes);  // new[] aligns for any fundamental type
  std::byte* to = copy_part(pools, block_.get());
  to = copy_part(facilities, to);
  to = copy_part(crypto, to);
  if (mining) copy_part(std::span<const CompiledMining>(mining, 1), to);
}

BorrowerParts::BorrowerParts(const BorrowerParts& other) { copy_from(other); }

BorrowerParts& BorrowerParts::operator=(const BorrowerParts& other) {
  if (this != &other) copy_from(other);
  return *this;
}

void BorrowerParts::copy_from(const BorrowerParts& other) {
  *this = BorrowerParts(other.crypto(), other.pools(), other.facilities(), other.mining());
}

CompiledBorrower compile_borrower(const BorrowerSpec& spec, SeriesCatalog& catalog,
                                  const std::map<std::string, GpuModelParams>& gpu_models,
                                  const ModelParams& model) {
  CompiledBorrower b;
  b.id = spec.id;
  b.covenants = spec.covenants;
  b.cash_usd = spec.cash_usd;
  b.fixed_costs_usd_per_year = spec.fixed_costs_usd_per_year;
  std::vector<CompiledHolding> crypto;
  std::vector<CompiledPool> pools;
  std::optional<CompiledMining> mining;
  std::vector<CompiledFacility> facilities;
  crypto.reserve(spec.crypto.size());
  pools.reserve(spec.gpus.size());
  facilities.reserve(spec.facilities.size());
  for (const auto& h : spec.crypto) {
    const SeriesId sid = catalog.intern(h.series, SeriesKind::price);
    crypto.push_back({sid, h.units, h.haircut});
    add_unique(b.price_series, sid);
    add_unique(b.required_series, sid);
  }
  for (const auto& p : spec.gpus) {
    CompiledPool cp;
    cp.index = catalog.intern(p.index_series, SeriesKind::gpu_rent);
    cp.count = p.count;
    cp.utilization = p.utilization;
    cp.opex_usd_per_gpu_hour = p.opex_usd_per_gpu_hour;
    cp.in_service_ms = p.in_service_ms;
    cp.useful_life_months = p.useful_life_months;
    if (p.contract) {
      cp.has_contract = true;
      cp.contract_gpus = p.contract->gpus;
      cp.contract_usd_per_gpu_hour = p.contract->usd_per_gpu_hour;
      cp.contract_end_ms = p.contract->end_ms;
    }
    const auto gm = gpu_models.find(p.model);
    const GpuModelParams params = gm == gpu_models.end() ? GpuModelParams{} : gm->second;
    cp.liquidation_factor = 1.0 - fire_sale_discount(p.count, params, model);
    pools.push_back(cp);
    add_unique(b.gpu_index_series, cp.index);
    add_unique(b.slow_series, cp.index);
    add_unique(b.required_series, cp.index);
  }
  if (spec.mining) {
    const Mining& m = *spec.mining;
    CompiledMining cm;
    cm.hashrate_ph = m.hashrate_ph;
    cm.opex_usd_per_ph_day = m.opex_usd_per_ph_day;
    if (!m.hashprice_series.empty()) {
      cm.derived_from_price = false;
      cm.series = catalog.intern(m.hashprice_series, SeriesKind::hashprice);
    } else {
      cm.derived_from_price = true;
      cm.btc_per_ph_day = m.btc_per_ph_day.value_or(0.0);
      cm.series = catalog.intern(m.btc_series, SeriesKind::price);
    }
    add_unique(b.required_series, cm.series);
    mining = cm;
  }
  for (const auto& f : spec.facilities) {
    CompiledFacility cf;
    cf.principal_usd = f.principal_usd;
    cf.amortization_usd_per_year = f.amortization_usd_per_year;
    cf.maturity_ms = f.maturity_ms;
    if (const auto* fixed = std::get_if<FixedRate>(&f.rate)) {
      cf.fixed_rate = fixed->fixed_pct / 100.0;
    } else {
      const auto& fl = std::get<FloatingRate>(f.rate);
      cf.floating = true;
      cf.base = catalog.intern(fl.base_series, SeriesKind::rate);
      add_unique(b.slow_series, cf.base);
      add_unique(b.required_series, cf.base);
      if (!fl.spread_series.empty()) {
        cf.spread_from_series = true;
        cf.spread_series = catalog.intern(fl.spread_series, SeriesKind::rate);
        add_unique(b.slow_series, cf.spread_series);
        add_unique(b.required_series, cf.spread_series);
        add_unique(b.spread_series, cf.spread_series);
      } else {
        cf.spread_bps = fl.spread_bps;
      }
      cf.floor_rate = fl.floor_pct / 100.0;
    }
    b.debt_usd += f.principal_usd;
    facilities.push_back(cf);
  }
  b.parts = BorrowerParts(crypto, pools, facilities, mining ? &*mining : nullptr);
  std::sort(b.required_series.begin(), b.required_series.end());
  std::sort(b.slow_series.begin(), b.slow_series.end());
  return b;
}

Valuer::Valuer(const ModelParams& model, Simd simd)
    : model_(model), use_avx_(simd == Simd::best && __builtin_cpu_supports("avx")) {
  // k_pad entries of padding: the month loops below read whole vectors.
  decay_.resize(k_table_months + 1 + k_pad);
  discount_.resize(k_table_months + 1 + k_pad);
  for (int m = 0; m < static_cast<int>(decay_.size()); ++m) {
    const double years = static_cast<double>(m) / 12.0;
    decay_[static_cast<std::size_t>(m)] = std::pow(1.0 - model_.rent_decline_per_year, years);
    discount_[static_cast<std::size_t>(m)] = std::pow(1.0 + model_.discount_rate, years);
  }
  decay_nonincreasing_ = std::is_sorted(decay_.rbegin(), decay_.rend());
}

namespace {

struct PoolSchedule {
  long months_left = 0;          // M
  double contract_months = 0.0;  // mc
};

PoolSchedule schedule(const CompiledPool& pool, TimeMs t_ms) {
  const double age = std::max(0.0, months_between(pool.in_service_ms, t_ms));
  PoolSchedule s;
  const double left = std::max(0.0, pool.useful_life_months - age);  // >= 0, or +inf
  // For 0 <= left < 2^62 truncation is floor; the call to floor() would cost more than the rest.
  s.months_left = static_cast<long>(left < 0x1p62 ? left : std::floor(left));
  s.contract_months = pool.has_contract ? months_between(t_ms, pool.contract_end_ms) : 0.0;
  return s;
}

/// CF_m of METHODOLOGY.md for month m with spot rent already decayed.
double monthly_cash_flow_usd(const CompiledPool& pool, const PoolSchedule& s, long m, double rent_m) {
  const double contracted = static_cast<double>(m) <= s.contract_months ? pool.contract_gpus : 0.0;
  return k_hours_per_month *
         (contracted * std::max(0.0, pool.contract_usd_per_gpu_hour - pool.opex_usd_per_gpu_hour) +
          (pool.count - contracted) * std::max(0.0, rent_m * pool.utilization - pool.opex_usd_per_gpu_hour));
}

/// The METHODOLOGY.md loop as written, month by month: the path for pools
/// with more than k_fast_months left (beyond the table it calls std::pow).
PoolValue value_pool_by_month(const CompiledPool& pool, const PoolSchedule& s, double rent_usd_per_gpu_hour,
                              const ModelParams& model, const double* decay, const double* discount) {
  PoolValue v;
  for (long m = 1; m <= s.months_left; ++m) {
    const auto mi = static_cast<std::size_t>(m);
    const bool tabled = m <= k_table_months;
    const double years = static_cast<double>(m) / 12.0;
    const double decay_m = tabled ? decay[mi] : std::pow(1.0 - model.rent_decline_per_year, years);
    const double discount_m = tabled ? discount[mi] : std::pow(1.0 + model.discount_rate, years);
    const double cf = monthly_cash_flow_usd(pool, s, m, rent_usd_per_gpu_hour * decay_m);
    v.mark_usd += cf / discount_m;
    if (m <= 12) v.fwd12_usd += cf;
  }
  v.liquidation_usd = v.mark_usd * pool.liquidation_factor;
  return v;
}

// The fast path computes the same per-month terms two months at a time
// (SSE2, baseline x86-64), or four with AVX where the CPU has it, and then
// sums them one by one in month order. Bit-identity with value_pool_by_month
// holds because
// - each lane does the scalar code's operations in the same order, and IEEE
//   +, -, *, / are correctly rounded whatever the vector width; max(x, 0) is
//   std::max(0.0, x) for every x (NaN and -0.0 give +0.0); nothing is
//   contracted into FMA (neither target has FMA);
// - the sums add the same terms in the same order, except the months after
//   the spot margin R_m * u - c has fallen to <= 0 outside the contract: those
//   CF_m are ±0.0 and are left out. Adding ±0.0 changes no sum that starts at
//   +0.0 (such a sum is never -0.0, and x + ±0.0 == x for any other x). The
//   margin never rises again when decay_m never rises with m, R >= 0 and
//   u >= 0 (each rounded step is monotone); otherwise every month is summed.
// tests/risk/test_valuation_exact.cpp checks both paths against the
// METHODOLOGY loop.

/// Per-month terms of one pool at one rent (index = month; k_pad entries of
/// padding after month k_fast_months for the last vector).
struct PoolMonths {
  long months = 0;  // CF_m of the months after this one are all ±0.0
  alignas(32) double cf_usd[k_fast_months + 1 + k_pad];
  alignas(32) double discounted_usd[k_fast_months + 1 + k_pad];  // CF_m / (1 + d)^(m/12)
};

/// The months of one pool that share a contracted GPU count n_m:
/// contract_usd_per_hour = n_m * max(0, r_c - c), spot_gpus = N - n_m.
struct MonthRange {
  long first = 0;
  long last = 0;
  double contract_usd_per_hour = 0.0;
  double spot_gpus = 0.0;
  bool stop_at_zero_margin = false;  // CF_m is ±0.0 from the first month with margin <= 0 on
};

/// Writes CF_m (and with `discount`, CF_m / discount_m) for the months of
/// `range`, possibly k_pad - 1 more; returns the last month written whose
/// CF_m may be nonzero. Two months per step (SSE2).
long month_terms_sse2(const double* decay, const double* discount, double rent_usd_per_gpu_hour,
                      const CompiledPool& pool, const MonthRange& range, double* cf_usd, double* discounted_usd) {
  const __m128d zero = _mm_setzero_pd();
  const __m128d rent = _mm_set1_pd(rent_usd_per_gpu_hour);
  const __m128d utilization = _mm_set1_pd(pool.utilization);
  const __m128d opex = _mm_set1_pd(pool.opex_usd_per_gpu_hour);
  const __m128d contract = _mm_set1_pd(range.contract_usd_per_hour);
  const __m128d gpus = _mm_set1_pd(range.spot_gpus);
  const __m128d hours = _mm_set1_pd(k_hours_per_month);
  for (long m = range.first; m <= range.last; m += 2) {
    const __m128d rent_m = _mm_mul_pd(rent, _mm_loadu_pd(decay + m));           // R * decay_m
    const __m128d margin = _mm_sub_pd(_mm_mul_pd(rent_m, utilization), opex);  // R_m * u - c
    if (range.stop_at_zero_margin && (_mm_movemask_pd(_mm_cmpgt_pd(margin, zero)) & 1) == 0) return m - 1;
    const __m128d spot = _mm_mul_pd(gpus, _mm_max_pd(margin, zero));  // (N - n_m) * max(0, margin)
    const __m128d cf = _mm_mul_pd(hours, _mm_add_pd(contract, spot));  // H * (contract + spot)
    _mm_storeu_pd(cf_usd + m, cf);
    if (discount != nullptr) _mm_storeu_pd(discounted_usd + m, _mm_div_pd(cf, _mm_loadu_pd(discount + m)));
  }
  return range.last;
}

/// month_terms_sse2, four months per step; only called where the CPU has AVX.
__attribute__((target("avx"))) long month_terms_avx(const double* decay, const double* discount,
                                                   double rent_usd_per_gpu_hour, const CompiledPool& pool,
                                                   const MonthRange& range, double* cf_usd, double* discounted_usd) {
  const __m256d zero = _mm256_setzero_pd();
  const __m256d rent = _mm256_set1_pd(rent_usd_per_gpu_hour);
  const __m256d utilization = _mm256_set1_pd(pool.utilization);
  const __m256d opex = _mm256_set1_pd(pool.opex_usd_per_gpu_hour);
  const __m256d contract = _mm256_set1_pd(range.contract_usd_per_hour);
  const __m256d gpus = _mm256_set1_pd(range.spot_gpus);
  const __m256d hours = _mm256_set1_pd(k_hours_per_month);
  for (long m = range.first; m <= range.last; m += 4) {
    const __m256d rent_m = _mm256_mul_pd(rent, _mm256_loadu_pd(decay + m));
    const __m256d margin = _mm256_sub_pd(_mm256_mul_pd(rent_m, utilization), opex);
    if (range.stop_at_zero_margin && (_mm256_movemask_pd(_mm256_cmp_pd(margin, zero, _CMP_GT_OQ)) & 1) == 0) {
      return m - 1;
    }
    const __m256d spot = _mm256_mul_pd(gpus, _mm256_max_pd(margin, zero));
    const __m256d cf = _mm256_mul_pd(hours, _mm256_add_pd(contract, spot));
    _mm256_storeu_pd(cf_usd + m, cf);
    if (discount != nullptr) _mm256_storeu_pd(discounted_usd + m, _mm256_div_pd(cf, _mm256_loadu_pd(discount + m)));
  }
  return range.last;
}

long month_terms(bool avx, const double* decay, const double* discount, double rent_usd_per_gpu_hour,
                 const CompiledPool& pool, const MonthRange& range, double* cf_usd, double* discounted_usd) {
  return avx ? month_terms_avx(decay, discount, rent_usd_per_gpu_hour, pool, range, cf_usd, discounted_usd)
             : month_terms_sse2(decay, discount, rent_usd_per_gpu_hour, pool, range, cf_usd, discounted_usd);
}

/// Number of months m in 1..months_left with m <= mc (the contracted ones).
long contracted_months(double contract_months, long months_left) {
  if (!(contract_months >= 1.0)) return 0;  // also NaN: no m <= NaN
  if (contract_months >= static_cast<double>(months_left)) return months_left;
  return static_cast<long>(contract_months);  // floor, mc in [1, M)
}

/// CF_m (and with `discount`, CF_m / discount_m) for months 1..months
/// (months <= k_fast_months); returns the month after which every CF_m is ±0.0.
long fill_months(bool avx, const double* decay, const double* discount, bool decay_nonincreasing,
                 const CompiledPool& pool,
                 const PoolSchedule& s, double rent_usd_per_gpu_hour, long months, double* cf_usd,
                 double* discounted_usd) {
  const long kc = contracted_months(s.contract_months, months);
  const double contract_margin = std::max(0.0, pool.contract_usd_per_gpu_hour - pool.opex_usd_per_gpu_hour);
  long last = 0;
  if (kc > 0) {
    const double n = pool.contract_gpus;
    const MonthRange contracted{1, kc, n * contract_margin, pool.count - n, false};
    last = month_terms(avx, decay, discount, rent_usd_per_gpu_hour, pool, contracted, cf_usd, discounted_usd);
  }
  if (kc < months) {
    const double n = 0.0;
    MonthRange spot{kc + 1, months, n * contract_margin, pool.count - n, false};
    // CF_m = H * (±0 + (N - 0) * +0) once the margin is <= 0, if it never rises again.
    spot.stop_at_zero_margin = decay_nonincreasing && rent_usd_per_gpu_hour >= 0.0 && pool.utilization >= 0.0 &&
                               spot.contract_usd_per_hour == 0.0 && std::isfinite(spot.spot_gpus);
    last = month_terms(avx, decay, discount, rent_usd_per_gpu_hour, pool, spot, cf_usd, discounted_usd);
  }
  return std::min(last, months);
}

/// One pool valued at one rent (in one market variant).
struct PoolJob {
  const CompiledPool* pool = nullptr;
  PoolSchedule schedule;
  double rent_usd_per_gpu_hour = 0.0;
  PoolValue* out = nullptr;
};

/// The Valuer's month tables and choices, for the functions below.
struct MonthTables {
  const double* decay = nullptr;
  const double* discount = nullptr;
  bool decay_nonincreasing = false;
  bool avx = false;
  const ModelParams* model = nullptr;
};

/// mark and fwd12 of N pools: each sum in month order, the N pools' addition
/// chains interleaved (one chain of dependent additions is bound by the add
/// latency; N of them run side by side).
template <int N>
void sum_months(const PoolJob* jobs, const PoolMonths* pm) {
  double mark_usd[N] = {};
  double fwd12_usd[N] = {};
  long common = pm[0].months;
  for (int j = 1; j < N; ++j) common = std::min(common, pm[j].months);
  long m = 1;
  for (; m <= std::min(12L, common); ++m) {
    for (int j = 0; j < N; ++j) {
      mark_usd[j] += pm[j].discounted_usd[m];
      fwd12_usd[j] += pm[j].cf_usd[m];
    }
  }
  for (; m <= common; ++m) {
    for (int j = 0; j < N; ++j) mark_usd[j] += pm[j].discounted_usd[m];
  }
  for (int j = 0; j < N; ++j) {
    for (long k = m; k <= pm[j].months; ++k) {
      mark_usd[j] += pm[j].discounted_usd[k];
      if (k <= 12) fwd12_usd[j] += pm[j].cf_usd[k];
    }
    *jobs[j].out = {mark_usd[j], mark_usd[j] * jobs[j].pool->liquidation_factor, fwd12_usd[j]};
  }
}

constexpr std::size_t k_max_jobs = 4;  // pools valued side by side

/// Sets *job.out for up to k_max_jobs jobs.
void value_jobs(const MonthTables& t, const PoolJob* jobs, std::size_t n) {
  const bool fast =
      std::all_of(jobs, jobs + n, [](const PoolJob& j) { return j.schedule.months_left <= k_fast_months; });
  if (!fast) {
    for (std::size_t j = 0; j < n; ++j) {
      *jobs[j].out = value_pool_by_month(*jobs[j].pool, jobs[j].schedule, jobs[j].rent_usd_per_gpu_hour, *t.model,
                                         t.decay, t.discount);
    }
    return;
  }
  PoolMonths pm[k_max_jobs];
  for (std::size_t j = 0; j < n; ++j) {
    pm[j].months = fill_months(t.avx, t.decay, t.discount, t.decay_nonincreasing, *jobs[j].pool, jobs[j].schedule,
                               jobs[j].rent_usd_per_gpu_hour, jobs[j].schedule.months_left, pm[j].cf_usd,
                               pm[j].discounted_usd);
  }
  switch (n) {
    case 4: sum_months<4>(jobs, pm); break;
    case 3: sum_months<3>(jobs, pm); break;
    case 2: sum_months<2>(jobs, pm); break;
    default: sum_months<1>(jobs, pm); break;
  }
}

void add_pool(SlowTerms& slow, const PoolValue& v) {
  slow.gpu_mark_usd += v.mark_usd;
  slow.gpu_liquidation_usd += v.liquidation_usd;
  slow.gpu_fwd12_usd += v.fwd12_usd;
}

void clear_pools(SlowTerms& slow) {
  slow.gpu_mark_usd = 0.0;
  slow.gpu_liquidation_usd = 0.0;
  slow.gpu_fwd12_usd = 0.0;
}

}  // namespace

PoolValue Valuer::value_pool(const CompiledPool& pool, double rent_usd_per_gpu_hour, TimeMs t_ms) const {
  const MonthTables t{decay_.data(), discount_.data(), decay_nonincreasing_, use_avx_, &model_};
  PoolValue v;
  const PoolJob job{&pool, schedule(pool, t_ms), rent_usd_per_gpu_hour, &v};
  value_jobs(t, &job, 1);
  return v;
}

double Valuer::pool_fwd12_usd(const CompiledPool& pool, double rent_usd_per_gpu_hour, TimeMs t_ms) const {
  const PoolSchedule s = schedule(pool, t_ms);
  alignas(32) double cf_usd[12 + 1 + k_pad];
  const long last = fill_months(use_avx_, decay_.data(), nullptr, decay_nonincreasing_, pool, s, rent_usd_per_gpu_hour,
                                std::min(12L, s.months_left), cf_usd, nullptr);
  double fwd12 = 0.0;
  for (long m = 1; m <= last; ++m) fwd12 += cf_usd[m];
  return fwd12;
}

void Valuer::value_pools(const CompiledBorrower& b, std::span<const double> values, TimeMs t_ms,
                         SlowTerms& slow) const {
  const MonthTables t{decay_.data(), discount_.data(), decay_nonincreasing_, use_avx_, &model_};
  clear_pools(slow);
  // Up to k_max_jobs pools side by side; their values added in pool order.
  for (std::size_t first = 0; first < b.pools().size(); first += k_max_jobs) {
    const std::size_t n = std::min(k_max_jobs, b.pools().size() - first);
    PoolJob jobs[k_max_jobs];
    PoolValue out[k_max_jobs];
    for (std::size_t j = 0; j < n; ++j) {
      const CompiledPool& pool = b.pools()[first + j];
      jobs[j] = {&pool, schedule(pool, t_ms), values[pool.index], &out[j]};
    }
    value_jobs(t, jobs, n);
    for (std::size_t j = 0; j < n; ++j) add_pool(slow, out[j]);
  }
}

void Valuer::value_pools(const CompiledBorrower& b, std::span<const std::vector<double>> values, TimeMs t_ms,
                         std::span<SlowTerms> slow) const {
  const MonthTables t{decay_.data(), discount_.data(), decay_nonincreasing_, use_avx_, &model_};
  for (SlowTerms& s : slow) clear_pools(s);
  // Pool by pool (each variant adds its pools in pool order), the schedule
  // once, up to k_max_jobs variants side by side: they have about the same
  // number of months, so their addition chains overlap best.
  //
  // A pool's value is a function of the pool, the day and the rent alone
  // (value_jobs gives each job the same bits whatever runs beside it), so
  // variants whose rent for the pool has the same bits share one valuation:
  // a scenario that does not shock the pool's index (a BTC crash) costs no
  // pool arithmetic. Up to k_dedup_variants variants; more take the plain loop.
  constexpr std::size_t k_dedup_variants = 16;
  if (slow.size() <= k_dedup_variants) {
    for (const CompiledPool& pool : b.pools()) {
      const PoolSchedule s = schedule(pool, t_ms);
      PoolJob jobs[k_dedup_variants];
      PoolValue out[k_dedup_variants];
      std::uint64_t rent_bits[k_dedup_variants];
      std::uint8_t job_of[k_dedup_variants];  // [variant] -> its job
      std::size_t n = 0;
      for (std::size_t v = 0; v < slow.size(); ++v) {
        const double rent = values[v][pool.index];
        const auto bits = std::bit_cast<std::uint64_t>(rent);
        std::size_t j = 0;
        while (j < n && rent_bits[j] != bits) ++j;
        if (j == n) {
          rent_bits[n] = bits;
          jobs[n] = {&pool, s, rent, &out[n]};
          ++n;
        }
        job_of[v] = static_cast<std::uint8_t>(j);
      }
      for (std::size_t first = 0; first < n; first += k_max_jobs) {
        value_jobs(t, jobs + first, std::min(k_max_jobs, n - first));
      }
      for (std::size_t v = 0; v < slow.size(); ++v) add_pool(slow[v], out[job_of[v]]);
    }
    return;
  }
  for (const CompiledPool& pool : b.pools()) {
    const PoolSchedule s = schedule(pool, t_ms);
    for (std::size_t first = 0; first < slow.size(); first += k_max_jobs) {
      const std::size_t n = std::min(k_max_jobs, slow.size() - first);
      PoolJob jobs[k_max_jobs];
      PoolValue out[k_max_jobs];
      for (std::size_t j = 0; j < n; ++j) jobs[j] = {&pool, s, values[first + j][pool.index], &out[j]};
      value_jobs(t, jobs, n);
      for (std::size_t j = 0; j < n; ++j) add_pool(slow[first + j], out[j]);
    }
  }
}

double Valuer::debt_service_usd(const CompiledBorrower& b, std::span<const double> values, TimeMs t_ms,
                                double spread_shift_bps, bool apply_floors) const {
  double ds = 0.0;
  for (const auto& f : b.facilities()) {
    const double tau = std::max(0.0, years_between(t_ms, f.maturity_ms));
    const double w = std::min(1.0, tau);
    double rate = f.fixed_rate;
    if (f.floating) {
      const double spread = f.spread_from_series ? values[f.spread_series] : f.spread_bps;
      rate = (values[f.base] + spread + spread_shift_bps) / 10000.0;
      if (apply_floors) rate = std::max(f.floor_rate, rate);
    }
    const double balloon = tau <= 1.0 ? std::max(0.0, f.principal_usd - f.amortization_usd_per_year * tau) : 0.0;
    ds += f.principal_usd * rate * w + f.amortization_usd_per_year * w + balloon;
  }
  return ds;
}

SlowTerms Valuer::slow_terms(const CompiledBorrower& b, std::span<const double> values, TimeMs t_ms) const {
  SlowTerms s;
  value_pools(b, values, t_ms, s);
  s.debt_service_usd = debt_service_usd(b, values, t_ms);
  return s;
}

namespace {

/// The terms that move with coin prices and hashprice: recomputed on every tick.
struct PriceTerms {
  double crypto_usd = 0.0;
  double crypto_liquidation_usd = 0.0;
  double mining12_usd = 0.0;
};

PriceTerms price_terms(const CompiledBorrower& b, std::span<const double> values) {
  PriceTerms p;
  for (const auto& h : b.crypto()) {
    const double mark = h.units * values[h.series];
    p.crypto_usd += mark;
    p.crypto_liquidation_usd += mark * (1.0 - h.haircut);
  }
  if (const CompiledMining* mining = b.mining()) {
    const CompiledMining& m = *mining;
    const double hashprice = m.derived_from_price ? m.btc_per_ph_day * values[m.series] : values[m.series];
    p.mining12_usd = m.hashrate_ph * 365.0 * std::max(0.0, hashprice - m.opex_usd_per_ph_day);
  }
  return p;
}

/// D / C, with D = 0 giving 0 and C <= 0 giving +infinity (METHODOLOGY.md "Ratios").
double loan_to_value(double debt_usd, double collateral_usd) {
  if (debt_usd == 0.0) return 0.0;
  return collateral_usd <= 0.0 ? k_infinity : debt_usd / collateral_usd;
}

/// CFADS / DS, +infinity when DS = 0.
double coverage(double cfads_usd, double debt_service_usd) {
  return debt_service_usd == 0.0 ? k_infinity : cfads_usd / debt_service_usd;
}

}  // namespace

Figures figure_amounts(const CompiledBorrower& b, const SlowTerms& slow, double crypto_usd,
                       double crypto_liquidation_usd, double mining12_usd) {
  Figures f;
  f.crypto_usd = crypto_usd;
  f.crypto_liquidation_usd = crypto_liquidation_usd;
  f.mining12_usd = mining12_usd;
  f.gpu_usd = slow.gpu_mark_usd;
  f.gpu_liquidation_usd = slow.gpu_liquidation_usd;
  f.cash_usd = b.cash_usd;
  f.debt_usd = b.debt_usd;
  f.debt_service_usd = slow.debt_service_usd;
  f.cfads_usd = slow.gpu_fwd12_usd + f.mining12_usd - b.fixed_costs_usd_per_year;
  f.mark_usd = f.crypto_usd + f.gpu_usd + f.cash_usd;
  f.liquidation_usd = f.crypto_liquidation_usd + f.gpu_liquidation_usd + f.cash_usd;
  return f;
}

Figures Valuer::finish(const CompiledBorrower& b, const SlowTerms& slow, std::span<const double> values) const {
  const PriceTerms p = price_terms(b, values);
  Figures f = figure_amounts(b, slow, p.crypto_usd, p.crypto_liquidation_usd, p.mining12_usd);
  f.ltv = loan_to_value(f.debt_usd, f.mark_usd);
  f.liquidation_ltv = loan_to_value(f.debt_usd, f.liquidation_usd);
  f.dscr = coverage(f.cfads_usd, f.debt_service_usd);
  return f;
}

StressRatios Valuer::ratios(const CompiledBorrower& b, const SlowTerms& slow, std::span<const double> values) const {
  const PriceTerms p = price_terms(b, values);
  StressRatios r;
  r.ltv = loan_to_value(b.debt_usd, p.crypto_usd + slow.gpu_mark_usd + b.cash_usd);
  r.liquidation_ltv = loan_to_value(b.debt_usd, p.crypto_liquidation_usd + slow.gpu_liquidation_usd + b.cash_usd);
  r.dscr = coverage(slow.gpu_fwd12_usd + p.mining12_usd - b.fixed_costs_usd_per_year, slow.debt_service_usd);
  return r;
}

BreachLevels Valuer::breach_levels(const CompiledBorrower& b, std::span<const double> values, TimeMs t_ms,
                                   const Figures& figures) const {
  BreachLevels out;
  const double max_ltv = b.covenants.max_ltv;
  const double min_dscr = b.covenants.min_dscr;

  // Price: P* = (D / max_ltv - C_other) / u, with the series' holdings aggregated.
  for (const SeriesId sid : b.price_series) {
    double units = 0.0;
    double other_crypto_usd = 0.0;
    for (const auto& h : b.crypto()) {
      if (h.series == sid) {
        units += h.units;
      } else {
        other_crypto_usd += h.units * values[h.series];
      }
    }
    const double other_usd = other_crypto_usd + figures.gpu_usd + figures.cash_usd;
    std::optional<double> level;
    if (units > 0.0) {
      const double p = (figures.debt_usd / max_ltv - other_usd) / units;
      if (p > 0.0) level = p;
    }
    out.price_usd.emplace_back(sid, level);
  }

  // GPU index: root of DSCR(R) = min_dscr in [0, R_now]; DSCR is non-decreasing in R.
  for (const SeriesId sid : b.gpu_index_series) {
    std::optional<double> level;
    const double ds = figures.debt_service_usd;
    const double r_now = values[sid];
    if (ds != 0.0) {
      double other_fwd12 = 0.0;
      for (const auto& pool : b.pools()) {
        if (pool.index != sid) other_fwd12 += pool_fwd12_usd(pool, values[pool.index], t_ms);
      }
      const double fixed_cfads = other_fwd12 + figures.mining12_usd - b.fixed_costs_usd_per_year;
      auto dscr_at = [&](double rent) {
        double fwd12 = 0.0;
        for (const auto& pool : b.pools()) {
          if (pool.index == sid) fwd12 += pool_fwd12_usd(pool, rent, t_ms);
        }
        return (fixed_cfads + fwd12) / ds;
      };
      if (dscr_at(r_now) < min_dscr) {
        level = r_now;
      } else if (dscr_at(0.0) < min_dscr) {
        double lo = 0.0;  // DSCR(lo) < min_dscr
        double hi = r_now;  // DSCR(hi) >= min_dscr
        for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; ++i) {
          const double mid = 0.5 * (lo + hi);
          if (dscr_at(mid) < min_dscr) {
            lo = mid;
          } else {
            hi = mid;
          }
        }
        level = hi;
      }
    }
    out.gpu_index_usd_per_gpu_hour.emplace_back(sid, level);
  }

  // Spread: Δ* = (CFADS / min_dscr - DS_nofloor) / Σ_floating P_f w_f / 10000.
  double floating_weight = 0.0;
  for (const auto& f : b.facilities()) {
    if (!f.floating) continue;
    const double w = std::min(1.0, std::max(0.0, years_between(t_ms, f.maturity_ms)));
    floating_weight += f.principal_usd * w / 10000.0;
  }
  if (floating_weight > 0.0) {
    if (figures.dscr < min_dscr) {
      out.spread_bps = 0.0;
    } else {
      const double ds_no_floor = debt_service_usd(b, values, t_ms, 0.0, false);
      out.spread_bps = std::max(0.0, (figures.cfads_usd / min_dscr - ds_no_floor) / floating_weight);
    }
  }
  return out;
}

std::vector<ShockOp> resolve_shocks(const Scenario& scenario, const SeriesCatalog& catalog,
                                    const std::vector<bool>& is_spread_series) {
  std::vector<ShockOp> ops(catalog.size());
  auto lookup = [&](const std::string& key) -> std::optional<double> {
    const auto it = scenario.shocks.find(key);
    if (it == scenario.shocks.end()) return std::nullopt;
    return it->second;
  };
  for (SeriesId sid = 0; sid < catalog.size(); ++sid) {
    const SeriesState& st = catalog.state(sid);
    std::optional<double> shock = lookup(st.id);
    if (!shock && sid < is_spread_series.size() && is_spread_series[sid]) shock = lookup("@spread");
    if (!shock) shock = lookup("@" + std::string(to_string(st.kind)));
    if (!shock) continue;
    ops[sid].mode = st.kind == SeriesKind::rate ? ShockOp::Mode::additive_bps : ShockOp::Mode::relative;
    ops[sid].amount = *shock;
  }
  return ops;
}

}  // namespace riskd::risk
