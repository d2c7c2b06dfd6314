// `bestserve export`: a trained policy leaves as a deployable policy file (the router library's
// input, router/lib/router.h) and, with libtorch, a TorchScript module for Python/libtorch users.
#pragma once

#include <string>

namespace bestserve {

struct ExportResult {
  std::string policy_file;
  std::string torchscript_file;  // empty when not written
  std::string summary;           // one paragraph for the user
};

// `policy`: a policy weights file, or a `bestserve train` run folder (its best.bsw, else
// final.bsw). Writes `out` atomically after checking that the router library loads it and
// decides as the trainer's network does. `torchscript` (optional) needs a libtorch build.
// Throws ConfigError on an unusable input, Error when writing fails.
ExportResult ExportPolicy(const std::string& policy, const std::string& out, const std::string& torchscript);

// True when this build can write TorchScript.
bool TorchScriptAvailable();

// Writes the network of `weights_file` as a TorchScript module whose forward(x) maps a batch of
// observations [N, input_size] to Q-values [N, num_actions]; the routing metadata goes into the
// archive's extra file "bestserve_metadata.json". Defined only in torch builds.
void WriteTorchScript(const std::string& weights_file, const std::string& out);

}  // namespace bestserve
