// TorchScript export of a policy file. Compiled only into the libtorch plugin
// (agent/train/torch_plugin.h); `bestserve export --torchscript` reaches it through the plugin.
#pragma once

#include <string>

namespace bestserve {

// Writes the network of `weights_file` as a TorchScript module whose forward(x) maps a batch of
// observations [N, input_size] to Q-values [N, num_actions]; the routing metadata goes into the
// archive's extra file "bestserve_metadata.json".
void WriteTorchScript(const std::string& weights_file, const std::string& out);

}  // namespace bestserve
