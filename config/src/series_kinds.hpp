#pragma once
// Internal to riskd::config: resolves each series' kind from what the config
// declares (`series: ID: {kind: ...}`), what is already known (the loaded
// book, for parse_borrower) and what its uses in borrowers imply. Any
// disagreement is an error at the later place that names the earlier one.
#include <map>
#include <optional>
#include <string>

#include "reader.hpp"
#include "riskd/risk/model.hpp"

namespace riskd::config::detail {

class KindResolver {
 public:
  /// A kind set by the config's `series:` section, given at `where`.
  void declare(const std::string& id, risk::SeriesKind kind, const At& where);
  /// A kind already in force (the loaded config and borrowers).
  void know(const std::string& id, risk::SeriesKind kind);
  /// A use in a borrower; reports a conflict with what is declared, known or
  /// used before.
  void use(Reader& r, const SeriesUse& use);

  [[nodiscard]] std::optional<risk::SeriesKind> kind_of(const std::string& id) const;
  /// Every series seen, with its kind.
  [[nodiscard]] std::map<std::string, risk::SeriesKind> kinds() const;

 private:
  struct Entry {
    risk::SeriesKind kind;
    std::string origin;  // completes "..., but <origin>"
  };
  std::map<std::string, Entry> entries_;
};

}  // namespace riskd::config::detail
