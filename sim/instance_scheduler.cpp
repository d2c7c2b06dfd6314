#include "sim/instance_scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"

namespace bestserve {

InstanceScheduler::InstanceScheduler(const EngineConfig& config, int64_t kv_capacity_tokens,
                                     const LatencyProfile& profile)
    : config_(config), profile_(&profile) {
  BS_CHECK(config_.block_size > 0 && kv_capacity_tokens >= 0);
  total_blocks_ = kv_capacity_tokens / config_.block_size;
  free_blocks_ = total_blocks_;
  // vLLM: watermark_blocks = int(watermark * num_gpu_blocks).
  watermark_blocks_ = static_cast<int64_t>(config_.watermark * static_cast<double>(total_blocks_));
  if (config_.preemption == PreemptionMode::kSwap) {
    // vLLM: num_cpu_blocks = int(swap_space_bytes // cache_block_size).
    const double block_bytes = static_cast<double>(config_.block_size) * profile.model().kv_bytes_per_token;
    BS_CHECK(block_bytes > 0.0);
    total_cpu_blocks_ = static_cast<int64_t>(std::floor(config_.swap_space_gib * 1073741824.0 / block_bytes));
    free_cpu_blocks_ = total_cpu_blocks_;
  }
}

int64_t InstanceScheduler::BlocksFor(int64_t tokens) const {
  return (tokens + config_.block_size - 1) / config_.block_size;
}

bool InstanceScheduler::CanAllocate(int64_t tokens) const {
  return free_blocks_ - BlocksFor(tokens) >= watermark_blocks_;
}

bool InstanceScheduler::CanServe(int32_t prompt_tokens, int32_t output_tokens) const {
  if (config_.scheduling == SchedulingPolicy::kPrefillFirst &&
      prompt_tokens + output_tokens - 1 > config_.max_num_batched_tokens) {
    return false;  // a recompute of it could not be prefilled in one iteration
  }
  return BlocksFor(static_cast<int64_t>(prompt_tokens) + output_tokens) <=
         total_blocks_ - watermark_blocks_;
}

void InstanceScheduler::Enqueue(const EngineRequest& request) {
  BS_CHECK_MSG(CanServe(request.prompt_tokens, request.output_tokens),
               "request {} cannot be served by this engine", request.id);
  Sequence seq;
  seq.request = request;
  seq.order = next_order_++;
  waiting_.push_back(seq);
}

bool InstanceScheduler::Abort(int64_t id) {
  const auto is_id = [id](const Sequence& s) { return s.request.id == id; };
  if (const auto it = std::find_if(swapped_.begin(), swapped_.end(), is_id); it != swapped_.end()) {
    free_cpu_blocks_ += it->blocks;
    swapped_.erase(it);
    return true;
  }
  if (const auto it = std::find_if(waiting_.begin(), waiting_.end(), is_id); it != waiting_.end()) {
    free_blocks_ += it->blocks;  // 0: waiting sequences hold none (preemption freed them)
    waiting_.erase(it);
    return true;
  }
  const auto it = std::find_if(running_.begin(), running_.end(), is_id);
  if (it == running_.end()) return false;
  if (busy_) {
    // Its work is part of the iteration in progress; FinishIteration drops it.
    if (std::find(aborted_in_iteration_.begin(), aborted_in_iteration_.end(), id) ==
        aborted_in_iteration_.end()) {
      aborted_in_iteration_.push_back(id);
    }
    return true;
  }
  free_blocks_ += it->blocks;
  running_.erase(it);
  return true;
}

InstanceScheduler::Sequence& InstanceScheduler::Find(int64_t order) {
  auto it = std::lower_bound(running_.begin(), running_.end(), order,
                             [](const Sequence& s, int64_t o) { return s.order < o; });
  BS_CHECK(it != running_.end() && it->order == order);
  return *it;
}

void InstanceScheduler::Preempt(const Sequence& victim) {
  ++counters_.preemptions;
  free_blocks_ += victim.blocks;
  if (config_.preemption == PreemptionMode::kSwap && victim.blocks <= free_cpu_blocks_) {
    // Keeps its progress (computed, generated, a prompt chunk's position) in CPU memory.
    free_cpu_blocks_ -= victim.blocks;
    counters_.swapped_out_blocks += victim.blocks;
    swap_blocks_in_iteration_ += victim.blocks;
    ++counters_.swap_preemptions;
    const auto at = std::lower_bound(swapped_.begin(), swapped_.end(), victim.order,
                                     [](const Sequence& s, int64_t o) { return s.order < o; });
    swapped_.insert(at, victim);
    return;
  }
  Sequence recompute = victim;
  counters_.recomputed_tokens += recompute.computed;
  recompute.blocks = 0;
  recompute.computed = 0;
  recompute.prefilling = true;
  waiting_.push_front(recompute);
}

int64_t InstanceScheduler::SwapIn(int64_t token_budget, IterationShape& shape) {
  int64_t used = 0;
  while (!swapped_.empty()) {
    const Sequence& head = swapped_.front();
    // vLLM's can_swap_in assumes conservatively that each sequence takes a new block right
    // after; on an otherwise empty cache we ask only for what it will hold (so that a sequence
    // as large as the cache allows still resumes instead of waiting forever).
    const int64_t required = running_.empty() ? BlocksFor(head.len()) : head.blocks + 1;
    if (free_blocks_ - required < watermark_blocks_) break;
    if (running() + 1 > config_.max_num_seqs) break;
    const int64_t tokens =
        head.prefilling ? std::min(head.len() - head.computed, token_budget - used) : 1;
    if (tokens <= 0 || used + tokens > token_budget) break;
    Sequence seq = head;
    swapped_.pop_front();
    free_blocks_ -= seq.blocks;
    free_cpu_blocks_ += seq.blocks;
    counters_.swapped_in_blocks += seq.blocks;
    swap_blocks_in_iteration_ += seq.blocks;
    work_.push_back(Work{seq.order, tokens});
    if (seq.prefilling) {  // a prompt chunk (chunked prefill), its blocks allocated at admission
      shape.prefills.push_back(PrefillChunk{tokens, seq.computed});
      if (seq.computed + tokens == seq.len() && seq.generated == 0) ++shape.first_tokens;
    } else {
      const int64_t needed = BlocksFor(seq.len()) - seq.blocks;
      seq.blocks += needed;
      free_blocks_ -= needed;
      ++shape.decode_seqs;
      shape.decode_cached_tokens += seq.computed;
    }
    used += tokens;
    const auto at = std::lower_bound(running_.begin(), running_.end(), seq.order,
                                     [](const Sequence& s, int64_t o) { return s.order < o; });
    running_.insert(at, seq);
  }
  return used;
}

int64_t InstanceScheduler::AdmitWaiting(int64_t token_budget, bool chunk, IterationShape& shape) {
  int64_t used = 0;
  // vLLM 0.2.x pads every prompt of a prefill batch to the longest one (max_paddings set).
  const bool padded = !chunk && config_.max_paddings >= 0;
  int64_t longest = 0;
  int64_t batched = 0;
  const size_t first_prefill = shape.prefills.size();
  while (!waiting_.empty()) {
    Sequence seq = waiting_.front();
    const int64_t len = seq.len();
    if (running() + 1 > config_.max_num_seqs) break;
    const int64_t new_tokens = chunk ? std::min(len, token_budget - used) : len;
    if (new_tokens <= 0 || used + new_tokens > token_budget) break;
    if (padded) {
      const int64_t padded_tokens = (batched + 1) * std::max(longest, len);
      if (padded_tokens > token_budget ||
          padded_tokens - (used + new_tokens) > config_.max_paddings) {
        break;
      }
    }
    if (!CanAllocate(len)) break;
    waiting_.pop_front();
    seq.blocks = BlocksFor(len);
    free_blocks_ -= seq.blocks;
    seq.computed = 0;
    seq.prefilling = true;
    if (!seq.admitted_once) {
      seq.admitted_once = true;
      newly_admitted_.push_back(seq.request.id);
    }
    work_.push_back(Work{seq.order, new_tokens});
    shape.prefills.push_back(PrefillChunk{new_tokens, 0});
    if (new_tokens == len && seq.generated == 0) ++shape.first_tokens;
    used += new_tokens;
    longest = std::max(longest, len);
    ++batched;
    const auto at = std::lower_bound(running_.begin(), running_.end(), seq.order,
                                     [](const Sequence& s, int64_t o) { return s.order < o; });
    running_.insert(at, seq);
  }
  if (padded) {
    // The GPU computes the padding too: each prompt is costed as the longest.
    for (size_t i = first_prefill; i < shape.prefills.size(); ++i) {
      shape.prefills[i].new_tokens = longest;
    }
  }
  return used;
}

int64_t InstanceScheduler::ScheduleRunning(int64_t token_budget, bool with_prefills,
                                           IterationShape& shape) {
  // Oldest first; victims come from the back (the youngest not yet scheduled).
  std::deque<Sequence> queue(running_.begin(), running_.end());
  std::vector<Sequence> kept;
  int64_t used = 0;
  while (!queue.empty()) {
    Sequence seq = queue.front();
    queue.pop_front();
    if (seq.prefilling || used + 1 > token_budget) {
      kept.push_back(seq);  // a prompt in progress (second pass) or no budget left this time
      continue;
    }
    const int64_t needed = BlocksFor(seq.len()) - seq.blocks;
    bool self_preempted = false;
    while (needed > free_blocks_) {
      if (!queue.empty()) {
        Sequence victim = queue.back();
        queue.pop_back();
        Preempt(victim);
      } else {
        Preempt(seq);
        self_preempted = true;
        break;
      }
    }
    if (self_preempted) continue;
    seq.blocks += needed;
    free_blocks_ -= needed;
    work_.push_back(Work{seq.order, 1});
    ++shape.decode_seqs;
    shape.decode_cached_tokens += seq.computed;
    ++used;
    kept.push_back(seq);
  }
  running_ = std::move(kept);
  if (with_prefills) {
    for (const Sequence& seq : running_) {
      if (!seq.prefilling) continue;
      const int64_t chunk = std::min(seq.len() - seq.computed, token_budget - used);
      if (chunk <= 0) break;
      work_.push_back(Work{seq.order, chunk});
      shape.prefills.push_back(PrefillChunk{chunk, seq.computed});
      if (seq.computed + chunk == seq.len() && seq.generated == 0) ++shape.first_tokens;
      used += chunk;
    }
  }
  return used;
}

std::optional<double> InstanceScheduler::StartIteration() {
  BS_CHECK(!busy_);
  work_.clear();
  newly_admitted_.clear();
  swap_blocks_in_iteration_ = 0;
  IterationShape shape;
  const int64_t budget = config_.max_num_batched_tokens;
  const int64_t preempted_before = counters_.preemptions;
  if (config_.scheduling == SchedulingPolicy::kPrefillFirst) {
    // vLLM v0: no new prompt while anything is swapped out (resuming comes first).
    if (swapped_.empty()) AdmitWaiting(budget, /*chunk=*/false, shape);
    if (work_.empty()) {
      ScheduleRunning(std::numeric_limits<int64_t>::max(), false, shape);
      if (counters_.preemptions == preempted_before) SwapIn(std::numeric_limits<int64_t>::max(), shape);
    }
  } else {
    int64_t used = ScheduleRunning(budget, /*with_prefills=*/true, shape);
    if (counters_.preemptions == preempted_before) used += SwapIn(budget - used, shape);
    AdmitWaiting(budget - used, /*chunk=*/true, shape);
  }
  if (work_.empty()) return std::nullopt;
  // Work items were appended in two passes; FinishIteration looks them up by order.
  if (shape.prefills.empty()) {
    ++counters_.decode_iterations;
  } else if (shape.decode_seqs == 0) {
    ++counters_.prefill_iterations;
  } else {
    ++counters_.mixed_iterations;
  }
  counters_.max_running = std::max(counters_.max_running, running());
  busy_ = true;
  double seconds = profile_->IterationSeconds(shape);
  if (swap_blocks_in_iteration_ > 0) {
    const double bytes = static_cast<double>(swap_blocks_in_iteration_) *
                         static_cast<double>(config_.block_size) * profile_->model().kv_bytes_per_token;
    seconds += bytes / (config_.swap_bandwidth_gb_s * 1e9);
  }
  return seconds;
}

const std::vector<TokenOutput>& InstanceScheduler::FinishIteration() {
  BS_CHECK(busy_);
  busy_ = false;
  outputs_.clear();
  bool any_finished = false;
  for (const Work& w : work_) {
    Sequence& seq = Find(w.id);
    seq.computed += w.new_tokens;
    BS_CHECK(seq.computed <= seq.len());
    if (seq.computed < seq.len()) continue;  // a prompt chunk short of the end samples nothing
    ++seq.generated;
    seq.prefilling = false;
    TokenOutput out;
    out.id = seq.request.id;
    out.generated = seq.generated;
    out.first = seq.generated == 1;
    out.finished = seq.generated == seq.request.output_tokens;
    if (out.finished) {
      free_blocks_ += seq.blocks;
      seq.blocks = 0;
      any_finished = true;
    }
    outputs_.push_back(out);
  }
  if (any_finished) {
    std::erase_if(running_,
                  [](const Sequence& s) { return s.generated == s.request.output_tokens; });
  }
  work_.clear();
  for (const int64_t id : aborted_in_iteration_) {
    const auto is_id = [id](const Sequence& s) { return s.request.id == id; };
    std::erase_if(outputs_, [id](const TokenOutput& out) { return out.id == id; });
    const auto it = std::find_if(running_.begin(), running_.end(), is_id);
    if (it == running_.end()) continue;  // it finished in this very iteration
    free_blocks_ += it->blocks;
    running_.erase(it);
  }
  aborted_in_iteration_.clear();
  BS_CHECK(free_blocks_ >= 0 && free_blocks_ <= total_blocks_);
  return outputs_;
}

int64_t InstanceScheduler::remaining_output_tokens() const {
  int64_t remaining = 0;
  for (const Sequence& s : running_) remaining += s.request.output_tokens - s.generated;
  for (const Sequence& s : waiting_) remaining += s.request.output_tokens - s.generated;
  for (const Sequence& s : swapped_) remaining += s.request.output_tokens - s.generated;
  return remaining;
}

}  // namespace bestserve
