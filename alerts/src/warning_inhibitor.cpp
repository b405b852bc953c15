#include "riskd/alerts/warning_inhibitor.hpp"

#include <string_view>

namespace riskd::alerts {

namespace {

struct Role {
  int covenant = -1;  // 0 ltv, 1 dscr; -1: not subject to inhibition
  bool breach = false;
};

Role role_of(std::string_view rule) {
  if (rule == "ltv_breach") return {0, true};
  if (rule == "ltv_warning") return {0, false};
  if (rule == "dscr_breach") return {1, true};
  if (rule == "dscr_warning") return {1, false};
  return {};
}

}  // namespace

bool WarningInhibitor::concerns(const AlertEvent& event) {
  return !event.borrower.empty() && role_of(event.rule).covenant >= 0;
}

void WarningInhibitor::restore_firing(const AlertEvent& event) {
  const Role role = role_of(event.rule);
  if (role.covenant < 0 || event.borrower.empty() || !event.firing) return;
  Covenant& c = by_borrower_[event.borrower][static_cast<std::size_t>(role.covenant)];
  if (role.breach) {
    c.breach_firing = true;
  } else {
    c.warning_delivered_firing = true;
  }
}

bool WarningInhibitor::admit(const AlertEvent& event, std::vector<AlertEvent>& deliver) {
  const Role role = role_of(event.rule);
  if (role.covenant < 0 || event.borrower.empty()) {
    deliver.push_back(event);
    return false;
  }
  const auto it = by_borrower_.find(event.borrower);
  if (it == by_borrower_.end()) {
    // Nothing known: a warning passes; only a firing breach or a delivered
    // firing warning needs remembering.
    if (event.firing) {
      auto& c = by_borrower_[event.borrower][static_cast<std::size_t>(role.covenant)];
      if (role.breach) {
        c.breach_firing = true;
      } else {
        c.warning_delivered_firing = true;
      }
    }
    deliver.push_back(event);
    return false;
  }
  Covenant& c = it->second[static_cast<std::size_t>(role.covenant)];
  bool inhibited = false;
  if (role.breach) {
    c.breach_firing = event.firing;
    deliver.push_back(event);
    if (!event.firing && c.held) {
      if (c.held->firing != c.warning_delivered_firing) {
        c.warning_delivered_firing = c.held->firing;
        deliver.push_back(*c.held);
      }
      c.held.reset();
    }
  } else if (c.breach_firing) {
    c.held = event;
    inhibited = true;
  } else {
    c.warning_delivered_firing = event.firing;
    deliver.push_back(event);
  }
  // Forget borrowers with nothing to remember (bounded state).
  const auto idle = [](const Covenant& k) { return !k.breach_firing && !k.warning_delivered_firing && !k.held; };
  if (idle(it->second[0]) && idle(it->second[1])) by_borrower_.erase(it);
  return inhibited;
}

}  // namespace riskd::alerts
