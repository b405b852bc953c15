#include "riskd/alerts/event.hpp"

#include "riskd/risk/json_text.hpp"

namespace riskd::alerts {

std::string to_json(const AlertEvent& event) {
  risk::JsonText j;
  j.begin_object();
  j.key("key").string(event.key);
  j.key("borrower");
  if (event.borrower.empty()) {
    j.null();
  } else {
    j.string(event.borrower);
  }
  j.key("rule").string(event.rule);
  j.key("severity").string(to_string(event.severity));
  j.key("state").string(event.firing ? "firing" : "resolved");
  j.key("value").number(event.value);
  j.key("threshold").number(event.threshold);
  j.key("at").string(risk::format_rfc3339(event.at_ms));
  j.key("seq").integer(static_cast<std::int64_t>(event.seq));
  j.end_object();
  return j.take();
}

}  // namespace riskd::alerts
