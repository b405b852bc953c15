// Differential test: feeds::decode_tick (a fast path for the plain shape
// feeds send, else Boost.JSON basic_parser + a SAX handler, no DOM) against
// the DOM decoder they replaced (tick_dom_reference.cpp, kept verbatim).
// Every test counts how many inputs took the fast path and checks that both
// paths were reached. On every input both must give the
// same outcome, the same series, value (bit for bit) and ts, or the same
// error text. Inputs: the fuzz seeds, hand-picked edge cases, and a few
// hundred thousand generated ticks, valid and malformed (duplicate keys,
// wrong types, huge and tiny numbers, missing fields, escapes and unicode in
// keys and values, trailing garbage, truncation, byte flips, nesting).
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "riskd/feeds/tick.hpp"
#include "tick_dom_reference.hpp"

namespace feeds = riskd::feeds;
namespace risk = riskd::risk;

namespace {

struct Tally {
  std::size_t cases = 0;
  std::size_t fast = 0;  // inputs decode_tick read through its fast path
  std::size_t decoded = 0;
  std::size_t not_json = 0;
  std::size_t field_errors = 0;
  std::size_t mismatches = 0;
};

bool same_result(const feeds::Decoded& a, const feeds::Decoded& b) {
  if (a.tick.has_value() != b.tick.has_value() || a.error != b.error) return false;
  return !a.tick || (a.tick->series == b.tick->series &&
                     std::bit_cast<std::uint64_t>(a.tick->value) == std::bit_cast<std::uint64_t>(b.tick->value) &&
                     a.tick->ts_ms == b.tick->ts_ms);
}

std::string describe(const feeds::Decoded& d) {
  if (!d.tick) return d.error;
  char value[32];
  std::snprintf(value, sizeof value, "%.17g", d.tick->value);
  return d.tick->series + " " + value + " " + std::to_string(d.tick->ts_ms);
}

/// Decodes `text` with decode_tick, its parser path alone and the DOM
/// reference (with and without a fallback ts) and checks all three agree;
/// counts what kind of result it was.
void compare(std::string_view text, Tally& tally) {
  for (const std::optional<risk::TimeMs> fallback : {std::optional<risk::TimeMs>{}, std::optional<risk::TimeMs>{1'700'000'000'123}}) {
    const feeds::Decoded got = feeds::decode_tick(text, fallback);
    const feeds::Decoded parser = feeds::detail::decode_tick_parser(text, fallback);
    const feeds::Decoded want = feeds::reference::decode_tick_dom(text, fallback);
    ++tally.cases;
    if (feeds::detail::takes_fast_path(text)) ++tally.fast;
    if (!same_result(got, want) || !same_result(parser, want)) {
      if (++tally.mismatches <= 10) {
        FAIL_CHECK("decoders differ on " << std::string(text.substr(0, 300)) << "\n  decode_tick: " << describe(got)
                                         << "\n  parser path: " << describe(parser)
                                         << "\n  DOM: " << describe(want));
      }
      continue;
    }
    if (want.tick) {
      ++tally.decoded;
    } else if (want.error.rfind("not JSON", 0) == 0) {
      ++tally.not_json;
    } else if (want.error.rfind("field '", 0) == 0) {
      ++tally.field_errors;
    }
  }
}

/// JSON fragments a field may hold: every kind, edge numbers, escapes.
const std::vector<std::string>& fragments() {
  static const std::vector<std::string> f{
      // strings
      R"("BTC-USD")", R"("")", R"("ETH-USD")", R"("\u0042TC-USD")", R"("BTC\/USD")", R"("\ud83d\ude00")",
      R"("\ud83d")", R"("caf\u00e9")", "\"caf\xc3\xa9\"", R"("a\"b\\c\n")", R"("a very long series identifier over sixty-four bytes ..............")",
      R"("2025-12-19T10:00:00Z")", R"("2025-12-19T10:00:00.123Z")", R"("2025-12-19T10:00:00.123456789+05:30")",
      R"("2025-12-19 10:00:00Z")", R"("1969-12-31T23:59:59.999Z")", R"("9999-12-31T23:59:59.999Z")",
      R"("10000-01-01T00:00:00Z")", R"("2025-02-30T00:00:00Z")", R"("2025-12-19T10:00:00")", R"("\u0032025-12-19T10:00:00Z")",
      R"("2025-12-19T10:00:00.1234567890123456789012345678901234567890123456789012345678901234567890Z")",
      R"("61000")", R"("not a time \u0000 \t")",
      // numbers
      "0", "-0", "1", "-1", "61000", "61000.5", "87250.123456789", "1e400", "-1e400", "1e-400", "2.5E+3", "1.0",
      "1.5", "1.7e12", "1766138400000", "-1766138400000", "253402300799999", "253402300800000",
      "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
      "18446744073709551615", "18446744073709551616", "123456789012345678901234567890", "0.000000000000000000001",
      "4.9e-324", "1.7976931348623157e308", "1.7976931348623159e308",
      // other kinds
      "true", "false", "null", "[]", "{}", "[1,2,3]", R"({"series":"X","value":1,"ts":1})", R"([{"a":[null]}])",
      R"({"a":{"b":{"c":[1,{"d":"e"}]}}})",
  };
  return f;
}

const std::vector<std::string>& keys() {
  static const std::vector<std::string> k{R"("series")", R"("value")", R"("ts")", R"("\u0073eries")", R"("valu\u0065")",
                                          R"("t\u0073")", R"("Series")", R"("series ")", R"("seriesx")", R"("src")",
                                          R"("")", R"("meta")", R"("v")", R"("\ud83d\ude00")", R"("tsx")"};
  return k;
}

std::string pick(std::mt19937_64& rng, const std::vector<std::string>& from) {
  return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(rng)];
}

bool coin(std::mt19937_64& rng, double p) { return std::bernoulli_distribution(p)(rng); }

std::string spaces(std::mt19937_64& rng) {
  static const char* ws[] = {"", "", "", " ", "\n", "\t ", "\r\n  "};
  return ws[std::uniform_int_distribution<int>(0, 6)(rng)];
}

/// A JSON number (or a near miss) with 0 to 20 integer and fraction digits,
/// either sign, leading zeros and now and then an exponent: around the fast
/// path's limits (15 integer, 15 fraction, 16 digits in all).
std::string random_number(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> count(0, 20);
  std::uniform_int_distribution<int> digit(0, 9);
  std::string out = coin(rng, 0.3) ? "-" : "";
  const int int_digits = coin(rng, 0.2) ? 1 : count(rng);
  for (int i = 0; i < int_digits; ++i) out += static_cast<char>('0' + (i == 0 && coin(rng, 0.8) ? 1 + digit(rng) % 9 : digit(rng)));
  if (int_digits == 0 || coin(rng, 0.05)) out += '0';
  if (coin(rng, 0.7)) {
    out += '.';
    const int frac_digits = count(rng);
    for (int i = 0; i < frac_digits; ++i) out += static_cast<char>('0' + digit(rng));
  }
  if (coin(rng, 0.1)) out += pick(rng, {"e5", "E-3", "e+0", "e"});
  return out;
}

/// A JSON object with a random mix of the three fields (usually well typed),
/// extra members, duplicates and whitespace.
std::string random_object(std::mt19937_64& rng) {
  std::vector<std::pair<std::string, std::string>> members;
  if (coin(rng, 0.9)) members.emplace_back(R"("series")", coin(rng, 0.8) ? R"("BTC-USD")" : pick(rng, fragments()));
  if (coin(rng, 0.9)) {
    std::uniform_real_distribution<double> price(-10.0, 100'000.0);
    std::ostringstream v;
    v.precision(std::uniform_int_distribution<int>(2, 17)(rng));  // a feed's few digits up to round-trip precision
    v << price(rng);
    members.emplace_back(R"("value")", coin(rng, 0.6)   ? v.str()
                                       : coin(rng, 0.5) ? random_number(rng)
                                                        : pick(rng, fragments()));
  }
  if (coin(rng, 0.8)) {
    members.emplace_back(R"("ts")", coin(rng, 0.5)   ? std::to_string(std::uniform_int_distribution<std::int64_t>(
                                                           0, 253'402'300'799'999)(rng))
                                     : coin(rng, 0.5) ? R"("2026-11-26T12:30:00.250Z")"
                                                      : pick(rng, fragments()));
  }
  const int extra = std::uniform_int_distribution<int>(0, 3)(rng);
  for (int i = 0; i < extra; ++i) members.emplace_back(pick(rng, keys()), pick(rng, fragments()));
  std::shuffle(members.begin(), members.end(), rng);
  std::string out = spaces(rng) + "{";
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out += ",";
    out += spaces(rng) + members[i].first + spaces(rng) + ":" + spaces(rng) + members[i].second + spaces(rng);
  }
  out += "}" + spaces(rng);
  return out;
}

/// Breaks a text: truncation, a byte inserted, deleted or replaced (any byte
/// value, so invalid UTF-8 too), trailing garbage, or wrapping in nesting.
std::string mutate(std::mt19937_64& rng, std::string text) {
  const auto pos = [&] { return std::uniform_int_distribution<std::size_t>(0, text.size())(rng); };
  const auto byte = [&] { return static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng)); };
  static const std::string syntax = "{}[]\":,\\ 0123456789.eE+-tfnul";
  const auto syntax_byte = [&] { return syntax[std::uniform_int_distribution<std::size_t>(0, syntax.size() - 1)(rng)]; };
  switch (std::uniform_int_distribution<int>(0, 7)(rng)) {
    case 0: text.resize(pos()); break;
    case 1: text.insert(pos(), 1, coin(rng, 0.5) ? byte() : syntax_byte()); break;
    case 2:
      if (!text.empty()) text.erase(std::min(pos(), text.size() - 1), 1);
      break;
    case 3:
      if (!text.empty()) text[std::min(pos(), text.size() - 1)] = coin(rng, 0.5) ? byte() : syntax_byte();
      break;
    case 4: text += pick(rng, {" x", "}", ",", " {}", "\n\n", "\x00", "//c", "/*c*/", " null", "]"}); break;
    case 5: {
      const int depth = std::uniform_int_distribution<int>(1, 40)(rng);
      text = std::string(static_cast<std::size_t>(depth), '[') + text + std::string(static_cast<std::size_t>(depth), ']');
      break;
    }
    case 6: {  // deep nesting inside an extra field
      const int depth = std::uniform_int_distribution<int>(25, 40)(rng);
      text = R"({"series":"A","value":1,"ts":1,"x":)" + std::string(static_cast<std::size_t>(depth), '[') +
             std::string(static_cast<std::size_t>(depth), ']') + "}";
      break;
    }
    default: text = pick(rng, fragments()); break;  // a bare scalar, array or object
  }
  return text;
}

}  // namespace

TEST_CASE("differential: the SAX decoder matches the DOM decoder on the fuzz seeds and edge cases") {
  Tally tally;
  const std::filesystem::path seeds = std::filesystem::path(RISKD_SOURCE_DIR) / "tests/fuzz/corpus/tick";
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(seeds)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    const std::string text = s.str();
    compare(text, tally);
    std::size_t begin = 0;
    while (begin < text.size()) {  // each line too, as fuzz_tick does
      std::size_t end = text.find('\n', begin);
      if (end == std::string::npos) end = text.size();
      compare(std::string_view(text).substr(begin, end - begin), tally);
      begin = end + 1;
    }
    ++files;
  }
  CHECK(files >= 10);
  for (const std::string& text : {
           std::string(), std::string(" "), std::string("{"), std::string("}"), std::string("{}"),
           std::string(R"({"series":"A","value":1,"ts":1})"), std::string(R"({"series":"A","value":1,"ts":1} )"),
           std::string(R"({"series":"A","value":1,"ts":1}x)"), std::string(R"({"series":"A","value":1,"ts":1}{})"),
           std::string(R"({"series":"A","series":7,"value":1,"ts":1})"),
           std::string(R"({"series":7,"series":"A","value":1,"ts":1})"),
           std::string(R"({"series":"LONG-SERIES-NAME","series":"","value":1,"ts":1})"),
           std::string(R"({"series":"A","value":1,"ts":"2025-12-19T10:00:00Z","ts":5})"),
           std::string(R"({"series":"A","value":1,"ts":5,"ts":"2025-12-19T10:00:00Z"})"),
           std::string(R"({"series":"A","value":null,"value":2})"), std::string(R"({"series":"A","value":2,"value":null})"),
           std::string(R"({"series":{"series":"B"},"value":1,"ts":1})"), std::string(R"([{"series":"A","value":1,"ts":1}])"),
           std::string(R"({"x":{"series":"A","value":1,"ts":1}})"), std::string(R"({"x":[{"series":"A"}],"value":1})"),
           std::string("{\"series\":\"A\",\"value\":1,\"ts\":1,\"pad\":\"\xed\xa0\x80\"}"),
           std::string("{\"series\":\"A\",\"value\":1,\"ts\":1,\"pad\":\"\xc0\xaf\"}"),
           std::string("{\"series\":\"A\x00\",\"value\":1,\"ts\":1}", 30), std::string("{\"series\":\"A\",\"value\":1e99999}"),
           std::string(R"({"series":"A","value":1,"ts":1,})"), std::string(R"({"series":"A","value":1,"ts":1 /*c*/})"),
           std::string(40, '[') + std::string(40, ']'), std::string(32, '[') + std::string(32, ']'),
           std::string(33, '[') + std::string(33, ']'), std::string(31, '[') + std::string(31, ']'),
       }) {
    compare(text, tally);
  }
  // Over the size limit (not parsed) and exactly at it.
  const std::string head = R"({"series":"A","value":1,"ts":1,"pad":")";
  compare(head + std::string(feeds::k_max_tick_bytes - head.size() - 2, 'x') + "\"}", tally);
  compare(head + std::string(feeds::k_max_tick_bytes - head.size() - 1, 'x') + "\"}", tally);
  CHECK(tally.mismatches == 0);
  CHECK(tally.fast > 0);
}

TEST_CASE("differential: the fast path converts numbers at and around its digit limits as the DOM decoder does") {
  std::mt19937_64 rng(20261127);
  Tally tally;
  for (int i = 0; i < 100'000; ++i) {
    const std::string number = random_number(rng);
    compare(R"({"series":"BTC-USD","value":)" + number + R"(,"ts":1766138400000})", tally);
    compare(R"({"ts":)" + number + R"(,"value":1,"series":"BTC-USD"})", tally);
    // Last in the text: basic_parser reads a number with fewer than 33
    // bytes after it byte by byte, keeping fewer digits of a long mantissa.
    compare(R"({"series":"BTC-USD","ts":1766138400000,"value":)" + number + "}", tally);
  }
  CHECK(tally.mismatches == 0);
  MESSAGE("fast path " << tally.fast << " of " << tally.cases);
  CHECK(tally.fast > tally.cases / 4);
  CHECK(tally.fast < tally.cases * 3 / 4);
}

TEST_CASE("differential: the SAX decoder matches the DOM decoder on 300,000 generated ticks") {
  std::mt19937_64 rng(20261126);
  Tally tally;
  for (int i = 0; i < 150'000; ++i) {
    std::string text = random_object(rng);
    compare(text, tally);
    const int mutations = std::uniform_int_distribution<int>(1, 3)(rng);
    for (int m = 0; m < mutations; ++m) text = mutate(rng, std::move(text));
    compare(text, tally);
  }
  CHECK(tally.mismatches == 0);
  CHECK(tally.fast > tally.cases / 20);
  CHECK(tally.fast < tally.cases / 2);
  // The generator reaches every kind of result (a test that only ever saw
  // valid ticks, or only syntax errors, would prove little).
  MESSAGE("fast path " << tally.fast << ", decoded " << tally.decoded << ", not JSON " << tally.not_json << ", field errors " << tally.field_errors
                     << " of " << tally.cases);
  CHECK(tally.decoded > tally.cases / 10);
  CHECK(tally.not_json > tally.cases / 20);
  CHECK(tally.field_errors > tally.cases / 20);
}
