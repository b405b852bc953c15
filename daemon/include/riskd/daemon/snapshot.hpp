#pragma once
// An immutable picture of the engine's state, published by the engine thread
// (the single writer) and read by the HTTP server, the metrics exposition and
// the WebSocket stream without locks on the risk state. Pre-serialized JSON
// where readers only forward it.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "riskd/alerts/rules.hpp"
#include "riskd/risk/market.hpp"
#include "riskd/risk/valuation.hpp"

namespace riskd::daemon {

struct BorrowerView {
  std::string id;
  std::string json;  // the borrower object of the result document (INTERFACES.md)
  risk::Figures figures;
  std::vector<std::pair<std::string, std::optional<double>>> price_breach_usd;  // series -> level
  std::vector<std::pair<std::string, risk::StressRatios>> stress;              // scenario -> ratios
  std::vector<alerts::AlertEvent> firing;  // alerts firing now for this borrower
  bool stale = false;                      // depends on a series with a firing feed_stale
};

struct SeriesView {
  std::string id;
  risk::SeriesKind kind = risk::SeriesKind::price;
  bool has_value = false;
  double value = 0.0;
  risk::TimeMs ts_ms = 0;
  std::optional<double> stale_after_s;
  bool stale = false;  // feed_stale firing
  std::array<std::uint64_t, risk::k_tick_outcome_count> counts{};
};

struct PartitionLag {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t lag_messages = 0;
};

struct Snapshot {
  std::uint64_t version = 0;            // grows with every publication
  risk::TimeMs event_time_ms = 0;       // T
  risk::TimeMs valuation_day_ms = 0;    // t
  risk::TimeMs published_at_ms = 0;     // wall clock
  std::vector<BorrowerView> borrowers;  // evaluated borrowers, in book order
  std::unordered_map<std::string, std::size_t> borrower_index;
  std::vector<std::string> not_evaluated;          // borrowers waiting for a series
  std::vector<alerts::AlertEvent> active_alerts;   // sorted by key
  std::vector<SeriesView> series;                  // in catalog order
  std::array<std::uint64_t, risk::k_tick_outcome_count> tick_counts{};
  std::uint64_t borrower_updates_applied = 0;
  std::uint64_t borrower_updates_rejected = 0;
  bool ready = false;
  std::vector<std::string> not_ready_reasons;  // why /readyz answers 503
  bool config_reload_ok = true;
  double config_last_reload_unix_s = 0.0;
  std::vector<PartitionLag> lag;

  /// The result document of INTERFACES.md built from the borrowers' JSON.
  [[nodiscard]] std::string result_document() const;
  [[nodiscard]] const BorrowerView* find(const std::string& id) const;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace riskd::daemon
