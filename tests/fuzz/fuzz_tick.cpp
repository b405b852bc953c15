// libFuzzer target for the tick decoder and validator (feeds/include/riskd/feeds/tick.hpp).
// The whole input is decoded as one tick; then each '\n'-separated line is
// decoded and applied in turn to one series of every kind, so sequences of
// ticks exercise the outlier hold-and-confirm rule. Every decode is also
// done by decode_tick's parser path alone (without its fast path) and by the
// DOM decoder both replaced (tests/feeds/tick_dom_reference.cpp): all must
// agree exactly (outcome, series, value bits, ts, error text).
// Contract violations and disagreements trap.
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "../feeds/tick_dom_reference.hpp"
#include "riskd/feeds/tick.hpp"
#include "riskd/risk/market.hpp"

namespace {

namespace feeds = riskd::feeds;
namespace risk = riskd::risk;

constexpr risk::TimeMs k_fallback_ts_ms = 1'700'000'000'000;
constexpr risk::TimeMs k_max_ts_ms = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z

void require(bool condition) {
  if (!condition) __builtin_trap();
}

bool same(const risk::SeriesState& a, const risk::SeriesState& b) {
  return a.has_value == b.has_value && a.value == b.value && a.ts_ms == b.ts_ms &&
         a.held_value == b.held_value && a.held_ts_ms == b.held_ts_ms && a.counts == b.counts &&
         a.max_jump == b.max_jump && a.kind == b.kind;
}

/// `d` (from decode_tick), the parser path alone and the DOM reference give the same result.
void require_same_as_dom(std::string_view text, std::optional<risk::TimeMs> fallback, const feeds::Decoded& d) {
  const feeds::Decoded ref = feeds::reference::decode_tick_dom(text, fallback);
  const feeds::Decoded parser = feeds::detail::decode_tick_parser(text, fallback);
  for (const feeds::Decoded* got : {&d, &parser}) {
    require(got->tick.has_value() == ref.tick.has_value() && got->error == ref.error);
    if (got->tick) {
      require(got->tick->series == ref.tick->series && got->tick->ts_ms == ref.tick->ts_ms);
      require(std::bit_cast<std::uint64_t>(got->tick->value) == std::bit_cast<std::uint64_t>(ref.tick->value));
    }
  }
}

std::optional<feeds::Tick> decode_checked(std::string_view text) {
  require_same_as_dom(text, std::nullopt, feeds::decode_tick(text, std::nullopt));
  const feeds::Decoded d = feeds::decode_tick(text, k_fallback_ts_ms);
  require_same_as_dom(text, k_fallback_ts_ms, d);
  require(d.tick.has_value() == d.error.empty());
  if (!d.tick) return std::nullopt;
  require(text.size() <= feeds::k_max_tick_bytes);
  require(!d.tick->series.empty());
  require(d.tick->ts_ms >= 0 && d.tick->ts_ms <= k_max_ts_ms);
  return d.tick;
}

void apply_checked(const feeds::Tick& tick, risk::SeriesState& state) {
  const risk::SeriesState before = state;
  const risk::TickOutcome outcome = feeds::validate_and_apply(tick, state);
  switch (outcome) {
    case risk::TickOutcome::applied:
      require(state.has_value && state.value == tick.value && state.ts_ms == tick.ts_ms);
      require(!state.held_value && std::isfinite(state.value));
      break;
    case risk::TickOutcome::outlier:
      require(before.has_value && before.max_jump.has_value());
      require(state.value == before.value && state.ts_ms == before.ts_ms);
      require(state.held_value == tick.value && state.held_ts_ms == tick.ts_ms);
      break;
    case risk::TickOutcome::rejected_value:
    case risk::TickOutcome::out_of_order:
      require(same(state, before));
      break;
    case risk::TickOutcome::rejected_parse:
    case risk::TickOutcome::unknown_series:
      require(false);
      break;
  }
  require(state.counts == before.counts);
  require(state.kind == risk::SeriesKind::rate || !state.has_value || state.value > 0.0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  decode_checked(input);

  std::array<risk::SeriesState, 4> states{};
  states[0].kind = risk::SeriesKind::price;
  states[0].max_jump = 0.12;
  states[1].kind = risk::SeriesKind::gpu_rent;
  states[1].max_jump = 0.5;
  states[2].kind = risk::SeriesKind::rate;
  states[2].max_jump = 0.25;
  states[3].kind = risk::SeriesKind::hashprice;  // no max_jump

  std::size_t begin = 0;
  while (begin < input.size()) {
    std::size_t end = input.find('\n', begin);
    if (end == std::string_view::npos) end = input.size();
    if (const auto tick = decode_checked(input.substr(begin, end - begin))) {
      for (auto& state : states) apply_checked(*tick, state);
    }
    begin = end + 1;
  }
  return 0;
}
