#include "riskd/risk/model.hpp"

namespace riskd::risk {

std::string_view to_string(SeriesKind kind) {
  switch (kind) {
    case SeriesKind::price: return "price";
    case SeriesKind::gpu_rent: return "gpu_rent";
    case SeriesKind::rate: return "rate";
    case SeriesKind::hashprice: return "hashprice";
  }
  return "price";
}

std::optional<SeriesKind> series_kind_from_string(std::string_view text) {
  if (text == "price") return SeriesKind::price;
  if (text == "gpu_rent") return SeriesKind::gpu_rent;
  if (text == "rate") return SeriesKind::rate;
  if (text == "hashprice") return SeriesKind::hashprice;
  return std::nullopt;
}

Scenario correlation_convergence_scenario() {
  return Scenario{std::string(k_correlation_convergence),
                  {{"@price", -0.5}, {"@gpu_rent", -0.4}, {"@hashprice", -0.5}, {"@spread", 300.0}}};
}

}  // namespace riskd::risk
