// workloads_bench: single-threaded throughput of workload generation (requests/s) and trace
// parsing (rows/s), against the issue's floors (2 million generated requests/s, 1 million parsed
// rows/s on one core). Prints machine, build type and commit with the figures.
//
//   workloads_bench [--quick] [--scratch DIR] [--shared DIR]
//
// --quick runs tiny sizes (a smoke run for ctest); the figures are then meaningless. Each figure
// is the best of three runs (the least disturbed by other processes on the machine).
#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/rng.h"
#include "common/tasks.h"
#include "workloads/registry.h"
#include "workloads/trace_reader.h"
#include "workloads/trace_workload.h"

#ifndef BESTSERVE_SOURCE_DIR
#define BESTSERVE_SOURCE_DIR "."
#endif
#ifndef BESTSERVE_BUILD_TYPE
#define BESTSERVE_BUILD_TYPE "unknown"
#endif

#include "bench/bench_util.h"

namespace bestserve {
namespace {

namespace fs = std::filesystem;
constexpr double kGenerationFloor = 2e6;
constexpr double kParseFloor = 1e6;

// Best-of-three wall time of `run` in seconds.
double BestSeconds(const std::function<void()>& run) {
  double best = 1e300;
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    best = std::min(best, elapsed.count());
  }
  return best;
}

void Report(const std::string& what, double count, const std::string& unit, double seconds,
            double floor) {
  const double rate = count / seconds;
  fmt::print("  {:<52} {:>12.0f} {}/s  ({:.0f} {} in {:.3f} s){}\n", what, rate, unit, count, unit,
             seconds, floor > 0.0 ? (rate >= floor ? "  [floor ok]" : "  [BELOW FLOOR]") : "");
}

// Writes `rows` rows of a format into `path` (gzip when it ends in .gz), mimicking the real
// traces' field shapes, and returns the path.
std::string WriteSynthetic(const fs::path& path, TraceFormat format, int64_t rows) {
  std::string text;
  Rng rng(1);
  auto hex = [&](int digits) {
    std::string h;
    for (int i = 0; i < digits; i += 16) h += fmt::format("{:016x}", rng.NextU64());
    return h.substr(0, static_cast<size_t>(digits));
  };
  double t = 0.0;
  switch (format) {
    case TraceFormat::kAzureLlm:
      text = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
      for (int64_t i = 0; i < rows; ++i) {
        t += rng.Exponential(5.5);
        const auto whole = static_cast<int64_t>(t);
        const int64_t day_s = 65746 + whole;
        text += fmt::format("2023-11-{:02} {:02}:{:02}:{:02}.{:07},{},{}\n", 16 + day_s / 86400,
                            day_s % 86400 / 3600, day_s % 3600 / 60, day_s % 60,
                            static_cast<int64_t>((t - static_cast<double>(whole)) * 1e7),
                            1 + rng.UniformIndex(4000), 1 + rng.UniformIndex(600));
      }
      break;
    case TraceFormat::kAzureFunctions2021:
      text = "app,func,end_timestamp,duration\n";
      for (int64_t i = 0; i < rows; ++i) {
        t += rng.Exponential(20.0);
        text += fmt::format("{},{},{:.6f},{:.3f}\n", hex(64), hex(64), t + 1.0, rng.Uniform01());
      }
      break;
    case TraceFormat::kMooncake:
      for (int64_t i = 0; i < rows; ++i) {
        t += rng.Exponential(2.0);
        text += fmt::format(
            "{{\"timestamp\": {}, \"input_length\": {}, \"output_length\": {}, "
            "\"hash_ids\": [{}, {}, {}, {}]}}\n",
            static_cast<int64_t>(t * 1000.0), 1 + rng.UniformIndex(8000), 1 + rng.UniformIndex(500),
            i, i + 1, i + 2, i + 3);
      }
      break;
    case TraceFormat::kBurstGpt:
      text = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n";
      for (int64_t i = 0; i < rows; ++i) {
        t += rng.Exponential(1.0);
        const uint64_t req = 1 + rng.UniformIndex(2000), resp = 1 + rng.UniformIndex(500);
        text += fmt::format("{},{},{},{},{},{}\n", static_cast<int64_t>(t),
                            rng.Bernoulli(0.8) ? "ChatGPT" : "GPT-4", req, resp, req + resp,
                            rng.Bernoulli(0.5) ? "Conversation log" : "API log");
      }
      break;
    case TraceFormat::kAzureFunctions2019: {
      // `rows` function rows x 1440 minute columns; ~90% of cells are 0 as in the real trace.
      text = "HashOwner,HashApp,HashFunction,Trigger";
      for (int m = 1; m <= 1440; ++m) text += fmt::format(",{}", m);
      text += '\n';
      for (int64_t i = 0; i < rows; ++i) {
        text += fmt::format("{},{},{},http", hex(64), hex(64), hex(64));
        for (int m = 0; m < 1440; ++m) {
          text +=
              rng.Bernoulli(0.9) ? std::string(",0") : fmt::format(",{}", 1 + rng.UniformIndex(20));
        }
        text += '\n';
      }
      break;
    }
  }
  const std::string file = path.string();
  if (file.size() > 3 && file.substr(file.size() - 3) == ".gz") {
    gzFile gz = gzopen(file.c_str(), "wb6");
    gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
    gzclose(gz);
  } else {
    std::ofstream(file, std::ios::binary) << text;
  }
  return file;
}

int Main(int argc, char** argv) {
  bool quick = false;
  fs::path scratch = fs::temp_directory_path() / "bestserve_workloads_bench";
  fs::path shared = fs::path(BESTSERVE_SOURCE_DIR) / ".." / "shared";
  if (const char* env = std::getenv("BESTSERVE_SHARED_DIR")) shared = env;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      quick = true;
    } else if (arg == "--scratch" && i + 1 < argc) {
      scratch = argv[++i];
    } else if (arg == "--shared" && i + 1 < argc) {
      shared = argv[++i];
    } else {
      fmt::print(stderr, "usage: workloads_bench [--quick] [--scratch DIR] [--shared DIR]\n");
      return 2;
    }
  }
  fs::create_directories(scratch);
  fmt::print("workloads_bench: machine '{}', build {}, commit {}{}\n", bench::CpuModel(),
             BESTSERVE_BUILD_TYPE, bench::GitCommit(),
             quick ? ", QUICK (smoke sizes; figures meaningless)" : "");

  const TaskTable tasks = TaskTable::Parse(ConfigNode::LoadString(R"(
models: [m]
tasks:
  - {name: a, prompt_tokens: {kind: uniform, min: 64, max: 128}, output_tokens: {kind: uniform, min: 16, max: 48}, quality: [1]}
  - {name: b, prompt_tokens: {kind: uniform, min: 16, max: 32}, output_tokens: {kind: uniform, min: 16, max: 48}, quality: [1]}
  - {name: c, prompt_tokens: {kind: uniform, min: 32, max: 96}, output_tokens: {kind: uniform, min: 16, max: 48}, quality: [1]}
  - {name: d, prompt_tokens: {kind: uniform, min: 24, max: 64}, output_tokens: {kind: uniform, min: 16, max: 48}, quality: [1]}
)",
                                                                  "<bench tasks>"));

  const int64_t n = quick ? 20000 : 4000000;
  fmt::print("\ngeneration (requests with tasks and token lengths, {} each, uniform 4-task mix):\n",
             n);
  const std::vector<std::pair<std::string, std::string>> generators = {
      {"poisson", fmt::format("{{kind: poisson, rate_rps: 10, num_requests: {}}}", n)},
      {"unpredictable1", fmt::format("{{kind: unpredictable1, num_requests: {}}}", n)},
      {"unpredictable2", fmt::format("{{kind: unpredictable2, num_requests: {}}}", n)},
      {"mmpp (3-state CTMC)",
       fmt::format("{{kind: mmpp, num_requests: {}, states: [{{name: a, rate_rps: 1}}, {{name: b, "
                   "rate_rps: 8}}, {{name: c, rate_rps: 40}}], generator: [[-0.02, 0.015, 0.005], "
                   "[0.03, -0.05, 0.02], [0.1, 0.1, -0.2]]}}",
                   n)},
      {"maf1_like", fmt::format("{{kind: maf1_like, num_requests: {}}}", n)},
      {"maf2_like", fmt::format("{{kind: maf2_like, num_requests: {}}}", n)},
  };
  for (const auto& [name, yaml] : generators) {
    const auto generator = MakeWorkloadGenerator(ConfigNode::LoadString(yaml, name), "");
    size_t size = 0;
    const double seconds = BestSeconds([&] {
      size = generator->Generate(WorkloadContext{&tasks, 1}).size();
    });
    Report(name, static_cast<double>(size), "requests", seconds, kGenerationFloor);
  }

  fmt::print("\ntrace parsing (ReadTrace, one pass, no sort):\n");
  auto parse = [&](const std::string& label, const std::string& file, TraceFormat format,
                   int repeats) {
    int64_t rows = 0, records = 0;
    double checksum = 0.0;
    const double seconds = BestSeconds([&] {
      for (int r = 0; r < repeats; ++r) {
        const TraceReadSummary s =
            ReadTrace(file, format, {}, [&](const TraceRecord& rec) { checksum += rec.time_s; });
        rows = s.rows;
        records = s.records;
      }
    });
    if (format == TraceFormat::kAzureFunctions2019) {
      // A 2019 row is one function with 1440 minute cells; the per-row floor is not meaningful.
      Report(label + " (minute cells)", static_cast<double>(rows) * 1440 * repeats, "cells",
             seconds, kParseFloor);
      Report(label + " (spread invocations)", static_cast<double>(records) * repeats, "records",
             seconds, 0.0);
    } else {
      Report(label, static_cast<double>(rows) * repeats, "rows", seconds, kParseFloor);
    }
    if (checksum == -1.0) fmt::print("");  // keep the visitor's work observable
  };
  const fs::path llm = shared / "traces" / "AzureLLMInferenceTrace_conv.csv";
  if (fs::exists(llm)) {
    const int repeats = quick ? 1 : 20;
    parse(fmt::format("azure_llm: shared AzureLLMInferenceTrace_conv.csv x{}", repeats),
          llm.string(), TraceFormat::kAzureLlm, repeats);
  } else {
    fmt::print("  (shared Azure LLM trace not found at {}; skipped)\n", llm.string());
  }
  const int64_t rows = quick ? 5000 : 2000000;
  const int64_t function_rows = quick ? 20 : 2000;
  const std::vector<std::tuple<std::string, TraceFormat, std::string, int64_t>> synthetic = {
      {"azure_llm", TraceFormat::kAzureLlm, "llm.csv", rows},
      {"azure_llm (gzip)", TraceFormat::kAzureLlm, "llm.csv.gz", rows},
      {"azure_functions_2021", TraceFormat::kAzureFunctions2021, "f2021.csv", rows},
      {"mooncake", TraceFormat::kMooncake, "mooncake.jsonl", rows},
      {"burstgpt", TraceFormat::kBurstGpt, "burstgpt.csv", rows},
      {"azure_functions_2019", TraceFormat::kAzureFunctions2019, "f2019.csv", function_rows},
  };
  for (const auto& [label, format, file, count] : synthetic) {
    const std::string path = WriteSynthetic(scratch / file, format, count);
    parse(fmt::format("{}: synthetic {} rows", label, count), path, format, 1);
  }

  fmt::print("\ntrace replay (kind: trace: parse, window, sort, tasks, requests):\n");
  {
    const std::string path = (scratch / "llm.csv").string();
    const auto replay = MakeWorkloadGenerator(
        ConfigNode::LoadString(fmt::format("{{kind: trace, format: azure_llm, path: '{}'}}", path),
                               "replay"),
        "");
    size_t size = 0;
    const double seconds = BestSeconds([&] {
      size = replay->Generate(WorkloadContext{&tasks, 1}).size();
    });
    Report("azure_llm synthetic -> requests", static_cast<double>(size), "requests", seconds, 0.0);
  }
  std::error_code ec;
  fs::remove_all(scratch, ec);
  return 0;
}

}  // namespace
}  // namespace bestserve

int main(int argc, char** argv) { return bestserve::Main(argc, argv); }
