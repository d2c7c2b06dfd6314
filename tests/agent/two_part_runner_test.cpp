// TwoPartRunner: every Run calls each part exactly once, before it returns, whichever thread
// runs it; with one thread both run here, part 0 first.
#include "agent/learn/two_part_runner.h"

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

namespace bestserve {
namespace {

TEST_CASE("each part runs exactly once per pass, before the pass returns", "[agent][threads]") {
  for (int threads : {1, 2}) {
    INFO("threads " << threads);
    TwoPartRunner runner(threads);
    CHECK(runner.threads() == threads);
    const std::thread::id caller = std::this_thread::get_id();
    int by_helper = 0;
    for (int pass = 0; pass < 20000; ++pass) {
      int calls[2] = {0, 0};
      std::thread::id ran_part1;
      // Some passes give part 0 real work, so that the helper usually claims part 1; others
      // none, so that the caller often finds part 1 unclaimed and runs it itself.
      volatile double sink = 0.0;
      auto part = [&](int index) {
        ++calls[index];
        if (index == 0 && pass % 2 == 0) {
          for (int i = 0; i < 2000; ++i) sink = sink + i;
        }
        if (index == 1) ran_part1 = std::this_thread::get_id();
      };
      runner.Run(part);
      REQUIRE(calls[0] == 1);
      REQUIRE(calls[1] == 1);
      if (ran_part1 != caller) ++by_helper;
    }
    if (threads == 1) CHECK(by_helper == 0);
    if (threads == 2) CHECK(by_helper > 0);
  }
}

}  // namespace
}  // namespace bestserve
