// riskd_bench: throughput of the risk engine, each figure beside its
// brute-force baseline measured in the same run. Median of --runs runs.
//   A. evaluate: 10,000 borrowers, full valuation + breach levels + document
//   B. BTC tick path: 100 borrowers, cached slow terms vs full re-evaluation
//   C. replay: 1,000,000 JSON ticks through Engine::apply, 100 borrowers;
//      and decoding them alone: decode_tick beside its parser path and the
//      DOM decoder it replaced
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../support/random_book.hpp"
#include "riskd/alerts/rules.hpp"
#include "riskd/daemon/engine.hpp"
#include "riskd/daemon/result_json.hpp"
#include "riskd/feeds/tick.hpp"
#include "riskd/risk/book.hpp"
#include "../feeds/tick_dom_reference.hpp"

using namespace riskd;
using Clock = std::chrono::steady_clock;

namespace {

const risk::TimeMs k_t0 = *risk::parse_date("2025-12-19");

risk::RiskConfig make_config(std::size_t borrowers, std::uint64_t seed) {
  return test::random_book_config(borrowers, seed, k_t0);
}

void set_market(risk::Book& book) {
  for (const auto& [settings, series] : test::random_series()) {
    const auto sid = *book.catalog().find(series.first);
    auto& st = book.catalog().state(sid);
    st.has_value = true;
    st.value = series.second;
    st.ts_ms = k_t0;
    book.on_series_applied(sid);
  }
  book.set_valuation_day(k_t0);
}

template <typename F>
double median_seconds(int runs, F&& f) {
  std::vector<double> s;
  for (int r = 0; r < runs; ++r) {
    const auto start = Clock::now();
    f();
    s.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(s.begin(), s.end());
  return s[s.size() / 2];
}

volatile double g_sink = 0.0;  // keeps results alive

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  std::size_t replay_ticks = 1'000'000;
  std::string only;  // "A", "B" or "C": run one section
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
    if (std::strcmp(argv[i], "--ticks") == 0 && i + 1 < argc) replay_ticks = std::strtoull(argv[++i], nullptr, 10);
  }
  std::printf("| benchmark | riskd | baseline (same run) | notes |\n|---|---|---|---|\n");

  if (only.empty() || only == "A") {  // A. evaluate 10,000 borrowers
    const auto cfg = make_config(10'000, 1);
    risk::Book book(cfg);
    set_market(book);
    const double eval_s = median_seconds(runs, [&] {
      book.set_valuation_day(k_t0 - risk::k_ms_per_day);  // force slow terms to be recomputed
      book.set_valuation_day(k_t0);
      book.revalue_all();
    });
    const double doc_s = median_seconds(runs, [&] {
      const std::string doc = daemon::result_document(
          book, k_t0, [&](std::size_t i) { return daemon::conditions_holding(book, i); }, 0);
      g_sink = g_sink + static_cast<double>(doc.size());
    });
    std::printf("| A. evaluate 10,000 borrowers, base + 3 scenarios (full valuation) | %.1f ms | | median of %d |\n",
                eval_s * 1e3, runs);
    std::printf("| A. evaluate document incl. breach levels, 10,000 borrowers | %.1f ms | | median of %d |\n",
                doc_s * 1e3, runs);
  }

  if (only.empty() || only == "B") {  // B. BTC tick path on 100 borrowers: cached slow terms vs brute force
    const auto cfg = make_config(100, 2);
    risk::Book book(cfg);
    set_market(book);
    book.revalue_all();
    const auto btc = *book.catalog().find("BTC-USD");
    const std::size_t ticks = 200'000;
    std::mt19937_64 rng(3);
    std::normal_distribution<double> step(0.0, 0.001);
    std::vector<double> path(ticks);
    double p = 88000.0;
    for (auto& x : path) x = p *= std::exp(step(rng));
    const double cached_s = median_seconds(runs, [&] {
      for (const double v : path) {
        book.catalog().state(btc).value = v;
        book.on_series_applied(btc);
        book.revalue_all();
      }
    });
    const auto& borrowers = book.borrowers();
    std::vector<std::vector<double>> markets(1 + book.scenarios().size());
    const double brute_s = median_seconds(runs, [&] {
      for (const double v : path) {
        std::vector<double> base(book.values().begin(), book.values().end());
        base[btc] = v;
        markets[0] = base;
        for (std::size_t k = 0; k < book.scenarios().size(); ++k) markets[1 + k] = book.shocked(book.scenario_ops(k), base);
        for (const auto& b : borrowers) {
          for (const auto& m : markets) g_sink = g_sink + book.valuer().evaluate(b, m, k_t0).ltv;
        }
      }
    });
    const double evals = static_cast<double>(ticks * borrowers.size());
    std::printf("| B. BTC ticks, 100 borrowers (base + 3 scenarios each) | %.2f M borrower-evals/s | %.3f M borrower-evals/s | median of %d, %zu ticks |\n",
                evals / cached_s / 1e6, evals / brute_s / 1e6, runs, ticks);
  }

  if (only.empty() || only == "C") {  // C. replay of JSON ticks through the engine
    const auto cfg = make_config(100, 4);
    std::vector<std::string> lines;
    lines.reserve(replay_ticks);
    std::mt19937_64 rng(5);
    std::normal_distribution<double> step(0.0, 0.0015);
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    std::vector<double> level;
    std::vector<std::string> names;
    for (const auto& [settings, series] : test::random_series()) {
      names.push_back(series.first);
      level.push_back(series.second);
    }
    risk::TimeMs ts = k_t0;
    for (std::size_t i = 0; i < replay_ticks; ++i) {
      // 90 % BTC, the rest spread over the other series (every series ticks early on).
      std::size_t s = i < names.size() ? i : (u01(rng) < 0.9 ? 0 : 1 + static_cast<std::size_t>(u01(rng) * 5.999));
      if (names[s] == "SOFR" || names[s] == "SPREAD") {
        level[s] += u01(rng) < 0.5 ? -1.0 : 1.0;
      } else {
        level[s] *= std::exp(step(rng));
      }
      ts += 100;
      char buf[160];
      std::snprintf(buf, sizeof buf, R"({"series": "%s", "value": %.6f, "ts": %lld})", names[s].c_str(), level[s],
                    static_cast<long long>(ts));
      lines.emplace_back(buf);
    }
    std::size_t events_total = 0;
    const double replay_s = median_seconds(runs, [&] {
      daemon::Engine engine(cfg);
      std::vector<alerts::AlertEvent> events;
      for (const auto& l : lines) {
        events.clear();
        engine.apply(l, std::nullopt, events);
        events_total += events.size();
      }
    });
    // Baseline: JSON decoding alone, the ceiling for any engine fed JSON ticks.
    const double decode_s = median_seconds(runs, [&] {
      for (const auto& l : lines) g_sink = g_sink + feeds::decode_tick(l, std::nullopt).tick->value;
    });
    // The decoders alone, on the same ticks: decode_tick (its fast path takes
    // these), its Boost.JSON parser path, and the DOM decoder before both.
    const double parser_s = median_seconds(runs, [&] {
      for (const auto& l : lines) g_sink = g_sink + feeds::detail::decode_tick_parser(l, std::nullopt).tick->value;
    });
    const double dom_s = median_seconds(runs, [&] {
      for (const auto& l : lines) g_sink = g_sink + feeds::reference::decode_tick_dom(l, std::nullopt).tick->value;
    });
    const double n = static_cast<double>(lines.size());
    std::printf("| C. replay %zu JSON ticks, 100 borrowers (decode, validate, evaluate, alerts) | %.2f M ticks/s = %.1f M borrower-evals/s | %.2f M ticks/s (decode only) | median of %d; %.2f s per run |\n",
                lines.size(), n / replay_s / 1e6, n * 100 / replay_s / 1e6, n / decode_s / 1e6, runs, replay_s);
    std::printf("| C. decoding one of those ticks (`%s`) | decode_tick %.0f ns | Boost.JSON parser path %.0f ns, DOM decoder %.0f ns | median of %d |\n",
                lines.front().c_str(), decode_s / n * 1e9, parser_s / n * 1e9, dom_s / n * 1e9, runs);
    g_sink = g_sink + static_cast<double>(events_total);
  }
  return 0;
}
