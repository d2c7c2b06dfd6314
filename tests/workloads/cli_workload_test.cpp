// `bestserve workload ...` run as a user would: every example config generates, output bytes
// depend only on config and seed, stats reads what generate wrote, bad input exits with code 3.
#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  std::string output;
};

Result Run(const std::string& args) {
  const std::string command = std::string(BESTSERVE_BINARY) + " " + args + " 2>&1";
  Result result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path RepoDir() {
  const char* env = std::getenv("BESTSERVE_DATA_DIR");
  return env != nullptr ? fs::path(env) : fs::current_path();
}

bool HaveSharedTraces() {
  const char* env = std::getenv("BESTSERVE_SHARED_DIR");
  return env != nullptr && fs::exists(fs::path(env) / "traces" / "AzureLLMInferenceTrace_conv.csv");
}

struct Scratch {
  fs::path dir = fs::current_path() / "scratch_workloads_cli";
  Scratch() {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

TEST_CASE("Every example workload config generates a request CSV", "[workloads][cli]") {
  Scratch scratch;
  const fs::path examples = RepoDir() / "experiments" / "workloads";
  REQUIRE(fs::exists(examples));
  int count = 0;
  for (const auto& entry : fs::directory_iterator(examples)) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string text = Slurp(entry.path());
    if (text.find("../shared/") != std::string::npos && !HaveSharedTraces()) {
      WARN("skipped " << entry.path().filename().string() << ": no shared traces");
      continue;
    }
    INFO(entry.path().string());
    const fs::path out = scratch.dir / (entry.path().stem().string() + ".csv");
    const Result r =
        Run("workload generate --config " + entry.path().string() + " --out " + out.string());
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(fs::exists(out));
    CHECK(r.output.find("wrote ") != std::string::npos);
    ++count;
  }
  CHECK(count >= 10);
}

TEST_CASE("generate is byte-deterministic per seed, and stats reads what it wrote",
          "[workloads][cli]") {
  Scratch scratch;
  const std::string config =
      (RepoDir() / "experiments" / "workloads" / "unpredictable1.yaml").string();
  const fs::path a = scratch.dir / "a.csv", b = scratch.dir / "b.csv", c = scratch.dir / "c.csv";
  REQUIRE(Run("workload generate --config " + config + " --out " + a.string()).exit_code == 0);
  REQUIRE(Run("workload generate --config " + config + " --out " + b.string()).exit_code == 0);
  REQUIRE(Run("workload generate --config " + config + " --out " + c.string() + " --seed 2")
              .exit_code == 0);
  CHECK(Slurp(a) == Slurp(b));
  CHECK(Slurp(a) != Slurp(c));
  const Result stats = Run("workload stats " + a.string());
  CHECK(stats.exit_code == 0);
  CHECK(stats.output.find("requests:              10000") != std::string::npos);
  CHECK(stats.output.find("task hellaswag") != std::string::npos);
  const Result json = Run("workload stats --json " + a.string());
  CHECK(json.output.find("\"requests\": 10000") != std::string::npos);
  // The written CSV replays through kind: csv to the same bytes.
  const fs::path replay_config = scratch.dir / "replay.yaml";
  std::ofstream(replay_config) << "workload: {kind: csv, path: a.csv}\n";
  const fs::path d = scratch.dir / "d.csv";
  REQUIRE(Run("workload generate --config " + replay_config.string() + " --out " + d.string())
              .exit_code == 0);
  CHECK(Slurp(a) == Slurp(d));
}

TEST_CASE("Bad configs and files exit with code 3 and say where", "[workloads][cli]") {
  Scratch scratch;
  const fs::path config = scratch.dir / "bad.yaml";
  std::ofstream(config) << "seed: 1\nworkload:\n  kind: unpredictable2\n  rate_choice: zigzag\n";
  const Result r = Run("workload generate --config " + config.string() + " --out " +
                       (scratch.dir / "x.csv").string());
  CHECK(r.exit_code == 3);
  CHECK(r.output.find("bad.yaml:4:16") != std::string::npos);
  CHECK(r.output.find("unknown rate_choice 'zigzag'") != std::string::npos);
  CHECK_FALSE(fs::exists(scratch.dir / "x.csv"));
  const fs::path trace = scratch.dir / "t.csv";
  std::ofstream(trace) << "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,x,4\n";
  const Result s = Run("workload stats " + trace.string());
  CHECK(s.exit_code == 3);
  CHECK(s.output.find("t.csv:2:24: column 'ContextTokens'") != std::string::npos);
  CHECK(Run("workload fit maf3 --trace " + trace.string()).exit_code == 3);
  CHECK(Run("workload kinds").output.find("maf2_like") != std::string::npos);
}

TEST_CASE("stats --plot draws a PNG with the plotting script", "[workloads][cli]") {
  if (!fs::exists("/usr/bin/python3") ||
      std::system("/usr/bin/python3 -c 'import matplotlib' >/dev/null 2>&1") != 0) {
    WARN("skipped: /usr/bin/python3 with matplotlib is not available");
    return;
  }
  Scratch scratch;
  const std::string config = (RepoDir() / "experiments" / "workloads" / "maf2_like.yaml").string();
  const fs::path csv = scratch.dir / "w.csv", png = scratch.dir / "w.png";
  REQUIRE(Run("workload generate --config " + config + " --out " + csv.string()).exit_code == 0);
  const Result r = Run("workload stats " + csv.string() + " --plot " + png.string());
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(fs::file_size(png) > 1000);
}

}  // namespace
