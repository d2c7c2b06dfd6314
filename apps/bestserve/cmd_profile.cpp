// `bestserve profile ...`: turn raw latency measurements into a profile set (issue 8 fills this in).
#include "apps/bestserve/commands.h"

namespace bestserve::app {

void AddProfileCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("profile", "Fit latency profiles from raw measurements");
  cmd->require_subcommand(1);
}

}  // namespace bestserve::app
