#include "borrower.hpp"

#include <set>

#include "schema.hpp"

namespace riskd::config::detail {
namespace {

using risk::BorrowerSpec;
using risk::SeriesKind;

const Schema<risk::Covenants>& covenants_schema() {
  using risk::Covenants;
  static const Schema<Covenants> schema{{
                                            number("max_ltv", &Covenants::max_ltv, above(0), Need::required),
                                            number("min_dscr", &Covenants::min_dscr, above(0), Need::required),
                                        },
                                        {}};
  return schema;
}

const Schema<risk::CryptoHolding>& crypto_schema() {
  using risk::CryptoHolding;
  static const Schema<CryptoHolding> schema{
      {
          series_ref("series", &CryptoHolding::series, SeriesKind::price, Need::required),
          number("units", &CryptoHolding::units, at_least(0), Need::required),
          number("haircut", &CryptoHolding::haircut, closed_open(0, 1)),
      },
      {}};
  return schema;
}

const Schema<risk::GpuContract>& contract_schema() {
  using risk::GpuContract;
  static const Schema<GpuContract> schema{
      {
          number("gpus", &GpuContract::gpus, at_least(0), Need::required),
          number("usd_per_gpu_hour", &GpuContract::usd_per_gpu_hour, at_least(0), Need::required),
          date("end", &GpuContract::end_ms, Need::required),
      },
      {}};
  return schema;
}

/// n_c <= N: a pool cannot contract out more GPUs than it has.
void check_gpu_pool(Reader& r, const At&, const Present& present, risk::GpuPool& pool) {
  const auto contract = present.find("contract");
  const auto count = present.find("count");
  if (!pool.contract || contract == present.end() || !contract->second.ok || count == present.end() ||
      !count->second.ok) {
    return;  // a missing or invalid value was reported already
  }
  if (pool.contract->gpus <= pool.count) return;
  const At& where = contract->second.at;
  const YAML::Node gpus = child(where.node, "gpus");
  const At at{gpus, gpus.IsDefined() && !gpus.Mark().is_null() ? gpus.Mark() : where.mark,
              field_path(where.path, "gpus")};
  r.error(at,
          "must be <= the pool's count (" + format_number(pool.count) + "), got " + format_number(pool.contract->gpus));
}

const Schema<risk::GpuPool>& gpu_pool_schema() {
  using risk::GpuPool;
  static const Schema<GpuPool> schema{
      {
          text("model", &GpuPool::model, Need::optional, false),
          series_ref("index", &GpuPool::index_series, SeriesKind::gpu_rent, Need::required),
          number("count", &GpuPool::count, at_least(0), Need::required),
          number("utilization", &GpuPool::utilization, closed(0, 1)),
          number("opex_usd_per_gpu_hour", &GpuPool::opex_usd_per_gpu_hour, at_least(0)),
          date("in_service", &GpuPool::in_service_ms, Need::required),
          number("useful_life_months", &GpuPool::useful_life_months, above(0)),
          nested("contract", &GpuPool::contract, contract_schema()),
      },
      check_gpu_pool};
  return schema;
}

/// A hashprice source is required; btc_series is a use (of a price series)
/// only when it is the source, i.e. without hashprice_series.
void check_mining(Reader& r, const At& map, const Present& present, risk::Mining& mining) {
  if (present.find("hashprice_series") != present.end()) return;
  if (present.find("btc_per_ph_day") == present.end()) {
    r.error(map, "needs hashprice_series or btc_per_ph_day");
  }
  const auto btc = present.find("btc_series");
  if (btc != present.end() && !btc->second.ok) return;
  const At where = btc != present.end() ? btc->second.at : At{map.node, map.mark, field_path(map.path, "btc_series")};
  r.use_series(mining.btc_series, SeriesKind::price, where);
}

const Schema<risk::Mining>& mining_schema() {
  using risk::Mining;
  static const Schema<Mining> schema{
      {
          number("hashrate_ph", &Mining::hashrate_ph, at_least(0), Need::required),
          number("opex_usd_per_ph_day", &Mining::opex_usd_per_ph_day, at_least(0)),
          number("btc_per_ph_day", &Mining::btc_per_ph_day, at_least(0)),
          text("btc_series", &Mining::btc_series, Need::optional, false),
          series_ref("hashprice_series", &Mining::hashprice_series, SeriesKind::hashprice),
      },
      check_mining};
  return schema;
}

/// A facility's `rate:` as written, before it becomes a FixedRate or FloatingRate.
struct RateInput {
  std::optional<double> fixed_pct;
  std::string base;
  std::optional<double> spread_bps;
  std::string spread_series;
  std::optional<double> floor_pct;
  bool valid = false;
};

/// Exactly one of `fixed_pct` or `base` + one of (`spread_bps`, `spread_series`);
/// `floor_pct` only with `base`.
void check_rate(Reader& r, const At& map, const Present& present, RateInput& in) {
  const auto has = [&](std::string_view key) { return present.find(key) != present.end(); };
  const auto at = [&](std::string_view key) { return present.find(key)->second.at; };
  in.valid = false;
  if (has("fixed_pct")) {
    bool ok = true;
    for (const std::string_view key : {"base", "spread_bps", "spread_series", "floor_pct"}) {
      if (has(key)) {
        r.error(at(key), "not allowed with fixed_pct (a rate is either fixed_pct or base + spread)");
        ok = false;
      }
    }
    in.valid = ok && in.fixed_pct.has_value();
    return;
  }
  if (!has("base")) {
    r.error(map, "needs fixed_pct, or base with spread_bps or spread_series");
    return;
  }
  if (has("spread_bps") && has("spread_series")) {
    r.error(at("spread_series"), "spread_bps and spread_series are exclusive: set one");
    return;
  }
  if (!has("spread_bps") && !has("spread_series")) {
    r.error(map, "base needs spread_bps or spread_series");
    return;
  }
  in.valid = true;
}

const Schema<RateInput>& rate_schema() {
  static const Schema<RateInput> schema{{
                                            number("fixed_pct", &RateInput::fixed_pct, any_finite()),
                                            series_ref("base", &RateInput::base, SeriesKind::rate),
                                            number("spread_bps", &RateInput::spread_bps, any_finite()),
                                            series_ref("spread_series", &RateInput::spread_series, SeriesKind::rate),
                                            number("floor_pct", &RateInput::floor_pct, any_finite()),
                                        },
                                        check_rate};
  return schema;
}

void read_rate(Reader& r, const At& at, risk::Facility& facility) {
  RateInput in;
  read_map(r, at, rate_schema(), in);
  if (!in.valid) return;
  if (in.fixed_pct) {
    facility.rate = risk::FixedRate{*in.fixed_pct};
    return;
  }
  risk::FloatingRate floating;  // defaults from model.hpp for what is not given
  floating.base_series = in.base;
  if (in.spread_bps) floating.spread_bps = *in.spread_bps;
  floating.spread_series = in.spread_series;
  if (in.floor_pct) floating.floor_pct = *in.floor_pct;
  facility.rate = floating;
}

const Schema<risk::Facility>& facility_schema() {
  using risk::Facility;
  static const Schema<Facility> schema{
      {
          text("id", &Facility::id, Need::required, false),
          text("kind", &Facility::kind),
          number("principal_usd", &Facility::principal_usd, at_least(0), Need::required),
          number("amortization_usd_per_year", &Facility::amortization_usd_per_year, at_least(0)),
          date("maturity", &Facility::maturity_ms, Need::required),
          custom<Facility>("rate", Need::required, read_rate),
      },
      {}};
  return schema;
}

const Schema<BorrowerSpec>& collateral_schema() {
  static const Schema<BorrowerSpec> schema{{
                                               number("cash_usd", &BorrowerSpec::cash_usd, at_least(0)),
                                               list("crypto", &BorrowerSpec::crypto, crypto_schema()),
                                               list("gpus", &BorrowerSpec::gpus, gpu_pool_schema()),
                                           },
                                           {}};
  return schema;
}

void read_id(Reader& r, const At& at, BorrowerSpec& out) {
  auto id = r.text(at);
  if (!id) return;
  if (!is_valid_borrower_id(*id)) {
    r.error(at, "borrower id must match [A-Za-z0-9._-]{1,64}, got '" + *id + "'");
    return;
  }
  out.id = std::move(*id);
}

/// Facility ids are unique within the borrower.
void check_borrower(Reader& r, const At&, const Present& present, BorrowerSpec& borrower) {
  const auto facilities = present.find("facilities");
  if (facilities == present.end() || !facilities->second.at.node.IsSequence()) return;
  const At& where = facilities->second.at;
  std::set<std::string> seen;
  const YAML::Node& list = where.node;
  for (std::size_t i = 0; i < borrower.facilities.size() && i < list.size(); ++i) {
    const std::string& id = borrower.facilities[i].id;
    if (id.empty() || seen.insert(id).second) continue;
    const YAML::Node item = list[i];
    const YAML::Node id_node = child(item, "id");
    r.error(At{id_node, id_node.IsDefined() && !id_node.Mark().is_null() ? id_node.Mark() : where.mark,
               field_path(item_path(where.path, std::to_string(i)), "id")},
            "duplicate facility id '" + id + "' in this borrower");
  }
}

const Schema<BorrowerSpec>& borrower_schema() {
  static const Schema<BorrowerSpec> schema{
      {
          custom<BorrowerSpec>("id", Need::required, read_id),
          text("name", &BorrowerSpec::name),
          nested("covenants", &BorrowerSpec::covenants, covenants_schema(), Need::required),
          inline_map("collateral", collateral_schema()),
          nested("mining", &BorrowerSpec::mining, mining_schema()),
          number("fixed_costs_usd_per_year", &BorrowerSpec::fixed_costs_usd_per_year, at_least(0)),
          list("facilities", &BorrowerSpec::facilities, facility_schema()),
      },
      check_borrower};
  return schema;
}

}  // namespace

bool is_valid_borrower_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (const char c : id) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> borrower_id(const YAML::Node& node) {
  if (!node.IsMap()) return std::nullopt;
  const YAML::Node id = child(node, "id");
  if (id.IsDefined() && id.IsScalar() && is_valid_borrower_id(id.Scalar())) return id.Scalar();
  return std::nullopt;
}

std::string borrower_label(const YAML::Node& node, std::size_t index) {
  return borrower_id(node).value_or(std::to_string(index));
}

void read_borrower(Reader& r, const At& at, risk::BorrowerSpec& out) {
  if (!at.node.IsMap()) {
    r.error(at, "expected a borrower map, got " + describe_node(at.node));
    return;
  }
  read_map(r, at, borrower_schema(), out);
}

}  // namespace riskd::config::detail
