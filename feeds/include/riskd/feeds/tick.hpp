#pragma once
// Market tick decoding and validation (METHODOLOGY.md "Tick validation",
// INTERFACES.md "Market tick"). Pure functions: no I/O, no clock, no throw.
#include <optional>
#include <string>
#include <string_view>

#include "riskd/risk/market.hpp"

namespace riskd::feeds {

inline constexpr std::size_t k_max_tick_bytes = 64 * 1024;

/// A syntactically valid tick, not yet checked against market state.
struct Tick {
  std::string series;
  double value = 0.0;  // may be non-finite or <= 0: validate() decides
  risk::TimeMs ts_ms = 0;
};

/// Result of decode_tick: a tick, or the reason it is `rejected_parse`.
struct Decoded {
  std::optional<Tick> tick;
  std::string error;  // set when !tick: e.g. "field 'value': expected a number, got string"
};

/// Decodes `{"series": str, "value": number, "ts": RFC 3339 str | epoch ms int}`.
/// Extra fields are ignored. `fallback_ts_ms` (the Kafka message timestamp) is
/// used when `ts` is absent; without it a missing `ts` is a parse error.
/// Over k_max_tick_bytes, not JSON, a missing field or a wrong type: rejected.
Decoded decode_tick(std::string_view text, std::optional<risk::TimeMs> fallback_ts_ms);

/// For tests and benchmarks: decode_tick reads the plain shape feeds send
/// (three fields, no escapes, short numbers) with a scanner of its own and
/// everything else with Boost.JSON's parser; both give the same result.
namespace detail {
/// decode_tick without the fast path: every text through Boost.JSON's parser.
Decoded decode_tick_parser(std::string_view text, std::optional<risk::TimeMs> fallback_ts_ms);
/// Whether decode_tick reads `text` through its fast path.
bool takes_fast_path(std::string_view text);
}  // namespace detail

/// Checks a decoded tick against its (known) series and, if it is accepted,
/// applies it: sets value/ts, clears any held outlier. Returns the outcome
/// (never unknown_series or rejected_parse; the caller decides those) and
/// does not touch `state.counts`. Implements the outlier hold-and-confirm rule.
risk::TickOutcome validate_and_apply(const Tick& tick, risk::SeriesState& state);

}  // namespace riskd::feeds
