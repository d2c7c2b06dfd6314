#include "workloads/mixture.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>

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
  list.ExpectSequence("components {weight, workload, prompt_tokens, output_tokens, max_tokens_hint}");
  if (list.size() == 0) list.Fail("expected at least one component");
  std::vector<Component> components;
  for (size_t i = 0; i < list.size(); ++i) {
    const ConfigNode node = list.Element(i);
    node.ExpectMap("a component {weight, workload, prompt_tokens, output_tokens, max_tokens_hint}");
    node.CheckKeys({"weight", "workload", "prompt_tokens", "output_tokens", "max_tokens_hint"});
    Component c;
    c.weight = node.GetPositiveDouble("weight", 1.0);
    c.generator = MakeWorkloadGenerator(node.Child("workload"), base_dir);
    if (auto p = node.MaybeChild("prompt_tokens")) c.prompt_tokens = TokenLengthSpec::Parse(*p);
    if (auto o = node.MaybeChild("output_tokens")) c.output_tokens = TokenLengthSpec::Parse(*o);
    if (auto h = node.MaybeChild("max_tokens_hint")) {
      h->ExpectMap("max_tokens_hint {rule: exact | next_power_of_two, fraction}");
      h->CheckKeys({"rule", "fraction"});
      Component::MaxTokensHint hint;
      const std::string rule = h->GetString("rule");
      if (rule != "exact" && rule != "next_power_of_two") {
        h->Child("rule").Fail(fmt::format("expected exact or next_power_of_two, got '{}'", rule));
      }
      hint.exact = rule == "exact";
      hint.fraction = h->GetDouble("fraction", 1.0);
      if (!(hint.fraction >= 0.0 && hint.fraction <= 1.0)) {
        h->Child("fraction").Fail(fmt::format("expected a fraction in [0, 1], got {}", hint.fraction));
      }
      c.max_tokens_hint = hint;
    }
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
  if (c.max_tokens_hint) {
    Rng hints(DeriveSeed(ctx.seed, fmt::format("mixture/{}/max_tokens", i)));
    for (Request& r : workload) {
      if (!(hints.Uniform01() < c.max_tokens_hint->fraction)) continue;
      const int32_t output = std::max(r.output_tokens, 1);
      // Past 2^30 the next power of two leaves int32: send the length itself.
      r.max_tokens = c.max_tokens_hint->exact || output > (1 << 30)
                         ? output
                         : static_cast<int32_t>(std::bit_ceil(static_cast<uint32_t>(output)));
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
    if (c.max_tokens_hint) {
      text += fmt::format(", max_tokens {} from {:.3g} of clients", c.max_tokens_hint->exact ? "exact" : "next_power_of_two",
                          c.max_tokens_hint->fraction);
    }
    parts.push_back(text);
  }
  return fmt::format("mixture({})", fmt::join(parts, "; "));
}

extern const WorkloadKind kMixtureWorkload{
    "mixture", "one of several workloads (and length distributions), drawn per seed: training over a distribution",
    [](const ConfigNode& s, const std::string& base) { return MixtureWorkload::FromConfig(s, base); }};

}  // namespace bestserve
