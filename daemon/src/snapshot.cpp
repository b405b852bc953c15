#include "riskd/daemon/snapshot.hpp"

#include "riskd/risk/json_text.hpp"
#include "riskd/risk/time.hpp"

namespace riskd::daemon {

const AlertList& BorrowerView::firing_alerts() const {
  static const AlertList none;
  return firing ? *firing : none;
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
  risk::JsonText out;
  out.begin_object();
  out.key("as_of").string(risk::format_rfc3339(event_time_ms));
  out.key("borrowers").begin_array();
  borrowers.for_each([&](const BorrowerView& b) { out.raw(b.json); });
  out.end_array();
  out.end_object();
  return out.take();
}

const BorrowerView* Snapshot::find(const std::string& id) const {
  if (layout) {
    const auto it = layout->index.find(id);
    if (it == layout->index.end() || it->second >= borrowers.size()) return nullptr;
    const BorrowerView& b = borrowers[it->second];
    return b.id == id ? &b : nullptr;
  }
  // The layout is a convenience a hand-built snapshot may leave out: scan.
  for (std::size_t i = 0; i < borrowers.size(); ++i) {
    if (borrowers[i].id == id) return &borrowers[i];
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
