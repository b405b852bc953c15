// sd_notify protocol over AF_UNIX datagrams; see sd_notify.hpp.
#include "riskd/daemon/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace riskd::daemon {
namespace {

/// Fills `addr` for `address` and returns the address length to pass to
/// sendto; throws std::invalid_argument for an unsupported or too long address.
socklen_t make_address(const std::string& address, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  const bool abstract = address.size() > 1 && address[0] == '@';
  if (!abstract && (address.empty() || address[0] != '/')) {
    throw std::invalid_argument("NOTIFY_SOCKET '" + address +
                                "': expected an absolute path or an abstract '@name' (vsock and relative "
                                "addresses are not supported)");
  }
  if (address.size() > sizeof addr.sun_path - (abstract ? 0 : 1)) {
    throw std::invalid_argument("NOTIFY_SOCKET '" + address + "': longer than a unix socket address (" +
                                std::to_string(sizeof addr.sun_path - 1) + " bytes)");
  }
  std::memcpy(addr.sun_path, address.data(), address.size());
  if (abstract) addr.sun_path[0] = '\0';
  // Abstract names are length-delimited (no trailing NUL); paths are NUL-terminated.
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + (abstract ? 0 : 1));
}

std::int64_t parse_positive(const char* name, const char* text) {
  std::int64_t v = 0;
  const char* end = text + std::strlen(text);
  const auto [ptr, ec] = std::from_chars(text, end, v);
  if (ec != std::errc{} || ptr != end || v <= 0) {
    throw std::invalid_argument(std::string(name) + " '" + text + "': expected a positive integer");
  }
  return v;
}

}  // namespace

SystemdNotifier::SystemdNotifier(std::string socket_address, std::chrono::microseconds watchdog_interval)
    : address_(std::move(socket_address)), watchdog_interval_(watchdog_interval) {
  if (address_.empty()) return;
  sockaddr_un addr{};
  make_address(address_, addr);  // validates before a socket is opened
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "sd_notify socket");
}

SystemdNotifier SystemdNotifier::from_env() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  std::chrono::microseconds interval{0};
  if (const char* usec = std::getenv("WATCHDOG_USEC"); usec != nullptr && *usec != '\0') {
    const std::int64_t value = parse_positive("WATCHDOG_USEC", usec);
    const char* pid = std::getenv("WATCHDOG_PID");
    const bool for_us =
        pid == nullptr || *pid == '\0' || parse_positive("WATCHDOG_PID", pid) == static_cast<std::int64_t>(::getpid());
    if (for_us) interval = std::chrono::microseconds{value};
  }
  return SystemdNotifier(socket == nullptr ? std::string{} : std::string(socket), interval);
}

SystemdNotifier::~SystemdNotifier() {
  if (fd_ >= 0) ::close(fd_);
}

SystemdNotifier::SystemdNotifier(SystemdNotifier&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      address_(std::move(other.address_)),
      watchdog_interval_(other.watchdog_interval_) {}

SystemdNotifier& SystemdNotifier::operator=(SystemdNotifier&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    address_ = std::move(other.address_);
    watchdog_interval_ = other.watchdog_interval_;
  }
  return *this;
}

bool SystemdNotifier::reloading() const {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const long long usec = static_cast<long long>(ts.tv_sec) * 1000000LL + ts.tv_nsec / 1000;
  return notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

bool SystemdNotifier::status(std::string_view text) const {
  std::string message = "STATUS=";
  message.reserve(message.size() + text.size());
  for (const char c : text) message.push_back(c == '\n' || c == '\r' ? ' ' : c);
  return notify(message);
}

bool SystemdNotifier::notify(std::string_view message) const {
  if (fd_ < 0 || message.empty()) return false;
  sockaddr_un addr{};
  socklen_t len = 0;
  try {
    len = make_address(address_, addr);  // validated in the constructor: cannot throw here
  } catch (const std::invalid_argument&) {
    return false;
  }
  ssize_t sent = -1;
  do {
    sent = ::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                    reinterpret_cast<const sockaddr*>(&addr), len);
  } while (sent < 0 && errno == EINTR);
  return sent == static_cast<ssize_t>(message.size());
}

}  // namespace riskd::daemon
