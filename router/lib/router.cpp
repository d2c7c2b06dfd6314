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
  DecayedCountRate slow_tracker{kSlowRateHalfLifeS};
  std::atomic<double> slow_rate_rps{0.0};
  size_t scratch_floats = 0;

  // Whether `r` carries every input this policy's encoding reads.
  bool Valid(const RouteRequest& r) const {
    const ObservationEncoding encoding = metadata.observation.encoding;
    if (r.task < 0 || r.task >= metadata.observation.num_tasks || r.in_flight == nullptr) return false;
    if (UsesQueued(encoding) && r.queued == nullptr) return false;
    if (UsesPromptTokens(encoding) && r.prompt_tokens < 0) return false;
    if (UsesGatewayFacts(encoding) &&
        (r.in_flight_prompt_tokens == nullptr || r.max_tokens < 0 || !(r.deadline_base_s >= 0.0) ||
         !(r.deadline_per_token_s >= 0.0))) {
      return false;
    }
    return true;
  }

  static GatewayState StateOf(const RouteRequest& r, double rate, double slow_rate) {
    GatewayState state{r.task, r.in_flight, r.queued, rate, r.prompt_tokens};
    state.in_flight_prompt_tokens = r.in_flight_prompt_tokens;
    state.slow_rate_rps = slow_rate;
    state.max_tokens = r.max_tokens;
    state.deadline_base_s = r.deadline_base_s;
    state.deadline_per_token_s = r.deadline_per_token_s;
    return state;
  }

  int Decide(const RouteRequest& r, double rate, double slow_rate, float* q_out) const {
    if (!Valid(r)) return -1;
    const int models = metadata.observation.num_models;
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
    encoder->Encode(StateOf(r, rate, slow_rate), observation);
    network.Forward(observation, q_values, observation + shape.input_size, r.task);
    return GreedyAction(q_values, models);
  }

  // PackedMlp::kColumns decisions through the batch kernel: request c is request_of(c) with
  // rates rate_of(c) and slow_rate_of(c); entries past `count` are unused.
  template <typename RequestOf, typename RateOf, typename SlowRateOf>
  void DecideColumns(int count, RequestOf request_of, RateOf rate_of, SlowRateOf slow_rate_of,
                     int32_t* decisions) const {
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
      if (c < count) {
        const RouteRequest r = request_of(c);
        valid[c] = Valid(r);
        if (valid[c]) encoder->Encode(StateOf(r, rate_of(c), slow_rate_of(c)), row);
      }
      if (!valid[c]) std::fill(row, row + inputs, 0.0f);
      for (size_t k = 0; k < inputs; ++k) columns[k * kC + static_cast<size_t>(c)] = row[k];
    }
    network.ForwardColumns(columns, q_values, scratch);
    for (int c = 0; c < count && c < kC; ++c) {
      for (int a = 0; a < models; ++a) q[a] = q_values[static_cast<size_t>(a) * kC + static_cast<size_t>(c)];
      decisions[c] = valid[c] ? GreedyAction(q, models) : -1;
    }
  }
};

namespace {

// The positional arguments as a RouteRequest (no gateway-v1 facts: such policies refuse it).
RouteRequest Positional(int task, const int32_t* in_flight, const int32_t* queued, int32_t prompt_tokens) {
  RouteRequest r;
  r.task = task;
  r.in_flight = in_flight;
  r.queued = queued;
  r.prompt_tokens = prompt_tokens;
  return r;
}

}  // namespace

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
  impl->network = PackedMlp(weights.shape, weights.parameters.data(), spec.num_tasks);
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
  impl_->slow_rate_rps.store(impl_->slow_tracker.Observe(now_s), std::memory_order_relaxed);
  return rate;
}

void Router::SetArrivalRate(double rate_rps) { impl_->rate_rps.store(rate_rps, std::memory_order_relaxed); }
double Router::arrival_rate_rps() const { return impl_->rate_rps.load(std::memory_order_relaxed); }
double Router::slow_arrival_rate_rps() const { return impl_->slow_rate_rps.load(std::memory_order_relaxed); }

int Router::Decide(const RouteRequest& request) const {
  return impl_->Decide(request, arrival_rate_rps(), slow_arrival_rate_rps(), nullptr);
}

int Router::DecideWithRates(const RouteRequest& request, double rate_rps, double slow_rate_rps) const {
  return impl_->Decide(request, rate_rps, slow_rate_rps, nullptr);
}

int Router::Route(const RouteRequest& request, double now_s) {
  const double rate = ObserveArrival(now_s);
  return impl_->Decide(request, rate, slow_arrival_rate_rps(), nullptr);
}

void Router::DecideBatch(int count, const RouteRequest* requests, const double* rates, const double* slow_rates,
                         int32_t* models) const {
  if (requests == nullptr || rates == nullptr) {
    std::fill(models, models + std::max(count, 0), -1);
    return;
  }
  for (int i = 0; i < count; i += PackedMlp::kColumns) {
    impl_->DecideColumns(
        count - i, [&](int c) { return requests[i + c]; }, [&](int c) { return rates[i + c]; },
        [&](int c) { return slow_rates != nullptr ? slow_rates[i + c] : 0.0; }, models + i);
  }
}

bool Router::QValues(const RouteRequest& request, double rate_rps, double slow_rate_rps, float* q_values) const {
  if (!impl_->Valid(request)) return false;
  impl_->Decide(request, rate_rps, slow_rate_rps, q_values);
  return true;
}

int Router::Decide(int task, const int32_t* in_flight, const int32_t* queued, int32_t prompt_tokens) const {
  return Decide(Positional(task, in_flight, queued, prompt_tokens));
}

int Router::DecideWithRate(int task, const int32_t* in_flight, const int32_t* queued, double rate_rps,
                           int32_t prompt_tokens) const {
  return DecideWithRates(Positional(task, in_flight, queued, prompt_tokens), rate_rps, slow_arrival_rate_rps());
}

int Router::Route(int task, double now_s, const int32_t* in_flight, const int32_t* queued, int32_t prompt_tokens) {
  return Route(Positional(task, in_flight, queued, prompt_tokens), now_s);
}

bool Router::needs_queued() const { return UsesQueued(impl_->metadata.observation.encoding); }
bool Router::needs_prompt_tokens() const { return UsesPromptTokens(impl_->metadata.observation.encoding); }
bool Router::needs_gateway_facts() const { return UsesGatewayFacts(impl_->metadata.observation.encoding); }

void Router::DecideBatch(int count, const int32_t* tasks, const int32_t* in_flight, const int32_t* queued,
                         const double* rates, int32_t* models, const int32_t* prompt_tokens) const {
  if (in_flight == nullptr || tasks == nullptr || rates == nullptr) {
    std::fill(models, models + std::max(count, 0), -1);
    return;
  }
  const ptrdiff_t m = num_models();
  for (int i = 0; i < count; i += PackedMlp::kColumns) {
    const auto request_of = [&](int c) {
      const ptrdiff_t k = i + c;
      return Positional(tasks[k], in_flight + k * m, queued != nullptr ? queued + k * m : nullptr,
                        prompt_tokens != nullptr ? prompt_tokens[k] : -1);
    };
    impl_->DecideColumns(
        count - i, request_of, [&](int c) { return rates[i + c]; }, [](int) { return 0.0; }, models + i);
  }
}

void Router::QValues(int task, const int32_t* in_flight, const int32_t* queued, double rate_rps,
                     float* q_values, int32_t prompt_tokens) const {
  QValues(Positional(task, in_flight, queued, prompt_tokens), rate_rps, slow_arrival_rate_rps(), q_values);
}

}  // namespace bestserve
