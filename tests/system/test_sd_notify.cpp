// SystemdNotifier against a real AF_UNIX datagram socket standing in for the
// service manager: filesystem and abstract addresses, the sender's
// credentials (what NotifyAccess=main checks), the watchdog environment, and
// the no-op outside systemd.
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

#include "notify_socket.hpp"
#include "riskd/daemon/sd_notify.hpp"

using riskd::daemon::SystemdNotifier;
using riskd::test::EnvVar;
using riskd::test::NotifySocket;

namespace {

std::string unique_suffix() {
  static std::atomic<int> n{0};
  return std::to_string(::getpid()) + "-" + std::to_string(++n);
}

std::string temp_socket_path() {
  return (std::filesystem::temp_directory_path() / ("riskd-notify-" + unique_suffix() + ".sock")).string();
}

}  // namespace

TEST_CASE("sd_notify: READY, STATUS, WATCHDOG and STOPPING reach a filesystem socket from this pid") {
  NotifySocket manager(temp_socket_path());
  EnvVar socket("NOTIFY_SOCKET", manager.address().c_str());
  EnvVar usec("WATCHDOG_USEC", nullptr);
  const SystemdNotifier notifier = SystemdNotifier::from_env();
  REQUIRE(notifier.enabled());
  CHECK(notifier.address() == manager.address());

  CHECK(notifier.ready());
  auto m = manager.receive();
  REQUIRE(m);
  CHECK(m->text == "READY=1");
  CHECK(m->sender_pid == ::getpid());  // the credentials NotifyAccess=main checks

  CHECK(notifier.status("ready: 3 borrowers\nREADY=0"));
  m = manager.receive();
  REQUIRE(m);
  CHECK(m->text == "STATUS=ready: 3 borrowers READY=0");  // no injected second assignment

  CHECK(notifier.watchdog());
  m = manager.receive();
  REQUIRE(m);
  CHECK(m->text == "WATCHDOG=1");

  CHECK(notifier.stopping());
  m = manager.receive();
  REQUIRE(m);
  CHECK(m->text == "STOPPING=1");
}

TEST_CASE("sd_notify: an abstract-namespace address written with @ works") {
  NotifySocket manager("@riskd-notify-" + unique_suffix());
  EnvVar socket("NOTIFY_SOCKET", manager.address().c_str());
  const SystemdNotifier notifier = SystemdNotifier::from_env();
  REQUIRE(notifier.enabled());
  CHECK(notifier.ready());
  const auto m = manager.receive();
  REQUIRE(m);
  CHECK(m->text == "READY=1");
}

TEST_CASE("sd_notify: reloading sends RELOADING=1 with a monotonic timestamp, then ready ends the reload") {
  NotifySocket manager(temp_socket_path());
  const SystemdNotifier notifier(manager.address());
  timespec before{};
  ::clock_gettime(CLOCK_MONOTONIC, &before);
  CHECK(notifier.reloading());
  const auto m = manager.receive();
  REQUIRE(m);
  const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
  REQUIRE(m->text.rfind(prefix, 0) == 0);
  const long long usec = std::stoll(m->text.substr(prefix.size()));
  CHECK(usec >= static_cast<long long>(before.tv_sec) * 1000000LL);
  CHECK(notifier.ready());
  CHECK(manager.receive()->text == "READY=1");
}

TEST_CASE("sd_notify: WATCHDOG_USEC is honoured only for this pid") {
  EnvVar socket("NOTIFY_SOCKET", "/run/riskd-test-no-such-socket");
  {
    EnvVar usec("WATCHDOG_USEC", "30000000");
    EnvVar pid("WATCHDOG_PID", std::to_string(::getpid()).c_str());
    CHECK(SystemdNotifier::from_env().watchdog_interval() == std::chrono::seconds(30));
  }
  {
    EnvVar usec("WATCHDOG_USEC", "30000000");
    EnvVar pid("WATCHDOG_PID", nullptr);
    CHECK(SystemdNotifier::from_env().watchdog_interval() == std::chrono::seconds(30));
  }
  {
    EnvVar usec("WATCHDOG_USEC", "30000000");
    EnvVar pid("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str());  // meant for another process
    CHECK(SystemdNotifier::from_env().watchdog_interval() == std::chrono::microseconds(0));
  }
  {
    EnvVar usec("WATCHDOG_USEC", nullptr);
    CHECK(SystemdNotifier::from_env().watchdog_interval() == std::chrono::microseconds(0));
  }
}

TEST_CASE("sd_notify: outside systemd every call is a harmless no-op") {
  EnvVar socket("NOTIFY_SOCKET", nullptr);
  EnvVar usec("WATCHDOG_USEC", nullptr);
  const SystemdNotifier notifier = SystemdNotifier::from_env();
  CHECK_FALSE(notifier.enabled());
  CHECK_FALSE(notifier.ready());
  CHECK_FALSE(notifier.watchdog());
  CHECK_FALSE(notifier.stopping());
  CHECK_FALSE(notifier.status("x"));
  CHECK(notifier.watchdog_interval() == std::chrono::microseconds(0));
}

TEST_CASE("sd_notify: a manager that went away makes sends return false, not throw or block") {
  std::string path;
  SystemdNotifier notifier;
  {
    NotifySocket manager(temp_socket_path());
    path = manager.address();
    notifier = SystemdNotifier(path);
    CHECK(notifier.ready());
  }
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK_FALSE(notifier.ready());
  CHECK_FALSE(notifier.watchdog());
}

TEST_CASE("sd_notify: malformed environment values are refused with the variable's name") {
  {
    EnvVar socket("NOTIFY_SOCKET", "relative/notify.sock");
    CHECK_THROWS_WITH_AS(SystemdNotifier::from_env(), doctest::Contains("NOTIFY_SOCKET 'relative/notify.sock'"),
                         std::invalid_argument);
  }
  {
    EnvVar socket("NOTIFY_SOCKET", "vsock:2:1234");
    CHECK_THROWS_WITH_AS(SystemdNotifier::from_env(), doctest::Contains("NOTIFY_SOCKET"), std::invalid_argument);
  }
  {
    const std::string long_path = "/" + std::string(200, 'x');
    EnvVar socket("NOTIFY_SOCKET", long_path.c_str());
    CHECK_THROWS_WITH_AS(SystemdNotifier::from_env(), doctest::Contains("longer than a unix socket address"),
                         std::invalid_argument);
  }
  {
    EnvVar socket("NOTIFY_SOCKET", nullptr);
    EnvVar usec("WATCHDOG_USEC", "soon");
    CHECK_THROWS_WITH_AS(SystemdNotifier::from_env(), doctest::Contains("WATCHDOG_USEC 'soon'"), std::invalid_argument);
  }
  {
    EnvVar socket("NOTIFY_SOCKET", nullptr);
    EnvVar usec("WATCHDOG_USEC", "1000000");
    EnvVar pid("WATCHDOG_PID", "-3");
    CHECK_THROWS_WITH_AS(SystemdNotifier::from_env(), doctest::Contains("WATCHDOG_PID '-3'"), std::invalid_argument);
  }
}
