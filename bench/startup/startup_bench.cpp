// Start-up time and peak memory of bestserve commands that do not use libtorch, as ratios
// against a trivial C++ binary measured in the same run, and the same trivial binary linked
// against libtorch (what every command paid before libtorch moved into a plugin).
//
// Each command runs `runs` times (default 30) with its output discarded; the figures are the
// median and 90th percentile of wall time (fork to exit) and the peak resident set size that
// the kernel reports for the child (wait4's ru_maxrss).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/bench_util.h"

namespace {

struct Sample {
  double seconds = 0.0;
  long max_rss_kb = 0;
};

Sample RunOnce(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const bestserve::bench::Stopwatch watch;
  const pid_t pid = fork();
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    dup2(devnull, STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  Sample s;
  s.seconds = watch.Seconds();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fmt::print(stderr, "{} failed (status {})\n", argv[0], status);
    std::exit(1);
  }
  s.max_rss_kb = usage.ru_maxrss;
  return s;
}

struct Figures {
  double median_ms = 0.0;
  double p90_ms = 0.0;
  double rss_mb = 0.0;  // median peak RSS
};

Figures Measure(const std::vector<std::string>& argv, int runs) {
  RunOnce(argv);  // warm the page cache
  std::vector<double> ms;
  std::vector<long> rss;
  for (int i = 0; i < runs; ++i) {
    const Sample s = RunOnce(argv);
    ms.push_back(s.seconds * 1e3);
    rss.push_back(s.max_rss_kb);
  }
  std::sort(ms.begin(), ms.end());
  std::sort(rss.begin(), rss.end());
  Figures f;
  f.median_ms = ms[ms.size() / 2];
  f.p90_ms = ms[std::min(ms.size() - 1, ms.size() * 9 / 10)];
  f.rss_mb = static_cast<double>(rss[rss.size() / 2]) / 1024.0;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 30;
  fmt::print("startup_bench: {} runs each | CPU {} | {} | commit {}\n", runs,
             bestserve::bench::CpuModel(), bestserve::bench::BuildType(), bestserve::bench::GitCommit());
  const Figures trivial = Measure({STARTUP_TRIVIAL}, runs);
  fmt::print("{:<46} {:>10} {:>10} {:>10} {:>14}\n", "command", "median ms", "p90 ms", "peak MB",
             "vs trivial");
  const auto row = [&](const std::string& name, const Figures& f) {
    fmt::print("{:<46} {:>10.2f} {:>10.2f} {:>10.1f} {:>7.1f}x time\n", name, f.median_ms, f.p90_ms, f.rss_mb,
               f.median_ms / trivial.median_ms);
  };
  row("trivial C++ binary (baseline)", trivial);
  const std::string bestserve = BESTSERVE_BINARY;
  row("bestserve --version", Measure({bestserve, "--version"}, runs));
  row("bestserve simulate --help", Measure({bestserve, "simulate", "--help"}, runs));
  row("bestserve train --help", Measure({bestserve, "train", "--help"}, runs));
#ifdef STARTUP_TORCH_LINKED
  row("trivial binary linked with libtorch (before)", Measure({STARTUP_TORCH_LINKED}, runs));
#endif
  fmt::print("floor (issue 19): <= 30 ms and <= 20 MB for every command that does not use libtorch\n");
  return 0;
}
