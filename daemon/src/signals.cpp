#include "riskd/daemon/signals.hpp"

#include <algorithm>
#include <cmath>

#include "riskd/daemon/result_json.hpp"
#include "riskd/risk/json_text.hpp"

namespace riskd::daemon {

bool moved(double before, double now, double relative) {
  if (std::isnan(before) || std::isnan(now)) return std::isnan(before) != std::isnan(now);
  if (std::isinf(before) || std::isinf(now)) return before != now;
  return std::abs(now - before) > relative * std::abs(before);
}

void SignalTracker::collect(Engine& engine, const Send& send) {
  const risk::TimeMs now_ms = engine.event_time_ms();
  if (checked_ && now_ms - last_check_ms_ < k_min_interval_ms) return;
  if (touched_.empty() && held_.empty() && !all_ && checked_ && engine.book().valuation_day() == last_day_ms_) return;
  checked_ = true;
  last_check_ms_ = now_ms;
  engine.refresh_results();  // results are exact only after it (engine.hpp)
  const risk::Book& book = engine.book();
  const auto& borrowers = book.borrowers();
  const bool all = all_ || book.valuation_day() != last_day_ms_;
  last_day_ms_ = book.valuation_day();

  if (index_stale_) {
    users_.assign(book.catalog().size(), {});
    for (std::size_t i = 0; i < borrowers.size(); ++i) {
      for (const risk::SeriesId sid : borrowers[i].required_series) {
        if (sid >= users_.size()) users_.resize(sid + 1);
        users_[sid].push_back(i);
      }
    }
    index_stale_ = false;
  }
  std::vector<std::size_t> candidates;
  if (all) {
    candidates.resize(borrowers.size());
    for (std::size_t i = 0; i < borrowers.size(); ++i) candidates[i] = i;
  } else {
    for (const risk::SeriesId sid : touched_) {
      if (sid < users_.size()) candidates.insert(candidates.end(), users_[sid].begin(), users_[sid].end());
    }
    for (const auto& id : held_) {
      if (const auto i = book.borrower_index(id)) candidates.push_back(*i);
    }
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  }
  all_ = false;
  touched_.clear();
  held_.clear();

  const std::size_t rules = alerts::k_fixed_rules + book.scenarios().size();
  for (const std::size_t i : candidates) {
    if (!book.evaluated(i)) continue;
    const std::string& id = borrowers[i].id;
    const risk::Figures f = book.figures(i);
    const auto known = last_.find(id);
    if (known != last_.end()) {
      const Last& l = known->second;
      const bool changed = moved(l.ltv, f.ltv, k_min_relative_move) ||
                           moved(l.liquidation_ltv, f.liquidation_ltv, k_min_relative_move) ||
                           moved(l.dscr, f.dscr, k_min_relative_move);
      if (!changed) continue;
      if (now_ms - l.at_ms < k_min_interval_ms) {
        held_.insert(id);
        continue;
      }
    }
    std::vector<AlertRef> firing;
    const auto& states = engine.covenant_alerts().states(i);
    for (std::size_t k = 0; k < std::min(rules, states.size()); ++k) {
      if (states[k].firing) firing.push_back({alerts::rule_name(k, book.scenarios()), alerts::rule_severity(k)});
    }
    risk::JsonText j;
    write_borrower(j, book, i, firing);
    std::string json = j.take();
    json.pop_back();  // the borrower object's closing brace: "at" goes inside
    json += ", \"at\": ";
    risk::append_json_string(json, risk::format_rfc3339(now_ms));
    json += '}';
    if (!send(id, std::move(json))) {
      held_.insert(id);
      continue;
    }
    last_[id] = Last{f.ltv, f.liquidation_ltv, f.dscr, now_ms};
    ++sent_;
  }
}

}  // namespace riskd::daemon
