#pragma once
// A small JSON text writer over std::string for riskd's outputs (events,
// result documents). Numbers are written as the shortest decimal that
// round-trips (Python's repr style, e.g. 650000000.0, 1e-05); non-finite
// numbers are written as null (INTERFACES.md: infinity is null).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace riskd::risk {

/// Appends the shortest round-trip decimal for `v` ("null" if not finite).
void append_number(std::string& out, double v);
[[nodiscard]] std::string format_number(double v);

class JsonText {
 public:
  /// indent 0: one line with ", " and ": " separators; > 0: pretty-printed.
  explicit JsonText(int indent = 0) : indent_(indent) {}

  JsonText& begin_object();
  JsonText& end_object();
  JsonText& begin_array();
  JsonText& end_array();
  JsonText& key(std::string_view name);
  JsonText& string(std::string_view s);
  JsonText& number(double v);
  JsonText& number(std::optional<double> v);
  JsonText& integer(std::int64_t v);
  JsonText& boolean(bool v);
  JsonText& null();
  /// Inserts already-serialized JSON as a value.
  JsonText& raw(std::string_view json);

  [[nodiscard]] const std::string& str() const { return out_; }
  [[nodiscard]] std::string take() { return std::move(out_); }

 private:
  void before_value();
  void newline();
  std::string out_;
  int indent_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

/// Appends `s` as a quoted JSON string with escapes.
void append_json_string(std::string& out, std::string_view s);

}  // namespace riskd::risk
