// The libtorch plugin, libbestserve_torch.so (agent/train/torch_plugin.h): the torch learner
// backend and TorchScript export behind one C entry point. Only this shared library links
// libtorch; the bestserve executable loads it with dlopen when a command asks for either.
#include "agent/learn/torch_learner.h"
#include "agent/train/torch_plugin.h"
#include "router/export/torchscript.h"

namespace {

std::unique_ptr<bestserve::QLearner> MakeLearner(const bestserve::MlpShape& shape,
                                                 const bestserve::LearnerHyperparameters& hyperparameters,
                                                 const bestserve::LearnerState& initial_state,
                                                 const std::string& device) {
  return bestserve::MakeTorchLearner(shape, hyperparameters, initial_state, device);
}

}  // namespace

const bestserve::TorchPlugin* bestserve_torch_plugin() {
  static const bestserve::TorchPlugin plugin = [] {
    bestserve::TorchPlugin p;
    p.abi_version = bestserve::kTorchPluginAbiVersion;
    p.make_learner = &MakeLearner;
    p.set_threads = &bestserve::SetTorchThreads;
    p.seed = &bestserve::SeedTorch;
    p.version = &bestserve::TorchVersion;
    p.cuda_available = &bestserve::TorchCudaAvailable;
    p.write_torchscript = &bestserve::WriteTorchScript;
    return p;
  }();
  return &plugin;
}
