// The webhook sink against a receiver in the test over real TCP on
// 127.0.0.1: refused connections, 500s and answers slower than the timeout,
// then recovery; inhibition, overflow and stop through the real sink.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "riskd/alerts/event.hpp"
#include "riskd/alerts/webhook_sink.hpp"
#include "sink_test_support.hpp"

using namespace riskd;
using namespace std::chrono_literals;
using test::event;
using test::eventually;
using Mode = test::WebhookReceiver::Mode;

namespace {

alerts::WebhookSinkOptions fast_options(const std::string& url, std::size_t capacity = 1000) {
  alerts::WebhookSinkOptions o;
  o.url = url;
  o.timeout_s = 2.0;  // generous: a prompt 200 must never time out on a loaded CI machine
  o.queue_capacity = capacity;
  o.initial_backoff = 10ms;
  o.max_backoff = 100ms;
  return o;
}

std::vector<std::string> bodies(const std::vector<alerts::AlertEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(alerts::to_json(e));
  return out;
}

}  // namespace

TEST_CASE("webhook delivers every event once and in order after refused connections, 500s and slow answers") {
  test::Outcomes outcomes;
  const unsigned short port = test::unused_port();
  auto sink =
      alerts::make_webhook_sink(fast_options("http://127.0.0.1:" + std::to_string(port) + "/hook"), outcomes.counter());
  CHECK(sink->name() == "webhook");
  // Two keys whose events interleave, plus feed and stress events.
  std::vector<alerts::AlertEvent> events;
  for (std::uint64_t seq = 1; seq <= 4; ++seq) {
    events.push_back(event("miner-a", "liquidation_shortfall", seq % 2 == 1, seq));
    events.push_back(event("gpu-b", "stress_breach:btc_crash", seq % 2 == 1, seq));
  }
  events.push_back(event("", "feed_stale:BTC-USD", true, 1));
  events.push_back(event("", "feed_stale:BTC-USD", false, 2));

  // 1. Nothing listens: connections are refused and retried.
  for (std::size_t i = 0; i < 3; ++i) sink->submit(events[i]);
  REQUIRE(eventually([&] { return outcomes["retried"] >= 3; }));
  CHECK(outcomes["sent"] == 0);

  // 2. The receiver comes up on that port but answers 500.
  test::WebhookReceiver receiver(port);
  receiver.set_mode(Mode::fail_500);
  for (std::size_t i = 3; i < 5; ++i) sink->submit(events[i]);
  REQUIRE(eventually([&] { return receiver.count(Mode::fail_500) >= 3; }));

  // 3. It answers after 6 s, well past the sink's 2 s timeout.
  receiver.set_mode(Mode::slow, 6000ms);
  REQUIRE(eventually([&] { return receiver.count(Mode::slow) >= 2; }));

  // 4. Recovery: everything arrives, once, in submission order.
  receiver.set_mode(Mode::ok);
  for (std::size_t i = 5; i < events.size(); ++i) sink->submit(events[i]);
  REQUIRE(eventually([&] { return receiver.accepted().size() >= events.size(); }));
  sink->stop(5s);  // nothing may arrive after this: duplicates would show below

  CHECK(receiver.accepted() == bodies(events));
  CHECK(outcomes["sent"] == static_cast<int>(events.size()));
  CHECK(outcomes["dropped"] == 0);
  CHECK(outcomes["failed"] == 0);
  // Every failed attempt was counted: the ones the receiver saw fail (500s,
  // slow answers) and at least the 3 refused connections before it existed.
  const auto server_failures = static_cast<int>(receiver.requests().size() - receiver.accepted().size());
  CHECK(server_failures >= 3 + 2);
  CHECK(outcomes["retried"] >= server_failures + 3);
  CHECK(outcomes.sinks() == std::vector<std::string>{"webhook"});
  for (const auto& r : receiver.requests()) {
    CHECK(r.method == "POST");
    CHECK(r.target == "/hook");
    CHECK(r.content_type == "application/json");
  }
  // The first event was the one retried through every failure mode.
  for (const auto& r : receiver.requests()) {
    if (r.mode != Mode::ok) CHECK(r.body == alerts::to_json(events[0]));
  }
}

TEST_CASE("webhook skips a warning while the borrower's breach of that covenant fires") {
  test::Outcomes outcomes;
  test::WebhookReceiver receiver;
  auto sink = alerts::make_webhook_sink(fast_options(receiver.url()), outcomes.counter());
  const auto breach = event("miner-a", "ltv_breach", true, 1);
  const auto warning_a = event("miner-a", "ltv_warning", true, 7);
  const auto warning_b = event("miner-b", "ltv_warning", true, 1);
  const auto dscr_warning_a = event("miner-a", "dscr_warning", true, 1);
  const auto resolved = event("miner-a", "ltv_breach", false, 2);
  for (const auto& e : {breach, warning_a, warning_b, dscr_warning_a, resolved}) sink->submit(e);
  REQUIRE(eventually([&] { return receiver.accepted().size() >= 5 && outcomes["inhibited"] >= 1; }));
  sink->stop(5s);
  // miner-a's LTV warning appears only once its breach resolved (rule 3 of
  // warning_inhibitor.hpp), with its own seq.
  CHECK(receiver.accepted() == bodies({breach, warning_b, dscr_warning_a, resolved, warning_a}));
  CHECK(outcomes["sent"] == 5);
  CHECK(outcomes["inhibited"] == 1);
}

TEST_CASE("webhook does not re-page an alert restored as firing, and its breach still inhibits the warning") {
  test::Outcomes outcomes;
  test::WebhookReceiver receiver;
  auto sink = alerts::make_webhook_sink(fast_options(receiver.url()), outcomes.counter());
  const auto breach = event("miner-a", "ltv_breach", true, 3);  // firing before the restart
  const auto warning = event("miner-a", "ltv_warning", true, 4);
  const auto resolved = event("miner-a", "ltv_breach", false, 4);
  sink->restore_firing(breach);
  sink->submit(warning);
  sink->submit(resolved);
  REQUIRE(eventually([&] { return receiver.accepted().size() >= 2 && outcomes["inhibited"] >= 1; }));
  sink->stop(5s);
  CHECK(receiver.accepted() == bodies({resolved, warning}));  // the restored breach is not sent again
  CHECK(outcomes["sent"] == 2);
  CHECK(outcomes["inhibited"] == 1);
}

TEST_CASE("webhook queue overflow drops the oldest waiting events and counts them") {
  test::Outcomes outcomes;
  const unsigned short port = test::unused_port();
  auto sink =
      alerts::make_webhook_sink(fast_options("http://127.0.0.1:" + std::to_string(port) + "/", 3), outcomes.counter());
  std::vector<alerts::AlertEvent> events;
  for (std::uint64_t seq = 1; seq <= 6; ++seq) events.push_back(event("m", "liquidation_shortfall", seq % 2, seq));
  sink->submit(events[0]);
  REQUIRE(eventually([&] { return outcomes["retried"] >= 1; }));  // events[0] is in flight, off the queue
  for (std::size_t i = 1; i < events.size(); ++i) sink->submit(events[i]);
  // events[1] and events[2], the oldest waiting; reported by the sink's thread.
  REQUIRE(eventually([&] { return outcomes["dropped"] >= 2; }));
  test::WebhookReceiver receiver(port);
  REQUIRE(eventually([&] { return receiver.accepted().size() >= 4; }));
  sink->stop(5s);
  CHECK(receiver.accepted() == bodies({events[0], events[3], events[4], events[5]}));
  CHECK(outcomes["sent"] == 4);
  CHECK(outcomes["dropped"] == 2);
}

TEST_CASE("webhook stop gives up after the drain time and counts what was left as dropped") {
  test::Outcomes outcomes;
  auto sink = alerts::make_webhook_sink(fast_options("http://127.0.0.1:" + std::to_string(test::unused_port()) + "/"),
                                        outcomes.counter());
  for (std::uint64_t seq = 1; seq <= 3; ++seq) sink->submit(event("m", "liquidation_shortfall", seq % 2, seq));
  REQUIRE(eventually([&] { return outcomes["retried"] >= 1; }));
  const auto start = std::chrono::steady_clock::now();
  sink->stop(300ms);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 250ms);
  CHECK(took < 10s);
  CHECK(outcomes["dropped"] == 3);  // the one in flight and the two queued
  CHECK(outcomes["sent"] == 0);
  sink->submit(event("m", "liquidation_shortfall", true, 4));  // after stop: dropped, never blocks
  CHECK(outcomes["dropped"] == 4);
  sink->stop(1s);  // idempotent
  CHECK(outcomes["dropped"] == 4);
}

TEST_CASE("webhook stop delivers the queue first when the receiver answers") {
  test::Outcomes outcomes;
  test::WebhookReceiver receiver;
  auto sink = alerts::make_webhook_sink(fast_options(receiver.url()), outcomes.counter());
  std::vector<alerts::AlertEvent> events;
  for (std::uint64_t seq = 1; seq <= 50; ++seq) events.push_back(event("m", "liquidation_shortfall", seq % 2, seq));
  for (const auto& e : events) sink->submit(e);
  sink->stop(60s);
  CHECK(receiver.accepted() == bodies(events));
  CHECK(outcomes["sent"] == 50);
  CHECK(outcomes["dropped"] == 0);
}
