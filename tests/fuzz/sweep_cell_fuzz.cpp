// Sweep cell files (sweep/merge.h): whatever a cell file holds, CellFileProblem says what is
// wrong with it or accepts it; it never crashes and never throws.
#include "sweep/merge.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = bestserve::fuzz::WriteScratch(bestserve::fuzz::AsText(data, size), ".json");
  bestserve::sweep::CellFileProblem(path, "0123456789abcdef", "fedcba9876543210");
  return 0;
}
