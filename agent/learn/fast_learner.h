// The fast CPU backend: Double DQN with hand-written forward, backward and Adam, float32, no
// allocation per update once the batch size is known. On 1 or 2 threads: with 2, each update of
// a network of one thin hidden layer (the paper's 8-256-3) runs its passes in two halves at once
// (agent/learn/two_part_runner.h), giving the same bits as 1 thread; other shapes run on one
// thread whatever is asked. Its kernels (vector
// extensions, compiled for baseline x86-64, AVX2 and AVX-512 and picked at run time) are in
// fast_learner.cpp; this header exposes none of them.
#pragma once

#include <memory>

#include "agent/learn/learner.h"

namespace bestserve {

// Precondition: shape.Problem() is empty, state sizes match shape.NumParameters(). One thread.
std::unique_ptr<QLearner> MakeFastLearner(const MlpShape& shape,
                                          const LearnerHyperparameters& hyperparameters,
                                          const LearnerState& initial_state);
// The same on `threads` (1 or 2) threads.
std::unique_ptr<QLearner> MakeFastLearnerOnThreads(const MlpShape& shape,
                                                   const LearnerHyperparameters& hyperparameters,
                                                   const LearnerState& initial_state, int threads);

}  // namespace bestserve
