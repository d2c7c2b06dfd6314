// Runs a pass of the fast learner in two parts, on this thread and on one helper thread.
//
// The learner defines its arithmetic in two parts whatever the thread count (rows of the batch
// in two halves, whose gradient sums are added at the end; hidden units in two halves for the
// rest), so every float is produced by the same operations in the same order whether the two
// parts run one after the other (threads = 1) or at once (threads = 2): training gives the same
// bits for either thread count.
//
// Hand-off cost matters: an update of the paper's network takes ~0.3 ms and has three parallel
// passes, so the helper spins on an atomic for a while after each part (the trainer calls
// again within microseconds while it trains) before it sleeps on a futex (std::atomic::wait).
// A part is claimed before it runs: when the caller finishes part 0 and the helper has not yet
// claimed part 1 (descheduled on a busy machine, or asleep), the caller runs part 1 itself, so
// two threads are never slower than one by more than the hand-off.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

namespace bestserve {

class TwoPartRunner {
 public:
  // threads: 1 (both parts here, part 0 first) or 2 (part 1 on a helper thread).
  explicit TwoPartRunner(int threads);
  ~TwoPartRunner();
  TwoPartRunner(const TwoPartRunner&) = delete;
  TwoPartRunner& operator=(const TwoPartRunner&) = delete;

  int threads() const { return helper_.joinable() ? 2 : 1; }

  // Calls part(0) and part(1) and returns when both have returned. `part` must not throw.
  template <typename Part>
  void Run(Part& part) {
    Run(&Call<Part>, &part);
  }

 private:
  using PartFunction = void (*)(void* context, int part);
  template <typename Part>
  static void Call(void* context, int index) {
    (*static_cast<Part*>(context))(index);
  }
  void Run(PartFunction function, void* context);
  void HelperLoop();

  PartFunction function_ = nullptr;
  void* context_ = nullptr;
  // Odd values hand the helper a part; the helper answers by setting done_ to the same value.
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> done_{0};
  std::atomic<uint64_t> claimed_{0};  // the last ticket whose part 1 someone took
  bool stop_ = false;
  std::thread helper_;
};

}  // namespace bestserve
