#include "agent/learn/replay_buffer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/error.h"

namespace bestserve {

ReplayBuffer::ReplayBuffer(int64_t capacity, int observation_size)
    : capacity_(capacity),
      observation_size_(observation_size),
      stride_((2 * static_cast<size_t>(observation_size) + 3 + 3) / 4 * 4) {
  BS_CHECK(capacity > 0 && observation_size > 0);
  records_.resize(static_cast<size_t>(capacity) * stride_);
}

int32_t ReplayBuffer::action(int64_t slot) const {
  int32_t a = 0;
  std::memcpy(&a, record(slot) + action_offset(), sizeof(a));
  return a;
}

void ReplayBuffer::Add(const Transition& transition) {
  const size_t obs = static_cast<size_t>(observation_size_);
  BS_CHECK_MSG(transition.observation.size() == obs && transition.next_observation.size() == obs,
               "transition observations have {} and {} values, the buffer expects {}",
               transition.observation.size(), transition.next_observation.size(), obs);
  BS_CHECK(transition.action >= 0);
  float* r = record(next_);
  std::copy(transition.observation.begin(), transition.observation.end(), r);
  std::copy(transition.next_observation.begin(), transition.next_observation.end(), r + next_observation_offset());
  std::memcpy(r + action_offset(), &transition.action, sizeof(int32_t));
  r[reward_offset()] = transition.reward;
  r[terminal_offset()] = transition.terminal ? 1.0f : 0.0f;
  next_ = (next_ + 1) % capacity_;
  size_ = std::min(size_ + 1, capacity_);
}

void ReplayBuffer::Sample(int batch_size, Rng& rng, TransitionBatch* batch) const {
  BS_CHECK(size_ > 0 && batch_size > 0);
  if (batch->size != batch_size || batch->observation_size != observation_size_) {
    batch->Resize(batch_size, observation_size_);
  }
  const size_t obs = static_cast<size_t>(observation_size_);
  const auto n = static_cast<size_t>(batch_size);
  // Draw every slot first (the same draws in the same order), then copy with the records a few
  // samples ahead prefetched (a record spans two cache lines).
  thread_local std::vector<int64_t> slots;
  slots.resize(n);
  for (size_t i = 0; i < n; ++i) slots[i] = static_cast<int64_t>(rng.UniformIndex(static_cast<uint64_t>(size_)));
  constexpr size_t kAhead = 8;
  const auto prefetch = [&](int64_t slot) {
    const float* r = record(slot);
    __builtin_prefetch(r);
    __builtin_prefetch(r + stride_ - 1);
  };
  for (size_t i = 0; i < std::min(n, kAhead); ++i) prefetch(slots[i]);
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) prefetch(slots[i + kAhead]);
    const float* r = record(slots[i]);
    float* to_o = batch->observations.data() + i * obs;
    float* to_p = batch->next_observations.data() + i * obs;
    for (size_t k = 0; k < obs; ++k) to_o[k] = r[k];
    for (size_t k = 0; k < obs; ++k) to_p[k] = r[obs + k];
    std::memcpy(&batch->actions[i], r + action_offset(), sizeof(int32_t));
    batch->rewards[i] = r[reward_offset()];
    batch->terminals[i] = r[terminal_offset()];
  }
}

std::optional<std::string> ReplayBuffer::ContentProblem(int num_actions) const {
  for (int64_t slot = 0; slot < size_; ++slot) {
    const int32_t a = action(slot);
    const float reward = record(slot)[reward_offset()];
    const float terminal = record(slot)[terminal_offset()];
    if (a < 0 || a >= num_actions) {
      return fmt::format("replay transition {} has action {}; the network has {} actions", slot, a, num_actions);
    }
    if (terminal != 0.0f && terminal != 1.0f) {
      return fmt::format("replay transition {} has terminal flag {}, expected 0 or 1", slot, terminal);
    }
    if (!std::isfinite(reward)) return fmt::format("replay transition {} has reward {}", slot, reward);
  }
  return std::nullopt;
}

double ReplayBuffer::RecentMeanReward(int64_t count) const {
  const int64_t n = std::min(count, size_);
  if (n <= 0) return 0.0;
  double sum = 0.0;
  for (int64_t k = 1; k <= n; ++k) {
    sum += record((next_ - k + capacity_) % capacity_)[reward_offset()];
  }
  return sum / static_cast<double>(n);
}

void ReplayBuffer::Save(ByteWriter& out) const {
  out.I64(capacity_);
  out.U32(static_cast<uint32_t>(observation_size_));
  out.I64(size_);
  out.I64(next_);
  // Only the filled prefix: before the first wrap the slots past size_ are unused.
  // The format is field by field (as the storage once was): gathered here.
  const size_t n = static_cast<size_t>(size_);
  const size_t obs = static_cast<size_t>(observation_size_);
  std::vector<float> values(n * obs);
  for (size_t i = 0; i < n; ++i) std::copy_n(record(static_cast<int64_t>(i)), obs, values.begin() + static_cast<long>(i * obs));
  out.Floats(values.data(), n * obs);
  for (size_t i = 0; i < n; ++i) {
    std::copy_n(record(static_cast<int64_t>(i)) + obs, obs, values.begin() + static_cast<long>(i * obs));
  }
  out.Floats(values.data(), n * obs);
  std::vector<int32_t> actions(n);
  for (size_t i = 0; i < n; ++i) actions[i] = action(static_cast<int64_t>(i));
  out.Int32s(actions);
  for (size_t i = 0; i < n; ++i) values[i] = record(static_cast<int64_t>(i))[reward_offset()];
  out.Floats(values.data(), n);
  for (size_t i = 0; i < n; ++i) values[i] = record(static_cast<int64_t>(i))[terminal_offset()];
  out.Floats(values.data(), n);
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
  for (size_t i = 0; i < n; ++i) std::copy_n(values.begin() + static_cast<long>(i * obs), obs, record(static_cast<int64_t>(i)));
  in.FloatsInto(&values, n * obs, "replay next observations");
  for (size_t i = 0; i < n; ++i) {
    std::copy_n(values.begin() + static_cast<long>(i * obs), obs, record(static_cast<int64_t>(i)) + obs);
  }
  const std::vector<int32_t> actions = in.Int32s();
  if (actions.size() != n) in.Fail("replay actions do not match the buffer size");
  for (size_t i = 0; i < n; ++i) std::memcpy(record(static_cast<int64_t>(i)) + action_offset(), &actions[i], sizeof(int32_t));
  in.FloatsInto(&values, n, "replay rewards");
  for (size_t i = 0; i < n; ++i) record(static_cast<int64_t>(i))[reward_offset()] = values[i];
  in.FloatsInto(&values, n, "replay terminals");
  for (size_t i = 0; i < n; ++i) record(static_cast<int64_t>(i))[terminal_offset()] = values[i];
  size_ = size;
  next_ = next;
}

}  // namespace bestserve
