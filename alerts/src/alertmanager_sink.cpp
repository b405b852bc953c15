#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include "riskd/alerts/alertmanager_sink.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "http_sink_base.hpp"
#pragma GCC diagnostic pop

#include <spdlog/spdlog.h>

#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

#include "riskd/alerts/alertmanager_payload.hpp"

namespace riskd::alerts {

namespace {

namespace asio = boost::asio;
using detail::PostResult;
using detail::SteadyClock;

constexpr std::size_t k_max_alerts_per_post = 100;

/// `{base path}/api/v2/alerts`; the base URL must not carry a query.
std::string alerts_target(const HttpEndpoint& endpoint) {
  if (endpoint.target.find('?') != std::string::npos) {
    throw std::invalid_argument("alertmanager url: invalid URL \"" + endpoint.url +
                                "\": give the base URL of Alertmanager, without a query");
  }
  std::string base = endpoint.target;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/api/v2/alerts";
}

std::string checked_generator_base(const std::string& url) {
  if (url.empty()) return url;
  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https") || parsed->encoded_host().empty()) {
    throw std::invalid_argument("alertmanager generator_base_url: invalid URL \"" + url +
                                "\": expected riskd's own http(s)://host[:port] base");
  }
  return url;
}

risk::TimeMs wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A 4xx other than 408 and 429 says the payload itself is wrong.
bool permanent(int status) {
  return status >= 400 && status < 500 && status != 408 && status != 429;
}

class AlertmanagerSink final : public detail::HttpSinkBase {
 public:
  AlertmanagerSink(AlertmanagerSinkOptions options, OutcomeCounter count)
      : HttpSinkBase("alertmanager", options.url, options.queue_capacity, options.initial_backoff, options.max_backoff,
                     std::move(count)),
        endpoint_(parse_http_url(options.url, "alertmanager url")),
        target_(alerts_target(endpoint_)),
        resend_(detail::checked_timeout(options.resend_s, "alertmanager resend_s")),
        resend_s_(options.resend_s),
        timeout_(detail::checked_timeout(options.timeout_s, "alertmanager timeout_s")),
        generator_base_(checked_generator_base(options.generator_base_url)) {
    start();
  }
  ~AlertmanagerSink() override { stop_now(); }
  AlertmanagerSink(const AlertmanagerSink&) = delete;
  AlertmanagerSink& operator=(const AlertmanagerSink&) = delete;

  void submit(const AlertEvent& event) override {
    try {
      std::lock_guard lock(mutex_);
      if (!accepting_locked()) {
        count("dropped");
        return;
      }
      enqueue_locked(event);
    } catch (const std::exception&) {
      count("dropped");
    }
  }
  void restore_firing(const AlertEvent& event) override { submit(event); }

 private:
  /// Updates the firing set with `event` (executor thread) and returns it as posted.
  AlertmanagerPosting remember(AlertEvent event) {
    AlertmanagerPosting p{std::move(event), 0};
    const auto it = firing_.find(p.event.key);
    p.starts_at_ms = it != firing_.end() ? it->second.starts_at_ms : p.event.at_ms;
    if (p.event.firing) {
      firing_.insert_or_assign(p.event.key, p);
    } else if (it != firing_.end()) {
      firing_.erase(it);
    }
    return p;
  }

  asio::awaitable<PostResult> post(std::span<const AlertmanagerPosting> postings) {
    return detail::post_json(endpoint_, target_, alertmanager_body(postings, wall_now_ms(), resend_s_, generator_base_),
                             timeout_);
  }

  /// Re-posts every firing alert with a fresh endsAt; the first failure, if any.
  asio::awaitable<std::optional<PostResult>> resend_firing() {
    std::vector<AlertmanagerPosting> all;
    all.reserve(firing_.size());
    for (const auto& [key, posting] : firing_) all.push_back(posting);
    for (std::size_t i = 0; i < all.size(); i += k_max_alerts_per_post) {
      const std::size_t n = std::min(k_max_alerts_per_post, all.size() - i);
      PostResult r = co_await post(std::span<const AlertmanagerPosting>(all).subspan(i, n));
      if (!r.ok()) co_return r;
    }
    co_return std::nullopt;
  }

  asio::awaitable<void> run() override {
    std::vector<AlertEvent> taken;
    std::vector<AlertmanagerPosting> batch;  // taken, not yet accepted by Alertmanager
    auto next_resend = SteadyClock::now() + resend_;
    for (;;) {
      // Re-sends go first once due, so a steady stream of events cannot
      // starve them (Alertmanager would then expire the firing alerts).
      if (batch.empty() && !draining() && SteadyClock::now() >= next_resend) {
        std::optional<PostResult> failure;
        if (!firing_.empty()) failure = co_await resend_firing();
        if (!failure) {
          if (!firing_.empty()) {
            backoff_.reset();
            log_recovery();
          }
          next_resend = SteadyClock::now() + resend_;
        } else {
          const auto delay = std::min(resend_, backoff_.next());
          log_failure(*failure, delay);
          next_resend = SteadyClock::now() + delay;
        }
        continue;
      }
      if (batch.empty()) {
        taken.clear();
        {
          std::lock_guard lock(mutex_);
          queue_.pop_up_to(k_max_alerts_per_post, taken);
        }
        for (AlertEvent& e : taken) batch.push_back(remember(std::move(e)));
        set_in_flight(batch.size());
      }
      if (!batch.empty()) {
        const PostResult r = co_await post(batch);
        if (r.ok() || permanent(r.status)) {
          if (r.ok()) {
            count("sent", batch.size());
            backoff_.reset();
            log_recovery();
          } else {
            count("failed", batch.size());
            spdlog::error("alertmanager sink {}: {} alerts refused ({}); not retried", url_, batch.size(),
                          r.describe());
          }
          batch.clear();
          set_in_flight(0);
          continue;
        }
        count("retried", batch.size());
        const auto delay = backoff_.next();
        log_failure(r, delay);
        co_await sleep_for(delay);
        continue;
      }
      if (draining()) co_return;
      co_await wait_for_work(firing_.empty() ? SteadyClock::time_point::max() : next_resend);
    }
  }

  HttpEndpoint endpoint_;
  std::string target_;
  std::chrono::milliseconds resend_;
  double resend_s_;
  std::chrono::milliseconds timeout_;
  std::string generator_base_;
  std::map<std::string, AlertmanagerPosting> firing_;  // executor thread: by key, the alerts firing
};

}  // namespace

std::unique_ptr<Sink> make_alertmanager_sink(AlertmanagerSinkOptions options, OutcomeCounter count) {
  return std::make_unique<AlertmanagerSink>(std::move(options), std::move(count));
}

}  // namespace riskd::alerts
