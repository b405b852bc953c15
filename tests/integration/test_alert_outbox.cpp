// The outbox's commit gating and the signals' change test, as pure units.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "riskd/daemon/alert_outbox.hpp"
#include "riskd/daemon/signals.hpp"

using riskd::daemon::AlertOutbox;
using riskd::daemon::FeedPosition;

TEST_CASE("outbox: a partition commits up to the oldest tick with an unacknowledged event, then past it") {
  AlertOutbox box(10);
  CHECK(box.commit_offset("md", 0, 100) == 100);  // nothing in flight
  const auto a = box.add("b/ltv_breach", "{}", FeedPosition{"md", 0, 40});
  const auto b = box.add("b/ltv_warning", "{}", FeedPosition{"md", 0, 40});
  const auto c = box.add("b/dscr_breach", "{}", FeedPosition{"md", 0, 70});
  const auto other = box.add("x/ltv_breach", "{}", FeedPosition{"md", 1, 5});
  CHECK(a < b);
  CHECK(b < c);
  CHECK(box.commit_offset("md", 0, 100) == 40);
  CHECK(box.commit_offset("md", 1, 9) == 5);
  CHECK(box.commit_offset("md", 2, 9) == 9);  // another partition is not held back
  CHECK(box.commit_offset("other", 0, 3) == 3);
  CHECK(box.acknowledge(a));
  CHECK(box.commit_offset("md", 0, 100) == 40);  // the tick at 40 still has an event in flight
  CHECK(box.acknowledge(b));
  CHECK(box.commit_offset("md", 0, 100) == 70);
  CHECK_FALSE(box.acknowledge(b));  // a second report for the same event changes nothing
  CHECK(box.acknowledge(c));
  CHECK(box.commit_offset("md", 0, 100) == 100);
  CHECK(box.commit_offset("md", 1, 9) == 5);
  CHECK(box.acknowledge(other));
  CHECK(box.empty());
}

TEST_CASE("outbox: events start unsent, leave the unsent set when sent, come back on a failed delivery, in order") {
  AlertOutbox box(2);
  const auto a = box.add("k1", "v1", std::nullopt);  // a wall-clock event gates no offset
  const auto b = box.add("k2", "v2", FeedPosition{"md", 0, 3});
  CHECK(box.full());
  CHECK(box.unsent().size() == 2);
  CHECK(*box.unsent().begin() == a);
  box.mark_sent(a);
  box.mark_sent(b);
  CHECK(box.unsent().empty());
  box.mark_unsent(b);
  box.mark_unsent(a);
  REQUIRE(box.unsent().size() == 2);
  CHECK(*box.unsent().begin() == a);  // re-sent oldest first
  CHECK(box.entry(b).key == "k2");
  CHECK(box.entry(b).value == "v2");
  CHECK(box.acknowledge(a));
  box.mark_unsent(a);  // unknown now: ignored
  CHECK(box.unsent().size() == 1);
  CHECK_FALSE(box.full());
  CHECK(box.commit_offset("md", 0, 10) == 3);
}

TEST_CASE("signals: a ratio moved when it changed by more than the relative bound, infinities by kind") {
  using riskd::daemon::moved;
  const double inf = std::numeric_limits<double>::infinity();
  CHECK_FALSE(moved(0.5, 0.5, 1e-4));
  CHECK_FALSE(moved(0.5, 0.5 * (1 + 0.9e-4), 1e-4));
  CHECK(moved(0.5, 0.5 * (1 + 1.1e-4), 1e-4));
  CHECK(moved(0.5, 0.5 * (1 - 1.1e-4), 1e-4));
  CHECK(moved(0.0, 1e-9, 1e-4));  // from zero any change counts
  CHECK_FALSE(moved(inf, inf, 1e-4));
  CHECK(moved(inf, 2.0, 1e-4));
  CHECK(moved(2.0, inf, 1e-4));
  CHECK(moved(std::nan(""), 1.0, 1e-4));
  CHECK_FALSE(moved(std::nan(""), std::nan(""), 1e-4));
}
