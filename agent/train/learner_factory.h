// Picks the learner backend named by LearnerSettings::backend ("fast" or "torch").
// Target bestserve::agent_backends: links the torch backend when bestserve was built with
// BESTSERVE_WITH_TORCH, so code that only needs the fast path can link bestserve::agent alone.
#pragma once

#include "agent/train/trainer.h"

namespace bestserve {

// Throws ConfigError when the backend is not built in or the device is unavailable.
LearnerFactory LearnerFactoryFor(const LearnerSettings& settings);

// Whether this build has the libtorch backend.
bool TorchBackendBuilt();

}  // namespace bestserve
