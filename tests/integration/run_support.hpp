#pragma once
// Shared by the integration tests that drive `riskd run` as a child process:
// a work directory, unique names per test process, and the daemon handle.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>

#include "../daemon/test_support.hpp"
#include "../support/http_client.hpp"
#include "../support/process.hpp"

namespace riskd::test {

using namespace std::chrono_literals;

inline std::string work_dir() {
  const std::string dir = std::string(RISKD_BINARY_DIR) + "/tests/integration/work";
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string unique_name(const std::string& base) {
  static std::atomic<int> n{0};
  return base + "-" + std::to_string(getpid()) + "-" + std::to_string(++n);
}

struct Daemon {
  std::unique_ptr<Child> child;
  unsigned short port = 0;

  void start(const std::string& config_path, const std::string& log) {
    child = std::make_unique<Child>(std::vector<std::string>{RISKD_BINARY, "run", "--config", config_path}, log);
    const auto line = child->read_line(20s);
    REQUIRE_MESSAGE(line, "riskd run printed no URL; log: " << read_text(log));
    port = static_cast<unsigned short>(std::stoi(line->substr(line->rfind(':') + 1)));
  }
  HttpResponse get(const std::string& target) const { return http_request("127.0.0.1", port, "GET", target); }
  /// Polls GET `target` until `pred(response)` or `timeout`.
  template <typename Pred>
  HttpResponse wait_for(const std::string& target, Pred pred, std::chrono::milliseconds timeout = 30s) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    HttpResponse r;
    while (std::chrono::steady_clock::now() < deadline) {
      r = get(target);
      if (pred(r)) return r;
      std::this_thread::sleep_for(50ms);
    }
    return r;
  }
};

}  // namespace riskd::test
