// The Alertmanager sink against Debian's real prometheus-alertmanager,
// configured with deploy/alertmanager/alertmanager.yml (label `system`): the
// alerts are read back from its GET /api/v2/alerts. Also amtool on that file.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../support/http_client.hpp"
#include "../support/process.hpp"
#include "riskd/alerts/alertmanager_sink.hpp"
#include "riskd/risk/time.hpp"
#include "sink_test_support.hpp"

using namespace riskd;
using namespace std::chrono_literals;
using test::event;
using test::eventually;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string k_alertmanager = "/usr/bin/prometheus-alertmanager";
const std::string k_amtool = "/usr/bin/amtool";
const std::string k_config = std::string(RISKD_SOURCE_DIR) + "/deploy/alertmanager/alertmanager.yml";

std::string work_dir(const std::string& name) {
  static int n = 0;
  const std::string dir = std::string(RISKD_BINARY_DIR) + "/tests/alerts/work/" + name + "-" +
                          std::to_string(::getpid()) + "-" + std::to_string(++n);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

/// A real Alertmanager on 127.0.0.1:`port` with the shipped config, ready.
class Alertmanager {
 public:
  Alertmanager(unsigned short port, const std::string& dir) : port_(port), log_(dir + "/alertmanager.log") {
    REQUIRE_MESSAGE(std::filesystem::exists(k_alertmanager),
                    k_alertmanager << " missing: install prometheus-alertmanager");
    std::filesystem::create_directories(dir + "/data");
    child_ = std::make_unique<test::Child>(
        std::vector<std::string>{k_alertmanager, "--config.file=" + k_config, "--storage.path=" + dir + "/data",
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port), "--cluster.listen-address="},
        log_);
    const bool ready = eventually([&] { return get("/-/ready").status == 200; }, 60s);
    REQUIRE_MESSAGE(ready, "alertmanager not ready; log:\n" << read_text(log_));
  }
  [[nodiscard]] test::HttpResponse get(const std::string& target) const {
    return test::http_request("127.0.0.1", port_, "GET", target, {}, 10s);
  }
  /// GET /api/v2/alerts (active, inhibited and silenced; resolved ones are not listed).
  [[nodiscard]] boost::json::array alerts() const {
    const auto r = get("/api/v2/alerts");
    if (r.status != 200) return {};
    return boost::json::parse(r.body).as_array();
  }
  /// The alert with these alertname and borrower labels, if listed.
  [[nodiscard]] std::optional<boost::json::object> find(const std::string& alertname,
                                                        const std::string& borrower) const {
    for (const auto& a : alerts()) {
      const auto& labels = a.at("labels").as_object();
      const auto* b = labels.if_contains("borrower");
      if (labels.at("alertname").as_string() == std::string_view(alertname) && b != nullptr &&
          b->as_string() == std::string_view(borrower)) {
        return a.as_object();
      }
    }
    return std::nullopt;
  }
  [[nodiscard]] const std::string& log() const { return log_; }

 private:
  unsigned short port_;
  std::string log_;
  std::unique_ptr<test::Child> child_;
};

risk::TimeMs time_of(const boost::json::value& v) {
  return *risk::parse_rfc3339(v.as_string());
}

std::size_t inhibited_by(const boost::json::object& alert) {
  return alert.at("status").at("inhibitedBy").as_array().size();
}

}  // namespace

TEST_CASE("alertmanager receives riskd alerts, keeps them alive by re-sending, inhibits warnings, resolves") {
  const std::string dir = work_dir("am");
  const unsigned short port = test::unused_port();
  Alertmanager am(port, dir);
  test::Outcomes outcomes;
  alerts::AlertmanagerSinkOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(port);
  o.resend_s = 1.0;
  o.generator_base_url = "http://127.0.0.1:8080";
  o.timeout_s = 5.0;
  auto sink = alerts::make_alertmanager_sink(o, outcomes.counter());
  CHECK(sink->name() == "alertmanager");

  // Millisecond-free times: Alertmanager answers RFC 3339 with its own precision.
  const risk::TimeMs fired_at = test::wall_ms() / 1000 * 1000 - 5000;
  sink->submit(event("miner-a", "ltv_breach", true, 1, fired_at, 0.7213, 0.70));
  std::optional<boost::json::object> breach;
  REQUIRE_MESSAGE(
      eventually([&] { return (breach = am.find("ltv_breach", "miner-a")).has_value(); }), "log:\n"
                                                                                               << read_text(am.log()));
  CHECK(breach->at("labels") == boost::json::parse(R"({"alertname": "ltv_breach", "borrower": "miner-a",
                                                       "service": "riskd", "severity": "critical"})"));
  CHECK(time_of(breach->at("startsAt")) == fired_at);
  CHECK(breach->at("annotations").at("summary") == "miner-a LTV 72.1 % above covenant 70.0 %");
  CHECK(breach->at("annotations").at("value") == "0.7213");
  CHECK(breach->at("annotations").at("threshold") == "0.7");
  CHECK(breach->at("generatorURL") == "http://127.0.0.1:8080/api/v1/borrowers/miner-a");
  // endsAt = now + 4 × resend_s (4 s), with room for a loaded machine.
  const risk::TimeMs ends0 = time_of(breach->at("endsAt"));
  CHECK(ends0 > test::wall_ms());
  CHECK(ends0 <= test::wall_ms() + 4000 + 1000);

  // The re-send every resend_s moves endsAt (and updatedAt) forward.
  const std::string updated0(breach->at("updatedAt").as_string());
  REQUIRE(eventually([&] {
    const auto a = am.find("ltv_breach", "miner-a");
    return a && time_of(a->at("endsAt")) >= ends0 + 1000 && std::string(a->at("updatedAt").as_string()) != updated0;
  }));
  CHECK(time_of(am.find("ltv_breach", "miner-a")->at("startsAt")) == fired_at);  // still the firing time

  // Inhibition by the shipped config: miner-a's LTV warning, not miner-b's.
  sink->submit(event("miner-a", "ltv_warning", true, 1, fired_at + 1000, 0.7213, 0.65));
  sink->submit(event("miner-b", "ltv_warning", true, 1, fired_at + 1000, 0.66, 0.65));
  sink->submit(event("miner-a", "stress_breach:btc_crash", true, 1, fired_at + 1000, 0.9, 0.7));
  REQUIRE(eventually([&] {
    const auto wa = am.find("ltv_warning", "miner-a");
    const auto wb = am.find("ltv_warning", "miner-b");
    return wa && wb && inhibited_by(*wa) == 1 && am.find("stress_breach", "miner-a").has_value();
  }));
  const auto warning_a = *am.find("ltv_warning", "miner-a");
  CHECK(warning_a.at("status").at("inhibitedBy").as_array()[0] == am.find("ltv_breach", "miner-a")->at("fingerprint"));
  CHECK(warning_a.at("status").at("state") == "suppressed");
  CHECK(inhibited_by(*am.find("ltv_warning", "miner-b")) == 0);
  const auto stress = *am.find("stress_breach", "miner-a");
  CHECK(stress.at("labels").at("scenario") == "btc_crash");
  CHECK(stress.at("labels").at("severity") == "info");

  // Resolution: endsAt = the resolution time; Alertmanager stops listing the
  // alert and lifts the inhibition of miner-a's warning.
  sink->submit(event("miner-a", "ltv_breach", false, 2, test::wall_ms(), 0.68, 0.70));
  REQUIRE(eventually([&] {
    const auto wa = am.find("ltv_warning", "miner-a");
    return !am.find("ltv_breach", "miner-a") && wa && inhibited_by(*wa) == 0;
  }));
  sink->stop(5s);
  CHECK(outcomes["sent"] == 5);
  CHECK(outcomes["failed"] == 0);
  CHECK(outcomes["dropped"] == 0);
}

TEST_CASE("alertmanager sink retries until Alertmanager comes up, then delivers") {
  const std::string dir = work_dir("am-late");
  const unsigned short port = test::unused_port();
  test::Outcomes outcomes;
  alerts::AlertmanagerSinkOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  o.resend_s = 60.0;
  o.initial_backoff = 20ms;
  o.max_backoff = 200ms;
  auto sink = alerts::make_alertmanager_sink(o, outcomes.counter());
  const risk::TimeMs at = test::wall_ms() / 1000 * 1000;
  sink->submit(event("gpu-b", "dscr_breach", true, 1, at, 1.1, 1.25));
  REQUIRE(eventually([&] { return outcomes["retried"] >= 2; }));
  Alertmanager am(port, dir);
  std::optional<boost::json::object> a;
  REQUIRE(eventually([&] { return (a = am.find("dscr_breach", "gpu-b")).has_value(); }));
  CHECK(a->at("annotations").at("summary") == "gpu-b DSCR 1.10x below covenant 1.25x");
  const bool no_generator = !a->contains("generatorURL") || a->at("generatorURL").as_string().empty();
  CHECK(no_generator);
  sink->stop(5s);
  CHECK(outcomes["sent"] == 1);
}

TEST_CASE("the shipped Alertmanager config passes amtool and routes each severity to its receiver") {
  REQUIRE_MESSAGE(std::filesystem::exists(k_amtool), k_amtool << " missing: install prometheus-alertmanager");
  const std::string dir = work_dir("amtool");
  const auto run = [&](const std::string& args) {
    const std::string out = dir + "/amtool.out";
    const int status = std::system((k_amtool + " " + args + " >" + out + " 2>&1").c_str());
    return std::pair{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(out)};
  };
  const auto [check_rc, check_out] = run("check-config " + k_config);
  CHECK_MESSAGE(check_rc == 0, check_out);
  CHECK(check_out.find("SUCCESS") != std::string::npos);
  const std::string routes = "config routes test --config.file=" + k_config + " service=riskd ";
  CHECK(run(routes + "severity=critical alertname=ltv_breach borrower=m").second.find("riskd-pager") !=
        std::string::npos);
  CHECK(run(routes + "severity=warning alertname=ltv_warning borrower=m").second.find("riskd-chat") !=
        std::string::npos);
  CHECK(run(routes + "severity=info alertname=stress_breach borrower=m").second.find("riskd-null") !=
        std::string::npos);
}
