#include "riskd/daemon/stream_hub.hpp"

#include <utility>

namespace riskd::daemon {

std::vector<StreamMessage> stream_messages(const Snapshot* prev, const Snapshot& next) {
  const auto same_book = [&] {
    if (prev->layout && prev->layout == next.layout) return true;  // shared: the set and order are unchanged
    if (prev->borrowers.size() != next.borrowers.size()) return false;
    for (std::size_t i = 0; i < next.borrowers.size(); ++i) {
      if (prev->borrowers[i].id() != next.borrowers[i].id()) return false;
    }
    return true;
  };
  std::vector<StreamMessage> out;
  if (prev == nullptr || !same_book()) {
    out.push_back(std::make_shared<const std::string>(next.result_document()));
    return out;
  }
  constexpr std::size_t k_chunk = BorrowerList::k_chunk;
  for (std::size_t i = 0; i < next.borrowers.size(); ++i) {
    // A chunk both snapshots share holds the same views: nothing to send.
    if (i % k_chunk == 0 && next.borrowers.same_chunk(prev->borrowers, i / k_chunk)) {
      i += k_chunk - 1;
      continue;
    }
    const BorrowerViewPtr& now = next.borrowers.ptr(i);
    const BorrowerViewPtr& before = prev->borrowers.ptr(i);
    // Judged on the numbers (no rendering); only a changed view is rendered,
    // here, on the caller's (stream) thread.
    if (now != before && !now->same_json(*before)) out.push_back(std::make_shared<const std::string>(now->json()));
  }
  return out;
}

bool StreamBacklog::push(StreamMessage message) {
  const std::size_t size = message ? message->size() : 0;
  if (!queue_.empty() && (queue_.size() + 1 > max_messages_ || bytes_ + size > max_bytes_)) return false;
  bytes_ += size;
  queue_.push_back(std::move(message));
  return true;
}

StreamMessage StreamBacklog::pop() {
  if (queue_.empty()) return nullptr;
  StreamMessage m = std::move(queue_.front());
  queue_.pop_front();
  bytes_ -= m ? m->size() : 0;
  return m;
}

void StreamBacklog::clear() {
  queue_.clear();
  bytes_ = 0;
}

}  // namespace riskd::daemon
