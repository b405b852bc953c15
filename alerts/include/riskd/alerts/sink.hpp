#pragma once
// Notification sinks: where alert events go after the engine emits them
// (Alertmanager, webhooks). Each sink owns a bounded queue and its own
// executor thread, so that no sink can slow the engine: submit() never
// blocks and never does I/O; when the queue is full the oldest queued
// event is dropped, counted (outcome "dropped") and logged.
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "riskd/alerts/rules.hpp"

namespace riskd::alerts {

/// Called by sinks (from their own threads) for each outcome, to feed
/// riskd_alert_notifications_total{sink, outcome}. Outcomes: "sent",
/// "failed" (a final failure, after retries), "retried", "dropped" (queue
/// overflow), "inhibited" (a warning skipped while its breach fires).
/// Must be thread-safe and non-blocking.
using OutcomeCounter = std::function<void(std::string_view sink, std::string_view outcome)>;

class Sink {
 public:
  virtual ~Sink() = default;
  /// Label value for metrics and logs, e.g. "alertmanager", "webhook".
  [[nodiscard]] virtual std::string_view name() const = 0;
  /// Enqueues one event (engine thread). Never blocks, never throws.
  virtual void submit(const AlertEvent& event) = 0;
  /// Tells the sink of an alert that was firing before a restart and that
  /// the engine will not emit again (its latest event, from the alerts
  /// topic), before any submit(). The sink treats it as delivered before the
  /// restart: Alertmanager re-posts it (same labels and startsAt, so no new
  /// page) to keep it active; a webhook receiver is not paged again, but a
  /// restored breach inhibits its warning as if it had just been given.
  /// Never blocks, never throws.
  virtual void restore_firing(const AlertEvent& event) = 0;
  /// Stops accepting events, gives the queue up to `drain` to empty, then
  /// stops the executor. Idempotent; called before destruction.
  virtual void stop(std::chrono::milliseconds drain) = 0;
};

}  // namespace riskd::alerts
