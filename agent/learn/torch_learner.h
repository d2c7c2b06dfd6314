// The libtorch backend: the same Double-DQN learner with torch::nn::Linear layers, autograd
// and torch::optim::Adam, on CPU or CUDA. It exists to check the fast path against autograd
// (tests/agent/torch_equivalence_test.cpp) and to use a GPU. Built only with
// BESTSERVE_WITH_TORCH (target bestserve::agent_torch); this header includes no torch header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "agent/learn/learner.h"

namespace bestserve {

// `device` is "cpu" or "cuda" (throws ConfigError when CUDA is not available).
// The caller owns torch's global settings (torch::set_num_threads, torch::manual_seed).
std::unique_ptr<QLearner> MakeTorchLearner(const MlpShape& shape,
                                           const LearnerHyperparameters& hyperparameters,
                                           const LearnerState& initial_state,
                                           const std::string& device = "cpu");

// Whether this libtorch can use a CUDA device.
bool TorchCudaAvailable();

// Torch's process-wide settings, for callers that do not include torch headers (tests, bench,
// the CLI): intra-op threads (torch::set_num_threads) and the global generator's seed
// (torch::manual_seed). Tests pin both. Including torch headers in a Catch2 test file is best
// avoided: glog, which torch includes, redefines CHECK.
void SetTorchThreads(int threads);
void SeedTorch(uint64_t seed);
// The libtorch version, e.g. "1.13.0".
std::string TorchVersion();

}  // namespace bestserve
