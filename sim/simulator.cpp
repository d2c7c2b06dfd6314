#include "sim/simulator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "common/error.h"

namespace bestserve {

const char* ToString(RejectReason reason) {
  switch (reason) {
    case RejectReason::kNone: return "";
    case RejectReason::kNoReplica: return "no_replica";
    case RejectReason::kExceedsContextWindow: return "exceeds_context_window";
    case RejectReason::kExceedsKvCapacity: return "exceeds_kv_capacity";
    case RejectReason::kServerError: return "server_error";
  }
  return "?";
}

Simulator::Simulator(ServingSystem system, std::vector<std::vector<double>> quality,
                     DeadlineSpec deadlines, std::unique_ptr<RateEstimator> rate_estimator,
                     bool oracle_view, uint64_t seed, std::vector<double> task_ms_per_token_override)
    : system_(std::move(system)),
      quality_(std::move(quality)),
      task_ms_per_token_override_(std::move(task_ms_per_token_override)),
      deadlines_(deadlines),
      rate_estimator_(std::move(rate_estimator)),
      oracle_view_(oracle_view),
      seed_(seed) {
  const auto num_models = system_.model_names.size();
  BS_CHECK(num_models > 0 && system_.model_profiles.size() == num_models);
  BS_CHECK(rate_estimator_ != nullptr);
  for (const auto& row : quality_) {
    BS_CHECK(row.size() == num_models);
    peak_by_task_.push_back(*std::max_element(row.begin(), row.end()));
  }
  if (task_ms_per_token_override_.empty()) task_ms_per_token_override_.assign(quality_.size(), kUnset);
  BS_CHECK(task_ms_per_token_override_.size() == quality_.size());
  replicas_by_model_.resize(num_models);
  max_kv_by_model_.assign(num_models, 0);
  for (size_t i = 0; i < system_.instances.size(); ++i) {
    Instance inst;
    inst.spec = system_.instances[i];
    inst.profile = system_.model_profiles[static_cast<size_t>(inst.spec.model)].get();
    instances_.push_back(std::move(inst));
    const auto m = static_cast<size_t>(system_.instances[i].model);
    replicas_by_model_[m].push_back(static_cast<int32_t>(i));
    max_kv_by_model_[m] = std::max(max_kv_by_model_[m], system_.instances[i].kv_capacity_tokens);
  }
  shared_queues_.resize(num_models);
  busy_on_gpu_.assign(static_cast<size_t>(system_.num_gpus), 0);
  model_loads_.resize(num_models);
  in_flight_prompt_tokens_.assign(num_models, 0);
  replica_loads_.resize(instances_.size());
  for (size_t m = 0; m < num_models; ++m) {
    model_loads_[m].num_replicas = static_cast<int32_t>(replicas_by_model_[m].size());
  }
  for (size_t i = 0; i < instances_.size(); ++i) {
    replica_loads_[i].model = instances_[i].spec.model;
    replica_loads_[i].gpu = instances_[i].spec.gpu;
    replica_loads_[i].max_batch_size = instances_[i].spec.max_batch_size;
  }
  view_.models = model_loads_;
  view_.replicas = replica_loads_;
  view_.oracle = oracle_view_;
}

void Simulator::Reset(Workload workload, uint64_t episode) {
  const size_t n = workload.size();
  Reset(std::make_unique<VectorRequestSource>(std::move(workload)), episode);
  records_.reserve(n);
  finish_order_.reserve(n);
}

void Simulator::PullNext() {
  has_next_ = source_->Next(&next_);
  if (!has_next_) return;
  const int64_t position = arrived_ + (pending_ ? 1 : 0);
  BS_CHECK_MSG(next_.id == position, "request at position {} has id {}", position, next_.id);
  BS_CHECK_MSG(next_.arrival_s >= now_s_, "workload not sorted at request {}", position);
  BS_CHECK_MSG(!std::isnan(next_.deadline_s), "request {} has no deadline", position);
  BS_CHECK(next_.task >= 0 && static_cast<size_t>(next_.task) < quality_.size());
}

void Simulator::Reset(std::unique_ptr<RequestSource> source, uint64_t episode, RecordSink sink) {
  source_ = std::move(source);
  sink_ = std::move(sink);
  records_.clear();
  first_id_ = 0;
  released_ = 0;
  arrived_ = 0;
  finished_ = 0;
  finish_order_.clear();
  for (auto& inst : instances_) {
    inst.queue.clear();
    inst.admitted.clear();
    inst.finishing.clear();
    inst.running = 0;
    inst.kv_used = 0;
    inst.decode_steps = 0;
    inst.context_base = 0;
    inst.busy = false;
    inst.prefill = false;
    if (system_.engine.kind == EngineKind::kVllm) {
      inst.engine = std::make_unique<InstanceScheduler>(inst.spec.engine, inst.spec.kv_capacity_tokens,
                                                        *inst.profile);
    }
  }
  for (auto& q : shared_queues_) q.clear();
  std::fill(busy_on_gpu_.begin(), busy_on_gpu_.end(), 0);
  events_ = {};
  next_sequence_ = 0;
  pending_ = false;
  now_s_ = -std::numeric_limits<double>::infinity();
  PullNext();
  now_s_ = has_next_ ? next_.arrival_s : 0.0;
  in_system_ = 0;
  counters_ = SimCounters{};
  counters_.start_s = now_s_;
  counters_.end_s = now_s_;
  rate_estimator_->Reset();
  slow_rate_.Reset();
  std::fill(in_flight_prompt_tokens_.begin(), in_flight_prompt_tokens_.end(), 0);
  balancer_rng_ = Rng(DeriveSeed(seed_ ^ MixBits(episode), "load_balancer"));
}

void Simulator::AdvanceClock(double t) {
  // Time never goes backwards: an always-on check, since every metric depends on it.
  BS_CHECK_MSG(t >= now_s_, "clock would move back from {} to {}", now_s_, t);
  counters_.in_system_area += static_cast<double>(in_system_) * (t - now_s_);
  now_s_ = t;
  counters_.end_s = t;
}

bool Simulator::AdvanceToNextArrival() {
  BS_CHECK_MSG(!pending_, "AdvanceToNextArrival called before dispatching request {}", arrived_);
  if (!has_next_) return false;
  const double arrival_s = next_.arrival_s;
  // Iteration ends at the arrival's time come first (see the header).
  while (!events_.empty() && events_.top().time_s <= arrival_s) {
    const Event event = events_.top();
    events_.pop();
    ProcessEvent(event);
  }
  AdvanceClock(arrival_s);
  ++counters_.events;
  ++counters_.arrivals;
  pending_ = true;
  RequestRecord& rec = records_.emplace_back();
  rec.request = next_;
  rec.peak_reward = peak_by_task_[static_cast<size_t>(next_.task)];
  const Request& r = rec.request;
  view_.now_s = now_s_;
  view_.request_id = r.id;
  view_.task = r.task;
  view_.prompt_tokens = r.prompt_tokens;
  view_.deadline_base_s = deadlines_.base_ms * 1e-3;
  view_.deadline_per_token_s =
      deadlines_.PerTokenDeadlineSeconds(task_ms_per_token_override_[static_cast<size_t>(r.task)], r.arrival_s);
  view_.oracle_output_tokens = oracle_view_ ? r.output_tokens : -1;
  view_.oracle_deadline_s = oracle_view_ ? r.deadline_s : -1.0;
  view_.arrival_rate_rps = rate_estimator_->Observe(r);
  view_.slow_arrival_rate_rps = slow_rate_.Observe(r.arrival_s);
  view_.max_tokens = r.max_tokens;
  RefreshView();
  return true;
}

const Request& Simulator::pending() const {
  BS_CHECK(pending_);
  return records_.back().request;
}

void Simulator::RefreshView() {
  for (auto& load : model_loads_) {
    load.running = 0;
    load.waiting = 0;
  }
  for (size_t i = 0; i < instances_.size(); ++i) {
    const Instance& inst = instances_[i];
    ReplicaLoad& replica = replica_loads_[i];
    replica.running = inst.engine ? inst.engine->running() : inst.running;
    replica.waiting = static_cast<int32_t>(Waiting(static_cast<int32_t>(i)));
    ModelLoad& load = model_loads_[static_cast<size_t>(inst.spec.model)];
    load.running += replica.running;
    load.waiting += replica.waiting;
    if (oracle_view_ && inst.engine) {
      replica.oracle_kv_free_tokens = inst.engine->free_kv_tokens();
      replica.oracle_remaining_tokens = inst.engine->remaining_output_tokens();
    } else if (oracle_view_) {
      replica.oracle_kv_free_tokens = inst.spec.kv_capacity_tokens - inst.kv_used;
      int64_t remaining = 0;
      for (int64_t id : inst.admitted) remaining += RequestOf(id).output_tokens;
      for (const Finishing& f : inst.finishing) remaining += f.target_step - inst.decode_steps;
      for (int64_t id : inst.queue) remaining += RequestOf(id).output_tokens;
      replica.oracle_remaining_tokens = remaining;
    }
  }
  for (size_t m = 0; m < model_loads_.size(); ++m) {
    model_loads_[m].waiting += static_cast<int32_t>(shared_queues_[m].size());
    model_loads_[m].in_flight = model_loads_[m].running + model_loads_[m].waiting;
    model_loads_[m].in_flight_prompt_tokens = in_flight_prompt_tokens_[m];
  }
}

bool Simulator::CanHold(int32_t replica, const Request& r) const {
  const Instance& inst = instances_[static_cast<size_t>(replica)];
  if (inst.engine) return inst.engine->CanServe(r.prompt_tokens, r.output_tokens);
  return inst.spec.kv_capacity_tokens >= static_cast<int64_t>(r.prompt_tokens) + r.output_tokens;
}

int64_t Simulator::Waiting(int32_t replica) const {
  const Instance& inst = instances_[static_cast<size_t>(replica)];
  // A swapped-out sequence waits to resume like a queued one.
  return inst.engine ? inst.engine->waiting() + inst.engine->swapped()
                     : static_cast<int64_t>(inst.queue.size());
}

int64_t Simulator::InFlight(int32_t replica) const {
  const Instance& inst = instances_[static_cast<size_t>(replica)];
  const int64_t running = inst.engine ? inst.engine->running() : inst.running;
  return running + Waiting(replica);
}

int32_t Simulator::ChooseReplica(ModelId model, const Request& request) {
  const auto& replicas = replicas_by_model_[static_cast<size_t>(model)];
  // Candidates: replicas whose KV cache could ever hold the request.
  auto fits = [&](int32_t r) { return CanHold(r, request); };
  auto in_flight = [&](int32_t r) { return InFlight(r); };
  int32_t best = -1;
  switch (system_.load_balancer) {
    case LoadBalancer::kSmallestBatch:
      // Smallest batch the replica will run = running + queued; ties go to the lowest index.
      for (int32_t r : replicas) {
        if (fits(r) && (best < 0 || in_flight(r) < in_flight(best))) best = r;
      }
      return best;
    case LoadBalancer::kLeastQueue:
      for (int32_t r : replicas) {
        if (!fits(r)) continue;
        if (best < 0) {
          best = r;
          continue;
        }
        const int64_t queue_a = Waiting(r);
        const int64_t queue_b = Waiting(best);
        if (queue_a < queue_b ||
            (queue_a == queue_b && InFlight(r) - queue_a < InFlight(best) - queue_b)) {
          best = r;
        }
      }
      return best;
    case LoadBalancer::kPowerOfTwo: {
      std::vector<int32_t> candidates;
      for (int32_t r : replicas) {
        if (fits(r)) candidates.push_back(r);
      }
      if (candidates.empty()) return -1;
      if (candidates.size() == 1) return candidates[0];
      const auto n = static_cast<uint64_t>(candidates.size());
      const auto i = static_cast<size_t>(balancer_rng_.UniformIndex(n));
      auto j = static_cast<size_t>(balancer_rng_.UniformIndex(n - 1));
      if (j >= i) ++j;
      const int32_t a = std::min(candidates[i], candidates[j]);
      const int32_t b = std::max(candidates[i], candidates[j]);
      return in_flight(b) < in_flight(a) ? b : a;
    }
  }
  return best;
}

void Simulator::Dispatch(ModelId model) {
  BS_CHECK_MSG(pending_, "Dispatch called with no pending request");
  BS_CHECK(model >= 0 && static_cast<size_t>(model) < system_.model_names.size());
  RequestRecord& rec = records_.back();
  Request& r = rec.request;
  ++arrived_;
  pending_ = false;
  PullNext();
  const int64_t context = static_cast<int64_t>(r.prompt_tokens) + r.output_tokens;
  const auto window_of = [&](ModelId m) {
    return system_.model_profiles[static_cast<size_t>(m)]->model().max_context_tokens;
  };
  if (system_.engine.over_context == OverContextRule::kFit &&
      !replicas_by_model_[static_cast<size_t>(model)].empty() && context > window_of(model)) {
    const ModelId fitting = NearestFittingModel(model, context);
    if (fitting < 0) {
      rec.model = model;
      return Reject(r.id, RejectReason::kExceedsContextWindow);
    }
    model = fitting;
    ++counters_.rerouted_requests;
  }
  rec.model = model;
  const auto& replicas = replicas_by_model_[static_cast<size_t>(model)];
  const ModelProfile& profile = system_.model_profiles[static_cast<size_t>(model)]->model();
  if (replicas.empty()) return Reject(r.id, RejectReason::kNoReplica);
  if (context > profile.max_context_tokens) {
    if (system_.engine.over_context != OverContextRule::kTruncate || profile.max_context_tokens < 2) {
      return Reject(r.id, RejectReason::kExceedsContextWindow);
    }
    // Keep one token of room for output, then cut the output to what the window leaves (vLLM
    // stops generating at max_model_len).
    r.prompt_tokens = std::min(r.prompt_tokens, profile.max_context_tokens - 1);
    r.output_tokens = std::min(r.output_tokens, profile.max_context_tokens - r.prompt_tokens);
    ++counters_.truncated_requests;
  }
  const int64_t kv_needed = static_cast<int64_t>(r.prompt_tokens) + r.output_tokens;
  if (system_.engine.kind == EngineKind::kVllm) {
    bool any = false;
    for (int32_t replica : replicas) any = any || CanHold(replica, r);
    if (!any) return Reject(r.id, RejectReason::kExceedsKvCapacity);
  } else if (kv_needed > max_kv_by_model_[static_cast<size_t>(model)]) {
    return Reject(r.id, RejectReason::kExceedsKvCapacity);
  }
  ++in_system_;
  in_flight_prompt_tokens_[static_cast<size_t>(model)] += r.prompt_tokens;
  if (system_.queueing == Queueing::kPerReplica) {
    const int32_t replica = ChooseReplica(model, r);
    BS_CHECK(replica >= 0);
    Instance& inst = instances_[static_cast<size_t>(replica)];
    if (inst.engine) {
      inst.engine->Enqueue(EngineRequest{r.id, r.prompt_tokens, r.output_tokens});
      rec.replica = replica;
    } else {
      inst.queue.push_back(r.id);
    }
    TryStart(replica);
  } else {
    shared_queues_[static_cast<size_t>(model)].push_back(r.id);
    for (int32_t replica : replicas) {
      if (shared_queues_[static_cast<size_t>(model)].empty()) break;
      TryStart(replica);
    }
  }
}

ModelId Simulator::NearestFittingModel(ModelId chosen, int64_t context) const {
  const auto n = static_cast<ModelId>(system_.model_names.size());
  for (ModelId distance = 1; distance < n; ++distance) {
    for (const ModelId m : {chosen + distance, chosen - distance}) {  // the later one first
      if (m < 0 || m >= n || replicas_by_model_[static_cast<size_t>(m)].empty()) continue;
      if (context <= system_.model_profiles[static_cast<size_t>(m)]->model().max_context_tokens) return m;
    }
  }
  return -1;
}

void Simulator::Reject(int64_t id, RejectReason reason) {
  RequestRecord& rec = Record(id);
  rec.reject = reason;
  rec.completion_s = now_s_;
  rec.reward = 0.0;
  rec.deadline_met = false;
  rec.finished = true;
  Finished(id);
}

void Simulator::Finished(int64_t id) {
  ++finished_;
  if (!sink_) {
    finish_order_.push_back(id);
    return;
  }
  while (released_ < records_.size() && records_[released_].finished) {
    sink_(records_[released_]);
    ++released_;
  }
  // Erase in chunks: amortized O(1) a request, and the vector stays about the size of what is
  // in flight.
  if (released_ >= 4096 && released_ * 2 >= records_.size()) {
    records_.erase(records_.begin(), records_.begin() + static_cast<std::ptrdiff_t>(released_));
    first_id_ += static_cast<int64_t>(released_);
    released_ = 0;
  }
}

void Simulator::Admit(Instance& inst, int32_t index, std::deque<int64_t>& queue) {
  int64_t prompt_tokens = 0;
  while (!queue.empty()) {
    const Request& r = RequestOf(queue.front());
    const int64_t kv_needed = static_cast<int64_t>(r.prompt_tokens) + r.output_tokens;
    if (inst.running >= inst.spec.max_batch_size) break;
    if (inst.kv_used + kv_needed > inst.spec.kv_capacity_tokens) break;
    if (!inst.admitted.empty() && prompt_tokens + r.prompt_tokens > system_.max_prefill_tokens) break;
    queue.pop_front();
    ++inst.running;
    inst.kv_used += kv_needed;
    prompt_tokens += r.prompt_tokens;
    inst.admitted.push_back(r.id);
    RequestRecord& rec = Record(r.id);
    rec.replica = index;
    rec.admitted_s = now_s_;
  }
}

void Simulator::StartEngineIteration(int32_t index) {
  Instance& inst = instances_[static_cast<size_t>(index)];
  InstanceScheduler& engine = *inst.engine;
  const EngineCounters before = engine.counters();
  const std::optional<double> duration = engine.StartIteration();
  if (!duration) return;  // idle
  const EngineCounters& after = engine.counters();
  counters_.prefill_iterations += after.prefill_iterations - before.prefill_iterations;
  counters_.decode_iterations += after.decode_iterations - before.decode_iterations;
  counters_.mixed_iterations += after.mixed_iterations - before.mixed_iterations;
  counters_.preemptions += after.preemptions - before.preemptions;
  counters_.recomputed_tokens += after.recomputed_tokens - before.recomputed_tokens;
  counters_.swap_preemptions += after.swap_preemptions - before.swap_preemptions;
  counters_.swapped_out_blocks += after.swapped_out_blocks - before.swapped_out_blocks;
  counters_.swapped_in_blocks += after.swapped_in_blocks - before.swapped_in_blocks;
  for (int64_t id : engine.newly_admitted()) Record(id).admitted_s = now_s_;
  int32_t& busy_neighbours = busy_on_gpu_[static_cast<size_t>(inst.spec.gpu)];
  const double duration_s = *duration * (1.0 + system_.interference_factor * busy_neighbours);
  ++busy_neighbours;
  inst.busy = true;
  counters_.max_running_batch = std::max(counters_.max_running_batch, engine.running());
  events_.push(Event{now_s_ + duration_s, next_sequence_++, index});
}

void Simulator::EndEngineIteration(int32_t index) {
  Instance& inst = instances_[static_cast<size_t>(index)];
  for (const TokenOutput& out : inst.engine->FinishIteration()) {
    if (out.first) Record(out.id).first_token_s = now_s_;
    if (out.finished) Finish(out.id);
  }
}

void Simulator::TryStart(int32_t index) {
  Instance& inst = instances_[static_cast<size_t>(index)];
  if (inst.busy) return;
  if (inst.engine) return StartEngineIteration(index);
  std::deque<int64_t>& queue = system_.queueing == Queueing::kPerReplica
                                   ? inst.queue
                                   : shared_queues_[static_cast<size_t>(inst.spec.model)];
  Admit(inst, index, queue);
  double duration_s = 0.0;
  if (!inst.admitted.empty()) {
    int64_t prompt_tokens = 0;
    for (int64_t id : inst.admitted) prompt_tokens += RequestOf(id).prompt_tokens;
    inst.prefill = true;
    duration_s = inst.profile->PrefillSeconds(prompt_tokens);
    ++counters_.prefill_iterations;
  } else if (inst.running > 0) {
    const double mean_context =
        static_cast<double>(inst.context_base + static_cast<int64_t>(inst.running) * inst.decode_steps) /
        inst.running;
    inst.prefill = false;
    duration_s = inst.profile->DecodeStepSeconds(inst.running, mean_context);
    ++counters_.decode_iterations;
  } else {
    return;  // idle: nothing queued that fits, nothing running
  }
  int32_t& busy_neighbours = busy_on_gpu_[static_cast<size_t>(inst.spec.gpu)];
  duration_s *= 1.0 + system_.interference_factor * busy_neighbours;
  ++busy_neighbours;
  inst.busy = true;
  counters_.max_running_batch = std::max(counters_.max_running_batch, inst.running);
  events_.push(Event{now_s_ + duration_s, next_sequence_++, index});
}

void Simulator::ProcessEvent(const Event& event) {
  AdvanceClock(event.time_s);
  ++counters_.events;
  Instance& inst = instances_[static_cast<size_t>(event.instance)];
  BS_CHECK(inst.busy);
  inst.busy = false;
  --busy_on_gpu_[static_cast<size_t>(inst.spec.gpu)];
  if (inst.engine) {
    EndEngineIteration(event.instance);
    return TryStart(event.instance);
  }
  if (inst.prefill) {
    for (int64_t id : inst.admitted) {
      const Request& r = RequestOf(id);
      Record(id).first_token_s = now_s_;
      if (r.output_tokens == 1) {
        --inst.running;
        inst.kv_used -= static_cast<int64_t>(r.prompt_tokens) + r.output_tokens;
        Finish(id);
      } else {
        const int64_t target = inst.decode_steps + r.output_tokens - 1;
        inst.context_base += static_cast<int64_t>(r.prompt_tokens) + r.output_tokens - target;
        inst.finishing.push_back(Finishing{target, id});
        std::push_heap(inst.finishing.begin(), inst.finishing.end(), std::greater<>());
      }
    }
    inst.admitted.clear();
  } else {
    ++inst.decode_steps;
    while (!inst.finishing.empty() && inst.finishing.front().target_step == inst.decode_steps) {
      std::pop_heap(inst.finishing.begin(), inst.finishing.end(), std::greater<>());
      const Finishing done = inst.finishing.back();
      inst.finishing.pop_back();
      const Request& r = RequestOf(done.request);
      --inst.running;
      inst.kv_used -= static_cast<int64_t>(r.prompt_tokens) + r.output_tokens;
      inst.context_base -= static_cast<int64_t>(r.prompt_tokens) + r.output_tokens - done.target_step;
      Finish(done.request);
    }
    BS_DCHECK(inst.finishing.empty() || inst.finishing.front().target_step > inst.decode_steps);
  }
  BS_CHECK(inst.running >= 0 && inst.kv_used >= 0 && inst.kv_used <= inst.spec.kv_capacity_tokens);
  TryStart(event.instance);
}

void Simulator::Finish(int64_t id) {
  RequestRecord& rec = Record(id);
  BS_CHECK_MSG(!rec.finished, "request {} finished twice", id);
  const Request& r = rec.request;
  rec.completion_s = now_s_;
  const double quality = quality_[static_cast<size_t>(r.task)][static_cast<size_t>(rec.model)];
  const RequestOutcome outcome =
      JudgeRequest(deadlines_, quality, r.arrival_s, rec.first_token_s, now_s_, r.output_tokens, r.deadline_s);
  rec.deadline_met = outcome.deadline_met;
  rec.reward = outcome.reward;
  rec.finished = true;
  --in_system_;
  int64_t& prompt_tokens_in_flight = in_flight_prompt_tokens_[static_cast<size_t>(rec.model)];
  prompt_tokens_in_flight -= r.prompt_tokens;
  BS_CHECK(prompt_tokens_in_flight >= 0 && (in_system_ > 0 || prompt_tokens_in_flight == 0));
  Finished(id);
}

void Simulator::Drain() {
  BS_CHECK_MSG(!pending_, "Drain called with an undispatched request");
  while (!events_.empty()) {
    const Event event = events_.top();
    events_.pop();
    ProcessEvent(event);
  }
  BS_CHECK_MSG(in_system_ == 0, "{} requests still in the system after draining", in_system_);
}

}  // namespace bestserve
