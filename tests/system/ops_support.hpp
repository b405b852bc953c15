#pragma once
// Helpers for the operations system tests (deploy files, real Prometheus):
// run an external program to completion, pick a free port, and a live
// `riskd broker` + `riskd run` pair on the vectors book with a market fed
// through `riskd feed`. Built on tests/support/process.hpp (Child) and
// http_client.hpp.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../daemon/test_support.hpp"
#include "../support/http_client.hpp"
#include "../support/process.hpp"

namespace riskd::test::ops {

using namespace std::chrono_literals;

/// A fresh directory under the build tree for one test's files.
inline std::string work_dir(const std::string& name) {
  static std::atomic<int> n{0};
  const std::string dir = std::string(RISKD_BINARY_DIR) + "/tests/system/work/" + name + "-" +
                          std::to_string(::getpid()) + "-" + std::to_string(++n);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE_MESSAGE(out.good(), "cannot write " << path);
}

struct CommandResult {
  int exit_code = -1;  // -1: did not finish within the timeout (then killed)
  std::string out;     // stdout
  std::string err;     // stderr
};

/// Runs `argv` (argv[0] an absolute path) to completion; stderr is captured
/// through a file in `dir`. Generous default timeout for a loaded CI machine.
inline CommandResult run_command(const std::vector<std::string>& argv, const std::string& dir,
                                 std::chrono::milliseconds timeout = 120s) {
  static std::atomic<int> n{0};
  const std::string err_path = dir + "/cmd-" + std::to_string(++n) + ".err";
  CommandResult r;
  Child child(argv, err_path);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto line = child.read_line(200ms);
    if (line) {
      r.out += *line + "\n";
      continue;
    }
    if (const auto code = child.wait(1ms)) {
      // Drain what was written between the last read and the exit.
      while (const auto rest = child.read_line(50ms)) r.out += *rest + "\n";
      r.exit_code = *code;
      break;
    }
  }
  r.err = read_text(err_path);
  return r;
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for programs that
/// cannot bind port 0 and report it, like Prometheus).
inline unsigned short free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// Polls `probe()` every 100 ms until it returns true or `timeout` passes.
template <typename Probe>
bool poll_until(Probe probe, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (probe()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return probe();
}

/// `riskd broker` and `riskd run` on the vectors book (tests/data/vectors),
/// HTTP on a free port of 127.0.0.1, and the vectors market fed once through
/// `riskd feed` with ticks stamped now (so no feed is stale). After the
/// constructor (with `feed` true) the daemon is ready and every borrower is
/// evaluated; nothing else is fed, so the market stays quiet. With `feed`
/// false the daemon runs but is not ready until feed_market() and
/// wait_evaluated(). The daemon inherits this process' environment.
class LiveDaemon {
 public:
  explicit LiveDaemon(const std::string& dir, bool feed = true) : dir_(dir), log_(dir + "/riskd.log") {
    broker_ = std::make_unique<Child>(
        std::vector<std::string>{RISKD_BINARY, "broker", "--topics", "md.crypto,md.rates,riskd.state"}, log_);
    const auto bootstrap = broker_->read_line(30s);
    REQUIRE_MESSAGE(bootstrap, "riskd broker printed no bootstrap address; log: " << read_text(log_));
    bootstrap_ = *bootstrap;

    const std::string config = dir + "/riskd.yaml";
    write_text(config, read_text(source_path("tests/data/vectors/book.yaml")) + "\nkafka: {bootstrap_servers: \"" +
                           bootstrap_ + "\", group_id: riskd-ops-test}\n" +
                           "feeds: {topics: [md.crypto, md.rates], state_topic: riskd.state}\n" +
                           "http: {listen: \"127.0.0.1:0\"}\n");
    daemon_ = std::make_unique<Child>(std::vector<std::string>{RISKD_BINARY, "run", "--config", config}, log_);
    const auto url = daemon_->read_line(30s);
    REQUIRE_MESSAGE(url, "riskd run printed no URL; log: " << read_text(log_));
    port_ = static_cast<unsigned short>(std::stoi(url->substr(url->rfind(':') + 1)));

    if (feed) {
      feed_market();
      wait_evaluated();
    }
  }

  /// Waits (60 s at most) for /readyz 200 and an LTV for every borrower.
  void wait_evaluated() {
    const bool ready = poll_until([&] { return get("/readyz").status == 200; }, 60s);
    REQUIRE_MESSAGE(ready,
                    "riskd never became ready; /readyz: " << get("/readyz").body << "\nlog: " << read_text(log_));
    const bool evaluated = poll_until(
        [&] {
          const auto r = get("/api/v1/borrowers");
          if (r.status != 200) return false;
          const boost::json::value doc = boost::json::parse(r.body);
          for (const auto& b : doc.at("borrowers").as_array()) {
            if (!b.at("ltv").is_number()) return false;
          }
          return true;
        },
        60s);
    REQUIRE_MESSAGE(evaluated, "borrowers never evaluated; log: " << read_text(log_));
  }

  [[nodiscard]] unsigned short port() const { return port_; }
  /// The `riskd run` process (signals, exit code).
  [[nodiscard]] Child& process() { return *daemon_; }
  [[nodiscard]] const std::string& log_path() const { return log_; }

  [[nodiscard]] HttpResponse get(const std::string& target) const {
    return http_request("127.0.0.1", port_, "GET", target);
  }

  /// The vectors market as one tick per series, ts = now, via `riskd feed`.
  void feed_market() {
    const auto market = boost::json::parse(read_text(source_path("tests/data/vectors/market.json")));
    const auto now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    std::string crypto;
    std::string rates;
    for (const auto& [id, value] : market.at("series").as_object()) {
      const std::string line = R"({"series": ")" + std::string(id) + R"(", "value": )" + boost::json::serialize(value) +
                               R"(, "ts": )" + std::to_string(now_ms) + "}\n";
      (std::string(id) == "BTC-USD" ? crypto : rates) += line;
    }
    write_text(dir_ + "/crypto.jsonl", crypto);
    write_text(dir_ + "/rates.jsonl", rates);
    for (const auto& [file, topic] : {std::pair{"/crypto.jsonl", "md.crypto"}, std::pair{"/rates.jsonl", "md.rates"}}) {
      const auto r = run_command(
          {RISKD_BINARY, "feed", "--ticks", dir_ + file, "--topic", topic, "--bootstrap", bootstrap_}, dir_, 60s);
      REQUIRE_MESSAGE(r.exit_code == 0, "riskd feed failed: " << r.err);
    }
  }

 private:
  std::string dir_;
  std::string log_;
  std::string bootstrap_;
  std::unique_ptr<Child> broker_;  // declared first: destroyed after the daemon
  std::unique_ptr<Child> daemon_;
  unsigned short port_ = 0;
};

}  // namespace riskd::test::ops
