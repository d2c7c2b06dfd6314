// Trained policies for a reproduction, cached by a hash of everything that decides them.
//
// Cache key (16 hex digits, FNV-1a 64): the cache format, the version of what training computes
// (kTrainingResultsVersion, agent/train/trainer.h: bumped with any change that alters trained
// bits), the training config as resolved (with quick-mode overrides applied), the resolved
// scenario it trains on, the bytes of that scenario's task table and profile set, and the key of
// the policy it is fine-tuned from (so a new hard policy retrains the soft one). Not in the key:
// the rest of the bestserve source (while developing a trainer change, before bumping the
// version, pass `--retrain`), and data files a training or validation workload reads (trace
// replays), which enter by path only.
//
// Cache layout: CACHE/<policy>-<key>/ is a `bestserve train` run folder (config.yaml,
// scenario.yaml, curve.csv, checkpoint.bsc, best.bsw, final.bsw, run.json) plus cache.json,
// written last: a folder without cache.json is an interrupted training and is resumed from its
// checkpoint, ending with the same weights as an uninterrupted run.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "reproduce/plan.h"

namespace bestserve::reproduce {

struct TrainedPolicy {
  std::string name;
  std::string key;       // 16 hex digits
  std::string dir;       // the run folder in the cache
  std::string file;      // the policy used: best.bsw (best validated), else final.bsw
  int64_t iterations = 0;
  double validation_score = 0.0;  // best validation mean reward (NaN when never validated)
  bool reused = false;            // found complete in the cache
  double wall_seconds = 0.0;      // training time of this run (0 when reused)
};

struct PolicyOptions {
  std::string cache_dir;
  bool quick = false;
  bool retrain = false;  // ignore cache entries: empty each policy's folder and train again
  int32_t workers = 1;   // policies trained at once (independent ones only)
  std::function<double()> clock;
  // Training progress: (policy name, iteration, total iterations); from worker threads, serialized.
  // A policy taken from the cache reports (total, total) once.
  std::function<void(const std::string&, int64_t, int64_t)> progress;
  std::function<void(const std::string&)> log;  // status lines, serialized
};

// The training iterations each policy would run (quick budgets applied), in plan order.
std::vector<int64_t> PlannedIterations(const Plan& plan, bool quick);

// The cache key of each policy, in plan order.
std::vector<std::string> CacheKeys(const Plan& plan, bool quick);

// Trains what the cache lacks and returns every policy of the plan, in plan order. Error (with
// the policy's name) when a training fails.
std::vector<TrainedPolicy> ProvidePolicies(const Plan& plan, const PolicyOptions& options);

}  // namespace bestserve::reproduce
