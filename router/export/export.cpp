#include "router/export/export.h"

#include <fmt/format.h>

#include <filesystem>

#include "router/policy/policy_io.h"
#include "common/error.h"
#include "common/files.h"
#include "common/rng.h"
#include "router/policy/policy_metadata.h"
#include "router/lib/router.h"

namespace bestserve {
namespace fs = std::filesystem;

ExportResult ExportPolicy(const std::string& policy, const std::string& out, const std::string& torchscript,
                          const TorchScriptWriter& write_torchscript, const std::string& exported_from) {
  std::string source = policy;
  if (fs::is_directory(policy)) {
    source = fs::exists(fs::path(policy) / "best.bsw") ? (fs::path(policy) / "best.bsw").string()
                                                        : (fs::path(policy) / "final.bsw").string();
  }
  if (!torchscript.empty() && !write_torchscript) {
    throw Error("ExportPolicy: a TorchScript path was given without a TorchScript writer");
  }
  if (!fs::exists(source)) ThrowConfigError("--policy {}: no policy file there (expected {})", policy, source);
  PolicyWeights weights = LoadPolicyWeights(source);
  PolicyMetadata metadata;
  const std::string problem = DecodePolicyMetadata(weights.metadata, &metadata);
  if (!problem.empty()) ThrowConfigError("{}: not a routing policy: {}", source, problem);
  weights.metadata.emplace_back("exported_from", exported_from.empty() ? fs::absolute(source).string() : exported_from);
  const std::string bytes = EncodePolicyWeights(weights);
  // The router library must load what we write and agree with the trainer's network on it.
  std::unique_ptr<Router> router;
  try {
    router = Router::FromBytes(bytes, out);
  } catch (const RouterError& e) {
    throw Error(fmt::format("export check failed: {}", e.what()));
  }
  const MlpPolicy reference(weights.shape, weights.parameters);
  Rng rng(DeriveSeed(0, "export-check"));
  std::vector<int32_t> in_flight(static_cast<size_t>(router->num_models()));
  std::vector<int32_t> queued(in_flight.size());
  std::vector<int64_t> prompt_tokens_in_flight(in_flight.size());
  std::vector<float> observation(static_cast<size_t>(metadata.observation.size()));
  for (int i = 0; i < 1000; ++i) {
    // Every input any encoding reads, drawn over the ranges a gateway sees.
    RouteRequest request;
    request.task = static_cast<int>(rng.UniformIndex(static_cast<uint64_t>(router->num_tasks())));
    for (size_t m = 0; m < in_flight.size(); ++m) {
      queued[m] = static_cast<int32_t>(rng.UniformIndex(8));
      in_flight[m] = queued[m] + static_cast<int32_t>(rng.UniformIndex(64));
      prompt_tokens_in_flight[m] = static_cast<int64_t>(rng.UniformIndex(1 << 17));
    }
    request.in_flight = in_flight.data();
    request.queued = queued.data();
    request.prompt_tokens = static_cast<int32_t>(rng.UniformIndex(4096));
    request.in_flight_prompt_tokens = prompt_tokens_in_flight.data();
    request.max_tokens = static_cast<int32_t>(rng.UniformIndex(2048));
    request.deadline_base_s = rng.Uniform(0.0, 10.0);
    request.deadline_per_token_s = rng.Uniform(0.0, 0.1);
    const double rate = rng.Uniform(0.0, 60.0);
    const double slow_rate = rng.Uniform(0.0, 60.0);
    GatewayState state{request.task, in_flight.data(), queued.data(), rate, request.prompt_tokens};
    state.in_flight_prompt_tokens = prompt_tokens_in_flight.data();
    state.slow_rate_rps = slow_rate;
    state.max_tokens = request.max_tokens;
    state.deadline_base_s = request.deadline_base_s;
    state.deadline_per_token_s = request.deadline_per_token_s;
    EncodeObservation(metadata.observation, state, observation.data());
    if (router->DecideWithRates(request, rate, slow_rate) != reference.Act(observation)) {
      throw Error(fmt::format("export check failed: the router library and the trainer's network disagree "
                              "on check {}", i));
    }
  }
  WriteFileAtomically(out, bytes);
  ExportResult result;
  result.policy_file = out;
  if (!torchscript.empty()) {
    write_torchscript(out, torchscript);
    result.torchscript_file = torchscript;
  }
  result.summary = fmt::format(
      "{} -> {} ({} bytes): network {}, observation {}, models [{}], tasks [{}], rate estimator {}", source, out,
      bytes.size(), weights.shape.ToString(), router->observation_encoding(), fmt::join(router->model_names(), ", "),
      fmt::join(router->task_names(), ", "), router->rate_estimator());
  return result;
}

}  // namespace bestserve
