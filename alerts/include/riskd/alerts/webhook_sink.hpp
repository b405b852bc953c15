#pragma once
// The webhook sink (`outputs.webhooks[i]`): POSTs each alert event, exactly
// `to_json(event)` with Content-Type application/json, to one URL.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "riskd/alerts/sink.hpp"

namespace riskd::alerts {

struct WebhookSinkOptions {
  std::string url{};       // outputs.webhooks[i].url
  double timeout_s = 5.0;  // per request
  std::size_t queue_capacity = 10'000;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{30'000};
};

/// Starts the sink's executor thread. Sink name "webhook". Throws
/// std::invalid_argument (naming the field and value) for a URL that is not
/// http://, timeout_s not finite and > 0, a zero queue_capacity or a
/// non-positive backoff.
///
/// Delivery: one request at a time, in submission order. A 2xx answer means
/// delivered ("sent"). Anything else (another status, a timeout, a refused
/// or reset connection) counts "retried" and is retried after a capped
/// exponential backoff with full jitter (uniform in [0, min(max_backoff,
/// initial_backoff × 2^attempt)]), forever: the event stays at the head, so
/// no later event is delivered before it. At least once: a receiver that
/// took an event but answered too late gets it again; dedupe on (key, seq).
/// Warnings are inhibited as warning_inhibitor.hpp describes (counted
/// "inhibited").
std::unique_ptr<Sink> make_webhook_sink(WebhookSinkOptions options, OutcomeCounter count);

}  // namespace riskd::alerts
