#include "series_kinds.hpp"

namespace riskd::config::detail {

void KindResolver::declare(const std::string& id, risk::SeriesKind kind, const At& where) {
  entries_[id] = Entry{kind, describe_place(where) + " declares it " + std::string(risk::to_string(kind))};
}

void KindResolver::know(const std::string& id, risk::SeriesKind kind) {
  entries_[id] = Entry{kind, "it is already known as a " + std::string(risk::to_string(kind)) + " series"};
}

void KindResolver::use(Reader& r, const SeriesUse& use) {
  const auto it = entries_.find(use.id);
  if (it == entries_.end()) {
    entries_.emplace(use.id, Entry{use.kind, "it is used as " + std::string(risk::to_string(use.kind)) + " at " +
                                                 describe_place(use.where)});
    return;
  }
  if (it->second.kind == use.kind) return;
  r.error(use.where, "series '" + use.id + "' is used as " + std::string(risk::to_string(use.kind)) + " here, but " +
                         it->second.origin);
}

std::optional<risk::SeriesKind> KindResolver::kind_of(const std::string& id) const {
  const auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.kind;
}

std::map<std::string, risk::SeriesKind> KindResolver::kinds() const {
  std::map<std::string, risk::SeriesKind> out;
  for (const auto& [id, entry] : entries_) out.emplace(id, entry.kind);
  return out;
}

}  // namespace riskd::config::detail
