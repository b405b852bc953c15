#pragma once
// Market state: the latest applied value of every series, interned to dense
// ids so the hot path indexes arrays. Single writer (the engine thread).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "riskd/risk/model.hpp"

namespace riskd::risk {

using SeriesId = std::uint32_t;

/// Outcome of one tick (METHODOLOGY.md "Tick validation"); names are the
/// `outcome` label values of riskd_ticks_total.
enum class TickOutcome : std::uint8_t {
  applied,
  rejected_parse,
  rejected_value,
  out_of_order,
  outlier,
  unknown_series,
};
inline constexpr std::size_t k_tick_outcome_count = 6;
std::string_view to_string(TickOutcome outcome);

/// State of one series as the validator and the engine see it.
struct SeriesState {
  std::string id;
  SeriesKind kind = SeriesKind::price;
  std::optional<double> stale_after_s;  // seconds
  std::optional<double> max_jump;       // relative

  bool has_value = false;
  double value = 0.0;  // in the kind's unit (USD/coin, USD/GPU-hour, bp, USD/PH/s/day)
  TimeMs ts_ms = 0;    // ts of the newest applied tick

  std::optional<double> held_value;  // an outlier awaiting confirmation
  TimeMs held_ts_ms = 0;

  std::array<std::uint64_t, k_tick_outcome_count> counts{};  // by TickOutcome
};

/// Interns series ids. Ids are dense and never reused, so arrays indexed by
/// SeriesId stay valid as the catalog grows.
class SeriesCatalog {
 public:
  /// Adds the series (or returns its id if present; the kind of an existing
  /// series is not changed).
  SeriesId intern(std::string_view id, SeriesKind kind);
  [[nodiscard]] std::optional<SeriesId> find(std::string_view id) const;
  [[nodiscard]] std::size_t size() const { return states_.size(); }
  [[nodiscard]] SeriesState& state(SeriesId id) { return states_[id]; }
  [[nodiscard]] const SeriesState& state(SeriesId id) const { return states_[id]; }
  [[nodiscard]] const std::vector<SeriesState>& states() const { return states_; }

 private:
  std::vector<SeriesState> states_;
  std::unordered_map<std::string, SeriesId> by_name_;
};

}  // namespace riskd::risk
