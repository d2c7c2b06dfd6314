#include "agent/learn/two_part_runner.h"

#include <chrono>

#include "common/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace bestserve {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// How long the helper spins for the next part before it sleeps: longer than the trainer's
// work between two updates (one environment step and one decision: microseconds), far shorter
// than a validation run, during which a spinning helper would take a core from the simulator.
constexpr auto kHelperSpin = std::chrono::microseconds(200);

}  // namespace

TwoPartRunner::TwoPartRunner(int threads) {
  BS_CHECK_MSG(threads == 1 || threads == 2, "learner threads must be 1 or 2, got {}", threads);
  if (threads == 2) helper_ = std::thread([this] { HelperLoop(); });
}

TwoPartRunner::~TwoPartRunner() {
  if (!helper_.joinable()) return;
  stop_ = true;
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_one();
  helper_.join();
}

void TwoPartRunner::Run(PartFunction function, void* context) {
  if (!helper_.joinable()) {
    function(context, 0);
    function(context, 1);
    return;
  }
  function_ = function;
  context_ = context;
  const uint64_t ticket = generation_.load(std::memory_order_relaxed) + 1;
  generation_.store(ticket, std::memory_order_release);
  generation_.notify_one();
  function(context, 0);
  uint64_t unclaimed = ticket - 1;
  if (claimed_.compare_exchange_strong(unclaimed, ticket, std::memory_order_acq_rel)) {
    function(context, 1);  // the helper has not started it: do it here
    return;
  }
  // The helper took part 1 when we did part 0: it is about to finish, so spin.
  while (done_.load(std::memory_order_acquire) != ticket) CpuRelax();
}

void TwoPartRunner::HelperLoop() {
  uint64_t seen = 0;
  for (;;) {
    uint64_t current = generation_.load(std::memory_order_acquire);
    if (current == seen) {
      const auto spin_until = std::chrono::steady_clock::now() + kHelperSpin;
      int polls = 0;
      while ((current = generation_.load(std::memory_order_acquire)) == seen) {
        CpuRelax();
        if (++polls % 64 == 0 && std::chrono::steady_clock::now() > spin_until) {
          generation_.wait(seen, std::memory_order_acquire);
        }
      }
    }
    if (stop_) return;
    seen = current;
    uint64_t unclaimed = current - 1;
    if (!claimed_.compare_exchange_strong(unclaimed, current, std::memory_order_acq_rel)) continue;
    function_(context_, 1);
    done_.store(current, std::memory_order_release);
  }
}

}  // namespace bestserve
