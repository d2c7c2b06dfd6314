// The discrete-event engine of multi-model LLM serving.
//
// Model of one instance (one model on one GPU), after vLLM's iteration-level scheduler
// (Kwon et al., SOSP 2023, as of the v0.2 releases the paper used):
//  * Requests wait in a FIFO queue (per replica, or one per model under shared queueing).
//  * At each iteration boundary the instance admits queued requests in FIFO order while the
//    batch has a free slot (max_batch_size), the KV cache can hold the request's prompt plus
//    output tokens, and the iteration's prompt tokens stay within max_prefill_tokens. A head
//    that does not fit blocks the ones behind it (FIFO is promised, so no overtaking).
//  * If it admitted anything, the iteration is a prefill of the admitted prompts (running
//    sequences pause, as in vLLM v0 which prioritises prefills); each admitted request gets its
//    first output token at the end. Otherwise, if the batch is not empty, it is a decode step:
//    every running sequence gains one token. A request finishes with its last output token and
//    frees its batch slot and KV reservation at the end of that iteration.
//  * Iteration latency comes from the model's LatencyProfile (prefill by prompt tokens, decode
//    by batch size and mean context), times the co-location factor (cluster.h).
// That is the paper engine (`cluster.engine.kind: paper`, the default). Under `kind: vllm` each
// instance is an InstanceScheduler (sim/instance_scheduler.h: KV blocks grown during decode,
// preemption by recompute, token budget, optional chunked prefill) and this class only routes,
// keeps the clock and records what it reports.
//
// Driving it: the engine stops at every arrival for a routing decision, so the same engine
// serves plain runs (RunSimulation in scenario/) and reinforcement learning (one decision per
// environment step):
//
//   sim.Reset(workload);
//   while (sim.AdvanceToNextArrival()) sim.Dispatch(router.Route(sim.view()));
//   sim.Drain();
//
// Event order: at equal times an iteration end comes before an arrival, so a replica that frees
// a slot at time t is visible to the router deciding at t; iteration ends at equal times are
// ordered by the sequence number of their scheduling (never by pointer or hash order).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <span>
#include <string>
#include <vector>

#include "common/request.h"
#include "common/request_source.h"
#include "common/rng.h"
#include "sim/cluster.h"
#include "router/core/observation.h"
#include "router/core/rate_estimator.h"
#include "router/core/rate_tracker.h"
#include "sim/instance_scheduler.h"
#include "sim/reward.h"
#include "router/core/routing_policy.h"

namespace bestserve {

enum class RejectReason : uint8_t {
  kNone = 0,
  kNoReplica,             // the chosen model is placed on no GPU
  kExceedsContextWindow,  // prompt + output tokens exceed the model's context window
  kExceedsKvCapacity,     // no replica's KV cache could ever hold the request
  kServerError,           // live runs only (serve/loadgen.h): an error answer, a timeout, a refused connection
};
const char* ToString(RejectReason reason);

// Per-request facts, the raw material of every metric (metrics.h).
struct RequestRecord {
  Request request;
  ModelId model = -1;
  int32_t replica = -1;  // set at admission (under shared queueing the replica is not known before)
  double admitted_s = kUnset;
  double first_token_s = kUnset;
  double completion_s = kUnset;  // for rejections, the dispatch time
  double reward = 0.0;
  double peak_reward = 0.0;  // best utility any model offers this task: what "peak" means
  bool finished = false;     // completed or rejected
  bool deadline_met = false;
  RejectReason reject = RejectReason::kNone;
};

struct SimCounters {
  int64_t events = 0;  // arrivals + iteration ends processed
  int64_t arrivals = 0;
  int64_t prefill_iterations = 0;
  int64_t decode_iterations = 0;
  double in_system_area = 0.0;  // integral of (requests dispatched and unfinished) dt
  double start_s = 0.0;         // first arrival
  double end_s = 0.0;           // clock at the last event
  int32_t max_running_batch = 0;
  // vllm engine only (0 under the paper engine).
  int64_t mixed_iterations = 0;   // chunked prefill: prompt chunks and decodes together
  int64_t preemptions = 0;        // sequences preempted (recompute)
  int64_t recomputed_tokens = 0;  // KV tokens dropped by preemption and computed again
  int64_t swap_preemptions = 0;   // of preemptions, those swapped out (preemption: swap)
  int64_t swapped_out_blocks = 0;
  int64_t swapped_in_blocks = 0;
  // Requests over the context window cut to fit (over_context: truncate), either engine.
  int64_t truncated_requests = 0;
  // Requests over the chosen model's window served by another model (over_context: fit).
  int64_t rerouted_requests = 0;
};

class Simulator {
 public:
  // quality[task][model]: the utility matrix A for this system's model order.
  // task_ms_per_token_override[task]: the task table's own per-token deadline (NaN: the task
  // follows the scenario's rule, deadlines.ms_per_token or its schedule); empty: every task
  // follows it. Routers see the per-token deadline in force at each arrival.
  Simulator(ServingSystem system, std::vector<std::vector<double>> quality, DeadlineSpec deadlines,
            std::unique_ptr<RateEstimator> rate_estimator, bool oracle_view, uint64_t seed,
            std::vector<double> task_ms_per_token_override = {});

  // Starts a run over `workload`: time-sorted, ids equal to positions, deadlines filled in.
  // The load balancer's random stream restarts from the seed given to the constructor, mixed
  // with `episode`, so episodes differ but each one is reproducible.
  void Reset(Workload workload, uint64_t episode = 0);
  // The same over requests pulled one at a time as the clock reaches them.
  //
  // Streaming (`sink` given): each record goes to `sink` once it and every record before it
  // have finished, in id order, and is then dropped; records() holds only those not yet
  // handed on and finish_order() stays empty, so memory follows the requests in flight, not
  // the run. The records handed on are the ones a non-streaming run keeps, bit for bit.
  using RecordSink = std::function<void(const RequestRecord&)>;
  void Reset(std::unique_ptr<RequestSource> source, uint64_t episode = 0, RecordSink sink = nullptr);

  // Processes iteration ends up to the next arrival and stops there for a decision. Returns
  // false when every request has been dispatched (call Drain()).
  bool AdvanceToNextArrival();

  // What the router sees for the pending request. Valid until the next Dispatch.
  const RouterView& view() const { return view_; }
  const Request& pending() const;

  // Sends the pending request to `model`; the load balancer picks the replica, or the request
  // is rejected (recorded with its reason, reward 0) if the model cannot serve it.
  void Dispatch(ModelId model);

  // Runs until every dispatched request has finished.
  void Drain();

  // Records of the requests that have arrived, in id order (streaming: from the oldest not yet
  // handed to the sink).
  const std::vector<RequestRecord>& records() const { return records_; }
  // Moves the records out (a finished run's results outlive the engine without a copy); the
  // simulator then holds none until the next Reset.
  std::vector<RequestRecord> TakeRecords() { return std::move(records_); }
  // Ids of finished requests (completed or rejected) in the order they finished (not kept
  // when streaming).
  const std::vector<int64_t>& finish_order() const { return finish_order_; }
  const SimCounters& counters() const { return counters_; }
  const ServingSystem& system() const { return system_; }
  double now_s() const { return now_s_; }
  // Every request of the workload has arrived and finished.
  bool all_finished() const { return !has_next_ && finished_ == arrived_; }

 private:
  struct Event {
    double time_s;
    uint64_t sequence;
    int32_t instance;
  };
  struct EventAfter {
    bool operator()(const Event& a, const Event& b) const {
      return a.time_s != b.time_s ? a.time_s > b.time_s : a.sequence > b.sequence;
    }
  };
  struct Finishing {  // a running request and the decode step at whose end it finishes
    int64_t target_step;
    int64_t request;
    bool operator>(const Finishing& o) const {
      return target_step != o.target_step ? target_step > o.target_step : request > o.request;
    }
  };
  struct Instance {
    InstanceSpec spec;
    const LatencyProfile* profile = nullptr;
    std::deque<int64_t> queue;  // per-replica queueing only
    std::vector<int64_t> admitted;
    std::vector<Finishing> finishing;  // min-heap by target_step (std::push_heap, greater<>)
    int32_t running = 0;
    int64_t kv_used = 0;
    int64_t decode_steps = 0;
    // Sum over running, prefilled sequences of (prompt + output - target_step): the context of
    // the running batch is this plus running * decode_steps (no per-step loop over the batch).
    int64_t context_base = 0;
    bool busy = false;
    bool prefill = false;
    std::unique_ptr<InstanceScheduler> engine;  // vllm engine only
  };

  void AdvanceClock(double t);
  void ProcessEvent(const Event& event);
  void TryStart(int32_t instance);
  void Admit(Instance& inst, int32_t index, std::deque<int64_t>& queue);
  void Finish(int64_t id);
  void Reject(int64_t id, RejectReason reason);
  // Counts a finished request; streaming, hands on the finished prefix of the records.
  void Finished(int64_t id);
  RequestRecord& Record(int64_t id) { return records_[static_cast<size_t>(id - first_id_)]; }
  const Request& RequestOf(int64_t id) const { return records_[static_cast<size_t>(id - first_id_)].request; }
  // Reads the next request of the source into next_ (has_next_ false at its end), checked.
  void PullNext();
  int32_t ChooseReplica(ModelId model, const Request& request);
  // over_context: fit: the placed model whose window holds `context` tokens nearest to
  // `chosen` in model order (the later on a tie), or -1.
  ModelId NearestFittingModel(ModelId chosen, int64_t context) const;
  void RefreshView();
  // Per-replica facts that differ between the engines.
  bool CanHold(int32_t replica, const Request& r) const;
  int64_t InFlight(int32_t replica) const;
  int64_t Waiting(int32_t replica) const;
  void StartEngineIteration(int32_t index);
  void EndEngineIteration(int32_t index);

  ServingSystem system_;
  std::vector<std::vector<double>> quality_;
  std::vector<double> peak_by_task_;
  std::vector<double> task_ms_per_token_override_;
  DeadlineSpec deadlines_;
  std::unique_ptr<RateEstimator> rate_estimator_;
  DecayedCountRate slow_rate_{kSlowRateHalfLifeS};  // RouterView::slow_arrival_rate_rps
  bool oracle_view_;
  uint64_t seed_;

  std::unique_ptr<RequestSource> source_;
  Request next_;          // the next arrival, when has_next_
  bool has_next_ = false;
  RecordSink sink_;
  // records_[i] is request first_id_ + i; streaming, records_[0, released_) were handed on
  // and are erased in chunks.
  std::vector<RequestRecord> records_;
  int64_t first_id_ = 0;
  size_t released_ = 0;
  int64_t arrived_ = 0;
  int64_t finished_ = 0;
  std::vector<int64_t> finish_order_;
  std::vector<Instance> instances_;
  std::vector<std::vector<int32_t>> replicas_by_model_;
  std::vector<int64_t> max_kv_by_model_;
  std::vector<std::deque<int64_t>> shared_queues_;
  std::vector<int32_t> busy_on_gpu_;
  std::priority_queue<Event, std::vector<Event>, EventAfter> events_;
  uint64_t next_sequence_ = 0;
  bool pending_ = false;
  double now_s_ = 0.0;
  int64_t in_system_ = 0;
  SimCounters counters_;
  Rng balancer_rng_{0};

  std::vector<ModelLoad> model_loads_;
  std::vector<int64_t> in_flight_prompt_tokens_;  // per model, dispatch to finish
  std::vector<ReplicaLoad> replica_loads_;
  RouterView view_;
};

}  // namespace bestserve
