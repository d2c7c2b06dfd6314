// Small helpers shared by the subcommands.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

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

// `text` quoted for a POSIX shell command line.
std::string ShellQuote(const std::string& text);

}  // namespace bestserve::app
