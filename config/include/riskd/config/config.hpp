#pragma once
// riskd's YAML config (INTERFACES.md "Config"): load, substitute ${ENV},
// validate everything, report every error at once.
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "riskd/risk/model.hpp"

namespace riskd::config {

struct KafkaSettings {
  std::string bootstrap_servers;  // "embedded": in-process development broker
  std::string group_id = "riskd";
  std::map<std::string, std::string> properties;  // passed to librdkafka as is
};

struct FeedSettings {
  std::vector<std::string> topics;
  std::string borrowers_topic;  // empty: none
  /// Where riskd persists its market state (latest value of every series and
  /// the feed offsets it reflects) so a restart rebuilds it; key = group id.
  std::string state_topic = "riskd.state";
};

struct AlertmanagerSettings {
  std::string url;
  double resend_s = 60.0;
};

struct WebhookSettings {
  std::string url;
  double timeout_s = 5.0;
};

struct OutputSettings {
  std::string alerts_topic;   // empty: none
  std::string signals_topic;  // empty: none
  std::optional<AlertmanagerSettings> alertmanager;
  std::vector<WebhookSettings> webhooks;
};

struct HttpSettings {
  std::string listen = "127.0.0.1:8080";
};

enum class BorrowerSeries { all, alerting, none };

struct MetricsSettings {
  BorrowerSeries borrower_series = BorrowerSeries::all;
};

struct Config {
  std::string path;  // the file it was loaded from
  KafkaSettings kafka;
  FeedSettings feeds;
  OutputSettings outputs;
  HttpSettings http;
  MetricsSettings metrics;
  risk::RiskConfig risk;
};

/// One validation problem, positioned where it was found (1-based line and
/// column; 0 when unknown).
struct ConfigError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;  // names the borrower and field, e.g. "borrowers[miner-a].collateral.gpus[0].utilization: must be in [0, 1], got 1.2"

  /// `FILE:LINE:COL: message` (or `FILE: message` without a position).
  [[nodiscard]] std::string to_string() const;
};

/// Thrown by load_config when the file cannot be read or is invalid; carries
/// every error found, in file order.
class ConfigInvalid : public std::runtime_error {
 public:
  explicit ConfigInvalid(std::vector<ConfigError> errors);
  [[nodiscard]] const std::vector<ConfigError>& errors() const noexcept { return errors_; }

 private:
  std::vector<ConfigError> errors_;
};

/// Loads and validates a config file. `${NAME}` in any string is replaced by
/// the environment variable NAME (unset: an error). Throws ConfigInvalid.
Config load_config(const std::string& path);

/// Same, from text already in memory; `file_name` is used in error positions.
Config parse_config(const std::string& yaml_text, const std::string& file_name);

/// Parses and validates one borrower document (YAML or JSON text, the
/// schema of a `borrowers:` entry), as received on the borrowers topic.
/// `source` names it in errors (e.g. "risk.borrowers[3]@1042"). Series it
/// uses must be consistent with `known_kinds`; kinds it introduces are
/// returned through `new_kinds`. Throws ConfigInvalid.
risk::BorrowerSpec parse_borrower(const std::string& text, const std::string& source,
                                  const std::map<std::string, risk::SeriesKind>& known_kinds,
                                  std::map<std::string, risk::SeriesKind>* new_kinds);

}  // namespace riskd::config
