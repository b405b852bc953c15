#include "riskd/daemon/engine.hpp"

#include <algorithm>

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
    return {risk::TickOutcome::rejected_parse, std::move(decoded.error)};
  }
  const feeds::Tick& tick = *decoded.tick;
  const auto sid = book_.catalog().find(tick.series);
  if (!sid) {
    count(risk::TickOutcome::unknown_series);
    return {risk::TickOutcome::unknown_series, "series '" + tick.series + "' is not named by any borrower or config entry"};
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
    return {outcome, std::move(why)};
  }
  on_applied(*sid, events);
  return {risk::TickOutcome::applied, {}};
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
