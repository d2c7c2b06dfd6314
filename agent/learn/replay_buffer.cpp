#include "agent/learn/replay_buffer.h"

#include <algorithm>

#include "common/error.h"

namespace bestserve {

ReplayBuffer::ReplayBuffer(int64_t capacity, int observation_size)
    : capacity_(capacity), observation_size_(observation_size) {
  BS_CHECK(capacity > 0 && observation_size > 0);
  const size_t n = static_cast<size_t>(capacity);
  observations_.resize(n * static_cast<size_t>(observation_size));
  next_observations_.resize(n * static_cast<size_t>(observation_size));
  actions_.resize(n);
  rewards_.resize(n);
  terminals_.resize(n);
}

void ReplayBuffer::Add(const Transition& transition) {
  const size_t obs = static_cast<size_t>(observation_size_);
  BS_CHECK_MSG(transition.observation.size() == obs && transition.next_observation.size() == obs,
               "transition observations have {} and {} values, the buffer expects {}",
               transition.observation.size(), transition.next_observation.size(), obs);
  BS_CHECK(transition.action >= 0);
  const size_t slot = static_cast<size_t>(next_);
  std::copy(transition.observation.begin(), transition.observation.end(),
            observations_.begin() + static_cast<long>(slot * obs));
  std::copy(transition.next_observation.begin(), transition.next_observation.end(),
            next_observations_.begin() + static_cast<long>(slot * obs));
  actions_[slot] = transition.action;
  rewards_[slot] = transition.reward;
  terminals_[slot] = transition.terminal ? 1.0f : 0.0f;
  next_ = (next_ + 1) % capacity_;
  size_ = std::min(size_ + 1, capacity_);
}

void ReplayBuffer::Sample(int batch_size, Rng& rng, TransitionBatch* batch) const {
  BS_CHECK(size_ > 0 && batch_size > 0);
  if (batch->size != batch_size || batch->observation_size != observation_size_) {
    batch->Resize(batch_size, observation_size_);
  }
  const size_t obs = static_cast<size_t>(observation_size_);
  for (size_t i = 0; i < static_cast<size_t>(batch_size); ++i) {
    const size_t slot = static_cast<size_t>(rng.UniformIndex(static_cast<uint64_t>(size_)));
    std::copy_n(observations_.begin() + static_cast<long>(slot * obs), obs,
                batch->observations.begin() + static_cast<long>(i * obs));
    std::copy_n(next_observations_.begin() + static_cast<long>(slot * obs), obs,
                batch->next_observations.begin() + static_cast<long>(i * obs));
    batch->actions[i] = actions_[slot];
    batch->rewards[i] = rewards_[slot];
    batch->terminals[i] = terminals_[slot];
  }
}

double ReplayBuffer::RecentMeanReward(int64_t count) const {
  const int64_t n = std::min(count, size_);
  if (n <= 0) return 0.0;
  double sum = 0.0;
  for (int64_t k = 1; k <= n; ++k) {
    sum += rewards_[static_cast<size_t>((next_ - k + capacity_) % capacity_)];
  }
  return sum / static_cast<double>(n);
}

void ReplayBuffer::Save(ByteWriter& out) const {
  out.I64(capacity_);
  out.U32(static_cast<uint32_t>(observation_size_));
  out.I64(size_);
  out.I64(next_);
  // Only the filled prefix: before the first wrap the slots past size_ are unused.
  const size_t n = static_cast<size_t>(size_);
  const size_t obs = static_cast<size_t>(observation_size_);
  out.Floats(observations_.data(), n * obs);
  out.Floats(next_observations_.data(), n * obs);
  out.Int32s(std::vector<int32_t>(actions_.begin(), actions_.begin() + static_cast<long>(n)));
  out.Floats(rewards_.data(), n);
  out.Floats(terminals_.data(), n);
}

void ReplayBuffer::Load(ByteReader& in) {
  const int64_t capacity = in.I64();
  const uint32_t obs_size = in.U32();
  if (capacity != capacity_ || static_cast<int>(obs_size) != observation_size_) {
    in.Fail("replay buffer of capacity " + std::to_string(capacity) + " with " +
            std::to_string(obs_size) + "-value observations does not match the configured " +
            std::to_string(capacity_) + " and " + std::to_string(observation_size_));
  }
  const int64_t size = in.I64();
  const int64_t next = in.I64();
  if (size < 0 || size > capacity_ || next < 0 || next >= capacity_ ||
      (size < capacity_ && next != size)) {
    in.Fail("replay buffer counters are inconsistent (size " + std::to_string(size) + ", next " +
            std::to_string(next) + ")");
  }
  const size_t n = static_cast<size_t>(size);
  const size_t obs = static_cast<size_t>(observation_size_);
  std::vector<float> values;
  in.FloatsInto(&values, n * obs, "replay observations");
  std::copy(values.begin(), values.end(), observations_.begin());
  in.FloatsInto(&values, n * obs, "replay next observations");
  std::copy(values.begin(), values.end(), next_observations_.begin());
  const std::vector<int32_t> actions = in.Int32s();
  if (actions.size() != n) in.Fail("replay actions do not match the buffer size");
  std::copy(actions.begin(), actions.end(), actions_.begin());
  in.FloatsInto(&values, n, "replay rewards");
  std::copy(values.begin(), values.end(), rewards_.begin());
  in.FloatsInto(&values, n, "replay terminals");
  std::copy(values.begin(), values.end(), terminals_.begin());
  size_ = size;
  next_ = next;
}

}  // namespace bestserve
