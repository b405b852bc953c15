// The Kafka wrappers against a real Kafka protocol peer: librdkafka's mock
// cluster over TCP on 127.0.0.1, in process and as the `riskd broker` process.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "riskd/feeds/kafka.hpp"

extern char** environ;

using riskd::feeds::k_offset_beginning;
using riskd::feeds::k_offset_stored;
using riskd::feeds::KafkaConsumer;
using riskd::feeds::KafkaError;
using riskd::feeds::KafkaMessage;
using riskd::feeds::KafkaProducer;
using riskd::feeds::MockCluster;
using riskd::feeds::TopicPartition;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto k_wait = 10s;  // bound of every wait on the cluster

/// Polls until `count` messages arrived or k_wait passed.
std::vector<KafkaMessage> consume(KafkaConsumer& consumer, std::size_t count) {
  std::vector<KafkaMessage> out;
  const auto deadline = Clock::now() + k_wait;
  while (out.size() < count && Clock::now() < deadline) consumer.poll(out, count - out.size(), 200ms);
  return out;
}

/// A consumer whose errors are collected rather than printed.
struct TestConsumer {
  std::vector<std::string> errors;
  KafkaConsumer consumer;

  TestConsumer(const std::string& bootstrap, const std::string& group = "riskd-test",
               const riskd::feeds::KafkaProperties& props = {})
      : consumer(bootstrap, group, props) {
    consumer.on_error([this](const std::string& e) { errors.push_back(e); });
  }
};

std::vector<TopicPartition> all_partitions(KafkaConsumer& consumer, const std::string& topic, std::int64_t offset) {
  std::vector<TopicPartition> tps;
  for (const auto p : consumer.partitions(topic, k_wait)) tps.push_back({topic, p, offset});
  return tps;
}

void produce_n(const std::string& bootstrap, const std::string& topic, int n, std::int32_t partition) {
  KafkaProducer producer(bootstrap, {}, true);
  for (int i = 0; i < n; ++i) {
    REQUIRE(producer.produce(topic, "k", "v" + std::to_string(i), std::nullopt, partition));
  }
  REQUIRE(producer.flush(k_wait));
  REQUIRE(producer.delivered() == static_cast<std::uint64_t>(n));
}

}  // namespace

TEST_CASE("the mock cluster listens on 127.0.0.1 and creates topics with their partition count") {
  MockCluster cluster(3);
  const auto bootstrap = cluster.bootstrap_servers();
  CHECK(bootstrap.rfind("127.0.0.1:", 0) == 0);
  cluster.create_topic("three", 3);
  TestConsumer c(bootstrap);
  CHECK(c.consumer.partitions("three", k_wait) == std::vector<std::int32_t>{0, 1, 2});
  CHECK_THROWS_AS(cluster.create_topic("zero", 0), KafkaError);
}

TEST_CASE("a round trip keeps per-partition order, keys, null keys, tombstones, empty values and timestamps") {
  MockCluster cluster;
  cluster.create_topic("rt", 3);
  const auto bootstrap = cluster.bootstrap_servers();
  constexpr int n = 300;
  constexpr riskd::risk::TimeMs base_ms = 1'766'000'000'000;  // 2025-12-17
  // Message i has timestamp base + i, which identifies it on the way back.
  auto key_of = [](int i) -> std::optional<std::string> {
    if (i % 11 == 0) return std::nullopt;
    return "k" + std::to_string(i % 7);
  };
  auto value_of = [](int i) -> std::optional<std::string> {
    if (i % 10 == 0) return std::nullopt;  // tombstone
    if (i % 13 == 0) return std::string();
    return "{\"series\":\"S" + std::to_string(i % 7) + "\",\"value\":" + std::to_string(i) + "}";
  };
  {
    KafkaProducer producer(bootstrap, {}, true);
    for (int i = 0; i < n; ++i) REQUIRE(producer.produce("rt", key_of(i), value_of(i), base_ms + i));
    REQUIRE(producer.flush(k_wait));
    CHECK(producer.delivered() == n);
    CHECK(producer.failed() == 0);
  }

  TestConsumer c(bootstrap);
  c.consumer.assign(all_partitions(c.consumer, "rt", k_offset_beginning));
  const auto got = consume(c.consumer, n);
  REQUIRE(got.size() == n);

  std::map<std::int32_t, std::int64_t> next_offset;
  std::map<std::string, int> last_of_key;  // a keyed message's partition is fixed, so its order is kept
  std::set<int> seen;
  for (const auto& m : got) {
    CHECK(m.topic == "rt");
    CHECK(m.offset == next_offset[m.partition]);  // contiguous from 0 in each partition
    next_offset[m.partition] = m.offset + 1;
    REQUIRE(m.timestamp_ms.has_value());
    const int i = static_cast<int>(*m.timestamp_ms - base_ms);
    REQUIRE(i >= 0);
    REQUIRE(i < n);
    CHECK(seen.insert(i).second);
    CHECK(m.key == key_of(i));
    CHECK(m.value == value_of(i));
    if (m.key) {
      const auto it = last_of_key.find(*m.key);
      if (it != last_of_key.end()) CHECK(it->second < i);
      last_of_key[*m.key] = i;
    }
  }
  CHECK(seen.size() == n);
  CHECK(c.errors.empty());
}

TEST_CASE("poll_into overwrites the vector's messages in place: keys, tombstones and timestamps of earlier ones never leak") {
  MockCluster cluster;
  cluster.create_topic("pi", 1);
  const auto bootstrap = cluster.bootstrap_servers();
  constexpr int n = 200;
  constexpr riskd::risk::TimeMs base_ms = 1'766'000'000'000;
  // Alternating shapes, so that each slot of the reused vector sees a
  // message with key, value and timestamp after one without, and back.
  auto key_of = [](int i) -> std::optional<std::string> {
    if (i % 3 == 0) return std::nullopt;
    return std::string(static_cast<std::size_t>(1 + i % 40), 'k');
  };
  auto value_of = [](int i) -> std::optional<std::string> {
    if (i % 5 == 0) return std::nullopt;
    return std::string(static_cast<std::size_t>(i % 90), static_cast<char>('a' + i % 26));
  };
  {
    KafkaProducer producer(bootstrap, {}, true);
    for (int i = 0; i < n; ++i) REQUIRE(producer.produce("pi", key_of(i), value_of(i), base_ms + i, 0));
    REQUIRE(producer.flush(k_wait));
  }
  TestConsumer c(bootstrap);
  c.consumer.assign(all_partitions(c.consumer, "pi", k_offset_beginning));
  std::vector<KafkaMessage> batch;
  std::size_t largest = 0;
  int next = 0;
  const auto deadline = Clock::now() + k_wait;
  while (next < n && Clock::now() < deadline) {
    const std::size_t got = c.consumer.poll_into(batch, 7, 200ms);  // small batches: slots are reused many times
    REQUIRE(got <= 7);
    REQUIRE(batch.size() >= got);
    largest = std::max(largest, batch.size());
    CHECK(batch.size() == largest);  // never shrunk
    for (std::size_t j = 0; j < got; ++j) {
      const KafkaMessage& m = batch[j];
      CHECK(m.topic == "pi");
      CHECK(m.partition == 0);
      CHECK(m.offset == next);
      CHECK(m.key == key_of(next));
      CHECK(m.value == value_of(next));
      CHECK(m.timestamp_ms == std::optional<riskd::risk::TimeMs>(base_ms + next));
      ++next;
    }
  }
  CHECK(next == n);
  CHECK(largest <= 7);
  CHECK(c.errors.empty());
}

TEST_CASE("a KafkaBatch reads messages in place: keys, tombstones, empty values and timestamps live as the batch") {
  MockCluster cluster;
  cluster.create_topic("kb", 2);
  const auto bootstrap = cluster.bootstrap_servers();
  constexpr int n = 240;
  constexpr riskd::risk::TimeMs base_ms = 1'766'000'000'000;
  // Message i is identified by its timestamp base + i (except the ones sent
  // without a timestamp, below: they are found by their value).
  auto key_of = [](int i) -> std::optional<std::string> {
    if (i % 3 == 0) return std::nullopt;
    if (i % 7 == 0) return std::string();
    return std::string(static_cast<std::size_t>(1 + i % 40), static_cast<char>('a' + i % 26));
  };
  auto value_of = [](int i) -> std::optional<std::string> {
    if (i % 5 == 0) return std::nullopt;  // tombstone
    if (i % 11 == 0) return std::string();
    return "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(static_cast<std::size_t>(i % 90), 'x') + "\"}";
  };
  {
    KafkaProducer producer(bootstrap, {}, true);
    for (int i = 0; i < n; ++i) REQUIRE(producer.produce("kb", key_of(i), value_of(i), base_ms + i, i % 2));
    REQUIRE(producer.flush(k_wait));
  }
  TestConsumer c(bootstrap);
  c.consumer.assign(all_partitions(c.consumer, "kb", k_offset_beginning));
  riskd::feeds::KafkaBatch batch;
  std::map<std::int32_t, std::int64_t> next_offset;
  std::set<int> seen;
  std::size_t polls = 0;
  const auto deadline = Clock::now() + k_wait;
  while (seen.size() < n && Clock::now() < deadline) {
    const std::size_t got = c.consumer.poll(batch, 9, 200ms);  // small batches: many refills of one batch
    ++polls;
    REQUIRE(got == batch.size());
    REQUIRE(got <= 9);
    // Every view of the batch taken first, read only after the last one:
    // the earlier messages' bytes must still be there.
    std::vector<riskd::feeds::KafkaMessageView> views;
    for (std::size_t j = 0; j < got; ++j) views.push_back(batch[j]);
    riskd::feeds::KafkaBatch moved = std::move(batch);  // a move keeps the messages (and views) alive
    CHECK(batch.empty());
    for (std::size_t j = 0; j < got; ++j) {
      const auto& m = views[j];
      CHECK(m.topic == "kb");
      CHECK(m.offset == next_offset[m.partition]);
      next_offset[m.partition] = m.offset + 1;
      REQUIRE(m.timestamp_ms.has_value());
      const int i = static_cast<int>(*m.timestamp_ms - base_ms);
      REQUIRE(i >= 0);
      REQUIRE(i < n);
      CHECK(seen.insert(i).second);
      CHECK(m.partition == i % 2);
      CHECK(m.key.has_value() == key_of(i).has_value());
      if (m.key && key_of(i)) CHECK(*m.key == *key_of(i));
      CHECK(m.value.has_value() == value_of(i).has_value());
      if (m.value && value_of(i)) CHECK(*m.value == *value_of(i));
      const KafkaMessage owned = moved.copy(j);  // the owning copy says the same
      CHECK(owned.topic == "kb");
      CHECK(owned.offset == m.offset);
      CHECK(owned.key == key_of(i));
      CHECK(owned.value == value_of(i));
      CHECK(owned.timestamp_ms == m.timestamp_ms);
    }
    batch = std::move(moved);
  }
  CHECK(seen.size() == n);
  CHECK(polls > n / 9);
  // A poll with nothing to read empties the batch (its messages released).
  CHECK(c.consumer.poll(batch, 9, 50ms) == 0);
  CHECK(batch.empty());
  batch.clear();  // idempotent
  CHECK(c.errors.empty());
}

TEST_CASE("a KafkaBatch holds only messages: a consume error goes to the error handler, naming topic and partition") {
  MockCluster cluster;
  cluster.create_topic("ke", 2);
  produce_n(cluster.bootstrap_servers(), "ke", 5, 0);
  produce_n(cluster.bootstrap_servers(), "ke", 4, 1);
  // With auto.offset.reset=error, an offset past the end is an error event
  // of partition 0 on the consumer queue; partition 1 reads normally.
  TestConsumer c(cluster.bootstrap_servers(), "group-ke", {{"auto.offset.reset", "error"}});
  c.consumer.assign({{"ke", 0, 50}, {"ke", 1, k_offset_beginning}});
  riskd::feeds::KafkaBatch batch;
  std::vector<std::int64_t> offsets;
  const auto deadline = Clock::now() + k_wait;
  while ((offsets.size() < 4 || c.errors.empty()) && Clock::now() < deadline) {
    c.consumer.poll(batch, 100, 100ms);
    for (std::size_t j = 0; j < batch.size(); ++j) {
      const auto m = batch[j];
      CHECK(m.topic == "ke");
      CHECK(m.partition == 1);
      offsets.push_back(m.offset);
    }
  }
  CHECK(offsets == std::vector<std::int64_t>{0, 1, 2, 3});
  REQUIRE_FALSE(c.errors.empty());
  const bool named = std::any_of(c.errors.begin(), c.errors.end(),
                                 [](const std::string& e) { return e.find("ke [0]") != std::string::npos; });
  CHECK(named);
}

TEST_CASE("a KafkaMessage's view says what the message holds") {
  KafkaMessage m{"t", 3, 42, std::nullopt, std::string("{}"), 7};
  auto v = m.view();
  CHECK(v.topic == "t");
  CHECK(v.partition == 3);
  CHECK(v.offset == 42);
  CHECK_FALSE(v.key.has_value());
  REQUIRE(v.value.has_value());
  CHECK(*v.value == "{}");
  CHECK(v.timestamp_ms == std::optional<riskd::risk::TimeMs>(7));
  m.key = "";
  m.value.reset();
  m.timestamp_ms.reset();
  v = m.view();
  REQUIRE(v.key.has_value());
  CHECK(v.key->empty());
  CHECK_FALSE(v.value.has_value());
  CHECK_FALSE(v.timestamp_ms.has_value());
}

TEST_CASE("watermarks are the first offset and the next offset to be written") {
  MockCluster cluster;
  cluster.create_topic("wm", 2);
  produce_n(cluster.bootstrap_servers(), "wm", 10, 1);
  TestConsumer c(cluster.bootstrap_servers());
  CHECK(c.consumer.watermarks("wm", 0, k_wait) == std::pair<std::int64_t, std::int64_t>{0, 0});
  CHECK(c.consumer.watermarks("wm", 1, k_wait) == std::pair<std::int64_t, std::int64_t>{0, 10});
}

TEST_CASE("committed returns what commit stored, and k_offset_stored where nothing was committed") {
  MockCluster cluster;
  cluster.create_topic("cm", 2);
  produce_n(cluster.bootstrap_servers(), "cm", 10, 0);
  TestConsumer c(cluster.bootstrap_servers(), "group-cm");
  const std::vector<TopicPartition> both{{"cm", 0, k_offset_stored}, {"cm", 1, k_offset_stored}};
  auto before = c.consumer.committed(both, k_wait);
  REQUIRE(before.size() == 2);
  CHECK(before[0].offset == k_offset_stored);
  CHECK(before[1].offset == k_offset_stored);

  REQUIRE(c.consumer.commit({{"cm", 0, 7}}, false));
  auto after = c.consumer.committed(both, k_wait);
  CHECK(after[0].topic == "cm");
  CHECK(after[0].partition == 0);
  CHECK(after[0].offset == 7);
  CHECK(after[1].offset == k_offset_stored);

  // An asynchronous commit lands too (its result is served by poll).
  REQUIRE(c.consumer.commit({{"cm", 0, 9}}, true));
  const auto deadline = Clock::now() + k_wait;
  std::vector<KafkaMessage> none;
  while (c.consumer.committed(both, k_wait)[0].offset != 9 && Clock::now() < deadline) {
    c.consumer.poll(none, 1, 50ms);
  }
  CHECK(c.consumer.committed(both, k_wait)[0].offset == 9);
  CHECK(c.errors.empty());
}

TEST_CASE("assign at an explicit offset resumes there, and at k_offset_stored from the committed offset") {
  MockCluster cluster;
  cluster.create_topic("as", 1);
  produce_n(cluster.bootstrap_servers(), "as", 10, 0);
  {
    TestConsumer c(cluster.bootstrap_servers(), "group-as");
    c.consumer.assign({{"as", 0, 7}});
    const auto got = consume(c.consumer, 3);
    REQUIRE(got.size() == 3);
    CHECK(got[0].offset == 7);
    CHECK(got[0].value == "v7");
    CHECK(got[2].offset == 9);
    REQUIRE(c.consumer.commit({{"as", 0, 4}}, false));
  }
  {
    TestConsumer c(cluster.bootstrap_servers(), "group-as");
    c.consumer.assign({{"as", 0, k_offset_stored}});
    const auto got = consume(c.consumer, 6);
    REQUIRE(got.size() == 6);
    CHECK(got[0].offset == 4);
    CHECK(got[0].value == "v4");
  }
  {
    TestConsumer c(cluster.bootstrap_servers(), "group-without-commits");
    c.consumer.assign({{"as", 0, k_offset_stored}});
    const auto got = consume(c.consumer, 10);
    REQUIRE(got.size() == 10);
    CHECK(got[0].offset == 0);  // auto.offset.reset=earliest
  }
}

TEST_CASE("lag is the high watermark minus the position of the messages returned") {
  MockCluster cluster;
  cluster.create_topic("lag", 1);
  produce_n(cluster.bootstrap_servers(), "lag", 10, 0);
  TestConsumer c(cluster.bootstrap_servers());
  c.consumer.assign({{"lag", 0, k_offset_beginning}});
  REQUIRE(consume(c.consumer, 4).size() == 4);
  auto lag = c.consumer.lag();
  REQUIRE(lag.size() == 1);
  CHECK(lag[0].first.topic == "lag");
  CHECK(lag[0].first.offset == 4);
  CHECK(lag[0].second == 6);
  REQUIRE(consume(c.consumer, 6).size() == 6);
  lag = c.consumer.lag();
  CHECK(lag[0].first.offset == 10);
  CHECK(lag[0].second == 0);
}

TEST_CASE("poll returns at most max messages and waits no longer than its timeout") {
  MockCluster cluster;
  cluster.create_topic("pm", 1);
  produce_n(cluster.bootstrap_servers(), "pm", 20, 0);
  TestConsumer c(cluster.bootstrap_servers());
  c.consumer.assign({{"pm", 0, k_offset_beginning}});
  auto got = consume(c.consumer, 20);
  CHECK(got.size() == 20);
  std::vector<KafkaMessage> more;
  const auto start = Clock::now();
  CHECK(c.consumer.poll(more, 100, 300ms) == 0);
  const auto waited = Clock::now() - start;
  CHECK(waited >= 250ms);
  CHECK(waited < 2s);
  std::vector<KafkaMessage> one;
  KafkaConsumer fresh(cluster.bootstrap_servers(), "g", {});
  fresh.assign({{"pm", 0, k_offset_beginning}});
  const auto deadline = Clock::now() + k_wait;
  while (one.empty() && Clock::now() < deadline) fresh.poll(one, 3, 200ms);
  CHECK(one.size() <= 3);
  CHECK_FALSE(one.empty());
}

TEST_CASE("partitions of an unknown topic throw KafkaError") {
  MockCluster cluster;
  TestConsumer c(cluster.bootstrap_servers());
  CHECK_THROWS_AS(c.consumer.partitions("no-such-topic", 5s), KafkaError);
}

TEST_CASE("a rejected configuration property or an empty group id throws KafkaError") {
  CHECK_THROWS_WITH_AS(KafkaConsumer("127.0.0.1:1", "g", {{"no.such.property", "1"}}),
                       doctest::Contains("no.such.property"), KafkaError);
  CHECK_THROWS_AS(KafkaProducer("127.0.0.1:1", {{"acks", "sometimes"}}, false), KafkaError);
  CHECK_THROWS_AS(KafkaConsumer("127.0.0.1:1", "", {}), KafkaError);
}

TEST_CASE("a producer to an unreachable bootstrap does not hang: flush times out, the destructor is bounded") {
  const auto start = Clock::now();
  {
    std::vector<std::string> errors;
    KafkaProducer producer("127.0.0.1:1", {{"message.timeout.ms", "2000"}}, false);
    producer.on_error([&errors](const std::string& e) { errors.push_back(e); });
    for (int i = 0; i < 5; ++i) CHECK(producer.produce("t", std::nullopt, "x"));
    const auto flush_start = Clock::now();
    CHECK_FALSE(producer.flush(1s));
    CHECK(Clock::now() - flush_start < 3s);
    CHECK((producer.failed() > 0 || producer.delivered() == 0));
    CHECK_FALSE(errors.empty());  // the refused connection was reported
  }
  CHECK(Clock::now() - start < 10s);
}

// ---------------------------------------------------------------- subprocesses

namespace {

/// A child process with its stdout on a pipe; killed (SIGKILL) and reaped on
/// destruction unless it was waited for, so a failing test leaves nothing running.
class Child {
 public:
  Child(const std::vector<std::string>& args, bool capture_stdout, bool quiet_stderr = false) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int fds[2] = {-1, -1};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (capture_stdout) {
      REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
      posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    }
    if (quiet_stderr) posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (capture_stdout) {
      close(fds[1]);
      out_fd_ = fds[0];
    }
    REQUIRE_MESSAGE(rc == 0, "cannot spawn " << args[0]);
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  /// The first line of stdout, waiting at most `timeout`; "" on timeout or EOF.
  std::string read_line(std::chrono::milliseconds timeout) {
    std::string line;
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      pollfd pfd{out_fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (poll(&pfd, 1, static_cast<int>(std::max<long>(1, left.count()))) <= 0) continue;
      char c = 0;
      if (read(out_fd_, &c, 1) != 1) return {};
      if (c == '\n') return line;
      line.push_back(c);
    }
    return {};
  }

  void signal(int sig) const { kill(pid_, sig); }

  /// Waits at most `timeout` for the exit; returns the exit code, or -1 if it
  /// did not exit normally in time (the destructor then kills it).
  int wait(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
      int status = 0;
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      if (Clock::now() >= deadline) return -1;
      std::this_thread::sleep_for(20ms);
    }
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
};

}  // namespace

TEST_CASE("riskd feed delivers every tick of a file to a riskd broker keyed by series, and SIGTERM stops the broker") {
  const std::string riskd = RISKD_BINARY;
  Child broker({riskd, "broker", "--topics", "t1,t2:3"}, true);
  const std::string bootstrap = broker.read_line(10s);
  REQUIRE_MESSAGE(bootstrap.rfind("127.0.0.1:", 0) == 0, "broker printed '" << bootstrap << "'");

  const std::string ticks_path = std::string(RISKD_BINARY_DIR) + "/tests/feeds/feed-ticks.jsonl";
  const std::vector<std::pair<std::string, std::string>> ticks{
      {"BTC-USD", R"({"series": "BTC-USD", "value": 87250.5, "ts": "2025-12-19T10:00:00.123Z"})"},
      {"GPU-H100-USD-HR", R"({"series": "GPU-H100-USD-HR", "value": 2.1, "ts": "2025-12-19T10:00:01Z"})"},
      {"SOFR", R"({"series": "SOFR", "value": 4.3, "ts": 1766138402000})"},
      {"BTC-USD", R"({"series": "BTC-USD", "value": 87251.0, "ts": "2025-12-19T10:00:03Z"})"},
      {"", R"(not json at all)"},
      {"", R"({"value": 1.0})"},
      {"HASHPRICE", R"({"series": "HASHPRICE", "value": 0.048})"},
  };
  {
    std::ofstream out(ticks_path, std::ios::binary);
    for (std::size_t i = 0; i < ticks.size(); ++i) {
      out << ticks[i].second << '\n';
      if (i == 2) out << "   \n\n";  // blank lines are skipped
    }
  }
  {
    Child feed({riskd, "feed", "--ticks", ticks_path, "--topic", "t2", "--bootstrap", bootstrap, "--speed", "1000"},
               false);
    REQUIRE(feed.wait(20s) == 0);
  }

  TestConsumer c(bootstrap);
  CHECK(c.consumer.partitions("t1", k_wait) == std::vector<std::int32_t>{0});
  c.consumer.assign(all_partitions(c.consumer, "t2", k_offset_beginning));
  REQUIRE(all_partitions(c.consumer, "t2", k_offset_beginning).size() == 3);
  const auto got = consume(c.consumer, ticks.size());
  REQUIRE(got.size() == ticks.size());
  std::multiset<std::pair<std::string, std::string>> want;
  std::multiset<std::pair<std::string, std::string>> have;
  for (const auto& [key, line] : ticks) want.insert({key, line});
  for (const auto& m : got) {
    REQUIRE(m.value.has_value());
    have.insert({m.key.value_or(""), *m.value});
  }
  CHECK(have == want);
  // One series, one partition: its ticks stay in file order.
  std::vector<std::string> btc;
  for (const auto& m : got) {
    if (m.key == "BTC-USD") btc.push_back(*m.value);
  }
  CHECK(btc == std::vector<std::string>{ticks[0].second, ticks[3].second});

  broker.signal(SIGTERM);
  CHECK(broker.wait(5s) == 0);
}

TEST_CASE("riskd broker and riskd feed answer --help with exit 0 and bad usage with exit 2") {
  const std::string riskd = RISKD_BINARY;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{riskd, "broker", "--help"}, std::vector<std::string>{riskd, "feed", "--help"}}) {
    Child child(args, true);
    CHECK(child.read_line(5s).rfind("usage: riskd ", 0) == 0);
    CHECK(child.wait(5s) == 0);
  }
  for (const std::vector<std::string>& args : {std::vector<std::string>{riskd, "broker", "--brokers", "0"},
                                               std::vector<std::string>{riskd, "broker", "--topics", "a:x"},
                                               std::vector<std::string>{riskd, "feed", "--topic", "t"},
                                               std::vector<std::string>{riskd, "feed", "--ticks", "/nonexistent",
                                                                        "--topic", "t", "--bootstrap", "x:1"}}) {
    Child child(args, false, true);
    CHECK(child.wait(5s) == 2);
  }
}

TEST_CASE("delivery reports carry the produce token and offset, and with the leader down purge fails what is held") {
  MockCluster cluster(2);
  cluster.create_topic("dr", 1);
  cluster.set_partition_leader("dr", 0, 2);
  KafkaProducer producer(cluster.bootstrap_servers(), {{"queue.buffering.max.messages", "2"}}, true);
  producer.on_error([](const std::string&) {});
  std::vector<riskd::feeds::DeliveryReport> reports;
  producer.on_delivery([&](const riskd::feeds::DeliveryReport& r) { reports.push_back(r); });
  REQUIRE(producer.produce("dr", "k", "v1", std::nullopt, std::nullopt, 7));
  REQUIRE(producer.produce("dr", "k", "v2", std::nullopt, std::nullopt, 8));
  REQUIRE(producer.flush(k_wait));
  REQUIRE(reports.size() == 2);
  CHECK(reports[0].token == 7);
  CHECK(reports[1].token == 8);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(reports[i].delivered);
    CHECK(reports[i].error.empty());
    CHECK(reports[i].topic == "dr");
    CHECK(reports[i].partition == 0);
    CHECK(reports[i].offset == static_cast<std::int64_t>(i));
  }

  cluster.set_broker_up(2, false);
  REQUIRE(producer.produce("dr", "k", "v3", std::nullopt, std::nullopt, 9));
  REQUIRE(producer.produce("dr", "k", "v4", std::nullopt, std::nullopt, 10));
  CHECK_FALSE(producer.produce("dr", "k", "v5", std::nullopt, std::nullopt, 11));  // queue of 2 is full
  CHECK(producer.last_error_queue_full());
  CHECK_FALSE(producer.last_error().empty());
  CHECK_FALSE(producer.flush(500ms));
  CHECK(reports.size() == 2);  // nothing acknowledged while the leader is down
  CHECK(producer.in_flight() == 2);
  const auto t0 = Clock::now();
  producer.purge();
  CHECK(Clock::now() - t0 < 2s);
  REQUIRE(reports.size() == 4);
  for (std::size_t i = 2; i < 4; ++i) {
    CHECK_FALSE(reports[i].delivered);
    CHECK_FALSE(reports[i].error.empty());
  }
  CHECK(reports[2].token + reports[3].token == 19);
  CHECK(producer.in_flight() == 0);

  cluster.set_broker_up(2, true);  // back: the producer delivers again
  REQUIRE(producer.produce("dr", "k", "v6", std::nullopt, std::nullopt, 12));
  REQUIRE(producer.flush(k_wait));
  REQUIRE(reports.size() == 5);
  CHECK(reports[4].token == 12);
  CHECK(reports[4].delivered);
}
