#include "riskd/daemon/result_json.hpp"

namespace riskd::daemon {

std::vector<AlertRef> conditions_holding(const risk::Book& book, std::size_t index) {
  std::vector<AlertRef> refs;
  const auto& b = book.borrowers()[index];
  const std::size_t rules = alerts::k_fixed_rules + book.scenarios().size();
  for (std::size_t r = 0; r < rules; ++r) {
    if (alerts::read_rule(r, book.view(index), b.covenants, book.config().alerting).fire) {
      refs.push_back({alerts::rule_name(r, book.scenarios()), alerts::rule_severity(r)});
    }
  }
  return refs;
}

void write_borrower(risk::JsonText& out, const risk::Book& book, std::size_t index,
                    const std::vector<AlertRef>& alerts) {
  const risk::CompiledBorrower& b = book.borrowers()[index];
  write_borrower(out, book, index, alerts,
                 book.valuer().breach_levels(b, book.values(), book.valuation_day(), book.figures(index)));
}

void write_borrower(risk::JsonText& out, const risk::Book& book, std::size_t index,
                    const std::vector<AlertRef>& alerts, const risk::BreachLevels& breach) {
  const risk::CompiledBorrower& b = book.borrowers()[index];
  const risk::Figures f = book.figures(index);
  const auto& catalog = book.catalog();

  out.begin_object();
  out.key("id").string(b.id);
  out.key("ltv").number(f.ltv);
  out.key("liquidation_ltv").number(f.liquidation_ltv);
  out.key("dscr").number(f.dscr);
  out.key("debt_usd").number(f.debt_usd);
  out.key("cfads_usd").number(f.cfads_usd);
  out.key("debt_service_usd").number(f.debt_service_usd);
  out.key("collateral").begin_object();
  out.key("crypto_usd").number(f.crypto_usd);
  out.key("gpu_usd").number(f.gpu_usd);
  out.key("cash_usd").number(f.cash_usd);
  out.key("mark_usd").number(f.mark_usd);
  out.key("liquidation_usd").number(f.liquidation_usd);
  out.end_object();
  out.key("breach").begin_object();
  out.key("price").begin_object();
  for (const auto& [sid, level] : breach.price_usd) out.key(catalog.state(sid).id).number(level);
  out.end_object();
  out.key("gpu_index").begin_object();
  for (const auto& [sid, level] : breach.gpu_index_usd_per_gpu_hour) out.key(catalog.state(sid).id).number(level);
  out.end_object();
  out.key("spread_bps").number(breach.spread_bps);
  out.end_object();
  out.key("stress").begin_object();
  for (std::size_t k = 0; k < book.scenarios().size(); ++k) {
    out.key(book.scenarios()[k].name).begin_object();
    const risk::StressRatios& st = book.stress(index)[k];
    out.key("ltv").number(st.ltv);
    out.key("liquidation_ltv").number(st.liquidation_ltv);
    out.key("dscr").number(st.dscr);
    out.end_object();
  }
  out.end_object();
  out.key("alerts").begin_array();
  for (const auto& a : alerts) {
    out.begin_object();
    out.key("rule").string(a.rule);
    out.key("severity").string(alerts::to_string(a.severity));
    out.end_object();
  }
  out.end_array();
  out.end_object();
}

}  // namespace riskd::daemon
