// The baselines of startup_bench: a trivial C++ program (what a CLI cannot start faster than).
// Built twice: plain, and linked against libtorch as every bestserve command used to be.
#include <cstdio>

int main() {
  std::puts("trivial");
  return 0;
}
