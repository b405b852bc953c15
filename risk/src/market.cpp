#include "riskd/risk/market.hpp"

namespace riskd::risk {

std::string_view to_string(TickOutcome outcome) {
  switch (outcome) {
    case TickOutcome::applied: return "applied";
    case TickOutcome::rejected_parse: return "rejected_parse";
    case TickOutcome::rejected_value: return "rejected_value";
    case TickOutcome::out_of_order: return "out_of_order";
    case TickOutcome::outlier: return "outlier";
    case TickOutcome::unknown_series: return "unknown_series";
  }
  return "applied";
}

SeriesId SeriesCatalog::intern(std::string_view id, SeriesKind kind) {
  if (auto found = find(id)) return *found;
  const auto sid = static_cast<SeriesId>(states_.size());
  SeriesState st;
  st.id = std::string(id);
  st.kind = kind;
  states_.push_back(std::move(st));
  by_name_.emplace(std::string(id), sid);
  return sid;
}

std::optional<SeriesId> SeriesCatalog::find(std::string_view id) const {
  const auto it = by_name_.find(std::string(id));
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

}  // namespace riskd::risk
