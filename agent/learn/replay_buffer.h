// Experience replay: a ring buffer of completed transitions with uniform sampling.
//
// Capacity default 100,000 (LearnerSettings::replay_capacity): about 8% of the paper's
// 1.2M-iteration run, so the buffer tracks the current policy's load pattern (the router's own
// choices shape the batch sizes it observes) while still spanning many rate switches; at ~80
// bytes per transition of the paper's 8-float state it is ~8 MB, which keeps checkpoints small.
// Storage is one flat array of records, allocated once: a transition's observation, next
// observation, action, reward and terminal flag side by side (padded to 16 bytes), so that a
// sampled transition costs two cache-line fetches rather than one per field (sampling is a
// random walk over megabytes, and its memory waits were a tenth of a training iteration).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "router/policy/binary_io.h"
#include "agent/env/environment.h"
#include "agent/learn/learner.h"
#include "common/rng.h"

namespace bestserve {

class ReplayBuffer {
 public:
  ReplayBuffer(int64_t capacity, int observation_size);

  int64_t capacity() const { return capacity_; }
  int64_t size() const { return size_; }
  int observation_size() const { return observation_size_; }

  // Stores a copy, overwriting the oldest transition once full. Precondition: observation
  // sizes match and the action is >= 0.
  void Add(const Transition& transition);

  // Fills `batch` with `batch_size` transitions drawn uniformly with replacement. Uses only
  // `rng` (one UniformIndex per sample). Precondition: size() > 0.
  void Sample(int batch_size, Rng& rng, TransitionBatch* batch) const;

  // Mean reward of the newest min(count, size()) transitions (0 when empty).
  double RecentMeanReward(int64_t count) const;

  void Save(ByteWriter& out) const;
  // Restores contents saved by Save(); capacity and observation size must match.
  void Load(ByteReader& in);
  // What is wrong with the stored transitions for a network of `num_actions` actions (an action
  // out of range, a terminal flag other than 0 or 1, a reward that is not finite), naming the
  // first bad slot; nullopt when nothing is.
  std::optional<std::string> ContentProblem(int num_actions) const;

  bool operator==(const ReplayBuffer& other) const = default;

 private:
  int64_t capacity_;
  int observation_size_;
  int64_t size_ = 0;
  int64_t next_ = 0;  // slot the next Add writes
  // Offsets within a record of `stride_` floats; the action is stored as its int32 bits.
  size_t next_observation_offset() const { return static_cast<size_t>(observation_size_); }
  size_t action_offset() const { return 2 * static_cast<size_t>(observation_size_); }
  size_t reward_offset() const { return action_offset() + 1; }
  size_t terminal_offset() const { return action_offset() + 2; }
  const float* record(int64_t slot) const { return records_.data() + static_cast<size_t>(slot) * stride_; }
  float* record(int64_t slot) { return records_.data() + static_cast<size_t>(slot) * stride_; }
  int32_t action(int64_t slot) const;

  size_t stride_;
  std::vector<float> records_;
};

}  // namespace bestserve
