#include "router/lib/router.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <variant>

#include "router/lib/packed_mlp.h"
#include "router/policy/mlp.h"
#include "router/policy/weights_format.h"
#include "router/core/observation.h"
#include "router/policy/policy_metadata.h"
#include "router/core/rate_tracker.h"

namespace bestserve {
namespace {

// Observation + scratch for networks up to this many floats live on the caller's stack; larger
// ones use a per-thread buffer allocated once.
constexpr size_t kStackFloats = 4096;

}  // namespace

struct Router::Impl {
  MlpShape shape;
  PackedMlp network;
  PolicyMetadata metadata;
  std::optional<ObservationEncoder> encoder;  // set with metadata
  std::string encoding_name;
  std::string estimator_name;
  std::mutex arrivals_mutex;
  std::variant<std::monostate, LastKRate, EwmaRate, LastKRateV2, TwoScaleRate> tracker;
  std::atomic<double> rate_rps{0.0};
  size_t scratch_floats = 0;

  int Decide(int task, const int32_t* in_flight, const int32_t* queued, double rate, int32_t prompt_tokens,
             float* q_out) const {
    const int models = metadata.observation.num_models;
    if (task < 0 || task >= metadata.observation.num_tasks || in_flight == nullptr) return -1;
    if (UsesQueued(metadata.observation.encoding) && queued == nullptr) return -1;
    if (UsesPromptTokens(metadata.observation.encoding) && prompt_tokens < 0) return -1;
    const size_t needed = static_cast<size_t>(shape.input_size) + scratch_floats + static_cast<size_t>(models);
    std::array<float, kStackFloats> stack_buffer;  // uninitialized on purpose: fully written below
    float* buffer = stack_buffer.data();
    thread_local std::vector<float> heap_buffer;
    if (needed > kStackFloats) {
      if (heap_buffer.size() < needed) heap_buffer.resize(needed);
      buffer = heap_buffer.data();
    }
    float* observation = buffer;
    float* q_values = q_out != nullptr ? q_out : observation + shape.input_size + scratch_floats;
    const GatewayState state{task, in_flight, queued, rate, prompt_tokens};
    encoder->Encode(state, observation);
    network.Forward(observation, q_values, observation + shape.input_size);
    return GreedyAction(q_values, models);
  }

  // PackedMlp::kColumns decisions through the batch kernel; entries past `count` are unused.
  void DecideColumns(int count, const int32_t* tasks, const int32_t* in_flight, const int32_t* queued,
                     const double* rates, const int32_t* prompt_tokens, int32_t* decisions) const {
    constexpr int kC = PackedMlp::kColumns;
    const int models = metadata.observation.num_models;
    const size_t inputs = static_cast<size_t>(shape.input_size);
    const size_t needed =
        inputs * (kC + 1) + network.column_scratch_floats() + static_cast<size_t>(models) * (kC + 1);
    std::array<float, kStackFloats> stack_buffer;  // uninitialized on purpose: fully written below
    float* buffer = stack_buffer.data();
    thread_local std::vector<float> heap_buffer;
    if (needed > kStackFloats) {
      if (heap_buffer.size() < needed) heap_buffer.resize(needed);
      buffer = heap_buffer.data();
    }
    float* row = buffer;
    float* columns = row + inputs;
    float* q_values = columns + inputs * kC;
    float* scratch = q_values + static_cast<size_t>(models) * kC;
    float* q = scratch + network.column_scratch_floats();
    bool valid[kC] = {};
    for (int c = 0; c < kC; ++c) {
      const bool needs_prompt = UsesPromptTokens(metadata.observation.encoding);
      valid[c] = c < count && tasks[c] >= 0 && tasks[c] < metadata.observation.num_tasks &&
                 (queued != nullptr || !UsesQueued(metadata.observation.encoding)) &&
                 (!needs_prompt || (prompt_tokens != nullptr && prompt_tokens[c] >= 0));
      if (valid[c]) {
        const int32_t* queues = queued != nullptr ? queued + static_cast<ptrdiff_t>(c) * models : nullptr;
        const int32_t prompt = prompt_tokens != nullptr ? prompt_tokens[c] : 0;
        encoder->Encode(
            GatewayState{tasks[c], in_flight + static_cast<ptrdiff_t>(c) * models, queues, rates[c], prompt}, row);
      } else {
        std::fill(row, row + inputs, 0.0f);
      }
      for (size_t k = 0; k < inputs; ++k) columns[k * kC + static_cast<size_t>(c)] = row[k];
    }
    network.ForwardColumns(columns, q_values, scratch);
    for (int c = 0; c < count && c < kC; ++c) {
      for (int a = 0; a < models; ++a) q[a] = q_values[static_cast<size_t>(a) * kC + static_cast<size_t>(c)];
      decisions[c] = valid[c] ? GreedyAction(q, models) : -1;
    }
  }
};

Router::Router(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Router::~Router() = default;

std::unique_ptr<Router> Router::FromBytes(std::string_view bytes, const std::string& what) {
  PolicyWeights weights;
  try {
    weights = DecodePolicyWeights(bytes, what);
  } catch (const std::exception& e) {
    throw RouterError(e.what());
  }
  auto impl = std::make_unique<Impl>();
  const std::string problem = DecodePolicyMetadata(weights.metadata, &impl->metadata);
  if (!problem.empty()) throw RouterError(what + ": not a routing policy: " + problem);
  const ObservationSpec& spec = impl->metadata.observation;
  if (spec.size() != weights.shape.input_size) {
    throw RouterError(what + ": the network takes " + std::to_string(weights.shape.input_size) +
                      " inputs but its observation encoding gives " + std::to_string(spec.size()));
  }
  if (spec.num_models != weights.shape.num_actions) {
    throw RouterError(what + ": the network has " + std::to_string(weights.shape.num_actions) +
                      " actions but the file names " + std::to_string(spec.num_models) + " models");
  }
  impl->shape = weights.shape;
  impl->network = PackedMlp(weights.shape, weights.parameters.data());
  impl->encoder.emplace(spec);
  impl->scratch_floats = impl->network.scratch_floats();
  impl->encoding_name = ToString(spec.encoding);
  const RateEstimatorSettings& estimator = impl->metadata.rate_estimator;
  if (estimator.kind == "last_k") {
    impl->tracker = LastKRate(estimator.k);
    impl->estimator_name = "last_k(k=" + std::to_string(estimator.k) + ")";
  } else if (estimator.kind == "last_k_v2") {
    impl->tracker = LastKRateV2(estimator.k, estimator.resolution_s);
    std::ostringstream name;
    name << "last_k_v2(k=" << estimator.k << ",resolution_s=" << estimator.resolution_s << ")";
    impl->estimator_name = name.str();
  } else if (estimator.kind == "two_scale") {
    impl->tracker = TwoScaleRate(estimator.fast_half_life_s, estimator.slow_half_life_s);
    std::ostringstream name;
    name << "two_scale(fast_half_life_s=" << estimator.fast_half_life_s
         << ",slow_half_life_s=" << estimator.slow_half_life_s << ")";
    impl->estimator_name = name.str();
  } else if (estimator.kind == "ewma") {
    impl->tracker = EwmaRate(estimator.half_life_s);
    std::ostringstream name;
    name << "ewma(half_life_s=" << estimator.half_life_s << ")";
    impl->estimator_name = name.str();
  } else {
    impl->estimator_name = "true";
  }
  return std::unique_ptr<Router>(new Router(std::move(impl)));
}

std::unique_ptr<Router> Router::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RouterError(path + ": cannot open policy file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return FromBytes(buffer.str(), path);
}

int Router::num_models() const { return impl_->metadata.observation.num_models; }
int Router::num_tasks() const { return impl_->metadata.observation.num_tasks; }
const std::vector<std::string>& Router::model_names() const { return impl_->metadata.model_names; }
const std::vector<std::string>& Router::task_names() const { return impl_->metadata.task_names; }
int Router::observation_size() const { return impl_->shape.input_size; }
const std::string& Router::observation_encoding() const { return impl_->encoding_name; }
const std::string& Router::rate_estimator() const { return impl_->estimator_name; }

int Router::TaskIndex(std::string_view name) const {
  const auto& names = impl_->metadata.task_names;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  return -1;
}

double Router::ObserveArrival(double now_s) {
  std::lock_guard<std::mutex> lock(impl_->arrivals_mutex);
  double rate = impl_->rate_rps.load(std::memory_order_relaxed);
  if (auto* last_k = std::get_if<LastKRate>(&impl_->tracker)) {
    rate = last_k->Observe(now_s);
  } else if (auto* ewma = std::get_if<EwmaRate>(&impl_->tracker)) {
    rate = ewma->Observe(now_s);
  } else if (auto* last_k_v2 = std::get_if<LastKRateV2>(&impl_->tracker)) {
    rate = last_k_v2->Observe(now_s);
  } else if (auto* two_scale = std::get_if<TwoScaleRate>(&impl_->tracker)) {
    rate = two_scale->Observe(now_s);
  }
  impl_->rate_rps.store(rate, std::memory_order_relaxed);
  return rate;
}

void Router::SetArrivalRate(double rate_rps) { impl_->rate_rps.store(rate_rps, std::memory_order_relaxed); }
double Router::arrival_rate_rps() const { return impl_->rate_rps.load(std::memory_order_relaxed); }

int Router::Decide(int task, const int32_t* in_flight, const int32_t* queued, int32_t prompt_tokens) const {
  return impl_->Decide(task, in_flight, queued, arrival_rate_rps(), prompt_tokens, nullptr);
}

int Router::DecideWithRate(int task, const int32_t* in_flight, const int32_t* queued, double rate_rps,
                           int32_t prompt_tokens) const {
  return impl_->Decide(task, in_flight, queued, rate_rps, prompt_tokens, nullptr);
}

int Router::Route(int task, double now_s, const int32_t* in_flight, const int32_t* queued, int32_t prompt_tokens) {
  const double rate = ObserveArrival(now_s);
  return impl_->Decide(task, in_flight, queued, rate, prompt_tokens, nullptr);
}

bool Router::needs_queued() const { return UsesQueued(impl_->metadata.observation.encoding); }
bool Router::needs_prompt_tokens() const { return UsesPromptTokens(impl_->metadata.observation.encoding); }

void Router::DecideBatch(int count, const int32_t* tasks, const int32_t* in_flight, const int32_t* queued,
                         const double* rates, int32_t* models, const int32_t* prompt_tokens) const {
  if (in_flight == nullptr) {
    std::fill(models, models + std::max(count, 0), -1);
    return;
  }
  const ptrdiff_t m = num_models();
  for (int i = 0; i < count; i += PackedMlp::kColumns) {
    impl_->DecideColumns(count - i, tasks + i, in_flight + i * m, queued != nullptr ? queued + i * m : nullptr,
                         rates + i, prompt_tokens != nullptr ? prompt_tokens + i : nullptr, models + i);
  }
}

void Router::QValues(int task, const int32_t* in_flight, const int32_t* queued, double rate_rps,
                     float* q_values, int32_t prompt_tokens) const {
  impl_->Decide(task, in_flight, queued, rate_rps, prompt_tokens, q_values);
}

}  // namespace bestserve
