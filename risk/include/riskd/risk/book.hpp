#pragma once
// The live risk state: market values, the compiled book, stress scenarios
// and cached slow terms. Owned by exactly one writer (the engine thread);
// not thread-safe. Readers get copies of the results.
#include <span>
#include <string>
#include <vector>

#include "riskd/risk/index_rows.hpp"
#include "riskd/risk/market.hpp"
#include "riskd/risk/model.hpp"
#include "riskd/risk/valuation.hpp"

namespace riskd::risk {

/// What Book stores of a borrower's latest evaluation: the ratios and the
/// price-driven amounts (48 bytes). The other Figures fields are the
/// borrower's constants and its base slow terms, which Book keeps anyway:
/// Book::figures(i) rebuilds them with finish()'s arithmetic (bit-identical).
struct BorrowerResult {
  double ltv = 0.0;
  double liquidation_ltv = 0.0;
  double dscr = k_infinity;
  double crypto_usd = 0.0;
  double crypto_liquidation_usd = 0.0;
  double mining12_usd = 0.0;
};

/// What the covenant rules read of one evaluation: the base ratios and the
/// stress ratios, one per Book::scenarios() in the same order. The span is
/// non-owning (Book::view(i): valid until the book's next upsert or removal).
struct ResultView {
  double ltv = 0.0;
  double liquidation_ltv = 0.0;
  double dscr = k_infinity;
  std::span<const StressRatios> stress;
};

class Book {
 public:
  /// Builds the catalog from the config's series, compiles the borrowers and
  /// the scenarios (built-in correlation_convergence first unless configured).
  explicit Book(const RiskConfig& config);

  [[nodiscard]] SeriesCatalog& catalog() { return catalog_; }
  [[nodiscard]] const SeriesCatalog& catalog() const { return catalog_; }
  [[nodiscard]] const Valuer& valuer() const { return valuer_; }
  /// The config without its borrowers (config().borrowers is empty: the
  /// compiled borrowers() are the book).
  [[nodiscard]] const RiskConfig& config() const { return config_; }
  [[nodiscard]] const std::vector<Scenario>& scenarios() const { return scenarios_; }
  [[nodiscard]] const std::vector<CompiledBorrower>& borrowers() const { return borrowers_; }
  // Borrower i's latest evaluation (revalue_one / revalue_all); the
  // figures and ratios are meaningful where evaluated(i).
  /// False while a series it needs has no value (or before its first evaluation).
  [[nodiscard]] bool evaluated(std::size_t i) const { return evaluated_[i] != 0; }
  /// Its figures, exactly as Valuer::finish computed them (rebuilt from the
  /// stored part, the borrower's constants and its base slow terms).
  [[nodiscard]] Figures figures(std::size_t i) const;
  /// Its stress ratios, one per scenarios() (one flat array for the book: a
  /// vector per borrower cost ~40 bytes more).
  [[nodiscard]] std::span<const StressRatios> stress(std::size_t i) const {
    return {stress_.data() + i * scenarios_.size(), scenarios_.size()};
  }
  /// What its covenant rules read.
  [[nodiscard]] ResultView view(std::size_t i) const {
    const BorrowerResult& r = results_[i];
    return {r.ltv, r.liquidation_ltv, r.dscr, stress(i)};
  }
  [[nodiscard]] std::optional<std::size_t> borrower_index(std::string_view id) const;

  /// Base market values by SeriesId (meaningful where has_value).
  [[nodiscard]] std::span<const double> values() const { return values_[0]; }
  [[nodiscard]] bool has_value(SeriesId sid) const { return catalog_.state(sid).has_value; }

  /// Records that `sid`'s state (value, ts) was just applied by the validator.
  void on_series_applied(SeriesId sid);

  /// Sets the valuation day (00:00 UTC of the event time); a new day
  /// invalidates every cached term.
  void set_valuation_day(TimeMs t_ms);
  [[nodiscard]] TimeMs valuation_day() const { return t_ms_; }

  /// Evaluates every borrower whose series all have values, at the current
  /// day and market, reusing slow terms not invalidated since.
  void revalue_all();
  /// Evaluates borrower `i` alone, exactly as revalue_all() would (same
  /// caches, same arithmetic); sets evaluated(i) to whether it is
  /// evaluable. Returns that flag. O(1) unless its slow terms are invalid.
  bool revalue_one(std::size_t i);
  /// True when every series borrower `i` needs has a value.
  [[nodiscard]] bool is_evaluable(std::size_t i);

  /// Market variant `v` (0: base, 1 + k: scenario k) by SeriesId.
  [[nodiscard]] std::span<const double> variant_values(std::size_t v) const { return values_[v]; }
  [[nodiscard]] std::size_t variant_count() const { return values_.size(); }
  /// Cached slow terms of borrower `i` per variant; valid after revalue_one(i)
  /// until the next on_series_applied / set_valuation_day.
  [[nodiscard]] std::span<const SlowTerms> slow_terms(std::size_t i) const {
    const std::size_t variants = 1 + scenarios_.size();
    return {slow_.data() + i * variants, variants};
  }

  /// Adds or replaces a borrower (kinds must already be validated), keeping
  /// results of the others. Returns its index.
  /// With `rebuild` false (a run of changes), the per-series tables, a pass
  /// over every borrower, are left for rebuild(): nothing may read or value
  /// the book in between.
  std::size_t upsert(const BorrowerSpec& spec, bool rebuild = true);
  /// Removes a borrower; returns false if unknown. Indices after it shift.
  /// `rebuild` as for upsert.
  bool remove(std::string_view id, bool rebuild = true);
  /// Rebuilds the per-series tables after upsert/remove(..., false).
  void rebuild() { rebuild_scenarios(); }

  /// Evaluates one borrower on an arbitrary market (what-if, evaluate).
  [[nodiscard]] Figures evaluate_on(std::size_t index, std::span<const double> values) const;
  /// The scenario market derived from `values`.
  [[nodiscard]] std::vector<double> shocked(const std::vector<ShockOp>& ops, std::span<const double> values) const;
  [[nodiscard]] const std::vector<ShockOp>& scenario_ops(std::size_t k) const { return ops_[k]; }
  /// Shock ops for an ad-hoc scenario (what-if), resolved like configured ones.
  [[nodiscard]] std::vector<ShockOp> resolve(const Scenario& scenario) const;

  /// Every series some borrower needs that has no value yet.
  [[nodiscard]] std::vector<SeriesId> missing_series() const;

  /// Bytes held per part, for the memory figures (capacities; heap blocks
  /// of the compiled borrowers' own vectors included, allocator overhead not).
  struct MemoryBytes {
    std::size_t borrowers = 0;  // compiled borrowers and their vectors
    std::size_t results = 0;    // results and cached slow terms
    std::size_t lookup = 0;     // id index, dependents, per-borrower flags
  };
  [[nodiscard]] MemoryBytes memory_bytes() const;

 private:
  void rebuild_scenarios();
  void rebuild_id_index();
  void invalidate_all();
  void grow_arrays();
  bool evaluable(const CompiledBorrower& b) const;
  void refresh_evaluable();

  RiskConfig config_;
  SeriesCatalog catalog_;
  Valuer valuer_;
  std::vector<Scenario> scenarios_;
  std::vector<bool> is_spread_series_;
  std::vector<std::uint8_t> has_value_;      // [series], mirrors SeriesState::has_value
  std::vector<std::uint8_t> evaluable_;      // [borrower]: every required series has a value
  bool evaluable_stale_ = true;              // recompute evaluable_ (a series got its first value)
  std::vector<std::vector<ShockOp>> ops_;    // [scenario][series]
  std::vector<std::vector<double>> values_;  // [0]: base, [1 + k]: scenario k
  std::vector<CompiledBorrower> borrowers_;
  std::vector<std::uint32_t> by_id_;  // borrower indices sorted by id (borrower_index)
  std::vector<BorrowerResult> results_;
  std::vector<std::uint8_t> evaluated_;  // [borrower]
  std::vector<StressRatios> stress_;  // [borrower * scenarios().size() + scenario]
  // Slow terms, cached per borrower and market variant, in two parts with
  // their own invalidation: GPU pools (day, GPU indices) and debt service
  // (day, rates), so a rate tick never re-runs the pool cash-flow loops.
  std::vector<SlowTerms> slow_;          // [borrower * variant_count() + variant]
  std::vector<std::uint8_t> gpu_valid_;  // [borrower]
  std::vector<std::uint8_t> ds_valid_;   // [borrower]
  IndexRows gpu_dependents_;             // [series] -> borrowers
  IndexRows rate_dependents_;            // [series] -> borrowers
  TimeMs t_ms_ = 0;
  bool day_set_ = false;
};

}  // namespace riskd::risk
