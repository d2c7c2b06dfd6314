// `bestserve export`: a trained policy leaves as a deployable policy file (the router library's
// input, router/lib/router.h) and, through the libtorch plugin, a TorchScript module for
// Python/libtorch users.
#pragma once

#include <functional>
#include <string>

namespace bestserve {

struct ExportResult {
  std::string policy_file;
  std::string torchscript_file;  // empty when not written
  std::string summary;           // one paragraph for the user
};

// Writes a TorchScript module of the exported policy file (the libtorch plugin's writer,
// agent/train/torch_plugin.h): arguments are the written policy file and the module's path.
using TorchScriptWriter = std::function<void(const std::string& policy_file, const std::string& out)>;

// `policy`: a policy weights file, or a `bestserve train` run folder (its best.bsw, else
// final.bsw). Writes `out` atomically after checking that the router library loads it and
// decides as the trainer's network does. `torchscript` (optional) is written by
// `write_torchscript`, which must then be given. Throws ConfigError on an unusable input, Error
// when writing fails. The file records where it came from (metadata `exported_from`):
// `exported_from` when given (outputs that must not depend on where a cache lives), else the
// source's absolute path.
ExportResult ExportPolicy(const std::string& policy, const std::string& out, const std::string& torchscript,
                          const TorchScriptWriter& write_torchscript = {}, const std::string& exported_from = "");

}  // namespace bestserve
