// libtorch lives in a plugin (agent/train/torch_plugin.h): the executable links none of it, the
// torch learner backend and TorchScript export still work through the plugin, and a missing or
// broken plugin is a clear config error (exit 3) that writes nothing.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <filesystem>

#include "tests/apps/cli_helpers.h"

namespace bestserve {
namespace {

using testing::ReadAll;
using testing::RunBestserve;
using testing::RunCommand;
using testing::ScratchDir;

// Shared libraries that come only with libtorch (and its OpenMP, protobuf and MKL-DNN parts).
const char* const kTorchLibraries[] = {"libtorch", "libc10", "libgomp", "libprotobuf", "libdnnl", "libsleef"};

std::string TinyTrainConfig(const std::string& backend) {
  return fmt::format(R"(name: tiny
seed: 5
scenario: {}/experiments/scenarios/paper_4gpu.yaml
training_workload: {{kind: poisson, rate_rps: 6, num_requests: 200}}
episode_requests: 200
learner: {{backend: {}, iterations: 300, learning_starts: 100, batch_size: 32, hidden_sizes: [16], checkpoint_every_iterations: 0, eval_every_iterations: 0}}
validation: {{requests: 100, seeds: [1]}}
)",
                     BESTSERVE_SOURCE_DIR, backend);
}

// Runs bestserve with the plugin search forced to `plugin`.
testing::CommandResult RunWithPlugin(const std::string& plugin, const std::string& args) {
  return RunCommand(fmt::format("env BESTSERVE_TORCH_PLUGIN='{}' {} {}", plugin, BESTSERVE_BINARY, args));
}

TEST_CASE("the bestserve executable links neither libtorch nor its dependencies", "[apps][torch]") {
  // readelf: the libraries the executable itself names; ldd: everything the loader would map.
  const auto needed = RunCommand(fmt::format("readelf -d {}", BESTSERVE_BINARY));
  REQUIRE(needed.exit_code == 0);
  REQUIRE(needed.output.find("(NEEDED)") != std::string::npos);
  CHECK(needed.output.find("libstdc++") != std::string::npos);  // the listing is the real one
  const auto loaded = RunCommand(fmt::format("ldd {}", BESTSERVE_BINARY));
  REQUIRE(loaded.exit_code == 0);
  CHECK(loaded.output.find("libfmt") != std::string::npos);
  for (const char* library : kTorchLibraries) {
    INFO(library);
    CHECK(needed.output.find(library) == std::string::npos);
    CHECK(loaded.output.find(library) == std::string::npos);
  }
}

TEST_CASE("without the plugin, torch features fail with a clear error and write nothing; the rest works",
          "[apps][torch][errors]") {
  ScratchDir dir("torch_plugin_missing");
  const std::string missing = dir.Path("nowhere/libbestserve_torch.so");
  const std::string torch_config = dir.Write("torch.yaml", TinyTrainConfig("torch"));
  const std::string fast_config = dir.Write("fast.yaml", TinyTrainConfig("fast"));

  const auto train = RunWithPlugin(missing, fmt::format("train --config {} --out {}", torch_config,
                                                        dir.Path("torch_run")));
  CHECK(train.exit_code == 3);
  CHECK(train.output.find("learner backend 'torch'") != std::string::npos);
  CHECK(train.output.find(missing + ": no such file") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.Path("torch_run")));

  // The fast backend never loads the plugin.
  const auto fast = RunWithPlugin(missing, fmt::format("train --config {} --out {}", fast_config,
                                                       dir.Path("fast_run")));
  REQUIRE(fast.exit_code == 0);
  const auto exported = RunWithPlugin(
      missing, fmt::format("export --policy {} --out {} --torchscript {}", dir.Path("fast_run"),
                           dir.Path("router.bsp"), dir.Path("router.pt")));
  CHECK(exported.exit_code == 3);
  CHECK(exported.output.find("export --torchscript needs the libtorch plugin") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.Path("router.bsp")));
  CHECK_FALSE(std::filesystem::exists(dir.Path("router.pt")));

  // A file that is not a loadable library is named with the loader's reason.
  const std::string broken = dir.Write("libbestserve_torch.so", "not a shared library\n");
  const auto bad = RunWithPlugin(broken, fmt::format("train --config {} --out {}", torch_config,
                                                     dir.Path("torch_run")));
  CHECK(bad.exit_code == 3);
  CHECK(bad.output.find(broken + ": does not load") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.Path("torch_run")));
}

#if BESTSERVE_TEST_HAS_TORCH
TEST_CASE("the torch backend trains and TorchScript exports through the plugin", "[apps][torch]") {
  ScratchDir dir("torch_plugin");
  const std::string config = dir.Write("torch.yaml", TinyTrainConfig("torch"));
  // Found next to the executable, the default place.
  const auto train = RunBestserve(fmt::format("train --config {} --out {}", config, dir.Path("run")));
  INFO(train.output);
  REQUIRE(train.exit_code == 0);
  CHECK(train.output.find("backend torch") != std::string::npos);
  REQUIRE(std::filesystem::exists(dir.Path("run/final.bsw")));

  const auto exported = RunBestserve(fmt::format("export --policy {} --out {} --torchscript {}",
                                                 dir.Path("run"), dir.Path("router.bsp"),
                                                 dir.Path("router.pt")));
  INFO(exported.output);
  REQUIRE(exported.exit_code == 0);
  CHECK(exported.output.find("TorchScript module: " + dir.Path("router.pt")) != std::string::npos);
  // A TorchScript archive is a zip holding the code, the tensors and our metadata file.
  const std::string archive = ReadAll(dir.Path("router.pt"));
  REQUIRE(archive.size() > 4);
  CHECK(archive.substr(0, 2) == "PK");
  CHECK(archive.find("bestserve_metadata.json") != std::string::npos);
  CHECK(archive.find("observation.encoding") != std::string::npos);
  // The module's code, and the four tensors of the 8-16-3 network (two weights, two biases).
  CHECK(archive.find("code/__torch__.py") != std::string::npos);
  CHECK(archive.find("data/3") != std::string::npos);
  CHECK(archive.find("data/4") == std::string::npos);
}
#endif

}  // namespace
}  // namespace bestserve
