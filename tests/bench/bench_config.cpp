// riskd_bench_config: parse_borrower on borrower documents as the borrowers
// topic carries them (plain JSON), through the JSON path beside the YAML
// parser alone (the same documents with a trailing comment, which is not
// JSON), in the same run. CPU time of this thread, median of --runs runs.
//   riskd_bench_config [--docs 2000] [--runs 5]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../support/borrower_json.hpp"
#include "../support/random_book.hpp"
#include "riskd/config/config.hpp"

namespace {

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// Median CPU microseconds per document of parsing every one of `docs`.
double median_us_per_doc(const std::vector<std::string>& docs, int runs,
                         const std::map<std::string, riskd::risk::SeriesKind>& known) {
  std::vector<double> us;
  std::size_t facilities = 0;
  for (int r = 0; r < runs; ++r) {
    const double t0 = thread_cpu_s();
    for (const auto& d : docs) facilities += riskd::config::parse_borrower(d, "bench", known, nullptr).facilities.size();
    us.push_back((thread_cpu_s() - t0) * 1e6 / static_cast<double>(docs.size()));
  }
  if (facilities == 0) std::abort();  // keeps the parses alive
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 2000;
  int runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--docs") == 0) n = std::strtoul(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::atoi(argv[i + 1]);
  }
  std::mt19937_64 rng(2);
  const riskd::risk::TimeMs t_ms = *riskd::risk::parse_date("2025-12-19");
  std::vector<std::string> json, yaml;
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < n; ++i) {
    json.push_back(riskd::test::borrower_json(riskd::test::random_borrower(rng, t_ms, "b" + std::to_string(i))));
    yaml.push_back(json.back() + "\n# not JSON: read by the YAML parser");
    bytes += json.back().size();
  }
  std::map<std::string, riskd::risk::SeriesKind> known;
  for (const auto& [settings, series] : riskd::test::random_series()) known[series.first] = *settings.kind;
  // Interleaved, so that both sides see the same machine load.
  std::vector<double> via_json, via_yaml;
  for (int r = 0; r < runs; ++r) {
    via_json.push_back(median_us_per_doc(json, 1, known));
    via_yaml.push_back(median_us_per_doc(yaml, 1, known));
  }
  std::sort(via_json.begin(), via_json.end());
  std::sort(via_yaml.begin(), via_yaml.end());
  const double j = via_json[via_json.size() / 2];
  const double y = via_yaml[via_yaml.size() / 2];
  std::printf("| benchmark | JSON path | YAML parser alone (same run) | ratio |\n|---|---|---|---|\n");
  std::printf("| parse_borrower, %zu random borrower documents (%.0f bytes each), CPU per document, median of %d | "
              "%.1f us | %.1f us | %.2fx |\n",
              n, static_cast<double>(bytes) / static_cast<double>(n), runs, j, y, y / j);
}
