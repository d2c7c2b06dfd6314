// Random routing policies for router tests: a network with random weights and the paper's
// routing metadata, as `bestserve train` would write it.
#pragma once

#include <cmath>
#include <string>

#include "router/policy/mlp.h"
#include "router/policy/weights_format.h"
#include "common/rng.h"
#include "router/policy/policy_metadata.h"

namespace bestserve::testing {

inline PolicyWeights RandomRoutingPolicy(uint64_t seed, std::vector<int> hidden = {256},
                                         ObservationEncoding encoding = ObservationEncoding::kPaperV1,
                                         std::vector<std::string> models = {"opt-125m", "opt-1.3b", "opt-6.7b"},
                                         std::vector<std::string> tasks = {"hellaswag", "copa", "piqa", "openbookqa"}) {
  const int num_models = static_cast<int>(models.size());
  PolicyMetadata metadata;
  metadata.observation.encoding = encoding;
  metadata.observation.num_tasks = static_cast<int>(tasks.size());
  metadata.task_names = std::move(tasks);
  metadata.model_names = std::move(models);
  metadata.observation.num_models = num_models;
  PolicyWeights w;
  w.shape.input_size = metadata.observation.size();
  w.shape.hidden_sizes = std::move(hidden);
  w.shape.num_actions = num_models;
  // Weights uniform in +-3/sqrt(fan_in), biases 0: large enough that decisions depend on the
  // observation (every action wins somewhere), as a trained router's do.
  Rng rng(seed);
  w.parameters.assign(w.shape.NumParameters(), 0.0f);
  for (int layer = 0; layer < w.shape.num_layers(); ++layer) {
    const double bound = 3.0 / std::sqrt(static_cast<double>(w.shape.LayerInputs(layer)));
    const size_t n = static_cast<size_t>(w.shape.LayerInputs(layer)) * static_cast<size_t>(w.shape.LayerOutputs(layer));
    for (size_t i = 0; i < n; ++i) {
      w.parameters[w.shape.WeightOffset(layer) + i] = static_cast<float>(rng.Uniform(-bound, bound));
    }
  }
  // Center each action's mean Q-value over typical observations (output biases), so that the
  // variation with the observation, not a constant offset, decides.
  {
    const int out_layer = w.shape.num_layers() - 1;
    std::vector<double> mean(static_cast<size_t>(num_models), 0.0);
    std::vector<float> obs(static_cast<size_t>(w.shape.input_size)), q(static_cast<size_t>(num_models)), scratch(ForwardScratchSize(w.shape));
    Rng sample(seed + 1);
    const int n = 2000;
    for (int i = 0; i < n; ++i) {
      for (float& x : obs) x = static_cast<float>(sample.Uniform(0.0, 1.0));
      MlpForwardOne(w.shape, w.parameters.data(), obs.data(), q.data(), scratch.data());
      for (int a = 0; a < num_models; ++a) mean[static_cast<size_t>(a)] += q[static_cast<size_t>(a)] / n;
    }
    for (int a = 0; a < num_models; ++a) w.parameters[w.shape.BiasOffset(out_layer) + static_cast<size_t>(a)] = static_cast<float>(-mean[static_cast<size_t>(a)]);
  }
  w.observation_encoding = ToString(encoding);
  w.action_names = metadata.model_names;
  w.metadata = EncodePolicyMetadata(metadata);
  return w;
}

}  // namespace bestserve::testing
