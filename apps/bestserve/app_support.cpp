#include "apps/bestserve/app_support.h"

#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "sweep/shard.h"

namespace bestserve::app {

int32_t DefaultWorkers() {
  if (auto slurm = sweep::ProcessEnv("SLURM_CPUS_PER_TASK")) {
    const int value = std::atoi(slurm->c_str());
    if (value > 0) return value;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace bestserve::app
