// Shards: disjoint, balanced slices of a grid's cells, for Slurm array tasks or several hosts.
//
// Shard K of N (0 <= K < N) holds the cells whose index i (product order, sweep/grid.h) has
// i mod N == K: a round-robin deal. Slices differ in size by at most one cell, and because the
// outer axes vary slowest (usually the arrival rate, which sets a cell's cost), dealing
// round-robin also spreads cheap and costly cells evenly.
//
// Inside a Slurm array job (SLURM_ARRAY_TASK_ID set) the shard comes from the environment:
//   K = (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP  (MIN 0, STEP 1 if unset)
//   N = SLURM_ARRAY_TASK_COUNT, else (MAX - MIN) / STEP + 1
// so `--array=0-3`, `--array=1-4` and `--array=0-6:2` all give shards 0..3 of 4. An array with
// holes (`--array=1,2,7`) cannot be mapped and is refused: use a contiguous range.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace bestserve::sweep {

struct Shard {
  int64_t index = 0;  // K, 0-based
  int64_t count = 1;  // N
  bool Holds(int64_t cell_index) const { return cell_index % count == index; }
  std::string ToString() const;  // "K/N"
};

// Parses "K/N" (0 <= K < N); throws ConfigError quoting `source` and the text otherwise.
Shard ParseShard(const std::string& text, const std::string& source = "--shard");

// The environment lookup, injected so that tests need not touch the process environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment.
std::optional<std::string> ProcessEnv(const std::string& name);

// The shard of this Slurm array task, or nullopt outside an array job. Throws ConfigError on
// inconsistent or non-numeric variables.
std::optional<Shard> ShardFromSlurmEnv(const EnvLookup& env);

// The cell indices of `shard` among `num_cells` cells, ascending.
std::vector<int64_t> ShardCells(const Shard& shard, int64_t num_cells);

}  // namespace bestserve::sweep
