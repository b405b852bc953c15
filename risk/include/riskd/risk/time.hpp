#pragma once
// Event-time arithmetic of METHODOLOGY.md "Units and time".
// All instants are UTC milliseconds since the Unix epoch (TimeMs).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace riskd::risk {

using TimeMs = std::int64_t;

inline constexpr TimeMs k_ms_per_day = 86'400'000;
inline constexpr double k_seconds_per_month = 30.4375 * 86400.0;
inline constexpr double k_seconds_per_year = 365.25 * 86400.0;
inline constexpr double k_hours_per_month = 730.0;  // H = 8760 / 12

/// Valuation time t: 00:00:00 UTC of the day containing `event_ms`.
constexpr TimeMs valuation_day_ms(TimeMs event_ms) {
  TimeMs day = event_ms / k_ms_per_day;
  if (event_ms % k_ms_per_day < 0) --day;  // floor for instants before 1970
  return day * k_ms_per_day;
}

/// months(a, b) = (b - a) in seconds / (30.4375 * 86400); negative when b < a.
constexpr double months_between(TimeMs a_ms, TimeMs b_ms) {
  return (static_cast<double>(b_ms - a_ms) / 1000.0) / k_seconds_per_month;
}

/// years(a, b) = (b - a) in seconds / (365.25 * 86400); negative when b < a.
constexpr double years_between(TimeMs a_ms, TimeMs b_ms) {
  return (static_cast<double>(b_ms - a_ms) / 1000.0) / k_seconds_per_year;
}

/// Days since 1970-01-01 of a proleptic Gregorian civil date (H. Hinnant's algorithm).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

/// Parses a config date `YYYY-MM-DD` (00:00:00 UTC of that day); nullopt if malformed
/// or not a calendar date.
std::optional<TimeMs> parse_date(std::string_view text);

/// Parses RFC 3339 (`2025-12-19T10:00:00.123Z`, `...+02:00`, `t`/`z` and a space
/// separator accepted); fractional seconds beyond milliseconds are truncated.
/// nullopt if malformed or out of range.
std::optional<TimeMs> parse_rfc3339(std::string_view text);

/// Formats as RFC 3339 UTC: `2025-12-19T10:00:00Z`, with `.mmm` only when the
/// milliseconds are non-zero.
std::string format_rfc3339(TimeMs t_ms);

}  // namespace riskd::risk
