// `riskd run` under a stand-in for systemd: a notify socket given through
// NOTIFY_SOCKET with WATCHDOG_USEC. READY=1 comes only once /readyz is 200,
// WATCHDOG=1 keeps coming while the engine turns, SIGHUP is framed by
// RELOADING=1 and READY=1, SIGTERM sends STOPPING=1 before a clean exit.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <string>

#include "notify_socket.hpp"
#include "ops_support.hpp"

using namespace std::chrono_literals;
using riskd::test::EnvVar;
using riskd::test::NotifySocket;
using riskd::test::ops::work_dir;

namespace {

/// Receives until a message starting with `prefix` arrives or `timeout`
/// passes; counts the WATCHDOG=1 pings seen on the way.
bool wait_for_message(const NotifySocket& socket, const std::string& prefix, std::chrono::milliseconds timeout,
                      int* watchdogs = nullptr) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto m = socket.receive(200);
    if (!m) continue;
    if (m->text == "WATCHDOG=1" && watchdogs != nullptr) ++*watchdogs;
    if (m->text.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("systemd: riskd run reports READY only when ready, pings the watchdog, frames reloads and stops") {
  const std::string dir = work_dir("systemd-run");
  NotifySocket systemd(dir + "/notify.sock");
  std::unique_ptr<riskd::test::ops::LiveDaemon> daemon;
  {
    EnvVar socket("NOTIFY_SOCKET", systemd.address().c_str());
    EnvVar usec("WATCHDOG_USEC", "2000000");  // ping at least every second
    EnvVar pid("WATCHDOG_PID", nullptr);
    daemon = std::make_unique<riskd::test::ops::LiveDaemon>(dir, /*feed=*/false);
  }

  // No market yet: the watchdog is pinged, READY is not sent.
  int pings = 0;
  CHECK_FALSE(wait_for_message(systemd, "READY=1", 3s, &pings));
  CHECK(pings >= 1);
  CHECK(daemon->get("/readyz").status == 503);

  daemon->feed_market();
  REQUIRE_MESSAGE(wait_for_message(systemd, "READY=1", 60s),
                  "no READY=1; log: " << riskd::test::read_text(daemon->log_path()));
  CHECK(daemon->get("/readyz").status == 200);  // READY=1 follows readiness, never precedes it

  pings = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (pings < 3 && std::chrono::steady_clock::now() - t0 < 30s) wait_for_message(systemd, "WATCHDOG=1", 5s, &pings);
  CHECK(pings >= 3);

  daemon->process().signal(SIGHUP);
  CHECK(wait_for_message(systemd, "RELOADING=1", 30s));
  CHECK(wait_for_message(systemd, "READY=1", 30s));

  daemon->process().signal(SIGTERM);
  CHECK(wait_for_message(systemd, "STOPPING=1", 30s));
  CHECK(daemon->process().wait(30s) == 0);
}
