// `bestserve sweep ...`: grids of simulations as batch jobs (issue 7 fills this in).
#include "apps/bestserve/commands.h"

namespace bestserve::app {

void AddSweepCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("sweep", "Run a grid of simulations (local pool or Slurm array), merge, plot");
  cmd->require_subcommand(1);
}

}  // namespace bestserve::app
