#pragma once
// Wire format of an alert event (INTERFACES.md "Alert event"): one JSON
// object, also the line format of `riskd replay`.
#include <string>

#include "riskd/alerts/rules.hpp"

namespace riskd::alerts {

/// `{"key": ..., "borrower": ..., "rule": ..., "severity": ..., "state": ...,
/// "value": ..., "threshold": ..., "at": ..., "seq": ...}` on one line.
std::string to_json(const AlertEvent& event);

}  // namespace riskd::alerts
