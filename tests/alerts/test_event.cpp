#include <doctest/doctest.h>

#include <limits>

#include "riskd/alerts/event.hpp"

using namespace riskd;

TEST_CASE("alert event JSON has the INTERFACES.md fields in order") {
  alerts::AlertEvent e;
  e.key = "miner-a/ltv_breach";
  e.borrower = "miner-a";
  e.rule = "ltv_breach";
  e.severity = alerts::Severity::critical;
  e.firing = true;
  e.value = 0.7213;
  e.threshold = 0.70;
  e.at_ms = 1655078400000;  // 2022-06-13T00:00:00Z
  e.seq = 3;
  CHECK(alerts::to_json(e) ==
        R"({"key": "miner-a/ltv_breach", "borrower": "miner-a", "rule": "ltv_breach", "severity": "critical", )"
        R"("state": "firing", "value": 0.7213, "threshold": 0.7, "at": "2022-06-13T00:00:00Z", "seq": 3})");
}

TEST_CASE("feed alerts have a null borrower, an infinite value is null") {
  alerts::AlertEvent e;
  e.key = "feed_stale:BTC-USD";
  e.rule = e.key;
  e.severity = alerts::Severity::warning;
  e.firing = false;
  e.value = std::numeric_limits<double>::infinity();
  e.threshold = 60;
  e.seq = 2;
  const std::string json = alerts::to_json(e);
  CHECK(json.find(R"("borrower": null)") != std::string::npos);
  CHECK(json.find(R"("state": "resolved")") != std::string::npos);
  CHECK(json.find(R"("value": null)") != std::string::npos);
  CHECK(json.find(R"("threshold": 60.0)") != std::string::npos);
}
