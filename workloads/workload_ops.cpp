#include "workloads/workload_ops.h"

#include <fmt/format.h>

#include <cmath>
#include <queue>

#include "common/error.h"
#include "common/rng.h"
#include "workloads/registry.h"

namespace bestserve {

void Renumber(Workload* workload) {
  for (size_t i = 0; i < workload->size(); ++i) (*workload)[i].id = static_cast<int64_t>(i);
}

Workload MergeWorkloads(const std::vector<Workload>& parts) {
  size_t total = 0;
  for (const Workload& p : parts) total += p.size();
  Workload merged;
  merged.reserve(total);
  // (arrival, part) min-heap over the parts' heads; ties go to the lower part index.
  using Head = std::pair<double, size_t>;
  std::priority_queue<Head, std::vector<Head>, std::greater<>> heads;
  std::vector<size_t> next(parts.size(), 0);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].empty()) heads.emplace(parts[i][0].arrival_s, i);
  }
  while (!heads.empty()) {
    const size_t part = heads.top().second;
    heads.pop();
    merged.push_back(parts[part][next[part]++]);
    if (next[part] < parts[part].size()) heads.emplace(parts[part][next[part]].arrival_s, part);
  }
  Renumber(&merged);
  return merged;
}

Workload CutWindow(const Workload& workload, double start_s, double end_s) {
  Workload cut;
  for (const Request& r : workload) {
    if (r.arrival_s < start_s || r.arrival_s >= end_s) continue;
    Request copy = r;
    copy.arrival_s -= start_s;
    cut.push_back(copy);
  }
  Renumber(&cut);
  return cut;
}

void ScaleRate(Workload* workload, double factor, double origin_s) {
  BS_CHECK(factor > 0.0 && std::isfinite(factor));
  for (Request& r : *workload) {
    r.arrival_s = origin_s + (r.arrival_s - origin_s) / factor;
    if (!std::isnan(r.nominal_rate_rps)) r.nominal_rate_rps *= factor;
  }
}

double MeanRate(const Workload& workload) {
  if (workload.size() < 2) return kUnset;
  const double span = workload.back().arrival_s - workload.front().arrival_s;
  if (!(span > 0.0)) return kUnset;
  return static_cast<double>(workload.size()) / span;
}

std::unique_ptr<WorkloadGenerator> MergeWorkload::FromConfig(const ConfigNode& section,
                                                             const std::string& base_dir) {
  section.CheckKeys({"kind", "sources"});
  const ConfigNode list = section.Child("sources");
  list.ExpectSequence("sources {workload, offset_s, rate_scale}");
  if (list.size() == 0) list.Fail("expected at least one source");
  std::vector<Source> sources;
  for (size_t i = 0; i < list.size(); ++i) {
    const ConfigNode node = list.Element(i);
    node.ExpectMap("a source {workload, offset_s, rate_scale}");
    node.CheckKeys({"workload", "offset_s", "rate_scale"});
    Source source;
    source.generator = MakeWorkloadGenerator(node.Child("workload"), base_dir);
    source.offset_s = node.GetNonNegativeDouble("offset_s", 0.0);
    source.rate_scale = node.GetPositiveDouble("rate_scale", 1.0);
    sources.push_back(std::move(source));
  }
  return std::make_unique<MergeWorkload>(std::move(sources));
}

Workload MergeWorkload::Generate(const WorkloadContext& ctx) const {
  std::vector<Workload> parts;
  for (size_t i = 0; i < sources_.size(); ++i) {
    WorkloadContext sub = ctx;
    sub.seed = DeriveSeed(ctx.seed, fmt::format("merge/{}", i));
    Workload part = sources_[i].generator->Generate(sub);
    if (sources_[i].rate_scale != 1.0) ScaleRate(&part, sources_[i].rate_scale, 0.0);
    for (Request& r : part) r.arrival_s += sources_[i].offset_s;
    parts.push_back(std::move(part));
  }
  return MergeWorkloads(parts);
}

std::string MergeWorkload::Describe() const {
  std::vector<std::string> parts;
  for (const Source& s : sources_) {
    std::string text = s.generator->Describe();
    if (s.offset_s != 0.0) text += fmt::format(" +{} s", s.offset_s);
    if (s.rate_scale != 1.0) text += fmt::format(" x{} rate", s.rate_scale);
    parts.push_back(text);
  }
  return fmt::format("merge({})", fmt::join(parts, " | "));
}

// Registered in workloads/registry.cpp.
extern const WorkloadKind kMergeWorkload{
    "merge", "superposition of other workloads",
    [](const ConfigNode& s, const std::string& base) { return MergeWorkload::FromConfig(s, base); }};

}  // namespace bestserve
