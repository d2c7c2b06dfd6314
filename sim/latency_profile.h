// Latency profiles: how long a model's prefill and decode iterations take on one GPU.
//
// A profile set is one YAML file per hardware (profiles/<set>/profile.yaml; vidur keeps
// data/profiling/compute/<gpu>/<model>/), holding for each model:
//
//   | key                       | meaning                                                      |
//   |---------------------------|--------------------------------------------------------------|
//   | parameters                | parameter count (documentation; not used by the simulator)   |
//   | weight_bytes              | bytes of weights resident on the GPU                         |
//   | kv_bytes_per_token        | KV-cache bytes per token of context (all layers, K and V)    |
//   | activation_reserve_bytes  | memory held back for activations, not usable for KV          |
//   | max_batch_size            | most sequences in one running batch (vLLM max_num_seqs)      |
//   | max_context_tokens        | prompt + output limit of the model (OPT: 2048)               |
//   | decode_step_ms            | table: batch_sizes x context_tokens -> ms per decode step    |
//   | prefill_ms                | table: tokens (prompt tokens in the iteration) -> ms         |
//   | latency_model             | table (default: the two tables above) or distserve (a fitted |
//   |                           | formula, sim/parametric_profile.h; the tables are then absent)|
//   | iteration_overhead_ms     | fixed serving cost added to every iteration (default 0)      |
//   | request_overhead_ms       | fixed cost per request, added to the iteration that produces |
//   |                           | its first token (default 0)                                  |
//   | sequence_overhead_ms      | cost per sequence in each iteration (vLLM v0's Python work:  |
//   |                           | input preparation, sampling, detokenizing; default 0)        |
//
// plus the GPU (name, memory_gib), an `extrapolation` rule and `provenance` saying whether the
// numbers were measured (GPU, software, command, date) or derived (from which public figures,
// how). Code never hard-codes a latency number; it asks a LatencyProfile.
//
// Interpolation is piecewise linear (bilinear over batch x context), which is monotone between
// table points whenever the table itself is monotone, and exact at table points. Outside the
// table the set's `extrapolation` rule applies: `error` (default) refuses with a message naming
// the model and the value; `clamp` uses the nearest edge value. Either is explicit; neither is
// silent: the simulator counts clamped lookups and reports them.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"

namespace bestserve {

enum class ExtrapolationRule { kError, kClamp };

// y(x) by linear interpolation over strictly increasing xs.
class Table1D {
 public:
  Table1D() = default;
  Table1D(std::vector<double> xs, std::vector<double> ys);
  // Returns y at x; sets *out_of_range when x lies outside [xs.front(), xs.back()].
  double At(double x, bool* out_of_range) const;
  const std::vector<double>& xs() const { return xs_; }
  const std::vector<double>& ys() const { return ys_; }

 private:
  std::vector<double> xs_;
  std::vector<double> ys_;
};

// z(x, y) by bilinear interpolation over a grid; values row-major by x then y.
class Table2D {
 public:
  Table2D() = default;
  Table2D(std::vector<double> xs, std::vector<double> ys, std::vector<double> values);
  double At(double x, double y, bool* out_of_range) const;
  const std::vector<double>& xs() const { return xs_; }
  const std::vector<double>& ys() const { return ys_; }
  const std::vector<double>& values() const { return values_; }

 private:
  // The segment and fraction of every whole x from 0 to the last grid point (at most
  // kMaxCachedX), computed once by the same code as a lookup's: batch sizes are whole numbers,
  // and the simulator looks one up at every decode step.
  static constexpr double kMaxCachedX = 4096.0;
  struct XPlace {
    size_t segment;
    double fraction;
  };

  std::vector<double> xs_;
  std::vector<double> ys_;
  std::vector<double> values_;
  std::vector<XPlace> whole_x_;
  // Per y segment: 1 / width when the width is a power of two (then y's fraction is the same
  // float multiplied as divided, and a multiply is several times faster), else 0: divide.
  std::vector<double> y_exact_reciprocal_;
};

struct ModelProfile {
  std::string name;
  double parameters = 0.0;
  double weight_bytes = 0.0;
  double kv_bytes_per_token = 0.0;
  double activation_reserve_bytes = 0.0;
  int32_t max_batch_size = 256;
  int32_t max_context_tokens = 2048;
  Table2D decode_step_ms;  // x: batch size, y: mean context tokens per sequence
  Table1D prefill_ms;      // x: prompt tokens processed in the iteration
  double iteration_overhead_ms = 0.0;
  double request_overhead_ms = 0.0;
  double sequence_overhead_ms = 0.0;
};

// What one iteration of the vLLM engine (sim/instance_scheduler.h) computes, sequence by
// sequence, so that a profile can charge attention by length (a sum of squares) rather than by
// the total token count alone.
struct PrefillChunk {
  int64_t new_tokens = 0;     // prompt tokens computed in this iteration
  int64_t cached_tokens = 0;  // tokens of the same sequence already in the KV cache
};
struct IterationShape {
  std::vector<PrefillChunk> prefills;
  int32_t decode_seqs = 0;
  // Sum over decoding sequences of the tokens already in the KV cache; each sequence computes
  // one new token, so it attends to cached + 1 tokens.
  int64_t decode_cached_tokens = 0;
  int32_t first_tokens = 0;  // requests that produce their first output token in this iteration
};

// The latency interface the simulator and routers use (a template method, as vidur's
// execution-time predictor: the public calls validate and convert units; implementations
// supply the lookups).
class LatencyProfile {
 public:
  virtual ~LatencyProfile() = default;

  // Seconds for one decode iteration of `batch_size` sequences whose mean context (prompt plus
  // tokens generated so far) is `mean_context_tokens`. Precondition: batch_size >= 1.
  double DecodeStepSeconds(int32_t batch_size, double mean_context_tokens) const;

  // Seconds for one prefill iteration processing `prompt_tokens` tokens in total (over every
  // sequence admitted in that iteration). Precondition: prompt_tokens >= 1.
  double PrefillSeconds(int64_t prompt_tokens) const;

  // Seconds for one iteration of the vLLM engine, overheads included: iteration_overhead_ms
  // once, request_overhead_ms per first token and sequence_overhead_ms per sequence computed. Precondition: some prefill or decode work.
  double IterationSeconds(const IterationShape& shape) const;

  virtual const ModelProfile& model() const = 0;
  // "table", "distserve", ...: how the iteration time is computed (reported in outputs).
  virtual const char* latency_model() const { return "table"; }

  // How many lookups fell outside the table and were clamped (0 under the `error` rule).
  int64_t clamped_lookups() const { return clamped_lookups_.load(std::memory_order_relaxed); }

 protected:
  virtual double DoDecodeStepMs(int32_t batch_size, double mean_context_tokens,
                                bool* out_of_range) const = 0;
  virtual double DoPrefillMs(int64_t prompt_tokens, bool* out_of_range) const = 0;
  virtual ExtrapolationRule extrapolation() const = 0;
  // Iteration time without overheads. The default asks the tables: a decode-only batch by batch
  // size and mean context (cached + 1, as the paper engine counts it), anything with prefill
  // work by the tokens computed (each decoding sequence adds one, as under chunked prefill).
  virtual double DoIterationMs(const IterationShape& shape, bool* out_of_range) const;

 private:
  void OnOutOfRange(const char* table, double value) const;
  // Atomic: one profile set may be shared by simulations running on several threads.
  mutable std::atomic<int64_t> clamped_lookups_{0};
};

// A LatencyProfile backed by the tables of one ModelProfile.
class TableLatencyProfile : public LatencyProfile {
 public:
  TableLatencyProfile(ModelProfile model, ExtrapolationRule rule)
      : model_(std::move(model)), rule_(rule) {}
  const ModelProfile& model() const override { return model_; }

 protected:
  double DoDecodeStepMs(int32_t batch_size, double mean_context_tokens,
                        bool* out_of_range) const override;
  double DoPrefillMs(int64_t prompt_tokens, bool* out_of_range) const override;
  ExtrapolationRule extrapolation() const override { return rule_; }

 private:
  ModelProfile model_;
  ExtrapolationRule rule_;
};

struct ProfileSet {
  std::string name;
  std::string source;  // the file it was read from
  std::string gpu_name;
  double gpu_memory_bytes = 0.0;
  ExtrapolationRule extrapolation = ExtrapolationRule::kError;
  std::string provenance_kind;  // "measured", "derived" or "fitted"
  std::string provenance_summary;
  std::vector<std::shared_ptr<const LatencyProfile>> models;  // file order

  static ProfileSet Parse(const ConfigNode& root);
  static ProfileSet LoadFile(const std::string& path);

  // The model's profile; throws ConfigError listing the set's models when absent.
  std::shared_ptr<const LatencyProfile> Find(const std::string& model_name) const;
  std::vector<std::string> ModelNames() const;
};

}  // namespace bestserve
