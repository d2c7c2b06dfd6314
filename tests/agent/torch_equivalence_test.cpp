// The fast path checked against libtorch autograd: the same batch and the same initial weights
// must give the same loss, gradients and Adam steps, to float32 rounding.
//
// Tolerances, from float32 rounding (unit roundoff u = 2^-24 = 6e-8): each gradient element is
// a sum over the batch of B = 1024 products, formed in a different order by each backend (our
// row-order sums and lane dot products vs. torch's blocked GEMMs). The difference of two such
// sums is bounded by about 2 B u sum|terms| = 1.2e-4 sum|terms| in the worst case and behaves
// like sqrt(B) u sum|terms| ~ 2e-6 sum|terms| in practice. We bound each tensor's worst element
// by 1e-4 of that tensor's largest gradient magnitude: a faithful-rounding-level agreement that a
// real mistake (a missing 1/B, a wrong action's gradient, a ReLU mask off by one unit, a target
// from the wrong network) exceeds by orders of magnitude. Adam divides by sqrt(v), so tiny
// gradients are amplified; parameters are compared against the step size instead.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "agent/learn/fast_learner.h"
#include "agent/learn/learner.h"
#include "agent/learn/torch_learner.h"
#include "common/rng.h"
#include "tests/agent/random_batch.h"

namespace bestserve {
namespace {

void PinTorch() {
  SeedTorch(0);  // nothing here draws from torch's generator, but keep any future draw fixed
  SetTorchThreads(1);
}

// Largest |a - b| over the elements of layer tensor [begin, end) relative to max |b| there.
double RelativeError(const std::vector<float>& a, const std::vector<float>& b, size_t begin,
                     size_t end) {
  double worst = 0.0;
  double scale = 0.0;
  for (size_t i = begin; i < end; ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
  }
  return scale == 0.0 ? worst : worst / scale;
}

void CheckGradients(const MlpShape& shape, const std::vector<float>& fast,
                    const std::vector<float>& reference) {
  for (int l = 0; l < shape.num_layers(); ++l) {
    INFO("network " << shape.ToString() << ", layer " << l);
    CHECK(RelativeError(fast, reference, shape.WeightOffset(l), shape.BiasOffset(l)) < 1e-4);
    CHECK(RelativeError(fast, reference, shape.BiasOffset(l), shape.WeightOffset(l + 1)) < 1e-4);
  }
}

struct Case {
  MlpShape shape;
  TdLoss loss;
};

TEST_CASE("Fast path and libtorch agree on loss, every gradient and one Adam step at batch 1024",
          "[agent][torch]") {
  PinTorch();
  for (const Case& c :
       {Case{{8, {256}, 3}, TdLoss::kHuber}, Case{{8, {256, 256}, 3}, TdLoss::kHuber},
        Case{{8, {256}, 3}, TdLoss::kMse}}) {
    Rng rng(31);
    const std::vector<float> init = InitMlpParameters(c.shape, rng);
    LearnerState state = FreshLearnerState(init);
    state.target = InitMlpParameters(c.shape, rng);  // a different target network
    const TransitionBatch batch = testing::RandomBatch(c.shape, 1024, rng, 0.05);
    LearnerHyperparameters hp;
    hp.loss = c.loss;
    auto fast = MakeFastLearner(c.shape, hp, state);
    auto reference = MakeTorchLearner(c.shape, hp, state, "cpu");

    std::vector<float> fast_gradients;
    std::vector<float> torch_gradients;
    const double fast_loss = fast->ComputeGradients(batch, &fast_gradients);
    const double torch_loss = reference->ComputeGradients(batch, &torch_gradients);
    INFO("network " << c.shape.ToString() << ", loss " << TdLossName(c.loss));
    CHECK(fast_loss == Approx(torch_loss).epsilon(1e-5));
    CheckGradients(c.shape, fast_gradients, torch_gradients);

    fast->Update(batch);
    reference->Update(batch);
    const LearnerState a = fast->GetState();
    const LearnerState b = reference->GetState();
    CHECK(a.adam.step == 1);
    CHECK(b.adam.step == 1);
    // The first Adam step moves every parameter by lr * g / (|g| + eps) ~ lr * sign(g): equal
    // unless a gradient is so small that its sign is below rounding. Compare the steps to lr.
    double worst_step = 0.0;
    for (size_t i = 0; i < a.online.size(); ++i) {
      worst_step = std::max(worst_step, std::fabs(static_cast<double>(a.online[i]) - b.online[i]));
    }
    CHECK(worst_step < 0.02 * hp.learning_rate);
    CheckGradients(c.shape, a.adam.first_moment, b.adam.first_moment);
  }
}

TEST_CASE("Fast path and libtorch stay close over consecutive updates with target syncs",
          "[agent][torch]") {
  PinTorch();
  const MlpShape shape{8, {256}, 3};
  Rng rng(77);
  const LearnerState state = FreshLearnerState(InitMlpParameters(shape, rng));
  LearnerHyperparameters hp;
  hp.learning_rate = 1e-3;  // larger steps than the paper's, to make drift visible
  auto fast = MakeFastLearner(shape, hp, state);
  auto reference = MakeTorchLearner(shape, hp, state, "cpu");
  const int updates = 30;
  for (int u = 1; u <= updates; ++u) {
    const TransitionBatch batch = testing::RandomBatch(shape, 1024, rng, 0.05);
    const UpdateStats fs = fast->Update(batch);
    const UpdateStats ts = reference->Update(batch);
    INFO("update " << u);
    CHECK(fs.loss == Approx(ts.loss).epsilon(1e-4));
    if (u % 10 == 0) {
      fast->SyncTarget();
      reference->SyncTarget();
    }
  }
  const LearnerState a = fast->GetState();
  const LearnerState b = reference->GetState();
  CHECK(a.adam.step == updates);
  CHECK(b.adam.step == updates);
  // Each parameter has moved up to `updates` steps of about lr; the backends may differ by a
  // small fraction of one step (see the header), not by accumulated drift.
  double worst = 0.0;
  double moved = 0.0;
  for (size_t i = 0; i < a.online.size(); ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(a.online[i]) - b.online[i]));
    moved = std::max(moved, std::fabs(static_cast<double>(a.online[i]) - state.online[i]));
  }
  INFO("largest parameter difference " << worst << ", largest move " << moved);
  CHECK(moved > 5 * hp.learning_rate);
  CHECK(worst < 0.05 * hp.learning_rate);
  CHECK(a.target == a.online);  // synced after the last update
  const double target_gap = RelativeError(a.target, b.target, 0, a.target.size());
  CHECK(target_gap < 1e-3);
}

TEST_CASE("A libtorch learner state round-trips through the fast learner and back",
          "[agent][torch]") {
  PinTorch();
  const MlpShape shape{4, {16}, 2};
  Rng rng(5);
  LearnerHyperparameters hp;
  auto reference =
      MakeTorchLearner(shape, hp, FreshLearnerState(InitMlpParameters(shape, rng)), "cpu");
  const TransitionBatch batch = testing::RandomBatch(shape, 64, rng, 0.05);
  reference->Update(batch);
  reference->Update(batch);
  const LearnerState after_two = reference->GetState();
  CHECK(after_two.adam.step == 2);
  // Moving the state (with Adam moments) into a new torch learner continues identically.
  auto copy = MakeTorchLearner(shape, hp, after_two, "cpu");
  CHECK(copy->GetState() == after_two);
  reference->Update(batch);
  copy->Update(batch);
  CHECK(copy->GetState() == reference->GetState());
}

}  // namespace
}  // namespace bestserve
