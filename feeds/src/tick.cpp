#include "riskd/feeds/tick.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <utility>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/parse_options.hpp>

#include "riskd/risk/time.hpp"

namespace riskd::feeds {
namespace {

namespace json = boost::json;

/// Nesting bound for the whole document; a tick is flat, extra fields may nest.
constexpr std::size_t k_max_json_depth = 32;

/// Accepted `ts` range: 1970-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z.
constexpr risk::TimeMs k_min_ts_ms = 0;
constexpr risk::TimeMs k_max_ts_ms = 253'402'300'799'999;

/// Relative band within which a tick confirms a held outlier.
constexpr double k_confirm_band = 0.05;

/// Longest excerpt of a bad `ts` string quoted back in an error.
constexpr std::size_t k_max_quoted_chars = 40;

Decoded fail(std::string message) { return Decoded{std::nullopt, std::move(message)}; }

/// The JSON kinds of boost::json::kind, as the SAX events reveal them.
enum class Kind : std::uint8_t { null, bool_, int64, uint64, double_, string, array, object };

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::null: return "null";
    case Kind::bool_: return "bool";
    case Kind::int64:
    case Kind::uint64:
    case Kind::double_: return "number";
    case Kind::string: return "string";
    case Kind::array: return "array";
    case Kind::object: return "object";
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

/// The text of a string field (decoded, escapes resolved): inline up to 64
/// bytes (any timestamp a feed sends), on the heap only beyond.
class FieldText {
 public:
  void clear() {
    size_ = 0;
    spilled_ = false;
    heap_.clear();
  }
  void append(std::string_view s) {
    if (!spilled_ && size_ + s.size() <= inline_.size()) {
      if (!s.empty()) std::memcpy(inline_.data() + size_, s.data(), s.size());
      size_ += s.size();
      return;
    }
    if (!spilled_) {
      heap_.assign(inline_.data(), size_);
      spilled_ = true;
    }
    heap_.append(s);
  }
  [[nodiscard]] std::string_view view() const {
    return spilled_ ? std::string_view(heap_) : std::string_view(inline_.data(), size_);
  }

 private:
  std::array<char, 64> inline_{};
  std::size_t size_ = 0;
  bool spilled_ = false;
  std::string heap_;
};

/// The last occurrence of one top-level field: its kind and, for the kinds
/// the decoder reads, its value (a string field's text is kept by the handler).
struct Field {
  bool present = false;
  Kind kind = Kind::null;
  std::int64_t int64 = 0;
  std::uint64_t uint64 = 0;
  double double_ = 0.0;
};

/// Boost.JSON SAX handler: records `series`, `value` and `ts` of the
/// top-level object as the DOM would hold them (last occurrence of a key
/// wins), and the kind of the top-level value; ignores everything else.
/// It never fails a parse: the syntax, depth and UTF-8 checks are
/// basic_parser's, so errors and their byte offsets are those of the DOM
/// parser (which drives the same basic_parser). Only keys and values at
/// depth 1 are looked at, so nested values cost no more than skipping them.
class TickHandler {
 public:
  // The DOM parser's limits are its containers' max_size(); a tick is at
  // most 64 KiB, far below any of them, so none is ever reached.
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  explicit TickHandler(std::string& series_text) : series_text_(series_text) {}

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return begin(Kind::array); }
  bool on_array_end(std::size_t, json::error_code&) { return end(); }
  bool on_object_begin(json::error_code&) { return begin(Kind::object); }
  bool on_object_end(std::size_t, json::error_code&) { return end(); }

  bool on_string_part(json::string_view s, std::size_t n, json::error_code&) {
    if (n == s.size()) start_string();  // the first part
    append_string(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t n, json::error_code&) {
    if (n == s.size()) start_string();  // the whole string in one call
    append_string(s);
    return scalar(Kind::string);
  }
  bool on_key_part(json::string_view s, std::size_t n, json::error_code&) {
    if (n == s.size()) key_size_ = 0;
    append_key(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t n, json::error_code&) {
    if (n == s.size()) key_size_ = 0;
    append_key(s);
    if (depth_ == 1) current_ = field_for_key(n);
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    if (Field* f = target()) f->int64 = i;
    return scalar(Kind::int64);
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    if (Field* f = target()) f->uint64 = u;
    return scalar(Kind::uint64);
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    if (Field* f = target()) f->double_ = d;
    return scalar(Kind::double_);
  }
  bool on_bool(bool, json::error_code&) { return scalar(Kind::bool_); }
  bool on_null(json::error_code&) { return scalar(Kind::null); }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

  Kind top = Kind::null;  // the document's kind
  Field series;
  Field value;
  Field ts;
  FieldText ts_text;  // the text of `ts` when its last occurrence is a string

 private:
  /// The field the value now being parsed belongs to (a depth-1 value after
  /// one of the three keys), else nullptr.
  Field* target() const { return depth_ == 1 ? current_ : nullptr; }

  /// A value ends at depth 0 (the document) or 1 (a member of the top-level
  /// container): record its kind where it belongs.
  void record(Kind k) {
    if (depth_ == 0) {
      top = k;
    } else if (Field* f = target()) {
      f->present = true;
      f->kind = k;
      current_ = nullptr;
    }
  }
  bool scalar(Kind k) {
    record(k);
    return true;
  }
  bool begin(Kind k) {
    record(k);
    ++depth_;
    return true;
  }
  bool end() {
    --depth_;
    return true;
  }

  void start_string() {
    if (Field* f = target()) {
      if (f == &series) series_text_.clear();
      if (f == &ts) ts_text.clear();
    }
  }
  void append_string(json::string_view s) {
    if (Field* f = target()) {
      if (f == &series) series_text_.append(s.data(), s.size());
      if (f == &ts) ts_text.append(std::string_view(s.data(), s.size()));
    }
  }
  void append_key(json::string_view s) {
    for (const char c : s) {
      if (key_size_ < key_.size()) key_[key_size_] = c;
      ++key_size_;
    }
  }
  Field* field_for_key(std::size_t n) {
    const std::string_view key(key_.data(), n <= key_.size() ? n : 0);
    if (n > key_.size()) return nullptr;
    if (key == "series") return &series;
    if (key == "value") return &value;
    if (key == "ts") return &ts;
    return nullptr;
  }

  std::string& series_text_;  // the Tick's series (reused: no allocation up to its small-string size)
  std::array<char, 6> key_{};  // the first bytes of the key being read; "series" is the longest wanted
  std::size_t key_size_ = 0;
  std::size_t depth_ = 0;
  Field* current_ = nullptr;
};

/// Decodes the `ts` field; `error` is set (and nullopt returned) when it is bad.
std::optional<risk::TimeMs> decode_ts(const Field& ts, std::string_view ts_text,
                                      std::optional<risk::TimeMs> fallback_ts_ms, std::string& error) {
  if (!ts.present) {
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
  switch (ts.kind) {
    case Kind::string: {
      const auto parsed = risk::parse_rfc3339(ts_text);
      if (!parsed) {
        error = "field 'ts': not an RFC 3339 timestamp: " + quote(ts_text);
        return std::nullopt;
      }
      if (!in_ts_range(*parsed)) {
        error = "field 'ts': " + quote(ts_text) + " is outside years 1970..9999";
        return std::nullopt;
      }
      return parsed;
    }
    case Kind::int64: {
      const std::int64_t ms = ts.int64;
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
    case Kind::uint64:
      // Boost.JSON only uses uint64 for integers above INT64_MAX.
      error = "field 'ts': epoch milliseconds " + std::to_string(ts.uint64) + " is outside years 1970..9999";
      return std::nullopt;
    case Kind::double_:
      error = "field 'ts': epoch milliseconds must be an integer, got a fraction or exponent";
      return std::nullopt;
    case Kind::null:
    case Kind::bool_:
    case Kind::array:
    case Kind::object: break;
  }
  error = "field 'ts': expected an RFC 3339 string or integer epoch milliseconds, got " +
          std::string(kind_name(ts.kind));
  return std::nullopt;
}

/// The checks of the top-level object's fields, in the order of the old DOM
/// decoder: series, value, ts. `tick.series` already holds the series text.
Decoded decode_fields(const TickHandler& h, Tick&& tick, std::optional<risk::TimeMs> fallback_ts_ms) {
  if (!h.series.present) return fail("field 'series': missing");
  if (h.series.kind != Kind::string) {
    return fail("field 'series': expected a string, got " + std::string(kind_name(h.series.kind)));
  }
  if (tick.series.empty()) return fail("field 'series': empty string");

  if (!h.value.present) return fail("field 'value': missing");
  switch (h.value.kind) {
    case Kind::int64: tick.value = static_cast<double>(h.value.int64); break;
    case Kind::uint64: tick.value = static_cast<double>(h.value.uint64); break;
    // May be +/-infinity (1e400 overflows to it); validate_and_apply rejects it.
    case Kind::double_: tick.value = h.value.double_; break;
    case Kind::null: return fail("field 'value': missing value (null)");
    case Kind::bool_:
    case Kind::string:
    case Kind::array:
    case Kind::object:
      return fail("field 'value': expected a number, got " + std::string(kind_name(h.value.kind)));
  }

  std::string error;
  const auto ts_ms = decode_ts(h.ts, h.ts_text.view(), fallback_ts_ms, error);
  if (!ts_ms) return fail(std::move(error));
  tick.ts_ms = *ts_ms;

  return Decoded{std::move(tick), {}};
}

/// |v / ref - 1| <= band, evaluated as |v - ref| <= band * |ref| so that it is
/// defined for ref == 0 (a rate series: only v == 0 is within) and a move of
/// exactly the band (e.g. 380 against 400 at 5 %) counts as within.
bool within(double v, double ref, double band) { return std::fabs(v - ref) <= band * std::fabs(ref); }

bool must_be_positive(risk::SeriesKind kind) {
  switch (kind) {
    case risk::SeriesKind::price:
    case risk::SeriesKind::gpu_rent:
    case risk::SeriesKind::hashprice: return true;
    case risk::SeriesKind::rate: return false;
  }
  return true;
}

}  // namespace

Decoded decode_tick(std::string_view text, std::optional<risk::TimeMs> fallback_ts_ms) {
  if (text.size() > k_max_tick_bytes) {
    return fail("tick is " + std::to_string(text.size()) + " bytes, over the " +
                std::to_string(k_max_tick_bytes) + "-byte limit");
  }
  try {
    // No DOM: basic_parser drives TickHandler, which keeps only the three
    // fields (the series text straight in the Tick: a short id stays in its
    // small-string buffer, so a typical tick allocates nothing).
    Tick tick;
    json::parse_options options;
    options.max_depth = k_max_json_depth;
    json::basic_parser<TickHandler> parser(options, tick.series);

    // As json::parser::write: the whole text is one document; anything but
    // whitespace after it is extra data.
    json::error_code ec;
    const std::size_t consumed = parser.write_some(false, text.data(), text.size(), ec);
    if (!ec && consumed < text.size()) ec = json::error::extra_data;
    if (ec == json::error::too_deep) {
      return fail("not a tick: JSON nested deeper than " + std::to_string(k_max_json_depth) + " levels");
    }
    if (ec) return fail("not JSON: " + ec.message() + " at byte " + std::to_string(consumed));
    const TickHandler& h = parser.handler();
    if (h.top != Kind::object) {
      return fail("not a tick: expected a JSON object, got " + std::string(kind_name(h.top)));
    }
    return decode_fields(h, std::move(tick), fallback_ts_ms);
  } catch (const std::exception& e) {  // allocation failure: reject the tick, keep running
    return fail(std::string("tick not decoded: ") + e.what());
  }
}

risk::TickOutcome validate_and_apply(const Tick& tick, risk::SeriesState& state) {
  const double v = tick.value;
  if (!std::isfinite(v) || (must_be_positive(state.kind) && v <= 0.0)) {
    return risk::TickOutcome::rejected_value;
  }
  if (state.has_value && tick.ts_ms < state.ts_ms) return risk::TickOutcome::out_of_order;

  if (state.max_jump && state.has_value) {
    const double max_jump = *state.max_jump;
    const bool near_last = within(v, state.value, max_jump);
    const bool confirms_held = state.held_value && within(v, *state.held_value, k_confirm_band);
    if (!near_last && !confirms_held) {
      state.held_value = v;
      state.held_ts_ms = tick.ts_ms;
      return risk::TickOutcome::outlier;
    }
  }

  state.value = v;
  state.ts_ms = tick.ts_ms;
  state.has_value = true;
  state.held_value.reset();
  state.held_ts_ms = 0;
  return risk::TickOutcome::applied;
}

}  // namespace riskd::feeds
