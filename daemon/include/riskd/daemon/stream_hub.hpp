#pragma once
// The pure parts of `GET /api/v1/stream` (INTERFACES.md: "the result document,
// then each borrower object as it changes"), kept free of Beast so they can be
// tested alone: what to send between two published snapshots, and the bounded
// per-client backlog. The WebSocket sessions live in http_server.cpp.
//
// Message contract (each message is one WebSocket text frame, one JSON value):
//   - on connect: the result document {"as_of": ..., "borrowers": [...]};
//   - then, per publication, each borrower object whose JSON changed, in book
//     order (an unchanged borrower is never re-sent);
//   - when the set or order of evaluated borrowers changes (a borrower added,
//     removed or waiting for a series), the whole result document again: a
//     message with a "borrowers" key replaces the client's state.
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "riskd/daemon/snapshot.hpp"

namespace riskd::daemon {

using StreamMessage = std::shared_ptr<const std::string>;

/// The messages that take a client holding `prev` to `next`, in order.
/// `prev` null (nothing sent yet): the result document of `next`. The same
/// payloads are fanned out to every client (built once). Pure; thread-safe.
/// Cost: O(chunks + changed views): views and chunks shared by both
/// snapshots are skipped by pointer (snapshot.hpp); other views are compared
/// by BorrowerView::same_json (numbers, no text) and only the changed ones
/// are rendered, by this call (the stream's thread, not the engine's).
std::vector<StreamMessage> stream_messages(const Snapshot* prev, const Snapshot& next);

/// A client's queue of messages not yet handed to the socket, bounded in
/// messages and bytes. Not thread-safe (one per session, used on its strand).
class StreamBacklog {
 public:
  StreamBacklog(std::size_t max_messages, std::size_t max_bytes) : max_messages_(max_messages), max_bytes_(max_bytes) {}

  /// Appends `message`; false (and nothing appended) when that would exceed a
  /// limit: the client has fallen behind. An empty backlog always accepts one
  /// message, so a result document larger than max_bytes still goes out.
  [[nodiscard]] bool push(StreamMessage message);
  /// Removes and returns the oldest message; null when empty.
  StreamMessage pop();
  void clear();

  [[nodiscard]] bool empty() const { return queue_.empty(); }
  [[nodiscard]] std::size_t size() const { return queue_.size(); }
  [[nodiscard]] std::size_t bytes() const { return bytes_; }

 private:
  std::size_t max_messages_;
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::deque<StreamMessage> queue_;
};

}  // namespace riskd::daemon
