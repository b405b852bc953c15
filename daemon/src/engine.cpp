#include "riskd/daemon/engine.hpp"

#include <algorithm>

#include "riskd/daemon/result_json.hpp"
#include "riskd/feeds/tick.hpp"
#include "riskd/risk/json_text.hpp"

namespace riskd::daemon {

Engine::Engine(const risk::RiskConfig& config, StalenessClock clock) : book_(config), clock_(clock) {
  const std::size_t rules = alerts::k_fixed_rules + book_.scenarios().size();
  covenant_alerts_.resize(book_.borrowers().size(), rules);
  stale_.resize(book_.catalog().size());
  last_event_stale_.resize(book_.catalog().size());
}

TickResult Engine::apply(std::string_view tick_json, std::optional<risk::TimeMs> fallback_ts_ms,
                         std::vector<alerts::AlertEvent>& events) {
  feeds::Decoded decoded = feeds::decode_tick(tick_json, fallback_ts_ms);
  if (!decoded.tick) {
    count(risk::TickOutcome::rejected_parse);
    return {risk::TickOutcome::rejected_parse, std::move(decoded.error), {}, 0};
  }
  const feeds::Tick& tick = *decoded.tick;
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
        why = "ts " + risk::format_rfc3339(tick.ts_ms) + " is older than the newest applied tick of '" +
              tick.series + "' (" + risk::format_rfc3339(last_ts_ms) + ")";
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
  book_.on_series_applied(sid);
  book_.set_valuation_day(risk::valuation_day_ms(now_ms));

  // A fresh tick resolves the series' staleness.
  if (sid < stale_.size() && stale_[sid].firing && state.stale_after_s) {
    const double age_s = static_cast<double>(now_ms - state.ts_ms) / 1000.0;
    if (age_s <= *state.stale_after_s && alerts::step(stale_[sid], false, true, now_ms, 0)) {
      alerts::AlertEvent ev = last_event_stale_[sid];
      ev.firing = false;
      ev.value = age_s;
      ev.at_ms = now_ms;
      ev.seq = ++stale_[sid].seq;
      last_event_stale_[sid] = ev;
      events.push_back(std::move(ev));
    }
  }

  book_.revalue_all();
  const auto& borrowers = book_.borrowers();
  const auto& results = book_.results();
  for (std::size_t i = 0; i < borrowers.size(); ++i) {
    if (!results[i].evaluated) continue;
    covenant_alerts_.evaluate(i, borrowers[i], results[i], book_.scenarios(), book_.config().alerting, now_ms,
                              events);
  }
  if (clock_ == StalenessClock::event_time) check_staleness(now_ms, events);
  std::vector<alerts::AlertEvent> tick_events(std::make_move_iterator(events.begin() + static_cast<std::ptrdiff_t>(first_new)),
                                              std::make_move_iterator(events.end()));
  events.resize(first_new);
  alerts::sort_by_key(tick_events);
  std::move(tick_events.begin(), tick_events.end(), std::back_inserter(events));
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
  covenant_alerts_.append_active(active);
  for (std::size_t sid = 0; sid < stale_.size(); ++sid) {
    if (stale_[sid].firing) active.push_back(last_event_stale_[sid]);
  }
  alerts::sort_by_key(active);
  return active;
}

}  // namespace riskd::daemon

namespace riskd::daemon {

void Engine::upsert_borrower(const risk::BorrowerSpec& spec) {
  const auto before = alert_states();
  const bool existed = book_.borrower_index(spec.id).has_value();
  const std::size_t i = book_.upsert(spec);
  const std::size_t rules = alerts::k_fixed_rules + book_.scenarios().size();
  if (!existed) covenant_alerts_.resize(book_.borrowers().size(), rules);
  covenant_alerts_.reset(i);
  restore_alert_states(before);
  if (stale_.size() < book_.catalog().size()) {
    stale_.resize(book_.catalog().size());
    last_event_stale_.resize(book_.catalog().size());
  }
}

bool Engine::remove_borrower(std::string_view id) {
  const auto i = book_.borrower_index(id);
  if (!i) return false;
  book_.remove(id);
  covenant_alerts_.erase(*i);
  return true;
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
  return true;
}

void Engine::revalue() { book_.revalue_all(); }

// Every applied tick revalues the whole book today, so results are current.
void Engine::refresh_results() {}

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
}

std::map<std::string, alerts::RuleState> Engine::alert_states() const {
  std::map<std::string, alerts::RuleState> out;
  const auto& borrowers = book_.borrowers();
  for (std::size_t i = 0; i < borrowers.size(); ++i) {
    const auto& states = covenant_alerts_.states(i);
    for (std::size_t r = 0; r < states.size(); ++r) {
      out.emplace(borrowers[i].id + "/" + alerts::rule_name(r, book_.scenarios()), states[r]);
    }
  }
  for (risk::SeriesId sid = 0; sid < stale_.size(); ++sid) {
    out.emplace("feed_stale:" + book_.catalog().state(sid).id, stale_[sid]);
  }
  return out;
}

void Engine::restore_alert_states(const std::map<std::string, alerts::RuleState>& states) {
  const auto& borrowers = book_.borrowers();
  for (std::size_t i = 0; i < borrowers.size(); ++i) {
    auto& rule_states = covenant_alerts_.states(i);
    for (std::size_t r = 0; r < rule_states.size(); ++r) {
      const auto it = states.find(borrowers[i].id + "/" + alerts::rule_name(r, book_.scenarios()));
      if (it != states.end()) rule_states[r] = it->second;
    }
  }
  for (risk::SeriesId sid = 0; sid < stale_.size(); ++sid) {
    const auto it = states.find("feed_stale:" + book_.catalog().state(sid).id);
    if (it != states.end()) stale_[sid] = it->second;
  }
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
