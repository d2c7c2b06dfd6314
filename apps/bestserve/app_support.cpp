#include "apps/bestserve/app_support.h"

#include <sched.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <optional>
#include <thread>

#include "common/error.h"
#include "sweep/shard.h"

namespace bestserve::app {

int32_t DefaultWorkers() {
  if (auto slurm = sweep::ProcessEnv("SLURM_CPUS_PER_TASK")) {
    const int value = std::atoi(slurm->c_str());
    if (value > 0) return value;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

namespace {

// Parses the whole of `text` as T; nullopt when any of it is not a number.
template <typename T>
std::optional<T> ParseWhole(const std::string& text) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

}  // namespace

CLI::Validator SeedFlag() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
        const auto value = ParseWhole<int64_t>(text);
        if (!value || *value < 0) {
          return fmt::format("expected a seed, an integer in [0, {}], got '{}'", kMax, text);
        }
        return "";
      },
      "SEED");
}

CLI::Validator WorkerCountFlag() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const auto value = ParseWhole<int64_t>(text);
        if (!value || *value < 1 || *value > 4096) {
          return fmt::format("expected a number of worker threads in [1, 4096], got '{}'", text);
        }
        return "";
      },
      "N");
}

ScenarioOverrides ScenarioFlags::Overrides() const {
ScenarioOverrides o;
o.seed = seed;
o.rate_rps = rate_rps;
o.duration_s = duration_s;
for (const auto& item : set_values) {
  const auto eq = item.find('=');
  if (eq == std::string::npos || eq == 0) {
    ThrowConfigError("--set '{}': expected KEY.PATH=VALUE", item);
  }
  o.set_values.emplace_back(item.substr(0, eq), item.substr(eq + 1));
}
return o;
}

std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace bestserve::app
