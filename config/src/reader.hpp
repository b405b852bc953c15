#pragma once
// Internal to riskd::config: an error-collecting reader over a yaml-cpp tree.
// Every conversion reports what is wrong at the value's position and carries
// on, so one pass finds every error. Never throws (yaml-cpp exceptions are the
// caller's to catch around parsing). Not thread-safe; one per document.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "riskd/config/config.hpp"
#include "riskd/risk/model.hpp"
#include "riskd/risk/time.hpp"

namespace riskd::config::detail {

/// A value in the document and where it sits.
struct At {
  YAML::Node node;
  YAML::Mark mark;   // of the value; of its key when the value is null
  std::string path;  // field path for messages, e.g. "borrowers[miner-a].covenants.max_ltv"
};

/// Path of a map entry (`a.b`) and of a list item or user-named entry (`a[b]`).
std::string field_path(const std::string& parent, std::string_view key);
std::string item_path(const std::string& parent, std::string_view label);

/// `path (line L, column C)`, or just the path without a position.
std::string describe_place(const At& at);

/// An interval a number must lie in; `describe()` words it for messages.
struct Range {
  std::optional<double> lo;
  bool lo_open = false;
  std::optional<double> hi;
  bool hi_open = false;

  [[nodiscard]] bool contains(double x) const;
  [[nodiscard]] std::string describe() const;  // "must be >= 0", "must be in [0, 1)"
};
Range any_finite();
Range at_least(double lo);                // [lo, inf)
Range above(double lo);                   // (lo, inf)
Range closed(double lo, double hi);       // [lo, hi]
Range closed_open(double lo, double hi);  // [lo, hi)

/// Shortest round-trip decimal text of `x` ("1.2", "4000").
std::string format_number(double x);

/// The candidate closest to `word` by edit distance, or "" when none is close
/// enough to be a plausible typo.
std::string closest(std::string_view word, const std::vector<std::string_view>& candidates);

/// A series reference found in a borrower, with the kind its use implies.
struct SeriesUse {
  std::string id;
  risk::SeriesKind kind;
  At where;
};

class Reader {
 public:
  static constexpr std::size_t k_max_errors = 1000;  // then one "too many errors" entry

  explicit Reader(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }

  /// Records `path: message` at `mark` (line/column 0 when the mark is null).
  void error(const YAML::Mark& mark, const std::string& path, std::string_view message);
  void error(const At& at, std::string_view message) { error(at.mark, at.path, message); }
  [[nodiscard]] bool has_errors() const { return !errors_.empty(); }
  [[nodiscard]] std::size_t error_count() const { return errors_.size(); }
  /// Every error so far, stably sorted into file order.
  [[nodiscard]] std::vector<ConfigError> sorted_errors() const;

  /// Scalar text with `${NAME}` replaced from the environment; nullopt (and an
  /// error) if not a scalar or a variable is unset or malformed.
  std::optional<std::string> text(const At& at);
  /// Like text(), and the result must not be empty.
  std::optional<std::string> non_empty_text(const At& at);
  /// A plain (unquoted) finite number in `range`.
  std::optional<double> number(const At& at, const Range& range);
  /// true/false (also True/TRUE/False/FALSE).
  std::optional<bool> boolean(const At& at);
  /// A `YYYY-MM-DD` calendar date, 00:00 UTC.
  std::optional<risk::TimeMs> date(const At& at);

  /// Reports `path.key: unknown key` with a "did you mean" hint at `key`.
  void unknown_key(const At& key, const std::string& name, const std::vector<std::string_view>& known);

  /// Calls `fn(key_text, key, value)` for each map entry in file order. A null
  /// node is an empty map. Reports non-map nodes, non-scalar and duplicate
  /// keys (those entries are skipped). Values carry `item_path(path, key)` when
  /// `user_keys` (ids chosen by the user), else `field_path(path, key)`.
  void for_each_entry(const At& map, bool user_keys,
                      const std::function<void(const std::string&, const At&, const At&)>& fn);
  /// Calls `fn(index, item)` for each list item; a null node is an empty list.
  /// Items carry `item_path(path, index)`.
  void for_each_item(const At& list, const std::function<void(std::size_t, const At&)>& fn);

  /// Series references collected while reading borrowers, in file order.
  void use_series(std::string id, risk::SeriesKind kind, const At& where);
  [[nodiscard]] const std::vector<SeriesUse>& series_uses() const { return uses_; }

 private:
  std::optional<std::string> substitute(const At& at);

  std::string file_;
  std::vector<ConfigError> errors_;
  std::vector<SeriesUse> uses_;
};

/// The child `key` of a map node, or an undefined node (never throws).
YAML::Node child(const YAML::Node& map, const std::string& key);

/// "a map", "a list", "null", "a string", or the plain scalar quoted.
std::string describe_node(const YAML::Node& node);

}  // namespace riskd::config::detail
