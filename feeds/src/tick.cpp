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

/// What the decoder's checks read of a document: the kind of its top-level
/// value and the last occurrence of each of the three fields.
struct TopFields {
  Kind top = Kind::null;
  Field series;
  Field value;
  Field ts;
  FieldText ts_text;  // the text of `ts` when its last occurrence is a string
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

  TickHandler(std::string& series_text, TopFields& fields) : series_text_(series_text), f_(fields) {}

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

 private:
  /// The field the value now being parsed belongs to (a depth-1 value after
  /// one of the three keys), else nullptr.
  Field* target() const { return depth_ == 1 ? current_ : nullptr; }

  /// A value ends at depth 0 (the document) or 1 (a member of the top-level
  /// container): record its kind where it belongs.
  void record(Kind k) {
    if (depth_ == 0) {
      f_.top = k;
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
      if (f == &f_.series) series_text_.clear();
      if (f == &f_.ts) f_.ts_text.clear();
    }
  }
  void append_string(json::string_view s) {
    if (Field* f = target()) {
      if (f == &f_.series) series_text_.append(s.data(), s.size());
      if (f == &f_.ts) f_.ts_text.append(std::string_view(s.data(), s.size()));
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
    if (key == "series") return &f_.series;
    if (key == "value") return &f_.value;
    if (key == "ts") return &f_.ts;
    return nullptr;
  }

  std::string& series_text_;  // the Tick's series (reused: no allocation up to its small-string size)
  TopFields& f_;
  std::array<char, 6> key_{};  // the first bytes of the key being read; "series" is the longest wanted
  std::size_t key_size_ = 0;
  std::size_t depth_ = 0;
  Field* current_ = nullptr;
};

/// decode_tick's fast path, for the shape feeds send: one object holding
/// `series`, `value` and `ts` once each (any order, any JSON whitespace),
/// each a string of printable ASCII without escapes or a number without an
/// exponent and with at most 15 integer digits, 15 fraction digits and 16 in
/// all (decode_fields then checks the kinds, as after basic_parser). On such a
/// text scan() fills the fields exactly as TickHandler does from the same
/// text (numbers as basic_parser converts them) and returns true. On any
/// other text it returns false with the fields and series in an unspecified
/// state; the caller then resets them and runs basic_parser, which decides
/// (and words the errors).
class FastScanner {
 public:
  explicit FastScanner(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  bool scan(std::string& series_text, TopFields& f) {
    skip_ws();
    if (!eat('{')) return false;
    for (;;) {
      skip_ws();
      std::string_view key;
      if (!string(key)) return false;
      Field* const field = key == "series" ? &f.series : key == "value" ? &f.value : key == "ts" ? &f.ts : nullptr;
      if (field == nullptr || field->present) return false;  // another member or a duplicate
      skip_ws();
      if (!eat(':')) return false;
      skip_ws();
      if (p_ == end_) return false;
      if (*p_ == '"') {
        std::string_view text;
        if (!string(text)) return false;
        if (field == &f.series) series_text.assign(text);
        if (field == &f.ts) f.ts_text.append(text);
        field->kind = Kind::string;
      } else if (!number(*field)) {
        return false;
      }
      field->present = true;
      skip_ws();
      if (eat('}')) break;
      if (!eat(',')) return false;
    }
    skip_ws();
    f.top = Kind::object;
    return p_ == end_;
  }

 private:
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  void skip_ws() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool eat(char c) {
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  /// A string of printable ASCII without escapes; its text between the quotes.
  bool string(std::string_view& out) {
    if (!eat('"')) return false;
    const char* const begin = p_;
    for (; p_ != end_; ++p_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out = std::string_view(begin, static_cast<std::size_t>(p_ - begin));
        ++p_;
        return true;
      }
      if (c < 0x20 || c >= 0x7f || c == '\\') return false;
    }
    return false;
  }
  /// Digits from p_ on, at most `max` of them, into `mant`; how many.
  int digits(std::uint64_t& mant, int max) {
    int n = 0;
    for (; p_ != end_ && is_digit(*p_); ++p_, ++n) {
      if (n == max) return max + 1;
      mant = 10 * mant + static_cast<std::uint64_t>(*p_ - '0');
    }
    return n;
  }
  /// An integer as basic_parser reports it (on_int64: "-0" is 0); a number
  /// with a fraction as it converts one: all digits into one integer, then
  /// detail::dec_to_float(digits, -fraction digits, negative), the very
  /// function it calls. basic_parser keeps every digit of a mantissa only
  /// up to 16 digits: beyond, how many it keeps depends on how many bytes
  /// follow the number in the buffer (its 33-byte fast path keeps 18, its
  /// byte-wise path stops past 2^53), so longer mantissas are left to it.
  bool number(Field& f) {
    const bool negative = eat('-');
    if (p_ == end_ || !is_digit(*p_)) return false;
    std::uint64_t mant = 0;
    int int_digits = 1;
    if (*p_ == '0') {
      ++p_;
      if (p_ != end_ && is_digit(*p_)) return false;  // a leading zero: not JSON
    } else {
      int_digits = digits(mant, 15);
      if (int_digits > 15) return false;
    }
    int frac_digits = 0;
    if (eat('.')) {
      frac_digits = digits(mant, 15);
      if (frac_digits == 0 || frac_digits > 15 || int_digits + frac_digits > 16) return false;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) return false;
    if (frac_digits == 0) {
      f.kind = Kind::int64;
      f.int64 = negative ? -static_cast<std::int64_t>(mant) : static_cast<std::int64_t>(mant);
    } else {
      f.kind = Kind::double_;
      f.double_ = json::detail::dec_to_float(mant, -frac_digits, negative);
    }
    return true;
  }

  const char* p_;
  const char* const end_;
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
Decoded decode_fields(const TopFields& h, Tick&& tick, std::optional<risk::TimeMs> fallback_ts_ms) {
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

/// decode_tick, with or without its fast path (the result is the same).
Decoded decode(std::string_view text, std::optional<risk::TimeMs> fallback_ts_ms, bool fast_path) {
  if (text.size() > k_max_tick_bytes) {
    return fail("tick is " + std::to_string(text.size()) + " bytes, over the " +
                std::to_string(k_max_tick_bytes) + "-byte limit");
  }
  try {
    // The series text goes straight into the Tick: a short id stays in its
    // small-string buffer, so a typical tick allocates nothing.
    Tick tick;
    TopFields fields;
    if (fast_path && FastScanner(text).scan(tick.series, fields)) {
      return decode_fields(fields, std::move(tick), fallback_ts_ms);
    }
    fields = TopFields{};
    tick.series.clear();

    // No DOM: basic_parser drives TickHandler, which keeps only the three fields.
    json::parse_options options;
    options.max_depth = k_max_json_depth;
    json::basic_parser<TickHandler> parser(options, tick.series, fields);

    // As json::parser::write: the whole text is one document; anything but
    // whitespace after it is extra data.
    json::error_code ec;
    const std::size_t consumed = parser.write_some(false, text.data(), text.size(), ec);
    if (!ec && consumed < text.size()) ec = json::error::extra_data;
    if (ec == json::error::too_deep) {
      return fail("not a tick: JSON nested deeper than " + std::to_string(k_max_json_depth) + " levels");
    }
    if (ec) return fail("not JSON: " + ec.message() + " at byte " + std::to_string(consumed));
    if (fields.top != Kind::object) {
      return fail("not a tick: expected a JSON object, got " + std::string(kind_name(fields.top)));
    }
    return decode_fields(fields, std::move(tick), fallback_ts_ms);
  } catch (const std::exception& e) {  // allocation failure: reject the tick, keep running
    return fail(std::string("tick not decoded: ") + e.what());
  }
}

}  // namespace

Decoded decode_tick(std::string_view text, std::optional<risk::TimeMs> fallback_ts_ms) {
  return decode(text, fallback_ts_ms, true);
}

namespace detail {
Decoded decode_tick_parser(std::string_view text, std::optional<risk::TimeMs> fallback_ts_ms) {
  return decode(text, fallback_ts_ms, false);
}

bool takes_fast_path(std::string_view text) {
  std::string series;
  TopFields fields;
  return text.size() <= k_max_tick_bytes && FastScanner(text).scan(series, fields);
}
}  // namespace detail

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
