#pragma once
// Builds the engine's part of a Snapshot (figures, breach levels, alerts,
// series) on the engine thread. The live service adds its own fields
// (readiness of Kafka, lag, reload state) before publishing.
#include <memory>

#include "riskd/daemon/engine.hpp"
#include "riskd/daemon/snapshot.hpp"

namespace riskd::daemon {

/// A new Snapshot of `engine` as it stands, with `version`. Calls
/// Engine::refresh_results() first so the figures are exact. Fills
/// not_ready_reasons with the series the book still waits for.
std::shared_ptr<Snapshot> build_snapshot(Engine& engine, std::uint64_t version, risk::TimeMs wall_now_ms);

}  // namespace riskd::daemon
