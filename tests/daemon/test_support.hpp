#pragma once
// Helpers for daemon tests: run the riskd binary, read files, compare JSON
// numbers with a relative tolerance.
#include <boost/json.hpp>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace riskd::test {

inline std::string source_path(const std::string& rel) { return std::string(RISKD_SOURCE_DIR) + "/" + rel; }

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs `riskd ARGS` (ARGS already shell-quoted), capturing stdout and stderr.
inline RunResult run_riskd(const std::string& args) {
  static int counter = 0;
  // The pid keeps concurrent test processes (ctest -j) off each other's files.
  const std::string base = std::string(RISKD_BINARY_DIR) + "/tests/daemon/run-" + std::to_string(::getpid()) + "-" +
                           std::to_string(++counter);
  const std::string cmd = std::string(RISKD_BINARY) + " " + args + " >" + base + ".out 2>" + base + ".err";
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(base + ".out");
  r.err = read_text(base + ".err");
  return r;
}

/// Compares two JSON values: numbers to `rel` relative, arrays in order,
/// objects by key. Returns a path to the first difference, or "".
inline std::string json_diff(const boost::json::value& a, const boost::json::value& b, double rel,
                             const std::string& path = "$") {
  if (b.is_number()) {
    if (!a.is_number()) return path + ": expected a number";
    const double x = a.to_number<double>();
    const double y = b.to_number<double>();
    if (std::abs(x - y) > rel * std::max(1.0, std::abs(y))) {
      return path + ": " + std::to_string(x) + " != " + std::to_string(y);
    }
    return {};
  }
  if (b.kind() != a.kind()) return path + ": kinds differ";
  if (b.is_object()) {
    if (a.as_object().size() != b.as_object().size()) return path + ": key sets differ";
    for (const auto& [k, v] : b.as_object()) {
      const auto* other = a.as_object().if_contains(k);
      if (other == nullptr) return path + "." + std::string(k) + ": missing";
      if (auto d = json_diff(*other, v, rel, path + "." + std::string(k)); !d.empty()) return d;
    }
    return {};
  }
  if (b.is_array()) {
    if (a.as_array().size() != b.as_array().size()) return path + ": lengths differ";
    for (std::size_t i = 0; i < b.as_array().size(); ++i) {
      if (auto d = json_diff(a.as_array()[i], b.as_array()[i], rel, path + "[" + std::to_string(i) + "]"); !d.empty()) {
        return d;
      }
    }
    return {};
  }
  return a == b ? std::string{} : path + ": values differ";
}

}  // namespace riskd::test
