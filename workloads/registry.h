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
// An unknown kind lists the valid ones. Adding a kind: a generator file defining its
// `const WorkloadKind k<Name>Workload` and one line in registry.cpp's table
// (workloads/poisson.h is the annotated template). The kinds, each documented in its header and
// in docs/workloads.md:
//
//   | kind           | header            | what                                             |
//   |----------------|-------------------|--------------------------------------------------|
//   | poisson        | poisson.h         | the paper's stable workload                      |
//   | unpredictable1 | unpredictable.h   | the paper's unpredictable workload #1            |
//   | unpredictable2 | unpredictable.h   | the paper's unpredictable workload #2            |
//   | mmpp           | mmpp.h            | Markov-modulated Poisson (CTMC or semi-Markov)   |
//   | maf1_like      | maf_like.h        | steady, fitted to Azure Functions 2019           |
//   | maf2_like      | maf_like.h        | bursty, fitted to Azure LLM inference 2023       |
//   | trace          | trace_workload.h  | replay of a production trace (5 formats)         |
//   | merge          | workload_ops.h    | superposition of other workloads                 |
//   | mixture        | mixture.h         | one of several workloads, drawn per seed         |
//   | csv            | request_csv.h     | replay of a saved request CSV                    |
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/config.h"
#include "workloads/workload_generator.h"

namespace bestserve {

// One kind of workload: its `kind:` name, a one-line description (`bestserve workload kinds`),
// and the factory that parses its section. Each is defined beside its generator and listed once
// in registry.cpp's table.
struct WorkloadKind {
  const char* kind;
  const char* help;
  // Parses `section` (a map with this `kind`); relative paths resolve against `base_dir`.
  std::unique_ptr<WorkloadGenerator> (*make)(const ConfigNode& section, const std::string& base_dir);
};

// Every registered kind, in registry order.
std::span<const WorkloadKind* const> WorkloadKindTable();

// Builds the generator a workload section describes; throws ConfigError on bad settings.
// Relative file paths inside the section resolve against `base_dir` (the config's folder).
std::unique_ptr<WorkloadGenerator> MakeWorkloadGenerator(const ConfigNode& section,
                                                         const std::string& base_dir);

// Names of every registered generator kind, in registry order.
std::vector<std::string> WorkloadKinds();

}  // namespace bestserve
