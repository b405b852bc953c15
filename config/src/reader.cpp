#include "reader.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>
#include <utility>

namespace riskd::config::detail {
namespace {

constexpr std::string_view k_tag_plain = "?";
constexpr std::string_view k_tag_int = "tag:yaml.org,2002:int";
constexpr std::string_view k_tag_float = "tag:yaml.org,2002:float";
constexpr std::string_view k_tag_bool = "tag:yaml.org,2002:bool";

bool is_plain_or(const YAML::Node& node, std::string_view tag_a, std::string_view tag_b = {}) {
  const std::string& tag = node.Tag();
  return tag == k_tag_plain || tag == tag_a || (!tag_b.empty() && tag == tag_b);
}

bool is_env_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (digit && i > 0))) return false;
  }
  return true;
}

/// Levenshtein distance, case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  std::vector<std::size_t> prev(b.size() + 1);
  std::vector<std::size_t> cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t subst = prev[j - 1] + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

/// Parses a YAML 1.2 core-schema decimal number (no hex/octal); `.inf`,
/// `.nan` and overflow give a non-finite value.
std::optional<double> parse_number(std::string_view s) {
  std::string_view body = s;
  bool negative = false;
  if (!body.empty() && (body.front() == '+' || body.front() == '-')) {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  static constexpr std::array<std::string_view, 3> k_inf{".inf", ".Inf", ".INF"};
  static constexpr std::array<std::string_view, 3> k_nan{".nan", ".NaN", ".NAN"};
  if (std::find(k_inf.begin(), k_inf.end(), body) != k_inf.end()) {
    return negative ? -HUGE_VAL : HUGE_VAL;
  }
  if (std::find(k_nan.begin(), k_nan.end(), body) != k_nan.end()) return std::nan("");
  if (body.empty() || !((body.front() >= '0' && body.front() <= '9') || body.front() == '.')) {
    return std::nullopt;  // rejects from_chars' own "inf"/"nan" spellings and a second sign
  }
  double value = 0.0;
  const auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
  if (end != body.data() + body.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) return HUGE_VAL;
  if (ec != std::errc()) return std::nullopt;
  return negative ? -value : value;
}

}  // namespace

std::string field_path(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out = parent;
  out += '.';
  out += key;
  return out;
}

std::string item_path(const std::string& parent, std::string_view label) {
  std::string out = parent;
  out += '[';
  out += label;
  out += ']';
  return out;
}

std::string describe_place(const At& at) {
  if (at.mark.is_null() || at.mark.line < 0) return at.path;
  return at.path + " (line " + std::to_string(at.mark.line + 1) + ", column " + std::to_string(at.mark.column + 1) +
         ")";
}

bool Range::contains(double x) const {
  if (lo && (lo_open ? !(x > *lo) : !(x >= *lo))) return false;
  if (hi && (hi_open ? !(x < *hi) : !(x <= *hi))) return false;
  return true;
}

std::string Range::describe() const {
  if (lo && hi) {
    return "must be in " + std::string(lo_open ? "(" : "[") + format_number(*lo) + ", " + format_number(*hi) +
           (hi_open ? ")" : "]");
  }
  if (lo) return std::string(lo_open ? "must be > " : "must be >= ") + format_number(*lo);
  if (hi) return std::string(hi_open ? "must be < " : "must be <= ") + format_number(*hi);
  return "must be a finite number";
}

Range any_finite() {
  return Range{};
}
Range at_least(double lo) {
  return Range{lo, false, std::nullopt, false};
}
Range above(double lo) {
  return Range{lo, true, std::nullopt, false};
}
Range closed(double lo, double hi) {
  return Range{lo, false, hi, false};
}
Range closed_open(double lo, double hi) {
  return Range{lo, false, hi, true};
}

std::string format_number(double x) {
  std::array<char, 64> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), x);
  if (ec != std::errc()) return "?";
  return {buf.data(), end};
}

std::string closest(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string best;
  std::size_t best_distance = 0;
  for (const std::string_view candidate : candidates) {
    const std::size_t d = edit_distance(word, candidate);
    if (best.empty() || d < best_distance) {
      best = std::string(candidate);
      best_distance = d;
    }
  }
  // A plausible typo: at most 2 edits, or a third of the longer word.
  const std::size_t longer = std::max(word.size(), best.size());
  if (!best.empty() && best_distance <= std::max<std::size_t>(2, longer / 3) && best_distance < longer) return best;
  // Else a shared prefix of 3+ characters ("cash" for "cash_usd", "series_x" for "series").
  for (const std::string_view candidate : candidates) {
    const std::size_t n = std::min(word.size(), candidate.size());
    if (n >= 3 && word.substr(0, n) == candidate.substr(0, n)) return std::string(candidate);
  }
  return {};
}

YAML::Node child(const YAML::Node& map, const std::string& key) {
  if (!map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string describe_node(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return "null";
    case YAML::NodeType::Scalar: break;
  }
  if (node.Tag() != k_tag_plain) return "a string";
  std::string text = node.Scalar();
  if (text.size() > 40) text = text.substr(0, 40) + "...";
  return "'" + text + "'";
}

void Reader::error(const YAML::Mark& mark, const std::string& path, std::string_view message) {
  if (errors_.size() > k_max_errors) return;
  ConfigError e;
  e.file = file_;
  if (!mark.is_null() && mark.line >= 0 && mark.column >= 0) {
    e.line = mark.line + 1;
    e.column = mark.column + 1;
  }
  if (errors_.size() == k_max_errors) {
    e.message = "too many errors; stopping here";
  } else {
    e.message = path.empty() ? std::string(message) : path + ": " + std::string(message);
  }
  errors_.push_back(std::move(e));
}

std::vector<ConfigError> Reader::sorted_errors() const {
  std::vector<ConfigError> out = errors_;
  const bool truncated = out.size() > k_max_errors;
  if (truncated) out.pop_back();
  std::stable_sort(out.begin(), out.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  if (truncated) out.push_back(errors_.back());
  return out;
}

std::optional<std::string> Reader::substitute(const At& at) {
  const std::string& raw = at.node.Scalar();
  if (raw.find("${") == std::string::npos) return raw;
  // Columns are exact for one-line scalars without escapes; else the scalar's start.
  const bool plain = at.node.Tag() == k_tag_plain;
  const bool simple = raw.find_first_of("\\\"'\n") == std::string::npos;
  const auto mark_at = [&](std::size_t offset) {
    YAML::Mark m = at.mark;
    if (simple && !m.is_null()) m.column += static_cast<int>(offset) + (plain ? 0 : 1);
    return m;
  };
  std::string out;
  bool ok = true;
  std::size_t i = 0;
  while (i < raw.size()) {
    if (raw[i] != '$' || i + 1 >= raw.size() || raw[i + 1] != '{') {
      out += raw[i++];
      continue;
    }
    const std::size_t close = raw.find('}', i + 2);
    if (close == std::string::npos) {
      error(mark_at(i), at.path, "unterminated '${' (write ${NAME})");
      return std::nullopt;
    }
    const std::string name = raw.substr(i + 2, close - i - 2);
    if (!is_env_name(name)) {
      error(mark_at(i), at.path, "invalid environment variable name '" + name + "'");
      ok = false;
    } else if (const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): documented
               value == nullptr) {
      error(mark_at(i), at.path, "environment variable " + name + " is not set");
      ok = false;
    } else {
      out += value;
    }
    i = close + 1;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::string> Reader::text(const At& at) {
  if (!at.node.IsScalar()) {
    error(at, "expected a string, got " + describe_node(at.node));
    return std::nullopt;
  }
  return substitute(at);
}

std::optional<std::string> Reader::non_empty_text(const At& at) {
  auto value = text(at);
  if (value && value->empty()) {
    error(at, "must not be empty");
    return std::nullopt;
  }
  return value;
}

std::optional<double> Reader::number(const At& at, const Range& range) {
  if (!at.node.IsScalar() || !is_plain_or(at.node, k_tag_int, k_tag_float)) {
    error(at, "expected a number, got " + describe_node(at.node));
    return std::nullopt;
  }
  const auto raw = substitute(at);
  if (!raw) return std::nullopt;
  const auto value = parse_number(*raw);
  if (!value) {
    error(at, "expected a number, got '" + *raw + "'");
    return std::nullopt;
  }
  if (!std::isfinite(*value)) {
    error(at, "must be a finite number, got " + *raw);
    return std::nullopt;
  }
  if (!range.contains(*value)) {
    error(at, range.describe() + ", got " + *raw);
    return std::nullopt;
  }
  return value;
}

std::optional<bool> Reader::boolean(const At& at) {
  if (at.node.IsScalar() && is_plain_or(at.node, k_tag_bool)) {
    const auto raw = substitute(at);
    if (!raw) return std::nullopt;
    if (*raw == "true" || *raw == "True" || *raw == "TRUE") return true;
    if (*raw == "false" || *raw == "False" || *raw == "FALSE") return false;
  }
  error(at, "expected true or false, got " + describe_node(at.node));
  return std::nullopt;
}

std::optional<risk::TimeMs> Reader::date(const At& at) {
  const auto raw = text(at);
  if (!raw) return std::nullopt;
  const auto value = risk::parse_date(*raw);
  if (!value) error(at, "must be a YYYY-MM-DD calendar date, got '" + *raw + "'");
  return value;
}

void Reader::unknown_key(const At& key, const std::string& name, const std::vector<std::string_view>& known) {
  std::string message = "unknown key";
  if (const std::string hint = closest(name, known); !hint.empty()) {
    message += "; did you mean '" + hint + "'?";
  } else {
    message += "; expected one of:";
    for (std::size_t i = 0; i < known.size(); ++i) {
      message += (i == 0 ? " " : ", ");
      message += known[i];
    }
  }
  error(key, message);
}

void Reader::for_each_entry(const At& map, bool user_keys,
                            const std::function<void(const std::string&, const At&, const At&)>& fn) {
  if (map.node.IsNull()) return;
  if (!map.node.IsMap()) {
    error(map, "expected a map, got " + describe_node(map.node));
    return;
  }
  std::set<std::string> seen;
  for (auto it = map.node.begin(); it != map.node.end(); ++it) {
    const YAML::Node key_node = it->first;
    const YAML::Node value_node = it->second;
    if (!key_node.IsScalar()) {
      error(At{key_node, key_node.Mark(), map.path}, "keys must be strings, got " + describe_node(key_node));
      continue;
    }
    const std::string& key = key_node.Scalar();
    const std::string path = user_keys ? item_path(map.path, key) : field_path(map.path, key);
    const At key_at{key_node, key_node.Mark(), path};
    if (!seen.insert(key).second) {
      error(key_at, "duplicate key '" + key + "'");
      continue;
    }
    const YAML::Mark value_mark =
        value_node.IsNull() || value_node.Mark().is_null() ? key_node.Mark() : value_node.Mark();
    fn(key, key_at, At{value_node, value_mark, path});
  }
}

void Reader::for_each_item(const At& list, const std::function<void(std::size_t, const At&)>& fn) {
  if (list.node.IsNull()) return;
  if (!list.node.IsSequence()) {
    error(list, "expected a list, got " + describe_node(list.node));
    return;
  }
  std::size_t index = 0;
  for (auto it = list.node.begin(); it != list.node.end(); ++it, ++index) {
    const YAML::Node item = *it;
    const YAML::Mark mark = item.Mark().is_null() ? list.mark : item.Mark();
    fn(index, At{item, mark, item_path(list.path, std::to_string(index))});
  }
}

void Reader::use_series(std::string id, risk::SeriesKind kind, const At& where) {
  uses_.push_back(SeriesUse{std::move(id), kind, where});
}

}  // namespace riskd::config::detail
