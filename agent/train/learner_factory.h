// Picks the learner backend named by LearnerSettings::backend ("fast" or "torch").
// Target bestserve::agent_backends: the torch backend is loaded from the libtorch plugin
// (agent/train/torch_plugin.h) when asked for, so nothing here links libtorch.
#pragma once

#include "agent/train/trainer.h"

namespace bestserve {

// Throws ConfigError when the backend's plugin cannot be loaded or the device is unavailable, or
// when fast_threads is not 1 or 2. fast_threads: threads of the fast backend's updates (the same
// bits for either; agent/learn/fast_learner.h); the torch backend has its own setting.
LearnerFactory LearnerFactoryFor(const LearnerSettings& settings, int fast_threads = 1);

// Whether this build made the libtorch plugin (BESTSERVE_WITH_TORCH).
bool TorchBackendBuilt();

}  // namespace bestserve
