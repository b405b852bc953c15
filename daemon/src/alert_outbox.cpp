#include "riskd/daemon/alert_outbox.hpp"

#include <algorithm>

namespace riskd::daemon {

std::uint64_t AlertOutbox::add(std::string key, std::string value, std::optional<FeedPosition> cause) {
  const std::uint64_t token = next_token_++;
  if (cause) ++gates_[{cause->topic, cause->partition}][cause->offset];
  entries_.emplace(token, Entry{std::move(key), std::move(value), std::move(cause)});
  unsent_.insert(token);
  return token;
}

void AlertOutbox::mark_sent(std::uint64_t token) {
  unsent_.erase(token);
}

void AlertOutbox::mark_unsent(std::uint64_t token) {
  if (entries_.count(token) != 0) unsent_.insert(token);
}

bool AlertOutbox::acknowledge(std::uint64_t token) {
  const auto it = entries_.find(token);
  if (it == entries_.end()) return false;
  if (const auto& cause = it->second.cause) {
    const auto g = gates_.find({cause->topic, cause->partition});
    if (g != gates_.end()) {
      const auto o = g->second.find(cause->offset);
      if (o != g->second.end() && --o->second == 0) g->second.erase(o);
      if (g->second.empty()) gates_.erase(g);
    }
  }
  unsent_.erase(token);
  entries_.erase(it);
  return true;
}

std::int64_t AlertOutbox::commit_offset(const std::string& topic, std::int32_t partition,
                                        std::int64_t next_offset) const {
  const auto g = gates_.find({topic, partition});
  if (g == gates_.end() || g->second.empty()) return next_offset;
  return std::min(next_offset, g->second.begin()->first);
}

}  // namespace riskd::daemon
