#include "riskd/daemon/snapshot.hpp"

#include "riskd/risk/json_text.hpp"
#include "riskd/risk/time.hpp"

namespace riskd::daemon {

std::string Snapshot::result_document() const {
  risk::JsonText out;
  out.begin_object();
  out.key("as_of").string(risk::format_rfc3339(event_time_ms));
  out.key("borrowers").begin_array();
  for (const auto& b : borrowers) out.raw(b.json);
  out.end_array();
  out.end_object();
  return out.take();
}

const BorrowerView* Snapshot::find(const std::string& id) const {
  const auto it = borrower_index.find(id);
  if (it != borrower_index.end() && it->second < borrowers.size() && borrowers[it->second].id == id) {
    return &borrowers[it->second];
  }
  // The index is a convenience the publisher may leave empty: fall back to a scan.
  if (borrower_index.empty()) {
    for (const auto& b : borrowers) {
      if (b.id == id) return &b;
    }
  }
  return nullptr;
}

}  // namespace riskd::daemon
