#include "agent/learn/learner.h"

#include <cmath>

namespace bestserve {

void TransitionBatch::Resize(int batch, int obs_size) {
  size = batch;
  observation_size = obs_size;
  const size_t n = static_cast<size_t>(batch);
  observations.resize(n * static_cast<size_t>(obs_size));
  next_observations.resize(n * static_cast<size_t>(obs_size));
  actions.resize(n);
  rewards.resize(n);
  terminals.resize(n);
}

LearnerHyperparameters LearnerHyperparameters::From(const LearnerSettings& settings) {
  LearnerHyperparameters h;
  h.gamma = static_cast<float>(settings.gamma);
  h.loss = settings.loss;
  h.huber_delta = static_cast<float>(settings.huber_delta);
  h.learning_rate = settings.learning_rate;
  h.adam_beta1 = settings.adam_beta1;
  h.adam_beta2 = settings.adam_beta2;
  h.adam_eps = settings.adam_eps;
  return h;
}

std::vector<float> InitMlpParameters(const MlpShape& shape, Rng& rng) {
  std::vector<float> parameters(shape.NumParameters());
  for (int l = 0; l < shape.num_layers(); ++l) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(shape.LayerInputs(l)));
    const size_t begin = shape.WeightOffset(l);
    const size_t end = shape.WeightOffset(l + 1);  // weight then bias of layer l
    for (size_t i = begin; i < end; ++i) {
      parameters[i] = static_cast<float>(rng.Uniform(-bound, bound));
    }
  }
  return parameters;
}

LearnerState FreshLearnerState(const std::vector<float>& parameters) {
  LearnerState state;
  state.online = parameters;
  state.target = parameters;
  state.adam.first_moment.assign(parameters.size(), 0.0f);
  state.adam.second_moment.assign(parameters.size(), 0.0f);
  state.adam.step = 0;
  return state;
}

}  // namespace bestserve
