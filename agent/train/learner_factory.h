// Picks the learner backend named by LearnerSettings::backend ("fast" or "torch").
// Target bestserve::agent_backends: the torch backend is loaded from the libtorch plugin
// (agent/train/torch_plugin.h) when asked for, so nothing here links libtorch.
#pragma once

#include "agent/train/trainer.h"

namespace bestserve {

// Throws ConfigError when the backend's plugin cannot be loaded or the device is unavailable.
LearnerFactory LearnerFactoryFor(const LearnerSettings& settings);

// Whether this build made the libtorch plugin (BESTSERVE_WITH_TORCH).
bool TorchBackendBuilt();

}  // namespace bestserve
