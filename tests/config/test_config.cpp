// Tests for riskd::config: the schema of INTERFACES.md "Config", every
// validation rule, error positions and order, ${ENV} substitution, series
// kind resolution and parse_borrower.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "riskd/config/config.hpp"

using riskd::config::BorrowerSeries;
using riskd::config::Config;
using riskd::config::ConfigError;
using riskd::config::ConfigInvalid;
using riskd::config::load_config;
using riskd::config::parse_borrower;
using riskd::config::parse_config;
using riskd::risk::SeriesKind;

namespace {

/// One valid borrower using most features; tests mutate one piece at a time.
const std::string k_base = R"(series:
  BTC-USD: {max_jump: 0.25}
  SPREAD-X: {kind: rate, stale_after_s: 600}
model: {rent_decline_per_year: 0.3}
alerting: {for_s: 0}
scenarios:
  - name: crash
    shocks: {BTC-USD: -0.5, "@rate": 100}
borrowers:
  - id: miner-a
    name: "Miner A"
    covenants: {max_ltv: 0.70, min_dscr: 1.25}
    collateral:
      cash_usd: 1000
      crypto: [{series: BTC-USD, units: 10, haircut: 0.1}]
      gpus:
        - model: H100
          index: GPU-H100
          count: 100
          utilization: 0.85
          opex_usd_per_gpu_hour: 0.35
          in_service: 2024-09-01
          useful_life_months: 60
          contract: {gpus: 60, usd_per_gpu_hour: 2.80, end: 2027-06-30}
    mining: {hashrate_ph: 25, opex_usd_per_ph_day: 30, btc_per_ph_day: 0.00048, hashprice_series: HASHPRICE}
    fixed_costs_usd_per_year: 40
    facilities:
      - {id: abl-1, kind: abl, principal_usd: 750, amortization_usd_per_year: 150, maturity: 2028-06-30,
         rate: {base: SOFR, spread_bps: 600, floor_pct: 4.0}}
      - {id: cvt-1, kind: convertible, principal_usd: 500, maturity: 2030-03-01, rate: {fixed_pct: 2.5}}
      - {id: tl-1, principal_usd: 100, maturity: 2029-01-01, rate: {base: SOFR, spread_series: SPREAD-X}}
)";

/// A minimal borrower document (parse_borrower, and appended to configs).
const std::string k_borrower_json = R"({"id": "cloud-z", "covenants": {"max_ltv": 0.8, "min_dscr": 1.2},
 "collateral": {"gpus": [{"index": "GPU-H100", "count": 10, "in_service": "2024-01-01"}]},
 "facilities": [{"id": "f", "principal_usd": 5, "maturity": "2027-01-01", "rate": {"base": "SOFR", "spread_bps": 100}}]})";

/// `text` with the first `from` replaced by `to`; `from` must occur.
std::string with(std::string text, std::string_view from, std::string_view to) {
  const auto pos = text.find(from);
  REQUIRE_MESSAGE(pos != std::string::npos, "test bug: '" << from << "' not in the text");
  text.replace(pos, from.size(), to);
  return text;
}

std::vector<ConfigError> errors_of(const std::string& yaml) {
  try {
    (void)parse_config(yaml, "t.yaml");
  } catch (const ConfigInvalid& e) {
    return e.errors();
  }
  return {};
}

std::string joined(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.to_string() + "\n";
  return out.empty() ? std::string("(no errors)") : out;
}

bool any_contains(const std::vector<ConfigError>& errors, std::string_view needle) {
  for (const auto& e : errors) {
    if (e.message.find(needle) != std::string::npos) return true;
  }
  return false;
}

/// 1-based line and column of the first occurrence of `needle` in `text`.
std::pair<int, int> position_of(const std::string& text, std::string_view needle) {
  const auto pos = text.find(needle);
  REQUIRE(pos != std::string::npos);
  int line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < pos; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return {line, static_cast<int>(pos - line_start) + 1};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string k_book_path = std::string(RISKD_SOURCE_DIR) + "/tests/data/vectors/book.yaml";

}  // namespace

/// Exactly one error, containing `needle`.
#define CHECK_ONLY_ERROR(yaml, needle)  \
  do {                                  \
    const auto errs_ = errors_of(yaml); \
    INFO(joined(errs_));                \
    CHECK(errs_.size() == 1);           \
    CHECK(any_contains(errs_, needle)); \
  } while (false)

#define CHECK_ACCEPTED(yaml)            \
  do {                                  \
    const auto errs_ = errors_of(yaml); \
    INFO(joined(errs_));                \
    CHECK(errs_.empty());               \
  } while (false)

// ---------------------------------------------------------------- loading

TEST_CASE("the base test config is valid") {
  CHECK_ACCEPTED(k_base);
}

TEST_CASE("the vectors book loads with inferred kinds and model defaults") {
  const Config c = load_config(k_book_path);
  CHECK(c.path == k_book_path);
  CHECK(parse_config(read_file(k_book_path), "book.yaml").risk.borrowers.size() == 3);
  REQUIRE(c.risk.borrowers.size() == 3);
  CHECK(c.risk.scenarios.size() == 2);
  CHECK(c.risk.scenarios[1].shocks.at("@spread") == 250.0);
  const auto& s = c.risk.series;
  REQUIRE(s.size() == 5);
  CHECK(s.at("BTC-USD").kind == SeriesKind::price);  // crypto use and mining's default btc_series
  CHECK(s.at("BTC-USD").max_jump == 0.12);
  CHECK(s.at("GPU-H100-USD-HR").kind == SeriesKind::gpu_rent);
  CHECK(s.at("GPU-H100-USD-HR").stale_after_s == 3456000.0);
  CHECK(s.at("GPU-A100-USD-HR").kind == SeriesKind::gpu_rent);
  CHECK(s.at("SOFR").kind == SeriesKind::rate);
  CHECK(s.at("MINER-SPREAD").kind == SeriesKind::rate);
  CHECK(c.risk.gpu_models.at("A100").secondary_depth_units == 30000.0);
  CHECK(c.risk.gpu_models.at("A100").successor_released);

  const auto& a = c.risk.borrowers[0];
  CHECK(a.id == "miner-a");
  CHECK(a.covenants.max_ltv == 0.65);
  CHECK(a.crypto.at(0).haircut == 0.15);
  CHECK(a.gpus.at(0).in_service_ms == riskd::risk::days_from_civil(2024, 2, 1) * riskd::risk::k_ms_per_day);
  REQUIRE(a.mining.has_value());
  CHECK(a.mining->btc_series == "BTC-USD");
  CHECK(a.mining->btc_per_ph_day == 0.00048);
  REQUIRE(a.facilities.size() == 2);
  const auto* floating = std::get_if<riskd::risk::FloatingRate>(&a.facilities[0].rate);
  REQUIRE(floating != nullptr);
  CHECK(floating->base_series == "SOFR");
  CHECK(floating->spread_bps == 450.0);
  CHECK(floating->floor_pct == 3.0);
  CHECK(std::get<riskd::risk::FixedRate>(a.facilities[1].rate).fixed_pct == 1.0);

  const auto& b = c.risk.borrowers[1];
  REQUIRE(b.gpus.at(0).contract.has_value());
  CHECK(b.gpus[0].contract->gpus == 8000.0);
  CHECK(b.gpus[0].contract->end_ms == *riskd::risk::parse_date("2025-03-31"));
  CHECK(std::get<riskd::risk::FloatingRate>(b.facilities.at(0).rate).spread_series == "MINER-SPREAD");

  const auto& h = c.risk.borrowers[2];
  CHECK(h.crypto.at(0).haircut == riskd::risk::CryptoHolding{}.haircut);  // default from model.hpp
  CHECK(h.gpus.at(0).utilization == riskd::risk::GpuPool{}.utilization);
  CHECK(h.gpus[0].useful_life_months == riskd::risk::GpuPool{}.useful_life_months);
  CHECK(h.cash_usd == 0.0);
}

TEST_CASE("the INTERFACES.md example config loads, every section read") {
  ::setenv("RISKD_TEST_SASL_PASSWORD", "s3cret", 1);
  const std::string yaml = R"(
kafka:
  bootstrap_servers: "broker1:9092,broker2:9092"
  group_id: riskd-test
  properties: {security.protocol: SASL_SSL, sasl.password: "${RISKD_TEST_SASL_PASSWORD}", queue.buffering.max.ms: 5}
feeds:
  topics: [md.crypto, md.gpu, md.rates]
  borrowers_topic: risk.borrowers
outputs:
  alerts_topic: risk.alerts
  signals_topic: risk.signals
  alertmanager: {url: "http://127.0.0.1:9093", resend_s: 30}
  webhooks: [{url: "http://127.0.0.1:9000/hook"}, {url: "https://example.invalid/x", timeout_s: 2}]
http: {listen: "127.0.0.1:8081"}
metrics: {borrower_series: alerting}
series:
  BTC-USD: {kind: price, stale_after_s: 60, max_jump: 0.25}
model:
  rent_decline_per_year: 0.25
  discount_rate: 0.10
  fire_sale_base: 0.05
  fire_sale_impact: 0.3
  fire_sale_exponent: 0.7
  fire_sale_max: 0.8
  obsolescence_discount: 0.1
gpu_models:
  H100: {secondary_depth_units: 20000, successor_released: true}
alerting: {warn_ltv_margin: 0.05, warn_dscr_margin: 0.10, ltv_hysteresis: 0.01,
           dscr_hysteresis: 0.02, for_s: 30}
scenarios:
  - name: btc_crash
    shocks: {BTC-USD: -0.6}
  - name: correlation_convergence
    shocks: {"@price": -0.3, "@spread": 500}
)";
  const Config c = parse_config(yaml, "example.yaml");
  CHECK(c.path == "example.yaml");
  CHECK(c.kafka.bootstrap_servers == "broker1:9092,broker2:9092");
  CHECK(c.kafka.group_id == "riskd-test");
  CHECK(c.kafka.properties.at("sasl.password") == "s3cret");
  CHECK(c.kafka.properties.at("queue.buffering.max.ms") == "5");
  CHECK(c.feeds.topics == std::vector<std::string>{"md.crypto", "md.gpu", "md.rates"});
  CHECK(c.feeds.borrowers_topic == "risk.borrowers");
  CHECK(c.outputs.alerts_topic == "risk.alerts");
  CHECK(c.outputs.signals_topic == "risk.signals");
  REQUIRE(c.outputs.alertmanager.has_value());
  CHECK(c.outputs.alertmanager->resend_s == 30.0);
  REQUIRE(c.outputs.webhooks.size() == 2);
  CHECK(c.outputs.webhooks[0].timeout_s == riskd::config::WebhookSettings{}.timeout_s);
  CHECK(c.outputs.webhooks[1].timeout_s == 2.0);
  CHECK(c.http.listen == "127.0.0.1:8081");
  CHECK(c.metrics.borrower_series == BorrowerSeries::alerting);
  CHECK(c.risk.model.rent_decline_per_year == 0.25);
  CHECK(c.risk.model.discount_rate == 0.10);
  CHECK(c.risk.model.fire_sale_base == 0.05);
  CHECK(c.risk.model.fire_sale_impact == 0.3);
  CHECK(c.risk.model.fire_sale_exponent == 0.7);
  CHECK(c.risk.model.fire_sale_max == 0.8);
  CHECK(c.risk.model.obsolescence_discount == 0.1);
  CHECK(c.risk.alerting.for_s == 30.0);
  CHECK(c.risk.series.at("BTC-USD").kind == SeriesKind::price);
  // A configured correlation_convergence is kept; the engine lets it replace the built-in.
  REQUIRE(c.risk.scenarios.size() == 2);
  CHECK(c.risk.scenarios[1].name == "correlation_convergence");
  CHECK(c.risk.scenarios[1].shocks.at("@spread") == 500.0);
  CHECK(c.risk.borrowers.empty());
}

TEST_CASE("an empty config is valid and every value is the model.hpp / config.hpp default") {
  const Config c = parse_config("", "empty.yaml");
  const riskd::risk::ModelParams model;
  const riskd::risk::AlertingParams alerting;
  CHECK(c.risk.model.discount_rate == model.discount_rate);
  CHECK(c.risk.model.fire_sale_max == model.fire_sale_max);
  CHECK(c.risk.alerting.warn_ltv_margin == alerting.warn_ltv_margin);
  CHECK(c.http.listen == riskd::config::HttpSettings{}.listen);
  CHECK(c.kafka.group_id == riskd::config::KafkaSettings{}.group_id);
  CHECK(c.metrics.borrower_series == BorrowerSeries::all);
  CHECK(c.risk.borrowers.empty());
  CHECK(c.risk.series.empty());
  CHECK_ACCEPTED("# only a comment\n");
  CHECK_ACCEPTED("borrowers: []\nscenarios: []\n");
  CHECK_ACCEPTED("kafka:\nfeeds:\n");  // null sections are empty
}

TEST_CASE("load_config reports an unreadable file as one ConfigInvalid error") {
  try {
    (void)load_config("/nonexistent/riskd.yaml");
    FAIL("expected ConfigInvalid");
  } catch (const ConfigInvalid& e) {
    REQUIRE(e.errors().size() == 1);
    CHECK(e.errors()[0].file == "/nonexistent/riskd.yaml");
    CHECK(e.errors()[0].line == 0);
    CHECK(e.errors()[0].message.find("cannot open") != std::string::npos);
  }
}

TEST_CASE("ConfigError formats as FILE:LINE:COL: message, or FILE: message without a position") {
  CHECK(ConfigError{"a.yaml", 3, 7, "x: bad"}.to_string() == "a.yaml:3:7: x: bad");
  CHECK(ConfigError{"a.yaml", 0, 0, "cannot open"}.to_string() == "a.yaml: cannot open");
  const ConfigInvalid e({ConfigError{"a.yaml", 1, 2, "m1"}, ConfigError{"a.yaml", 3, 4, "m2"}});
  CHECK(std::string(e.what()).find("a.yaml:3:4: m2") != std::string::npos);
}

// ------------------------------------------------------ error reporting

TEST_CASE("malformed YAML is one error at the parser's position") {
  const auto errs = errors_of("borrowers:\n  - id: [a, b\n  - id: c\n");
  INFO(joined(errs));
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].file == "t.yaml");
  CHECK(errs[0].line >= 2);
  CHECK(errs[0].column >= 1);
  CHECK(errs[0].message.find("invalid YAML") != std::string::npos);
}

TEST_CASE("more than one YAML document is an error") {
  const auto errs = errors_of("http: {listen: 'a:1'}\n---\nhttp: {listen: 'b:2'}\n");
  INFO(joined(errs));
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].line == 2);
  CHECK(errs[0].message.find("expected one YAML document") == 0);
}

TEST_CASE("an error names the borrower by id and the field path, at the value's 1-based position") {
  const std::string yaml = with(k_base, "utilization: 0.85", "utilization: 1.2");
  const auto errs = errors_of(yaml);
  INFO(joined(errs));
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].message == "borrowers[miner-a].collateral.gpus[0].utilization: must be in [0, 1], got 1.2");
  const auto [line, column] = position_of(yaml, "1.2\n");
  CHECK(errs[0].line == line);
  CHECK(errs[0].column == column);
  CHECK(errs[0].file == "t.yaml");
}

TEST_CASE("a borrower without a valid id is named by its index") {
  const std::string yaml = with(with(k_base, "id: miner-a", "id: 'bad id'"), "count: 100", "count: -1");
  const auto errs = errors_of(yaml);
  INFO(joined(errs));
  REQUIRE(errs.size() == 2);
  CHECK(errs[0].message.rfind("borrowers[0].id:", 0) == 0);
  CHECK(errs[1].message.rfind("borrowers[0].collateral.gpus[0].count: must be >= 0, got -1", 0) == 0);
}

TEST_CASE("every error is reported at once, in file order") {
  std::string yaml = k_base;
  yaml = with(yaml, "rent_decline_per_year: 0.3", "rent_decline_per_year: 1.5");
  yaml = with(yaml, "max_ltv: 0.70", "max_ltv: 0");
  yaml = with(yaml, "units: 10", "units: -10");
  yaml = with(yaml, "useful_life_months: 60", "useful_life_months: 0");
  yaml = with(yaml, "principal_usd: 750", "principal_usd: -750");
  yaml += "  - id: second\n    covenants: {max_ltv: 0.5, min_dscr: -1}\n    bogus: 1\n";
  const auto errs = errors_of(yaml);
  INFO(joined(errs));
  REQUIRE(errs.size() == 7);
  for (std::size_t i = 1; i < errs.size(); ++i) {
    CHECK(std::pair(errs[i - 1].line, errs[i - 1].column) < std::pair(errs[i].line, errs[i].column));
  }
  CHECK(any_contains(errs, "model.rent_decline_per_year: must be in [0, 1), got 1.5"));
  CHECK(any_contains(errs, "borrowers[miner-a].covenants.max_ltv: must be > 0, got 0"));
  CHECK(any_contains(errs, "borrowers[miner-a].collateral.crypto[0].units: must be >= 0, got -10"));
  CHECK(any_contains(errs, "borrowers[miner-a].collateral.gpus[0].useful_life_months: must be > 0, got 0"));
  CHECK(any_contains(errs, "borrowers[miner-a].facilities[0].principal_usd: must be >= 0, got -750"));
  CHECK(any_contains(errs, "borrowers[second].covenants.min_dscr: must be > 0, got -1"));
  CHECK(any_contains(errs, "borrowers[second].bogus: unknown key"));
}

TEST_CASE("only ConfigInvalid escapes, whatever the input") {
  const std::vector<std::string> inputs = {std::string("\0\xff\xfe", 3),
                                           "[1, 2",
                                           "{",
                                           "- a\n- b",
                                           "42",
                                           "\"just a string\"",
                                           "borrowers: 7",
                                           "borrowers: [1, [2], {id: x}]",
                                           "a: &x [*x]",
                                           "? [a]\n: b\n",
                                           "series: {[a]: 1}",
                                           "---\na: 1\n---\nb: 2\n",
                                           "borrowers:\n  - &b {id: x, covenants: *b}\n",
                                           ",",
                                           "{a: 1},",
                                           "[:",
                                           "{:"};
  for (const auto& input : inputs) {
    CAPTURE(input);
    CHECK_THROWS_AS((void)parse_config(input, "x.yaml"), ConfigInvalid);
  }
}

// ------------------------------------------------------ keys and types

TEST_CASE("unknown keys are rejected everywhere, with the closest known key suggested") {
  CHECK_ONLY_ERROR(with(k_base, "utilization: 0.85", "utilisation: 0.85"),
                   "borrowers[miner-a].collateral.gpus[0].utilisation: unknown key; did you mean 'utilization'?");
  CHECK_ONLY_ERROR("borrower: []\n", "borrower: unknown key; did you mean 'borrowers'?");
  CHECK_ONLY_ERROR("kafka: {bootstrap_server: x}\n", "did you mean 'bootstrap_servers'?");
  CHECK_ONLY_ERROR("feeds: {topic: [a]}\n", "did you mean 'topics'?");
  CHECK_ONLY_ERROR("outputs: {alert_topic: a}\n", "did you mean 'alerts_topic'?");
  CHECK_ONLY_ERROR("outputs: {webhooks: [{url: 'http://x', timout_s: 1}]}\n", "did you mean 'timeout_s'?");
  CHECK_ONLY_ERROR("outputs: {alertmanager: {url: 'http://x', resend: 1}}\n", "did you mean 'resend_s'?");
  CHECK_ONLY_ERROR("http: {listn: 'a:1'}\n", "did you mean 'listen'?");
  CHECK_ONLY_ERROR("metrics: {borrower_serie: all}\n", "did you mean 'borrower_series'?");
  CHECK_ONLY_ERROR("series: {X: {kind: price, stale_after: 5}}\n", "did you mean 'stale_after_s'?");
  CHECK_ONLY_ERROR("model: {discount: 0.1}\n", "model.discount: unknown key");
  CHECK_ONLY_ERROR("gpu_models: {H100: {successor: true}}\n", "gpu_models[H100].successor: unknown key");
  CHECK_ONLY_ERROR("alerting: {for: 5}\n", "alerting.for: unknown key");
  CHECK_ONLY_ERROR("scenarios: [{name: a, shocks: {}, shock: {}}]\n", "did you mean 'shocks'?");
  CHECK_ONLY_ERROR(with(k_base, "haircut: 0.1", "haircut: 0.1, unit: 3"), "did you mean 'units'?");
  CHECK_ONLY_ERROR(with(k_base, "end: 2027-06-30", "end: 2027-06-30, price: 1"), "contract.price: unknown key");
  CHECK_ONLY_ERROR(with(k_base, "hashrate_ph: 25", "hashrate: 25, hashrate_ph: 25"), "did you mean 'hashrate_ph'?");
  CHECK_ONLY_ERROR(with(k_base, "spread_bps: 600", "spread_bps: 600, flor_pct: 1"), "did you mean 'floor_pct'?");
  CHECK_ONLY_ERROR(with(k_base, "kind: abl", "knd: abl"), "facilities[0].knd: unknown key; did you mean 'kind'?");
  CHECK_ONLY_ERROR(with(k_base, "cash_usd: 1000", "cash: 1000"),
                   "collateral.cash: unknown key; did you mean 'cash_usd'?");
  // No near key: the known keys are listed instead.
  CHECK_ONLY_ERROR("http: {zzzzzzzzzz: 1}\n", "expected one of: listen");
}

TEST_CASE("a key given twice is rejected") {
  CHECK_ONLY_ERROR("http: {listen: 'a:1', listen: 'b:2'}\n", "http.listen: duplicate key 'listen'");
  CHECK_ONLY_ERROR("series:\n  A: {kind: price}\n  A: {kind: rate}\n", "duplicate key 'A'");
}

TEST_CASE("wrong types are rejected: string for number, map for list, list for map, scalar for map") {
  CHECK_ONLY_ERROR(with(k_base, "count: 100", "count: \"100\""), "gpus[0].count: expected a number, got a string");
  CHECK_ONLY_ERROR(with(k_base, "count: 100", "count: many"), "gpus[0].count: expected a number, got 'many'");
  CHECK_ONLY_ERROR(with(k_base, "count: 100", "count: [100]"), "gpus[0].count: expected a number, got a list");
  CHECK_ONLY_ERROR("feeds: {topics: {a: 1}}\n", "feeds.topics: expected a list, got a map");
  CHECK_ONLY_ERROR("outputs: {webhooks: {url: 'http://x'}}\n", "outputs.webhooks: expected a list, got a map");
  CHECK_ONLY_ERROR(with(k_base, "covenants: {max_ltv: 0.70, min_dscr: 1.25}", "covenants: [0.7, 1.25]"),
                   "borrowers[miner-a].covenants: expected a map, got a list");
  CHECK_ONLY_ERROR("borrowers: [just-a-name]\n", "borrowers[0]: expected a borrower map, got 'just-a-name'");
  CHECK_ONLY_ERROR("borrowers: {id: x}\n", "borrowers: expected a list, got a map");
  CHECK_ONLY_ERROR("model: 0.3\n", "model: expected a map, got '0.3'");
  CHECK_ONLY_ERROR("gpu_models: {H100: {successor_released: maybe}}\n", "expected true or false, got 'maybe'");
  CHECK_ONLY_ERROR("kafka: {group_id: {a: 1}}\n", "kafka.group_id: expected a string, got a map");
  CHECK_ONLY_ERROR("kafka: {properties: {a: [1]}}\n", "kafka.properties[a]: expected a scalar, got a list");
  CHECK_ONLY_ERROR("feeds: {topics: md.crypto}\n", "feeds.topics: expected a list, got 'md.crypto'");
  CHECK_ONLY_ERROR("42\n", "expected a map, got '42'");
}

TEST_CASE("required keys are reported when missing") {
  CHECK_ONLY_ERROR(with(k_base, "covenants: {max_ltv: 0.70, min_dscr: 1.25}", "covenants: {max_ltv: 0.70}"),
                   "borrowers[miner-a].covenants.min_dscr: required key missing");
  CHECK_ONLY_ERROR(with(k_base, "count: 100", "count:"), "gpus[0].count: required, got null");
  CHECK_ONLY_ERROR(with(k_base, "units: 10, ", ""), "crypto[0].units: required key missing");
  CHECK_ONLY_ERROR(with(k_base, "    covenants: {max_ltv: 0.70, min_dscr: 1.25}\n", ""),
                   "borrowers[miner-a].covenants: required key missing");
  CHECK_ONLY_ERROR(with(k_base, "  - id: miner-a\n", "  - \n"), "borrowers[0].id: required key missing");
  CHECK_ONLY_ERROR("outputs: {webhooks: [{timeout_s: 1}]}\n", "outputs.webhooks[0].url: required key missing");
  CHECK_ONLY_ERROR("scenarios: [{shocks: {}}]\n", "scenarios[0].name: required key missing");
}

// ------------------------------------------------------ numbers

TEST_CASE("non-finite numbers are rejected anywhere") {
  CHECK_ONLY_ERROR(with(k_base, "units: 10", "units: .nan"), "crypto[0].units: must be a finite number, got .nan");
  CHECK_ONLY_ERROR(with(k_base, "cash_usd: 1000", "cash_usd: .inf"), "cash_usd: must be a finite number, got .inf");
  CHECK_ONLY_ERROR(with(k_base, "max_ltv: 0.70", "max_ltv: .NaN"), "max_ltv: must be a finite number");
  CHECK_ONLY_ERROR(with(k_base, "spread_bps: 600", "spread_bps: -.inf"), "spread_bps: must be a finite number");
  CHECK_ONLY_ERROR(with(k_base, "fixed_pct: 2.5", "fixed_pct: .Inf"), "fixed_pct: must be a finite number");
  CHECK_ONLY_ERROR(with(k_base, "BTC-USD: -0.5", "BTC-USD: .nan"),
                   "scenarios[0].shocks[BTC-USD]: must be a finite number");
  CHECK_ONLY_ERROR(with(k_base, "max_jump: 0.25", "max_jump: .inf"),
                   "series[BTC-USD].max_jump: must be a finite number");
  CHECK_ONLY_ERROR("model: {discount_rate: .nan}\n", "model.discount_rate: must be a finite number");
  CHECK_ONLY_ERROR("alerting: {for_s: .inf}\n", "alerting.for_s: must be a finite number");
  CHECK_ONLY_ERROR("model: {discount_rate: 1e400}\n", "model.discount_rate: must be a finite number");
  CHECK_ONLY_ERROR("model: {discount_rate: nan}\n", "expected a number, got 'nan'");
}

TEST_CASE("negative counts, units, cash, principal, amortization, hashrate, fixed costs and opex are rejected") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"count: 100", "count: -1"},
      {"units: 10", "units: -0.5"},
      {"cash_usd: 1000", "cash_usd: -1"},
      {"principal_usd: 750", "principal_usd: -1"},
      {"amortization_usd_per_year: 150", "amortization_usd_per_year: -1"},
      {"hashrate_ph: 25", "hashrate_ph: -1"},
      {"fixed_costs_usd_per_year: 40", "fixed_costs_usd_per_year: -1"},
      {"opex_usd_per_gpu_hour: 0.35", "opex_usd_per_gpu_hour: -0.01"},
      {"opex_usd_per_ph_day: 30", "opex_usd_per_ph_day: -1"},
      {"btc_per_ph_day: 0.00048", "btc_per_ph_day: -1"},
      {"usd_per_gpu_hour: 2.80", "usd_per_gpu_hour: -1"},
      {"gpus: 60,", "gpus: -1,"},
  };
  for (const auto& [from, to] : cases) {
    CAPTURE(to);
    CHECK_ONLY_ERROR(with(k_base, from, to), "must be >= 0, got -");
  }
  CHECK_ACCEPTED(with(k_base, "units: 10", "units: 0"));  // zero is fine
  CHECK_ACCEPTED(with(with(k_base, "count: 100", "count: 0"), "gpus: 60,", "gpus: 0,"));
}

TEST_CASE("utilization must be between 0 and 1 inclusive") {
  CHECK_ONLY_ERROR(with(k_base, "utilization: 0.85", "utilization: 1.2"), "utilization: must be in [0, 1], got 1.2");
  CHECK_ONLY_ERROR(with(k_base, "utilization: 0.85", "utilization: -0.1"), "utilization: must be in [0, 1], got -0.1");
  CHECK_ACCEPTED(with(k_base, "utilization: 0.85", "utilization: 0"));
  CHECK_ACCEPTED(with(k_base, "utilization: 0.85", "utilization: 1"));
}

TEST_CASE("haircut must be at least 0 and below 1") {
  CHECK_ONLY_ERROR(with(k_base, "haircut: 0.1", "haircut: 1"), "crypto[0].haircut: must be in [0, 1), got 1");
  CHECK_ONLY_ERROR(with(k_base, "haircut: 0.1", "haircut: -0.1"), "haircut: must be in [0, 1)");
  CHECK_ACCEPTED(with(k_base, "haircut: 0.1", "haircut: 0"));
  CHECK_ACCEPTED(with(k_base, "haircut: 0.1", "haircut: 0.999"));
}

TEST_CASE("max_ltv and min_dscr must be > 0") {
  CHECK_ONLY_ERROR(with(k_base, "max_ltv: 0.70", "max_ltv: 0"), "covenants.max_ltv: must be > 0, got 0");
  CHECK_ONLY_ERROR(with(k_base, "max_ltv: 0.70", "max_ltv: -0.7"), "covenants.max_ltv: must be > 0");
  CHECK_ONLY_ERROR(with(k_base, "min_dscr: 1.25", "min_dscr: 0"), "covenants.min_dscr: must be > 0, got 0");
  CHECK_ONLY_ERROR(with(k_base, "min_dscr: 1.25", "min_dscr: -1"), "covenants.min_dscr: must be > 0");
}

TEST_CASE("a contract cannot cover more GPUs than the pool has") {
  CHECK_ONLY_ERROR(with(k_base, "gpus: 60,", "gpus: 101,"),
                   "borrowers[miner-a].collateral.gpus[0].contract.gpus: must be <= the pool's count (100), got 101");
  CHECK_ACCEPTED(with(k_base, "gpus: 60,", "gpus: 100,"));
}

TEST_CASE("useful_life_months must be > 0") {
  CHECK_ONLY_ERROR(with(k_base, "useful_life_months: 60", "useful_life_months: 0"), "useful_life_months: must be > 0");
  CHECK_ONLY_ERROR(with(k_base, "useful_life_months: 60", "useful_life_months: -12"),
                   "useful_life_months: must be > 0");
}

TEST_CASE("model parameters must be in their ranges") {
  CHECK_ONLY_ERROR("model: {discount_rate: -1}\n", "model.discount_rate: must be > -1, got -1");
  CHECK_ACCEPTED("model: {discount_rate: -0.5}\n");
  CHECK_ONLY_ERROR("model: {rent_decline_per_year: 1}\n", "rent_decline_per_year: must be in [0, 1)");
  CHECK_ONLY_ERROR("model: {rent_decline_per_year: -0.1}\n", "rent_decline_per_year: must be in [0, 1)");
  CHECK_ONLY_ERROR("model: {fire_sale_base: 1.1}\n", "fire_sale_base: must be in [0, 1]");
  CHECK_ONLY_ERROR("model: {fire_sale_impact: -0.1}\n", "fire_sale_impact: must be in [0, 1]");
  CHECK_ONLY_ERROR("model: {fire_sale_max: 2}\n", "fire_sale_max: must be in [0, 1]");
  CHECK_ONLY_ERROR("model: {obsolescence_discount: 1.5}\n", "obsolescence_discount: must be in [0, 1]");
  CHECK_ONLY_ERROR("model: {fire_sale_exponent: 0}\n", "fire_sale_exponent: must be > 0");
  CHECK_ONLY_ERROR("gpu_models: {H100: {secondary_depth_units: 0}}\n",
                   "gpu_models[H100].secondary_depth_units: must be > 0");
}

TEST_CASE("alerting margins, hysteresis and for_s must be >= 0") {
  for (const std::string key : {"warn_ltv_margin", "warn_dscr_margin", "ltv_hysteresis", "dscr_hysteresis", "for_s"}) {
    CAPTURE(key);
    CHECK_ONLY_ERROR("alerting: {" + key + ": -0.01}\n", "alerting." + key + ": must be >= 0, got -0.01");
    CHECK_ACCEPTED("alerting: {" + key + ": 0}\n");
  }
}

TEST_CASE("series stale_after_s and max_jump must be > 0") {
  CHECK_ONLY_ERROR(with(k_base, "stale_after_s: 600", "stale_after_s: 0"),
                   "series[SPREAD-X].stale_after_s: must be > 0");
  CHECK_ONLY_ERROR(with(k_base, "max_jump: 0.25", "max_jump: -0.1"), "series[BTC-USD].max_jump: must be > 0");
}

TEST_CASE("enums: metrics.borrower_series and series kind") {
  CHECK_ONLY_ERROR("metrics: {borrower_series: some}\n", "metrics.borrower_series: must be one of all, alerting, none");
  CHECK(parse_config("metrics: {borrower_series: none}\n", "t").metrics.borrower_series == BorrowerSeries::none);
  CHECK_ONLY_ERROR(with(k_base, "kind: rate", "kind: bond"),
                   "series[SPREAD-X].kind: must be one of price, gpu_rent, rate, hashprice; got 'bond'");
}

TEST_CASE("outputs: URLs must be http or https, timeouts and resend intervals > 0, listen is HOST:PORT") {
  CHECK_ONLY_ERROR("outputs: {webhooks: [{url: 'ftp://x'}]}\n", "webhooks[0].url: must be an http:// or https:// URL");
  CHECK_ONLY_ERROR("outputs: {webhooks: [{url: 'http://x', timeout_s: 0}]}\n", "timeout_s: must be > 0");
  CHECK_ONLY_ERROR("outputs: {alertmanager: {url: 'http://x', resend_s: -1}}\n", "resend_s: must be > 0");
  CHECK_ONLY_ERROR("http: {listen: 'localhost'}\n", "http.listen: must be HOST:PORT");
  CHECK_ONLY_ERROR("http: {listen: 'localhost:99999'}\n", "http.listen: must be HOST:PORT");
  CHECK_ACCEPTED("http: {listen: '[::1]:0'}\n");
  CHECK_ONLY_ERROR("feeds: {topics: [a, '']}\n", "feeds.topics[1]: must not be empty");
}

// ------------------------------------------------------ dates and ids

TEST_CASE("dates must be YYYY-MM-DD calendar dates") {
  CHECK_ONLY_ERROR(with(k_base, "in_service: 2024-09-01", "in_service: 2023-02-29"),
                   "gpus[0].in_service: must be a YYYY-MM-DD calendar date, got '2023-02-29'");
  CHECK_ONLY_ERROR(with(k_base, "in_service: 2024-09-01", "in_service: 2024-9-1"), "in_service: must be a YYYY-MM-DD");
  CHECK_ONLY_ERROR(with(k_base, "end: 2027-06-30", "end: 2027-06-31"), "contract.end: must be a YYYY-MM-DD");
  CHECK_ONLY_ERROR(with(k_base, "maturity: 2028-06-30", "maturity: 2028-06-30T00:00:00Z"),
                   "facilities[0].maturity: must be a YYYY-MM-DD");
  CHECK_ONLY_ERROR(with(k_base, "maturity: 2028-06-30", "maturity: 20280630"), "maturity: must be a YYYY-MM-DD");
  CHECK_ACCEPTED(with(k_base, "in_service: 2024-09-01", "in_service: \"2024-02-29\""));
}

TEST_CASE("in_service, contract end and maturity are required") {
  CHECK_ONLY_ERROR(with(k_base, "          in_service: 2024-09-01\n", ""), "gpus[0].in_service: required key missing");
  CHECK_ONLY_ERROR(with(k_base, ", end: 2027-06-30", ""), "gpus[0].contract.end: required key missing");
  CHECK_ONLY_ERROR(with(k_base, " maturity: 2030-03-01,", ""), "facilities[1].maturity: required key missing");
}

TEST_CASE("a borrower id is 1 to 64 letters, digits, dots, underscores or dashes, and unique") {
  CHECK_ONLY_ERROR(with(k_base, "id: miner-a", "id: 'miner a'"),
                   "borrower id must match [A-Za-z0-9._-]{1,64}, got 'miner a'");
  CHECK_ONLY_ERROR(with(k_base, "id: miner-a", "id: 'miner/a'"), "borrower id must match");
  CHECK_ONLY_ERROR(with(k_base, "id: miner-a", "id: ''"), "borrower id must match");
  CHECK_ONLY_ERROR(with(k_base, "id: miner-a", "id: " + std::string(65, 'x')), "borrower id must match");
  CHECK_ACCEPTED(with(k_base, "id: miner-a", "id: " + std::string(64, 'x')));
  CHECK_ACCEPTED(with(k_base, "id: miner-a", "id: A.b_c-9"));
  const std::string second = "  - " + k_borrower_json + "\n";
  CHECK_ACCEPTED(k_base + second);
  const std::string dup = k_base + with(second, "cloud-z", "miner-a");
  const auto errs = errors_of(dup);
  INFO(joined(errs));
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].message.find("borrowers[miner-a].id: duplicate borrower id 'miner-a' (first at borrowers[miner-a].id "
                             "(line 10, column 9))") == 0);
  CHECK(errs[0].line == position_of(dup, "\"id\": \"miner-a\"").first);
}

TEST_CASE("facility ids are unique within a borrower, not across borrowers") {
  CHECK_ONLY_ERROR(with(k_base, "id: cvt-1", "id: abl-1"),
                   "borrowers[miner-a].facilities[1].id: duplicate facility id 'abl-1' in this borrower");
  CHECK_ACCEPTED(k_base + "  - " + with(k_borrower_json, "\"id\": \"f\"", "\"id\": \"abl-1\"") + "\n");
}

// ------------------------------------------------------ rates and mining

TEST_CASE("a facility rate is exactly one of fixed_pct or base with one spread") {
  const std::string fixed = "rate: {fixed_pct: 2.5}";
  CHECK_ONLY_ERROR(with(k_base, fixed, "rate: {fixed_pct: 2.5, base: SOFR}"),
                   "facilities[1].rate.base: not allowed with fixed_pct");
  CHECK_ONLY_ERROR(with(k_base, fixed, "rate: {fixed_pct: 2.5, floor_pct: 1}"),
                   "rate.floor_pct: not allowed with fixed_pct");
  CHECK_ONLY_ERROR(with(k_base, fixed, "rate: {}"),
                   "facilities[1].rate: needs fixed_pct, or base with spread_bps or spread_series");
  CHECK_ONLY_ERROR(with(k_base, fixed, "rate: {spread_bps: 100}"), "rate: needs fixed_pct, or base");
  CHECK_ONLY_ERROR(with(k_base, fixed, "rate: {base: SOFR}"),
                   "facilities[1].rate: base needs spread_bps or spread_series");
  CHECK_ONLY_ERROR(with(k_base, fixed, "rate: {base: SOFR, spread_bps: 1, spread_series: SPREAD-X}"),
                   "rate.spread_series: spread_bps and spread_series are exclusive");
  CHECK_ONLY_ERROR(with(k_base, fixed, "rate: 2.5"), "facilities[1].rate: expected a map, got '2.5'");
  // floor_pct is optional; its default is FloatingRate's.
  const Config c = parse_config(k_base, "t");
  const auto& tl = std::get<riskd::risk::FloatingRate>(c.risk.borrowers[0].facilities[2].rate);
  CHECK(tl.floor_pct == riskd::risk::FloatingRate{}.floor_pct);
  CHECK(tl.spread_series == "SPREAD-X");
  CHECK(std::get<riskd::risk::FloatingRate>(c.risk.borrowers[0].facilities[0].rate).floor_pct == 4.0);
}

TEST_CASE("mining needs hashprice_series or btc_per_ph_day") {
  CHECK_ONLY_ERROR(with(k_base, "btc_per_ph_day: 0.00048, hashprice_series: HASHPRICE", "btc_series: BTC-USD"),
                   "borrowers[miner-a].mining: needs hashprice_series or btc_per_ph_day");
  CHECK_ACCEPTED(with(k_base, "btc_per_ph_day: 0.00048, ", ""));
  CHECK_ACCEPTED(with(k_base, ", hashprice_series: HASHPRICE", ""));
}

// ------------------------------------------------------ series kinds

TEST_CASE("series kinds are inferred from use and every series is listed") {
  const Config c = parse_config(k_base, "t");
  const auto& s = c.risk.series;
  CHECK(s.size() == 5);
  CHECK(s.at("BTC-USD").kind == SeriesKind::price);
  CHECK(s.at("BTC-USD").max_jump == 0.25);
  CHECK(s.at("GPU-H100").kind == SeriesKind::gpu_rent);
  CHECK(s.at("HASHPRICE").kind == SeriesKind::hashprice);
  CHECK(s.at("SOFR").kind == SeriesKind::rate);
  CHECK(s.at("SPREAD-X").kind == SeriesKind::rate);
  CHECK(s.at("SPREAD-X").stale_after_s == 600.0);
}

TEST_CASE("mining btc_series is a price use only without hashprice_series") {
  // With hashprice_series, btc_series is unused: no conflict with a rate series of that name.
  const std::string unused =
      with(k_base, "hashprice_series: HASHPRICE", "hashprice_series: HASHPRICE, btc_series: SOFR");
  const Config c = parse_config(unused, "t");
  CHECK(c.risk.series.at("SOFR").kind == SeriesKind::rate);
  // Without it, btc_series is a price series and conflicts.
  // (mining is read before facilities, so each rate.base use is reported against it)
  const auto errs = errors_of(with(k_base, "btc_per_ph_day: 0.00048, hashprice_series: HASHPRICE",
                                   "btc_per_ph_day: 0.00048, btc_series: SOFR"));
  INFO(joined(errs));
  CHECK(errs.size() == 2);
  CHECK(any_contains(errs,
                     "facilities[0].rate.base: series 'SOFR' is used as rate here, but it is used as price at "
                     "borrowers[miner-a].mining.btc_series (line 25"));
  // The default btc_series (BTC-USD) counts as a use.
  const Config d = parse_config(
      "borrowers:\n  - {id: m, covenants: {max_ltv: 1, min_dscr: 1},\n"
      "     mining: {hashrate_ph: 1, btc_per_ph_day: 0.0005}}\n",
      "t");
  REQUIRE(d.risk.series.count("BTC-USD") == 1);
  CHECK(d.risk.series.at("BTC-USD").kind == SeriesKind::price);
}

TEST_CASE("a declared kind that conflicts with a use is an error naming both places") {
  const std::string yaml = with(k_base, "BTC-USD: {max_jump: 0.25}", "BTC-USD: {kind: rate, max_jump: 0.25}");
  const auto errs = errors_of(yaml);
  INFO(joined(errs));
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].message ==
        "borrowers[miner-a].collateral.crypto[0].series: series 'BTC-USD' is used as price here, but "
        "series[BTC-USD].kind (line 2, column 19) declares it rate");
  CHECK(errs[0].line == position_of(yaml, "series: BTC-USD").first);
}

TEST_CASE("two uses of a series as different kinds are an error naming both places") {
  CHECK_ONLY_ERROR(with(k_base, "index: GPU-H100", "index: BTC-USD"),
                   "borrowers[miner-a].collateral.gpus[0].index: series 'BTC-USD' is used as gpu_rent here, but it is "
                   "used as price at borrowers[miner-a].collateral.crypto[0].series (line 15, column 25)");
  CHECK_ONLY_ERROR(with(k_base, "hashprice_series: HASHPRICE", "hashprice_series: GPU-H100"),
                   "series 'GPU-H100' is used as hashprice here, but it is used as gpu_rent at");
}

TEST_CASE("a declared series with no kind and no use is an error") {
  CHECK_ONLY_ERROR(k_base + "  - " + k_borrower_json + "\n" + "series_typo: 1\n", "did you mean 'series'?");
  const std::string yaml = with(k_base, "SPREAD-X: {kind: rate, stale_after_s: 600}",
                                "SPREAD-X: {kind: rate, stale_after_s: 600}\n  ETH-USD: {max_jump: 0.2}");
  CHECK_ONLY_ERROR(yaml, "series[ETH-USD]: kind required: no borrower uses it");
  CHECK_ACCEPTED(with(yaml, "ETH-USD: {max_jump: 0.2}", "ETH-USD: {kind: price, max_jump: 0.2}"));
  CHECK_ONLY_ERROR("series: {ETH-USD: }\n", "series[ETH-USD]: kind required");
}

// ------------------------------------------------------ scenarios

TEST_CASE("scenario names are unique and non-empty") {
  CHECK_ONLY_ERROR(k_base + "scenarios_extra: 1\n", "unknown key");
  const std::string two = with(k_base, "  - name: crash\n", "  - name: crash\n    shocks: {}\n  - name: crash\n");
  CHECK_ONLY_ERROR(two, "scenarios[1].name: duplicate scenario name 'crash' (first at scenarios[0].name");
  CHECK_ONLY_ERROR(with(k_base, "name: crash", "name: ''"), "scenarios[0].name: must not be empty");
}

TEST_CASE("shock keys are a known series id or a group") {
  CHECK_ONLY_ERROR(with(k_base, "BTC-USD: -0.5,", "BTC-USDT: -0.5,"),
                   "scenarios[0].shocks[BTC-USDT]: unknown series 'BTC-USDT'; did you mean 'BTC-USD'?");
  CHECK_ONLY_ERROR(with(k_base, "\"@rate\": 100", "\"@rates\": 100"), "unknown group '@rates'");
  for (const std::string group : {"@price", "@gpu_rent", "@hashprice", "@rate", "@spread"}) {
    CAPTURE(group);
    CHECK_ACCEPTED(with(k_base, "\"@rate\": 100", "\"" + group + "\": 0.1"));
  }
  // Series only used (not declared) are known too.
  CHECK_ACCEPTED(with(k_base, "\"@rate\": 100", "GPU-H100: -0.3, SOFR: 50"));
}

TEST_CASE("a relative shock <= -1 on a price-like series or group is an error, rate shocks are additive") {
  CHECK_ONLY_ERROR(
      with(k_base, "BTC-USD: -0.5", "BTC-USD: -1"),
      "scenarios[0].shocks[BTC-USD]: a relative shock must be > -1 (the value would fall to <= 0), got -1");
  CHECK_ONLY_ERROR(with(k_base, "\"@rate\": 100", "\"@gpu_rent\": -1.5"),
                   "shocks[@gpu_rent]: a relative shock must be > -1");
  CHECK_ONLY_ERROR(with(k_base, "\"@rate\": 100", "HASHPRICE: -2"), "shocks[HASHPRICE]: a relative shock must be > -1");
  CHECK_ACCEPTED(with(k_base, "\"@rate\": 100", "\"@rate\": -300, \"@spread\": -200, SOFR: -500"));
  CHECK_ACCEPTED(with(k_base, "BTC-USD: -0.5", "BTC-USD: -0.99"));
  const Config c = parse_config(k_base, "t");
  REQUIRE(c.risk.scenarios.size() == 1);
  CHECK(c.risk.scenarios[0].name == "crash");
  CHECK(c.risk.scenarios[0].shocks.at("BTC-USD") == -0.5);
  CHECK(c.risk.scenarios[0].shocks.at("@rate") == 100.0);
}

// ------------------------------------------------------ environment

TEST_CASE("env variable references are replaced from the environment in every string") {
  ::setenv("RISKD_TEST_TOPIC", "md.crypto", 1);
  ::setenv("RISKD_TEST_COUNT", "420", 1);
  ::setenv("RISKD_TEST_ID", "env-borrower", 1);
  const Config c = parse_config(
      with(with(with(k_base, "id: miner-a", "id: ${RISKD_TEST_ID}"), "count: 100", "count: ${RISKD_TEST_COUNT}"),
           "series:\n", "feeds: {topics: [\"pre-${RISKD_TEST_TOPIC}-post\"]}\nseries:\n"),
      "t");
  CHECK(c.feeds.topics.at(0) == "pre-md.crypto-post");
  CHECK(c.risk.borrowers.at(0).id == "env-borrower");
  CHECK(c.risk.borrowers.at(0).gpus.at(0).count == 420.0);
}

TEST_CASE("an unset or malformed env variable reference is an error at its position") {
  ::unsetenv("RISKD_TEST_UNSET");
  const std::string yaml = "kafka:\n  properties:\n    sasl.password: x${RISKD_TEST_UNSET}\n";
  const auto errs = errors_of(yaml);
  INFO(joined(errs));
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].message == "kafka.properties[sasl.password]: environment variable RISKD_TEST_UNSET is not set");
  CHECK(errs[0].line == 3);
  CHECK(errs[0].column == position_of(yaml, "${").second);
  CHECK_ONLY_ERROR("kafka: {group_id: \"a${RISKD\"}\n", "kafka.group_id: unterminated '${'");
  CHECK_ONLY_ERROR("kafka: {group_id: \"${1BAD}\"}\n", "invalid environment variable name '1BAD'");
  CHECK_ACCEPTED("kafka: {group_id: \"cost $5 {x}\"}\n");  // a lone $ is literal
}

// ------------------------------------------------------ parse_borrower

TEST_CASE("parse_borrower reads one JSON borrower and returns the kinds it introduces") {
  std::map<std::string, SeriesKind> new_kinds{{"stale", SeriesKind::price}};
  const auto b = parse_borrower(k_borrower_json, "risk.borrowers[0]@7", {{"SOFR", SeriesKind::rate}}, &new_kinds);
  CHECK(b.id == "cloud-z");
  CHECK(b.covenants.max_ltv == 0.8);
  REQUIRE(b.gpus.size() == 1);
  CHECK(b.gpus[0].utilization == riskd::risk::GpuPool{}.utilization);
  CHECK(new_kinds == std::map<std::string, SeriesKind>{{"GPU-H100", SeriesKind::gpu_rent}});
  CHECK_NOTHROW((void)parse_borrower(k_borrower_json, "s", {}, nullptr));
}

TEST_CASE("parse_borrower applies the same validation as the borrowers list") {
  const std::string bad = with(with(k_borrower_json, "\"count\": 10", "\"count\": 10, \"utilization\": 1.2"),
                               "\"max_ltv\": 0.8", "\"max_ltv\": 0, \"extra\": 1");
  try {
    (void)parse_borrower(bad, "risk.borrowers[3]@1042", {}, nullptr);
    FAIL("expected ConfigInvalid");
  } catch (const ConfigInvalid& e) {
    INFO(joined(e.errors()));
    REQUIRE(e.errors().size() == 3);
    CHECK(e.errors()[0].file == "risk.borrowers[3]@1042");
    CHECK(e.errors()[0].line == 1);
    CHECK(e.errors()[0].message == "borrowers[cloud-z].covenants.max_ltv: must be > 0, got 0");
    CHECK(e.errors()[1].message.find("borrowers[cloud-z].covenants.extra: unknown key") == 0);
    CHECK(e.errors()[2].message == "borrowers[cloud-z].collateral.gpus[0].utilization: must be in [0, 1], got 1.2");
  }
}

TEST_CASE("parse_borrower rejects a series used against its known kind") {
  try {
    (void)parse_borrower(k_borrower_json, "src", {{"GPU-H100", SeriesKind::price}}, nullptr);
    FAIL("expected ConfigInvalid");
  } catch (const ConfigInvalid& e) {
    REQUIRE(e.errors().size() == 1);
    CHECK(e.errors()[0].message ==
          "borrowers[cloud-z].collateral.gpus[0].index: series 'GPU-H100' is used as gpu_rent here, but it is "
          "already known as a price series");
  }
}

TEST_CASE("parse_borrower reports malformed or non-map documents as ConfigInvalid") {
  CHECK_THROWS_AS((void)parse_borrower("{\"id\": ", "s", {}, nullptr), ConfigInvalid);
  CHECK_THROWS_AS((void)parse_borrower("null", "s", {}, nullptr), ConfigInvalid);
  CHECK_THROWS_AS((void)parse_borrower("[1,2]", "s", {}, nullptr), ConfigInvalid);
  CHECK_THROWS_AS((void)parse_borrower("{\"id\": \"x\"}", "s", {}, nullptr), ConfigInvalid);  // no covenants
  try {
    (void)parse_borrower("{\"id\": \"bad id\", \"covenants\": {\"max_ltv\": 1, \"min_dscr\": 1}}", "s", {}, nullptr);
    FAIL("expected ConfigInvalid");
  } catch (const ConfigInvalid& e) {
    REQUIRE(e.errors().size() == 1);
    CHECK(e.errors()[0].message.rfind("borrowers[?].id: borrower id must match", 0) == 0);
  }
}
