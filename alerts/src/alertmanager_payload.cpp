#include "riskd/alerts/alertmanager_payload.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "riskd/alerts/http_endpoint.hpp"
#include "riskd/risk/json_text.hpp"

namespace riskd::alerts {

namespace {

/// "stress_breach:btc_crash" -> {"stress_breach", "btc_crash"}; no ':' -> {rule, ""}.
std::pair<std::string_view, std::string_view> split_rule(std::string_view rule) {
  const auto colon = rule.find(':');
  if (colon == std::string_view::npos) return {rule, {}};
  return {rule.substr(0, colon), rule.substr(colon + 1)};
}

std::string annotation_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return risk::format_number(v);
}

/// A ratio as a percentage with one decimal: 0.7213 -> "72.1 %".
std::string percent(double ratio) {
  if (std::isnan(ratio)) return "n/a";
  if (std::isinf(ratio)) return ratio > 0 ? "∞" : "-∞";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f %%", ratio * 100.0);
  return buf;
}

/// A coverage multiple with two decimals: 1.1 -> "1.10x".
std::string multiple(double x) {
  if (std::isnan(x)) return "n/a";
  if (std::isinf(x)) return x > 0 ? "∞" : "-∞";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2fx", x);
  return buf;
}

std::string seconds(double s) {
  if (!std::isfinite(s)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f s", s);
  return buf;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> alertmanager_labels(const AlertEvent& event) {
  const auto [alertname, qualifier] = split_rule(event.rule);
  std::vector<std::pair<std::string, std::string>> labels;
  labels.emplace_back("alertname", std::string(alertname));
  if (!event.borrower.empty()) labels.emplace_back("borrower", event.borrower);
  if (!qualifier.empty()) {
    labels.emplace_back(alertname == "feed_stale" ? "series" : "scenario", std::string(qualifier));
  }
  labels.emplace_back("service", "riskd");
  labels.emplace_back("severity", std::string(to_string(event.severity)));
  std::sort(labels.begin(), labels.end());
  return labels;
}

std::string alert_summary(const AlertEvent& event) {
  const auto [rule, qualifier] = split_rule(event.rule);
  const std::string& b = event.borrower;
  const double v = event.value;
  const double t = event.threshold;
  const bool on = event.firing;
  if (rule == "ltv_breach") {
    return b + " LTV " + percent(v) + (on ? " above covenant " : " back within covenant ") + percent(t);
  }
  if (rule == "ltv_warning") {
    return b + " LTV " + percent(v) + (on ? " above warning level " : " back under warning level ") + percent(t);
  }
  if (rule == "dscr_breach") {
    return b + " DSCR " + multiple(v) + (on ? " below covenant " : " back within covenant ") + multiple(t);
  }
  if (rule == "dscr_warning") {
    return b + " DSCR " + multiple(v) + (on ? " below warning level " : " back above warning level ") + multiple(t);
  }
  if (rule == "liquidation_shortfall") {
    return b + " liquidation LTV " + percent(v) + (on ? " above " : " back within ") + percent(t) +
           (on ? ": a fire sale would not cover the debt" : "");
  }
  if (rule == "stress_breach") {
    return b + (on ? " breaches covenants under scenario " : " within covenants again under scenario ") +
           std::string(qualifier) + " (stressed LTV " + percent(v) + ", max " + percent(t) + ")";
  }
  if (rule == "feed_stale") {
    if (on) return std::string(qualifier) + " feed stale: no tick for " + seconds(v) + " (limit " + seconds(t) + ")";
    return std::string(qualifier) + " feed fresh again";
  }
  return (b.empty() ? std::string() : b + " ") + event.rule + (on ? " firing" : " resolved") + ": value " +
         annotation_number(v) + ", threshold " + annotation_number(t);
}

std::string generator_url(std::string_view generator_base_url, const AlertEvent& event) {
  if (generator_base_url.empty()) return {};
  std::string base(generator_base_url);
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (event.borrower.empty()) return base + "/api/v1/series";
  return base + "/api/v1/borrowers/" + percent_encode_segment(event.borrower);
}

std::string alertmanager_body(std::span<const AlertmanagerPosting> postings, risk::TimeMs now_ms, double resend_s,
                              std::string_view generator_base_url) {
  const auto ttl_ms = static_cast<risk::TimeMs>(std::llround(4.0 * resend_s * 1000.0));
  risk::JsonText j;
  j.begin_array();
  for (const AlertmanagerPosting& p : postings) {
    const AlertEvent& e = p.event;
    const risk::TimeMs starts_ms = std::min(p.starts_at_ms, e.at_ms);
    // Firing: valid for 4 resend periods from now (from `at` if event time is
    // ahead of the wall clock, so that startsAt <= endsAt always holds).
    const risk::TimeMs ends_ms = e.firing ? std::max(now_ms, e.at_ms) + ttl_ms : e.at_ms;
    j.begin_object();
    j.key("labels").begin_object();
    for (const auto& [name, value] : alertmanager_labels(e)) j.key(name).string(value);
    j.end_object();
    j.key("annotations").begin_object();
    j.key("key").string(e.key);
    j.key("seq").string(std::to_string(e.seq));
    j.key("summary").string(alert_summary(e));
    j.key("threshold").string(annotation_number(e.threshold));
    j.key("value").string(annotation_number(e.value));
    j.end_object();
    j.key("startsAt").string(risk::format_rfc3339(starts_ms));
    j.key("endsAt").string(risk::format_rfc3339(ends_ms));
    if (const std::string g = generator_url(generator_base_url, e); !g.empty()) j.key("generatorURL").string(g);
    j.end_object();
  }
  j.end_array();
  return j.take();
}

}  // namespace riskd::alerts
