#include "agent/train/learner_factory.h"

#include "agent/learn/fast_learner.h"
#include "agent/train/torch_plugin.h"

namespace bestserve {

bool TorchBackendBuilt() { return BESTSERVE_AGENT_HAS_TORCH != 0; }

LearnerFactory LearnerFactoryFor(const LearnerSettings& settings, int fast_threads) {
  settings.Validate();
  if (fast_threads != 1 && fast_threads != 2) {
    ThrowConfigError("learner threads: expected 1 or 2, got {}", fast_threads);
  }
  if (settings.backend == "fast") {
    return [fast_threads](const MlpShape& shape, const LearnerHyperparameters& hyperparameters,
                          const LearnerState& state) {
      return MakeFastLearnerOnThreads(shape, hyperparameters, state, fast_threads);
    };
  }
  // Loaded here, before a trainer writes anything, so a missing plugin is a config error.
  const TorchPlugin& plugin = LoadTorchPlugin("learner backend 'torch' (use backend: fast without it)");
  const std::string device = settings.device;
  return [&plugin, device](const MlpShape& shape, const LearnerHyperparameters& hyperparameters,
                           const LearnerState& state) {
    return plugin.make_learner(shape, hyperparameters, state, device);
  };
}

}  // namespace bestserve
