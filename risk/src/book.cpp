#include "riskd/risk/book.hpp"

#include <algorithm>

namespace riskd::risk {

Book::Book(const RiskConfig& config) : config_(config), valuer_(config.model) {
  for (const auto& [id, settings] : config_.series) {
    const SeriesId sid = catalog_.intern(id, settings.kind.value_or(SeriesKind::price));
    catalog_.state(sid).stale_after_s = settings.stale_after_s;
    catalog_.state(sid).max_jump = settings.max_jump;
  }
  // Built-in scenario first; a configured one of the same name replaces it.
  scenarios_.push_back(correlation_convergence_scenario());
  for (const auto& s : config_.scenarios) {
    if (s.name == k_correlation_convergence) {
      scenarios_.front() = s;
    } else {
      scenarios_.push_back(s);
    }
  }
  borrowers_.reserve(config_.borrowers.size());
  for (const auto& spec : config_.borrowers) {
    borrowers_.push_back(compile_borrower(spec, catalog_, config_.gpu_models, config_.model));
  }
  rebuild_id_index();
  // The compiled borrowers are the book from here on (upserts change them,
  // not the specs): keeping the specs would double the memory per borrower.
  config_.borrowers.clear();
  config_.borrowers.shrink_to_fit();
  results_.resize(borrowers_.size());
  evaluated_.assign(borrowers_.size(), 0);
  gpu_valid_.assign(borrowers_.size(), 0);
  ds_valid_.assign(borrowers_.size(), 0);
  rebuild_scenarios();
}

std::optional<std::size_t> Book::borrower_index(std::string_view id) const {
  const auto it = std::lower_bound(by_id_.begin(), by_id_.end(), id,
                                   [&](std::uint32_t i, std::string_view key) { return borrowers_[i].id < key; });
  if (it == by_id_.end() || borrowers_[*it].id != id) return std::nullopt;
  return *it;
}

void Book::rebuild_id_index() {
  by_id_.resize(borrowers_.size());
  for (std::size_t i = 0; i < by_id_.size(); ++i) by_id_[i] = static_cast<std::uint32_t>(i);
  std::sort(by_id_.begin(), by_id_.end(),
            [&](std::uint32_t a, std::uint32_t b) { return borrowers_[a].id < borrowers_[b].id; });
}

void Book::grow_arrays() {
  const std::size_t n = catalog_.size();
  has_value_.resize(n, 0);
  for (SeriesId sid = 0; sid < n; ++sid) has_value_[sid] = catalog_.state(sid).has_value ? 1 : 0;
  values_.resize(1 + scenarios_.size());
  for (auto& v : values_) v.resize(n, 0.0);
  for (SeriesId sid = 0; sid < n; ++sid) {
    const SeriesState& st = catalog_.state(sid);
    values_[0][sid] = st.has_value ? st.value : 0.0;
    for (std::size_t k = 0; k < scenarios_.size(); ++k) values_[1 + k][sid] = ops_[k][sid].apply(values_[0][sid]);
  }
}

void Book::rebuild_scenarios() {
  is_spread_series_.assign(catalog_.size(), false);
  for (const CompiledBorrower& b : borrowers_) {
    for (const SeriesId sid : b.spread_series) is_spread_series_[sid] = true;
  }
  auto dependents = [&](bool gpu) {
    return [&, gpu](auto&& emit) {
      for (std::size_t i = 0; i < borrowers_.size(); ++i) {
        for (const SeriesId sid : borrowers_[i].slow_series) {
          if ((catalog_.state(sid).kind == SeriesKind::gpu_rent) == gpu) emit(sid, static_cast<std::uint32_t>(i));
        }
      }
    };
  };
  gpu_dependents_.build(catalog_.size(), dependents(true));
  rate_dependents_.build(catalog_.size(), dependents(false));
  ops_.clear();
  for (const auto& s : scenarios_) ops_.push_back(resolve_shocks(s, catalog_, is_spread_series_));
  grow_arrays();
  stress_.resize(borrowers_.size() * scenarios_.size());
  slow_.resize(borrowers_.size() * (1 + scenarios_.size()));
  invalidate_all();
  evaluable_stale_ = true;
}

void Book::invalidate_all() {
  std::fill(gpu_valid_.begin(), gpu_valid_.end(), 0);
  std::fill(ds_valid_.begin(), ds_valid_.end(), 0);
}

std::vector<ShockOp> Book::resolve(const Scenario& scenario) const {
  return resolve_shocks(scenario, catalog_, is_spread_series_);
}

std::vector<double> Book::shocked(const std::vector<ShockOp>& ops, std::span<const double> values) const {
  std::vector<double> out(values.begin(), values.end());
  for (std::size_t sid = 0; sid < out.size() && sid < ops.size(); ++sid) out[sid] = ops[sid].apply(out[sid]);
  return out;
}

void Book::on_series_applied(SeriesId sid) {
  if (sid >= values_[0].size()) grow_arrays();
  const double v = catalog_.state(sid).value;
  const std::uint8_t has = catalog_.state(sid).has_value ? 1 : 0;
  if (has != has_value_[sid]) evaluable_stale_ = true;
  has_value_[sid] = has;
  values_[0][sid] = v;
  for (std::size_t k = 0; k < scenarios_.size(); ++k) values_[1 + k][sid] = ops_[k][sid].apply(v);
  for (const std::uint32_t i : gpu_dependents_[sid]) gpu_valid_[i] = 0;
  for (const std::uint32_t i : rate_dependents_[sid]) ds_valid_[i] = 0;
}

void Book::set_valuation_day(TimeMs t_ms) {
  if (day_set_ && t_ms == t_ms_) return;
  t_ms_ = t_ms;
  day_set_ = true;
  invalidate_all();
}

bool Book::evaluable(const CompiledBorrower& b) const {
  return std::all_of(b.required_series.begin(), b.required_series.end(),
                     [&](SeriesId sid) { return has_value_[sid] != 0; });
}

void Book::refresh_evaluable() {
  if (!evaluable_stale_ && evaluable_.size() == borrowers_.size()) return;
  evaluable_.resize(borrowers_.size());
  for (std::size_t i = 0; i < borrowers_.size(); ++i) evaluable_[i] = evaluable(borrowers_[i]) ? 1 : 0;
  evaluable_stale_ = false;
}

bool Book::is_evaluable(std::size_t i) {
  refresh_evaluable();
  return evaluable_[i] != 0;
}

bool Book::revalue_one(std::size_t i) {
  refresh_evaluable();
  if (evaluable_[i] == 0) {
    evaluated_[i] = 0;
    return false;
  }
  const std::size_t variants = 1 + scenarios_.size();
  const CompiledBorrower& b = borrowers_[i];
  SlowTerms* slow = slow_.data() + i * variants;
  if (gpu_valid_[i] == 0) {
    valuer_.value_pools(b, values_, t_ms_, std::span<SlowTerms>(slow, variants));  // all variants at once
    gpu_valid_[i] = 1;
  }
  if (ds_valid_[i] == 0) {
    for (std::size_t v = 0; v < variants; ++v)
      slow[v].debt_service_usd = valuer_.debt_service_usd(b, values_[v], t_ms_);
    ds_valid_[i] = 1;
  }
  const Figures f = valuer_.finish(b, slow[0], values_[0]);
  results_[i] = {f.ltv, f.liquidation_ltv, f.dscr, f.crypto_usd, f.crypto_liquidation_usd, f.mining12_usd};
  StressRatios* stress = stress_.data() + i * scenarios_.size();
  for (std::size_t k = 0; k < scenarios_.size(); ++k) stress[k] = valuer_.ratios(b, slow[1 + k], values_[1 + k]);
  evaluated_[i] = 1;
  return true;
}

Figures Book::figures(std::size_t i) const {
  // The amounts as Valuer::finish computes them (one definition), and the
  // ratios revalue_one stored.
  const BorrowerResult& r = results_[i];
  Figures f = figure_amounts(borrowers_[i], slow_[i * (1 + scenarios_.size())], r.crypto_usd,
                             r.crypto_liquidation_usd, r.mining12_usd);
  f.ltv = r.ltv;
  f.liquidation_ltv = r.liquidation_ltv;
  f.dscr = r.dscr;
  return f;
}

void Book::revalue_all() {
  refresh_evaluable();
  // A book of 100,000 borrowers does not fit in cache. The per-borrower
  // arrays are read in order (the hardware prefetches them); each
  // borrower's parts block (pools first) is asked for two borrowers ahead,
  // about one memory latency at ~0.3 us a borrower. Written inline: GCC
  // drops calls to a function whose only effect is a prefetch.
  constexpr std::size_t k_ahead = 2;
  const std::size_t n = borrowers_.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (i + k_ahead < n) {
      const CompiledBorrower& next = borrowers_[i + k_ahead];
      const auto* block = reinterpret_cast<const char*>(next.pools().data());  // the block's start
      const std::size_t bytes = next.parts.block_bytes();
      for (std::size_t offset = 0; offset < bytes; offset += 64) __builtin_prefetch(block + offset);
    }
    revalue_one(i);
  }
}

std::size_t Book::upsert(const BorrowerSpec& spec, bool rebuild) {
  CompiledBorrower compiled = compile_borrower(spec, catalog_, config_.gpu_models, config_.model);
  std::size_t i = 0;
  if (const auto found = borrower_index(spec.id)) {
    i = *found;
    borrowers_[i] = std::move(compiled);
    results_[i] = BorrowerResult{};
    evaluated_[i] = 0;
  } else {
    i = borrowers_.size();
    borrowers_.push_back(std::move(compiled));
    const auto pos = std::lower_bound(by_id_.begin(), by_id_.end(), spec.id,
                                      [&](std::uint32_t k, const std::string& key) { return borrowers_[k].id < key; });
    by_id_.insert(pos, static_cast<std::uint32_t>(i));
    results_.emplace_back();
    evaluated_.push_back(0);
    gpu_valid_.push_back(0);
    ds_valid_.push_back(0);
  }
  if (rebuild) rebuild_scenarios();
  return i;
}

bool Book::remove(std::string_view id, bool rebuild) {
  const auto found = borrower_index(id);
  if (!found) return false;
  const auto pos = static_cast<std::ptrdiff_t>(*found);
  const auto variants = static_cast<std::ptrdiff_t>(1 + scenarios_.size());
  borrowers_.erase(borrowers_.begin() + pos);
  results_.erase(results_.begin() + pos);
  evaluated_.erase(evaluated_.begin() + pos);
  const auto scenarios = static_cast<std::ptrdiff_t>(scenarios_.size());
  // Rows of the per-borrower tables; a borrower upserted since the last
  // rebuild has none yet (the rebuild sizes them and revalues every row).
  const auto erase_row = [pos](auto& rows, std::ptrdiff_t width) {
    if ((pos + 1) * width <= static_cast<std::ptrdiff_t>(rows.size())) {
      rows.erase(rows.begin() + pos * width, rows.begin() + (pos + 1) * width);
    }
  };
  erase_row(stress_, scenarios);
  erase_row(slow_, variants);
  gpu_valid_.erase(gpu_valid_.begin() + pos);
  ds_valid_.erase(ds_valid_.begin() + pos);
  std::erase(by_id_, static_cast<std::uint32_t>(*found));
  for (std::uint32_t& k : by_id_) k -= k > *found ? 1 : 0;
  if (rebuild) rebuild_scenarios();
  return true;
}

Figures Book::evaluate_on(std::size_t index, std::span<const double> values) const {
  return valuer_.evaluate(borrowers_[index], values, t_ms_);
}

std::vector<SeriesId> Book::missing_series() const {
  std::vector<SeriesId> missing;
  for (const auto& b : borrowers_) {
    for (const SeriesId sid : b.required_series) {
      if (!catalog_.state(sid).has_value && std::find(missing.begin(), missing.end(), sid) == missing.end()) {
        missing.push_back(sid);
      }
    }
  }
  std::sort(missing.begin(), missing.end());
  return missing;
}

Book::MemoryBytes Book::memory_bytes() const {
  MemoryBytes m;
  m.borrowers = borrowers_.capacity() * sizeof(CompiledBorrower);
  for (const CompiledBorrower& b : borrowers_) {
    m.borrowers += b.parts.block_bytes();
    for (const SeriesIdList* list :
         {&b.required_series, &b.slow_series, &b.price_series, &b.gpu_index_series, &b.spread_series}) {
      if (list->size() > SeriesIdList::k_inline) m.borrowers += list->size() * sizeof(SeriesId);
    }
  }
  m.results = results_.capacity() * sizeof(BorrowerResult) + stress_.capacity() * sizeof(StressRatios) +
              slow_.capacity() * sizeof(SlowTerms);
  m.lookup = by_id_.capacity() * sizeof(std::uint32_t) + gpu_dependents_.memory_bytes() +
             rate_dependents_.memory_bytes() + evaluable_.capacity() + evaluated_.capacity() + gpu_valid_.capacity() +
             ds_valid_.capacity();
  return m;
}

}  // namespace riskd::risk
