// The deploy/ files, checked by the tools that consume them: systemd-analyze
// (the unit), promtool (scrape config, rules, rule unit tests), riskd itself
// (the configs the manifests carry, the metric names the dashboard and the
// rules query), and yaml-cpp (compose and Kubernetes manifests).
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ops_support.hpp"

using namespace std::chrono_literals;
using riskd::test::read_text;
using riskd::test::source_path;
using riskd::test::ops::run_command;
using riskd::test::ops::work_dir;
using riskd::test::ops::write_text;

namespace {

bool executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

const std::string k_promtool = "/usr/bin/promtool";

/// key -> values of one section of a systemd unit file (keys may repeat).
using UnitSection = std::multimap<std::string, std::string>;

std::map<std::string, UnitSection> parse_unit(const std::string& text) {
  std::map<std::string, UnitSection> sections;
  std::istringstream in(text);
  std::string line;
  std::string section;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
      continue;
    }
    const auto eq = line.find('=');
    REQUIRE_MESSAGE(eq != std::string::npos, "riskd.service: not KEY=VALUE: " << line);
    sections[section].emplace(line.substr(0, eq), line.substr(eq + 1));
  }
  return sections;
}

std::string only(const UnitSection& s, const std::string& key) {
  const auto n = s.count(key);
  if (n != 1) return "<" + std::to_string(n) + " values>";
  return s.find(key)->second;
}

/// Every metric family name in a Prometheus text exposition (from # TYPE
/// lines, with a histogram's _bucket/_sum/_count series) and every sample name.
std::set<std::string> exposition_names(const std::string& text) {
  std::set<std::string> names;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name;
      std::string type;
      words >> name >> type;
      names.insert(name);
      if (type == "histogram" || type == "summary") {
        for (const char* suffix : {"_bucket", "_sum", "_count"}) names.insert(name + suffix);
      }
    } else if (!line.empty() && line[0] != '#') {
      names.insert(line.substr(0, line.find_first_of("{ ")));
    }
  }
  return names;
}

/// The riskd_* metric names a PromQL expression reads (quoted strings, i.e.
/// label values and regexes, are ignored; recording-rule names contain ':').
std::set<std::string> riskd_names_in(const std::string& expr) {
  const std::string unquoted = std::regex_replace(expr, std::regex(R"("([^"\\]|\\.)*")"), "\"\"");
  std::set<std::string> out;
  const std::regex ident(R"([A-Za-z_:][A-Za-z0-9_:]*)");
  for (auto it = std::sregex_iterator(unquoted.begin(), unquoted.end(), ident); it != std::sregex_iterator(); ++it) {
    const std::string name = it->str();
    if (name.rfind("riskd_", 0) == 0) out.insert(name);
  }
  return out;
}

/// Every "expr" string anywhere in a JSON document (Grafana targets), and the
/// "definition" of template variables (label_values queries).
void collect_exprs(const boost::json::value& v, std::vector<std::string>& out) {
  if (v.is_object()) {
    for (const auto& [k, child] : v.as_object()) {
      if ((k == "expr" || k == "definition") && child.is_string()) {
        out.emplace_back(child.as_string());
      } else {
        collect_exprs(child, out);
      }
    }
  } else if (v.is_array()) {
    for (const auto& child : v.as_array()) collect_exprs(child, out);
  }
}

/// label_values(EXPR, label) -> EXPR; other queries unchanged; Grafana
/// variables replaced by a match-all regex.
std::string as_promql(std::string expr) {
  static const std::regex label_values(R"(^label_values\((.*),\s*[A-Za-z_]+\)$)");
  std::smatch m;
  if (std::regex_match(expr, m, label_values)) expr = m[1].str();
  expr = std::regex_replace(expr, std::regex(R"(\$(instance|borrower))"), ".*");
  return expr;
}

/// The Grafana dashboard's PromQL expressions, as Prometheus would run them.
std::vector<std::string> dashboard_exprs() {
  const auto doc = boost::json::parse(read_text(source_path("deploy/grafana/dashboards/riskd.json")));
  std::vector<std::string> raw;
  collect_exprs(doc, raw);
  std::vector<std::string> out;
  for (const auto& e : raw) out.push_back(as_promql(e));
  return out;
}

/// expr of every rule in deploy/prometheus/riskd.rules.yml, and the recording names.
void rules_exprs(std::vector<std::string>& exprs, std::set<std::string>& recorded) {
  const YAML::Node rules = YAML::LoadFile(source_path("deploy/prometheus/riskd.rules.yml"));
  for (const auto& group : rules["groups"]) {
    for (const auto& rule : group["rules"]) {
      exprs.push_back(rule["expr"].as<std::string>());
      if (rule["record"]) recorded.insert(rule["record"].as<std::string>());
    }
  }
}

/// The package names of scripts/setup.sh's `packages=( ... )` array.
std::set<std::string> setup_packages() {
  const std::string text = read_text(source_path("scripts/setup.sh"));
  const auto begin = text.find("packages=(");
  REQUIRE(begin != std::string::npos);
  const auto end = text.find(')', begin);
  std::istringstream words(text.substr(begin + 10, end - begin - 10));
  std::set<std::string> out;
  for (std::string w; words >> w;) out.insert(w);
  return out;
}

}  // namespace

TEST_CASE("deploy: the systemd unit is Type=notify with a watchdog, DynamicUser and the promised hardening") {
  const std::string text = read_text(source_path("deploy/systemd/riskd.service"));
  auto unit = parse_unit(text);
  const UnitSection& svc = unit["Service"];
  CHECK(only(svc, "Type") == "notify");
  CHECK(only(svc, "NotifyAccess") == "main");
  CHECK(only(svc, "WatchdogSec") == "30");
  CHECK(only(svc, "DynamicUser") == "yes");
  CHECK(only(svc, "ExecStart") == "/usr/local/bin/riskd run --config /etc/riskd/riskd.yaml");
  CHECK(only(svc, "ExecReload") == "/bin/kill -HUP $MAINPID");
  CHECK(only(svc, "EnvironmentFile") == "-/etc/riskd/riskd.env");
  CHECK(only(svc, "RestartPreventExitStatus") == "2");
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"ProtectSystem", "strict"},
                                                        {"ProtectHome", "yes"},
                                                        {"PrivateTmp", "yes"},
                                                        {"PrivateDevices", "yes"},
                                                        {"NoNewPrivileges", "yes"},
                                                        {"CapabilityBoundingSet", ""},
                                                        {"RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
                                                        {"SystemCallFilter", "@system-service"},
                                                        {"MemoryDenyWriteExecute", "yes"},
                                                        {"LockPersonality", "yes"},
                                                        {"RestrictNamespaces", "yes"},
                                                        {"ProtectKernelTunables", "yes"},
                                                        {"ProtectControlGroups", "yes"}}) {
    CHECK_MESSAGE(only(svc, key) == value, key);
  }
  CHECK(only(unit["Install"], "WantedBy") == "multi-user.target");

  const std::string analyze = "/usr/bin/systemd-analyze";
  if (!executable(analyze)) {
    MESSAGE("systemd-analyze not installed: checked the unit's key lines only");
    return;
  }
  // verify checks that ExecStart's binary exists: point it at the one just built.
  const std::string dir = work_dir("systemd");
  std::string local = text;
  for (std::size_t p; (p = local.find("/usr/local/bin/riskd")) != std::string::npos;) {
    local.replace(p, std::string("/usr/local/bin/riskd").size(), RISKD_BINARY);
  }
  write_text(dir + "/riskd.service", local);
  const auto r = run_command({analyze, "verify", dir + "/riskd.service"}, dir);
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  // Unknown keys and bad values are only warnings (exit 0): none may mention the unit.
  CHECK_MESSAGE(r.err.find("riskd.service") == std::string::npos, r.err);

  // The same check catches a typo: a misspelt key is reported.
  std::string typo = local;
  typo.replace(typo.find("WatchdogSec="), 12, "WatchdogSecs=");
  write_text(dir + "/riskd.service", typo);
  const auto bad = run_command({analyze, "verify", dir + "/riskd.service"}, dir);
  CHECK_MESSAGE(bad.err.find("Unknown key 'WatchdogSecs'") != std::string::npos, bad.err);
}

TEST_CASE("deploy: promtool accepts the scrape config and the rules, and the alert unit tests pass") {
  REQUIRE_MESSAGE(executable(k_promtool), "promtool missing: install Debian's prometheus (scripts/setup.sh)");
  const std::string dir = work_dir("promtool");
  const std::string prom = source_path("deploy/prometheus");
  const auto rules = run_command({k_promtool, "check", "rules", prom + "/riskd.rules.yml"}, dir);
  CHECK_MESSAGE(rules.exit_code == 0, rules.out << rules.err);
  const auto config = run_command({k_promtool, "check", "config", prom + "/prometheus.yml"}, dir);
  CHECK_MESSAGE(config.exit_code == 0, config.out << config.err);
  const auto tests = run_command({k_promtool, "test", "rules", prom + "/riskd.rules.test.yml"}, dir);
  CHECK_MESSAGE(tests.exit_code == 0, tests.out << tests.err);
  CHECK(tests.out.find("SUCCESS") != std::string::npos);

  // Every alert the rules define has a unit test.
  const YAML::Node rules_doc = YAML::LoadFile(prom + "/riskd.rules.yml");
  const std::string test_text = read_text(prom + "/riskd.rules.test.yml");
  for (const auto& group : rules_doc["groups"]) {
    for (const auto& rule : group["rules"]) {
      if (!rule["alert"]) continue;
      const std::string name = rule["alert"].as<std::string>();
      CHECK_MESSAGE(test_text.find("alertname: " + name) != std::string::npos, name << " has no promtool test");
      CHECK_MESSAGE(rule["annotations"]["runbook"], name << " has no runbook annotation");
    }
  }
}

TEST_CASE("deploy: every metric the dashboard and the rules read is in a live riskd's /metrics") {
  const std::string dir = work_dir("metric-names");
  riskd::test::ops::LiveDaemon daemon(dir);
  const auto metrics = daemon.get("/metrics");
  REQUIRE(metrics.status == 200);
  std::set<std::string> exposed = exposition_names(metrics.body);
  REQUIRE(exposed.count("riskd_borrower_ltv_ratio") == 1);
  // riskd_alert_notifications_total is absent until a sink reports its first
  // outcome (metrics.hpp: "The family is absent from the exposition until the
  // first call"); this daemon has no sink, so it is the one name taken on trust.
  exposed.insert("riskd_alert_notifications_total");

  std::vector<std::string> dash = dashboard_exprs();
  REQUIRE(dash.size() >= 20);
  std::set<std::string> dash_names;
  for (const auto& e : dash) {
    for (const auto& n : riskd_names_in(e)) {
      dash_names.insert(n);
      CHECK_MESSAGE(exposed.count(n) == 1, "dashboard reads " << n << ", which riskd does not export: " << e);
    }
  }
  // The panels the dashboard promises.
  for (const char* needed : {"riskd_borrower_ltv_ratio", "riskd_borrower_dscr_ratio", "riskd_borrower_price_breach_usd",
                             "riskd_alert_active", "riskd_ticks_total", "riskd_kafka_consumer_lag_messages",
                             "riskd_tick_to_evaluation_seconds_bucket", "riskd_alert_notifications_total"}) {
    CHECK_MESSAGE(dash_names.count(needed) == 1, "the dashboard has no panel on " << needed);
  }

  std::vector<std::string> rule_exprs;
  std::set<std::string> recorded;
  rules_exprs(rule_exprs, recorded);
  for (const auto& e : rule_exprs) {
    for (const auto& n : riskd_names_in(e)) {
      CHECK_MESSAGE(exposed.count(n) == 1, "a rule reads " << n << ", which riskd does not export: " << e);
    }
  }
  CHECK(recorded.count("riskd:ticks_rejected:ratio_rate5m") == 1);

  // Every dashboard query parses: promtool checks them as recording rules.
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "groups" << YAML::Value << YAML::BeginSeq << YAML::BeginMap << YAML::Key
      << "name" << YAML::Value << "dashboard" << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
  for (std::size_t i = 0; i < dash.size(); ++i) {
    out << YAML::BeginMap << YAML::Key << "record" << YAML::Value << "dashboard_query_" + std::to_string(i) << YAML::Key
        << "expr" << YAML::Value << YAML::DoubleQuoted << dash[i] << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap << YAML::EndSeq << YAML::EndMap;
  write_text(dir + "/dashboard.rules.yml", out.c_str());
  if (executable(k_promtool)) {
    const auto check = run_command({k_promtool, "check", "rules", dir + "/dashboard.rules.yml"}, dir);
    CHECK_MESSAGE(check.exit_code == 0, check.out << check.err);
  }
}

TEST_CASE(
    "deploy: the Kubernetes manifests parse, probe /healthz and /readyz, run non-root, and carry a valid config") {
  const std::string k8s = source_path("deploy/k8s");
  std::map<std::string, YAML::Node> by_kind;
  const YAML::Node kustomization = YAML::LoadFile(k8s + "/kustomization.yaml");
  for (const auto& res : kustomization["resources"]) {
    const std::string file = k8s + "/" + res.as<std::string>();
    REQUIRE_MESSAGE(std::filesystem::exists(file), file);
    for (const auto& doc : YAML::LoadAllFromFile(file)) by_kind[doc["kind"].as<std::string>()] = doc;
  }
  for (const char* kind : {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget"}) {
    CHECK_MESSAGE(by_kind.count(kind) == 1, kind);
  }
  const YAML::Node pod = by_kind["Deployment"]["spec"]["template"]["spec"];
  const YAML::Node c = pod["containers"][0];
  CHECK(c["livenessProbe"]["httpGet"]["path"].as<std::string>() == "/healthz");
  CHECK(c["readinessProbe"]["httpGet"]["path"].as<std::string>() == "/readyz");
  CHECK(c["resources"]["requests"]["memory"]);
  CHECK(c["resources"]["limits"]["memory"]);
  CHECK(pod["securityContext"]["runAsNonRoot"].as<bool>());
  CHECK(c["securityContext"]["readOnlyRootFilesystem"].as<bool>());
  CHECK_FALSE(c["securityContext"]["allowPrivilegeEscalation"].as<bool>());
  CHECK(c["envFrom"][0]["secretRef"]["name"].as<std::string>() == "riskd-kafka");
  CHECK(by_kind["Deployment"]["spec"]["strategy"]["type"].as<std::string>() == "Recreate");
  // The Service and the PDB select the Deployment's pods.
  const YAML::Node pod_labels = by_kind["Deployment"]["spec"]["template"]["metadata"]["labels"];
  for (const auto& sel :
       {by_kind["Service"]["spec"]["selector"], by_kind["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]}) {
    for (const auto& kv : sel) {
      CHECK(pod_labels[kv.first.as<std::string>()].as<std::string>() == kv.second.as<std::string>());
    }
  }

  // The ConfigMap's config is accepted by riskd check-config, given the
  // environment the Deployment and the Secret provide, and refused without it.
  const std::string dir = work_dir("k8s");
  write_text(dir + "/riskd.yaml", by_kind["ConfigMap"]["data"]["riskd.yaml"].as<std::string>());
  const auto missing = run_command({RISKD_BINARY, "check-config", "--config", dir + "/riskd.yaml"}, dir);
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("KAFKA_SASL_PASSWORD is not set") != std::string::npos);
  for (const auto& env : c["env"])
    ::setenv(env["name"].as<std::string>().c_str(), env["value"].as<std::string>().c_str(), 1);
  ::setenv("KAFKA_SASL_USERNAME", "riskd", 1);
  ::setenv("KAFKA_SASL_PASSWORD", "secret-from-the-secret", 1);
  const auto ok = run_command({RISKD_BINARY, "check-config", "--config", dir + "/riskd.yaml"}, dir);
  for (const char* v :
       {"RISKD_GROUP_ID", "KAFKA_BOOTSTRAP_SERVERS", "TZ", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"}) {
    ::unsetenv(v);
  }
  CHECK_MESSAGE(ok.exit_code == 0, ok.err);
  // And it listens on every interface, else the probes could not reach it.
  CHECK(ok.out.find("ok") != std::string::npos);
  CHECK(by_kind["ConfigMap"]["data"]["riskd.yaml"].as<std::string>().find("listen: \"0.0.0.0:8080\"") !=
        std::string::npos);
}

TEST_CASE("deploy: the compose stack has every service, mounts files that exist, and publishes on 127.0.0.1 only") {
  const std::string compose_dir = source_path("deploy/compose");
  const YAML::Node compose = YAML::LoadFile(compose_dir + "/compose.yaml");
  const YAML::Node services = compose["services"];
  for (const char* s : {"kafka", "kafka-init", "riskd", "prometheus", "alertmanager", "grafana"}) {
    CHECK_MESSAGE(services[s], "compose has no service " << s);
  }
  CHECK(services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"].as<std::string>() == "broker,controller");  // KRaft
  for (const auto& svc : services) {
    const std::string name = svc.first.as<std::string>();
    for (const auto& port : svc.second["ports"]) {
      CHECK_MESSAGE(port.as<std::string>().rfind("127.0.0.1:", 0) == 0,
                    name << " publishes " << port.as<std::string>());
    }
    for (const auto& volume : svc.second["volumes"]) {
      const std::string spec = volume.as<std::string>();
      if (spec.rfind("../", 0) != 0 && spec.rfind("./", 0) != 0) continue;  // a named volume
      const std::string source = spec.substr(0, spec.find(':'));
      const std::string path = compose_dir + "/" + source;
      if (source.rfind("../alertmanager/", 0) == 0 && !std::filesystem::exists(path)) {
        // deploy/alertmanager/ is written by the alert-delivery work, not here.
        MESSAGE(name << ": " << source << " not written yet (deploy/alertmanager is another change)");
        continue;
      }
      CHECK_MESSAGE(std::filesystem::exists(path), name << " mounts " << source << ", which does not exist");
    }
  }
  // riskd's compose config: accepted by check-config, reachable from the
  // other containers, alerts to the compose Alertmanager, and the example
  // book verbatim from `series:` on.
  bool mounted_config = false;
  for (const auto& v : services["riskd"]["volumes"]) {
    mounted_config = mounted_config || v.as<std::string>() == "./riskd.yaml:/etc/riskd/riskd.yaml:ro";
  }
  CHECK(mounted_config);
  CHECK_FALSE(services["riskd"]["command"]);  // the image's default: run --config /etc/riskd/riskd.yaml
  const std::string dir = work_dir("compose");
  const auto r = run_command({RISKD_BINARY, "check-config", "--config", compose_dir + "/riskd.yaml"}, dir);
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  const YAML::Node cfg = YAML::LoadFile(compose_dir + "/riskd.yaml");
  CHECK(cfg["http"]["listen"].as<std::string>() == "0.0.0.0:8080");
  CHECK(cfg["kafka"]["bootstrap_servers"].as<std::string>() == "kafka:9092");
  CHECK(cfg["outputs"]["alertmanager"]["url"].as<std::string>() == "http://alertmanager:9093");
  const std::string compose_cfg = read_text(compose_dir + "/riskd.yaml");
  const std::string book = read_text(source_path("config/examples/book.yaml"));
  REQUIRE(compose_cfg.find("\nseries:") != std::string::npos);
  REQUIRE(book.find("\nseries:") != std::string::npos);
  CHECK_MESSAGE(compose_cfg.substr(compose_cfg.find("\nseries:")) == book.substr(book.find("\nseries:")),
                "deploy/compose/riskd.yaml differs from config/examples/book.yaml from `series:` on: refresh it "
                "with the command in its header");
  // The topics riskd uses are created with their cleanup policies.
  const std::string init = services["kafka-init"]["command"][0].as<std::string>();
  for (const char* t : {"--topic risk.borrowers --partitions 1 --config cleanup.policy=compact",
                        "--topic risk.alerts --partitions 3 --config cleanup.policy=compact",
                        "--topic riskd.state --partitions 1 --config cleanup.policy=compact"}) {
    CHECK_MESSAGE(init.find(t) != std::string::npos, t);
  }

  // Grafana provisioning points at the mounted dashboards and at Prometheus.
  const YAML::Node ds = YAML::LoadFile(source_path("deploy/grafana/provisioning/datasources/prometheus.yml"));
  CHECK(ds["datasources"][0]["type"].as<std::string>() == "prometheus");
  CHECK(ds["datasources"][0]["url"].as<std::string>() == "http://prometheus:9090");
  const YAML::Node dash = YAML::LoadFile(source_path("deploy/grafana/provisioning/dashboards/riskd.yml"));
  const std::string dash_path = dash["providers"][0]["options"]["path"].as<std::string>();
  bool mounted = false;
  for (const auto& v : services["grafana"]["volumes"]) {
    mounted = mounted || v.as<std::string>() == "../grafana/dashboards:" + dash_path + ":ro";
  }
  CHECK_MESSAGE(mounted, "grafana does not mount the dashboards at " << dash_path);
}

TEST_CASE("deploy: the Containerfile builds with setup.sh's packages and runs non-root with a /healthz check") {
  const std::string text = read_text(source_path("deploy/container/Containerfile"));
  const auto build_begin = text.find("FROM debian:bookworm AS build");
  const auto runtime_begin = text.find("FROM debian:bookworm-slim AS runtime");
  REQUIRE(build_begin != std::string::npos);
  REQUIRE(runtime_begin != std::string::npos);
  // Build-stage packages: the words after --no-install-recommends up to "&&".
  const std::string build = text.substr(build_begin, runtime_begin - build_begin);
  const auto list_begin = build.find("--no-install-recommends");
  REQUIRE(list_begin != std::string::npos);
  std::istringstream words(build.substr(list_begin + 23, build.find("&&", list_begin) - list_begin - 23));
  const std::set<std::string> setup = setup_packages();
  int count = 0;
  for (std::string w; words >> w;) {
    if (w == "\\") continue;
    ++count;
    CHECK_MESSAGE(setup.count(w) == 1, "Containerfile installs " << w << ", which scripts/setup.sh does not");
  }
  CHECK(count >= 10);
  const std::string runtime = text.substr(runtime_begin);
  CHECK(runtime.find("USER 10001:10001") != std::string::npos);
  CHECK(runtime.find("HEALTHCHECK") != std::string::npos);
  CHECK(runtime.find("http://127.0.0.1:8080/healthz") != std::string::npos);
  CHECK(runtime.find("EXPOSE 8080") != std::string::npos);
  CHECK(runtime.find("-dev") == std::string::npos);  // no build packages in the runtime image
}

TEST_CASE("deploy: Alertmanager routes every health alert of the rules to a receiver that notifies") {
  const std::string amtool = "/usr/bin/amtool";
  const std::string config = source_path("deploy/alertmanager/alertmanager.yml");
  REQUIRE_MESSAGE(executable(amtool), "amtool missing: install Debian's prometheus-alertmanager (scripts/setup.sh)");
  if (!std::filesystem::exists(config)) {
    MESSAGE("deploy/alertmanager/alertmanager.yml not written yet (another change)");
    return;
  }
  const std::string dir = work_dir("amtool");
  const YAML::Node rules = YAML::LoadFile(source_path("deploy/prometheus/riskd.rules.yml"));
  int routed = 0;
  for (const auto& group : rules["groups"]) {
    for (const auto& rule : group["rules"]) {
      if (!rule["alert"]) continue;
      const std::string name = rule["alert"].as<std::string>();
      const std::string severity = rule["labels"]["severity"].as<std::string>();
      const auto r = run_command({amtool, "config", "routes", "test", "--config.file=" + config, "alertname=" + name,
                                  "severity=" + severity, "job=riskd"},
                                 dir);
      CAPTURE(name);
      CHECK_MESSAGE(r.exit_code == 0, r.err);
      // riskd-null lists without notifying (for info); a health alert must reach someone.
      CHECK_MESSAGE(r.out.find("riskd-null") == std::string::npos, name << " routes to " << r.out);
      CHECK(!r.out.empty());
      ++routed;
    }
  }
  CHECK(routed >= 10);
}
