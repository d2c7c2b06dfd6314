// The replay ring buffer: overwrite order, uniform sampling, save/load.
#include "agent/learn/replay_buffer.h"

#include <catch2/catch.hpp>
#include <limits>
#include <vector>

namespace bestserve {
namespace {

Transition Numbered(int k) {
  Transition t;
  t.observation = {static_cast<float>(k), 0.0f};
  t.action = k % 3;
  t.reward = static_cast<float>(k);
  t.next_observation = {static_cast<float>(k + 1), 1.0f};
  t.terminal = k % 5 == 0;
  return t;
}

TEST_CASE("The replay buffer keeps the newest transitions once it wraps", "[agent]") {
  ReplayBuffer buffer(4, 2);
  for (int k = 0; k < 6; ++k) buffer.Add(Numbered(k));
  CHECK(buffer.size() == 4);
  CHECK(buffer.RecentMeanReward(2) == Approx((5 + 4) / 2.0));
  CHECK(buffer.RecentMeanReward(100) == Approx((5 + 4 + 3 + 2) / 4.0));
  // Sampling only ever returns the surviving transitions 2..5, whole and consistent.
  Rng rng(9);
  TransitionBatch batch;
  buffer.Sample(64, rng, &batch);
  for (int i = 0; i < 64; ++i) {
    const int k = static_cast<int>(batch.observations[static_cast<size_t>(2 * i)]);
    CHECK(k >= 2);
    CHECK(k <= 5);
    CHECK(batch.rewards[static_cast<size_t>(i)] == static_cast<float>(k));
    CHECK(batch.actions[static_cast<size_t>(i)] == k % 3);
    CHECK(batch.next_observations[static_cast<size_t>(2 * i)] == static_cast<float>(k + 1));
    CHECK(batch.terminals[static_cast<size_t>(i)] == (k % 5 == 0 ? 1.0f : 0.0f));
  }
}

TEST_CASE("Replay sampling is uniform over the stored transitions and fixed by the seed",
          "[agent]") {
  ReplayBuffer buffer(10, 2);
  for (int k = 0; k < 10; ++k) buffer.Add(Numbered(k));
  Rng rng(2024);
  TransitionBatch batch;
  std::vector<int> counts(10, 0);
  const int draws = 20000;
  for (int round = 0; round < draws / 1000; ++round) {
    buffer.Sample(1000, rng, &batch);
    for (int i = 0; i < 1000; ++i)
      ++counts[static_cast<size_t>(batch.observations[static_cast<size_t>(2 * i)])];
  }
  // Each count is Binomial(20000, 0.1): sd = sqrt(20000 * 0.1 * 0.9) = 42.4; allow 5 sd.
  for (int c : counts) CHECK(std::abs(c - 2000) < 212);
  Rng a(77);
  Rng b(77);
  TransitionBatch first;
  TransitionBatch second;
  buffer.Sample(32, a, &first);
  buffer.Sample(32, b, &second);
  CHECK(first.observations == second.observations);
}

TEST_CASE("A saved replay buffer loads back identical, before and after wrapping", "[agent]") {
  for (int added : {3, 11}) {
    ReplayBuffer buffer(8, 2);
    for (int k = 0; k < added; ++k) buffer.Add(Numbered(k));
    ByteWriter out;
    buffer.Save(out);
    ReplayBuffer loaded(8, 2);
    ByteReader in(out.bytes(), "test");
    loaded.Load(in);
    CHECK(loaded == buffer);
    CHECK(in.remaining() == 0);
    ReplayBuffer wrong(16, 2);
    ByteReader again(out.bytes(), "test");
    REQUIRE_THROWS_WITH(wrong.Load(again),
                        "test: replay buffer of capacity 8 with 2-value observations does not "
                        "match the configured 16 and 2");
  }
}

TEST_CASE("A replay buffer says which stored transition a network could not train on", "[agent]") {
  ReplayBuffer buffer(8, 2);
  for (int k = 0; k < 5; ++k) buffer.Add(Numbered(k));  // actions 0, 1, 2, 0, 1
  CHECK_FALSE(buffer.ContentProblem(3).has_value());
  CHECK(buffer.ContentProblem(2) == "replay transition 2 has action 2; the network has 2 actions");
  Transition bad = Numbered(5);
  bad.reward = std::numeric_limits<float>::quiet_NaN();
  buffer.Add(bad);
  CHECK(buffer.ContentProblem(3) == "replay transition 5 has reward nan");
}

}  // namespace
}  // namespace bestserve
