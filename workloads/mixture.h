// kind: mixture: one of several workloads, drawn afresh for every seed.
//
// For training over a distribution of traffic rather than one workload: the training
// environment generates each episode's workload with that episode's seed, so every episode
// draws its own component (a rate level, a burst shape, a length distribution). Evaluating a
// mixture is rarely what you want: a plain run sees the one component its seed draws.
//
//   | key                          | meaning                                            | default |
//   |------------------------------|----------------------------------------------------|---------|
//   | components                   | list of {weight, workload, prompt_tokens, output_tokens} | required |
//   | components[i].weight         | relative probability (> 0)                          | 1       |
//   | components[i].workload       | any workload section (its own `kind`)               | required|
//   | components[i].prompt_tokens  | token-length spec (common/tasks.h) redrawing every   | -       |
//   |                              |   request's prompt length; absent: the component's own |       |
//   | components[i].output_tokens  | the same for output lengths                         | -       |
//   | components[i].max_tokens_hint| {rule: exact | next_power_of_two, fraction}: the    | none    |
//   |                              |   clients that send max_tokens (a `fraction` of the |         |
//   |                              |   requests, drawn per request) and what they send: |         |
//   |                              |   the output length, or the next power of two >= it |         |
//   |                              |   (a loose cap, as clients set one); others send none |       |
//
// Streams: the component from DeriveSeed(seed, "mixture"); the component's own workload from
// DeriveSeed(seed, "mixture/i"); redrawn lengths from DeriveSeed(seed, "mixture/i/lengths"),
// prompt then output per request in arrival order; max_tokens hints from
// DeriveSeed(seed, "mixture/i/max_tokens"), one draw per request. Adding a component changes which one a
// seed draws, never how a drawn component generates.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/tasks.h"
#include "workloads/workload_generator.h"

namespace bestserve {

class MixtureWorkload : public WorkloadGenerator {
 public:
  struct Component {
    double weight = 1.0;
    std::unique_ptr<WorkloadGenerator> generator;
    std::optional<TokenLengthSpec> prompt_tokens;
    std::optional<TokenLengthSpec> output_tokens;
    struct MaxTokensHint {
      bool exact = false;     // else the next power of two >= the output length
      double fraction = 1.0;  // of the requests whose client sends it
    };
    std::optional<MaxTokensHint> max_tokens_hint;
  };
  explicit MixtureWorkload(std::vector<Component> components);
  static std::unique_ptr<WorkloadGenerator> FromConfig(const ConfigNode& section,
                                                       const std::string& base_dir);

  // The component index seed `seed` draws (exposed for tests and logs).
  size_t ComponentFor(uint64_t seed) const;
  Workload Generate(const WorkloadContext& ctx) const override;
  std::string Describe() const override;

 private:
  std::vector<Component> components_;
  double total_weight_ = 0.0;
};

}  // namespace bestserve
