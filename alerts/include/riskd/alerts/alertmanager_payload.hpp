#pragma once
// What riskd posts to Alertmanager's `POST /api/v2/alerts`: pure functions
// from alert events to the JSON body, so that the mapping is unit-tested.
//
// Mapping (documented in alerts/README.md):
//   labels      alertname = the rule; for `stress_breach:<scenario>` and
//               `feed_stale:<series>` the part before ':' with a `scenario` or
//               `series` label for the rest (routing and inhibit rules then
//               match one alertname); borrower (absent for feed rules);
//               severity; service="riskd".
//   annotations summary (one line for a phone), value, threshold (shortest
//               round-trip decimals; "+Inf"/"-Inf"/"NaN" when not finite),
//               key and seq of the riskd event.
//   startsAt    the `at` of the firing event.
//   endsAt      firing: max(now, at) + 4 × resend_s; resolved: the `at` of
//               the resolution.
//   generatorURL {generator_base}/api/v1/borrowers/{borrower, percent-encoded},
//               or {generator_base}/api/v1/series for feed rules; omitted if
//               the base is empty.
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "riskd/alerts/rules.hpp"
#include "riskd/risk/time.hpp"

namespace riskd::alerts {

/// Alertmanager labels of `event`, sorted by name.
std::vector<std::pair<std::string, std::string>> alertmanager_labels(const AlertEvent& event);

/// One line a person can read on a phone, e.g.
/// "miner-a LTV 72.1 % above covenant 70.0 %".
std::string alert_summary(const AlertEvent& event);

/// The generatorURL of `event` ("" if `generator_base_url` is empty).
std::string generator_url(std::string_view generator_base_url, const AlertEvent& event);

/// An event as posted: the event and when its alert started firing (its own
/// `at` for a firing event; the firing event's `at` for a resolution, when
/// the sink saw it).
struct AlertmanagerPosting {
  AlertEvent event;
  risk::TimeMs starts_at_ms = 0;
};

/// The JSON array body for `POST /api/v2/alerts`, one alert per posting in
/// order. `now_ms` is the wall clock (endsAt of firing alerts).
std::string alertmanager_body(std::span<const AlertmanagerPosting> postings, risk::TimeMs now_ms, double resend_s,
                              std::string_view generator_base_url);

}  // namespace riskd::alerts
