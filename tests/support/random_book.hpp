#pragma once
// Random but plausible borrowers over a fixed set of seven series, for
// property tests and benchmarks. Deterministic for a given generator state.
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "riskd/risk/model.hpp"

namespace riskd::test {

/// The series random borrowers use, with a plausible starting value each.
inline std::vector<std::pair<risk::SeriesSettings, std::pair<std::string, double>>> random_series() {
  using risk::SeriesKind;
  return {
      {{SeriesKind::price, {}, {}}, {"BTC-USD", 88000.0}},
      {{SeriesKind::price, {}, {}}, {"ETH-USD", 3000.0}},
      {{SeriesKind::gpu_rent, {}, {}}, {"GPU-H100", 2.2}},
      {{SeriesKind::gpu_rent, {}, {}}, {"GPU-A100", 1.2}},
      {{SeriesKind::rate, {}, {}}, {"SOFR", 366.0}},
      {{SeriesKind::rate, {}, {}}, {"SPREAD", 600.0}},
      {{SeriesKind::hashprice, {}, {}}, {"HASHPRICE", 45.0}},
  };
}

/// A borrower with 0-2 coins, 0-3 GPU pools (half with contracts), optional
/// mining, and 1-3 fixed or floating facilities.
inline risk::BorrowerSpec random_borrower(std::mt19937_64& rng, risk::TimeMs t_ms, std::string id) {
  using namespace risk;
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  auto range = [&](double lo, double hi) { return lo + (hi - lo) * u01(rng); };
  auto days = [](double d) { return static_cast<TimeMs>(d) * k_ms_per_day; };
  BorrowerSpec s;
  s.id = std::move(id);
  s.covenants = {range(0.3, 0.9), range(1.0, 2.0)};
  s.cash_usd = u01(rng) < 0.5 ? range(0, 1e8) : 0.0;
  if (u01(rng) < 0.8) s.crypto.push_back({"BTC-USD", range(10, 20000), range(0, 0.3)});
  if (u01(rng) < 0.3) s.crypto.push_back({"ETH-USD", range(100, 100000), range(0, 0.3)});
  const int pools = static_cast<int>(range(0, 3.99));
  for (int i = 0; i < pools; ++i) {
    GpuPool p;
    p.model = i % 2 == 0 ? "H100" : "A100";
    p.index_series = i % 2 == 0 ? "GPU-H100" : "GPU-A100";
    p.count = std::floor(range(100, 30000));
    p.utilization = range(0, 1);
    p.opex_usd_per_gpu_hour = range(0, 1);
    p.in_service_ms = t_ms - days(range(-200, 1500));
    p.useful_life_months = std::floor(range(24, 72));
    if (u01(rng) < 0.5) {
      p.contract = GpuContract{std::floor(p.count * u01(rng)), range(1, 4), t_ms + days(range(-100, 1200))};
    }
    s.gpus.push_back(p);
  }
  if (u01(rng) < 0.5) {
    Mining m;
    m.hashrate_ph = range(100, 30000);
    m.opex_usd_per_ph_day = range(0, 50);
    if (u01(rng) < 0.5) {
      m.hashprice_series = "HASHPRICE";
    } else {
      m.btc_per_ph_day = range(0.0003, 0.0008);
    }
    s.mining = m;
  }
  s.fixed_costs_usd_per_year = u01(rng) < 0.5 ? range(0, 5e7) : 0.0;
  const int facilities = 1 + static_cast<int>(range(0, 2.99));
  for (int i = 0; i < facilities; ++i) {
    Facility f;
    f.id = "f" + std::to_string(i);
    f.principal_usd = range(1e7, 1e9);
    f.amortization_usd_per_year = u01(rng) < 0.5 ? range(0, f.principal_usd / 4) : 0.0;
    f.maturity_ms = t_ms + days(range(-100, 2500));
    if (u01(rng) < 0.5) {
      f.rate = FixedRate{range(0, 12)};
    } else {
      FloatingRate fl;
      fl.base_series = "SOFR";
      if (u01(rng) < 0.5) {
        fl.spread_series = "SPREAD";
      } else {
        fl.spread_bps = range(100, 900);
      }
      fl.floor_pct = u01(rng) < 0.5 ? range(0, 8) : 0.0;
      f.rate = fl;
    }
    s.facilities.push_back(f);
  }
  return s;
}

/// `borrowers` random borrowers ("b0", "b1", ...) valued from `t_ms`, the
/// random series, and two configured scenarios (btc_crash, rent_collapse)
/// besides the built-in one: the book of the engine and sink benchmarks.
inline risk::RiskConfig random_book_config(std::size_t borrowers, std::uint64_t seed, risk::TimeMs t_ms) {
  risk::RiskConfig cfg;
  for (const auto& [settings, series] : random_series()) cfg.series[series.first] = settings;
  cfg.scenarios = {risk::Scenario{"btc_crash", {{"BTC-USD", -0.6}}},
                   risk::Scenario{"rent_collapse", {{"@gpu_rent", -0.5}, {"@spread", 250.0}}}};
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < borrowers; ++i) {
    cfg.borrowers.push_back(random_borrower(rng, t_ms, "b" + std::to_string(i)));
  }
  return cfg;
}

}  // namespace riskd::test
