#include "workloads/registry.h"

#include <fmt/format.h>

#include <filesystem>
#include <functional>

#include "workloads/maf_like.h"
#include "workloads/mmpp.h"
#include "workloads/poisson.h"
#include "workloads/request_csv.h"
#include "workloads/trace_workload.h"
#include "workloads/unpredictable.h"
#include "workloads/workload_config.h"
#include "workloads/workload_ops.h"

namespace bestserve {
namespace {

// Replays a request CSV written by `bestserve workload generate` or by hand.
//   | key  | meaning                                                        |
//   | path | the CSV file; relative paths as in workload_config.h (config's   |
//   |      | folder, then the data folder)                                   |
class CsvWorkload : public WorkloadGenerator {
 public:
  explicit CsvWorkload(std::string path) : path_(std::move(path)) {}
  Workload Generate(const WorkloadContext& ctx) const override {
    return ReadRequestCsv(path_, *ctx.tasks);
  }
  std::string Describe() const override { return fmt::format("csv({})", path_); }

 private:
  std::string path_;
};

using Factory =
    std::function<std::unique_ptr<WorkloadGenerator>(const ConfigNode&, const std::string&)>;

struct Entry {
  const char* kind;
  Factory make;
};

const std::vector<Entry>& Registry() {
  static const std::vector<Entry> entries = {
      {"poisson",
       [](const ConfigNode& s, const std::string&) { return PoissonWorkload::FromConfig(s); }},
      {"unpredictable1",
       [](const ConfigNode& s, const std::string&) {
         return SegmentedRateWorkload::Unpredictable1FromConfig(s);
       }},
      {"unpredictable2",
       [](const ConfigNode& s, const std::string&) {
         return SegmentedRateWorkload::Unpredictable2FromConfig(s);
       }},
      {"mmpp", [](const ConfigNode& s, const std::string&) { return MmppWorkload::FromConfig(s); }},
      {"maf1_like",
       [](const ConfigNode& s, const std::string&) {
         return ModulatedWorkload::FromConfig(s, "maf1_like", ModulatedSettings::Maf1Defaults());
       }},
      {"maf2_like",
       [](const ConfigNode& s, const std::string&) {
         return ModulatedWorkload::FromConfig(s, "maf2_like", ModulatedSettings::Maf2Defaults());
       }},
      {"trace", [](const ConfigNode& s,
                   const std::string& base) { return TraceWorkload::FromConfig(s, base); }},
      {"merge", [](const ConfigNode& s,
                   const std::string& base) { return MergeWorkload::FromConfig(s, base); }},
      {"csv",
       [](const ConfigNode& s, const std::string& base) -> std::unique_ptr<WorkloadGenerator> {
         s.CheckKeys({"kind", "path"});
         return std::make_unique<CsvWorkload>(ResolveDataPath(s.GetString("path"), base));
       }},
  };
  return entries;
}

}  // namespace

std::vector<std::string> WorkloadKinds() {
  std::vector<std::string> kinds;
  for (const auto& e : Registry()) kinds.emplace_back(e.kind);
  return kinds;
}

std::unique_ptr<WorkloadGenerator> MakeWorkloadGenerator(const ConfigNode& section,
                                                         const std::string& base_dir) {
  section.ExpectMap("workload settings");
  const ConfigNode kind_node = section.Child("kind");
  const std::string kind = kind_node.AsString();
  for (const auto& e : Registry()) {
    if (kind == e.kind) return e.make(section, base_dir);
  }
  kind_node.Fail(fmt::format("unknown workload kind '{}'; valid kinds: {}", kind,
                             fmt::join(WorkloadKinds(), ", ")));
}

}  // namespace bestserve
