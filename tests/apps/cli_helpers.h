// Running the bestserve executable from tests, and scratch folders for its files.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace bestserve::testing {

// A small valid scenario; the bad-input cases of cli_test and bad_input_test each change one
// thing in it.
inline constexpr const char* kScenario = R"(name: tiny
seed: 3
tasks: profiles/tasks/opt_zero_shot.yaml
profile: paper
cluster:
  gpu_groups:
    - count: 2
      instances:
        - {model: opt-125m, memory_fraction: 0.05}
        - {model: opt-1.3b, memory_fraction: 0.20}
        - {model: opt-6.7b, memory_fraction: 0.75}
deadline: {ms_per_token: 40, reward: hard}
workload: {kind: poisson, rate_rps: 3, duration_s: 20}
router: greedy
)";

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command; returns its exit code and its stdout and stderr together.
inline CommandResult RunCommand(const std::string& shell_command) {
  const std::string command = shell_command + " 2>&1";
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

#ifdef BESTSERVE_BINARY
inline CommandResult RunBestserve(const std::string& args) {
  return RunCommand(std::string(BESTSERVE_BINARY) + " " + args);
}

// Starts the bestserve binary with `args` (no shell), output to /dev/null; returns its pid.
inline pid_t SpawnBestserve(const std::vector<std::string>& args) {
  std::vector<std::string> argv_strings = {BESTSERVE_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, BESTSERVE_BINARY, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// Starts bestserve with `args`, waits until `ready()` holds (polling every 2 ms) or the process
// ends, and kills it with SIGKILL: a crash at a chosen point. Returns true when the kill landed
// (the process was still running), false when it had already finished.
inline bool RunBestserveAndKillWhen(const std::vector<std::string>& args, const std::function<bool()>& ready) {
  const pid_t pid = SpawnBestserve(args);
  if (pid <= 0) return false;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (!ready() && std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return WIFSIGNALED(status);
}
#endif

// A fresh, empty folder under the test's working directory, removed at destruction.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(std::filesystem::current_path() / ("scratch_" + name)) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string Write(const std::string& file, const std::string& contents) const {
    std::ofstream(path_ / file, std::ios::binary) << contents;
    return (path_ / file).string();
  }
  std::string Path(const std::string& file) const { return (path_ / file).string(); }
  // Number of entries in the folder (to check that a failed command left nothing behind).
  size_t Entries() const {
    size_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(path_)) ++n;
    return n;
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

 private:
  std::filesystem::path path_;
};

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace bestserve::testing
