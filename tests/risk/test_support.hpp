#pragma once
// Builders for hand-made borrowers and markets in risk tests.
#include <string>
#include <vector>

#include "riskd/risk/book.hpp"
#include "riskd/risk/time.hpp"
#include "riskd/risk/valuation.hpp"

namespace riskd::risk::test {

inline TimeMs day(const char* yyyy_mm_dd) { return *parse_date(yyyy_mm_dd); }
inline constexpr TimeMs k_day_ms = k_ms_per_day;

/// A catalog + value array for a handful of series.
struct MiniMarket {
  SeriesCatalog catalog;
  std::vector<double> values;
  SeriesId add(const std::string& id, SeriesKind kind, double value) {
    const SeriesId sid = catalog.intern(id, kind);
    if (values.size() <= sid) values.resize(sid + 1);
    values[sid] = value;
    return sid;
  }
  void set(const std::string& id, double value) { values[*catalog.find(id)] = value; }
  CompiledBorrower compile(const BorrowerSpec& spec, const ModelParams& model = {},
                           const std::map<std::string, GpuModelParams>& gpu_models = {}) {
    CompiledBorrower b = compile_borrower(spec, catalog, gpu_models, model);
    values.resize(catalog.size());
    return b;
  }
};

}  // namespace riskd::risk::test
