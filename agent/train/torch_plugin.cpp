#include "agent/train/torch_plugin.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "common/error.h"

namespace bestserve {
namespace fs = std::filesystem;

std::vector<std::string> TorchPluginCandidates() {
  if (const char* forced = std::getenv("BESTSERVE_TORCH_PLUGIN"); forced != nullptr && *forced != '\0') {
    return {forced};
  }
  std::vector<std::string> candidates;
  std::error_code ec;
  const fs::path executable = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = executable.parent_path();
    candidates.push_back((dir / kTorchPluginFileName).string());
    candidates.push_back((dir / ".." / "lib" / "bestserve" / kTorchPluginFileName).lexically_normal().string());
  }
#ifdef BESTSERVE_TORCH_PLUGIN_BUILD_PATH
  candidates.emplace_back(BESTSERVE_TORCH_PLUGIN_BUILD_PATH);
#endif
  return candidates;
}

namespace {

// Loads the first usable candidate; on failure returns nullptr and says why for each path.
const TorchPlugin* TryLoad(std::string* problems) {
  for (const std::string& path : TorchPluginCandidates()) {
    if (!fs::exists(path)) {
      *problems += fmt::format("\n  {}: no such file", path);
      continue;
    }
    // Never closed: learners and torch's global state live until exit.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      *problems += fmt::format("\n  {}: does not load: {}", path, why != nullptr ? why : "unknown error");
      continue;
    }
    using EntryPoint = const TorchPlugin* (*)();
    auto entry = reinterpret_cast<EntryPoint>(dlsym(handle, kTorchPluginEntryPoint));
    if (entry == nullptr) {
      *problems += fmt::format("\n  {}: has no {}()", path, kTorchPluginEntryPoint);
      continue;
    }
    const TorchPlugin* plugin = entry();
    if (plugin == nullptr || plugin->abi_version != kTorchPluginAbiVersion) {
      *problems += fmt::format("\n  {}: plugin ABI version {}, this bestserve needs {} (rebuild both together)",
                               path, plugin == nullptr ? 0 : plugin->abi_version, kTorchPluginAbiVersion);
      continue;
    }
    return plugin;
  }
  return nullptr;
}

}  // namespace

const TorchPlugin& LoadTorchPlugin(const std::string& feature) {
  static std::mutex mutex;
  static const TorchPlugin* loaded = nullptr;
  const std::lock_guard<std::mutex> lock(mutex);
  if (loaded != nullptr) return *loaded;
  std::string problems;
  loaded = TryLoad(&problems);
  if (loaded == nullptr) {
#if BESTSERVE_AGENT_HAS_TORCH
    const char* hint = "it is built with bestserve (target bestserve_torch); or set BESTSERVE_TORCH_PLUGIN";
#else
    const char* hint = "this bestserve was configured with BESTSERVE_WITH_TORCH=OFF, so none was built";
#endif
    ThrowConfigError("{} needs the libtorch plugin {}, and none could be loaded ({}):{}", feature,
                     kTorchPluginFileName, hint, problems);
  }
  return *loaded;
}

}  // namespace bestserve
