// The fast CPU backend: Double DQN with hand-written forward, backward and Adam, float32, single
// thread, no allocation per update once the batch size is known. Its kernels (vector
// extensions, compiled for baseline x86-64, AVX2 and AVX-512 and picked at run time) are in
// fast_learner.cpp; this header exposes none of them.
#pragma once

#include <memory>

#include "agent/learn/learner.h"

namespace bestserve {

// Precondition: shape.Problem() is empty, state sizes match shape.NumParameters().
std::unique_ptr<QLearner> MakeFastLearner(const MlpShape& shape,
                                          const LearnerHyperparameters& hyperparameters,
                                          const LearnerState& initial_state);

}  // namespace bestserve
