#include "sweep/shard.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>

#include "common/error.h"

namespace bestserve::sweep {
namespace {

std::optional<int64_t> ParseInt(const std::string& text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<int64_t> EnvInt(const EnvLookup& env, const std::string& name) {
  const auto text = env(name);
  if (!text || text->empty()) return std::nullopt;
  const auto value = ParseInt(*text);
  if (!value) ThrowConfigError("{}='{}': expected an integer", name, *text);
  return value;
}

}  // namespace

std::string Shard::ToString() const { return fmt::format("{}/{}", index, count); }

Shard ParseShard(const std::string& text, const std::string& source) {
  const auto slash = text.find('/');
  const auto k = slash == std::string::npos ? std::nullopt : ParseInt(text.substr(0, slash));
  const auto n = slash == std::string::npos ? std::nullopt : ParseInt(text.substr(slash + 1));
  if (!k || !n) ThrowConfigError("{} '{}': expected K/N, e.g. 0/4 (shards are numbered 0 to N-1)", source, text);
  if (*n < 1) ThrowConfigError("{} '{}': expected N >= 1 shards, got {}", source, text, *n);
  if (*k < 0 || *k >= *n) {
    ThrowConfigError("{} '{}': expected 0 <= K < N (shards are numbered 0 to {}), got K = {}", source, text,
                     *n - 1, *k);
  }
  return Shard{*k, *n};
}

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::optional<Shard> ShardFromSlurmEnv(const EnvLookup& env) {
  const auto id = EnvInt(env, "SLURM_ARRAY_TASK_ID");
  if (!id) return std::nullopt;
  const int64_t min = EnvInt(env, "SLURM_ARRAY_TASK_MIN").value_or(0);
  const int64_t step = EnvInt(env, "SLURM_ARRAY_TASK_STEP").value_or(1);
  const auto max = EnvInt(env, "SLURM_ARRAY_TASK_MAX");
  const auto count = EnvInt(env, "SLURM_ARRAY_TASK_COUNT");
  if (step < 1) ThrowConfigError("SLURM_ARRAY_TASK_STEP={}: expected a step >= 1", step);
  if (!count && !max) {
    ThrowConfigError("SLURM_ARRAY_TASK_ID={} is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX "
                     "is: cannot tell the number of shards; pass --shard K/N",
                     *id);
  }
  const int64_t n = count ? *count : (*max - min) / step + 1;
  if (count && max && (*max - min) / step + 1 != *count) {
    ThrowConfigError("Slurm array with holes (SLURM_ARRAY_TASK_MIN={}, MAX={}, STEP={}, COUNT={}): shards need a "
                     "contiguous range such as --array=0-{}; or pass --shard K/N",
                     min, *max, step, *count, *count - 1);
  }
  if ((*id - min) % step != 0 || *id < min) {
    ThrowConfigError("SLURM_ARRAY_TASK_ID={} is not on the array's range (MIN={}, STEP={})", *id, min, step);
  }
  const int64_t k = (*id - min) / step;
  if (n < 1 || k >= n) {
    ThrowConfigError("SLURM_ARRAY_TASK_ID={} gives shard {} of {}: out of range (MIN={}, STEP={})", *id, k, n, min,
                     step);
  }
  return Shard{k, n};
}

std::vector<int64_t> ShardCells(const Shard& shard, int64_t num_cells) {
  std::vector<int64_t> cells;
  for (int64_t i = shard.index; i < num_cells; i += shard.count) cells.push_back(i);
  return cells;
}

}  // namespace bestserve::sweep
