// Real Prometheus (Debian's /usr/bin/prometheus) scraping a live riskd: the
// values it stores for riskd_borrower_ltv_ratio and _dscr_ratio equal the
// daemon's /api/v1/borrowers, the shipped rules load and evaluate, and every
// Grafana dashboard query runs without error against real data.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ops_support.hpp"

using namespace std::chrono_literals;
using riskd::test::Child;
using riskd::test::http_request;
using riskd::test::read_text;
using riskd::test::source_path;
using riskd::test::ops::poll_until;
using riskd::test::ops::work_dir;
using riskd::test::ops::write_text;

namespace {

const std::string k_prometheus = "/usr/bin/prometheus";

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

/// Debian's Prometheus on a free port of 127.0.0.1, scraping `target` every
/// second, with the shipped rules (deploy/prometheus/riskd.rules.yml).
class Prometheus {
 public:
  Prometheus(const std::string& dir, const std::string& target) : log_(dir + "/prometheus.log") {
    const std::string config = dir + "/prometheus.yml";
    write_text(config,
               "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
               "rule_files: [\"" +
                   source_path("deploy/prometheus/riskd.rules.yml") + "\"]\n" +
                   "scrape_configs:\n"
                   "  - job_name: riskd\n"
                   "    scrape_timeout: 1s\n"
                   "    static_configs: [{targets: [\"" +
                   target + "\"]}]\n");
    // The port is free when chosen but could be taken before Prometheus binds
    // it: try a few.
    for (int attempt = 0; attempt < 3 && port_ == 0; ++attempt) {
      const unsigned short port = riskd::test::ops::free_port();
      const std::string data = dir + "/data-" + std::to_string(attempt);
      auto child = std::make_unique<Child>(
          std::vector<std::string>{k_prometheus, "--config.file=" + config, "--storage.tsdb.path=" + data,
                                   "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"},
          log_);
      bool exited = false;  // e.g. the port was taken in between: try another
      const bool up = poll_until(
          [&] {
            if (child->wait(1ms)) exited = true;
            return exited || http_request("127.0.0.1", port, "GET", "/-/ready", {}, 5s).status == 200;
          },
          60s);
      if (up && !exited) {
        port_ = port;
        child_ = std::move(child);
      }
    }
    REQUIRE_MESSAGE(port_ != 0, "prometheus did not start; log: " << read_text(log_));
  }

  /// GET /api/v1/query?query=EXPR; the parsed answer (status "success" or "error").
  boost::json::value query(const std::string& expr) const {
    const auto r = http_request("127.0.0.1", port_, "GET", "/api/v1/query?query=" + url_encode(expr), {}, 20s);
    if (r.status == 0) return boost::json::object{{"status", "no answer"}};
    return boost::json::parse(r.body);
  }

  boost::json::value get(const std::string& target) const {
    const auto r = http_request("127.0.0.1", port_, "GET", target, {}, 20s);
    if (r.status == 0) return boost::json::object{{"status", "no answer"}};
    return boost::json::parse(r.body);
  }

  [[nodiscard]] const std::string& log_path() const { return log_; }

 private:
  std::string log_;
  std::unique_ptr<Child> child_;
  unsigned short port_ = 0;
};

/// label value -> sample value of an instant-vector answer.
std::map<std::string, double> by_label(const boost::json::value& answer, const std::string& label) {
  std::map<std::string, double> out;
  if (answer.at("status") != "success") return out;
  for (const auto& s : answer.at("data").at("result").as_array()) {
    const auto* l = s.at("metric").as_object().if_contains(label);
    if (l == nullptr) continue;
    const std::string text(s.at("value").at(1).as_string());
    out[std::string(l->as_string())] = text == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(text);
  }
  return out;
}

/// Every "expr" of the Grafana dashboard with its variables set to match all.
void dashboard_exprs(const boost::json::value& v, std::vector<std::string>& out) {
  if (v.is_object()) {
    for (const auto& [k, child] : v.as_object()) {
      if (k == "expr" && child.is_string()) {
        std::string e(child.as_string());
        for (const std::string var : {"$instance", "$borrower"}) {
          for (std::size_t p; (p = e.find(var)) != std::string::npos;) e.replace(p, var.size(), ".*");
        }
        out.push_back(e);
      } else {
        dashboard_exprs(child, out);
      }
    }
  } else if (v.is_array()) {
    for (const auto& child : v.as_array()) dashboard_exprs(child, out);
  }
}

}  // namespace

TEST_CASE(
    "prometheus: a real scrape stores the daemon's LTV and DSCR, the rules evaluate, the dashboard's queries run") {
  REQUIRE_MESSAGE(::access(k_prometheus.c_str(), X_OK) == 0,
                  "prometheus missing: install Debian's prometheus (scripts/setup.sh)");
  const std::string dir = work_dir("prometheus");
  riskd::test::ops::LiveDaemon daemon(dir);  // ready, every borrower evaluated, no more ticks: quiet
  Prometheus prom(dir, "127.0.0.1:" + std::to_string(daemon.port()));

  // The daemon's figures. The market is quiet (nothing is fed after start),
  // so nothing can move between this read and the scrapes.
  const auto api = daemon.get("/api/v1/borrowers");
  REQUIRE(api.status == 200);
  const boost::json::value doc = boost::json::parse(api.body);
  const auto& borrowers = doc.at("borrowers").as_array();
  REQUIRE(borrowers.size() == 3);

  std::map<std::string, double> ltv;
  const bool scraped = poll_until(
      [&] {
        ltv = by_label(prom.query("riskd_borrower_ltv_ratio"), "borrower");
        return ltv.size() == borrowers.size();
      },
      90s);
  REQUIRE_MESSAGE(scraped, "Prometheus has no riskd_borrower_ltv_ratio for every borrower; targets: "
                               << boost::json::serialize(prom.get("/api/v1/targets"))
                               << "\nlog: " << read_text(prom.log_path()));
  const auto dscr = by_label(prom.query("riskd_borrower_dscr_ratio"), "borrower");
  for (const auto& b : borrowers) {
    const std::string id(b.at("id").as_string());
    CAPTURE(id);
    REQUIRE(ltv.count(id) == 1);
    CHECK(ltv[id] == doctest::Approx(b.at("ltv").to_number<double>()).epsilon(1e-12));
    REQUIRE(dscr.count(id) == 1);
    if (b.at("dscr").is_null()) {
      CHECK(std::isinf(dscr.at(id)));  // JSON null = +Inf in the exposition
    } else {
      CHECK(dscr.at(id) == doctest::Approx(b.at("dscr").to_number<double>()).epsilon(1e-12));
    }
  }
  const auto up = prom.query(R"(up{job="riskd"})");
  REQUIRE(up.at("data").at("result").as_array().size() == 1);
  CHECK(up.at("data").at("result").at(0).at("value").at(1).as_string() == "1");

  // The shipped rules loaded and evaluate without error on real data; the
  // recording rule over riskd_alert_active has a value (the vectors book has
  // alerts firing).
  const bool rules_ok = poll_until(
      [&] {
        const auto rules = prom.get("/api/v1/rules");
        if (rules.at("status") != "success") return false;
        int evaluated = 0;
        for (const auto& g : rules.at("data").at("groups").as_array()) {
          for (const auto& r : g.at("rules").as_array()) {
            if (r.at("health") != "ok") return false;
            ++evaluated;
          }
        }
        return evaluated >= 17;
      },
      60s);
  CHECK_MESSAGE(rules_ok, boost::json::serialize(prom.get("/api/v1/rules")));
  const bool recorded =
      poll_until([&] { return !by_label(prom.query("riskd:alerts_firing:count"), "severity").empty(); }, 60s);
  CHECK(recorded);
  const auto firing = prom.query(R"(ALERTS{alertname=~"Riskd.*", alertstate="firing"})");
  CHECK_MESSAGE(firing.at("data").at("result").as_array().empty(),
                "a healthy daemon fires a health alert: " << boost::json::serialize(firing));

  // Every Grafana query runs against real data without a PromQL error
  // (promtool only checks syntax; matching errors show at query time).
  std::vector<std::string> exprs;
  dashboard_exprs(boost::json::parse(read_text(source_path("deploy/grafana/dashboards/riskd.json"))), exprs);
  REQUIRE(exprs.size() >= 20);
  for (const auto& e : exprs) {
    const auto answer = prom.query(e);
    CHECK_MESSAGE(answer.at("status") == "success", e << " -> " << boost::json::serialize(answer));
  }
  // The headroom panel: 1 - breach price / price now, for BTC, equals the API's figures.
  const auto headroom = prom.query(
      R"(1 - (riskd_borrower_price_breach_usd{series="BTC-USD"} / on (instance, series) group_left riskd_series_value))");
  const auto by_borrower = by_label(headroom, "borrower");
  const double btc = by_label(prom.query("riskd_series_value"), "series").at("BTC-USD");
  int checked = 0;
  for (const auto& b : borrowers) {
    const auto* level = b.at("breach").at("price").as_object().if_contains("BTC-USD");
    if (level == nullptr || level->is_null()) continue;
    const std::string id(b.at("id").as_string());
    REQUIRE(by_borrower.count(id) == 1);
    CHECK(by_borrower.at(id) == doctest::Approx(1.0 - level->to_number<double>() / btc).epsilon(1e-9));
    ++checked;
  }
  CHECK(checked >= 1);
}
