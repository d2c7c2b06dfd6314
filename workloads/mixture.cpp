#include "workloads/mixture.h"

#include <fmt/format.h>

#include "common/rng.h"
#include "workloads/registry.h"

namespace bestserve {

MixtureWorkload::MixtureWorkload(std::vector<Component> components) : components_(std::move(components)) {
  for (const Component& c : components_) total_weight_ += c.weight;
}

std::unique_ptr<WorkloadGenerator> MixtureWorkload::FromConfig(const ConfigNode& section,
                                                               const std::string& base_dir) {
  section.CheckKeys({"kind", "components"});
  const ConfigNode list = section.Child("components");
  list.ExpectSequence("components {weight, workload, prompt_tokens, output_tokens}");
  if (list.size() == 0) list.Fail("expected at least one component");
  std::vector<Component> components;
  for (size_t i = 0; i < list.size(); ++i) {
    const ConfigNode node = list.Element(i);
    node.ExpectMap("a component {weight, workload, prompt_tokens, output_tokens}");
    node.CheckKeys({"weight", "workload", "prompt_tokens", "output_tokens"});
    Component c;
    c.weight = node.GetPositiveDouble("weight", 1.0);
    c.generator = MakeWorkloadGenerator(node.Child("workload"), base_dir);
    if (auto p = node.MaybeChild("prompt_tokens")) c.prompt_tokens = TokenLengthSpec::Parse(*p);
    if (auto o = node.MaybeChild("output_tokens")) c.output_tokens = TokenLengthSpec::Parse(*o);
    components.push_back(std::move(c));
  }
  return std::make_unique<MixtureWorkload>(std::move(components));
}

size_t MixtureWorkload::ComponentFor(uint64_t seed) const {
  Rng rng(DeriveSeed(seed, "mixture"));
  double u = rng.Uniform01() * total_weight_;
  for (size_t i = 0; i + 1 < components_.size(); ++i) {
    if (u < components_[i].weight) return i;
    u -= components_[i].weight;
  }
  return components_.size() - 1;
}

Workload MixtureWorkload::Generate(const WorkloadContext& ctx) const {
  const size_t i = ComponentFor(ctx.seed);
  const Component& c = components_[i];
  WorkloadContext sub = ctx;
  sub.seed = DeriveSeed(ctx.seed, fmt::format("mixture/{}", i));
  Workload workload = c.generator->Generate(sub);
  if (c.prompt_tokens || c.output_tokens) {
    Rng lengths(DeriveSeed(ctx.seed, fmt::format("mixture/{}/lengths", i)));
    for (Request& r : workload) {
      if (c.prompt_tokens) r.prompt_tokens = c.prompt_tokens->Sample(lengths);
      if (c.output_tokens) r.output_tokens = c.output_tokens->Sample(lengths);
    }
  }
  return workload;
}

std::string MixtureWorkload::Describe() const {
  std::vector<std::string> parts;
  for (const Component& c : components_) {
    std::string text = fmt::format("{:.3g}: {}", c.weight / total_weight_, c.generator->Describe());
    if (c.prompt_tokens) text += fmt::format(", prompts {}", c.prompt_tokens->Describe());
    if (c.output_tokens) text += fmt::format(", outputs {}", c.output_tokens->Describe());
    parts.push_back(text);
  }
  return fmt::format("mixture({})", fmt::join(parts, "; "));
}

extern const WorkloadKind kMixtureWorkload{
    "mixture", "one of several workloads (and length distributions), drawn per seed: training over a distribution",
    [](const ConfigNode& s, const std::string& base) { return MixtureWorkload::FromConfig(s, base); }};

}  // namespace bestserve
