#include "workloads/registry.h"

#include <fmt/format.h>

namespace bestserve {

// The registry: one line per workload kind, in `bestserve workload kinds` order. Each kind is
// defined beside its generator (poisson.cpp, unpredictable.cpp, mmpp.cpp, maf_like.cpp,
// trace_workload.cpp, workload_ops.cpp, mixture.cpp, request_csv.cpp).
#define BESTSERVE_FOR_EACH_WORKLOAD_KIND(X) \
  X(kPoissonWorkload)                       \
  X(kUnpredictable1Workload)                \
  X(kUnpredictable2Workload)                \
  X(kMmppWorkload)                          \
  X(kMaf1LikeWorkload)                      \
  X(kMaf2LikeWorkload)                      \
  X(kTraceWorkload)                         \
  X(kMergeWorkload)                         \
  X(kMixtureWorkload)                       \
  X(kCsvWorkload)

#define BESTSERVE_DECLARE_KIND(kind) extern const WorkloadKind kind;
BESTSERVE_FOR_EACH_WORKLOAD_KIND(BESTSERVE_DECLARE_KIND)
#undef BESTSERVE_DECLARE_KIND

std::span<const WorkloadKind* const> WorkloadKindTable() {
#define BESTSERVE_KIND_ADDRESS(kind) &(kind),
  static const WorkloadKind* const kinds[] = {BESTSERVE_FOR_EACH_WORKLOAD_KIND(BESTSERVE_KIND_ADDRESS)};
#undef BESTSERVE_KIND_ADDRESS
  return kinds;
}

std::vector<std::string> WorkloadKinds() {
  std::vector<std::string> kinds;
  for (const WorkloadKind* k : WorkloadKindTable()) kinds.emplace_back(k->kind);
  return kinds;
}

std::unique_ptr<WorkloadGenerator> MakeWorkloadGenerator(const ConfigNode& section,
                                                         const std::string& base_dir) {
  section.ExpectMap("workload settings");
  const ConfigNode kind_node = section.Child("kind");
  const std::string kind = kind_node.AsString();
  for (const WorkloadKind* k : WorkloadKindTable()) {
    if (kind == k->kind) return k->make(section, base_dir);
  }
  kind_node.Fail(fmt::format("unknown workload kind '{}'; valid kinds: {}", kind,
                             fmt::join(WorkloadKinds(), ", ")));
}

}  // namespace bestserve
