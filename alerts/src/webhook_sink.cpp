#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include "riskd/alerts/webhook_sink.hpp"

#include "http_sink_base.hpp"
#pragma GCC diagnostic pop

#include <optional>
#include <vector>

#include "riskd/alerts/event.hpp"
#include "riskd/alerts/warning_inhibitor.hpp"

namespace riskd::alerts {

namespace {

namespace asio = boost::asio;
using detail::PostResult;
using detail::SteadyClock;

class WebhookSink final : public detail::HttpSinkBase {
 public:
  WebhookSink(WebhookSinkOptions options, OutcomeCounter count)
      : HttpSinkBase("webhook", options.url, options.queue_capacity, options.initial_backoff, options.max_backoff,
                     std::move(count)),
        endpoint_(parse_http_url(options.url, "webhook url")),
        timeout_(detail::checked_timeout(options.timeout_s, "webhook " + options.url + ": timeout_s")) {
    start();
  }
  ~WebhookSink() override { stop_now(); }
  WebhookSink(const WebhookSink&) = delete;
  WebhookSink& operator=(const WebhookSink&) = delete;

  void restore_firing(const AlertEvent& event) override {
    try {
      std::lock_guard lock(mutex_);
      inhibitor_.restore_firing(event);
    } catch (const std::exception&) {  // out of memory: a warning may then pass uninhibited
    }
  }

  void submit(const AlertEvent& event) override {
    try {
      std::lock_guard lock(mutex_);
      if (!accepting_locked()) {
        count("dropped");
        return;
      }
      if (!WarningInhibitor::concerns(event)) {
        enqueue_locked(event);
        return;
      }
      deliver_.clear();
      if (inhibitor_.admit(event, deliver_)) note_inhibited();
      for (const AlertEvent& e : deliver_) enqueue_locked(e);
    } catch (const std::exception&) {
      count("dropped");  // out of memory: the event is lost, never the engine
    }
  }

 private:
  asio::awaitable<void> run() override {
    std::optional<AlertEvent> current;  // the head event: retried until delivered
    std::string body;
    for (;;) {
      if (!current) {
        std::lock_guard lock(mutex_);
        current = queue_.pop();
      }
      if (current) {
        set_in_flight(1);
        body = to_json(*current);
        const PostResult r = co_await detail::post_json(endpoint_, endpoint_.target, body, timeout_);
        if (r.ok()) {
          count("sent");
          current.reset();
          set_in_flight(0);
          backoff_.reset();
          log_recovery();
          continue;
        }
        count("retried");
        const auto delay = backoff_.next();
        log_failure(r, delay);
        co_await sleep_for(delay);
        continue;
      }
      if (draining()) co_return;
      co_await wait_for_work(SteadyClock::time_point::max());
    }
  }

  HttpEndpoint endpoint_;
  std::chrono::milliseconds timeout_;
  WarningInhibitor inhibitor_;       // under mutex_
  std::vector<AlertEvent> deliver_;  // under mutex_
};

}  // namespace

std::unique_ptr<Sink> make_webhook_sink(WebhookSinkOptions options, OutcomeCounter count) {
  return std::make_unique<WebhookSink>(std::move(options), std::move(count));
}

}  // namespace riskd::alerts
