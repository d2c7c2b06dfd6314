// `bestserve workload ...`: generate and inspect workloads (issue 3 fills this in).
#include "apps/bestserve/commands.h"

namespace bestserve::app {

void AddWorkloadCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("workload", "Generate a workload to a request CSV, or describe one");
  cmd->require_subcommand(1);
}

}  // namespace bestserve::app
