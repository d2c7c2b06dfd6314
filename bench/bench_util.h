// Shared by the benchmarks: machine, build and commit facts printed with every figure, and a
// monotonic stopwatch.
#pragma once

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

namespace bestserve::bench {

inline std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

// The source tree's commit, with "-dirty" when it has uncommitted changes (figures from a dirty
// tree are not the commit's).
inline std::string GitCommit() {
  std::string command = "git -C " BESTSERVE_SOURCE_DIR " describe --always --dirty 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "unknown";
  char buffer[64] = {};
  std::string out = fgets(buffer, sizeof(buffer), pipe) != nullptr ? buffer : "unknown";
  pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

inline const char* BuildType() {
#ifdef NDEBUG
  return "Release (NDEBUG)";
#else
  return "Debug (assertions on)";
#endif
}

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace bestserve::bench
