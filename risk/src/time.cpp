#include "riskd/risk/time.hpp"

#include <array>
#include <cstdio>

namespace riskd::risk {
namespace {

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 12> k_days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29U : k_days[m - 1];
}

/// Reads exactly `width` digits at `pos`; advances `pos`.
bool read_digits(std::string_view s, std::size_t& pos, std::size_t width, int& out) {
  if (pos + width > s.size()) return false;
  int v = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  pos += width;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

/// Parses `YYYY-MM-DD` at `pos` into days since the epoch.
std::optional<std::int64_t> read_date(std::string_view s, std::size_t& pos) {
  int y = 0;
  int m = 0;
  int d = 0;
  if (!read_digits(s, pos, 4, y) || !expect(s, pos, '-') || !read_digits(s, pos, 2, m) ||
      !expect(s, pos, '-') || !read_digits(s, pos, 2, d)) {
    return std::nullopt;
  }
  if (m < 1 || m > 12 || d < 1 || static_cast<unsigned>(d) > days_in_month(y, static_cast<unsigned>(m))) {
    return std::nullopt;
  }
  return days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}

}  // namespace

std::optional<TimeMs> parse_date(std::string_view text) {
  std::size_t pos = 0;
  const auto days = read_date(text, pos);
  if (!days || pos != text.size()) return std::nullopt;
  return *days * k_ms_per_day;
}

std::optional<TimeMs> parse_rfc3339(std::string_view text) {
  std::size_t pos = 0;
  const auto days = read_date(text, pos);
  if (!days || pos >= text.size()) return std::nullopt;
  const char sep = text[pos++];
  if (sep != 'T' && sep != 't' && sep != ' ') return std::nullopt;
  int hh = 0;
  int mm = 0;
  int ss = 0;
  if (!read_digits(text, pos, 2, hh) || !expect(text, pos, ':') || !read_digits(text, pos, 2, mm) ||
      !expect(text, pos, ':') || !read_digits(text, pos, 2, ss)) {
    return std::nullopt;
  }
  if (hh > 23 || mm > 59 || ss > 60) return std::nullopt;  // 60: a leap second, folded below
  if (ss == 60) ss = 59;
  std::int64_t ms = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) ms = ms * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (std::size_t i = digits; i < 3; ++i) ms *= 10;
  }
  if (pos >= text.size()) return std::nullopt;
  std::int64_t offset_minutes = 0;
  const char zone = text[pos++];
  if (zone == '+' || zone == '-') {
    int oh = 0;
    int om = 0;
    if (!read_digits(text, pos, 2, oh) || !expect(text, pos, ':') || !read_digits(text, pos, 2, om) ||
        oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = (zone == '+' ? 1 : -1) * (oh * 60 + om);
  } else if (zone != 'Z' && zone != 'z') {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  const std::int64_t seconds = *days * 86400 + hh * 3600 + mm * 60 + ss - offset_minutes * 60;
  return seconds * 1000 + ms;
}

std::string format_rfc3339(TimeMs t_ms) {
  const TimeMs day_ms = valuation_day_ms(t_ms);
  const std::int64_t z0 = day_ms / k_ms_per_day + 719468;
  const std::int64_t era = (z0 >= 0 ? z0 : z0 - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z0 - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
  const TimeMs in_day = t_ms - day_ms;
  const auto hh = static_cast<int>(in_day / 3'600'000);
  const auto mi = static_cast<int>(in_day / 60'000 % 60);
  const auto ss = static_cast<int>(in_day / 1000 % 60);
  const auto ms = static_cast<int>(in_day % 1000);
  std::array<char, 48> buf{};
  int n = 0;
  if (ms != 0) {
    n = std::snprintf(buf.data(), buf.size(), "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                      static_cast<long long>(y), m, d, hh, mi, ss, ms);
  } else {
    n = std::snprintf(buf.data(), buf.size(), "%04lld-%02u-%02uT%02d:%02d:%02dZ",
                      static_cast<long long>(y), m, d, hh, mi, ss);
  }
  return {buf.data(), static_cast<std::size_t>(n)};
}

}  // namespace riskd::risk
