// The learner interface both backends implement: a Double-DQN Q-network pair with Adam.
//
// Backends: the fast Eigen CPU path (agent/learn/fast_learner.h, the default) and libtorch
// (agent/learn/torch_learner.h, built with BESTSERVE_WITH_TORCH), which exists to check the fast path
// against autograd and to use a GPU. Both use the canonical flat parameter layout of
// router/policy/mlp.h, so states move between them and into policy files unchanged.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/learn/learner_settings.h"
#include "router/policy/mlp.h"
#include "common/rng.h"

namespace bestserve {

// A minibatch of transitions, struct-of-arrays with row-major observations.
struct TransitionBatch {
  int size = 0;
  int observation_size = 0;
  std::vector<float> observations;       // size x observation_size
  std::vector<int32_t> actions;          // size
  std::vector<float> rewards;            // size
  std::vector<float> next_observations;  // size x observation_size
  std::vector<float> terminals;          // size, 0 or 1

  void Resize(int batch, int obs_size);
};

// Adam's per-parameter moments and step count, exactly as torch.optim.Adam keeps them.
struct AdamState {
  std::vector<float> first_moment;   // exp_avg
  std::vector<float> second_moment;  // exp_avg_sq
  int64_t step = 0;
  bool operator==(const AdamState& other) const = default;
};

// Everything a learner needs to continue bit for bit.
struct LearnerState {
  std::vector<float> online;
  std::vector<float> target;
  AdamState adam;
  bool operator==(const LearnerState& other) const = default;
};

struct UpdateStats {
  double loss = 0.0;         // mean TD loss over the batch, before the step
  double mean_q = 0.0;       // mean Q_online(s, a) over the batch
  double mean_target = 0.0;  // mean Double-DQN target y
};

// The learning hyperparameters a backend needs (a view of LearnerSettings).
struct LearnerHyperparameters {
  float gamma = 0.99f;
  TdLoss loss = TdLoss::kHuber;
  float huber_delta = 1.0f;
  double learning_rate = 1e-4;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;

  static LearnerHyperparameters From(const LearnerSettings& settings);
};

class QLearner {
 public:
  virtual ~QLearner() = default;

  virtual const MlpShape& shape() const = 0;
  // "fast", "torch-cpu" or "torch-cuda".
  virtual std::string backend_name() const = 0;

  // Q-values of the online network for `count` observations (count x input_size, row-major)
  // into q_values (count x num_actions).
  virtual void OnlineQValues(const float* observations, int count, float* q_values) = 0;

  // The Double-DQN loss of `batch` and its gradient with respect to the online parameters
  // (canonical layout) into *gradients, without changing any parameter.
  virtual double ComputeGradients(const TransitionBatch& batch, std::vector<float>* gradients) = 0;

  // One Adam step on the Double-DQN loss of `batch`. Returns statistics before the step.
  virtual UpdateStats Update(const TransitionBatch& batch) = 0;

  // Copies the online parameters into the target network.
  virtual void SyncTarget() = 0;

  virtual LearnerState GetState() const = 0;
  // Precondition: sizes match shape().NumParameters().
  virtual void SetState(const LearnerState& state) = 0;
};

// torch.nn.Linear's default initialization, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and
// biases (kaiming_uniform with a = sqrt(5)), drawn from our Rng so it does not depend on the
// backend or the standard library.
std::vector<float> InitMlpParameters(const MlpShape& shape, Rng& rng);

// A fresh learner state: online = target = `parameters`, Adam moments zero, step 0.
LearnerState FreshLearnerState(const std::vector<float>& parameters);

}  // namespace bestserve
