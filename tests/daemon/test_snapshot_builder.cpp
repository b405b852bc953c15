// Incremental publication (issue 5 item 4): on random books and random tick
// paths, with upserts, removals, restored alert states and a config reload
// (a new engine) along the way, every snapshot of the incremental
// SnapshotBuilder equals build_snapshot() from scratch on the same engine:
// every borrower view (JSON, figures, breach levels, stress, firing alerts,
// stale, rank), the active alerts, the waiting borrowers, the series, the
// metrics exposition and the stream messages. Each view's lazily rendered
// JSON equals write_borrower() (the JsonText path of `riskd evaluate`), the
// stream's numeric diff equals a diff of the texts, the engine-thread build
// renders no JSON, and several threads rendering one snapshot at once get
// the same text (run under ASan: build-*-asan).
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/random_book.hpp"
#include "riskd/daemon/engine.hpp"
#include "riskd/daemon/metrics.hpp"
#include "riskd/daemon/result_json.hpp"
#include "riskd/daemon/snapshot_builder.hpp"
#include "riskd/daemon/stream_hub.hpp"
#include "riskd/risk/json_text.hpp"

using namespace riskd;

namespace {

const risk::TimeMs k_t0 = *risk::parse_date("2025-12-19");

bool same(double a, double b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

void check_same_alerts(const daemon::AlertList& got, const daemon::AlertList& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    INFO("alert ", want[k].key);
    CHECK(got[k].key == want[k].key);
    CHECK(got[k].borrower == want[k].borrower);
    CHECK(got[k].rule == want[k].rule);
    CHECK(got[k].severity == want[k].severity);
    CHECK(got[k].firing == want[k].firing);
    CHECK(got[k].seq == want[k].seq);
    CHECK(got[k].at_ms == want[k].at_ms);
    CHECK(same(got[k].value, want[k].value));
    CHECK(same(got[k].threshold, want[k].threshold));
  }
}

/// The exposition without its wall-clock lines.
std::string metrics_text(const daemon::SnapshotPtr& snap, config::BorrowerSeries mode, std::size_t cap) {
  daemon::Metrics m([snap] { return snap; }, mode, "test");
  m.set_max_alerting_borrowers(cap);
  std::istringstream in(m.render());
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("riskd_snapshot_age_seconds ", 0) == 0) continue;
    if (line.rfind("riskd_config_last_reload_timestamp_seconds ", 0) == 0) continue;  // construction time
    out += line;
    out += '\n';
  }
  return out;
}

bool same_level(const std::optional<double>& a, const std::optional<double>& b) {
  return a.has_value() == b.has_value() && (!a || same(*a, *b));
}

/// Borrower `view`'s object as `riskd evaluate` writes it (JsonText).
std::string evaluate_json(const daemon::Engine& e, const daemon::BorrowerView& view) {
  std::vector<daemon::AlertRef> refs;
  for (const auto& a : view.firing_alerts()) refs.push_back({a.rule, a.severity});
  risk::JsonText j;
  daemon::write_borrower(j, e.book(), view.name_index, refs);
  return j.take();
}

void check_same_snapshot(const daemon::Snapshot& got, const daemon::Snapshot& want, daemon::Engine& e) {
  CHECK(got.event_time_ms == want.event_time_ms);
  CHECK(got.valuation_day_ms == want.valuation_day_ms);
  CHECK(got.not_evaluated == want.not_evaluated);
  CHECK(got.not_ready_reasons == want.not_ready_reasons);
  REQUIRE(got.borrowers.size() == want.borrowers.size());
  for (std::size_t i = 0; i < want.borrowers.size(); ++i) {
    const daemon::BorrowerView& a = got.borrowers[i];
    const daemon::BorrowerView& b = want.borrowers[i];
    INFO("borrower ", b.id());
    REQUIRE(a.id() == b.id());
    REQUIRE(e.book().borrowers()[a.name_index].id == a.id());
    CHECK(a.json() == b.json());
    CHECK(a.json() == evaluate_json(e, a));
    CHECK(same(a.figures.ltv, b.figures.ltv));
    CHECK(same(a.figures.dscr, b.figures.dscr));
    CHECK(same(a.figures.mark_usd, b.figures.mark_usd));
    CHECK(same(a.figures.liquidation_ltv, b.figures.liquidation_ltv));
    REQUIRE(a.breach.price_usd.size() == b.breach.price_usd.size());
    for (std::size_t k = 0; k < b.breach.price_usd.size(); ++k) {
      CHECK(a.names->series[a.breach.price_usd[k].first] == b.names->series[b.breach.price_usd[k].first]);
      CHECK(same_level(a.breach.price_usd[k].second, b.breach.price_usd[k].second));
    }
    REQUIRE(a.breach.gpu_index_usd_per_gpu_hour.size() == b.breach.gpu_index_usd_per_gpu_hour.size());
    for (std::size_t k = 0; k < b.breach.gpu_index_usd_per_gpu_hour.size(); ++k) {
      CHECK(same_level(a.breach.gpu_index_usd_per_gpu_hour[k].second, b.breach.gpu_index_usd_per_gpu_hour[k].second));
    }
    CHECK(same_level(a.breach.spread_bps, b.breach.spread_bps));
    REQUIRE(a.stress.size() == b.stress.size());
    REQUIRE(a.names->scenarios == b.names->scenarios);
    for (std::size_t k = 0; k < b.stress.size(); ++k) {
      CHECK(same(a.stress[k].ltv, b.stress[k].ltv));
      CHECK(same(a.stress[k].liquidation_ltv, b.stress[k].liquidation_ltv));
      CHECK(same(a.stress[k].dscr, b.stress[k].dscr));
    }
    check_same_alerts(a.firing_alerts(), b.firing_alerts());
    CHECK(a.stale == b.stale);
    CHECK(a.worst_severity == b.worst_severity);
    CHECK(same(a.breach_depth, b.breach_depth));
    CHECK(got.find(b.id()) == &a);
  }
  const daemon::AlertList active = got.active_alert_list();
  CHECK(got.active_alerts.count == active.size());
  check_same_alerts(active, want.active_alert_list());
  check_same_alerts(active, e.active_alerts());  // the engine's own sorted list
  REQUIRE(got.series.size() == want.series.size());
  for (std::size_t s = 0; s < want.series.size(); ++s) {
    CHECK(got.series[s].id == want.series[s].id);
    CHECK(same(got.series[s].value, want.series[s].value));
    CHECK(got.series[s].stale == want.series[s].stale);
  }
}

struct Path {
  risk::RiskConfig config;
  std::vector<feeds::Tick> ticks;
};

Path random_path(std::uint64_t seed, std::size_t borrowers, std::size_t ticks) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  Path p;
  risk::RiskConfig& cfg = p.config;
  for (const auto& [settings, series] : test::random_series()) cfg.series[series.first] = settings;
  cfg.series["GPU-A100"].stale_after_s = 3 * 3600;  // feed_stale fires and resolves in event time
  cfg.alerting.for_s = seed % 2 == 0 ? 0.0 : 600.0;
  cfg.alerting.ltv_hysteresis = 0.01;
  cfg.alerting.warn_ltv_margin = 0.05;
  cfg.scenarios = {risk::Scenario{"btc_crash", {{"BTC-USD", -0.6}}},
                   risk::Scenario{"rent_collapse", {{"@gpu_rent", -0.5}, {"@spread", 250.0}}}};
  for (std::size_t i = 0; i < borrowers; ++i) {
    risk::BorrowerSpec b = test::random_borrower(rng, k_t0, "b" + std::to_string(i));
    b.covenants.max_ltv = 0.2 + 1.2 * u01(rng);  // near the ratios: rules fire and resolve
    cfg.borrowers.push_back(std::move(b));
  }
  std::vector<std::pair<std::string, double>> level;
  for (const auto& [settings, series] : test::random_series()) level.push_back(series);
  risk::TimeMs ts = k_t0 + 3600 * 1000;
  for (const auto& [id, v] : level) p.ticks.push_back(feeds::Tick{id, v, ts});
  std::normal_distribution<double> step(0.0, 0.03);
  for (std::size_t k = 0; k < ticks; ++k) {
    ts += static_cast<risk::TimeMs>(1000 * (1 + 120 * u01(rng)));
    if (u01(rng) < 0.004) ts += risk::k_ms_per_day;  // day roll
    const double which = u01(rng);
    // Mostly BTC; GPU-A100 rarely, so that it goes stale and recovers.
    const std::size_t s = which < 0.6 ? 0 : which < 0.8 ? 1 : which < 0.82 ? 2 : 3 + static_cast<std::size_t>(u01(rng) * 3.999);
    auto& [id, v] = level[std::min(s, level.size() - 1)];
    if (id == "SOFR" || id == "SPREAD") {
      v = std::max(1.0, v + (u01(rng) < 0.5 ? -25.0 : 25.0));
    } else {
      v *= std::exp(step(rng));
    }
    p.ticks.push_back(feeds::Tick{id, v, ts});
  }
  return p;
}

}  // namespace

TEST_CASE("incremental snapshots equal from-scratch snapshots on random books, updates and reloads") {
  std::size_t builds = 0;
  std::size_t partial_builds = 0;  // incremental builds that rebuilt fewer views than the book has
  std::size_t stale_flips = 0;
  std::size_t stream_checks = 0;
  std::size_t text_diffs = 0;  // changed borrower objects seen by the text diff
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    INFO("seed ", seed);
    const Path path = random_path(seed, 40, 1500);
    std::mt19937_64 rng(seed * 101);
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    auto engine = std::make_unique<daemon::Engine>(path.config, daemon::StalenessClock::event_time);
    daemon::SnapshotBuilder builder;
    daemon::SnapshotPtr prev_incremental;
    daemon::SnapshotPtr prev_scratch;
    bool prev_stale = false;
    std::vector<alerts::AlertEvent> events;
    std::size_t extra = 0;
    for (std::size_t k = 0; k < path.ticks.size(); ++k) {
      events.clear();
      engine->apply_tick(path.ticks[k], events);
      const double r = u01(rng);
      if (r < 0.004) {  // a borrower replaced (new covenants) or added
        risk::BorrowerSpec b = test::random_borrower(rng, k_t0, u01(rng) < 0.5 ? "b3" : "x" + std::to_string(extra++));
        b.covenants.max_ltv = 0.3 + u01(rng);
        engine->upsert_borrower(b);
      } else if (r < 0.006) {
        engine->remove_borrower("b" + std::to_string(static_cast<int>(u01(rng) * 40)));
      } else if (r < 0.007) {  // the alert states restored as they are
        engine->restore_alert_states(engine->alert_states(), engine->last_events());
      } else if (r < 0.008) {  // a config reload: a new engine takes over the market
        auto fresh = std::make_unique<daemon::Engine>(path.config, daemon::StalenessClock::event_time);
        fresh->adopt_market(*engine);
        fresh->restore_alert_states(engine->alert_states(), engine->last_events());
        engine = std::move(fresh);
      }
      if (u01(rng) > 0.15) continue;  // publish now and then
      const daemon::SnapshotPtr got = builder.build(*engine, k, 0);
      const daemon::SnapshotPtr want = daemon::build_snapshot(*engine, k, 0);
      ++builds;
      if (!builder.last_was_full() && builder.last_rebuilt() < got->borrowers.size()) ++partial_builds;
      bool any_stale = false;
      for (const auto& s : want->series) any_stale = any_stale || s.stale;
      if (any_stale != prev_stale) ++stale_flips;
      prev_stale = any_stale;
      check_same_snapshot(*got, *want, *engine);
      if (k % 5 == 0) {
        // The whole document, byte for byte as `riskd evaluate` writes it.
        const auto alerts_of = [&](std::size_t i) {
          std::vector<daemon::AlertRef> refs;
          const daemon::BorrowerView* v = got->find(engine->book().borrowers()[i].id);
          if (v != nullptr) {
            for (const auto& a : v->firing_alerts()) refs.push_back({a.rule, a.severity});
          }
          return refs;
        };
        CHECK(got->result_document() == daemon::result_document(engine->book(), got->event_time_ms, alerts_of, 0));
        for (const std::size_t cap : {std::size_t{3}, std::size_t{5'000}}) {
          CHECK(metrics_text(got, config::BorrowerSeries::alerting, cap) ==
                metrics_text(want, config::BorrowerSeries::alerting, cap));
        }
        CHECK(metrics_text(got, config::BorrowerSeries::all, 3) == metrics_text(want, config::BorrowerSeries::all, 3));
      }
      if (prev_incremental) {  // the stream sends what changed, judged by pointers, as by JSON
        const auto a = daemon::stream_messages(prev_incremental.get(), *got);
        const auto b = daemon::stream_messages(prev_scratch.get(), *want);
        REQUIRE(a.size() == b.size());
        for (std::size_t m = 0; m < a.size(); ++m) CHECK(*a[m] == *b[m]);
        // The numeric diff (BorrowerView::same_json) equals a diff of the texts.
        bool same_ids = got->borrowers.size() == prev_scratch->borrowers.size();
        for (std::size_t i = 0; same_ids && i < got->borrowers.size(); ++i) {
          same_ids = got->borrowers[i].id() == prev_scratch->borrowers[i].id();
        }
        if (same_ids) {
          std::vector<std::string> by_text;
          for (std::size_t i = 0; i < got->borrowers.size(); ++i) {
            if (got->borrowers[i].json() != prev_scratch->borrowers[i].json()) by_text.push_back(got->borrowers[i].json());
          }
          const auto c = daemon::stream_messages(prev_scratch.get(), *got);  // other name tables
          REQUIRE(c.size() == by_text.size());
          REQUIRE(a.size() == by_text.size());
          for (std::size_t m = 0; m < c.size(); ++m) {
            CHECK(*c[m] == by_text[m]);
            CHECK(*a[m] == by_text[m]);
          }
          text_diffs += by_text.size();
        }
        ++stream_checks;
      }
      prev_incremental = got;
      prev_scratch = want;
    }
  }
  MESSAGE(builds, " builds, ", partial_builds, " partial, ", stale_flips, " stale flips, ", stream_checks,
          " stream diffs, ", text_diffs, " changed objects");
  CHECK(builds > 500);
  CHECK(partial_builds > builds / 4);  // the builder really is incremental
  CHECK(stale_flips > 0);              // staleness flips were exercised
  CHECK(text_diffs > builds);          // the text diff compared real changes
}

TEST_CASE("an unchanged engine republishes the same views, chunks and layout") {
  const Path path = random_path(7, 600, 50);
  daemon::Engine e(path.config, daemon::StalenessClock::event_time);
  std::vector<alerts::AlertEvent> events;
  for (const auto& t : path.ticks) e.apply_tick(t, events);
  daemon::SnapshotBuilder builder;
  const daemon::SnapshotPtr first = builder.build(e, 1, 0);
  CHECK(builder.last_was_full());
  const daemon::SnapshotPtr second = builder.build(e, 2, 0);
  CHECK_FALSE(builder.last_was_full());
  CHECK(builder.last_rebuilt() == 0);
  REQUIRE(first->borrowers.size() == second->borrowers.size());
  REQUIRE(first->borrowers.size() > daemon::BorrowerList::k_chunk);
  CHECK(first->layout == second->layout);
  for (std::size_t c = 0; c < first->borrowers.chunk_count(); ++c) CHECK(second->borrowers.same_chunk(first->borrowers, c));
  CHECK(daemon::stream_messages(first.get(), *second).empty());
  // A GPU index tick changes only that index's dependents.
  events.clear();
  e.apply_tick(feeds::Tick{"GPU-A100", 1.7, e.event_time_ms() + 1000}, events);
  const daemon::SnapshotPtr third = builder.build(e, 3, 0);
  CHECK_FALSE(builder.last_was_full());
  CHECK(builder.last_rebuilt() > 0);
  CHECK(builder.last_rebuilt() < third->borrowers.size());
  std::size_t shared = 0;
  for (std::size_t i = 0; i < third->borrowers.size(); ++i) shared += third->borrowers.ptr(i) == second->borrowers.ptr(i);
  CHECK(shared == third->borrowers.size() - builder.last_rebuilt());
  // The published snapshot is untouched by later builds.
  for (std::size_t i = 0; i < second->borrowers.size(); ++i) CHECK(second->borrowers.ptr(i) == first->borrowers.ptr(i));
}

TEST_CASE("the engine-thread build renders no JSON: views are rendered by their first reader, once") {
  const Path path = random_path(11, 300, 200);
  daemon::Engine e(path.config, daemon::StalenessClock::event_time);
  std::vector<alerts::AlertEvent> events;
  for (const auto& t : path.ticks) e.apply_tick(t, events);
  daemon::SnapshotBuilder builder;
  const auto rendered = [](const daemon::Snapshot& s) {
    std::size_t n = 0;
    s.borrowers.for_each([&](const daemon::BorrowerView& v) { n += v.json_rendered() ? 1 : 0; });
    return n;
  };
  const daemon::SnapshotPtr first = builder.build(e, 1, 0);
  REQUIRE(first->borrowers.size() > 100);
  CHECK(rendered(*first) == 0);
  // A reader renders one view: only that one, and the text stays put.
  const std::string& text = first->borrowers[5].json();
  CHECK(first->borrowers[5].json_rendered());
  CHECK(rendered(*first) == 1);
  CHECK(&first->borrowers[5].json() == &text);
  CHECK(text == evaluate_json(e, first->borrowers[5]));
  // A BTC tick rebuilds most views; the build renders none of them, and the
  // metrics exposition does not render JSON either.
  events.clear();
  e.apply_tick(feeds::Tick{"BTC-USD", 50'000.0, e.event_time_ms() + 1000}, events);
  const daemon::SnapshotPtr second = builder.build(e, 2, 0);
  CHECK(builder.last_rebuilt() > second->borrowers.size() / 2);
  std::size_t fresh = 0;
  for (std::size_t i = 0; i < second->borrowers.size(); ++i) {
    if (second->borrowers.ptr(i) == first->borrowers.ptr(i)) continue;
    ++fresh;
    CHECK_FALSE(second->borrowers[i].json_rendered());
  }
  CHECK(fresh == builder.last_rebuilt());
  (void)metrics_text(second, config::BorrowerSeries::all, 5'000);
  CHECK(rendered(*second) <= 1);
  // The stream diff renders exactly the changed views, and the result
  // document then renders the rest.
  const auto messages = daemon::stream_messages(first.get(), *second);
  CHECK(!messages.empty());
  CHECK(rendered(*second) >= messages.size());
  CHECK(rendered(*second) <= messages.size() + 1);
  (void)second->result_document();
  CHECK(rendered(*second) == second->borrowers.size());
}

TEST_CASE("several threads reading one fresh snapshot at once render the same text") {
  const Path path = random_path(12, 700, 300);
  daemon::Engine e(path.config, daemon::StalenessClock::event_time);
  std::vector<alerts::AlertEvent> events;
  for (const auto& t : path.ticks) e.apply_tick(t, events);
  daemon::SnapshotBuilder builder;
  const daemon::SnapshotPtr prev = builder.build(e, 1, 0);
  events.clear();
  e.apply_tick(feeds::Tick{"BTC-USD", 61'000.0, e.event_time_ms() + 1000}, events);
  const daemon::SnapshotPtr snap = builder.build(e, 2, 0);  // nothing rendered yet
  // The expected text from an independent build, rendered on this thread.
  const daemon::SnapshotPtr reference = daemon::build_snapshot(e, 2, 0);
  const std::string want_doc = reference->result_document();
  const std::string want_metrics = metrics_text(reference, config::BorrowerSeries::all, 5'000);
  const std::vector<daemon::StreamMessage> want_stream = daemon::stream_messages(prev.get(), *reference);

  constexpr int k_threads = 6;
  std::vector<std::string> docs(k_threads);
  std::vector<std::string> metrics(k_threads);
  std::vector<std::vector<daemon::StreamMessage>> streams(k_threads);
  std::vector<std::size_t> view_mismatches(k_threads, 0);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < k_threads) std::this_thread::yield();  // start together
      const std::size_t n = snap->borrowers.size();
      switch (t % 3) {  // each reader walks the views in its own order
        case 0: docs[t] = snap->result_document(); break;
        case 1: metrics[t] = metrics_text(snap, config::BorrowerSeries::all, 5'000); break;
        default: streams[t] = daemon::stream_messages(prev.get(), *snap); break;
      }
      for (std::size_t k = 0; k < n; ++k) {
        const std::size_t i = t % 2 == 0 ? k : n - 1 - k;
        if (snap->borrowers[i].json() != reference->borrowers[i].json()) ++view_mismatches[t];
      }
      if (docs[t].empty()) docs[t] = snap->result_document();
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < k_threads; ++t) {
    INFO("thread ", t);
    CHECK(view_mismatches[t] == 0);
    CHECK(docs[t] == want_doc);
    if (t % 3 == 1) CHECK(metrics[t] == want_metrics);
    if (t % 3 == 2) {
      REQUIRE(streams[t].size() == want_stream.size());
      for (std::size_t m = 0; m < want_stream.size(); ++m) CHECK(*streams[t][m] == *want_stream[m]);
    }
  }
  CHECK(want_stream.size() > 0);
}

namespace {

/// append_number as it was before the allocation-free rewrite (std::string
/// digits, atoi): the reference for the layout of every number.
std::string reference_number(double v) {
  std::string out;
  if (!std::isfinite(v)) return "null";
  if (v == 0.0) return std::signbit(v) ? "-0.0" : "0.0";
  std::array<char, 64> buf{};
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::scientific);
  std::string_view sci(buf.data(), static_cast<std::size_t>(res.ptr - buf.data()));
  const bool negative = sci.front() == '-';
  if (negative) sci.remove_prefix(1);
  const std::size_t e_pos = sci.find('e');
  std::string digits;
  for (const char c : sci.substr(0, e_pos)) {
    if (c != '.') digits += c;
  }
  const int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  if (negative) out += '-';
  const auto n = static_cast<int>(digits.size());
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0.";
      out.append(static_cast<std::size_t>(-exponent - 1), '0');
      out += digits;
    } else if (exponent + 1 >= n) {
      out += digits;
      out.append(static_cast<std::size_t>(exponent + 1 - n), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<std::size_t>(exponent + 1));
      out += '.';
      out += digits.substr(static_cast<std::size_t>(exponent + 1));
    }
  } else {
    out += digits[0];
    if (n > 1) {
      out += '.';
      out += digits.substr(1);
    }
    out += 'e';
    out += exponent < 0 ? '-' : '+';
    const int a = std::abs(exponent);
    if (a < 10) out += '0';
    out += std::to_string(a);
  }
  return out;
}

}  // namespace

TEST_CASE("the view JSON writer's numbers keep the layout of the reference writer") {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  std::vector<double> values = {1e16,    9999999999999998.0, 1e-4, 0.00009999, 1e-5,   5e-324, 1.7976931348623157e308,
                                -2.5,    123456789012345678.0, 0.1,  1.0 / 3.0,  1e22,  -1e-7,  65.0,
                                1.25e9,  0.6499999999999999};
  for (int k = 0; k < 200'000; ++k) {
    values.push_back(std::bit_cast<double>(rng()));                        // any bit pattern
    values.push_back((u01(rng) - 0.5) * std::pow(10.0, u01(rng) * 40 - 20));  // around the layout switches
    values.push_back(std::round(u01(rng) * 1e6) / 100.0);                  // money-like
  }
  std::size_t mismatches = 0;
  for (const double v : values) {
    if (risk::format_number(v) != reference_number(v)) {
      const std::string what = risk::format_number(v) + " vs " + reference_number(v);
      if (++mismatches < 10) FAIL_CHECK(what);
    }
  }
  CHECK(mismatches == 0);
}
