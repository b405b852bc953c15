// Unit tests of the pure parts of the notification sinks: the drop-oldest
// queue, warning inhibition, the Alertmanager payload, URL checks.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "riskd/alerts/alertmanager_payload.hpp"
#include "riskd/alerts/alertmanager_sink.hpp"
#include "riskd/alerts/http_endpoint.hpp"
#include "riskd/alerts/sink_queue.hpp"
#include "riskd/alerts/warning_inhibitor.hpp"
#include "riskd/alerts/webhook_sink.hpp"
#include "riskd/risk/time.hpp"
#include "sink_test_support.hpp"

using namespace riskd;
using test::event;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> keys_states(const std::vector<alerts::AlertEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.key + (e.firing ? " firing" : " resolved"));
  return out;
}

std::string message_of(auto&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no std::invalid_argument thrown)";
}

}  // namespace

// ---------------------------------------------------------------------------
// DropOldestQueue

TEST_CASE("sink queue keeps order and drops the oldest item when full") {
  alerts::DropOldestQueue<int> q(3);
  CHECK(q.push(1) == 0);
  CHECK(q.push(2) == 0);
  CHECK(q.push(3) == 0);
  CHECK(q.push(4) == 1);  // 1 dropped
  CHECK(q.push(5) == 1);  // 2 dropped
  CHECK(q.size() == 3);
  std::vector<int> out;
  q.pop_up_to(2, out);
  CHECK(out == std::vector<int>{3, 4});
  CHECK(q.pop() == 5);
  CHECK_FALSE(q.pop().has_value());
  CHECK(q.empty());
}

TEST_CASE("sink queue keeps FIFO order while it grows and wraps around") {
  alerts::DropOldestQueue<std::string> q(100);
  std::vector<std::string> out;
  int next_in = 0;
  int next_out = 0;
  // Interleave pushes and pops so that growth happens with the head mid-ring.
  for (int round = 0; round < 49; ++round) {  // +2 a round: 98 held, head far from slot 0
    for (int i = 0; i < 3; ++i) CHECK(q.push(std::to_string(next_in++)) == 0);
    CHECK(q.pop() == std::to_string(next_out++));
  }
  CHECK(q.push(std::to_string(next_in++)) == 0);
  CHECK(q.push(std::to_string(next_in++)) == 0);
  CHECK(q.size() == 100);
  CHECK(q.push(std::to_string(next_in++)) == 1);  // full at capacity: the oldest goes
  ++next_out;
  out.clear();
  q.pop_up_to(1000, out);
  REQUIRE(out.size() == 100);
  for (const auto& s : out) CHECK(s == std::to_string(next_out++));
  CHECK(q.empty());
}

TEST_CASE("sink queue refuses a zero capacity") {
  CHECK_THROWS_AS(alerts::DropOldestQueue<int>(0), std::invalid_argument);
}

// ---------------------------------------------------------------------------
// WarningInhibitor

TEST_CASE("a warning is inhibited while the same borrower's breach of that covenant fires") {
  alerts::WarningInhibitor inh;
  std::vector<alerts::AlertEvent> out;
  CHECK_FALSE(inh.admit(event("a", "ltv_breach", true, 1), out));
  CHECK(inh.admit(event("a", "ltv_warning", true, 1), out));         // same borrower, same covenant
  CHECK_FALSE(inh.admit(event("b", "ltv_warning", true, 1), out));   // other borrower
  CHECK_FALSE(inh.admit(event("a", "dscr_warning", true, 1), out));  // other covenant
  CHECK_FALSE(inh.admit(event("a", "stress_breach:btc_crash", true, 1), out));
  CHECK(keys_states(out) == std::vector<std::string>{"a/ltv_breach firing", "b/ltv_warning firing",
                                                     "a/dscr_warning firing", "a/stress_breach:btc_crash firing"});
}

TEST_CASE("a warning still firing when its breach resolves is delivered right after the resolution") {
  alerts::WarningInhibitor inh;
  std::vector<alerts::AlertEvent> out;
  inh.admit(event("a", "dscr_breach", true, 1), out);
  CHECK(inh.admit(event("a", "dscr_warning", true, 4), out));
  out.clear();
  CHECK_FALSE(inh.admit(event("a", "dscr_breach", false, 2), out));
  REQUIRE(out.size() == 2);
  CHECK(out[0].key == "a/dscr_breach");
  CHECK(out[1].key == "a/dscr_warning");
  CHECK(out[1].firing);
  CHECK(out[1].seq == 4);  // the held event itself, unchanged
  out.clear();
  CHECK_FALSE(inh.admit(event("a", "dscr_warning", false, 5), out));  // its resolution now passes
  CHECK(keys_states(out) == std::vector<std::string>{"a/dscr_warning resolved"});
  CHECK(inh.tracked() == 0);
}

TEST_CASE("a warning that fired and resolved under its breach is never shown") {
  alerts::WarningInhibitor inh;
  std::vector<alerts::AlertEvent> out;
  inh.admit(event("a", "ltv_breach", true, 1), out);
  CHECK(inh.admit(event("a", "ltv_warning", true, 1), out));
  CHECK(inh.admit(event("a", "ltv_warning", false, 2), out));
  inh.admit(event("a", "ltv_breach", false, 2), out);
  CHECK(keys_states(out) == std::vector<std::string>{"a/ltv_breach firing", "a/ltv_breach resolved"});
  CHECK(inh.tracked() == 0);
}

TEST_CASE("a warning delivered before its breach fired gets its resolution after the breach resolves") {
  alerts::WarningInhibitor inh;
  std::vector<alerts::AlertEvent> out;
  inh.admit(event("a", "ltv_warning", true, 1), out);          // delivered
  inh.admit(event("a", "ltv_breach", true, 1), out);           // delivered
  CHECK(inh.admit(event("a", "ltv_warning", false, 2), out));  // held
  inh.admit(event("a", "ltv_breach", false, 2), out);          // releases the resolution
  CHECK(keys_states(out) == std::vector<std::string>{"a/ltv_warning firing", "a/ltv_breach firing",
                                                     "a/ltv_breach resolved", "a/ltv_warning resolved"});
  CHECK(inh.tracked() == 0);
}

TEST_CASE("a breach restored as firing after a restart inhibits its warning until it resolves") {
  alerts::WarningInhibitor inh;
  std::vector<alerts::AlertEvent> out;
  inh.restore_firing(event("a", "ltv_breach", true, 3));     // firing before the restart
  inh.restore_firing(event("a", "dscr_warning", true, 2));   // delivered before the restart
  inh.restore_firing(event("b", "ltv_breach", false, 4));    // resolved: nothing to remember
  inh.restore_firing(event("", "feed_stale:BTC-USD", true, 1));
  CHECK(inh.tracked() == 1);
  CHECK(inh.admit(event("a", "ltv_warning", true, 5), out));         // inhibited by the restored breach
  CHECK_FALSE(inh.admit(event("b", "ltv_warning", true, 1), out));   // b's breach is not firing
  CHECK_FALSE(inh.admit(event("a", "dscr_warning", false, 3), out)); // the restored warning resolves
  inh.admit(event("a", "ltv_breach", false, 4), out);                // releases a's LTV warning
  CHECK(keys_states(out) == std::vector<std::string>{"b/ltv_warning firing", "a/dscr_warning resolved",
                                                     "a/ltv_breach resolved", "a/ltv_warning firing"});
}

TEST_CASE("feed and borrower-less events pass the inhibitor untouched") {
  alerts::WarningInhibitor inh;
  CHECK_FALSE(alerts::WarningInhibitor::concerns(event("", "feed_stale:BTC-USD", true, 1)));
  CHECK_FALSE(alerts::WarningInhibitor::concerns(event("a", "liquidation_shortfall", true, 1)));
  CHECK(alerts::WarningInhibitor::concerns(event("a", "dscr_warning", true, 1)));
  std::vector<alerts::AlertEvent> out;
  CHECK_FALSE(inh.admit(event("", "feed_stale:BTC-USD", true, 1), out));
  CHECK(out.size() == 1);
  CHECK(inh.tracked() == 0);
}

// ---------------------------------------------------------------------------
// Alertmanager payload

TEST_CASE("alertmanager labels: the rule, borrower, severity, service, and qualifiers get their own label") {
  using L = std::vector<std::pair<std::string, std::string>>;
  CHECK(alerts::alertmanager_labels(event("miner-a", "ltv_breach", true, 1)) ==
        L{{"alertname", "ltv_breach"}, {"borrower", "miner-a"}, {"service", "riskd"}, {"severity", "critical"}});
  CHECK(alerts::alertmanager_labels(event("miner-a", "stress_breach:btc_crash", true, 1)) ==
        L{{"alertname", "stress_breach"},
          {"borrower", "miner-a"},
          {"scenario", "btc_crash"},
          {"service", "riskd"},
          {"severity", "info"}});
  CHECK(alerts::alertmanager_labels(event("", "feed_stale:BTC-USD", true, 1)) ==
        L{{"alertname", "feed_stale"}, {"series", "BTC-USD"}, {"service", "riskd"}, {"severity", "warning"}});
}

TEST_CASE("alert summaries read as one line with units") {
  CHECK(alerts::alert_summary(event("miner-a", "ltv_breach", true, 1, 0, 0.7213, 0.70)) ==
        "miner-a LTV 72.1 % above covenant 70.0 %");
  CHECK(alerts::alert_summary(event("miner-a", "ltv_breach", false, 2, 0, 0.688, 0.70)) ==
        "miner-a LTV 68.8 % back within covenant 70.0 %");
  CHECK(alerts::alert_summary(event("gpu-b", "dscr_warning", true, 1, 0, 1.3, 1.35)) ==
        "gpu-b DSCR 1.30x below warning level 1.35x");
  CHECK(alerts::alert_summary(event("gpu-b", "ltv_breach", true, 1, 0, std::numeric_limits<double>::infinity(), 0.7)) ==
        "gpu-b LTV ∞ above covenant 70.0 %");
  CHECK(alerts::alert_summary(event("", "feed_stale:BTC-USD", true, 1, 0, 75.4, 60)) ==
        "BTC-USD feed stale: no tick for 75 s (limit 60 s)");
  CHECK(alerts::alert_summary(event("m", "stress_breach:btc_crash", true, 1, 0, 0.91, 0.7)) ==
        "m breaches covenants under scenario btc_crash (stressed LTV 91.0 %, max 70.0 %)");
}

TEST_CASE("alertmanager body: startsAt at firing, endsAt 4 resends ahead while firing, the resolution time after") {
  const risk::TimeMs at = *risk::parse_rfc3339("2026-11-26T10:00:00Z");
  const risk::TimeMs now = at + 1500;
  std::vector<alerts::AlertmanagerPosting> p;
  p.push_back({event("miner a", "ltv_breach", true, 3, at, 0.7213, 0.7), at});
  p.push_back({event("miner a", "ltv_warning", false, 2, at + 500, std::numeric_limits<double>::infinity(), 0.65),
               at - 60'000});
  p.push_back({event("", "feed_stale:BTC-USD", true, 1, now + 100'000, 75.0, 60.0), now + 100'000});
  const auto body = boost::json::parse(alerts::alertmanager_body(p, now, 60.0, "http://riskd:8080/"));
  const auto& a = body.as_array();
  REQUIRE(a.size() == 3);
  CHECK(a[0].at("startsAt") == "2026-11-26T10:00:00Z");
  CHECK(*risk::parse_rfc3339(a[0].at("endsAt").as_string()) == now + 240'000);
  CHECK(a[0].at("generatorURL") == "http://riskd:8080/api/v1/borrowers/miner%20a");
  CHECK(a[0].at("labels").at("alertname") == "ltv_breach");
  CHECK(a[0].at("annotations").at("value") == "0.7213");
  CHECK(a[0].at("annotations").at("threshold") == "0.7");
  CHECK(a[0].at("annotations").at("seq") == "3");
  CHECK(a[0].at("annotations").at("key") == "miner a/ltv_breach");
  CHECK(a[0].at("annotations").at("summary") == "miner a LTV 72.1 % above covenant 70.0 %");
  // Resolved: endsAt is the resolution's at, startsAt when the alert began.
  CHECK(*risk::parse_rfc3339(a[1].at("startsAt").as_string()) == at - 60'000);
  CHECK(*risk::parse_rfc3339(a[1].at("endsAt").as_string()) == at + 500);
  CHECK(a[1].at("annotations").at("value") == "+Inf");
  // Event time ahead of the wall clock: endsAt counts from `at`, never before startsAt.
  CHECK(*risk::parse_rfc3339(a[2].at("endsAt").as_string()) == now + 100'000 + 240'000);
  CHECK(a[2].at("generatorURL") == "http://riskd:8080/api/v1/series");
  CHECK_FALSE(a[2].at("labels").as_object().contains("borrower"));
}

TEST_CASE("without a generator base the alerts carry no generatorURL") {
  std::vector<alerts::AlertmanagerPosting> p{{event("m", "ltv_breach", true, 1, 1000), 1000}};
  const auto body = boost::json::parse(alerts::alertmanager_body(p, 1000, 1.0, ""));
  CHECK_FALSE(body.as_array()[0].as_object().contains("generatorURL"));
}

// ---------------------------------------------------------------------------
// URLs and options

TEST_CASE("http URLs are parsed into host, port, target and Host header") {
  const auto e = alerts::parse_http_url("http://hooks.example.com:9000/riskd/hook?team=credit", "x");
  CHECK(e.host == "hooks.example.com");
  CHECK(e.port == 9000);
  CHECK(e.target == "/riskd/hook?team=credit");
  CHECK(e.host_header == "hooks.example.com:9000");
  const auto d = alerts::parse_http_url("http://127.0.0.1", "x");
  CHECK(d.port == 80);
  CHECK(d.target == "/");
  const auto v6 = alerts::parse_http_url("http://[::1]:9093/", "x");
  CHECK(v6.host == "::1");
  CHECK(v6.host_header == "[::1]:9093");
}

TEST_CASE("invalid sink URLs are rejected at construction with the URL in the message") {
  for (const std::string url : {"not a url", "ftp://example.com/x", "https://example.com/hook", "http://",
                                "http://user:pw@example.com/", "http://example.com:0/", "http://example.com:99999/"}) {
    CAPTURE(url);
    const std::string w = message_of([&] { alerts::make_webhook_sink({.url = url}, nullptr); });
    CHECK(w.find(url) != std::string::npos);
    CHECK(w.find("webhook") != std::string::npos);
    const std::string a = message_of([&] { alerts::make_alertmanager_sink({.url = url}, nullptr); });
    CHECK(a.find(url) != std::string::npos);
    CHECK(a.find("alertmanager") != std::string::npos);
  }
  CHECK(message_of([] { alerts::make_webhook_sink({.url = "https://x/"}, nullptr); }).find("https") !=
        std::string::npos);
}

TEST_CASE("invalid sink options are rejected at construction") {
  CHECK_THROWS_AS(alerts::make_webhook_sink({.url = "http://127.0.0.1:9/", .timeout_s = 0.0}, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(alerts::make_webhook_sink({.url = "http://127.0.0.1:9/", .queue_capacity = 0}, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(alerts::make_webhook_sink({.url = "http://127.0.0.1:9/", .initial_backoff = 0ms}, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(alerts::make_alertmanager_sink({.url = "http://127.0.0.1:9/", .resend_s = -1.0}, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(alerts::make_alertmanager_sink({.url = "http://127.0.0.1:9/?a=b"}, nullptr), std::invalid_argument);
  const std::string g = message_of([] {
    alerts::make_alertmanager_sink({.url = "http://127.0.0.1:9/", .generator_base_url = "riskd:8080"}, nullptr);
  });
  CHECK(g.find("riskd:8080") != std::string::npos);
  CHECK(g.find("generator_base_url") != std::string::npos);
}
