#pragma once
// Small helpers shared by the benchmark programs.
#include <algorithm>
#include <cstdio>
#include <vector>

namespace riskd::bench {

/// The median of `v` (upper median for an even count); 0 for none.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

/// Lines in a file (kcat prints one message per line); 0 if unreadable.
inline std::size_t count_lines(const char* path) {
  std::FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return 0;
  std::size_t lines = 0;
  char buf[1 << 16];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) lines += static_cast<std::size_t>(std::count(buf, buf + n, '\n'));
  std::fclose(f);
  return lines;
}

}  // namespace riskd::bench
