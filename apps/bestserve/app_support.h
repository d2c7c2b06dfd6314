// Small helpers shared by the subcommands.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scenario/scenario.h"

namespace bestserve::app {

// Worker threads to use by default: SLURM_CPUS_PER_TASK when set, else the CPUs this process
// may run on.
int32_t DefaultWorkers();

// Flag checks that say the accepted range and echo the value (CLI11's own say "could not
// convert"). Each is the one check of its kind of flag in every subcommand.
//  * SeedFlag: an integer in [0, 2^63 - 1] (seeds travel through YAML as signed 64-bit).
//  * WorkerCountFlag: -j/--jobs, an integer in [1, 4096].
CLI::Validator SeedFlag();
CLI::Validator WorkerCountFlag();

// Flags shared by the subcommands that load a scenario (simulate, evaluate, loadgen); they
// mean the same thing everywhere.
struct ScenarioFlags {
  std::string config;
  std::string out;
  std::optional<uint64_t> seed;
  std::optional<double> rate_rps;
  std::optional<double> duration_s;
  std::vector<std::string> set_values;

  void Add(CLI::App* cmd) {
    cmd->add_option("--config", config, "Scenario YAML (default: the built-in paper 4-GPU setup)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--out", out, "Folder for results (resolved config, per-request log, summary)");
    cmd->add_option("--seed", seed, "Master seed (overrides `seed`)")->check(SeedFlag());
    cmd->add_option("--rate", rate_rps, "Poisson arrival rate in requests/s (overrides workload.rate_rps)");
    cmd->add_option("--duration", duration_s, "Poisson workload length in s (overrides workload.duration_s)");
    cmd->add_option("--set", set_values,
                    "Override any key: --set cluster.gpu_groups[0].count=8 (value in YAML; repeatable)");
  }
  ScenarioOverrides Overrides() const;
};

// `text` quoted for a POSIX shell command line.
std::string ShellQuote(const std::string& text);

}  // namespace bestserve::app
