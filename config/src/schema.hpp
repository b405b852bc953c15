#pragma once
// Internal to riskd::config: table-driven schemas. Each config key is declared
// once, as a Field (name, whether required, how to read and validate it) in
// the Schema of the struct it fills. Defaults are not declared here: a key
// that is absent leaves the member's initializer (riskd/risk/model.hpp,
// riskd/config/config.hpp) in place.
#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reader.hpp"

namespace riskd::config::detail {

enum class Need { optional, required };

template <class T>
struct Field {
  std::string_view name;
  Need need = Need::optional;
  /// Reads a non-null value into the target; reports problems to the reader.
  std::function<void(Reader&, const At&, T&)> read;
};

/// A key that was given in a map: its value, and whether it was read without error.
struct Given {
  At at;
  bool ok = false;
};
/// The keys that were given in a map, by name.
using Present = std::map<std::string, Given, std::less<>>;

template <class T>
struct Schema {
  std::vector<Field<T>> fields;
  /// Rules across keys, run after every key was read (may be empty).
  std::function<void(Reader&, const At& map, const Present&, T&)> check;

  [[nodiscard]] std::vector<std::string_view> names() const {
    std::vector<std::string_view> out;
    out.reserve(fields.size());
    for (const auto& f : fields) out.push_back(f.name);
    return out;
  }
};

/// Reads a map into `out` by `schema`: unknown keys (with a hint), missing
/// required keys and every field's own rule are reported. A null map is empty;
/// a key with a null value counts as absent.
template <class T>
void read_map(Reader& r, const At& at, const Schema<T>& schema, T& out) {
  if (!at.node.IsNull() && !at.node.IsMap()) {
    r.error(at, "expected a map, got " + describe_node(at.node));
    return;
  }
  Present present;
  std::vector<std::string_view> nulled;
  r.for_each_entry(at, false, [&](const std::string& key, const At& key_at, const At& value) {
    const Field<T>* field = nullptr;
    for (const auto& f : schema.fields) {
      if (f.name == key) field = &f;
    }
    if (field == nullptr) {
      r.unknown_key(key_at, key, schema.names());
      return;
    }
    if (value.node.IsNull()) {
      if (field->need == Need::required) r.error(value, "required, got null");
      nulled.push_back(field->name);
      return;
    }
    const std::size_t errors_before = r.error_count();
    field->read(r, value, out);
    present.emplace(key, Given{value, r.error_count() == errors_before});
  });
  for (const auto& f : schema.fields) {
    if (f.need == Need::required && present.find(f.name) == present.end() &&
        std::find(nulled.begin(), nulled.end(), f.name) == nulled.end()) {
      r.error(at.mark, field_path(at.path, f.name), "required key missing");
    }
  }
  if (schema.check) schema.check(r, at, present, out);
}

// ---- field makers -------------------------------------------------------

template <class T>
Field<T> number(std::string_view name, double T::*member, Range range, Need need = Need::optional) {
  return {name, need, [member, range](Reader& r, const At& v, T& out) {
            if (auto x = r.number(v, range)) out.*member = *x;
          }};
}

template <class T>
Field<T> number(std::string_view name, std::optional<double> T::*member, Range range, Need need = Need::optional) {
  return {name, need, [member, range](Reader& r, const At& v, T& out) {
            if (auto x = r.number(v, range)) out.*member = *x;
          }};
}

/// A string; `allow_empty` false rejects "".
template <class T>
Field<T> text(std::string_view name, std::string T::*member, Need need = Need::optional, bool allow_empty = true) {
  return {name, need, [member, allow_empty](Reader& r, const At& v, T& out) {
            if (auto s = allow_empty ? r.text(v) : r.non_empty_text(v)) out.*member = std::move(*s);
          }};
}

template <class T>
Field<T> flag(std::string_view name, bool T::*member) {
  return {name, Need::optional, [member](Reader& r, const At& v, T& out) {
            if (auto b = r.boolean(v)) out.*member = *b;
          }};
}

template <class T>
Field<T> date(std::string_view name, risk::TimeMs T::*member, Need need = Need::optional) {
  return {name, need, [member](Reader& r, const At& v, T& out) {
            if (auto t = r.date(v)) out.*member = *t;
          }};
}

/// A series id whose use implies `kind` (recorded for kind resolution).
template <class T>
Field<T> series_ref(std::string_view name, std::string T::*member, risk::SeriesKind kind, Need need = Need::optional) {
  return {name, need, [member, kind](Reader& r, const At& v, T& out) {
            if (auto s = r.non_empty_text(v)) {
              r.use_series(*s, kind, v);
              out.*member = std::move(*s);
            }
          }};
}

template <class T, class U>
Field<T> nested(std::string_view name, U T::*member, const Schema<U>& schema, Need need = Need::optional) {
  return {name, need, [member, &schema](Reader& r, const At& v, T& out) { read_map(r, v, schema, out.*member); }};
}

template <class T, class U>
Field<T> nested(std::string_view name, std::optional<U> T::*member, const Schema<U>& schema,
                Need need = Need::optional) {
  return {name, need, [member, &schema](Reader& r, const At& v, T& out) {
            if (!v.node.IsMap()) {
              r.error(v, "expected a map, got " + describe_node(v.node));
              return;
            }
            read_map(r, v, schema, (out.*member).emplace());
          }};
}

/// A sub-map whose keys fill the same struct (e.g. a borrower's `collateral:`).
template <class T>
Field<T> inline_map(std::string_view name, const Schema<T>& schema, Need need = Need::optional) {
  return {name, need, [&schema](Reader& r, const At& v, T& out) { read_map(r, v, schema, out); }};
}

template <class T, class U>
Field<T> list(std::string_view name, std::vector<U> T::*member, const Schema<U>& schema, Need need = Need::optional) {
  return {name, need, [member, &schema](Reader& r, const At& v, T& out) {
            r.for_each_item(v, [&](std::size_t, const At& item) {
              U& element = (out.*member).emplace_back();  // one element per item, even a bad one
              if (!item.node.IsMap()) {
                r.error(item, "expected a map, got " + describe_node(item.node));
                return;
              }
              read_map(r, item, schema, element);
            });
          }};
}

template <class T>
Field<T> custom(std::string_view name, Need need, std::function<void(Reader&, const At&, T&)> read) {
  return {name, need, std::move(read)};
}

}  // namespace riskd::config::detail
