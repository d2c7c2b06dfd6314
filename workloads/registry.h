// The one registry of workload generators: name -> parser/factory (vidur's *_registry.py).
//
// A workload section of a config is a map with `kind:` naming the generator and the rest of the
// keys belonging to that generator:
//
//   workload:
//     kind: poisson
//     rate_rps: 2.0
//     duration_s: 40
//
// An unknown kind lists the valid ones.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "workloads/workload_generator.h"

namespace bestserve {

// Builds the generator a workload section describes; throws ConfigError on bad settings.
// Relative file paths inside the section resolve against `base_dir` (the config's folder).
std::unique_ptr<WorkloadGenerator> MakeWorkloadGenerator(const ConfigNode& section,
                                                         const std::string& base_dir);

// Names of every registered generator kind, in registry order.
std::vector<std::string> WorkloadKinds();

}  // namespace bestserve
