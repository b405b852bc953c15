#include "riskd/daemon/snapshot_builder.hpp"

#include <algorithm>
#include <map>

#include "riskd/daemon/result_json.hpp"
#include "riskd/risk/json_text.hpp"

namespace riskd::daemon {

std::shared_ptr<Snapshot> build_snapshot(Engine& engine, std::uint64_t version, risk::TimeMs wall_now_ms) {
  engine.refresh_results();
  auto snap = std::make_shared<Snapshot>();
  const Engine& e = engine;
  const risk::Book& book = e.book();
  snap->version = version;
  snap->event_time_ms = e.event_time_ms();
  snap->valuation_day_ms = book.valuation_day();
  snap->published_at_ms = wall_now_ms;
  snap->active_alerts = e.active_alerts();
  std::map<std::string, std::vector<const alerts::AlertEvent*>> firing_by_borrower;
  for (const auto& a : snap->active_alerts) {
    if (!a.borrower.empty()) firing_by_borrower[a.borrower].push_back(&a);
  }
  const auto& catalog = book.catalog();
  for (std::size_t i = 0; i < book.borrowers().size(); ++i) {
    const risk::CompiledBorrower& b = book.borrowers()[i];
    const risk::BorrowerResult& r = book.results()[i];
    if (!r.evaluated) {
      snap->not_evaluated.push_back(b.id);
      continue;
    }
    BorrowerView v;
    v.id = b.id;
    v.figures = r.figures;
    std::vector<AlertRef> refs;
    for (const auto* a : firing_by_borrower[b.id]) {
      refs.push_back({a->rule, a->severity});
      v.firing.push_back(*a);
    }
    risk::JsonText j;
    write_borrower(j, book, i, refs);
    v.json = j.take();
    const risk::BreachLevels levels = book.valuer().breach_levels(b, book.values(), book.valuation_day(), r.figures);
    for (const auto& [sid, level] : levels.price_usd) v.price_breach_usd.emplace_back(catalog.state(sid).id, level);
    for (std::size_t k = 0; k < book.scenarios().size(); ++k) v.stress.emplace_back(book.scenarios()[k].name, r.stress[k]);
    v.stale = std::any_of(b.required_series.begin(), b.required_series.end(),
                          [&](risk::SeriesId sid) { return e.is_stale(sid); });
    snap->borrower_index.emplace(v.id, snap->borrowers.size());
    snap->borrowers.push_back(std::move(v));
  }
  for (risk::SeriesId sid = 0; sid < catalog.size(); ++sid) {
    const risk::SeriesState& st = catalog.state(sid);
    SeriesView s;
    s.id = st.id;
    s.kind = st.kind;
    s.has_value = st.has_value;
    s.value = st.value;
    s.ts_ms = st.ts_ms;
    s.stale_after_s = st.stale_after_s;
    s.stale = e.is_stale(sid);
    s.counts = st.counts;
    snap->series.push_back(std::move(s));
  }
  snap->tick_counts = e.counts();
  for (const risk::SeriesId sid : book.missing_series()) {
    std::string needed_by;
    for (const auto& b : book.borrowers()) {
      if (std::binary_search(b.required_series.begin(), b.required_series.end(), sid)) {
        needed_by = b.id;
        break;
      }
    }
    snap->not_ready_reasons.push_back("series '" + catalog.state(sid).id + "' has no value yet (needed by '" + needed_by +
                                      "')");
  }
  return snap;
}

}  // namespace riskd::daemon
