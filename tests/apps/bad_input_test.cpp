// The bad-input suite: one table row per bad input a user may give bestserve (configs, task
// tables, profiles, request CSVs, policy files, flags), each run as a real command line.
//
// Every row states the exit code (3 bad config or input, 2 usage; never 4, an internal error)
// and fragments the message must hold (the file, line or key, what was expected), and every
// row checks that nothing was written: the row's folder (its inputs, any earlier run folder,
// the output path) hashes the same before and after the command. docs/reliability.md states
// the limits the rows probe; a new parser adds its rows here.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <limits>
#include <stdexcept>
#include <vector>

#include "router/policy/policy_io.h"
#include "router/policy/weights_format.h"
#include "common/files.h"
#include "common/hash.h"
#include "tests/apps/cli_helpers.h"

namespace bestserve {
namespace {

namespace fs = std::filesystem;
using testing::ReadAll;
using testing::RunBestserve;

using testing::kScenario;

// A tiny training run (a few seconds); `hidden` sets the network's shape.
std::string TrainConfig(int hidden) {
  return fmt::format(
      "name: tiny\nseed: 7\n"
      "training_workload: {{kind: unpredictable2, num_requests: 200, min_rate_rps: 0.5, max_rate_rps: 40, "
      "segment_mean_requests: 50}}\n"
      "episode_requests: 200\n"
      "learner: {{iterations: 400, learning_starts: 100, batch_size: 16, hidden_sizes: [{}], "
      "checkpoint_every_iterations: 200, eval_every_iterations: 200, progress_every_iterations: 200, "
      "curve_every_iterations: 100}}\n"
      "validation: {{requests: 100, seeds: [11]}}\n",
      hidden);
}

const char* kCsvHeader = "id,arrival_s,task,prompt_tokens,output_tokens,deadline_s,nominal_rate_rps\n";

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const auto pos = text.find(from);
  if (pos == std::string::npos) throw std::runtime_error("test table: '" + from + "' not found");
  return text.replace(pos, from.size(), to);
}

std::string CsvScenario() {
  return Replace(kScenario, "workload: {kind: poisson, rate_rps: 3, duration_s: 20}",
                 "workload: {kind: csv, path: requests.csv}");
}

// `text` as UTF-16 little-endian with a byte-order mark (what some Windows editors save).
std::string Utf16(const std::string& text) {
  std::string out = "\xFF\xFE";
  for (char c : text) {
    out += c;
    out += '\0';
  }
  return out;
}

// Ten levels of ten aliases each: 10^10 values once expanded, a few hundred bytes on disk.
std::string AliasBomb() {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int level = 1; level < 10; ++level) {
    text += fmt::format("a{0}: &a{0} [", level);
    for (int i = 0; i < 10; ++i) text += fmt::format("{}*a{}", i > 0 ? ", " : "", level - 1);
    text += "]\n";
  }
  return text;
}

std::string PaperProfile() { return ReadAll(std::string(BESTSERVE_SOURCE_DIR) + "/profiles/paper/profile.yaml"); }

struct InputFile {
  std::string name;  // relative to the row's folder; a name ending in '/' is a folder
  std::string contents;
};

struct BadInputCase {
  const char* name;
  std::vector<InputFile> files;
  // Arguments after `bestserve`; {dir} is the row's folder, {art} the shared artifacts (a
  // finished tiny training run, damaged policy files).
  std::string args;
  int exit_code;
  std::vector<std::string> fragments;  // each must appear in the output
  // Artifacts copied into the row's folder first: {from (under {art}), to (under {dir})}.
  std::vector<std::pair<std::string, std::string>> copies = {};
};

// Shared artifacts, made once per test process: a finished tiny run with a 16-wide hidden
// layer and damaged copies of its policy.
const std::string& Artifacts() {
  static const std::string dir = [] {
    const fs::path art = fs::current_path() / "bad_input_artifacts";
    fs::remove_all(art);
    fs::create_directories(art);
    WriteFileAtomically((art / "train16.yaml").string(), TrainConfig(16));
    const auto trained = RunBestserve(fmt::format("train --config {0}/train16.yaml --out {0}/run16", art.string()));
    if (trained.exit_code != 0) throw std::runtime_error("tiny training failed:\n" + trained.output);
    // NaN weights under a valid checksum: decoded, damaged, encoded again.
    PolicyWeights weights = LoadPolicyWeights((art / "run16" / "final.bsw").string());
    weights.parameters[weights.parameters.size() / 2] = std::numeric_limits<float>::quiet_NaN();
    WriteFileAtomically((art / "nan.bsw").string(), EncodePolicyWeights(weights));
    // One flipped bit in the middle of the parameters.
    std::string bytes = ReadAll((art / "run16" / "final.bsw").string());
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x10);
    WriteFileAtomically((art / "flipped.bsw").string(), bytes);
    return art.string();
  }();
  return dir;
}

std::string Expand(std::string text, const std::string& dir) {
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"{dir}", dir}, {"{art}", Artifacts()}}) {
    for (size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + value.size())) {
      text.replace(pos, key.size(), value);
    }
  }
  return text;
}

// FNV-1a over every path and file's bytes under `dir`, in sorted order.
uint64_t HashTree(const fs::path& dir) {
  std::vector<fs::path> paths;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end());
  uint64_t hash = kFnv1a64Basis;
  for (const auto& path : paths) {
    hash = Fnv1a64(path.lexically_relative(dir).generic_string() + "\n", hash);
    if (fs::is_regular_file(path)) hash = Fnv1a64(ReadAll(path.string()), hash);
  }
  return hash;
}

// vLLM's benchmark_serving.py --save-result JSON, three requests (tests/scenario/data).
std::string VllmJson() {
  return ReadAll(std::string(BESTSERVE_SOURCE_DIR) + "/tests/scenario/data/vllm_benchmark_small.json");
}

std::vector<BadInputCase> Cases() {
  const std::string simulate = "simulate --config {dir}/s.yaml --out {dir}/out";
  const std::string validate_vllm = "validate --config " + std::string(BESTSERVE_SOURCE_DIR) +
                                    "/experiments/fidelity/opt13b_a100_vllm.yaml --format vllm-json "
                                    "--measured {dir}/b.json --out {dir}/out";
  const std::string csv = "simulate --config {dir}/s.yaml --out {dir}/out";
  std::string long_value = "notes: |\n";
  for (int i = 0; i < 1000; ++i) long_value += "  " + std::string(98, 'x') + "\n";
  return {
      // Internal errors, once: numbers too large to simulate, YAML that yaml-cpp parses but
      // no config means, --set through a single value, --out at a file.
      {"a GPU count of 1e11", {{"s.yaml", Replace(kScenario, "count: 2", "count: 100000000000")}}, simulate, 3,
       {"s.yaml:7:", "cluster.gpu_groups[0].count", "expected an integer in [1, 4096]"}},
      {"rate_rps 1e308", {{"s.yaml", Replace(kScenario, "rate_rps: 3", "rate_rps: 1e308")}}, simulate, 3,
       {"s.yaml:13:", "at 'workload'", "requests expected; one run holds at most 10000000"}},
      {"duration_s 1e15", {{"s.yaml", Replace(kScenario, "duration_s: 20", "duration_s: 1e15")}}, simulate, 3,
       {"s.yaml:13:", "requests expected; one run holds at most 10000000"}},
      {"--duration 1e12", {{"s.yaml", kScenario}}, simulate + " --duration 1e12", 3,
       {"--duration: expected a duration > 0 s, got 1000000000000 (at most 1e+08 s)"}},
      {"a list used as a key", {{"s.yaml", std::string(kScenario) + "? [a, b]\n: 1\n"}}, simulate, 3,
       {"s.yaml:15:3", "a key must be a plain name, got a list"}},
      {"a map used as a key", {{"s.yaml", std::string(kScenario) + "? {a: 1}\n: 1\n"}}, simulate, 3,
       {"s.yaml:15:3", "a key must be a plain name, got a map"}},
      {"--set into a single value (seed)", {{"s.yaml", kScenario}}, simulate + " --set seed.x=1", 3,
       {"--set seed.x: 'seed' holds a single value, not a map of settings"}},
      {"--set into a single value (router)", {{"s.yaml", kScenario}}, simulate + " --set router.name=greedy", 3,
       {"--set router.name: 'router' holds a single value"}},
      {"train --out at an existing file", {{"t.yaml", TrainConfig(16)}, {"taken", "a file"}},
       "train --config {dir}/t.yaml --out {dir}/taken", 3, {"--out {dir}/taken: exists and is not a folder"}},

      // Bad input once silently accepted.
      {"an alias bomb", {{"s.yaml", AliasBomb() + kScenario}}, simulate, 3,
       {"s.yaml:", "more than 1048576 values once aliases (*name) are expanded"}},
      {"a duplicate key", {{"s.yaml", Replace(kScenario, "seed: 3\n", "seed: 3\nseed: 4\n")}}, simulate, 3,
       {"s.yaml:3:1", "duplicate key 'seed'"}},
      {"a UTF-16 file", {{"s.yaml", Utf16(kScenario)}}, simulate, 3, {"s.yaml", "UTF-16 or UTF-32", "UTF-8"}},
      {"UTF-16 without a byte-order mark", {{"s.yaml", Utf16(kScenario).substr(2)}}, simulate, 3,
       {"s.yaml:1:2", "NUL byte"}},
      {"a 20 MB value", {{"s.yaml", std::string(kScenario) + "notes: " + std::string(20 << 20, 'x') + "\n"}},
       simulate, 3, {"s.yaml: 2097", "bytes; a YAML file may hold at most 4194304 bytes"}},
      {"a 100 KB line", {{"s.yaml", std::string(kScenario) + "notes: " + std::string(100 << 10, 'x') + "\n"}},
       simulate, 3, {"s.yaml:15: line of 102407 bytes; a line may hold at most 65536 bytes"}},
      {"a 100 KB value over many lines", {{"s.yaml", std::string(kScenario) + long_value}}, simulate, 3,
       {"s.yaml:15:", "a value of 99000 bytes; a value may hold at most 65536 bytes"}},
      {"a profile whose decode step drops to 0 ms",
       {{"s.yaml", Replace(kScenario, "profile: paper", "profile: p.yaml")},
        {"p.yaml", Replace(PaperProfile(), "8.913]", "0]")}},
       simulate, 3, {"p.yaml:", "decode_step_ms.values[0][5]", "expected a latency > 0 ms, got 0"}},
      {"repeated request ids",
       {{"s.yaml", CsvScenario()}, {"requests.csv", std::string(kCsvHeader) + "0,1,copa,10,10,,\n0,2,copa,10,10,,\n"}},
       csv, 3, {"requests.csv:3: column 'id'", "request id 0 repeats (first on line 2)"}},
      {"NaN weights with a valid checksum", {{"s.yaml", kScenario}},
       "evaluate --config {dir}/s.yaml --routers greedy --policy {art}/nan.bsw --out {dir}/out", 3,
       {"nan.bsw", "is not a finite number"}},
      // An exported router.bsp given where training weights are expected is accepted on purpose
      // (docs/reliability.md): it is the same file format with the same network.
      {"--routers with an empty entry", {{"s.yaml", kScenario}},
       "evaluate --config {dir}/s.yaml --routers greedy,,random --out {dir}/out", 2,
       {"--routers", "entry 2 of the list is empty"}},
      {"--resume with --init-from", {{"t.yaml", TrainConfig(16)}},
       "train --config {dir}/t.yaml --out {dir}/run --resume --init-from {art}/run16/final.bsw", 2,
       {"--resume", "excludes", "--init-from"}},
      {"--rate 1e-300 (no requests)", {{"s.yaml", kScenario}}, simulate + " --rate 1e-300", 3,
       {"s.yaml: the workload", "produced no requests"}},
      {"--set deadline.reward=null", {{"s.yaml", kScenario}}, simulate + " --set deadline.reward=null", 3,
       {"--set deadline.reward=null: expected a value"}},

      // Partial writes: a refused training run leaves its folder as it was.
      {"--resume with a checkpoint of another network", {{"t.yaml", TrainConfig(8)}},
       "train --config {dir}/t.yaml --out {dir}/run --resume", 3, {"checkpoint"}, {{"run16", "run"}}},
      {"--init-from a policy of another network", {{"t.yaml", TrainConfig(8)}},
       "train --config {dir}/t.yaml --out {dir}/run --init-from {art}/run16/final.bsw", 3,
       {"final.bsw", "the policy's network is"}},
      {"--init-from a bit-flipped policy", {{"t.yaml", TrainConfig(16)}},
       "train --config {dir}/t.yaml --out {dir}/run --init-from {art}/flipped.bsw", 3, {"flipped.bsw", "checksum"}},
      {"train into a finished run folder without --resume", {{"t.yaml", TrainConfig(16)}},
       "train --config {dir}/t.yaml --out {dir}/run", 3,
       {"--out {dir}/run: already holds a training run (run.json)", "--resume"}, {{"run16", "run"}}},

      // Messages once vague.
      {"--seed -1", {{"s.yaml", kScenario}}, simulate + " --seed -1", 2,
       {"--seed", "expected a seed, an integer in [0, 9223372036854775807], got '-1'"}},
      {"--seed 2^64-1", {{"s.yaml", kScenario}}, simulate + " --seed 18446744073709551615", 2,
       {"--seed", "got '18446744073709551615'"}},
      {"--rate inf", {{"s.yaml", kScenario}}, simulate + " --rate inf", 3, {"--rate: expected a rate > 0", "got inf"}},
      {"-j 0", {}, "sweep run " + std::string(BESTSERVE_SOURCE_DIR) + "/experiments/sweeps/figure2.yaml -j 0 --out {dir}/o",
       2, {"expected a number of worker threads in [1, 4096], got '0'"}},
      {"-j -3", {}, "sweep run " + std::string(BESTSERVE_SOURCE_DIR) + "/experiments/sweeps/figure2.yaml -j -3 --out {dir}/o",
       2, {"expected a number of worker threads in [1, 4096], got '-3'"}},
      {"vLLM benchmark JSON without itls", {{"b.json", Replace(VllmJson(), "\"itls\"", "\"itl\"")}},
       validate_vllm + " --arrivals poisson:0", 3, {"b.json: missing 'itls'", "--save-result"}},
      {"vLLM benchmark JSON: a failed request", {{"b.json", Replace(Replace(VllmJson(), "[4, 1, 2]", "[4, 0, 2]"), "[\"\", \"\", \"\"]", "[\"\", \"timeout\", \"\"]")}},
       validate_vllm + " --arrivals poisson:0", 3, {"b.json: record 1: output_lens[1] is 0", "the request failed: 'timeout'"}},
      {"vLLM benchmark JSON: arrivals of another run", {{"b.json", VllmJson()}, {"a.txt", "0\n0.5\n"}},
       validate_vllm + " --arrivals {dir}/a.txt", 3, {"a.txt has 2 arrival times but", "b.json has 3 requests"}},
      {"vLLM benchmark JSON: no arrivals", {{"b.json", VllmJson()}}, validate_vllm, 3,
       {"b.json: vLLM's benchmark JSON has no arrival times", "--arrivals poisson:SEED"}},
      {"vLLM benchmark JSON at rate inf", {{"b.json", Replace(VllmJson(), "\"request_rate\": 3.0", "\"request_rate\": Infinity")}},
       validate_vllm + " --arrivals poisson:0", 3, {"b.json: 'request_rate' is 'Infinity'", "give --arrivals FILE"}},
      {"a folder as task table", {{"s.yaml", Replace(kScenario, "profiles/tasks/opt_zero_shot.yaml", "tasks")}, {"tasks/", ""}},
       simulate, 3, {"tasks: is a directory; expected a YAML file"}},
      {"a 70 MB single-line CSV", {{"s.yaml", CsvScenario()}, {"requests.csv", std::string(70 << 20, '1')}}, csv, 3,
       {"requests.csv:1: line longer than 4096 bytes; is this a text request CSV?"}},
      {"a 10^14-token prompt",
       {{"s.yaml", CsvScenario()}, {"requests.csv", std::string(kCsvHeader) + "0,1,copa,100000000000000,10,,\n"}}, csv, 3,
       {"requests.csv:2: column 'prompt_tokens'", "expected a token count in [1, 1073741824], got 100000000000000"}},
      {"an unknown subcommand", {}, "frobnicate --help", 2,
       {"unknown subcommand 'frobnicate'", "simulate, train, evaluate, export, reproduce, workload, sweep, profile"}},
  };
}

}  // namespace

TEST_CASE("every bad input exits 3 (or 2 for usage) with a located message and writes nothing",
          "[apps][errors][bad_input]") {
  static const std::vector<BadInputCase> cases = Cases();
  for (const BadInputCase& c : cases) {
    SECTION(c.name) {
      testing::ScratchDir scratch("bad");
      const fs::path dir = fs::path(scratch.Path("x")).parent_path();
      for (const auto& [from, to] : c.copies) {
        fs::copy(fs::path(Artifacts()) / from, dir / to, fs::copy_options::recursive);
      }
      for (const InputFile& file : c.files) {
        if (file.name.ends_with('/')) {
          fs::create_directories(dir / file.name);
        } else {
          scratch.Write(file.name, file.contents);
        }
      }
      const uint64_t before = HashTree(dir);
      const auto result = RunBestserve(Expand(c.args, dir.string()));
      INFO(c.name << "\n" << Expand(c.args, dir.string()) << "\n" << result.output.substr(0, 4000));
      CHECK(result.exit_code == c.exit_code);
      for (const auto& fragment : c.fragments) CHECK_THAT(result.output, Catch::Contains(Expand(fragment, dir.string())));
      CHECK_THAT(result.output, !Catch::Contains("internal error"));
      CHECK(HashTree(dir) == before);
    }
  }
}

TEST_CASE("a subcommand's --help prints that subcommand's options", "[apps][errors][bad_input]") {
  const auto help = RunBestserve("simulate --help");
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.output, Catch::Contains("--router") && Catch::Contains("--set"));
  const auto sweep_help = RunBestserve("sweep run --help");
  CHECK(sweep_help.exit_code == 0);
  CHECK_THAT(sweep_help.output, Catch::Contains("--shard"));
}

}  // namespace bestserve
