#include "riskd/risk/json_text.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace riskd::risk {

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out.append("null", 4);
    return;
  }
  if (v == 0.0) {
    out.append(std::signbit(v) ? "-0.0" : "0.0");
    return;
  }
  // Shortest round-trip digits ("d.ddde+XX"), then laid out as Python's
  // float repr does, in a stack buffer appended once (no heap allocation).
  std::array<char, 40> sci{};
  const auto res = std::to_chars(sci.data(), sci.data() + sci.size(), v, std::chars_format::scientific);
  const char* p = sci.data();
  const char* const end = res.ptr;
  const bool negative = *p == '-';
  if (negative) ++p;
  std::array<char, 20> digits{};  // at most 17 significant digits
  int n = 0;
  for (; p < end && *p != 'e'; ++p) {
    if (*p != '.') digits[static_cast<std::size_t>(n++)] = *p;
  }
  ++p;  // 'e'
  const bool negative_exponent = *p == '-';
  ++p;  // sign
  int exponent = 0;
  for (; p < end; ++p) exponent = exponent * 10 + (*p - '0');
  if (negative_exponent) exponent = -exponent;

  std::array<char, 48> buf{};  // longest: "-0.0000" + 17 digits, or "-d." + 16 digits + "e-308"
  char* o = buf.data();
  const auto put = [&o](const char* s, int count) {
    std::memcpy(o, s, static_cast<std::size_t>(count));
    o += count;
  };
  const auto zeros = [&o](int count) {
    std::memset(o, '0', static_cast<std::size_t>(count));
    o += count;
  };
  if (negative) *o++ = '-';
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      put("0.", 2);
      zeros(-exponent - 1);
      put(digits.data(), n);
    } else if (exponent + 1 >= n) {
      put(digits.data(), n);
      zeros(exponent + 1 - n);
      put(".0", 2);
    } else {
      put(digits.data(), exponent + 1);
      *o++ = '.';
      put(digits.data() + exponent + 1, n - exponent - 1);
    }
  } else {
    *o++ = digits[0];
    if (n > 1) {
      *o++ = '.';
      put(digits.data() + 1, n - 1);
    }
    *o++ = 'e';
    *o++ = exponent < 0 ? '-' : '+';
    const int a = std::abs(exponent);
    if (a < 10) *o++ = '0';
    o = std::to_chars(o, buf.data() + buf.size(), a).ptr;
  }
  out.append(buf.data(), static_cast<std::size_t>(o - buf.data()));
}

std::string format_number(double v) {
  std::string s;
  append_number(s, v);
  return s;
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  // Runs of characters that need no escape are appended as blocks.
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        static constexpr char k_hex[] = "0123456789abcdef";
        const char esc[6] = {'\\', 'u', '0', '0', k_hex[c >> 4], k_hex[c & 0xF]};
        out.append(esc, 6);
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void JsonText::newline() {
  if (indent_ <= 0) return;
  out_ += '\n';
  out_.append(first_.size() * static_cast<std::size_t>(indent_), ' ');
}

void JsonText::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += indent_ > 0 ? "," : ", ";
    first_.back() = false;
    newline();
  }
}

JsonText& JsonText::begin_object() {
  before_value();
  out_ += '{';
  first_.push_back(true);
  return *this;
}

JsonText& JsonText::end_object() {
  const bool empty = first_.back();
  first_.pop_back();
  if (!empty) newline();
  out_ += '}';
  return *this;
}

JsonText& JsonText::begin_array() {
  before_value();
  out_ += '[';
  first_.push_back(true);
  return *this;
}

JsonText& JsonText::end_array() {
  const bool empty = first_.back();
  first_.pop_back();
  if (!empty) newline();
  out_ += ']';
  return *this;
}

JsonText& JsonText::key(std::string_view name) {
  before_value();
  append_json_string(out_, name);
  out_ += ": ";
  after_key_ = true;
  return *this;
}

JsonText& JsonText::string(std::string_view s) {
  before_value();
  append_json_string(out_, s);
  return *this;
}

JsonText& JsonText::number(double v) {
  before_value();
  append_number(out_, v);
  return *this;
}

JsonText& JsonText::number(std::optional<double> v) {
  before_value();
  if (v) {
    append_number(out_, *v);
  } else {
    out_ += "null";
  }
  return *this;
}

JsonText& JsonText::integer(std::int64_t v) {
  before_value();
  out_ += std::to_string(v);
  return *this;
}

JsonText& JsonText::boolean(bool v) {
  before_value();
  out_ += v ? "true" : "false";
  return *this;
}

JsonText& JsonText::null() {
  before_value();
  out_ += "null";
  return *this;
}

JsonText& JsonText::raw(std::string_view json) {
  before_value();
  out_ += json;
  return *this;
}

}  // namespace riskd::risk
