// Subcommands of the `bestserve` executable. Each Add*Command registers one CLI11 subcommand
// whose callback parses its options, loads config and calls one library entry point; logic
// lives in the libraries, not here.
//
// Errors: a callback throws bestserve::ConfigError for bad input (exit code 3) and
// bestserve::Error for runtime failures (exit code 1); CLI11 usage errors exit with code 2.
#pragma once

#include <CLI/CLI.hpp>

namespace bestserve::app {

void AddSimulateCommand(CLI::App& app);
void AddEvaluateCommand(CLI::App& app);
void AddWorkloadCommand(CLI::App& app);
void AddSweepCommand(CLI::App& app);
void AddProfileCommand(CLI::App& app);
void AddTrainCommand(CLI::App& app);
void AddExportCommand(CLI::App& app);
void AddReproduceCommand(CLI::App& app);
void AddValidateCommand(CLI::App& app);
void AddGatewayCommand(CLI::App& app);
void AddEmulateCommand(CLI::App& app);
void AddLoadgenCommand(CLI::App& app);

}  // namespace bestserve::app
