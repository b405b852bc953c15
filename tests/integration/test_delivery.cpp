// Alert delivery end to end: `riskd run` against a Kafka protocol peer (the
// `riskd broker` process, or an in-test mock cluster where a broker must go
// down), compared with `riskd replay` on the same ticks: the alerts topic,
// the signals topic, restarts after SIGKILL, commit gating, wall-clock
// staleness.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "delivery_support.hpp"

using namespace std::chrono_literals;
using riskd::test::Child;
using riskd::test::covenant_events;
using riskd::test::work_dir;
using riskd::test::event_id;
using riskd::test::eventually;
using riskd::test::json_diff;
using riskd::test::read_alerts;
using riskd::test::read_lines;
using riskd::test::read_text;
using riskd::test::read_topic;
using riskd::test::replay_events;
using riskd::test::Daemon;
using riskd::test::source_path;
using riskd::test::tick_ts;
using riskd::test::unique_name;

namespace {

const std::string k_ticks = source_path("tests/data/vectors/ticks.jsonl");

/// The vectors book (optionally edited) with Kafka, feeds and outputs: one
/// feed topic with one partition, so the daemon sees the file's order.
std::string write_config(const std::string& bootstrap, const std::string& group, const std::string& book_text,
                         const std::string& more_outputs = {}) {
  const std::string path = work_dir() + "/" + group + ".yaml";
  std::ofstream(path) << book_text << "\nkafka: {bootstrap_servers: \"" << bootstrap << "\", group_id: " << group
                      << "}\nfeeds: {topics: [md.feed], borrowers_topic: risk.borrowers, state_topic: riskd.state}\n"
                      << "outputs: {alerts_topic: risk.alerts, signals_topic: risk.signals" << more_outputs << "}\n"
                      << "http: {listen: \"127.0.0.1:0\"}\n";
  return path;
}

/// Writes lines [from, to) of `lines` to a file (for `riskd replay` of a prefix).
std::string write_ticks(const std::vector<std::string>& lines, std::size_t to) {
  const std::string path = work_dir() + "/" + unique_name("ticks") + ".jsonl";
  std::ofstream out(path);
  for (std::size_t i = 0; i < to; ++i) out << lines[i] << '\n';
  return path;
}

struct Env {
  std::string log = work_dir() + "/" + unique_name("delivery") + ".txt";
  std::unique_ptr<Child> broker;                       // `riskd broker`, or
  std::unique_ptr<riskd::feeds::MockCluster> cluster;  // an in-test cluster (fault injection)
  std::string bootstrap;
  std::string group = unique_name("riskd-delivery");
  std::string config_path;
  std::unique_ptr<riskd::feeds::KafkaProducer> producer;
  std::vector<std::string> lines = read_lines(k_ticks);

  /// `riskd broker` as a separate process (alerts topic with 3 partitions).
  explicit Env(const std::string& book_text = read_text(source_path("tests/data/vectors/book.yaml")),
               const std::string& more_outputs = {}) {
    broker = std::make_unique<Child>(
        std::vector<std::string>{RISKD_BINARY, "broker", "--topics",
                                 "md.feed,risk.borrowers,riskd.state,risk.alerts:3,risk.signals"},
        log);
    const auto line = broker->read_line(10s);
    REQUIRE_MESSAGE(line, "riskd broker printed no bootstrap address");
    bootstrap = *line;
    finish(book_text, more_outputs);
  }
  /// An in-test mock cluster of two brokers: everything on broker 1 except
  /// the alerts topic, led by broker 2 (which the test can take down).
  explicit Env(int /*two_brokers*/) {
    cluster = std::make_unique<riskd::feeds::MockCluster>(2);
    for (const char* t : {"md.feed", "risk.borrowers", "riskd.state", "risk.alerts", "risk.signals"}) {
      cluster->create_topic(t, 1);
      cluster->set_partition_leader(t, 0, std::string(t) == "risk.alerts" ? 2 : 1);
    }
    cluster->set_group_coordinator(group, 1);
    bootstrap = cluster->bootstrap_servers();
    finish(read_text(source_path("tests/data/vectors/book.yaml")));
  }

  void finish(const std::string& book_text, const std::string& more_outputs = {}) {
    config_path = write_config(bootstrap, group, book_text, more_outputs);
    producer = std::make_unique<riskd::feeds::KafkaProducer>(bootstrap, riskd::feeds::KafkaProperties{}, false);
  }

  /// Produces tick lines [from, to) in order to md.feed[0].
  void feed(std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      REQUIRE(producer->produce("md.feed", std::nullopt, lines[i], std::nullopt, 0));
    }
    REQUIRE(producer->flush(10s));
  }
  void feed_line(const std::string& line) {
    REQUIRE(producer->produce("md.feed", std::nullopt, line, std::nullopt, 0));
    REQUIRE(producer->flush(10s));
  }
};

/// Every event on the topic is one of replay's, equal in content; every
/// replay event is on the topic; repeats carry an equal (key, seq); per key
/// the topic order follows seq.
void check_against_replay(const std::vector<boost::json::object>& topic_events,
                          const std::vector<boost::json::object>& replay) {
  std::map<std::string, const boost::json::object*> want;
  for (const auto& ev : replay) want.emplace(event_id(ev), &ev);
  std::set<std::string> seen;
  std::size_t repeats = 0;
  std::map<std::string, std::int64_t> last_seq;
  for (const auto& ev : topic_events) {
    const std::string id = event_id(ev);
    const auto w = want.find(id);
    CHECK_MESSAGE(w != want.end(), "on the alerts topic but not in replay: " << boost::json::serialize(ev));
    if (w != want.end()) {
      CHECK_MESSAGE(json_diff(boost::json::value(ev), boost::json::value(*w->second), 1e-9) == "",
                    id << ": " << boost::json::serialize(ev) << " vs replay " << boost::json::serialize(*w->second));
    }
    if (!seen.insert(id).second) ++repeats;
    const std::string key(ev.at("key").as_string());
    const std::int64_t seq = ev.at("seq").to_number<std::int64_t>();
    const auto l = last_seq.find(key);
    if (l != last_seq.end()) {
      CHECK_MESSAGE(seq >= l->second, key << ": seq " << seq << " after " << l->second);
    }
    last_seq[key] = std::max(seq, l == last_seq.end() ? seq : l->second);
  }
  for (const auto& [id, ev] : want) CHECK_MESSAGE(seen.count(id) == 1, "replay event missing from the topic: " << id);
  MESSAGE(topic_events.size() << " covenant events on the topic, " << want.size() << " in replay, " << repeats
                              << " repeats (each with an equal key, seq and content)");
}

/// Waits until the alerts topic holds every replay event (or 60 s).
std::vector<boost::json::object> wait_for_alerts(const Env& env, const std::vector<boost::json::object>& replay) {
  std::vector<boost::json::object> got;
  std::set<std::string> want;
  for (const auto& ev : replay) want.insert(event_id(ev));
  eventually(
      [&] {
        got = covenant_events(read_alerts(env.bootstrap, "risk.alerts"));
        std::set<std::string> have;
        for (const auto& ev : got) have.insert(event_id(ev));
        return std::includes(have.begin(), have.end(), want.begin(), want.end());
      },
      60s);
  return got;
}

double ratio(const boost::json::value& v) {
  return v.is_null() ? std::numeric_limits<double>::infinity() : v.to_number<double>();
}

bool moved(double a, double b) {
  if (std::isinf(a) || std::isinf(b)) return a != b;
  return std::abs(b - a) > 1e-4 * std::abs(a);
}

std::optional<std::int64_t> committed_offset(const std::string& bootstrap, const std::string& group,
                                             const std::string& topic) {
  riskd::feeds::KafkaConsumer consumer(bootstrap, group, {});
  const auto c = consumer.committed({{topic, 0, 0}}, 10s);
  if (c.empty() || c[0].offset < 0) return std::nullopt;
  return c[0].offset;
}

}  // namespace

TEST_CASE("delivery: the alerts topic carries replay's transitions, signals are rate-limited per borrower") {
  Env env;
  Daemon d;
  d.start(env.config_path, env.log);
  env.feed(0, env.lines.size());
  const auto replay = replay_events(env.config_path, k_ticks);
  REQUIRE(replay.size() > 50);
  const auto got = wait_for_alerts(env, replay);
  check_against_replay(got, replay);
  CHECK(got.size() == replay.size());  // no restart: no repeat

  // A burst of BTC ticks 10 ms apart after the history: signals at most one
  // per 100 ms of event time per borrower.
  riskd::risk::TimeMs last_ts = 0;
  double btc = 0;
  for (const auto& line : env.lines) {
    if (const auto ts = tick_ts(line)) last_ts = std::max(last_ts, *ts);
    if (line.find("\"BTC-USD\"") != std::string::npos && tick_ts(line)) {
      const boost::json::value tick = boost::json::parse(line);  // owns what `v` points into
      const auto* v = tick.as_object().if_contains("value");
      if (v != nullptr && v->is_number() && v->to_number<double>() > 0) btc = v->to_number<double>();
    }
  }
  const riskd::risk::TimeMs burst_start = last_ts + 60'000;
  for (int i = 0; i < 40; ++i) {
    btc *= 1.002;
    env.feed_line(R"({"series": "BTC-USD", "value": )" + std::to_string(btc) + R"(, "ts": )" +
                  std::to_string(burst_start + 10 * i) + "}");
  }
  std::vector<riskd::feeds::KafkaMessage> signals;
  REQUIRE(eventually(
      [&] {
        signals = read_topic(env.bootstrap, "risk.signals");
        return std::any_of(signals.begin(), signals.end(), [&](const auto& m) {
          return m.value &&
                 m.value->find("\"at\": \"" + riskd::risk::format_rfc3339(burst_start + 300)) != std::string::npos;
        });
      },
      30s));
  std::map<std::string, std::vector<boost::json::object>> by_borrower;
  for (const auto& m : signals) {
    REQUIRE(m.key);
    REQUIRE(m.value);
    auto o = boost::json::parse(*m.value).as_object();
    CHECK(o.at("id").as_string() == *m.key);  // key = borrower id
    for (const char* field :
         {"ltv", "liquidation_ltv", "dscr", "debt_usd", "collateral", "breach", "stress", "alerts", "at"}) {
      CHECK_MESSAGE(o.contains(field), "signal without " << field);
    }
    by_borrower[*m.key].push_back(std::move(o));
  }
  CHECK(by_borrower.size() == 3);
  for (const auto& [id, list] : by_borrower) {
    std::size_t in_burst = 0;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const auto at = *riskd::risk::parse_rfc3339(std::string(list[i].at("at").as_string()));
      if (at >= burst_start) ++in_burst;
      if (i == 0) continue;
      const auto prev_at = *riskd::risk::parse_rfc3339(std::string(list[i - 1].at("at").as_string()));
      CHECK_MESSAGE(at - prev_at >= 100, id << ": signals " << prev_at << " and " << at << " less than 100 ms apart");
      bool any = false;
      for (const char* r : {"ltv", "liquidation_ltv", "dscr"}) {
        any = any || moved(ratio(list[i - 1].at(r)), ratio(list[i].at(r)));
      }
      CHECK_MESSAGE(any, id << ": a signal at " << list[i].at("at").as_string() << " with no ratio moved by 1e-4");
    }
    if (id == "cloud-b") continue;  // holds no BTC
    // 400 ms of ticks every 10 ms, each moving LTV by about 0.2 %: one
    // signal per 100 ms (at +0, +100, +200, +300 ms), not one per tick.
    CHECK_MESSAGE(in_burst >= 3, id << ": " << in_burst << " signals in the burst");
    CHECK_MESSAGE(in_burst <= 4, id << ": " << in_burst << " signals in the burst");
  }
}

TEST_CASE("delivery: SIGKILL at several points loses no transition, repeats only with equal key and seq") {
  Env env;
  const auto replay = replay_events(env.config_path, k_ticks);
  const std::size_t n = env.lines.size();
  const std::vector<std::size_t> cuts{n / 5, 2 * n / 5, 3 * n / 5, 4 * n / 5};
  std::size_t from = 0;
  for (std::size_t k = 0; k < cuts.size(); ++k) {
    Daemon d;
    d.start(env.config_path, env.log);
    const std::size_t before = covenant_events(read_alerts(env.bootstrap, "risk.alerts")).size();
    env.feed(from, cuts[k]);
    from = cuts[k];
    if (k % 2 == 0) {
      // Kill mid-stream: as soon as the first new event is on the topic.
      eventually([&] { return covenant_events(read_alerts(env.bootstrap, "risk.alerts")).size() > before; }, 20s);
    } else {
      // Kill after the 1 s market-state interval passed at least once.
      eventually([&] { return covenant_events(read_alerts(env.bootstrap, "risk.alerts")).size() > before; }, 20s);
      std::this_thread::sleep_for(1500ms);
    }
    d.child->signal(SIGKILL);
    REQUIRE(d.child->wait(10s));
  }
  Daemon last;
  last.start(env.config_path, env.log);
  env.feed(from, n);
  const auto got = wait_for_alerts(env, replay);
  check_against_replay(got, replay);
  // seq keeps growing across restarts: the keys with several transitions
  // reach replay's last seq (checked above), never restart at 1.
  std::map<std::string, std::int64_t> max_seq;
  for (const auto& ev : got) {
    auto& m = max_seq[std::string(ev.at("key").as_string())];
    m = std::max(m, ev.at("seq").to_number<std::int64_t>());
  }
  CHECK(std::any_of(max_seq.begin(), max_seq.end(), [](const auto& kv) { return kv.second >= 3; }));
  // The API lists exactly the alerts replay leaves firing, each with its
  // event (alerts restored as firing at a restart included).
  std::map<std::string, bool> firing_at_end;
  for (const auto& ev : replay)
    firing_at_end[std::string(ev.at("key").as_string())] = ev.at("state").as_string() == "firing";
  std::set<std::string> want_active;
  for (const auto& [key, firing] : firing_at_end) {
    if (firing) want_active.insert(key);
  }
  std::set<std::string> active;
  const auto final_as_of = riskd::risk::format_rfc3339(*tick_ts(env.lines[n - 1]));
  REQUIRE(last.wait_for("/api/v1/borrowers",
                        [&](const auto& r) {
                          return r.status == 200 &&
                                 r.body.find("\"as_of\": \"" + final_as_of + "\"") != std::string::npos;
                        })
              .status == 200);
  const auto active_doc = boost::json::parse(last.get("/api/v1/alerts").body);
  for (const auto& a : active_doc.as_array()) {
    const std::string key(a.at("key").as_string());
    CHECK_MESSAGE(!key.empty(), "an active alert without a key: " << boost::json::serialize(a));
    if (key.rfind("feed_stale:", 0) == 0) continue;
    active.insert(key);
    CHECK(a.at("state").as_string() == "firing");
    CHECK(a.at("borrower").as_string() == key.substr(0, key.find('/')));
  }
  CHECK(active == want_active);
  last.child->signal(SIGTERM);
  const auto code = last.child->wait(10s);
  REQUIRE(code);
  CHECK(*code == 0);
}

TEST_CASE(
    "delivery: with the alerts broker down, a graceful stop commits and persists nothing past unacknowledged events") {
  Env env(2);
  const std::size_t n = env.lines.size();
  const std::size_t part1 = n / 2;
  const auto replay_all = replay_events(env.config_path, k_ticks);
  const auto replay_part1 = replay_events(env.config_path, write_ticks(env.lines, part1));
  REQUIRE(replay_part1.size() < replay_all.size());
  // The offset of the first tick after part 1 that causes an event: the
  // first line (in file order = offset order) whose ts is that event's `at`.
  const auto first_new_at =
      *riskd::risk::parse_rfc3339(std::string(replay_all[replay_part1.size()].at("at").as_string()));
  std::int64_t gate = -1;
  for (std::size_t i = part1; i < n && gate < 0; ++i) {
    if (tick_ts(env.lines[i]) == first_new_at) gate = static_cast<std::int64_t>(i);
  }
  REQUIRE(gate >= 0);

  Daemon d;
  d.start(env.config_path, env.log);
  env.feed(0, part1);
  wait_for_alerts(env, replay_part1);
  // Part 1 acknowledged: its offsets get committed.
  REQUIRE(
      eventually([&] { return committed_offset(env.bootstrap, env.group, "md.feed") == std::int64_t(part1); }, 20s));

  env.cluster->set_broker_up(2, false);
  env.feed(part1, n);
  const std::string final_as_of = riskd::risk::format_rfc3339(*tick_ts(env.lines[n - 1]));
  REQUIRE(d.wait_for("/api/v1/borrowers", [&](const auto& r) {
             return r.status == 200 && r.body.find("\"as_of\": \"" + final_as_of + "\"") != std::string::npos;
           }).status == 200);
  std::this_thread::sleep_for(1500ms);  // a commit interval passes with the events unacknowledged
  const auto t0 = std::chrono::steady_clock::now();
  d.child->signal(SIGTERM);
  const auto code = d.child->wait(10s);
  REQUIRE_MESSAGE(code, "riskd run did not stop within 10 s with the alerts broker down");
  CHECK(*code == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
  const auto committed = committed_offset(env.bootstrap, env.group, "md.feed");
  REQUIRE(committed);
  CHECK(*committed >= std::int64_t(part1));
  CHECK_MESSAGE(*committed <= gate, "committed " << *committed << " past the tick at " << gate
                                                 << " whose events the broker never acknowledged");
  // The latest market state names no offset past it either.
  const auto states = read_topic(env.bootstrap, "riskd.state");
  REQUIRE(!states.empty());
  const auto state = boost::json::parse(*states.back().value);
  for (const auto& o : state.at("offsets").as_array()) {
    if (o.at("topic").as_string() == "md.feed") CHECK(o.at("next").to_number<std::int64_t>() <= gate);
  }

  // The broker comes back; a restart re-reads those ticks and delivers
  // every event, repeats only with equal (key, seq).
  env.cluster->set_broker_up(2, true);
  Daemon again;
  again.start(env.config_path, env.log);
  check_against_replay(wait_for_alerts(env, replay_all), replay_all);
  REQUIRE(eventually([&] { return committed_offset(env.bootstrap, env.group, "md.feed") == std::int64_t(n); }, 20s));
}

TEST_CASE("delivery: feed_stale fires on the wall clock when a series goes quiet and resolves on a fresh tick") {
  std::string book = read_text(source_path("tests/data/vectors/book.yaml"));
  const std::string btc = "BTC-USD: {max_jump: 0.12}";
  REQUIRE(book.find(btc) != std::string::npos);
  book.replace(book.find(btc), btc.size(), "BTC-USD: {max_jump: 0.12, stale_after_s: 2}");
  Env env(book);
  Daemon d;
  d.start(env.config_path, env.log);
  // The vectors market, stamped now.
  const auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const auto market = boost::json::parse(read_text(source_path("tests/data/vectors/market.json")));
  double btc_value = 0;
  for (const auto& [id, v] : market.at("series").as_object()) {
    if (id == "BTC-USD") btc_value = v.to_number<double>();
    env.feed_line(R"({"series": ")" + std::string(id) + R"(", "value": )" + boost::json::serialize(v) + R"(, "ts": )" +
                  std::to_string(now_ms()) + "}");
  }
  // No BTC tick for 2 s: the timer fires feed_stale:BTC-USD (event time has not moved).
  const auto alerts = d.wait_for("/api/v1/alerts", [](const auto& r) {
    return r.status == 200 && r.body.find("feed_stale:BTC-USD") != std::string::npos;
  });
  REQUIRE(alerts.body.find("feed_stale:BTC-USD") != std::string::npos);
  const auto series = boost::json::parse(d.get("/api/v1/series").body);
  for (const auto& s : series.as_array()) {
    if (s.at("id").as_string() == "BTC-USD") CHECK(s.at("stale").as_bool());
    if (s.at("id").as_string() == "SOFR") CHECK(!s.at("stale").as_bool());
  }
  const auto metrics = d.get("/metrics").body;
  CHECK(metrics.find("riskd_borrower_stale{borrower=\"miner-a\"} 1") != std::string::npos);
  CHECK(metrics.find("riskd_borrower_stale{borrower=\"cloud-b\"} 0") != std::string::npos);  // no BTC

  env.feed_line(R"({"series": "BTC-USD", "value": )" + std::to_string(btc_value) + R"(, "ts": )" +
                std::to_string(now_ms()) + "}");
  const auto resolved = d.wait_for("/api/v1/alerts", [](const auto& r) {
    return r.status == 200 && r.body.find("feed_stale:BTC-USD") == std::string::npos;
  });
  CHECK(resolved.body.find("feed_stale:BTC-USD") == std::string::npos);
  // Both transitions reached the alerts topic, in order.
  std::vector<boost::json::object> stale;
  eventually(
      [&] {
        stale.clear();
        for (auto& ev : read_alerts(env.bootstrap, "risk.alerts")) {
          if (ev.at("key").as_string() == "feed_stale:BTC-USD") stale.push_back(ev);
        }
        return stale.size() >= 2;
      },
      20s);
  REQUIRE(stale.size() >= 2);
  CHECK(stale[0].at("state").as_string() == "firing");
  CHECK(stale[0].at("borrower").is_null());
  CHECK(stale[0].at("seq").to_number<std::int64_t>() == 1);
  CHECK(stale[1].at("state").as_string() == "resolved");
  CHECK(stale[1].at("seq").to_number<std::int64_t>() == 2);
}

TEST_CASE("delivery: a failing webhook gets every breach once it recovers, in order, and a restart re-pages nothing") {
  riskd::test::WebhookReceiver hook;
  hook.set_status(500);  // failing on purpose from the start
  Env env(read_text(source_path("tests/data/vectors/book.yaml")),
          ", webhooks: [{url: \"http://127.0.0.1:" + std::to_string(hook.port()) + "/hook\", timeout_s: 2}]");
  const std::size_t n = env.lines.size();
  const std::size_t part1 = n / 2;
  const auto replay_all = replay_events(env.config_path, k_ticks);
  const auto replay_part1 = replay_events(env.config_path, write_ticks(env.lines, part1));
  const auto criticals = [](const std::vector<boost::json::object>& events) {
    std::set<std::string> ids;
    for (const auto& ev : events) {
      if (ev.at("severity").as_string() == "critical") ids.insert(event_id(ev));
    }
    return ids;
  };
  const auto delivered_ids = [&] {
    std::set<std::string> ids;
    for (const auto& body : hook.delivered()) ids.insert(event_id(boost::json::parse(body).as_object()));
    return ids;
  };

  Daemon d;
  d.start(env.config_path, env.log);
  env.feed(0, part1);
  REQUIRE(eventually([&] { return hook.refused() >= 3; }, 20s));  // the sink retries
  CHECK(hook.delivered().empty());
  hook.set_status(200);
  const auto want1 = criticals(replay_part1);
  REQUIRE(!want1.empty());
  REQUIRE(eventually(
      [&] {
        const auto got = delivered_ids();
        return std::includes(got.begin(), got.end(), want1.begin(), want1.end());
      },
      60s));
  wait_for_alerts(env, replay_part1);
  d.child->signal(SIGTERM);
  REQUIRE(d.child->wait(10s) == 0);
  const std::size_t before_restart = hook.delivered().size();

  Daemon again;
  again.start(env.config_path, env.log);
  env.feed(part1, n);
  const auto want_all = criticals(replay_all);
  REQUIRE(eventually(
      [&] {
        const auto got = delivered_ids();
        return std::includes(got.begin(), got.end(), want_all.begin(), want_all.end());
      },
      60s));
  check_against_replay(wait_for_alerts(env, replay_all), replay_all);
  // Outcomes are counted per sink.
  std::string metrics;
  eventually(
      [&] {
        metrics = again.get("/metrics").body;
        return metrics.find("sink=\"kafka\"") != std::string::npos &&
               metrics.find("sink=\"kafka_signals\"") != std::string::npos;
      },
      20s);
  const auto has_line = [&](const std::string& a, const std::string& b) {
    std::istringstream in(metrics);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("riskd_alert_notifications_total{", 0) == 0 && line.find(a) != std::string::npos &&
          line.find(b) != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  const auto notification_lines = [&] {
    std::string out;
    std::istringstream in(metrics);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("riskd_alert_notifications_total", 0) == 0) out += line + "\n";
    }
    return out;
  }();
  CHECK_MESSAGE(has_line("sink=\"kafka\"", "outcome=\"sent\""), notification_lines);
  CHECK_MESSAGE(has_line("sink=\"webhook\"", "outcome=\"sent\""), notification_lines);
  CHECK_MESSAGE(has_line("sink=\"kafka_signals\"", "outcome=\"sent\""), notification_lines);
  again.child->signal(SIGTERM);
  REQUIRE(again.child->wait(10s) == 0);

  std::map<std::string, const boost::json::object*> by_id;
  for (const auto& ev : replay_all) by_id.emplace(event_id(ev), &ev);
  std::map<std::string, std::int64_t> last_seq;
  std::set<std::string> seen;
  const auto bodies = hook.delivered();
  CHECK(bodies.size() > before_restart);
  for (const auto& body : bodies) {
    const auto ev = boost::json::parse(body).as_object();
    if (riskd::test::is_feed_rule(ev)) continue;  // wall-clock staleness: not in replay
    const std::string id = event_id(ev);
    CHECK_MESSAGE(seen.insert(id).second, "delivered twice (re-paged): " << id);
    const auto w = by_id.find(id);
    REQUIRE_MESSAGE(w != by_id.end(), "delivered but not in replay: " << body);
    CHECK(json_diff(boost::json::value(ev), boost::json::value(*w->second), 1e-9) == "");
    const std::string key(ev.at("key").as_string());
    const auto seq = ev.at("seq").to_number<std::int64_t>();
    CHECK_MESSAGE(seq > last_seq[key], key << ": seq " << seq << " delivered after " << last_seq[key]);
    last_seq[key] = seq;
  }
}
