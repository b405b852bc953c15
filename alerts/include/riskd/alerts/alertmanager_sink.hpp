#pragma once
// The Alertmanager sink (`outputs.alertmanager`): posts alert events to
// `{url}/api/v2/alerts` and re-sends every firing alert every resend_s so
// that Alertmanager keeps it active (endsAt = now + 4 × resend_s).
// Mapping of events to alerts: alertmanager_payload.hpp.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "riskd/alerts/sink.hpp"

namespace riskd::alerts {

struct AlertmanagerSinkOptions {
  std::string url{};                 // base URL of Alertmanager, e.g. http://127.0.0.1:9093
  double resend_s = 60.0;            // outputs.alertmanager.resend_s
  std::string generator_base_url{};  // riskd's own HTTP base, e.g. http://127.0.0.1:8080
  std::size_t queue_capacity = 10'000;
  double timeout_s = 5.0;  // per request
  // Retry of failed posts: capped exponential backoff with full jitter.
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{30'000};
};

/// Starts the sink's executor thread. Sink name "alertmanager". Throws
/// std::invalid_argument (naming the field and value) for a URL that is not
/// http://, a generator_base_url that is not http(s)://, resend_s or
/// timeout_s not finite and > 0, a zero queue_capacity or a non-positive
/// backoff.
///
/// Delivery: events are posted in submission order, up to 100 per request;
/// a request that fails (no answer, timeout, 5xx, 408, 429) is retried,
/// with the same events plus fresh endsAt, until it succeeds or the sink
/// stops (each failed attempt counts "retried" once per event); a 2xx counts
/// "sent" per event; any other 4xx (the payload is wrong: retrying cannot
/// help) counts "failed" per event and is logged with Alertmanager's answer.
/// Re-sends of firing alerts are not counted.
std::unique_ptr<Sink> make_alertmanager_sink(AlertmanagerSinkOptions options, OutcomeCounter count);

}  // namespace riskd::alerts
