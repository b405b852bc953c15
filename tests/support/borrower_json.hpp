#pragma once
// A borrower as the JSON document the borrowers topic carries (the schema of
// a config `borrowers:` entry; also valid as a YAML flow mapping). Numbers
// are written with 17 significant digits, so they read back exactly.
#include <cstdio>
#include <string>
#include <variant>

#include "riskd/risk/model.hpp"
#include "riskd/risk/time.hpp"

namespace riskd::test {

inline std::string json_number(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

/// `YYYY-MM-DD` of a midnight UTC time.
inline std::string json_day(risk::TimeMs t) { return risk::format_rfc3339(t).substr(0, 10); }

/// Ids, names and series must need no JSON escaping (true of random_book.hpp's).
inline std::string borrower_json(const risk::BorrowerSpec& b) {
  auto q = [](const std::string& s) { return "\"" + s + "\""; };
  const auto& num = json_number;
  std::string y = "{\"id\": " + q(b.id);
  if (!b.name.empty()) y += ", \"name\": " + q(b.name);
  y += ", \"covenants\": {\"max_ltv\": " + num(b.covenants.max_ltv) + ", \"min_dscr\": " +
       num(b.covenants.min_dscr) + "}, \"collateral\": {\"cash_usd\": " + num(b.cash_usd);
  if (!b.crypto.empty()) {
    y += ", \"crypto\": [";
    for (std::size_t i = 0; i < b.crypto.size(); ++i) {
      const auto& c = b.crypto[i];
      y += (i > 0 ? ", " : "") + std::string("{\"series\": ") + q(c.series) + ", \"units\": " + num(c.units) +
           ", \"haircut\": " + num(c.haircut) + "}";
    }
    y += "]";
  }
  if (!b.gpus.empty()) {
    y += ", \"gpus\": [";
    for (std::size_t i = 0; i < b.gpus.size(); ++i) {
      const auto& g = b.gpus[i];
      y += (i > 0 ? ", " : "") + std::string("{\"model\": ") + q(g.model) + ", \"index\": " + q(g.index_series) +
           ", \"count\": " + num(g.count) + ", \"utilization\": " + num(g.utilization) +
           ", \"opex_usd_per_gpu_hour\": " + num(g.opex_usd_per_gpu_hour) + ", \"in_service\": " +
           q(json_day(g.in_service_ms)) + ", \"useful_life_months\": " + num(g.useful_life_months);
      if (g.contract) {
        y += ", \"contract\": {\"gpus\": " + num(g.contract->gpus) + ", \"usd_per_gpu_hour\": " +
             num(g.contract->usd_per_gpu_hour) + ", \"end\": " + q(json_day(g.contract->end_ms)) + "}";
      }
      y += "}";
    }
    y += "]";
  }
  y += "}";
  if (b.mining) {
    y += ", \"mining\": {\"hashrate_ph\": " + num(b.mining->hashrate_ph) +
         ", \"opex_usd_per_ph_day\": " + num(b.mining->opex_usd_per_ph_day);
    if (!b.mining->hashprice_series.empty()) {
      y += ", \"hashprice_series\": " + q(b.mining->hashprice_series);
    } else {
      y += ", \"btc_per_ph_day\": " + num(b.mining->btc_per_ph_day.value_or(0.0));
    }
    y += "}";
  }
  y += ", \"fixed_costs_usd_per_year\": " + num(b.fixed_costs_usd_per_year) + ", \"facilities\": [";
  for (std::size_t i = 0; i < b.facilities.size(); ++i) {
    const auto& f = b.facilities[i];
    y += (i > 0 ? ", " : "") + std::string("{\"id\": ") + q(f.id) + ", \"principal_usd\": " + num(f.principal_usd) +
         ", \"amortization_usd_per_year\": " + num(f.amortization_usd_per_year) + ", \"maturity\": " +
         q(json_day(f.maturity_ms)) + ", \"rate\": ";
    if (const auto* fixed = std::get_if<risk::FixedRate>(&f.rate)) {
      y += "{\"fixed_pct\": " + num(fixed->fixed_pct) + "}";
    } else {
      const auto& fl = std::get<risk::FloatingRate>(f.rate);
      y += "{\"base\": " + q(fl.base_series);
      if (!fl.spread_series.empty()) {
        y += ", \"spread_series\": " + q(fl.spread_series);
      } else {
        y += ", \"spread_bps\": " + num(fl.spread_bps);
      }
      y += ", \"floor_pct\": " + num(fl.floor_pct) + "}";
    }
    y += "}";
  }
  y += "]}";
  return y;
}

}  // namespace riskd::test
