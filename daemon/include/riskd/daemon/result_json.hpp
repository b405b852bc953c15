#pragma once
// The result document of INTERFACES.md (evaluate, HTTP API, signals).
#include <string>
#include <vector>

#include "riskd/alerts/rules.hpp"
#include "riskd/risk/book.hpp"
#include "riskd/risk/json_text.hpp"

namespace riskd::daemon {

struct AlertRef {
  std::string rule;
  alerts::Severity severity = alerts::Severity::info;
};

/// Rules of borrower `index` whose firing condition holds on its latest
/// result (no hysteresis or for_s): the `alerts` of `riskd evaluate`.
std::vector<AlertRef> conditions_holding(const risk::Book& book, std::size_t index);

/// Writes one borrower object from its latest result in `book`.
void write_borrower(risk::JsonText& out, const risk::Book& book, std::size_t index,
                    const std::vector<AlertRef>& alerts);
/// The same with its breach levels already computed (Valuer::breach_levels
/// on the book's market and day): the snapshot builder reuses them.
void write_borrower(risk::JsonText& out, const risk::Book& book, std::size_t index,
                    const std::vector<AlertRef>& alerts, const risk::BreachLevels& breach);

/// The whole result document; `alerts_of(index)` gives each borrower's alerts.
/// Borrowers not evaluated yet (a series missing) are left out.
template <typename AlertsOf>
std::string result_document(const risk::Book& book, risk::TimeMs as_of_ms, AlertsOf&& alerts_of, int indent) {
  risk::JsonText out(indent);
  out.begin_object();
  out.key("as_of").string(risk::format_rfc3339(as_of_ms));
  out.key("borrowers").begin_array();
  for (std::size_t i = 0; i < book.borrowers().size(); ++i) {
    if (!book.evaluated(i)) continue;
    write_borrower(out, book, i, alerts_of(i));
  }
  out.end_array();
  out.end_object();
  return out.take();
}

}  // namespace riskd::daemon
