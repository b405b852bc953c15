// Test-only copy of the DOM decoder of feeds/src/tick.cpp as of commit 1b64af8
// (see tick_dom_reference.hpp). Do not change its behaviour: it is the reference.
#include "tick_dom_reference.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>

#include <boost/json/error.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/value.hpp>

#include "riskd/risk/time.hpp"

namespace riskd::feeds::reference {
namespace {

namespace json = boost::json;

/// Nesting bound for the whole document; a tick is flat, extra fields may nest.
constexpr std::size_t k_max_json_depth = 32;

/// Accepted `ts` range: 1970-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z.
constexpr risk::TimeMs k_min_ts_ms = 0;
constexpr risk::TimeMs k_max_ts_ms = 253'402'300'799'999;


/// Longest excerpt of a bad `ts` string quoted back in an error.
constexpr std::size_t k_max_quoted_chars = 40;

Decoded fail(std::string message) { return Decoded{std::nullopt, std::move(message)}; }

std::string_view kind_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "bool";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "number";
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
  }
  return "unknown";
}

/// A bounded, printable-ASCII excerpt of untrusted text for an operator message.
std::string quote(std::string_view text) {
  std::string out = "\"";
  const std::size_t n = text.size() < k_max_quoted_chars ? text.size() : k_max_quoted_chars;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = text[i];
    out.push_back(c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? c : '?');
  }
  if (n < text.size()) out += "...";
  out += '"';
  return out;
}

bool in_ts_range(risk::TimeMs t) { return t >= k_min_ts_ms && t <= k_max_ts_ms; }

/// Decodes the `ts` field; `error` is set (and nullopt returned) when it is bad.
std::optional<risk::TimeMs> decode_ts(const json::value* ts, std::optional<risk::TimeMs> fallback_ts_ms,
                                      std::string& error) {
  if (ts == nullptr) {
    if (!fallback_ts_ms) {
      error = "field 'ts': missing and no message timestamp to fall back on";
      return std::nullopt;
    }
    if (!in_ts_range(*fallback_ts_ms)) {
      error = "field 'ts': missing and the message timestamp " + std::to_string(*fallback_ts_ms) +
              " ms is outside years 1970..9999";
      return std::nullopt;
    }
    return fallback_ts_ms;
  }
  switch (ts->kind()) {
    case json::kind::string: {
      const json::string& text = ts->get_string();
      const auto parsed = risk::parse_rfc3339(std::string_view(text.data(), text.size()));
      if (!parsed) {
        error = "field 'ts': not an RFC 3339 timestamp: " + quote(text);
        return std::nullopt;
      }
      if (!in_ts_range(*parsed)) {
        error = "field 'ts': " + quote(text) + " is outside years 1970..9999";
        return std::nullopt;
      }
      return parsed;
    }
    case json::kind::int64: {
      const std::int64_t ms = ts->get_int64();
      if (ms < 0) {
        error = "field 'ts': negative epoch milliseconds " + std::to_string(ms);
        return std::nullopt;
      }
      if (!in_ts_range(ms)) {
        error = "field 'ts': epoch milliseconds " + std::to_string(ms) + " is outside years 1970..9999";
        return std::nullopt;
      }
      return ms;
    }
    case json::kind::uint64:
      // Boost.JSON only uses uint64 for integers above INT64_MAX.
      error = "field 'ts': epoch milliseconds " + std::to_string(ts->get_uint64()) +
              " is outside years 1970..9999";
      return std::nullopt;
    case json::kind::double_:
      error = "field 'ts': epoch milliseconds must be an integer, got a fraction or exponent";
      return std::nullopt;
    case json::kind::null:
    case json::kind::bool_:
    case json::kind::array:
    case json::kind::object: break;
  }
  error = "field 'ts': expected an RFC 3339 string or integer epoch milliseconds, got " +
          std::string(kind_name(*ts));
  return std::nullopt;
}

Decoded decode_object(const json::object& obj, std::optional<risk::TimeMs> fallback_ts_ms) {
  Tick tick;

  const json::value* series = obj.if_contains("series");
  if (series == nullptr) return fail("field 'series': missing");
  if (!series->is_string()) {
    return fail("field 'series': expected a string, got " + std::string(kind_name(*series)));
  }
  if (series->get_string().empty()) return fail("field 'series': empty string");
  tick.series.assign(series->get_string().data(), series->get_string().size());

  const json::value* value = obj.if_contains("value");
  if (value == nullptr) return fail("field 'value': missing");
  switch (value->kind()) {
    case json::kind::int64: tick.value = static_cast<double>(value->get_int64()); break;
    case json::kind::uint64: tick.value = static_cast<double>(value->get_uint64()); break;
    // May be +/-infinity (1e400 overflows to it); validate_and_apply rejects it.
    case json::kind::double_: tick.value = value->get_double(); break;
    case json::kind::null: return fail("field 'value': missing value (null)");
    case json::kind::bool_:
    case json::kind::string:
    case json::kind::array:
    case json::kind::object:
      return fail("field 'value': expected a number, got " + std::string(kind_name(*value)));
  }

  std::string error;
  const auto ts_ms = decode_ts(obj.if_contains("ts"), fallback_ts_ms, error);
  if (!ts_ms) return fail(std::move(error));
  tick.ts_ms = *ts_ms;

  return Decoded{std::move(tick), {}};
}

}  // namespace

Decoded decode_tick_dom(std::string_view text, std::optional<risk::TimeMs> fallback_ts_ms) {
  if (text.size() > k_max_tick_bytes) {
    return fail("tick is " + std::to_string(text.size()) + " bytes, over the " +
                std::to_string(k_max_tick_bytes) + "-byte limit");
  }
  try {
    // A tick is small: parse into a stack buffer, spill to the heap only if needed.
    alignas(std::max_align_t) std::array<unsigned char, 4096> arena{};
    std::array<unsigned char, 1024> parser_scratch{};
    json::monotonic_resource resource(arena.data(), arena.size());
    json::parse_options options;
    options.max_depth = k_max_json_depth;
    json::parser parser(json::storage_ptr(&resource), options, parser_scratch.data(), parser_scratch.size());

    json::error_code ec;
    const std::size_t consumed = parser.write(text.data(), text.size(), ec);
    if (ec == json::error::too_deep) {
      return fail("not a tick: JSON nested deeper than " + std::to_string(k_max_json_depth) + " levels");
    }
    if (ec) return fail("not JSON: " + ec.message() + " at byte " + std::to_string(consumed));
    const json::value doc = parser.release();
    if (!doc.is_object()) return fail("not a tick: expected a JSON object, got " + std::string(kind_name(doc)));
    return decode_object(doc.get_object(), fallback_ts_ms);
  } catch (const std::exception& e) {  // allocation failure: reject the tick, keep running
    return fail(std::string("tick not decoded: ") + e.what());
  }
}

}  // namespace riskd::feeds::reference
