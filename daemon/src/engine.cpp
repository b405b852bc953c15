#include "riskd/daemon/engine.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "riskd/daemon/result_json.hpp"
#include "riskd/feeds/tick.hpp"
#include "riskd/risk/json_text.hpp"

namespace riskd::daemon {

Engine::Engine(const risk::RiskConfig& config, StalenessClock clock, EvalMode mode)
    : mode_(mode), book_(config), clock_(clock) {
  const std::size_t rules = alerts::k_fixed_rules + book_.scenarios().size();
  covenant_alerts_.resize(book_.borrowers().size(), rules);
  stale_.resize(book_.catalog().size());
  last_event_stale_.resize(book_.catalog().size());
  rebuild_index();
}

TickResult Engine::apply(std::string_view tick_json, std::optional<risk::TimeMs> fallback_ts_ms,
                         std::vector<alerts::AlertEvent>& events) {
  feeds::Decoded decoded = feeds::decode_tick(tick_json, fallback_ts_ms);
  if (!decoded.tick) {
    count(risk::TickOutcome::rejected_parse);
    return {risk::TickOutcome::rejected_parse, std::move(decoded.error), {}, 0};
  }
  return apply_tick(*decoded.tick, events);
}

TickResult Engine::apply_tick(const feeds::Tick& tick, std::vector<alerts::AlertEvent>& events) {
  const auto sid = book_.catalog().find(tick.series);
  if (!sid) {
    count(risk::TickOutcome::unknown_series);
    return {risk::TickOutcome::unknown_series,
            "series '" + tick.series + "' is not named by any borrower or config entry", tick.series, tick.ts_ms};
  }
  risk::SeriesState& state = book_.catalog().state(*sid);
  const double last_value = state.value;
  const risk::TimeMs last_ts_ms = state.ts_ms;
  const risk::TickOutcome outcome = feeds::validate_and_apply(tick, state);
  ++state.counts[static_cast<std::size_t>(outcome)];
  count(outcome);
  if (outcome != risk::TickOutcome::applied) {
    std::string why;
    switch (outcome) {
      case risk::TickOutcome::rejected_value:
        why = "value " + risk::format_number(tick.value) + " is not valid for " +
              std::string(risk::to_string(state.kind)) + " series '" + tick.series + "'";
        break;
      case risk::TickOutcome::out_of_order:
        why = "ts " + risk::format_rfc3339(tick.ts_ms) + " is older than the newest applied tick of '" + tick.series +
              "' (" + risk::format_rfc3339(last_ts_ms) + ")";
        break;
      case risk::TickOutcome::outlier:
        why = "value " + risk::format_number(tick.value) + " of '" + tick.series + "' moved more than max_jump from " +
              risk::format_number(last_value) + "; held until confirmed";
        break;
      default: break;
    }
    return {outcome, std::move(why), tick.series, tick.ts_ms};
  }
  on_applied(*sid, events);
  return {risk::TickOutcome::applied, {}, tick.series, tick.ts_ms};
}

void Engine::on_applied(risk::SeriesId sid, std::vector<alerts::AlertEvent>& events) {
  const std::size_t first_new = events.size();
  const risk::SeriesState& state = book_.catalog().state(sid);
  if (!has_event_time_ || state.ts_ms > event_time_ms_) {
    event_time_ms_ = state.ts_ms;
    has_event_time_ = true;
  }
  const risk::TimeMs now_ms = event_time_ms_;
  const risk::TimeMs day_before_ms = book_.valuation_day();
  book_.on_series_applied(sid);
  book_.set_valuation_day(risk::valuation_day_ms(now_ms));
  ++seq_;
  if (mode_ == EvalMode::indexed) {
    // A new day moves every date term: everyone is visited. A first value
    // can only make the series' dependents evaluable: they are visited.
    if (book_.valuation_day() != day_before_ms) {
      visit_all_ = true;
      all_dirty_ = true;
    }
    first_value_ = seen_value_[sid] == 0;
    seen_value_[sid] = 1;
    changed_seq_[sid] = seq_;
    if (changed_listed_[sid] == 0) {
      changed_listed_[sid] = 1;
      changed_series_.push_back(sid);
    }
  }

  // A fresh tick resolves the series' staleness.
  if (sid < stale_.size() && stale_[sid].firing && state.stale_after_s) {
    const double age_s = static_cast<double>(now_ms - state.ts_ms) / 1000.0;
    if (age_s <= *state.stale_after_s && alerts::step(stale_[sid], false, true, now_ms, 0)) {
      alerts::AlertEvent ev = last_event_stale_[sid];
      ev.key = "feed_stale:" + state.id;  // also right when no last event was restored
      ev.rule = ev.key;
      ev.borrower.clear();
      ev.severity = alerts::Severity::warning;
      ev.threshold = *state.stale_after_s;
      ev.firing = false;
      ev.value = age_s;
      ev.at_ms = now_ms;
      ev.seq = ++stale_[sid].seq;
      last_event_stale_[sid] = ev;
      events.push_back(std::move(ev));
    }
  }

  if (mode_ == EvalMode::brute_force) {
    step_all(now_ms, events);
  } else {
    step_indexed(sid, now_ms, events);
  }
  if (clock_ == StalenessClock::event_time) check_staleness(now_ms, events);
  std::vector<alerts::AlertEvent> tick_events(
      std::make_move_iterator(events.begin() + static_cast<std::ptrdiff_t>(first_new)),
      std::make_move_iterator(events.end()));
  events.resize(first_new);
  alerts::sort_by_key(tick_events);
  std::move(tick_events.begin(), tick_events.end(), std::back_inserter(events));
}

void Engine::step_all(risk::TimeMs now_ms, std::vector<alerts::AlertEvent>& events) {
  book_.revalue_all();
  view_changed_all();
  const auto& borrowers = book_.borrowers();
  for (std::size_t i = 0; i < borrowers.size(); ++i) {
    if (!book_.evaluated(i)) continue;
    covenant_alerts_.evaluate(i, borrowers[i], book_.view(i), book_.scenarios(), book_.config().alerting, now_ms, events);
  }
}

void Engine::check_staleness(risk::TimeMs now_ms, std::vector<alerts::AlertEvent>& events) {
  const risk::SeriesCatalog& catalog = book_.catalog();
  if (stale_.size() < catalog.size()) {
    stale_.resize(catalog.size());
    last_event_stale_.resize(catalog.size());
  }
  for (risk::SeriesId sid = 0; sid < catalog.size(); ++sid) {
    const risk::SeriesState& st = catalog.state(sid);
    if (!st.stale_after_s || !st.has_value || stale_[sid].firing) continue;
    const double age_s = static_cast<double>(now_ms - st.ts_ms) / 1000.0;
    if (!alerts::step(stale_[sid], age_s > *st.stale_after_s, false, now_ms, 0)) continue;
    alerts::AlertEvent ev;
    ev.key = "feed_stale:" + st.id;
    ev.rule = ev.key;
    ev.severity = alerts::Severity::warning;
    ev.firing = true;
    ev.value = age_s;
    ev.threshold = *st.stale_after_s;
    ev.at_ms = now_ms;
    ev.seq = ++stale_[sid].seq;
    last_event_stale_[sid] = ev;
    events.push_back(std::move(ev));
  }
}

std::vector<alerts::AlertEvent> Engine::active_alerts() const {
  std::vector<alerts::AlertEvent> active;
  covenant_alerts_.append_active(book_.borrowers(), book_.scenarios(), book_.config().alerting, active);
  for (std::size_t sid = 0; sid < stale_.size(); ++sid) {
    if (stale_[sid].firing) active.push_back(last_event_stale_[sid]);
  }
  alerts::sort_by_key(active);
  return active;
}

}  // namespace riskd::daemon

namespace riskd::daemon {

void Engine::upsert_borrower(const risk::BorrowerSpec& spec) {
  const BorrowerChange change{spec.id, spec};
  apply_borrower_changes({&change, 1});
}

bool Engine::remove_borrower(std::string_view id) {
  const BorrowerChange change{std::string(id), std::nullopt};
  return apply_borrower_changes({&change, 1}) == 1;
}

std::size_t Engine::apply_borrower_changes(std::span<const BorrowerChange> changes) {
  // Every borrower has the same rules (the fixed ones and one per scenario),
  // so a replaced borrower keeps its states and last events as they are (its
  // next evaluation emits any transition); a new one is appended with fresh
  // states. Indices of the others do not move, except past a removed one.
  std::size_t removed = 0;
  bool changed = false;
  for (const BorrowerChange& c : changes) {
    const auto existing = book_.borrower_index(c.id);
    if (!c.spec) {
      if (!existing) continue;
      book_.remove(c.id, false);
      covenant_alerts_.erase(*existing);
      ++removed;
      changed = true;
      continue;
    }
    if (existing) {
      // Firing rules report their last event with its threshold of then.
      const risk::Covenants& before = book_.borrowers()[*existing].covenants;
      if (before.max_ltv != c.spec->covenants.max_ltv || before.min_dscr != c.spec->covenants.min_dscr) {
        covenant_alerts_.pin_firing(*existing, book_.borrowers()[*existing], book_.scenarios(), book_.config().alerting);
      }
    }
    book_.upsert(*c.spec, false);
    if (!existing) covenant_alerts_.resize(book_.borrowers().size(), alerts::k_fixed_rules + book_.scenarios().size());
    changed = true;
  }
  if (!changed) return removed;
  book_.rebuild();
  view_changed_all();
  if (stale_.size() < book_.catalog().size()) {
    stale_.resize(book_.catalog().size());
    last_event_stale_.resize(book_.catalog().size());
  }
  rebuild_index();
  return removed;
}

bool Engine::restore_series(std::string_view id, double value, risk::TimeMs ts_ms) {
  const auto sid = book_.catalog().find(id);
  if (!sid) return false;
  risk::SeriesState& st = book_.catalog().state(*sid);
  st.has_value = true;
  st.value = value;
  st.ts_ms = ts_ms;
  st.held_value.reset();
  book_.on_series_applied(*sid);
  if (!has_event_time_ || ts_ms > event_time_ms_) {
    event_time_ms_ = ts_ms;
    has_event_time_ = true;
  }
  book_.set_valuation_day(risk::valuation_day_ms(event_time_ms_));
  view_changed_all();
  if (mode_ == EvalMode::indexed) {
    // Boxes were computed on the old market: everyone is visited next tick.
    seen_value_[*sid] = 1;
    visit_all_ = true;
    all_dirty_ = true;
  }
  return true;
}

void Engine::revalue() {
  if (mode_ == EvalMode::brute_force) {
    book_.revalue_all();
    view_changed_all();
  } else {
    refresh_results();
  }
}

void Engine::refresh_results() {
  if (mode_ == EvalMode::brute_force) return;  // every applied tick revalued the whole book
  if (all_dirty_) {
    book_.revalue_all();
    view_changed_all();
    std::fill(eval_seq_.begin(), eval_seq_.end(), seq_);
    all_dirty_ = false;
  } else {
    for (const risk::SeriesId sid : changed_series_) {
      for (const std::uint32_t i : dependents_[sid]) {
        if (eval_seq_[i] >= changed_seq_[sid]) continue;
        book_.revalue_one(i);
        view_changed(i);
        eval_seq_[i] = seq_;
      }
    }
  }
  for (const risk::SeriesId sid : changed_series_) changed_listed_[sid] = 0;
  changed_series_.clear();
}

void Engine::adopt_market(const Engine& old) {
  const risk::SeriesCatalog& from = old.book_.catalog();
  for (risk::SeriesId sid = 0; sid < from.size(); ++sid) {
    const risk::SeriesState& src = from.state(sid);
    const auto dst_id = book_.catalog().find(src.id);
    if (!dst_id) continue;
    risk::SeriesState& dst = book_.catalog().state(*dst_id);
    dst.has_value = src.has_value;
    dst.value = src.value;
    dst.ts_ms = src.ts_ms;
    dst.held_value = src.held_value;
    dst.held_ts_ms = src.held_ts_ms;
    dst.counts = src.counts;
    if (dst.has_value) book_.on_series_applied(*dst_id);
  }
  counts_ = old.counts_;
  event_time_ms_ = old.event_time_ms_;
  has_event_time_ = old.has_event_time_;
  if (has_event_time_) book_.set_valuation_day(risk::valuation_day_ms(event_time_ms_));
  view_changed_all();
  rebuild_index();
}

std::map<std::string, alerts::RuleState> Engine::alert_states() const {
  std::map<std::string, alerts::RuleState> out;
  const auto& borrowers = book_.borrowers();
  for (std::size_t i = 0; i < borrowers.size(); ++i) {
    for (std::size_t r = 0; r < covenant_alerts_.rules(); ++r) {
      out.emplace(borrowers[i].id + "/" + alerts::rule_name(r, book_.scenarios()), covenant_alerts_.state(i, r));
    }
  }
  for (risk::SeriesId sid = 0; sid < stale_.size(); ++sid) {
    out.emplace("feed_stale:" + book_.catalog().state(sid).id, stale_[sid]);
  }
  return out;
}

std::map<std::string, alerts::AlertEvent> Engine::last_events() const {
  std::map<std::string, alerts::AlertEvent> out;
  const auto& borrowers = book_.borrowers();
  for (std::size_t i = 0; i < borrowers.size(); ++i) {
    for (std::size_t r = 0; r < covenant_alerts_.rules(); ++r) {
      auto ev = covenant_alerts_.last_event(i, r, borrowers[i], book_.scenarios(), book_.config().alerting);
      if (ev) out.emplace(ev->key, std::move(*ev));
    }
  }
  for (const auto& ev : last_event_stale_) {
    if (!ev.key.empty()) out.emplace(ev.key, ev);
  }
  return out;
}

void Engine::restore_alert_states(const std::map<std::string, alerts::RuleState>& states,
                                  const std::map<std::string, alerts::AlertEvent>& last_events) {
  const auto& borrowers = book_.borrowers();
  for (std::size_t i = 0; i < borrowers.size(); ++i) {
    for (std::size_t r = 0; r < covenant_alerts_.rules(); ++r) {
      const std::string key = borrowers[i].id + "/" + alerts::rule_name(r, book_.scenarios());
      const auto it = states.find(key);
      if (it == states.end()) continue;
      const auto last = last_events.find(key);
      covenant_alerts_.restore(i, r, it->second, last == last_events.end() ? nullptr : &last->second, borrowers[i],
                               book_.scenarios(), book_.config().alerting);
    }
  }
  for (risk::SeriesId sid = 0; sid < stale_.size(); ++sid) {
    const std::string key = "feed_stale:" + book_.catalog().state(sid).id;
    const auto it = states.find(key);
    if (it == states.end()) continue;
    stale_[sid] = it->second;
    const auto last = last_events.find(key);
    if (last != last_events.end()) last_event_stale_[sid] = last->second;
  }
  visit_all_ = true;  // restored states may not be settled on the current market
  view_changed_all();
}

std::string Engine::what_if(const risk::Scenario& scenario) const {
  risk::Book shocked = book_;
  const std::vector<risk::ShockOp> ops = shocked.resolve(scenario);
  for (risk::SeriesId sid = 0; sid < shocked.catalog().size(); ++sid) {
    risk::SeriesState& st = shocked.catalog().state(sid);
    if (!st.has_value) continue;
    st.value = ops[sid].apply(st.value);
    shocked.on_series_applied(sid);
  }
  shocked.revalue_all();
  return result_document(
      shocked, event_time_ms_, [&](std::size_t i) { return conditions_holding(shocked, i); }, 0);
}

}  // namespace riskd::daemon

namespace riskd::daemon {

// ---------------------------------------------------------------------------
// The indexed path (EvalMode::indexed). Why it is exact:
//
// Every rule's fire and resolve booleans are monotone in each coin price of a
// borrower that passes monotone_now(): LTV and liquidation LTV never rise
// and DSCR never falls when a coin price rises (units >= 0, haircut <= 1,
// debt >= 0, mining income from a BTC-derived hashprice with hashrate and
// btc_per_ph_day >= 0, debt service >= 0 in every variant, scenario shocks
// on coins no worse than -100 %); floating point keeps this because every
// operation on the way (x*y with y >= 0, +, max, D/C) rounds monotonically.
// So a boolean equal at the box's lowest and highest corner (all coins at
// f_down resp. f_up times their current value) is constant on the box.
// After a borrower is stepped, the rule states are settled for its readings
// (stepping again with the same readings is a no-op) unless a rule is
// pending under for_s: such borrowers are stepped at every tick. Hence a
// tick inside every box of a borrower cannot cause an event for it, and the
// indexed engine emits exactly the brute-force engine's events.
// ---------------------------------------------------------------------------

namespace {

constexpr std::uint8_t k_flag_visited = 1;
constexpr std::uint8_t k_flag_pending = 2;
constexpr std::uint8_t k_flag_unboxable = 4;
constexpr std::size_t k_max_boxed_rules = 32;  // readings fit 2 bits a rule in 64 bits
constexpr double k_max_up_move = 1048576.0;    // a box never reaches past 2^20 times the price
constexpr std::size_t k_prefetch_ahead = 4;    // visit loops prefetch the 4th next borrower (prefetch_visit)
constexpr double k_infinity_f() {
  return std::numeric_limits<double>::infinity();
}

/// Largest g in [0, g_max] with ok(g), for ok true at 0 and monotone
/// (true then false); only returns values where ok was evaluated true (or 0).
template <typename Ok>
double largest_quiet_move(double g_max, Ok&& ok) {
  if (ok(g_max)) return g_max;
  double fail = g_max;
  double g = 0.0;
  for (;;) {
    g = fail / 16.0;
    if (g < 1e-9) return 0.0;
    if (ok(g)) break;
    fail = g;
  }
  double lo = g;
  double hi = fail;
  for (int it = 0; it < 10; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (ok(mid)) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

}  // namespace

void Engine::rebuild_index() {
  if (mode_ != EvalMode::indexed) return;
  const auto& borrowers = book_.borrowers();
  const std::size_t n = borrowers.size();
  const std::size_t n_series = book_.catalog().size();
  const std::size_t rules = alerts::k_fixed_rules + book_.scenarios().size();
  coin_begin_.assign(n + 1, 0);
  coin_ids_.clear();
  static_monotone_.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const risk::CompiledBorrower& b = borrowers[i];
    std::vector<risk::SeriesId> coins(b.price_series.begin(), b.price_series.end());
    if (b.mining() && b.mining()->derived_from_price &&
        std::find(coins.begin(), coins.end(), b.mining()->series) == coins.end()) {
      coins.push_back(b.mining()->series);
    }
    // A series the borrower also reads as a GPU index, rate or hashprice is
    // not monotone for it: such ticks visit it directly.
    std::erase_if(coins, [&](risk::SeriesId sid) {
      return std::binary_search(b.slow_series.begin(), b.slow_series.end(), sid) ||
             (b.mining() && !b.mining()->derived_from_price && b.mining()->series == sid);
    });
    std::sort(coins.begin(), coins.end());
    bool ok = b.debt_usd >= 0.0 && rules <= k_max_boxed_rules;
    for (const auto& h : b.crypto()) ok = ok && h.units >= 0.0 && h.haircut <= 1.0;
    if (b.mining() && b.mining()->derived_from_price) {
      ok = ok && b.mining()->hashrate_ph >= 0.0 && b.mining()->btc_per_ph_day >= 0.0;
    }
    for (std::size_t k = 0; k < book_.scenarios().size(); ++k) {
      for (const risk::SeriesId sid : coins) {
        const risk::ShockOp& op = book_.scenario_ops(k)[sid];
        ok = ok && !(op.mode == risk::ShockOp::Mode::relative && !(op.amount >= -1.0));
      }
    }
    static_monotone_[i] = ok ? 1 : 0;
    coin_ids_.insert(coin_ids_.end(), coins.begin(), coins.end());
    coin_begin_[i + 1] = static_cast<std::uint32_t>(coin_ids_.size());
  }
  dependents_.build(n_series, [&](auto&& emit) {
    for (std::size_t i = 0; i < n; ++i) {
      for (const risk::SeriesId sid : borrowers[i].required_series) emit(sid, static_cast<std::uint32_t>(i));
    }
  });
  direct_.build(n_series, [&](auto&& emit) {
    for (std::size_t i = 0; i < n; ++i) {
      const auto cs = coins(i);
      for (const risk::SeriesId sid : borrowers[i].required_series) {
        if (!std::binary_search(cs.begin(), cs.end(), sid)) emit(sid, static_cast<std::uint32_t>(i));
      }
    }
  });
  flags_.assign(n, 0);
  pending_.clear();
  unboxable_.clear();
  index_.reset(n, coin_ids_.size(), n_series);
  seen_value_.assign(n_series, 0);
  for (risk::SeriesId sid = 0; sid < n_series; ++sid) seen_value_[sid] = book_.catalog().state(sid).has_value ? 1 : 0;
  eval_seq_.assign(n, 0);
  changed_seq_.assign(n_series, 0);
  changed_listed_.assign(n_series, 0);
  changed_series_.clear();
  visit_all_ = true;
  all_dirty_ = true;
  scratch_stress_.resize(book_.scenarios().size());
  scratch_values_.resize(book_.variant_count());
}

void Engine::step_indexed(risk::SeriesId sid, risk::TimeMs now_ms, std::vector<alerts::AlertEvent>& events) {
  ++stats_.ticks;
  const std::size_t n = book_.borrowers().size();
  if (visit_all_) {
    visit_all_ = false;
    ++stats_.full_visits;
    pending_.clear();
    unboxable_.clear();
    sync_scratch_values();
    for (std::size_t i = 0; i < n; ++i) {
      if (i + k_prefetch_ahead < n) prefetch_visit(i + k_prefetch_ahead);
      visit(i, now_ms, events);
    }
    index_.shrink_to_fit();  // every box was just set: trim the heaps' growth
    for (std::size_t i = 0; i < n; ++i) {
      if ((flags_[i] & k_flag_pending) != 0) pending_.push_back(static_cast<std::uint32_t>(i));
      if ((flags_[i] & k_flag_unboxable) != 0) unboxable_.push_back(static_cast<std::uint32_t>(i));
    }
    stats_.visits += n;
    // Every figure was just recomputed on the market as it stands.
    all_dirty_ = false;
    for (const risk::SeriesId s : changed_series_) changed_listed_[s] = 0;
    changed_series_.clear();
    return;
  }
  visit_list_.clear();
  index_.collect(sid, book_.values()[sid], visit_list_);
  const std::span<const std::uint32_t> direct = first_value_ ? dependents_[sid] : direct_[sid];
  visit_list_.insert(visit_list_.end(), direct.begin(), direct.end());
  visit_list_.insert(visit_list_.end(), pending_.begin(), pending_.end());
  visit_list_.insert(visit_list_.end(), unboxable_.begin(), unboxable_.end());
  // Every member of pending_ and unboxable_ is visited now, so the new lists
  // are the visited borrowers that end up in them.
  pending_.clear();
  unboxable_.clear();
  if (!visit_list_.empty()) sync_scratch_values();
  for (std::size_t j = 0; j < visit_list_.size(); ++j) {
    if (j + k_prefetch_ahead < visit_list_.size()) prefetch_visit(visit_list_[j + k_prefetch_ahead]);
    const std::uint32_t i = visit_list_[j];
    if ((flags_[i] & k_flag_visited) != 0) continue;
    flags_[i] |= k_flag_visited;
    visit(i, now_ms, events);
    ++stats_.visits;
    if ((flags_[i] & k_flag_pending) != 0) pending_.push_back(i);
    if ((flags_[i] & k_flag_unboxable) != 0) unboxable_.push_back(i);
  }
  for (const std::uint32_t i : visit_list_) flags_[i] &= static_cast<std::uint8_t>(~k_flag_visited);
}

void Engine::prefetch_visit(std::size_t i) const {
  // The borrower's parts block (pools first: what revalue_one reads, as
  // Book::revalue_all prefetches it) and its index entries (box_of).
  const risk::CompiledBorrower& b = book_.borrowers()[i];
  const auto* block = reinterpret_cast<const char*>(b.pools().data());
  const std::size_t bytes = b.parts.block_bytes();
  for (std::size_t offset = 0; offset < bytes; offset += 64) __builtin_prefetch(block + offset);
  index_.prefetch_box(coin_begin_[i], coins(i));
}

void Engine::visit(std::size_t i, risk::TimeMs now_ms, std::vector<alerts::AlertEvent>& events) {
  flags_[i] &= static_cast<std::uint8_t>(~(k_flag_pending | k_flag_unboxable));
  eval_seq_[i] = seq_;
  view_changed(i);  // figures recomputed; any alert event is this borrower's
  if (!book_.revalue_one(i)) {  // not evaluable: raises nothing, as in brute force
    index_.clear_box(coin_begin_[i], coins(i));
    return;
  }
  covenant_alerts_.evaluate(i, book_.borrowers()[i], book_.view(i), book_.scenarios(), book_.config().alerting,
                            now_ms, events);
  classify(i);
}

bool Engine::monotone_now(std::size_t i) const {
  if (static_monotone_[i] == 0) return false;
  for (const risk::SlowTerms& s : book_.slow_terms(i)) {
    if (!(s.debt_service_usd >= 0.0)) return false;  // also false for NaN
  }
  return true;
}

std::uint64_t Engine::readings_at(std::size_t i, double f, std::span<double> coin_values) {
  const auto cs = coins(i);
  const auto base = book_.variant_values(0);
  for (std::size_t k = 0; k < cs.size(); ++k) coin_values[k] = base[cs[k]] * f;
  return readings_with(i, coin_values);
}

std::uint64_t Engine::readings_with(std::size_t i, std::span<const double> coin_values) {
  const risk::CompiledBorrower& b = book_.borrowers()[i];
  const auto cs = coins(i);
  const std::size_t scenarios = book_.scenarios().size();
  for (std::size_t k = 0; k < cs.size(); ++k) {
    const risk::SeriesId c = cs[k];
    const double q = coin_values[k];
    scratch_values_[0][c] = q;
    for (std::size_t s = 0; s < scenarios; ++s) scratch_values_[1 + s][c] = book_.scenario_ops(s)[c].apply(q);
  }
  const auto& slow = book_.slow_terms(i);
  const risk::Valuer& valuer = book_.valuer();
  // The same arithmetic as Book::revalue_one (finish() and ratios() share it).
  const risk::StressRatios r0 = valuer.ratios(b, slow[0], scratch_values_[0]);
  for (std::size_t s = 0; s < scenarios; ++s)
    scratch_stress_[s] = valuer.ratios(b, slow[1 + s], scratch_values_[1 + s]);
  return rule_bits(risk::ResultView{r0.ltv, r0.liquidation_ltv, r0.dscr, scratch_stress_}, b.covenants);
}

std::uint64_t Engine::rule_bits(const risk::ResultView& result, const risk::Covenants& covenants) const {
  const risk::AlertingParams& params = book_.config().alerting;
  auto bits_of = [&](std::size_t r) {
    const alerts::RuleReading reading = alerts::read_rule(r, result, covenants, params);
    return (static_cast<std::uint64_t>(reading.fire) << (2 * r)) |
           (static_cast<std::uint64_t>(reading.resolve) << (2 * r + 1));
  };
  // The fixed rules with constant indices, so that read_rule's switch folds.
  static_assert(alerts::k_fixed_rules == 5, "rule_bits names the fixed rules one by one");
  std::uint64_t bits = bits_of(0) | bits_of(1) | bits_of(2) | bits_of(3) | bits_of(4);
  const std::size_t rules = alerts::k_fixed_rules + book_.scenarios().size();
  for (std::size_t r = alerts::k_fixed_rules; r < rules; ++r) bits |= bits_of(r);
  return bits;
}

void Engine::sync_scratch_values() {
  for (std::size_t v = 0; v < scratch_values_.size(); ++v) {
    const auto src = book_.variant_values(v);
    scratch_values_[v].assign(src.begin(), src.end());
  }
}

bool Engine::guess_quiet_moves(std::size_t i, double& g_down, double& g_up) const {
  // Every reading is a threshold on LTV, liquidation LTV or DSCR of some
  // variant; with all coins at f times their value each of these is a simple
  // function of f, so the f where it meets each threshold has a closed form.
  // Only a guess: classify() verifies it with the real arithmetic.
  const risk::CompiledBorrower& b = book_.borrowers()[i];
  const auto cs = coins(i);
  const auto& slow = book_.slow_terms(i);
  const risk::AlertingParams& a = book_.config().alerting;
  const double max_ltv = b.covenants.max_ltv;
  const double min_dscr = b.covenants.min_dscr;
  const std::size_t scenarios = book_.scenarios().size();
  double below = 0.0;             // largest critical f < 1
  double above = k_infinity_f();  // smallest critical f > 1
  auto add = [&](double f) {
    if (!(f > 0.0) || !std::isfinite(f)) return;
    if (f < 1.0) below = std::max(below, f);
    if (f >= 1.0) above = std::min(above, f);
  };
  const auto base = book_.variant_values(0);
  for (std::size_t v = 0; v <= scenarios; ++v) {
    auto scale = [&](risk::SeriesId sid) {  // variant value of a coin at f = 1, per unit of f
      if (v == 0) return base[sid];
      const risk::ShockOp& op = book_.scenario_ops(v - 1)[sid];
      return op.mode == risk::ShockOp::Mode::additive_bps ? k_infinity_f() : op.apply(base[sid]);
    };
    const auto vals = book_.variant_values(v);
    double coin_mark = 0.0;
    double coin_liq = 0.0;
    double other_mark = slow[v].gpu_mark_usd + b.cash_usd;
    double other_liq = slow[v].gpu_liquidation_usd + b.cash_usd;
    for (const auto& h : b.crypto()) {
      if (std::binary_search(cs.begin(), cs.end(), h.series)) {
        const double m = h.units * scale(h.series);
        coin_mark += m;
        coin_liq += m * (1.0 - h.haircut);
      } else {
        other_mark += h.units * vals[h.series];
        other_liq += h.units * vals[h.series] * (1.0 - h.haircut);
      }
    }
    if (!std::isfinite(coin_mark)) return false;
    auto ltv_levels = [&](double coin, double other, double x) {
      if (x > 0.0 && coin > 0.0) add((b.debt_usd / x - other) / coin);
    };
    const double ds = slow[v].debt_service_usd;
    double mining_per_f = 0.0;  // hashprice per unit of f, when it moves with a coin
    double fixed_cfads = slow[v].gpu_fwd12_usd - b.fixed_costs_usd_per_year;
    if (b.mining()) {
      const risk::CompiledMining& m = *b.mining();
      if (m.derived_from_price && std::binary_search(cs.begin(), cs.end(), m.series)) {
        mining_per_f = m.btc_per_ph_day * scale(m.series);
        if (!std::isfinite(mining_per_f)) return false;
      } else {
        const double h = m.derived_from_price ? m.btc_per_ph_day * vals[m.series] : vals[m.series];
        fixed_cfads += m.hashrate_ph * 365.0 * std::max(0.0, h - m.opex_usd_per_ph_day);
      }
    }
    auto dscr_levels = [&](double y) {
      if (!(ds > 0.0) || !b.mining() || mining_per_f <= 0.0) return;
      const double mining12 = y * ds - fixed_cfads;  // needed from mining
      if (mining12 <= 0.0) return;
      add((mining12 / (b.mining()->hashrate_ph * 365.0) + b.mining()->opex_usd_per_ph_day) / mining_per_f);
    };
    if (v == 0) {
      for (const double x : {max_ltv, max_ltv - a.ltv_hysteresis, max_ltv - a.warn_ltv_margin,
                             max_ltv - a.warn_ltv_margin - a.ltv_hysteresis}) {
        ltv_levels(coin_mark, other_mark, x);
      }
      ltv_levels(coin_liq, other_liq, 1.0);
      ltv_levels(coin_liq, other_liq, 1.0 - a.ltv_hysteresis);
      for (const double y : {min_dscr, min_dscr + a.dscr_hysteresis, min_dscr + a.warn_dscr_margin,
                             min_dscr + a.warn_dscr_margin + a.dscr_hysteresis}) {
        dscr_levels(y);
      }
    } else {
      ltv_levels(coin_mark, other_mark, max_ltv);
      ltv_levels(coin_mark, other_mark, max_ltv - a.ltv_hysteresis);
      dscr_levels(min_dscr);
      dscr_levels(min_dscr + a.dscr_hysteresis);
    }
  }
  g_down = 1.0 - below;
  g_up = std::min(k_max_up_move, above - 1.0);
  return true;
}

void Engine::classify(std::size_t i) {
  const auto idx = static_cast<std::uint32_t>(i);
  const auto cs = coins(i);
  if (covenant_alerts_.any_pending(i)) {
    flags_[i] |= k_flag_pending;
    index_.clear_box(coin_begin_[i], cs);
    return;
  }
  if (!monotone_now(i)) {
    flags_[i] |= k_flag_unboxable;
    index_.clear_box(coin_begin_[i], cs);
    return;
  }
  if (cs.empty()) {  // nothing moves it but the ticks that visit it directly
    index_.clear_box(coin_begin_[i], cs);
    return;
  }
  ++stats_.boxes;
  box_low_.resize(cs.size());
  box_high_.resize(cs.size());
  probe_coins_.resize(cs.size());
  // The readings now are those of the evaluation just done: readings_at(i,
  // 1.0) would compute the same figures (same values, same arithmetic).
  const std::uint64_t now_bits = rule_bits(book_.view(i), book_.borrowers()[i].covenants);
  auto restore_scratch = [&] {
    for (const risk::SeriesId c : cs) {
      for (std::size_t v = 0; v < scratch_values_.size(); ++v) scratch_values_[v][c] = book_.variant_values(v)[c];
    }
  };
  // A borrower still holding its whole box (visited by a GPU index, rate or
  // hashprice tick, or a day roll; not by a tick that left its box) keeps
  // each side whose corner still reads as now: two probes, and the heaps
  // are not touched when both hold. Equal readings at both corners make
  // them constant on the box (monotone_now), so any such box is exact; it
  // may be narrower than the largest quiet box, which costs at most an
  // earlier visit by a price tick (that visit recomputes both sides).
  bool keep_low = false;
  bool keep_high = false;
  if (index_.box_of(coin_begin_[i], cs, box_low_, box_high_)) {
    keep_low = readings_with(i, box_low_) == now_bits;
    keep_high = readings_with(i, box_high_) == now_bits;
    if (keep_low && keep_high) {
      ++stats_.boxes_kept;
      restore_scratch();
      return;
    }
  }
  auto ok_down = [&](double g) { return readings_at(i, 1.0 - g, probe_coins_) == now_bits; };
  auto ok_up = [&](double g) { return readings_at(i, 1.0 + g, probe_coins_) == now_bits; };
  // The closed-form guess usually lands just inside the nearest level and
  // costs one probe; only a verified guess is used, else the search runs.
  double guess_down = 1.0;
  double guess_up = k_max_up_move;
  const bool guessed = guess_quiet_moves(i, guess_down, guess_up);
  auto settle_counted = [&](double guess, double g_max, auto& ok) {
    const double inside = guess >= g_max ? g_max : guess * (1.0 - 1e-7);
    if (ok(inside)) return inside;
    ++stats_.searches;
    return largest_quiet_move(g_max, ok);
  };
  // Recompute the corners exactly as the verified probes did.
  const auto base = book_.variant_values(0);
  if (!keep_low) {
    const double g_down = guessed ? settle_counted(guess_down, 1.0, ok_down) : largest_quiet_move(1.0, ok_down);
    for (std::size_t k = 0; k < cs.size(); ++k) box_low_[k] = base[cs[k]] * (1.0 - g_down);
  }
  if (!keep_high) {
    const double g_up =
        guessed ? settle_counted(guess_up, k_max_up_move, ok_up) : largest_quiet_move(k_max_up_move, ok_up);
    for (std::size_t k = 0; k < cs.size(); ++k) box_high_[k] = base[cs[k]] * (1.0 + g_up);
  }
  restore_scratch();
  index_.set_box(idx, coin_begin_[i], cs, box_low_, box_high_);
}

void Engine::view_changed(std::size_t i) {
  if (view_all_) return;
  if (view_marked_.size() <= i) view_marked_.resize(book_.borrowers().size(), 0);
  if (view_marked_[i] != 0) return;
  view_marked_[i] = 1;
  view_changed_.push_back(static_cast<std::uint32_t>(i));
}

std::vector<alerts::AlertEvent> Engine::firing_feed_alerts() const {
  std::vector<alerts::AlertEvent> out;
  for (std::size_t sid = 0; sid < stale_.size(); ++sid) {
    if (stale_[sid].firing) out.push_back(last_event_stale_[sid]);
  }
  return out;
}

Engine::ViewChanges Engine::take_view_changes() {
  ViewChanges out;
  out.all = view_all_;
  if (view_all_) {
    view_marked_.assign(book_.borrowers().size(), 0);
  } else {
    for (const std::uint32_t i : view_changed_) view_marked_[i] = 0;
    out.borrowers = std::move(view_changed_);
  }
  view_changed_.clear();
  view_all_ = false;
  return out;
}

IndexStats Engine::index_stats() const {
  IndexStats s = stats_;
  s.pending = pending_.size();
  s.unboxable = unboxable_.size();
  return s;
}

std::size_t Engine::index_memory_bytes() const {
  std::size_t bytes = index_.memory_bytes();
  bytes += coin_begin_.capacity() * sizeof(std::uint32_t) + coin_ids_.capacity() * sizeof(risk::SeriesId);
  bytes += static_monotone_.capacity() + flags_.capacity() + eval_seq_.capacity() * sizeof(std::uint64_t);
  bytes += direct_.memory_bytes() + dependents_.memory_bytes();
  return bytes;
}

}  // namespace riskd::daemon
