#include <doctest/doctest.h>

#include "riskd/risk/time.hpp"

using namespace riskd::risk;

TEST_CASE("config dates are 00:00 UTC of the day") {
  CHECK(*parse_date("1970-01-01") == 0);
  CHECK(*parse_date("2025-12-19") == 1766102400000);  // date -u -d 2025-12-19 +%s = 1766102400
  CHECK(*parse_date("2024-02-29") == 1709164800000);
  CHECK_FALSE(parse_date("2025-02-29"));
  CHECK_FALSE(parse_date("2025-13-01"));
  CHECK_FALSE(parse_date("2025-1-01"));
  CHECK_FALSE(parse_date("2025-01-01T00:00:00Z"));
}

TEST_CASE("RFC 3339 times parse with zones and milliseconds") {
  CHECK(*parse_rfc3339("2025-12-19T10:00:00Z") == 1766138400000);
  CHECK(*parse_rfc3339("2025-12-19T10:00:00.123Z") == 1766138400123);
  CHECK(*parse_rfc3339("2025-12-19T12:00:00+02:00") == 1766138400000);
  CHECK(*parse_rfc3339("2025-12-19T05:30:00-04:30") == 1766138400000);
  CHECK(*parse_rfc3339("2025-12-19T10:00:00.1234567Z") == 1766138400123);
  CHECK_FALSE(parse_rfc3339("2025-12-19"));
  CHECK_FALSE(parse_rfc3339("2025-12-19T10:00:00"));
  CHECK_FALSE(parse_rfc3339("2025-12-19T24:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2025-12-19T10:00:00.Z"));
  CHECK_FALSE(parse_rfc3339("2025-12-19T10:00:00Zjunk"));
}

TEST_CASE("RFC 3339 formatting round-trips and shows milliseconds only when set") {
  CHECK(format_rfc3339(1766138400000) == "2025-12-19T10:00:00Z");
  CHECK(format_rfc3339(1766138400123) == "2025-12-19T10:00:00.123Z");
  CHECK(format_rfc3339(0) == "1970-01-01T00:00:00Z");
  CHECK(format_rfc3339(-1000) == "1969-12-31T23:59:59Z");
  for (TimeMs t = 946684800000; t < 4102444800000; t += 86400000LL * 37 + 3600123) {
    CHECK(*parse_rfc3339(format_rfc3339(t)) == t);
  }
}

TEST_CASE("the valuation day is midnight UTC of the event time") {
  CHECK(valuation_day_ms(1766138400123) == 1766102400000);
  CHECK(valuation_day_ms(1766102400000) == 1766102400000);
  CHECK(valuation_day_ms(-1) == -86400000);
}

TEST_CASE("months and years use 30.4375 and 365.25 day units") {
  // 30.4375 days = 2629800 s: exactly one month.
  CHECK(months_between(0, 2629800000) == doctest::Approx(1.0).epsilon(1e-15));
  CHECK(years_between(0, 31557600000) == doctest::Approx(1.0).epsilon(1e-15));
  CHECK(months_between(2629800000, 0) == doctest::Approx(-1.0).epsilon(1e-15));
}
