// `bestserve export`: a trained policy as a deployable file (and TorchScript).
#include <fmt/format.h>

#include "agent/train/torch_plugin.h"
#include "apps/bestserve/commands.h"
#include "router/export/export.h"

namespace bestserve::app {

void AddExportCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "Export a trained policy for the router library (and TorchScript)");
  auto policy = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto torchscript = std::make_shared<std::string>();
  cmd->add_option("--policy", *policy, "A policy file or a `bestserve train` run folder")->required();
  cmd->add_option("--out", *out, "The policy file to write (e.g. router.bsp)")->required();
  cmd->add_option("--torchscript", *torchscript, "Also write a TorchScript module here (loads the libtorch plugin)");
  cmd->callback([policy, out, torchscript] {
    TorchScriptWriter write_torchscript;
    if (!torchscript->empty()) {
      // Loaded before anything is written: a missing plugin leaves no half-done export.
      write_torchscript = LoadTorchPlugin("export --torchscript").write_torchscript;
    }
    const ExportResult result = ExportPolicy(*policy, *out, *torchscript, write_torchscript);
    fmt::print("exported {}\n", result.summary);
    if (!result.torchscript_file.empty()) fmt::print("TorchScript module: {}\n", result.torchscript_file);
  });
}

}  // namespace bestserve::app
