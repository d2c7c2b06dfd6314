// Small helpers shared by the subcommands.
#pragma once

#include <cstdint>
#include <string>

namespace bestserve::app {

// Worker threads to use by default: SLURM_CPUS_PER_TASK when set, else the CPUs this process
// may run on.
int32_t DefaultWorkers();

// `text` quoted for a POSIX shell command line.
std::string ShellQuote(const std::string& text);

}  // namespace bestserve::app
