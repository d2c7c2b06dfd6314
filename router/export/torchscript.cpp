// TorchScript export: compiled only into the libtorch plugin (router/export/torchscript.h).
#include <torch/script.h>

#include <fmt/format.h>

#include <filesystem>

#include "router/policy/policy_io.h"
#include "common/error.h"
#include "router/export/torchscript.h"
#include "router/policy/policy_metadata.h"

namespace bestserve {

void WriteTorchScript(const std::string& weights_file, const std::string& out) {
  const PolicyWeights weights = LoadPolicyWeights(weights_file);
  torch::jit::Module module("BestserveRouterPolicy");
  std::string forward = "def forward(self, x):\n";
  for (int layer = 0; layer < weights.shape.num_layers(); ++layer) {
    const int64_t rows = weights.shape.LayerOutputs(layer);
    const int64_t cols = weights.shape.LayerInputs(layer);
    auto w = torch::from_blob(const_cast<float*>(weights.parameters.data() + weights.shape.WeightOffset(layer)),
                              {rows, cols}, torch::kFloat32)
                 .clone();
    auto b = torch::from_blob(const_cast<float*>(weights.parameters.data() + weights.shape.BiasOffset(layer)), {rows},
                              torch::kFloat32)
                 .clone();
    module.register_parameter(fmt::format("w{}", layer), w, /*is_buffer=*/false);
    module.register_parameter(fmt::format("b{}", layer), b, /*is_buffer=*/false);
    const bool last = layer + 1 == weights.shape.num_layers();
    // torch.nn.functional is not resolvable from C++-defined TorchScript; matmul + bias is the
    // same affine map.
    forward += last ? fmt::format("    return torch.matmul(x, self.w{0}.t()) + self.b{0}\n", layer)
                    : fmt::format("    x = torch.relu(torch.matmul(x, self.w{0}.t()) + self.b{0})\n", layer);
  }
  try {
    module.define(forward);
  } catch (const std::exception& e) {
    throw Error(fmt::format("TorchScript export failed: {}", e.what()));
  }
  std::string metadata = "{";
  for (size_t i = 0; i < weights.metadata.size(); ++i) {
    metadata += fmt::format("{}\"{}\": \"{}\"", i > 0 ? ", " : "", weights.metadata[i].first, weights.metadata[i].second);
  }
  metadata += "}";
  torch::jit::ExtraFilesMap extra{{"bestserve_metadata.json", metadata}};
  const std::string temp = out + ".tmp";
  module.save(temp, extra);
  std::filesystem::rename(temp, out);
}

}  // namespace bestserve
