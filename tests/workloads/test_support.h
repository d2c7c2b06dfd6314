// Helpers shared by the workloads tests: a small inline task table, scratch files, the shared
// traces folder, and the Kolmogorov-Smirnov statistic.
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/tasks.h"

namespace bestserve::testing {

// Four tasks like the paper's, with distinct token-length kinds so every path is exercised.
inline TaskTable TestTasks() {
  return TaskTable::Parse(ConfigNode::LoadString(R"(
models: [small, large]
tasks:
  - {name: hellaswag, prompt_tokens: {kind: uniform, min: 64, max: 128}, output_tokens: 32, quality: [0.45, 1.0]}
  - {name: copa, prompt_tokens: 24, output_tokens: {kind: geometric, mean: 20}, quality: [0.8, 1.0]}
  - {name: piqa, prompt_tokens: {kind: uniform, min: 32, max: 96}, output_tokens: {kind: uniform, min: 16, max: 48}, quality: [0.82, 1.0]}
  - {name: openbookqa, prompt_tokens: 40, output_tokens: 16, quality: [0.7, 1.0]}
)",
                                                 "<test tasks>"));
}

inline ConfigNode Yaml(const std::string& text) {
  return ConfigNode::LoadString(text, "test.yaml");
}

// A scratch folder removed when the object goes away.
class ScratchDir {
 public:
  ScratchDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("bestserve_workloads_test_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string file = (path_ / name).string();
    std::ofstream out(file, std::ios::binary);
    out << text;
    return file;
  }
  std::string WriteGzip(const std::string& name, const std::string& text) const {
    const std::string file = (path_ / name).string();
    gzFile gz = gzopen(file.c_str(), "wb");
    gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
    gzclose(gz);
    return file;
  }
  std::string Path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
  static inline int counter_ = 0;
};

// The shared traces folder, or nullopt (with a WARN) when it is absent: Catch2 v2 has no SKIP,
// so callers return early.
inline std::optional<std::string> SharedTraces() {
  const char* env = std::getenv("BESTSERVE_SHARED_DIR");
  const std::filesystem::path dir =
      std::filesystem::path(env != nullptr ? env : "../shared") / "traces";
  if (!std::filesystem::exists(dir / "AzureLLMInferenceTrace_conv.csv")) {
    WARN("skipped: no shared traces at " << dir.string() << " (set BESTSERVE_SHARED_DIR)");
    return std::nullopt;
  }
  return dir.string();
}

// The repository root (where workloads/fits lives).
inline std::string RepoDir() {
  const char* env = std::getenv("BESTSERVE_DATA_DIR");
  return env != nullptr ? env : ".";
}

// sup_x |F_n(x) - F(x)| for a sample and a continuous CDF.
inline double KolmogorovSmirnov(std::vector<double> sample,
                                const std::function<double(double)>& cdf) {
  std::sort(sample.begin(), sample.end());
  const auto n = static_cast<double>(sample.size());
  double d = 0.0;
  for (size_t i = 0; i < sample.size(); ++i) {
    const double f = cdf(sample[i]);
    d = std::max({d, static_cast<double>(i + 1) / n - f, f - static_cast<double>(i) / n});
  }
  return d;
}

// The asymptotic critical value of sqrt(n) * D_n at level alpha: sqrt(-ln(alpha / 2) / 2)
// (Kolmogorov's limit distribution, first term), so P(sqrt(n) D_n > c) ~ alpha.
inline double KsCriticalValue(double alpha) { return std::sqrt(-std::log(alpha / 2.0) / 2.0); }

// Tolerances in these tests are kSigmas standard errors derived from the sample size: a correct
// generator fails one check with probability ~ 6e-7 (two-sided normal tail at 5 sigma), and the
// seeds are fixed, so a failure is a real change.
inline constexpr double kSigmas = 5.0;
inline constexpr double kKsAlpha = 1e-4;

}  // namespace bestserve::testing
