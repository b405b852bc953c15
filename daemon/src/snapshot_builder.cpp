#include "riskd/daemon/snapshot_builder.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>


namespace riskd::daemon {
namespace {

constexpr std::size_t k_none = static_cast<std::size_t>(-1);

/// Latest events of borrower i's firing rules, sorted by key; null when none.
AlertListPtr firing_of(const alerts::CovenantAlerts& ca, const risk::Book& book, std::size_t i) {
  const auto& states = ca.states(i);
  AlertList out;
  for (std::size_t r = 0; r < states.size(); ++r) {
    if (!states[r].firing) continue;
    if (auto ev = ca.last_event(i, r, book.borrowers()[i], book.scenarios(), book.config().alerting)) {
      out.push_back(std::move(*ev));
    }
  }
  if (out.empty()) return nullptr;
  alerts::sort_by_key(out);
  return std::make_shared<const AlertList>(std::move(out));
}

/// True when firing_of(i) would give a list equal to `current` by
/// same_alerts(), checked without building any event (no strings): the
/// rules firing now, in key order (`rule_order`: rule indices sorted by
/// name, so by key "id/rule"), must carry the seq of `current`'s events,
/// position by position. A restored (pinned) event whose seq is not its
/// state's answers false, and the caller builds the list.
bool firing_unchanged(const alerts::CovenantAlerts& ca, std::size_t i, const AlertListPtr& current,
                      const std::vector<std::uint32_t>& rule_order) {
  const std::size_t have = current ? current->size() : 0;
  std::size_t k = 0;
  for (const std::uint32_t r : rule_order) {
    if (!ca.firing(i, r)) continue;
    if (k >= have) return false;
    const alerts::AlertEvent& ev = (*current)[k++];
    if (!ev.firing || ev.seq != ca.state(i, r).seq) return false;
  }
  return k == have;
}

bool same_alerts(const AlertListPtr& a, const AlertListPtr& b) {
  if (!a || !b) return !a && !b;
  if (a->size() != b->size()) return false;
  for (std::size_t k = 0; k < a->size(); ++k) {
    const alerts::AlertEvent& x = (*a)[k];
    const alerts::AlertEvent& y = (*b)[k];
    // seq grows with every transition of a key: same key and seq, same event.
    if (x.seq != y.seq || x.firing != y.firing || x.key != y.key) return false;
  }
  return true;
}

/// How far past its threshold a reading is, relative to it (0 when not past).
double past(double value, double threshold, bool higher_is_worse) {
  const double d = higher_is_worse ? value - threshold : threshold - value;
  const double rel = threshold != 0.0 ? d / std::fabs(threshold) : d;
  return rel > 0.0 ? rel : 0.0;  // NaN too
}

/// Keys "id/rule" sort as the strings id + "/" do (ids never hold '/').
bool id_key_less(const std::string& a, const std::string& b) {
  const std::size_t n = std::min(a.size(), b.size());
  const int c = a.compare(0, n, b, 0, n);
  if (c != 0) return c < 0;
  const unsigned char ca = a.size() > n ? static_cast<unsigned char>(a[n]) : '/';
  const unsigned char cb = b.size() > n ? static_cast<unsigned char>(b[n]) : '/';
  return ca < cb;
}

/// Borrower i's view: numbers only (no text is formatted here; the JSON and
/// metrics lines are rendered by the readers, snapshot.hpp).
BorrowerViewPtr make_view(const Engine& e, std::size_t i, AlertListPtr firing, const ViewNamesPtr& names) {
  const risk::Book& book = e.book();
  const risk::CompiledBorrower& b = book.borrowers()[i];
  auto v = std::make_shared<BorrowerView>();
  v->names = names;
  v->name_index = static_cast<std::uint32_t>(i);
  v->figures = book.figures(i);
  v->firing = std::move(firing);
  v->breach = book.valuer().breach_levels(b, book.values(), book.valuation_day(), v->figures);
  const auto stress = book.stress(i);
  v->stress.assign(stress.begin(), stress.end());
  v->stale = std::any_of(b.required_series.begin(), b.required_series.end(),
                         [&](risk::SeriesId sid) { return e.is_stale(sid); });
  // Rank for the metrics cap: worst severity firing, then how far the worst
  // firing rule is past its threshold on the figures as they are now.
  const auto& states = e.covenant_alerts().states(i);
  const risk::AlertingParams& params = book.config().alerting;
  for (std::size_t rule = 0; rule < states.size(); ++rule) {
    if (!states[rule].firing) continue;
    v->worst_severity = std::max(v->worst_severity, alerts::rule_severity(rule));
    double depth = 0.0;
    if (rule >= alerts::k_fixed_rules) {
      const risk::StressRatios& st = stress[rule - alerts::k_fixed_rules];
      depth = std::max(past(st.ltv, b.covenants.max_ltv, true), past(st.dscr, b.covenants.min_dscr, false));
    } else {
      const alerts::RuleReading reading = alerts::read_rule(rule, book.view(i), b.covenants, params);
      depth = past(reading.value, reading.threshold, rule != 2 && rule != 3);  // 2, 3: DSCR rules
    }
    v->breach_depth = std::max(v->breach_depth, depth);
  }
  return v;
}

}  // namespace

std::shared_ptr<Snapshot> SnapshotBuilder::build(Engine& engine, std::uint64_t version, risk::TimeMs wall_now_ms) {
  return build_impl(engine, version, wall_now_ms, true);
}

std::shared_ptr<Snapshot> build_snapshot(Engine& engine, std::uint64_t version, risk::TimeMs wall_now_ms) {
  SnapshotBuilder fresh;
  return fresh.build_impl(engine, version, wall_now_ms, false);
}

std::shared_ptr<Snapshot> SnapshotBuilder::build_impl(Engine& engine, std::uint64_t version,
                                                      risk::TimeMs wall_now_ms, bool take_changes) {
  engine.refresh_results();
  const Engine& e = engine;
  if (!take_changes) {
    full(e);
  } else {
    Engine::ViewChanges changes = engine.take_view_changes();
    if (changes.all || engine_ != &engine || views_.size() != e.book().borrowers().size()) {
      full(e);
    } else {
      incremental(e, std::move(changes.borrowers));
    }
  }
  engine_ = &engine;

  const risk::Book& book = e.book();
  const auto& catalog = book.catalog();
  auto snap = std::make_shared<Snapshot>();
  snap->version = version;
  snap->event_time_ms = e.event_time_ms();
  snap->valuation_day_ms = book.valuation_day();
  snap->published_at_ms = wall_now_ms;
  snap->borrowers = list_;
  list_.seal();  // the snapshot shares every chunk now
  snap->layout = layout_;
  snap->not_evaluated = not_evaluated_;
  snap->active_alerts.chunks = alert_chunks_;
  snap->active_alerts.feed = e.firing_feed_alerts();
  alerts::sort_by_key(snap->active_alerts.feed);
  snap->active_alerts.count = borrower_alert_count_ + snap->active_alerts.feed.size();
  snap->series.reserve(catalog.size());
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

void SnapshotBuilder::full(const Engine& e) {
  const risk::Book& book = e.book();
  const std::size_t n = book.borrowers().size();
  last_full_ = true;
  last_rebuilt_ = 0;
  views_.assign(n, nullptr);
  firing_.assign(n, nullptr);
  pos_.assign(n, k_none);
  list_ = BorrowerList();
  not_evaluated_.clear();
  borrower_alert_count_ = 0;
  auto layout = std::make_shared<BorrowerLayout>();
  layout->ids.reserve(n);
  layout->index.reserve(n);
  auto names = std::make_shared<ViewNames>();
  names->ids.reserve(n);
  for (const auto& b : book.borrowers()) names->ids.push_back(b.id);
  names->series.reserve(book.catalog().size());
  for (risk::SeriesId sid = 0; sid < book.catalog().size(); ++sid) names->series.push_back(book.catalog().state(sid).id);
  for (const auto& sc : book.scenarios()) names->scenarios.push_back(sc.name);
  names_ = std::move(names);
  for (std::size_t i = 0; i < n; ++i) {
    firing_[i] = firing_of(e.covenant_alerts(), book, i);
    if (firing_[i]) borrower_alert_count_ += firing_[i]->size();
    const risk::CompiledBorrower& b = book.borrowers()[i];
    if (!book.evaluated(i)) {
      not_evaluated_.push_back(b.id);
      continue;
    }
    views_[i] = make_view(e, i, firing_[i], names_);
    ++last_rebuilt_;
    pos_[i] = list_.size();
    list_.push_back(views_[i]);
    layout->index.emplace(b.id, layout->ids.size());
    layout->ids.push_back(b.id);
  }
  layout_ = std::move(layout);
  alert_order_.resize(n);
  std::iota(alert_order_.begin(), alert_order_.end(), 0U);
  std::sort(alert_order_.begin(), alert_order_.end(), [&](std::uint32_t a, std::uint32_t b) {
    return id_key_less(book.borrowers()[a].id, book.borrowers()[b].id);
  });
  alert_rank_.assign(n, 0);
  for (std::size_t k = 0; k < n; ++k) alert_rank_[alert_order_[k]] = k;
  alert_chunks_.assign((n + ActiveAlerts::k_chunk - 1) / ActiveAlerts::k_chunk, nullptr);
  for (std::size_t c = 0; c < alert_chunks_.size(); ++c) rebuild_alert_chunk(c);
  rule_order_.resize(alerts::k_fixed_rules + book.scenarios().size());
  std::iota(rule_order_.begin(), rule_order_.end(), 0U);
  std::sort(rule_order_.begin(), rule_order_.end(), [&](std::uint32_t a, std::uint32_t b) {
    return alerts::rule_name(a, book.scenarios()) < alerts::rule_name(b, book.scenarios());
  });
  series_stale_.assign(book.catalog().size(), 0);
  for (risk::SeriesId sid = 0; sid < series_stale_.size(); ++sid) series_stale_[sid] = e.is_stale(sid) ? 1 : 0;
}

void SnapshotBuilder::incremental(const Engine& e, std::vector<std::uint32_t> changed) {
  const risk::Book& book = e.book();
  if (!names_ || names_->series.size() != book.catalog().size() || names_->scenarios.size() != book.scenarios().size()) {
    full(e);  // the name tables no longer fit (not expected without a reshaped book)
    return;
  }
  last_full_ = false;
  last_rebuilt_ = 0;
  // Borrowers whose `stale` flips with a series' feed_stale (rare: a scan).
  std::vector<std::uint8_t> flipped(book.catalog().size(), 0);
  bool any_flipped = series_stale_.size() != flipped.size();
  if (any_flipped) series_stale_.resize(flipped.size(), 0);
  for (risk::SeriesId sid = 0; sid < flipped.size(); ++sid) {
    const std::uint8_t now = e.is_stale(sid) ? 1 : 0;
    if (now != series_stale_[sid]) {
      flipped[sid] = 1;
      series_stale_[sid] = now;
      any_flipped = true;
    }
  }
  if (any_flipped) {
    for (std::size_t i = 0; i < book.borrowers().size(); ++i) {
      const auto& req = book.borrowers()[i].required_series;
      if (std::any_of(req.begin(), req.end(), [&](risk::SeriesId s) { return s < flipped.size() && flipped[s]; })) {
        changed.push_back(static_cast<std::uint32_t>(i));
      }
    }
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  }
  std::vector<std::size_t> dirty_chunks;
  for (const std::uint32_t i : changed) {
    if (firing_unchanged(e.covenant_alerts(), i, firing_[i], rule_order_)) {
      // the common case after a price tick: figures moved, alerts did not
    } else if (AlertListPtr firing = firing_of(e.covenant_alerts(), book, i); !same_alerts(firing, firing_[i])) {
      borrower_alert_count_ -= firing_[i] ? firing_[i]->size() : 0;
      borrower_alert_count_ += firing ? firing->size() : 0;
      firing_[i] = std::move(firing);
      dirty_chunks.push_back(alert_rank_[i] / ActiveAlerts::k_chunk);
    }
    const bool evaluated = book.evaluated(i);
    if (evaluated != (views_[i] != nullptr)) {  // the list's layout changes: rare
      full(e);
      return;
    }
    if (!evaluated) continue;
    views_[i] = make_view(e, i, firing_[i], names_);
    ++last_rebuilt_;
    list_.set(pos_[i], views_[i]);
  }
  std::sort(dirty_chunks.begin(), dirty_chunks.end());
  dirty_chunks.erase(std::unique(dirty_chunks.begin(), dirty_chunks.end()), dirty_chunks.end());
  for (const std::size_t c : dirty_chunks) rebuild_alert_chunk(c);
}

void SnapshotBuilder::rebuild_alert_chunk(std::size_t c) {
  auto chunk = std::make_shared<ActiveAlerts::Chunk>();
  const std::size_t begin = c * ActiveAlerts::k_chunk;
  const std::size_t end = std::min(alert_order_.size(), begin + ActiveAlerts::k_chunk);
  for (std::size_t k = begin; k < end; ++k) {
    if (firing_[alert_order_[k]]) chunk->push_back(firing_[alert_order_[k]]);
  }
  alert_chunks_[c] = std::move(chunk);
}

}  // namespace riskd::daemon
