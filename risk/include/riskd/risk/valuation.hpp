#pragma once
// METHODOLOGY.md valuation: collateral, CFADS, debt service, ratios, breach
// levels. Pure functions over a borrower compiled against a SeriesCatalog and
// a dense array of series values (indexed by SeriesId). Thread-safe: a
// Valuer is immutable after construction.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <utility>
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

// The compiled parts below are trivially copyable, their sizes multiples of
// 8 and fields ordered largest first, so that BorrowerParts packs them in
// one block without padding (issue 5: memory per borrower).
struct CompiledPool {
  double count = 0.0;
  double utilization = 0.0;
  double opex_usd_per_gpu_hour = 0.0;
  TimeMs in_service_ms = 0;
  double useful_life_months = 0.0;
  double contract_gpus = 0.0;
  double contract_usd_per_gpu_hour = 0.0;
  TimeMs contract_end_ms = 0;
  double liquidation_factor = 1.0;  // 1 - δ', fixed by the pool size and its model
  SeriesId index = 0;
  bool has_contract = false;
};

struct CompiledMining {
  double hashrate_ph = 0.0;
  double opex_usd_per_ph_day = 0.0;
  double btc_per_ph_day = 0.0;
  SeriesId series = 0;             // the BTC price series or the hashprice series
  bool derived_from_price = true;  // h = btc_per_ph_day * P(series), else h = value(series)
};

struct CompiledFacility {
  double principal_usd = 0.0;
  double amortization_usd_per_year = 0.0;
  TimeMs maturity_ms = 0;
  double fixed_rate = 0.0;  // annual fraction (fixed_pct / 100)
  double spread_bps = 0.0;
  double floor_rate = 0.0;  // annual fraction (floor_pct / 100)
  SeriesId base = 0;
  SeriesId spread_series = 0;
  bool floating = false;
  bool spread_from_series = false;
};

static_assert(sizeof(CompiledHolding) == 24 && sizeof(CompiledPool) == 80 && sizeof(CompiledMining) == 32 &&
              sizeof(CompiledFacility) == 64);

/// The variable-length parts of a compiled borrower (holdings, GPU pools,
/// facilities, the optional mining block) in ONE heap block, pools first:
/// [pools][facilities][holdings][mining]. Each part was a std::vector (24
/// bytes plus a malloc block each) and the mining block an optional (48
/// bytes even when absent); a typical borrower (1 coin, 2 pools, 2
/// facilities) now pays 16 bytes here plus one 328-byte block (issue 5:
/// memory per borrower; risk/README.md "Memory layout"). One block also
/// keeps what the valuation reads of a borrower in consecutive cache lines.
/// Deep-copied on copy; immutable once built (build a new one to change it).
class BorrowerParts {
 public:
  static constexpr std::size_t k_max_count = UINT16_MAX;

  BorrowerParts() = default;
  /// Throws std::length_error when a part holds more than k_max_count entries.
  BorrowerParts(std::span<const CompiledHolding> crypto, std::span<const CompiledPool> pools,
                std::span<const CompiledFacility> facilities, const CompiledMining* mining);
  BorrowerParts(const BorrowerParts& other);
  BorrowerParts(BorrowerParts&& other) noexcept { take(other); }
  BorrowerParts& operator=(const BorrowerParts& other);
  BorrowerParts& operator=(BorrowerParts&& other) noexcept {
    if (this != &other) take(other);
    return *this;
  }
  ~BorrowerParts() = default;

  [[nodiscard]] std::span<const CompiledPool> pools() const { return {at<CompiledPool>(0), n_pools_}; }
  [[nodiscard]] std::span<const CompiledFacility> facilities() const {
    return {at<CompiledFacility>(facilities_offset()), n_facilities_};
  }
  [[nodiscard]] std::span<const CompiledHolding> crypto() const {
    return {at<CompiledHolding>(crypto_offset()), n_crypto_};
  }
  [[nodiscard]] const CompiledMining* mining() const {
    return has_mining_ ? at<CompiledMining>(mining_offset()) : nullptr;
  }
  /// Size of the heap block (0 when every part is empty).
  [[nodiscard]] std::size_t block_bytes() const { return mining_offset() + (has_mining_ ? sizeof(CompiledMining) : 0); }

 private:
  [[nodiscard]] std::size_t facilities_offset() const { return n_pools_ * sizeof(CompiledPool); }
  [[nodiscard]] std::size_t crypto_offset() const {
    return facilities_offset() + n_facilities_ * sizeof(CompiledFacility);
  }
  [[nodiscard]] std::size_t mining_offset() const { return crypto_offset() + n_crypto_ * sizeof(CompiledHolding); }
  template <typename T>
  [[nodiscard]] const T* at(std::size_t offset) const {
    return block_ ? std::launder(reinterpret_cast<const T*>(block_.get() + offset)) : nullptr;
  }
  void copy_from(const BorrowerParts& other);
  /// Moves `other`'s block here and leaves it empty (every part empty).
  void take(BorrowerParts& other) noexcept {
    block_ = std::move(other.block_);
    n_pools_ = std::exchange(other.n_pools_, 0);
    n_facilities_ = std::exchange(other.n_facilities_, 0);
    n_crypto_ = std::exchange(other.n_crypto_, 0);
    has_mining_ = std::exchange(other.has_mining_, false);
  }

  std::unique_ptr<std::byte[]> block_;
  std::uint16_t n_pools_ = 0;
  std::uint16_t n_facilities_ = 0;
  std::uint16_t n_crypto_ = 0;
  bool has_mining_ = false;
};

/// A borrower with series resolved to ids and constants precomputed.
struct CompiledBorrower {
  std::string id;
  Covenants covenants;
  double cash_usd = 0.0;
  double fixed_costs_usd_per_year = 0.0;
  double debt_usd = 0.0;  // D = Σ principal
  // The parts, in one heap block (BorrowerParts); set through `parts`.
  [[nodiscard]] std::span<const CompiledHolding> crypto() const { return parts.crypto(); }
  [[nodiscard]] std::span<const CompiledPool> pools() const { return parts.pools(); }
  [[nodiscard]] std::span<const CompiledFacility> facilities() const { return parts.facilities(); }
  [[nodiscard]] const CompiledMining* mining() const { return parts.mining(); }  // nullptr: no mining
  BorrowerParts parts;
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

/// Every amount of Valuer::finish (ratios left at their defaults) from its
/// price-driven terms: the one definition finish and Book::figures share, so
/// figures rebuilt from stored terms are the same bits.
[[nodiscard]] Figures figure_amounts(const CompiledBorrower& b, const SlowTerms& slow, double crypto_usd,
                                     double crypto_liquidation_usd, double mining12_usd);

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
