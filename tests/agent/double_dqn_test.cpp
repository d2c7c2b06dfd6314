// Double-DQN targets and TD losses against hand computation.
#include "agent/learn/double_dqn.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "agent/learn/fast_learner.h"
#include "agent/learn/learner.h"
#if BESTSERVE_TEST_HAS_TORCH
#include "agent/learn/torch_learner.h"
#endif

namespace bestserve {
namespace {

TEST_CASE("Double-DQN targets select with the online network and evaluate with the target network",
          "[agent]") {
  // Three transitions, three actions.
  const std::vector<float> q_online_next = {1, 3,  2,    // argmax 1
                                            5, 5,  1,    // tie: the lowest index, 0
                                            0, -1, -2};  // argmax 0
  const std::vector<float> q_target_next = {10, 20, 30,  // the target's own max would be 30
                                            7,  8,  9,  4, 5, 6};
  const std::vector<float> rewards = {1.0f, 0.5f, 2.0f};
  const std::vector<float> terminals = {0.0f, 0.0f, 1.0f};
  std::vector<float> targets(3);
  ComputeDoubleDqnTargets(q_online_next.data(), q_target_next.data(), rewards.data(),
                          terminals.data(), 3, 3, 0.9f, targets.data());
  CHECK(targets[0] == Approx(1.0 + 0.9 * 20.0));  // Q_target(s', 1), not max_a Q_target = 30
  CHECK(targets[1] == Approx(0.5 + 0.9 * 7.0));   // tie in the online net: action 0
  CHECK(targets[2] == Approx(2.0));               // terminal: no bootstrap at all
}

TEST_CASE("A truncated (non-terminal) last transition still bootstraps", "[agent]") {
  const std::vector<float> q_online_next = {0, 1};
  const std::vector<float> q_target_next = {3, 4};
  const std::vector<float> rewards = {1.0f};
  std::vector<float> target(1);
  const std::vector<float> truncated = {0.0f};
  ComputeDoubleDqnTargets(q_online_next.data(), q_target_next.data(), rewards.data(),
                          truncated.data(), 1, 2, 0.5f, target.data());
  CHECK(target[0] == Approx(1.0 + 0.5 * 4.0));
}

TEST_CASE("Huber and squared TD losses match their formulas at and around the threshold",
          "[agent]") {
  CHECK(TdLossValue(TdLoss::kHuber, 1.0f, 0.5f) == Approx(0.125));
  CHECK(TdLossValue(TdLoss::kHuber, 1.0f, 1.0f) == Approx(0.5));
  CHECK(TdLossValue(TdLoss::kHuber, 1.0f, -2.0f) == Approx(1.5));
  CHECK(TdLossValue(TdLoss::kHuber, 2.0f, 3.0f) == Approx(2.0 * (3.0 - 1.0)));
  CHECK(TdLossGradient(TdLoss::kHuber, 1.0f, 0.25f) == Approx(0.25));
  CHECK(TdLossGradient(TdLoss::kHuber, 1.0f, -7.0f) == Approx(-1.0));
  CHECK(TdLossValue(TdLoss::kMse, 1.0f, -3.0f) == Approx(9.0));
  CHECK(TdLossGradient(TdLoss::kMse, 1.0f, -3.0f) == Approx(-6.0));
}

// A network without hidden layers is linear, Q(x) = W x + b, so one-hot inputs read Q-values
// straight out of W's columns: the learner's loss and gradient can be computed by hand.
struct LinearCase {
  MlpShape shape{3, {}, 3};
  LearnerState state;
  TransitionBatch batch;
};

LinearCase MakeLinearCase() {
  LinearCase c;
  // Canonical layout: W (3 x 3, row-major: W[a][i] = Q(e_i, a)), then b = 0.
  // Online: Q(e_0) = (1, 3, 2), Q(e_1) = (5, 5, 1), Q(e_2) = (0, -1, -2).
  const std::vector<float> online = {1, 5, 0, 3, 5, -1, 2, 1, -2, 0, 0, 0};
  // Target: Q(e_0) = (10, 20, 30), Q(e_1) = (7, 8, 9), Q(e_2) = (4, 5, 6).
  const std::vector<float> target = {10, 7, 4, 20, 8, 5, 30, 9, 6, 0, 0, 0};
  c.state = FreshLearnerState(online);
  c.state.target = target;
  c.batch.Resize(3, 3);
  // s = e_2, e_0, e_1 with actions 0, 2, 1; s' = e_0, e_1, e_2.
  c.batch.observations = {0, 0, 1, 1, 0, 0, 0, 1, 0};
  c.batch.actions = {0, 2, 1};
  c.batch.rewards = {1.0f, 0.5f, 2.0f};
  c.batch.next_observations = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  c.batch.terminals = {0.0f, 0.0f, 1.0f};
  return c;
}

void CheckLinearCase(QLearner& learner) {
  LinearCase c = MakeLinearCase();
  // Targets as in the first test: 19, 6.8, 2. Q(s, a): Q(e_2, 0) = 0, Q(e_0, 2) = 2,
  // Q(e_1, 1) = 5. TD errors: -19, -4.8, 3: all beyond the Huber threshold 1.
  // Loss = mean(19 - 0.5, 4.8 - 0.5, 3 - 0.5) = (18.5 + 4.3 + 2.5) / 3.
  std::vector<float> gradients;
  const double loss = learner.ComputeGradients(c.batch, &gradients);
  CHECK(loss == Approx((18.5 + 4.3 + 2.5) / 3.0).epsilon(1e-6));
  // dL/dQ(s_i, a_i) = clamp(error, -1, 1) / 3 = -1/3, -1/3, +1/3. With one-hot inputs the
  // gradient of W[a][i] is that value where (a, i) = (a_k, index of s_k), and of b[a] the sum.
  std::vector<float> expected(12, 0.0f);
  expected[0 * 3 + 2] = -1.0f / 3;  // sample 0: a = 0, s = e_2
  expected[2 * 3 + 0] = -1.0f / 3;  // sample 1: a = 2, s = e_0
  expected[1 * 3 + 1] = 1.0f / 3;   // sample 2: a = 1, s = e_1
  expected[9 + 0] = -1.0f / 3;
  expected[9 + 2] = -1.0f / 3;
  expected[9 + 1] = 1.0f / 3;
  REQUIRE(gradients.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("parameter " << i);
    CHECK(gradients[i] == Approx(expected[i]).margin(1e-7));
  }
}

TEST_CASE("The fast learner's loss and gradient on a linear network match hand computation",
          "[agent]") {
  LearnerHyperparameters hp;
  hp.gamma = 0.9f;
  LinearCase c = MakeLinearCase();
  auto learner = MakeFastLearner(c.shape, hp, c.state);
  CheckLinearCase(*learner);
}

#if BESTSERVE_TEST_HAS_TORCH
TEST_CASE("The libtorch learner's loss and gradient on a linear network match hand computation",
          "[agent][torch]") {
  LearnerHyperparameters hp;
  hp.gamma = 0.9f;
  LinearCase c = MakeLinearCase();
  auto learner = MakeTorchLearner(c.shape, hp, c.state, "cpu");
  CheckLinearCase(*learner);
}
#endif

}  // namespace
}  // namespace bestserve
