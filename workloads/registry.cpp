#include "workloads/registry.h"

#include <fmt/format.h>

#include <filesystem>
#include <functional>

#include "workloads/poisson.h"
#include "workloads/request_csv.h"

namespace bestserve {
namespace {

// Replays a request CSV written by `bestserve workload generate` or by hand.
//   | key  | meaning                                               |
//   | path | the CSV file; relative paths resolve against the config |
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

std::string ResolvePath(const std::string& path, const std::string& base_dir) {
  const std::filesystem::path p(path);
  if (p.is_absolute() || base_dir.empty()) return path;
  return (std::filesystem::path(base_dir) / p).string();
}

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
      {"csv",
       [](const ConfigNode& s, const std::string& base) -> std::unique_ptr<WorkloadGenerator> {
         s.CheckKeys({"kind", "path"});
         return std::make_unique<CsvWorkload>(ResolvePath(s.GetString("path"), base));
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
