#pragma once
// The DOM tick decoder riskd used until 2026-11-26 (Boost.JSON `parser` into a
// `json::value`, then field look-ups), kept verbatim for tests only: it is the
// reference that feeds::decode_tick (a SAX handler, no DOM) must match
// exactly, outcome, values and error text, on every input
// (tests/feeds/test_tick_differential.cpp, tests/fuzz/fuzz_tick.cpp).
#include <optional>
#include <string_view>

#include "riskd/feeds/tick.hpp"

namespace riskd::feeds::reference {

Decoded decode_tick_dom(std::string_view text, std::optional<risk::TimeMs> fallback_ts_ms);

}  // namespace riskd::feeds::reference
