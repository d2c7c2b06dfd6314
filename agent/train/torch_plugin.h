// The libtorch features, the torch learner backend (agent/learn/torch_learner.h) and TorchScript
// export (router/export/torchscript.h), live in a plugin, libbestserve_torch.so, that is loaded
// on first use. Everything else in bestserve links neither libtorch nor its dependencies, so a
// command that does not use them starts in milliseconds instead of a second (libtorch loads
// about 280 shared libraries and 150 MB before main).
//
// The plugin exports one C function, bestserve_torch_plugin(), returning a table of functions.
// The table passes C++ types (std::string, QLearner): the plugin is built with the executable, by
// the same compiler and standard library, and the ABI version below is checked on load.
//
// Where it is looked for, first match wins:
//   1. $BESTSERVE_TORCH_PLUGIN, when set (and then nowhere else);
//   2. next to the running executable (the build tree, and a plain copy of both files);
//   3. <executable>/../lib/bestserve/ (an installed prefix);
//   4. the build tree's plugin path (test and bench executables live in other folders).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/learn/learner.h"

namespace bestserve {

inline constexpr int kTorchPluginAbiVersion = 1;
inline constexpr const char* kTorchPluginFileName = "libbestserve_torch.so";
inline constexpr const char* kTorchPluginEntryPoint = "bestserve_torch_plugin";

struct TorchPlugin {
  int abi_version = 0;
  // MakeTorchLearner, SetTorchThreads, SeedTorch, TorchVersion, TorchCudaAvailable
  // (agent/learn/torch_learner.h).
  std::unique_ptr<QLearner> (*make_learner)(const MlpShape& shape,
                                            const LearnerHyperparameters& hyperparameters,
                                            const LearnerState& initial_state,
                                            const std::string& device) = nullptr;
  void (*set_threads)(int threads) = nullptr;
  void (*seed)(uint64_t seed) = nullptr;
  std::string (*version)() = nullptr;
  bool (*cuda_available)() = nullptr;
  // WriteTorchScript (router/export/torchscript.h).
  void (*write_torchscript)(const std::string& weights_file, const std::string& out) = nullptr;
};

// The plugin, loaded once per process (thread-safe). `feature` names what needs it in the error:
// throws ConfigError naming the feature, every path tried and why each failed (missing file, a
// library that does not load, a wrong ABI version) when no usable plugin is found.
const TorchPlugin& LoadTorchPlugin(const std::string& feature);

// The paths LoadTorchPlugin tries, in order.
std::vector<std::string> TorchPluginCandidates();

}  // namespace bestserve

// The plugin's single entry point (defined in agent/train/torch_plugin_module.cpp).
extern "C" __attribute__((visibility("default"))) const bestserve::TorchPlugin* bestserve_torch_plugin();
