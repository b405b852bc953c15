#pragma once
// systemd's service notification protocol (sd_notify(3)), implemented
// directly: one datagram of newline-separated KEY=VALUE assignments sent on
// the AF_UNIX socket named by $NOTIFY_SOCKET. No libsystemd dependency: the
// protocol is a stable, documented datagram and riskd needs five messages.
//
// Under `Type=notify` the service manager waits for READY=1 before it counts
// the unit as started; with `WatchdogSec=` it expects WATCHDOG=1 at least once
// per $WATCHDOG_USEC and kills (and, with Restart=, restarts) the service
// otherwise. Outside systemd ($NOTIFY_SOCKET unset) every call is a no-op that
// returns false, so the daemon runs the same way everywhere.
//
// Addresses: an absolute path ("/run/systemd/notify") or an abstract-namespace
// name ("@name": the '@' stands for the leading NUL byte). Other forms
// (relative paths, "vsock:" addresses) are refused by from_env.
//
// Thread-safety: every const and non-const member may be called from any
// thread concurrently (each message is one sendto() on a datagram socket).
// Sending never blocks (MSG_DONTWAIT): a full receiver queue makes the call
// return false instead of stalling the caller.
#include <chrono>
#include <string>
#include <string_view>

namespace riskd::daemon {

class SystemdNotifier {
 public:
  /// A notifier that sends nothing (not running under systemd).
  SystemdNotifier() = default;

  /// Sends to `socket_address` (absolute path or "@abstract"; empty: disabled).
  /// `watchdog_interval` is the manager's deadline between two pings (0: the
  /// watchdog is off). Throws std::invalid_argument naming the address when it
  /// is neither form or longer than a sockaddr_un can hold, std::system_error
  /// if the socket cannot be created.
  explicit SystemdNotifier(std::string socket_address,
                           std::chrono::microseconds watchdog_interval = std::chrono::microseconds{0});

  /// From the environment systemd gives a service: NOTIFY_SOCKET, and
  /// WATCHDOG_USEC (honoured only when WATCHDOG_PID is unset or equals this
  /// process' pid, as sd_watchdog_enabled(3) does). Throws
  /// std::invalid_argument naming the variable when NOTIFY_SOCKET or
  /// WATCHDOG_USEC / WATCHDOG_PID is malformed, std::system_error if the
  /// socket cannot be created.
  static SystemdNotifier from_env();

  ~SystemdNotifier();
  SystemdNotifier(SystemdNotifier&& other) noexcept;
  SystemdNotifier& operator=(SystemdNotifier&& other) noexcept;
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  /// True when a notification socket is configured.
  [[nodiscard]] bool enabled() const { return fd_ >= 0; }
  /// The address messages go to ("" when disabled), as given ('@' for abstract).
  [[nodiscard]] const std::string& address() const { return address_; }

  /// The manager's watchdog deadline (WATCHDOG_USEC); 0 when the watchdog is
  /// off. Ping with watchdog() at least every half of it (sd_watchdog_enabled(3)).
  [[nodiscard]] std::chrono::microseconds watchdog_interval() const { return watchdog_interval_; }

  /// Each sends one message and returns true when the datagram was accepted
  /// by the kernel; false when disabled or on any send error (never throws).
  bool ready() const { return notify("READY=1"); }        // startup finished / reload done
  bool reloading() const;                                 // RELOADING=1 + MONOTONIC_USEC (systemd >= 253)
  bool stopping() const { return notify("STOPPING=1"); }  // graceful stop has begun
  bool watchdog() const { return notify("WATCHDOG=1"); }  // "still alive and making progress"
  /// STATUS=text, shown by `systemctl status`. Newlines in `text` become
  /// spaces (a newline would start another assignment).
  bool status(std::string_view text) const;
  /// Sends `message` as is (newline-separated assignments).
  bool notify(std::string_view message) const;

 private:
  int fd_ = -1;
  std::string address_;
  std::chrono::microseconds watchdog_interval_{0};
};

}  // namespace riskd::daemon
