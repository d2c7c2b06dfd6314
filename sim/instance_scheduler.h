// The vLLM engine of one model instance: which sequences each iteration computes, how long it
// takes, and what it produces. A unit of its own, so that the discrete-event simulator and a
// real-time server emulator share one scheduler.
//
// Mechanisms (vLLM v0 scheduler and block manager; knobs in sim/engine_config.h):
//  * Admission does not know the output length. A sequence holds ceil(len / block_size) KV
//    blocks, len = prompt + tokens generated so far; a block is added when the next token's slot
//    needs one. A prompt is admitted only while free blocks after allocating it stay at or
//    above the watermark (watermark * total blocks), max_num_seqs is not exceeded, and the
//    iteration's tokens stay within max_num_batched_tokens. Admission is FIFO (a head that does
//    not fit blocks the rest). With max_paddings set (vLLM 0.2.x), a prefill batch of n prompts
//    is padded to n x the longest: that product must stay within max_num_batched_tokens, the
//    padding within max_paddings, and the iteration is costed on the padded prompts.
//  * prefill_first: if any waiting prompt can be admitted the iteration is prefills only;
//    otherwise every running sequence decodes one token. chunked_prefill: running decodes first
//    (one token each), then unfinished prompt chunks, then new prompts, cut to the token budget.
//  * Before a decode, a sequence that needs a new block and finds none preempts the youngest
//    running sequence (latest admitted), repeatedly, or itself when it is the youngest.
//    Preemption by recompute frees the victim's blocks and puts it at the front of the waiting
//    queue; readmitted, it prefills prompt + generated tokens again and continues. (vLLM asks
//    for one free block per sequence even when none is needed; we ask only when one is, which
//    is the same except that a lone sequence filling the cache can still finish.)
//  * Preemption by swap (`preemption: swap`, vLLM's --preemption-mode swap): the victim's blocks
//    are copied to the CPU swap space and it keeps its progress. While anything is swapped out,
//    prefill_first admits no new prompt (vLLM v0); after the running batch is scheduled, and
//    only if that preempted nobody, swapped sequences come back oldest first while their
//    blocks plus one fit above the watermark and max_num_seqs allows, and continue in the same
//    iteration. The copies (blocks x block_size x kv_bytes_per_token, each way) add
//    bytes / swap_bandwidth_gb_s to the iteration that moves them. A victim that does not fit
//    the swap space is recomputed (vLLM stops with "lack of CPU swap space").
//
// Interface: Enqueue() on arrival; StartIteration() when idle -> duration (or nothing to do);
// FinishIteration() at its end -> the tokens it produced (first token, finished). Times are the
// caller's: the scheduler only says how long an iteration lasts.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "sim/engine_config.h"
#include "sim/latency_profile.h"

namespace bestserve {

struct EngineRequest {
  int64_t id = 0;
  int32_t prompt_tokens = 1;
  int32_t output_tokens = 1;
};

// One sequence's result at the end of an iteration that sampled a token for it.
struct TokenOutput {
  int64_t id = 0;
  int32_t generated = 0;  // output tokens so far, this one included
  bool first = false;     // the request's first output token
  bool finished = false;  // its last: the request leaves the engine
};

struct EngineCounters {
  int64_t prefill_iterations = 0;  // iterations with prompt work and no decodes
  int64_t decode_iterations = 0;   // decodes only
  int64_t mixed_iterations = 0;    // chunked prefill: both
  int64_t preemptions = 0;
  int64_t recomputed_tokens = 0;   // tokens prefilled again after preemption
  int64_t swap_preemptions = 0;    // of `preemptions`, those that swapped out
  int64_t swapped_out_blocks = 0;
  int64_t swapped_in_blocks = 0;
  int32_t max_running = 0;
};

class InstanceScheduler {
 public:
  // `kv_capacity_tokens` is rounded down to whole blocks. `profile` must outlive this.
  InstanceScheduler(const EngineConfig& config, int64_t kv_capacity_tokens,
                    const LatencyProfile& profile);

  // Whether a request of these lengths can ever complete here (alone, its prompt within the
  // token budget unless chunked, its whole context within the KV cache above the watermark).
  bool CanServe(int32_t prompt_tokens, int32_t output_tokens) const;

  // Appends a request to the waiting queue. Precondition: CanServe.
  void Enqueue(const EngineRequest& request);

  // Removes a request whose client went away (a real-time server, serve/emulator.h): a waiting
  // one at once; a running one frees its blocks at once when idle, else at the end of the
  // iteration in progress, which then reports no token for it. Returns false when the id is not
  // here (finished already, or never enqueued).
  bool Abort(int64_t id);

  // Plans the next iteration and returns its duration in seconds, or nothing when there is no
  // work that can start (idle). Precondition: no iteration in progress.
  std::optional<double> StartIteration();
  // Ids scheduled for the first time by the last StartIteration (admission, not readmission).
  const std::vector<int64_t>& newly_admitted() const { return newly_admitted_; }

  // Ends the iteration in progress: every sequence that computed its last pending token samples
  // one; finished ones leave and free their blocks. The result is valid until the next call.
  const std::vector<TokenOutput>& FinishIteration();

  bool busy() const { return busy_; }
  int32_t running() const { return static_cast<int32_t>(running_.size()); }
  int32_t waiting() const { return static_cast<int32_t>(waiting_.size()); }
  // Sequences swapped out to CPU memory (preemption: swap), waiting to resume.
  int32_t swapped() const { return static_cast<int32_t>(swapped_.size()); }
  int64_t free_swap_blocks() const { return free_cpu_blocks_; }
  int64_t free_kv_tokens() const { return free_blocks_ * config_.block_size; }
  int64_t total_kv_tokens() const { return total_blocks_ * config_.block_size; }
  // Output tokens still to generate over running and waiting sequences.
  int64_t remaining_output_tokens() const;
  const EngineCounters& counters() const { return counters_; }

 private:
  struct Sequence {
    EngineRequest request;
    int64_t order = 0;      // admission order of the request (FCFS priority)
    int32_t generated = 0;  // output tokens sampled so far
    int64_t computed = 0;   // tokens whose KV is in the cache
    int64_t blocks = 0;
    bool prefilling = true;  // computing a prompt (or a recompute) rather than decoding
    bool admitted_once = false;
    int64_t len() const { return request.prompt_tokens + generated; }
  };
  struct Work {
    int64_t id;
    int64_t new_tokens;
  };

  int64_t BlocksFor(int64_t tokens) const;
  bool CanAllocate(int64_t tokens) const;
  // Recompute or swap, as configured.
  void Preempt(const Sequence& victim);
  // Brings swapped sequences back and schedules their next token (or prompt chunk) within the
  // budget; returns tokens used.
  int64_t SwapIn(int64_t token_budget, IterationShape& shape);
  // Moves waiting sequences into running as prompt work within the budgets; returns tokens used.
  int64_t AdmitWaiting(int64_t token_budget, bool chunk, IterationShape& shape);
  // Decodes (and, under chunking, continues prompts of) running sequences with preemption.
  int64_t ScheduleRunning(int64_t token_budget, bool with_prefills, IterationShape& shape);
  Sequence& Find(int64_t id);

  EngineConfig config_;
  const LatencyProfile* profile_;
  int64_t total_blocks_ = 0;
  int64_t free_blocks_ = 0;
  int64_t watermark_blocks_ = 0;
  int64_t total_cpu_blocks_ = 0;
  int64_t free_cpu_blocks_ = 0;
  int64_t swap_blocks_in_iteration_ = 0;  // both directions, for the copy time
  int64_t next_order_ = 0;
  std::deque<Sequence> waiting_;
  std::vector<Sequence> running_;  // ascending order
  std::deque<Sequence> swapped_;   // ascending order
  std::vector<Work> work_;         // the iteration in progress
  std::vector<int64_t> newly_admitted_;
  std::vector<TokenOutput> outputs_;
  std::vector<int64_t> aborted_in_iteration_;  // request ids, applied by FinishIteration
  bool busy_ = false;
  EngineCounters counters_;
};

}  // namespace bestserve
