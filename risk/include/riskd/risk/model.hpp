#pragma once
// The borrower book and model parameters as configured (METHODOLOGY.md,
// INTERFACES.md "Config"). Plain values: series are named by id; the engine
// compiles them against a SeriesCatalog. Every default lives here, once.
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "riskd/risk/time.hpp"

namespace riskd::risk {

enum class SeriesKind : std::uint8_t { price, gpu_rent, rate, hashprice };

/// "price", "gpu_rent", "rate", "hashprice".
std::string_view to_string(SeriesKind kind);
std::optional<SeriesKind> series_kind_from_string(std::string_view text);

/// Global valuation parameters (config `model:`).
struct ModelParams {
  double rent_decline_per_year = 0.30;  // g
  double discount_rate = 0.12;          // d, annual
  double fire_sale_base = 0.10;         // δ0
  double fire_sale_impact = 0.40;       // κ
  double fire_sale_exponent = 0.5;      // α
  double fire_sale_max = 0.90;          // δmax
  double obsolescence_discount = 0.20;  // δobs
};

/// Secondary-market parameters of one GPU model (config `gpu_models:`).
struct GpuModelParams {
  double secondary_depth_units = 20000.0;  // Q, GPUs the market absorbs
  bool successor_released = false;
};

/// Alert thresholds and timing (config `alerting:`).
struct AlertingParams {
  double warn_ltv_margin = 0.05;   // wl
  double warn_dscr_margin = 0.10;  // wd
  double ltv_hysteresis = 0.01;    // hl
  double dscr_hysteresis = 0.02;   // hd
  double for_s = 0.0;              // seconds of event time a condition must hold
};

struct Covenants {
  double max_ltv = 0.0;   // ratio, > 0
  double min_dscr = 0.0;  // ratio, > 0
};

struct CryptoHolding {
  std::string series;     // a `price` series, USD per coin
  double units = 0.0;     // coins, >= 0
  double haircut = 0.10;  // [0, 1)
};

struct GpuContract {
  double gpus = 0.0;              // n_c, <= the pool's count
  double usd_per_gpu_hour = 0.0;  // r_c
  TimeMs end_ms = 0;              // T_c
};

struct GpuPool {
  std::string model;                   // key into gpu_models (defaults when absent)
  std::string index_series;            // a `gpu_rent` series, USD per GPU-hour
  double count = 0.0;                  // N
  double utilization = 0.85;           // u, [0, 1]
  double opex_usd_per_gpu_hour = 0.0;  // c
  TimeMs in_service_ms = 0;            // s (required)
  double useful_life_months = 60.0;    // L
  std::optional<GpuContract> contract;
};

struct Mining {
  double hashrate_ph = 0.0;          // Hp, PH/s
  double opex_usd_per_ph_day = 0.0;  // o
  /// BTC earned per PH/s per day; used when no hashprice_series is set.
  std::optional<double> btc_per_ph_day;
  std::string btc_series = "BTC-USD";
  /// A `hashprice` series (USD per PH/s per day); empty: h = btc_per_ph_day * P(btc_series).
  std::string hashprice_series;
};

struct FixedRate {
  double fixed_pct = 0.0;  // annual, percent
};

struct FloatingRate {
  std::string base_series;           // a `rate` series, bp
  double spread_bps = 0.0;           // used when spread_series is empty
  std::string spread_series;         // a `rate` series, bp
  double floor_pct = 0.0;            // annual, percent
};

struct Facility {
  std::string id;
  std::string kind;  // free text: abl, term_loan, convertible, ...
  double principal_usd = 0.0;                // P_f, outstanding
  double amortization_usd_per_year = 0.0;    // A_f, scheduled
  TimeMs maturity_ms = 0;
  std::variant<FixedRate, FloatingRate> rate;
};

struct BorrowerSpec {
  std::string id;  // [A-Za-z0-9._-]{1,64}
  std::string name;
  Covenants covenants;
  double cash_usd = 0.0;
  std::vector<CryptoHolding> crypto;
  std::vector<GpuPool> gpus;
  std::optional<Mining> mining;
  double fixed_costs_usd_per_year = 0.0;
  std::vector<Facility> facilities;
};

/// A stress scenario: shock per series id or group (`@price`, `@gpu_rent`,
/// `@hashprice`, `@rate`, `@spread`). Relative for price, gpu_rent and
/// hashprice series (-0.5 = a 50 % fall), additive bp for rate series.
struct Scenario {
  std::string name;
  std::map<std::string, double> shocks;
};

/// The built-in `correlation_convergence` scenario of METHODOLOGY.md.
Scenario correlation_convergence_scenario();
inline constexpr std::string_view k_correlation_convergence = "correlation_convergence";

/// Per-series settings (config `series:`).
struct SeriesSettings {
  std::optional<SeriesKind> kind;
  std::optional<double> stale_after_s;  // seconds; feed_stale fires past it
  std::optional<double> max_jump;       // relative move that makes a tick an outlier
};

/// Everything the risk model needs from the config.
struct RiskConfig {
  ModelParams model;
  std::map<std::string, GpuModelParams> gpu_models;
  AlertingParams alerting;
  std::vector<Scenario> scenarios;  // configured ones, in config order
  std::map<std::string, SeriesSettings> series;  // kinds resolved (declared or inferred)
  std::vector<BorrowerSpec> borrowers;           // in config order
};

}  // namespace riskd::risk
