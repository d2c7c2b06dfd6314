#include "agent/train/learner_factory.h"

#include "agent/learn/fast_learner.h"
#include "agent/train/torch_plugin.h"

namespace bestserve {

bool TorchBackendBuilt() { return BESTSERVE_AGENT_HAS_TORCH != 0; }

LearnerFactory LearnerFactoryFor(const LearnerSettings& settings) {
  settings.Validate();
  if (settings.backend == "fast") return MakeFastLearner;
  // Loaded here, before a trainer writes anything, so a missing plugin is a config error.
  const TorchPlugin& plugin = LoadTorchPlugin("learner backend 'torch' (use backend: fast without it)");
  const std::string device = settings.device;
  return [&plugin, device](const MlpShape& shape, const LearnerHyperparameters& hyperparameters,
                           const LearnerState& state) {
    return plugin.make_learner(shape, hyperparameters, state, device);
  };
}

}  // namespace bestserve
