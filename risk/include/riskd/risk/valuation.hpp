#pragma once
// METHODOLOGY.md valuation: collateral, CFADS, debt service, ratios, breach
// levels. Pure functions over a borrower compiled against a SeriesCatalog and
// a dense array of series values (indexed by SeriesId). Thread-safe: a
// Valuer is immutable after construction.
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "riskd/risk/market.hpp"
#include "riskd/risk/model.hpp"
#include "riskd/risk/series_id_list.hpp"

namespace riskd::risk {

inline constexpr double k_infinity = std::numeric_limits<double>::infinity();

struct CompiledHolding {
  SeriesId series = 0;
  double units = 0.0;
  double haircut = 0.0;
};

struct CompiledPool {
  SeriesId index = 0;
  double count = 0.0;
  double utilization = 0.0;
  double opex_usd_per_gpu_hour = 0.0;
  TimeMs in_service_ms = 0;
  double useful_life_months = 0.0;
  bool has_contract = false;
  double contract_gpus = 0.0;
  double contract_usd_per_gpu_hour = 0.0;
  TimeMs contract_end_ms = 0;
  double liquidation_factor = 1.0;  // 1 - δ', fixed by the pool size and its model
};

struct CompiledMining {
  double hashrate_ph = 0.0;
  double opex_usd_per_ph_day = 0.0;
  bool derived_from_price = true;  // h = btc_per_ph_day * P(series), else h = value(series)
  double btc_per_ph_day = 0.0;
  SeriesId series = 0;  // the BTC price series or the hashprice series
};

struct CompiledFacility {
  double principal_usd = 0.0;
  double amortization_usd_per_year = 0.0;
  TimeMs maturity_ms = 0;
  bool floating = false;
  double fixed_rate = 0.0;  // annual fraction (fixed_pct / 100)
  SeriesId base = 0;
  bool spread_from_series = false;
  SeriesId spread_series = 0;
  double spread_bps = 0.0;
  double floor_rate = 0.0;  // annual fraction (floor_pct / 100)
};

/// A borrower with series resolved to ids and constants precomputed.
struct CompiledBorrower {
  std::string id;
  Covenants covenants;
  double cash_usd = 0.0;
  double fixed_costs_usd_per_year = 0.0;
  double debt_usd = 0.0;  // D = Σ principal
  std::vector<CompiledHolding> crypto;
  std::vector<CompiledPool> pools;
  std::optional<CompiledMining> mining;
  std::vector<CompiledFacility> facilities;
  // Series lists, derived from the above by compile_borrower (SeriesIdList:
  // 16 bytes, three ids in place; memory per borrower, risk/README.md).
  SeriesIdList required_series;   // every series it reads, sorted, unique
  SeriesIdList slow_series;       // gpu indices and rates: inputs of SlowTerms, sorted
  SeriesIdList price_series;      // distinct crypto series held, in first-use order
  SeriesIdList gpu_index_series;  // distinct GPU indices used, in first-use order
  SeriesIdList spread_series;     // series used as a facility's spread_series
};

/// Interns every series the borrower uses (kinds as the config resolved them)
/// and precomputes constants. `gpu_models` unknown to the map get defaults.
CompiledBorrower compile_borrower(const BorrowerSpec& spec, SeriesCatalog& catalog,
                                  const std::map<std::string, GpuModelParams>& gpu_models,
                                  const ModelParams& model);

struct PoolValue {
  double mark_usd = 0.0;
  double liquidation_usd = 0.0;
  double fwd12_usd = 0.0;  // forward 12-month cash flow (CFADS contribution)
};

/// The figures that change only with the valuation day, GPU indices and
/// rates: cached by the engine between such changes.
struct SlowTerms {
  double gpu_mark_usd = 0.0;
  double gpu_liquidation_usd = 0.0;
  double gpu_fwd12_usd = 0.0;
  double debt_service_usd = 0.0;
};

/// Ratios and amounts of one borrower on one market (METHODOLOGY.md "Ratios").
/// Infinite ratios are +inf (reported as null).
struct Figures {
  double ltv = 0.0;
  double liquidation_ltv = 0.0;
  double dscr = k_infinity;
  double debt_usd = 0.0;
  double cfads_usd = 0.0;
  double debt_service_usd = 0.0;
  double crypto_usd = 0.0;
  double crypto_liquidation_usd = 0.0;
  double gpu_usd = 0.0;
  double gpu_liquidation_usd = 0.0;
  double cash_usd = 0.0;
  double mark_usd = 0.0;
  double liquidation_usd = 0.0;
  double mining12_usd = 0.0;
};

/// LTV, liquidation LTV and DSCR of one borrower on one (stressed) market.
struct StressRatios {
  double ltv = 0.0;
  double liquidation_ltv = 0.0;
  double dscr = k_infinity;
};

/// Distance to breach (METHODOLOGY.md); nullopt is reported as null.
struct BreachLevels {
  std::vector<std::pair<SeriesId, std::optional<double>>> price_usd;           // per crypto series
  std::vector<std::pair<SeriesId, std::optional<double>>> gpu_index_usd_per_gpu_hour;  // per GPU index
  std::optional<double> spread_bps;
};

class Valuer {
 public:
  /// Which vector instructions the GPU pool loops use: `best` takes AVX where
  /// the CPU has it, `baseline` only SSE2. Both give bit-identical results.
  enum class Simd : std::uint8_t { best, baseline };

  explicit Valuer(const ModelParams& model, Simd simd = Simd::best);

  [[nodiscard]] const ModelParams& model() const { return model_; }

  /// Income-approach value of one pool at spot index `rent_usd_per_gpu_hour`, valued at day `t_ms`.
  [[nodiscard]] PoolValue value_pool(const CompiledPool& pool, double rent_usd_per_gpu_hour,
                                     TimeMs t_ms) const;
  /// Forward 12-month cash flow of one pool only (cheaper than value_pool).
  [[nodiscard]] double pool_fwd12_usd(const CompiledPool& pool, double rent_usd_per_gpu_hour,
                                      TimeMs t_ms) const;

  /// Annual debt service DS at day `t_ms`. `spread_shift_bps` is added to every
  /// floating facility's rate before its floor; `apply_floors` false ignores floors.
  [[nodiscard]] double debt_service_usd(const CompiledBorrower& b, std::span<const double> values,
                                        TimeMs t_ms, double spread_shift_bps = 0.0,
                                        bool apply_floors = true) const;

  /// Sets the GPU part of `slow` (mark, liquidation, fwd12 over all pools).
  void value_pools(const CompiledBorrower& b, std::span<const double> values, TimeMs t_ms, SlowTerms& slow) const;
  /// value_pools for every market variant at once: slow[v] gets exactly what
  /// value_pools(b, values[v], t_ms, slow[v]) sets (slow.size() variants).
  /// Faster: each pool's schedule is computed once and the variants' month
  /// sums run side by side.
  void value_pools(const CompiledBorrower& b, std::span<const std::vector<double>> values, TimeMs t_ms,
                   std::span<SlowTerms> slow) const;

  [[nodiscard]] SlowTerms slow_terms(const CompiledBorrower& b, std::span<const double> values,
                                     TimeMs t_ms) const;
  /// Completes the evaluation with the price-driven terms (crypto, mining).
  [[nodiscard]] Figures finish(const CompiledBorrower& b, const SlowTerms& slow,
                               std::span<const double> values) const;
  /// Only the three ratios of finish(): the per-scenario hot path.
  [[nodiscard]] StressRatios ratios(const CompiledBorrower& b, const SlowTerms& slow,
                                    std::span<const double> values) const;
  [[nodiscard]] Figures evaluate(const CompiledBorrower& b, std::span<const double> values,
                                 TimeMs t_ms) const {
    return finish(b, slow_terms(b, values, t_ms), values);
  }

  /// Breach levels for the borrower's covenants; `figures` = evaluate(b, values, t_ms).
  [[nodiscard]] BreachLevels breach_levels(const CompiledBorrower& b, std::span<const double> values,
                                           TimeMs t_ms, const Figures& figures) const;

 private:
  ModelParams model_;
  // Tables by month m = 0..k_table_months, then a few months more of padding
  // for the vector loops of value_pool (valuation.cpp).
  std::vector<double> decay_;     // (1 - g)^(m/12)
  std::vector<double> discount_;  // (1 + d)^(m/12)
  bool decay_nonincreasing_ = true;  // decay_[m + 1] <= decay_[m]: a pool's spot margin never rises again
  bool use_avx_ = false;
};

/// Shock of one series under one scenario.
struct ShockOp {
  enum class Mode : std::uint8_t { none, relative, additive_bps } mode = Mode::none;
  double amount = 0.0;
  [[nodiscard]] double apply(double value) const {
    switch (mode) {
      case Mode::relative: return value * (1.0 + amount);
      case Mode::additive_bps: return value + amount;
      case Mode::none: break;
    }
    return value;
  }
};

/// Resolves a scenario's keys for every series in the catalog: the series id
/// wins over `@spread` (series in `spread_series`), which wins over the kind's group.
std::vector<ShockOp> resolve_shocks(const Scenario& scenario, const SeriesCatalog& catalog,
                                    const std::vector<bool>& is_spread_series);

}  // namespace riskd::risk
