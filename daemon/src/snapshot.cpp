#include "riskd/daemon/snapshot.hpp"

#include <bit>
#include <cmath>
#include <string_view>

#include "riskd/risk/json_text.hpp"
#include "riskd/risk/time.hpp"

namespace riskd::daemon {
namespace {

using namespace std::string_view_literals;

// The borrower object as JsonText (indent 0) writes it in write_borrower()
// (result_json.cpp): the same keys in the same order, ", " and ": "
// separators, numbers by risk::append_number, undefined levels as null. The
// fixed parts are appended as literal blocks. tests/daemon/
// test_snapshot_builder.cpp checks every view against write_borrower().

void number(std::string& out, std::string_view key_block, double v) {
  out += key_block;
  risk::append_number(out, v);
}

void optional_number(std::string& out, const std::optional<double>& v) {
  if (v) {
    risk::append_number(out, *v);
  } else {
    out += "null"sv;
  }
}

void levels(std::string& out, const std::vector<std::pair<risk::SeriesId, std::optional<double>>>& levels,
            const ViewNames& names) {
  bool first = true;
  for (const auto& [sid, level] : levels) {
    if (!first) out += ", "sv;
    first = false;
    risk::append_json_string(out, names.series[sid]);
    out += ": "sv;
    optional_number(out, level);
  }
}

void render_json(std::string& out, const BorrowerView& v) {
  const ViewNames& names = *v.names;
  const risk::Figures& f = v.figures;
  out.reserve(480 + 64 * (v.breach.price_usd.size() + v.breach.gpu_index_usd_per_gpu_hour.size()) +
              112 * v.stress.size() + (v.firing ? 64 * v.firing->size() : 0));
  out += "{\"id\": "sv;
  risk::append_json_string(out, v.id());
  number(out, ", \"ltv\": "sv, f.ltv);
  number(out, ", \"liquidation_ltv\": "sv, f.liquidation_ltv);
  number(out, ", \"dscr\": "sv, f.dscr);
  number(out, ", \"debt_usd\": "sv, f.debt_usd);
  number(out, ", \"cfads_usd\": "sv, f.cfads_usd);
  number(out, ", \"debt_service_usd\": "sv, f.debt_service_usd);
  number(out, ", \"collateral\": {\"crypto_usd\": "sv, f.crypto_usd);
  number(out, ", \"gpu_usd\": "sv, f.gpu_usd);
  number(out, ", \"cash_usd\": "sv, f.cash_usd);
  number(out, ", \"mark_usd\": "sv, f.mark_usd);
  number(out, ", \"liquidation_usd\": "sv, f.liquidation_usd);
  out += "}, \"breach\": {\"price\": {"sv;
  levels(out, v.breach.price_usd, names);
  out += "}, \"gpu_index\": {"sv;
  levels(out, v.breach.gpu_index_usd_per_gpu_hour, names);
  out += "}, \"spread_bps\": "sv;
  optional_number(out, v.breach.spread_bps);
  out += "}, \"stress\": {"sv;
  for (std::size_t k = 0; k < v.stress.size(); ++k) {
    if (k > 0) out += ", "sv;
    risk::append_json_string(out, names.scenarios[k]);
    number(out, ": {\"ltv\": "sv, v.stress[k].ltv);
    number(out, ", \"liquidation_ltv\": "sv, v.stress[k].liquidation_ltv);
    number(out, ", \"dscr\": "sv, v.stress[k].dscr);
    out += '}';
  }
  out += "}, \"alerts\": ["sv;
  bool first = true;
  for (const alerts::AlertEvent& a : v.firing_alerts()) {
    out += first ? "{\"rule\": "sv : ", {\"rule\": "sv;
    first = false;
    risk::append_json_string(out, a.rule);
    out += ", \"severity\": "sv;
    risk::append_json_string(out, alerts::to_string(a.severity));
    out += '}';
  }
  out += "]}"sv;
}

/// Whether two numbers are written as the same JSON text: non-finite ones
/// are all null; finite ones print the same exactly when their bits are
/// equal (shortest round-trip digits; 0.0 and -0.0 differ in text too).
bool same_text(double a, double b) {
  const bool null_a = !std::isfinite(a);
  const bool null_b = !std::isfinite(b);
  if (null_a || null_b) return null_a == null_b;
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

bool same_text(const std::optional<double>& a, const std::optional<double>& b) {
  return same_text(a.value_or(risk::k_infinity), b.value_or(risk::k_infinity));  // nullopt: null too
}

bool same_levels(const std::vector<std::pair<risk::SeriesId, std::optional<double>>>& a, const ViewNames& na,
                 const std::vector<std::pair<risk::SeriesId, std::optional<double>>>& b, const ViewNames& nb) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k) {
    if (!same_text(a[k].second, b[k].second)) return false;
    if (&na == &nb ? a[k].first != b[k].first : na.series[a[k].first] != nb.series[b[k].first]) return false;
  }
  return true;
}

}  // namespace

const AlertList& BorrowerView::firing_alerts() const {
  static const AlertList none;
  return firing ? *firing : none;
}

const std::string& BorrowerView::json() const {
  if (json_rendered_.load(std::memory_order_acquire)) return json_;  // rendered: skip call_once's own cost
  std::call_once(json_once_, [this] {
    render_json(json_, *this);
    json_rendered_.store(true, std::memory_order_release);
  });
  return json_;
}

bool BorrowerView::same_json(const BorrowerView& o) const {
  if (this == &o) return true;
  const ViewNames& na = *names;
  const ViewNames& nb = *o.names;
  if (!(&na == &nb && name_index == o.name_index) && id() != o.id()) return false;
  const risk::Figures& a = figures;
  const risk::Figures& b = o.figures;
  if (!same_text(a.ltv, b.ltv) || !same_text(a.liquidation_ltv, b.liquidation_ltv) || !same_text(a.dscr, b.dscr) ||
      !same_text(a.debt_usd, b.debt_usd) || !same_text(a.cfads_usd, b.cfads_usd) ||
      !same_text(a.debt_service_usd, b.debt_service_usd) || !same_text(a.crypto_usd, b.crypto_usd) ||
      !same_text(a.gpu_usd, b.gpu_usd) || !same_text(a.cash_usd, b.cash_usd) || !same_text(a.mark_usd, b.mark_usd) ||
      !same_text(a.liquidation_usd, b.liquidation_usd)) {
    return false;
  }
  if (!same_levels(breach.price_usd, na, o.breach.price_usd, nb) ||
      !same_levels(breach.gpu_index_usd_per_gpu_hour, na, o.breach.gpu_index_usd_per_gpu_hour, nb) ||
      !same_text(breach.spread_bps, o.breach.spread_bps)) {
    return false;
  }
  if (stress.size() != o.stress.size()) return false;
  for (std::size_t k = 0; k < stress.size(); ++k) {
    if (!same_text(stress[k].ltv, o.stress[k].ltv) || !same_text(stress[k].liquidation_ltv, o.stress[k].liquidation_ltv) ||
        !same_text(stress[k].dscr, o.stress[k].dscr)) {
      return false;
    }
    if (&na != &nb && na.scenarios[k] != nb.scenarios[k]) return false;
  }
  if (firing == o.firing) return true;
  const AlertList& fa = firing_alerts();
  const AlertList& fb = o.firing_alerts();
  if (fa.size() != fb.size()) return false;
  for (std::size_t k = 0; k < fa.size(); ++k) {
    if (fa[k].rule != fb[k].rule || fa[k].severity != fb[k].severity) return false;
  }
  return true;
}

BorrowerList::BorrowerList(const std::vector<BorrowerViewPtr>& views) {
  for (const auto& v : views) push_back(v);
}

BorrowerList::BorrowerList(const BorrowerList& other)
    : chunks_(other.chunks_), fresh_(other.chunks_.size(), 0), size_(other.size_) {}

BorrowerList& BorrowerList::operator=(const BorrowerList& other) {
  if (this != &other) {
    chunks_ = other.chunks_;
    fresh_.assign(chunks_.size(), 0);
    size_ = other.size_;
  }
  return *this;
}

void BorrowerList::set(std::size_t i, BorrowerViewPtr view) {
  const std::size_t c = i / k_chunk;
  if (fresh_[c] == 0) {  // possibly shared with a published snapshot: never written
    chunks_[c] = std::make_shared<Chunk>(*chunks_[c]);
    fresh_[c] = 1;
  }
  (*chunks_[c])[i % k_chunk] = std::move(view);
}

void BorrowerList::push_back(BorrowerViewPtr view) {
  if (size_ % k_chunk == 0) {
    chunks_.push_back(std::make_shared<Chunk>());
    chunks_.back()->reserve(k_chunk);
    fresh_.push_back(1);
  } else if (fresh_.back() == 0) {
    chunks_.back() = std::make_shared<Chunk>(*chunks_.back());
    fresh_.back() = 1;
  }
  chunks_.back()->push_back(std::move(view));
  ++size_;
}

std::string Snapshot::result_document() const {
  // As JsonText writes it ({"as_of": ..., "borrowers": [b1, b2]}), in one
  // allocation: the views are rendered (if not yet) and measured first.
  std::size_t bytes = 64;
  borrowers.for_each([&](const BorrowerView& b) { bytes += b.json().size() + 2; });
  std::string out;
  out.reserve(bytes);
  out += "{\"as_of\": "sv;
  risk::append_json_string(out, risk::format_rfc3339(event_time_ms));
  out += ", \"borrowers\": ["sv;
  bool first = true;
  borrowers.for_each([&](const BorrowerView& b) {
    if (!first) out += ", "sv;
    first = false;
    out += b.json();
  });
  out += "]}"sv;
  return out;
}

const BorrowerView* Snapshot::find(const std::string& id) const {
  if (layout) {
    const auto it = layout->index.find(id);
    if (it == layout->index.end() || it->second >= borrowers.size()) return nullptr;
    const BorrowerView& b = borrowers[it->second];
    return b.id() == id ? &b : nullptr;
  }
  // The layout is a convenience a hand-built snapshot may leave out: scan.
  for (std::size_t i = 0; i < borrowers.size(); ++i) {
    if (borrowers[i].id() == id) return &borrowers[i];
  }
  return nullptr;
}

AlertList Snapshot::active_alert_list() const {
  AlertList out;
  out.reserve(active_alerts.count);
  for_each_active_alert([&](const alerts::AlertEvent& a) { out.push_back(a); });
  return out;
}

void Snapshot::set_active_alerts(const AlertList& sorted) {
  active_alerts = ActiveAlerts{};
  std::vector<std::shared_ptr<AlertList>> groups;  // one per borrower, in key order
  for (const auto& a : sorted) {
    if (a.borrower.empty()) {
      active_alerts.feed.push_back(a);
    } else {
      if (groups.empty() || groups.back()->front().borrower != a.borrower) groups.push_back(std::make_shared<AlertList>());
      groups.back()->push_back(a);
    }
    ++active_alerts.count;
  }
  active_alerts.chunks.push_back(std::make_shared<const ActiveAlerts::Chunk>(groups.begin(), groups.end()));
}

}  // namespace riskd::daemon
