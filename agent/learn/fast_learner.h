// The fast CPU backend: Double DQN with hand-written forward, backward and Adam, float32, no
// allocation per update once the batch size is known. On 1 or 2 threads. A network of one thin
// hidden layer (the paper's 8-256-3; width a multiple of 32) is always computed in two halves:
// forward and backward by rows (each half's gradient summed over its rows, then the two sums
// added), the sum, Adam and weight refresh by hidden units; with 2 threads the halves run at
// once (agent/learn/two_part_runner.h). The same bits either way. Other shapes run on one
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
