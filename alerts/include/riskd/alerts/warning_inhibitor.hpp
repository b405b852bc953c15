#pragma once
// Warning inhibition for notification sinks (METHODOLOGY.md "Alert rules":
// sinks skip a warning while the breach of the same covenant fires), the
// webhook twin of the inhibit rule in deploy/alertmanager/alertmanager.yml.
//
// The exact rule, judged on the stream of events a sink is given, in order:
//  1. Covenants: ltv_breach inhibits ltv_warning, dscr_breach inhibits
//     dscr_warning, for the same borrower. Every other rule passes through.
//  2. A warning event (firing or resolved) given while the same borrower's
//     breach of the same covenant fires (its latest event given was
//     `firing`) is not delivered: it is inhibited.
//  3. When that breach resolves, the latest inhibited warning event is
//     delivered right after the resolution (unchanged: same key, seq, at) if
//     it changes what the receiver last saw of that warning; so a warning
//     still firing reappears, as Alertmanager shows an inhibited alert again
//     once its source resolves. A receiver therefore sees a warning's firing
//     and its resolution both or neither, each pair in order.
// Pure and deterministic; not thread-safe (the sink calls it under its lock).
#include <array>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "riskd/alerts/rules.hpp"

namespace riskd::alerts {

class WarningInhibitor {
 public:
  /// Judges `event` (the next one in stream order) and appends to `deliver`
  /// the events the receiver should get now, in order: `event` itself unless
  /// inhibited, then possibly a released warning (rule 3). Returns true if
  /// `event` was inhibited.
  bool admit(const AlertEvent& event, std::vector<AlertEvent>& deliver);

  /// Records `event`, firing before a restart, as given and delivered
  /// then (nothing is delivered now): a restored breach inhibits its warning
  /// until it resolves; a restored warning is what the receiver last saw.
  void restore_firing(const AlertEvent& event);

  /// False for events rule 1 lets pass untouched (admit would only copy them
  /// to `deliver`): a fast path for callers.
  [[nodiscard]] static bool concerns(const AlertEvent& event);

  /// Borrowers with inhibition state (bounded by the borrowers with a breach
  /// firing or a warning held back).
  [[nodiscard]] std::size_t tracked() const { return by_borrower_.size(); }

 private:
  struct Covenant {
    bool breach_firing = false;
    bool warning_delivered_firing = false;  // what the receiver last saw of the warning
    std::optional<AlertEvent> held;         // latest inhibited warning event
  };
  std::unordered_map<std::string, std::array<Covenant, 2>> by_borrower_;  // [0] ltv, [1] dscr
};

}  // namespace riskd::alerts
