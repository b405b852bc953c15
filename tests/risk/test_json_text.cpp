#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "riskd/risk/json_text.hpp"

using namespace riskd::risk;

TEST_CASE("numbers print as the shortest round-trip decimal, Python repr style") {
  CHECK(format_number(650000000.0) == "650000000.0");
  CHECK(format_number(0.6815204847273468) == "0.6815204847273468");
  CHECK(format_number(1.4000000000000001) == "1.4000000000000001");
  CHECK(format_number(0.6499999999999999) == "0.6499999999999999");
  CHECK(format_number(93242.29535075054) == "93242.29535075054");
  CHECK(format_number(0.0001) == "0.0001");
  CHECK(format_number(0.00001) == "1e-05");
  CHECK(format_number(1e16) == "1e+16");
  CHECK(format_number(1.25e9) == "1250000000.0");
  CHECK(format_number(-2.5) == "-2.5");
  CHECK(format_number(0.0) == "0.0");
  CHECK(format_number(123456789012345678.0) == "1.2345678901234568e+17");
}

TEST_CASE("non-finite numbers are null") {
  CHECK(format_number(std::numeric_limits<double>::infinity()) == "null");
  CHECK(format_number(-std::numeric_limits<double>::infinity()) == "null");
  CHECK(format_number(std::nan("")) == "null");
}

TEST_CASE("JSON text: compact objects use Python's default separators") {
  JsonText j;
  j.begin_object().key("a").integer(1).key("b").string("x\"y\n").key("c").begin_array().number(0.5).null().end_array();
  j.key("d").begin_object().end_object().end_object();
  CHECK(j.str() == R"({"a": 1, "b": "x\"y\n", "c": [0.5, null], "d": {}})");
}

TEST_CASE("JSON text: pretty printing indents nested containers") {
  JsonText j(1);
  j.begin_object().key("a").begin_array().integer(1).end_array().key("e").begin_object().end_object().end_object();
  CHECK(j.str() == "{\n \"a\": [\n  1\n ],\n \"e\": {}\n}");
}

TEST_CASE("JSON strings escape control characters") {
  std::string s;
  append_json_string(s, std::string("a\x01" "b\\", 4));
  CHECK(s == "\"a\\u0001b\\\\\"");
}
