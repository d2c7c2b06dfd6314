// bestserve: learned best-effort LLM serving. Parses the command line and dispatches to the
// subcommand; every subcommand is a thin layer over a library call (see commands.h).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "apps/bestserve/commands.h"
#include "common/error.h"

int main(int argc, char** argv) {
  CLI::App app{"bestserve: simulate, train and evaluate learned routers for multi-model LLM serving"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "bestserve 0.1.0");
  bestserve::app::AddSimulateCommand(app);
  bestserve::app::AddTrainCommand(app);
  bestserve::app::AddEvaluateCommand(app);
  bestserve::app::AddExportCommand(app);
  bestserve::app::AddReproduceCommand(app);
  bestserve::app::AddWorkloadCommand(app);
  bestserve::app::AddSweepCommand(app);
  bestserve::app::AddProfileCommand(app);
  bestserve::app::AddValidateCommand(app);
  bestserve::app::AddGatewayCommand(app);
  bestserve::app::AddEmulateCommand(app);
  bestserve::app::AddLoadgenCommand(app);
  // CLI11 answers an unknown first word with "A subcommand is required"; name it instead.
  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      fmt::print(stderr, "error: unknown subcommand '{}'; valid subcommands: {} (bestserve --help)\n", argv[1],
                 fmt::join(names, ", "));
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const bestserve::ConfigError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 3;
  } catch (const bestserve::Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "internal error: {}\n", e.what());
    return 4;
  }
  return 0;
}
