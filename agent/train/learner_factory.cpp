#include "agent/train/learner_factory.h"

#include "agent/learn/fast_learner.h"
#include "common/error.h"
#if BESTSERVE_AGENT_HAS_TORCH
#include "agent/learn/torch_learner.h"
#endif

namespace bestserve {

bool TorchBackendBuilt() { return BESTSERVE_AGENT_HAS_TORCH != 0; }

LearnerFactory LearnerFactoryFor(const LearnerSettings& settings) {
  settings.Validate();
  if (settings.backend == "fast") return MakeFastLearner;
#if BESTSERVE_AGENT_HAS_TORCH
  const std::string device = settings.device;
  return [device](const MlpShape& shape, const LearnerHyperparameters& hyperparameters,
                  const LearnerState& state) {
    return MakeTorchLearner(shape, hyperparameters, state, device);
  };
#else
  ThrowConfigError(
      "learner backend '{}' is not available: bestserve was built with "
      "BESTSERVE_WITH_TORCH=OFF; use backend: fast",
      settings.backend);
#endif
}

}  // namespace bestserve
