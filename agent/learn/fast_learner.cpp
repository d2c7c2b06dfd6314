#include "agent/learn/fast_learner.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "agent/learn/double_dqn.h"
#include "agent/learn/fast_kernels.h"
#include "agent/learn/two_part_runner.h"
#include "common/error.h"

// The kernels are written with GCC/Clang vector extensions and compiled three times, for
// baseline x86-64, AVX2 and AVX-512; the best one the CPU has is picked at load time (GCC
// target_clones, an ifunc) or on first use (the GEMM, whose tile shape differs per instruction
// set). A portable build thus runs at native speed without -march=native. Every variant
// performs the same float operations in the same order per output (no FMA contraction: this
// target builds with -ffp-contract=off), so all give identical bits: training is reproducible
// across x86-64 machines, and thin layers match the reference forward of router/policy/mlp.h exactly.
//
// Layers by shape: few outputs (<= 8, the Q head) -> one lane dot product per output; few
// inputs (<= 32, the first layer) -> vectorized across outputs; otherwise a register-tiled GEMM.
// (Eigen's products were the first version; with default flags they ran SSE2 code, 3-4x slower
// than these kernels for the paper's network. See docs/agent.md.)
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(BESTSERVE_AGENT_NATIVE)
#define BESTSERVE_MULTIVERSIONED __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define BESTSERVE_MULTIVERSIONED
#endif

namespace bestserve {
namespace fast_kernels {

// Outputs per block in the across-outputs kernel: 16 floats = one AVX-512 register.
constexpr int kOutputBlock = 16;
// Layers with at most this many inputs use the across-outputs forward kernel (and the matching
// weight-gradient kernel); wider ones go to the GEMM.
constexpr int kThinInputs = 32;
// Layers with at most this many outputs use the per-output lane dot product.
constexpr int kThinOutputs = 8;
// Rows per block in row-blocked forward passes: 32 x 256 floats = 32 KB per hidden layer.
constexpr int kRowBlock = 32;

int PaddedOutputs(int n_out) { return (n_out + kOutputBlock - 1) / kOutputBlock * kOutputBlock; }

// y = act(x W^T + b) for a layer with few inputs, vectorized across outputs. `wt` is W
// transposed (n_in x padded n_out, zero padding), `bias` padded likewise. Per output, the same
// arithmetic as LaneDot + bias (router/policy/mlp.h), hence the same bits as MlpForwardOne.
BESTSERVE_MULTIVERSIONED
void ForwardAcrossOutputs(const float* x, int rows, int n_in, const float* wt, const float* bias,
                          int n_out, bool relu, float* y) {
  static_assert(kDotLanes == 8 && kOutputBlock == 16);
  const size_t stride = static_cast<size_t>(PaddedOutputs(n_out));
  const Float16 zero = {};
  auto store = [&](float* yr, int o0, Float16 z) __attribute__((always_inline)) {
    if (relu) z = z < zero ? zero : z;
    if (o0 + kOutputBlock <= n_out) {
      std::memcpy(yr + o0, &z, sizeof(z));  // a constant size: one vector store
    } else {
      for (int o = 0; o < n_out - o0; ++o) yr[o0 + o] = z[o];
    }
  };
  if (n_in == kDotLanes) {
    // Exactly one product per lane (the paper's 8 inputs): broadcast the inputs once per row
    // rather than once per output block.
    for (int r = 0; r < rows; ++r) {
      const float* xr = x + static_cast<size_t>(r) * kDotLanes;
      float* yr = y + static_cast<size_t>(r) * static_cast<size_t>(n_out);
      const Float16 x0 = Broadcast<Float16>(xr[0]), x1 = Broadcast<Float16>(xr[1]),
                    x2 = Broadcast<Float16>(xr[2]), x3 = Broadcast<Float16>(xr[3]),
                    x4 = Broadcast<Float16>(xr[4]), x5 = Broadcast<Float16>(xr[5]),
                    x6 = Broadcast<Float16>(xr[6]), x7 = Broadcast<Float16>(xr[7]);
      for (int o0 = 0; o0 < n_out; o0 += kOutputBlock) {
        const float* w = wt + static_cast<size_t>(o0);
        auto row = [&](int k) __attribute__((always_inline)) {
          return Load<Float16>(w + static_cast<size_t>(k) * stride);
        };
        const Float16 z = (((row(0) * x0 + row(1) * x1) + (row(2) * x2 + row(3) * x3)) +
                           ((row(4) * x4 + row(5) * x5) + (row(6) * x6 + row(7) * x7))) +
                          Load<Float16>(bias + o0);
        store(yr, o0, z);
      }
    }
    return;
  }
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + static_cast<size_t>(r) * static_cast<size_t>(n_in);
    float* yr = y + static_cast<size_t>(r) * static_cast<size_t>(n_out);
    for (int o0 = 0; o0 < n_out; o0 += kOutputBlock) {
      const float* w = wt + static_cast<size_t>(o0);
      auto product = [&](int k) __attribute__((always_inline)) {
        return Load<Float16>(w + static_cast<size_t>(k) * stride) * xr[k];
      };
      // Eight named lanes (lane j takes inputs k = j mod 8) so they live in registers; each
      // starts as its first product, as in LaneDot.
      Float16 l0 = {}, l1 = {}, l2 = {}, l3 = {}, l4 = {}, l5 = {}, l6 = {}, l7 = {};
      if (n_in >= kDotLanes) {
        l0 = product(0);
        l1 = product(1);
        l2 = product(2);
        l3 = product(3);
        l4 = product(4);
        l5 = product(5);
        l6 = product(6);
        l7 = product(7);
        int k = kDotLanes;
        for (; k + kDotLanes <= n_in; k += kDotLanes) {
          l0 += product(k);
          l1 += product(k + 1);
          l2 += product(k + 2);
          l3 += product(k + 3);
          l4 += product(k + 4);
          l5 += product(k + 5);
          l6 += product(k + 6);
          l7 += product(k + 7);
        }
        const int tail = n_in - k;
        if (tail > 0) l0 += product(k);
        if (tail > 1) l1 += product(k + 1);
        if (tail > 2) l2 += product(k + 2);
        if (tail > 3) l3 += product(k + 3);
        if (tail > 4) l4 += product(k + 4);
        if (tail > 5) l5 += product(k + 5);
        if (tail > 6) l6 += product(k + 6);
      } else {
        if (n_in > 0) l0 = product(0);
        if (n_in > 1) l1 = product(1);
        if (n_in > 2) l2 = product(2);
        if (n_in > 3) l3 = product(3);
        if (n_in > 4) l4 = product(4);
        if (n_in > 5) l5 = product(5);
        if (n_in > 6) l6 = product(6);
      }
      store(yr, o0, (((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))) + Load<Float16>(bias + o0));
    }
  }
}

__attribute__((always_inline)) inline float SumLanes(Float8 lane) {
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// y = act(x W^T + b) for a layer with few outputs (<= 8): LaneDot per output with the eight
// lanes in one vector (the same bits). Two rows and up to four outputs at a time give eight
// independent accumulation chains, so the adds' latency overlaps.
BESTSERVE_MULTIVERSIONED
void ForwardAlongInputs(const float* x, int rows, int n_in, const float* w, const float* bias,
                        int n_out, bool relu, float* y) {
  const size_t in = static_cast<size_t>(n_in);
  const int full = n_in / kDotLanes * kDotLanes;
  auto finish = [&](Float8 lane, const float* xr, const float* wo, int o, float* yr)
      __attribute__((always_inline)) {
    if (n_in < kDotLanes) lane = Float8{};  // no full chunk: the tail below sets the lanes
    for (int j = 0; full + j < n_in; ++j) {
      const float p = wo[full + j] * xr[full + j];
      lane[j] = full == 0 ? p : lane[j] + p;
    }
    const float z = SumLanes(lane) + bias[o];
    yr[o] = relu && z < 0.0f ? 0.0f : z;
  };
  for (int og = 0; og < n_out; og += 4) {
    const int count = std::min(4, n_out - og);
    const float* w0 = w + static_cast<size_t>(og) * in;
    const float* w1 = count > 1 ? w0 + in : w0;
    const float* w2 = count > 2 ? w0 + 2 * in : w0;
    const float* w3 = count > 3 ? w0 + 3 * in : w0;
    int r = 0;
    for (; r < rows; r += 2) {
      const bool pair = r + 1 < rows;
      const float* xa = x + static_cast<size_t>(r) * in;
      const float* xb = pair ? xa + in : xa;
      Float8 a0 = {}, a1 = {}, a2 = {}, a3 = {}, b0 = {}, b1 = {}, b2 = {}, b3 = {};
      if (full > 0) {
        const Float8 va = Load<Float8>(xa), vb = Load<Float8>(xb);
        const Float8 u0 = Load<Float8>(w0), u1 = Load<Float8>(w1), u2 = Load<Float8>(w2),
                     u3 = Load<Float8>(w3);
        a0 = u0 * va, a1 = u1 * va, a2 = u2 * va, a3 = u3 * va;
        b0 = u0 * vb, b1 = u1 * vb, b2 = u2 * vb, b3 = u3 * vb;
      }
      // `count` is fixed for the whole loop: the branches are perfectly predicted and skip the
      // chains of missing outputs.
      for (int k = kDotLanes; k < full; k += kDotLanes) {
        const Float8 va = Load<Float8>(xa + k), vb = Load<Float8>(xb + k);
        const Float8 u0 = Load<Float8>(w0 + k);
        a0 += u0 * va, b0 += u0 * vb;
        if (count > 1) {
          const Float8 u1 = Load<Float8>(w1 + k);
          a1 += u1 * va, b1 += u1 * vb;
        }
        if (count > 2) {
          const Float8 u2 = Load<Float8>(w2 + k);
          a2 += u2 * va, b2 += u2 * vb;
        }
        if (count > 3) {
          const Float8 u3 = Load<Float8>(w3 + k);
          a3 += u3 * va, b3 += u3 * vb;
        }
      }
      float* ya = y + static_cast<size_t>(r) * static_cast<size_t>(n_out);
      const Float8 as[4] = {a0, a1, a2, a3};
      const Float8 bs[4] = {b0, b1, b2, b3};
      const float* ws[4] = {w0, w1, w2, w3};
      for (int c = 0; c < count; ++c) {
        finish(as[c], xa, ws[c], og + c, ya);
        if (pair) finish(bs[c], xb, ws[c], og + c, ya + n_out);
      }
    }
  }
}

// Output-layer backward exploiting that dL/dQ has one non-zero per row (the taken action): a
// dense (A x B)(B x n) product would spend A times the work on zeros. Accumulates the weight and
// bias gradients of the taken rows and, fused with the ReLU mask of the layer below, writes
// delta_below = 1[h > 0] * g * W[a, :] (skipped when `delta_below` is null). Only inputs
// [k_begin, k_end) of each row, and the bias gradient only when `grad_b` is not null: every
// element is the same sum in the same row order whatever the range, so the inputs can be split
// between threads.
BESTSERVE_MULTIVERSIONED
void OutputLayerBackward(const float* h, int rows, int n_in, int k_begin, int k_end,
                         const float* w, const float* g, const int32_t* actions, float* grad_w,
                         float* grad_b, float* delta_below) {
  for (int i = 0; i < rows; ++i) {
    const float gi = g[i];
    const size_t a = static_cast<size_t>(actions[i]);
    const float* hi = h + static_cast<size_t>(i) * static_cast<size_t>(n_in);
    float* grad_row = grad_w + a * static_cast<size_t>(n_in);
    for (int k = k_begin; k < k_end; ++k) grad_row[k] += gi * hi[k];
    if (grad_b != nullptr) grad_b[a] += gi;
    if (delta_below != nullptr) {
      const float* w_row = w + a * static_cast<size_t>(n_in);
      float* delta = delta_below + static_cast<size_t>(i) * static_cast<size_t>(n_in);
      for (int k = k_begin; k < k_end; ++k) delta[k] = hi[k] > 0.0f ? gi * w_row[k] : 0.0f;
    }
  }
}

// Gradients of a layer with few inputs: grad_wt (n_in x n_out, W transposed) = x^T delta and
// grad_b = column sums of delta, each element summed over rows in row order. Blocked by 16
// outputs x 8 inputs so the sums stay in registers for the whole pass over the rows. Only
// outputs [o_begin, o_end) (o_begin a multiple of 16, or o_end = n_out): the same bits per
// output whatever the range.
BESTSERVE_MULTIVERSIONED
void ThinInputWeightGradient(const float* x, const float* delta, int rows, int n_in, int n_out,
                             int o_begin, int o_end, float* grad_wt, float* grad_b) {
  const size_t in = static_cast<size_t>(n_in);
  const size_t out = static_cast<size_t>(n_out);
  int o0 = o_begin;
  for (; o0 + kOutputBlock <= o_end; o0 += kOutputBlock) {
    for (int k0 = 0; k0 < n_in; k0 += 8) {
      const int chunk = std::min(8, n_in - k0);
      Float16 a0 = {}, a1 = {}, a2 = {}, a3 = {}, a4 = {}, a5 = {}, a6 = {}, a7 = {}, bsum = {};
      for (int i = 0; i < rows; ++i) {
        const Float16 d =
            Load<Float16>(delta + static_cast<size_t>(i) * out + static_cast<size_t>(o0));
        const float* xi = x + static_cast<size_t>(i) * in + static_cast<size_t>(k0);
        // `chunk` is the same for every row: these branches are perfectly predicted.
        a0 += d * xi[0];
        if (chunk > 1) a1 += d * xi[1];
        if (chunk > 2) a2 += d * xi[2];
        if (chunk > 3) a3 += d * xi[3];
        if (chunk > 4) a4 += d * xi[4];
        if (chunk > 5) a5 += d * xi[5];
        if (chunk > 6) a6 += d * xi[6];
        if (chunk > 7) a7 += d * xi[7];
        if (k0 == 0) bsum += d;
      }
      const Float16 sums[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
      for (int kk = 0; kk < chunk; ++kk) {
        std::memcpy(grad_wt + static_cast<size_t>(k0 + kk) * out + static_cast<size_t>(o0),
                    &sums[kk], sizeof(Float16));
      }
      if (k0 == 0) std::memcpy(grad_b + o0, &bsum, sizeof(Float16));
    }
  }
  // Outputs past the last full block, plainly.
  for (int o = o0; o < o_end; ++o) {
    float bsum = 0.0f;
    for (int k = 0; k < n_in; ++k)
      grad_wt[static_cast<size_t>(k) * out + static_cast<size_t>(o)] = 0.0f;
    for (int i = 0; i < rows; ++i) {
      const float d = delta[static_cast<size_t>(i) * out + static_cast<size_t>(o)];
      for (int k = 0; k < n_in; ++k) {
        grad_wt[static_cast<size_t>(k) * out + static_cast<size_t>(o)] +=
            d * x[static_cast<size_t>(i) * in + static_cast<size_t>(k)];
      }
      bsum += d;
    }
    grad_b[o] = bsum;
  }
}

// The tile shape per instruction set: as many accumulators as the registers hold (AVX-512:
// 8 rows x 32 columns in 16 of its 32 registers, which measured faster than 6 x 32 and 4 x 64;
// AVX2 and baseline: 4 rows x 2 vectors in 8 of their 16).
#define BESTSERVE_GEMM_ARGS                                                                    \
  int m, int n, int k, const float *a, size_t a_row, size_t a_col, const float *b, size_t ldb, \
      float *c, size_t ldc, bool accumulate
#define BESTSERVE_GEMM_PASS m, n, k, a, a_row, a_col, b, ldb, c, ldc, accumulate
#if defined(BESTSERVE_AGENT_NATIVE) || !(defined(__GNUC__) && defined(__x86_64__))
void Gemm(BESTSERVE_GEMM_ARGS) {
#if defined(__AVX512F__)
  GemmTiled<8, 2, Float16>(BESTSERVE_GEMM_PASS);
#elif defined(__AVX2__)
  GemmTiled<4, 2, Float8>(BESTSERVE_GEMM_PASS);
#else
  GemmTiled<4, 2, Float4>(BESTSERVE_GEMM_PASS);
#endif
}
#else
__attribute__((target("avx512f"))) void GemmAvx512(BESTSERVE_GEMM_ARGS) {
  GemmTiled<8, 2, Float16>(BESTSERVE_GEMM_PASS);
}
__attribute__((target("avx2"))) void GemmAvx2(BESTSERVE_GEMM_ARGS) {
  GemmTiled<4, 2, Float8>(BESTSERVE_GEMM_PASS);
}
void GemmBaseline(BESTSERVE_GEMM_ARGS) { GemmTiled<4, 2, Float4>(BESTSERVE_GEMM_PASS); }
using GemmFunction = void (*)(BESTSERVE_GEMM_ARGS);
GemmFunction SelectGemm() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return GemmAvx512;
  if (__builtin_cpu_supports("avx2")) return GemmAvx2;
  return GemmBaseline;
}
void Gemm(BESTSERVE_GEMM_ARGS) {
  static const GemmFunction selected = SelectGemm();  // chosen once, like an ifunc
  selected(BESTSERVE_GEMM_PASS);
}
#endif
#undef BESTSERVE_GEMM_ARGS
#undef BESTSERVE_GEMM_PASS

// torch.optim.Adam (no weight decay, no amsgrad): the same float operations in the same order
// as torch 1.13's C++ implementation, so the libtorch check can be tight.
BESTSERVE_MULTIVERSIONED
void AdamUpdate(size_t n, const float* g, float beta1, float one_minus_beta1, float beta2,
                float one_minus_beta2, float sqrt_bias_correction2, float eps, float step_size,
                float* p, float* m, float* v) {
  for (size_t i = 0; i < n; ++i) {
    m[i] = m[i] * beta1 + one_minus_beta1 * g[i];
    v[i] = v[i] * beta2 + (one_minus_beta2 * g[i]) * g[i];
    const float denom = std::sqrt(v[i]) / sqrt_bias_correction2 + eps;
    p[i] = p[i] - step_size * (m[i] / denom);
  }
}

}  // namespace fast_kernels

namespace {

using namespace fast_kernels;

// 64-byte aligned storage: a 64-byte vector load from an unaligned address spans two cache
// lines, which slowed the kernels by about 10%.
template <typename T>
struct CacheAligned {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};
  CacheAligned() = default;
  template <typename U>
  explicit CacheAligned(const CacheAligned<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, size_t) { ::operator delete(p, kAlignment); }
  bool operator==(const CacheAligned&) const = default;
};
using Buffer = std::vector<float, CacheAligned<float>>;

// Activations are stored one sample per row (row-major), so a sample's features are contiguous
// for the per-sample kernels; weights keep torch's (out x in) row-major layout.
enum class LayerKernel { kAcrossOutputs, kAlongInputs, kGemm };

class FastLearner final : public QLearner {
 public:
  FastLearner(const MlpShape& shape, const LearnerHyperparameters& hyperparameters,
              const LearnerState& state, int threads)
      : shape_(shape), hp_(hyperparameters), runner_(threads) {
    BS_CHECK_MSG(shape_.Problem().empty(), "{}", shape_.Problem());
    for (int l = 0; l < shape_.num_layers(); ++l) {
      const int n_in = shape_.LayerInputs(l);
      const int n_out = shape_.LayerOutputs(l);
      kernels_.push_back(n_out <= kThinOutputs ? LayerKernel::kAlongInputs
                         : n_in <= kThinInputs ? LayerKernel::kAcrossOutputs
                                               : LayerKernel::kGemm);
      // Transposed copies: padded W^T plus a bias row for the across-outputs kernel, plain W^T
      // (n_in x n_out) for the GEMM.
      const size_t padded =
          kernels_.back() == LayerKernel::kAcrossOutputs
              ? static_cast<size_t>(PaddedOutputs(n_out)) * static_cast<size_t>(n_in + 1)
          : kernels_.back() == LayerKernel::kGemm
              ? static_cast<size_t>(n_out) * static_cast<size_t>(n_in)
              : 0;
      online_t_.emplace_back(padded, 0.0f);
      target_t_.emplace_back(padded, 0.0f);
    }
    all_thin_ = std::find(kernels_.begin(), kernels_.end(), LayerKernel::kGemm) == kernels_.end();
    // One thin hidden layer (the paper's 8-256-3): every pass splits in two along the hidden
    // units, at a multiple of the 16-output block.
    split_ = all_thin_ && shape_.num_layers() == 2 && kernels_[0] == LayerKernel::kAcrossOutputs &&
             kernels_[1] == LayerKernel::kAlongInputs && shape_.hidden_sizes[0] % (2 * kOutputBlock) == 0;
    for (auto& scratch : block_scratch_) {
      for (int h : shape_.hidden_sizes) {
        scratch.emplace_back(static_cast<size_t>(kRowBlock) * static_cast<size_t>(h), 0.0f);
      }
    }
    gradients_.assign(shape_.NumParameters(), 0.0f);
    if (split_) {
      for (Buffer& partial : partials_) partial.assign(shape_.NumParameters(), 0.0f);
    }
    thin_gradient_.resize(static_cast<size_t>(shape_.MaxWidth()) *
                          static_cast<size_t>(std::max(kThinInputs, shape_.input_size)));
    SetState(state);
  }

  const MlpShape& shape() const override { return shape_; }
  std::string backend_name() const override { return "fast"; }

  void OnlineQValues(const float* observations, int count, float* q_values) override {
    // The reference forward, so acting decides exactly as MlpPolicy and the exported router.
    single_scratch_.resize(ForwardScratchSize(shape_));
    const size_t in = static_cast<size_t>(shape_.input_size);
    const size_t out = static_cast<size_t>(shape_.num_actions);
    for (int i = 0; i < count; ++i) {
      MlpForwardOne(shape_, online_.data(), observations + in * static_cast<size_t>(i),
                    q_values + out * static_cast<size_t>(i), single_scratch_.data());
    }
  }

  double ComputeGradients(const TransitionBatch& batch, std::vector<float>* gradients) override {
    const UpdateStats stats = LossAndGradients(batch, /*adam=*/false);
    gradients->assign(gradients_.begin(), gradients_.end());
    return stats.loss;
  }

  UpdateStats Update(const TransitionBatch& batch) override {
    ++adam_step_;
    // The step's bias corrections, once per update (AdamOn runs on several parameter ranges).
    const double bias_correction1 = 1.0 - std::pow(hp_.adam_beta1, static_cast<double>(adam_step_));
    const double bias_correction2 = 1.0 - std::pow(hp_.adam_beta2, static_cast<double>(adam_step_));
    adam_sqrt_bias_correction2_ = static_cast<float>(std::sqrt(bias_correction2));
    adam_step_size_ = static_cast<float>(hp_.learning_rate / bias_correction1);
    const UpdateStats stats = LossAndGradients(batch, /*adam=*/true);
    if (!split_) {
      AdamOn(0, online_.size());
      Transpose(online_, &online_t_);
    }
    return stats;
  }

  void SyncTarget() override {
    target_ = online_;
    target_t_ = online_t_;
  }

  LearnerState GetState() const override {
    LearnerState state;
    state.online.assign(online_.begin(), online_.end());
    state.target.assign(target_.begin(), target_.end());
    state.adam.first_moment.assign(adam_m_.begin(), adam_m_.end());
    state.adam.second_moment.assign(adam_v_.begin(), adam_v_.end());
    state.adam.step = adam_step_;
    return state;
  }

  void SetState(const LearnerState& state) override {
    const size_t n = shape_.NumParameters();
    BS_CHECK(state.online.size() == n && state.target.size() == n &&
             state.adam.first_moment.size() == n && state.adam.second_moment.size() == n);
    online_.assign(state.online.begin(), state.online.end());
    target_.assign(state.target.begin(), state.target.end());
    adam_m_.assign(state.adam.first_moment.begin(), state.adam.first_moment.end());
    adam_v_.assign(state.adam.second_moment.begin(), state.adam.second_moment.end());
    adam_step_ = state.adam.step;
    Transpose(online_, &online_t_);
    Transpose(target_, &target_t_);
  }

 private:
  // Adam (step adam_step_) on parameters [begin, end): element by element, so any partition of
  // the parameters gives the same bits.
  void AdamOn(size_t begin, size_t end) {
    AdamUpdate(end - begin, gradients_.data() + begin, static_cast<float>(hp_.adam_beta1),
               static_cast<float>(1.0 - hp_.adam_beta1), static_cast<float>(hp_.adam_beta2),
               static_cast<float>(1.0 - hp_.adam_beta2), adam_sqrt_bias_correction2_,
               static_cast<float>(hp_.adam_eps), adam_step_size_, online_.data() + begin,
               adam_m_.data() + begin, adam_v_.data() + begin);
  }

  // Part `part` (0 or 1) of the three forward passes of a split network: rows [b/2 part, ...).
  void SplitForward(const TransitionBatch& batch, int part) {
    const int b = batch.size;
    const int begin = part == 0 ? 0 : b / 2;
    const int end = part == 0 ? b / 2 : b;
    const size_t in = static_cast<size_t>(shape_.input_size);
    const size_t actions = static_cast<size_t>(shape_.num_actions);
    std::vector<Buffer>& scratch = block_scratch_[static_cast<size_t>(part)];
    for (int r0 = begin; r0 < end; r0 += kRowBlock) {
      const int n = std::min(kRowBlock, end - r0);
      const size_t row = static_cast<size_t>(r0);
      LayerForward(online_, online_t_, batch.observations.data() + row * in, n, &online_hidden_, r0,
                   online_q_.data() + row * actions, scratch);
      LayerForward(online_, online_t_, batch.next_observations.data() + row * in, n, nullptr, 0,
                   online_q_.data() + (static_cast<size_t>(b) + row) * actions, scratch);
      LayerForward(target_, target_t_, batch.next_observations.data() + row * in, n, nullptr, 0,
                   target_q_.data() + row * actions, scratch);
    }
  }

  // Part `part` of the backward pass of a split network, over the rows it ran forward
  // ([b/2 part, ...): their activations are in this core's cache): the deltas of those rows, and
  // the gradient of every parameter summed over those rows only, into partials_[part]. Layout:
  // output W (actions x width), output b (actions), hidden W^T (inputs x width), hidden b (width).
  void SplitBackwardRows(const TransitionBatch& batch, int part) {
    const int b = batch.size;
    const int begin = part == 0 ? 0 : b / 2;
    const int rows = part == 0 ? b / 2 : b - b / 2;
    const int width = shape_.hidden_sizes[0];
    const int n_in = shape_.input_size;
    const int actions = shape_.num_actions;
    const size_t first = static_cast<size_t>(begin);
    const size_t hidden = static_cast<size_t>(width);
    Buffer& partial = partials_[static_cast<size_t>(part)];
    float* grad_w_out = partial.data();
    float* grad_b_out = grad_w_out + static_cast<size_t>(actions) * hidden;
    float* grad_wt_hidden = grad_b_out + static_cast<size_t>(actions);
    float* grad_b_hidden = grad_wt_hidden + static_cast<size_t>(n_in) * hidden;
    std::fill(grad_w_out, grad_wt_hidden, 0.0f);
    float* delta = deltas_[0].data() + first * hidden;
    OutputLayerBackward(online_hidden_[0].data() + first * hidden, rows, width, 0, width,
                        online_.data() + shape_.WeightOffset(1), q_gradient_.data() + first,
                        batch.actions.data() + first, grad_w_out, grad_b_out, delta);
    ThinInputWeightGradient(input_s_ + first * static_cast<size_t>(n_in), delta, rows, n_in, width, 0,
                            width, grad_wt_hidden, grad_b_hidden);
  }

  // Part `part` of the rest of an update of a split network, over hidden units [h/2 part, ...)
  // (and the output bias in part 0): each gradient is the sum of the two row halves' partials,
  // in that order (so 1 and 2 threads give the same bits); then (adam) the Adam step of those
  // parameters and the refresh of their share of the transposed weights. The parts write
  // disjoint parameters.
  void SplitCombine(int part, bool adam) {
    const int width = shape_.hidden_sizes[0];
    const int n_in = shape_.input_size;
    const int actions = shape_.num_actions;
    const int begin = part == 0 ? 0 : width / 2;
    const int end = part == 0 ? width / 2 : width;
    const size_t w_out = shape_.WeightOffset(1);
    const size_t b_out = shape_.BiasOffset(1);
    const size_t w_hidden = shape_.WeightOffset(0);
    const size_t b_hidden = shape_.BiasOffset(0);
    const size_t hidden = static_cast<size_t>(width);
    const size_t in = static_cast<size_t>(n_in);
    const float* p0 = partials_[0].data();
    const float* p1 = partials_[1].data();
    const size_t b_out_at = static_cast<size_t>(actions) * hidden;  // offsets in a partial
    const size_t wt_at = b_out_at + static_cast<size_t>(actions);
    const size_t b_hidden_at = wt_at + in * hidden;
    float* g = gradients_.data();
    for (int a = 0; a < actions; ++a) {
      const size_t row = static_cast<size_t>(a) * hidden;
      for (int k = begin; k < end; ++k) {
        const size_t i = row + static_cast<size_t>(k);
        g[w_out + i] = p0[i] + p1[i];
      }
    }
    if (part == 0) {
      for (int a = 0; a < actions; ++a) {
        const size_t i = b_out_at + static_cast<size_t>(a);
        g[b_out + static_cast<size_t>(a)] = p0[i] + p1[i];
      }
    }
    for (int o = begin; o < end; ++o) {
      const size_t unit = static_cast<size_t>(o);
      for (size_t k = 0; k < in; ++k) {
        const size_t i = wt_at + k * hidden + unit;
        g[w_hidden + unit * in + k] = p0[i] + p1[i];
      }
      g[b_hidden + unit] = p0[b_hidden_at + unit] + p1[b_hidden_at + unit];
    }
    if (!adam) return;
    const size_t lo = static_cast<size_t>(begin);
    const size_t hi = static_cast<size_t>(end);
    AdamOn(w_hidden + lo * in, w_hidden + hi * in);
    AdamOn(b_hidden + lo, b_hidden + hi);
    for (int a = 0; a < actions; ++a) {
      const size_t row = w_out + static_cast<size_t>(a) * hidden;
      AdamOn(row + lo, row + hi);
    }
    if (part == 0) AdamOn(b_out, b_out + static_cast<size_t>(actions));
    // The across-outputs kernel's W^T and bias row for these hidden units.
    Buffer& wt = online_t_[0];
    const size_t stride = static_cast<size_t>(PaddedOutputs(width));
    for (int o = begin; o < end; ++o) {
      const size_t unit = static_cast<size_t>(o);
      for (size_t k = 0; k < in; ++k) wt[k * stride + unit] = online_[w_hidden + unit * in + k];
      wt[in * stride + unit] = online_[b_hidden + unit];
    }
  }

  // Refreshes the transposed copies of W that the across-outputs kernel (padded, with a bias
  // row) and the GEMM (plain n_in x n_out) read. A few thousand floats per update for the
  // paper's network, 64 K for each 256 x 256 layer.
  void Transpose(const Buffer& parameters, std::vector<Buffer>* out) const {
    for (int l = 0; l < shape_.num_layers(); ++l) {
      const LayerKernel kernel = kernels_[static_cast<size_t>(l)];
      if (kernel == LayerKernel::kAlongInputs) continue;
      const int n_in = shape_.LayerInputs(l);
      const int n_out = shape_.LayerOutputs(l);
      const size_t stride =
          static_cast<size_t>(kernel == LayerKernel::kAcrossOutputs ? PaddedOutputs(n_out) : n_out);
      Buffer& wt = (*out)[static_cast<size_t>(l)];
      const float* w = parameters.data() + shape_.WeightOffset(l);
      const float* b = parameters.data() + shape_.BiasOffset(l);
      for (int o = 0; o < n_out; ++o) {
        for (int k = 0; k < n_in; ++k) {
          wt[static_cast<size_t>(k) * stride + static_cast<size_t>(o)] =
              w[static_cast<size_t>(o) * static_cast<size_t>(n_in) + static_cast<size_t>(k)];
        }
        if (kernel == LayerKernel::kAcrossOutputs) {
          wt[static_cast<size_t>(n_in) * stride + static_cast<size_t>(o)] = b[o];
        }
      }
    }
  }

  // Sizes every scratch buffer for batch size `batch`; allocates only when it changes.
  void Reserve(int batch) {
    if (batch == reserved_batch_) return;
    reserved_batch_ = batch;
    const size_t b = static_cast<size_t>(batch);
    const size_t hidden = shape_.hidden_sizes.size();
    // Thin networks keep only the s rows' activations; wide ones run s and s' stacked.
    const size_t kept_rows = all_thin_ ? b : 2 * b;
    if (!all_thin_) stacked_input_.resize(2 * b * static_cast<size_t>(shape_.input_size));
    online_hidden_.resize(hidden);
    target_hidden_.resize(hidden);
    deltas_.resize(hidden);
    for (size_t l = 0; l < hidden; ++l) {
      const size_t width = static_cast<size_t>(shape_.hidden_sizes[l]);
      online_hidden_[l].resize(kept_rows * width);
      if (!all_thin_) target_hidden_[l].resize(b * width);
      deltas_[l].resize(b * width);
    }
    const size_t actions = static_cast<size_t>(shape_.num_actions);
    online_q_.resize(2 * b * actions);
    target_q_.resize(b * actions);
    targets_.resize(b);
    q_gradient_.resize(b);
  }

  // Forward pass of `rows` samples (row-major, one sample per row) into q. Hidden activations
  // (post-ReLU) go to (*hidden)[l] when `hidden` is given; otherwise they are not kept. Networks
  // of thin layers only are run in blocks of rows through all layers, so a block's activations
  // are consumed while still in L1; networks with a wide layer run layer by layer (the GEMM
  // wants all rows at once) and need `hidden`.
  void Forward(const Buffer& parameters, const std::vector<Buffer>& transposed, const float* input,
               int rows, std::vector<Buffer>* hidden, float* q) {
    if (!all_thin_) {
      BS_CHECK(hidden != nullptr);
      LayerForward(parameters, transposed, input, rows, hidden, 0, q, block_scratch_[0]);
      return;
    }
    for (int r0 = 0; r0 < rows; r0 += kRowBlock) {
      const int n = std::min(kRowBlock, rows - r0);
      LayerForward(parameters, transposed,
                   input + static_cast<size_t>(r0) * static_cast<size_t>(shape_.input_size), n,
                   hidden, r0,
                   q + static_cast<size_t>(r0) * static_cast<size_t>(shape_.num_actions),
                   block_scratch_[0]);
    }
  }

  // All layers for `rows` rows starting at row `row_offset` of the hidden buffers (or of
  // `scratch`, one block per hidden layer, when `hidden` is null).
  void LayerForward(const Buffer& parameters, const std::vector<Buffer>& transposed,
                    const float* input, int rows, std::vector<Buffer>* hidden, int row_offset,
                    float* q, std::vector<Buffer>& scratch) {
    const float* in = input;
    for (int l = 0; l < shape_.num_layers(); ++l) {
      const int n_in = shape_.LayerInputs(l);
      const int n_out = shape_.LayerOutputs(l);
      const bool last = l == shape_.num_layers() - 1;
      float* out = last ? q
                   : hidden != nullptr
                       ? (*hidden)[static_cast<size_t>(l)].data() +
                             static_cast<size_t>(row_offset) * static_cast<size_t>(n_out)
                       : scratch[static_cast<size_t>(l)].data();
      const float* w = parameters.data() + shape_.WeightOffset(l);
      const float* b = parameters.data() + shape_.BiasOffset(l);
      switch (kernels_[static_cast<size_t>(l)]) {
        case LayerKernel::kAcrossOutputs: {
          const Buffer& wt = transposed[static_cast<size_t>(l)];
          const float* padded_bias =
              wt.data() + static_cast<size_t>(n_in) * static_cast<size_t>(PaddedOutputs(n_out));
          ForwardAcrossOutputs(in, rows, n_in, wt.data(), padded_bias, n_out, !last, out);
          break;
        }
        case LayerKernel::kAlongInputs:
          ForwardAlongInputs(in, rows, n_in, w, b, n_out, !last, out);
          break;
        case LayerKernel::kGemm: {
          // z = b + x W^T: bias first, then the products in input order (the GEMM's order).
          const size_t width = static_cast<size_t>(n_out);
          for (int r = 0; r < rows; ++r)
            std::memcpy(out + static_cast<size_t>(r) * width, b, width * sizeof(float));
          Gemm(rows, n_out, n_in, in, static_cast<size_t>(n_in), 1,
               transposed[static_cast<size_t>(l)].data(), width, out, width, /*accumulate=*/true);
          if (!last) {
            const size_t total = static_cast<size_t>(rows) * width;
            for (size_t i = 0; i < total; ++i) out[i] = out[i] < 0.0f ? 0.0f : out[i];
          }
          break;
        }
      }
      in = out;
    }
  }

  // The loss and gradients of `batch`; with `adam`, also the Adam step adam_step_ where the
  // network is split (the caller does it otherwise).
  UpdateStats LossAndGradients(const TransitionBatch& batch, bool adam) {
    const int b = batch.size;
    BS_CHECK(b > 0 && batch.observation_size == shape_.input_size);
    Reserve(b);
    const size_t actions = static_cast<size_t>(shape_.num_actions);
    const size_t half = static_cast<size_t>(b) * static_cast<size_t>(shape_.input_size);

    if (split_) {
      input_s_ = batch.observations.data();
      auto forward = [&](int part) { SplitForward(batch, part); };
      runner_.Run(forward);
    } else if (all_thin_) {
      // Row-blocked passes; activations of s' are never stored, only those of s (backward).
      input_s_ = batch.observations.data();
      Forward(online_, online_t_, batch.observations.data(), b, &online_hidden_, online_q_.data());
      Forward(online_, online_t_, batch.next_observations.data(), b, nullptr,
              online_q_.data() + static_cast<size_t>(b) * actions);
      Forward(target_, target_t_, batch.next_observations.data(), b, nullptr, target_q_.data());
    } else {
      // s and s' stacked: one online pass of 2B rows, so each GEMM sees twice the rows.
      std::copy_n(batch.observations.begin(), half, stacked_input_.begin());
      std::copy_n(batch.next_observations.begin(), half,
                  stacked_input_.begin() + static_cast<long>(half));
      input_s_ = stacked_input_.data();
      Forward(online_, online_t_, stacked_input_.data(), 2 * b, &online_hidden_, online_q_.data());
      Forward(target_, target_t_, stacked_input_.data() + half, b, &target_hidden_,
              target_q_.data());
    }

    // Double-DQN targets (van Hasselt 2016): online rows B..2B-1 select, the target evaluates.
    ComputeDoubleDqnTargets(online_q_.data() + static_cast<size_t>(b) * actions, target_q_.data(),
                            batch.rewards.data(), batch.terminals.data(), b, shape_.num_actions,
                            hp_.gamma, targets_.data());

    // Loss and dL/dQ(s, a) (mean over the batch): only the taken action's output has a gradient.
    double loss_sum = 0.0;
    double q_sum = 0.0;
    double target_sum = 0.0;
    const float inv_batch = 1.0f / static_cast<float>(b);
    for (size_t i = 0; i < static_cast<size_t>(b); ++i) {
      const int32_t a = batch.actions[i];
      BS_CHECK(a >= 0 && a < shape_.num_actions);
      const float q = online_q_[i * actions + static_cast<size_t>(a)];
      const float difference = q - targets_[i];
      loss_sum += TdLossValue(hp_.loss, hp_.huber_delta, difference);
      q_gradient_[i] = TdLossGradient(hp_.loss, hp_.huber_delta, difference) * inv_batch;
      q_sum += q;
      target_sum += targets_[i];
    }
    if (split_) {
      auto backward = [&](int part) { SplitBackwardRows(batch, part); };
      runner_.Run(backward);
      auto combine = [&](int part) { SplitCombine(part, adam); };
      runner_.Run(combine);
    } else {
      Backward(batch);
    }

    UpdateStats stats;
    stats.loss = loss_sum / b;
    stats.mean_q = q_sum / b;
    stats.mean_target = target_sum / b;
    return stats;
  }

  void Backward(const TransitionBatch& batch) {
    const int b = batch.size;
    const int last = shape_.num_layers() - 1;
    {
      const int n_in = shape_.LayerInputs(last);
      float* grad_w = gradients_.data() + shape_.WeightOffset(last);
      float* grad_b = gradients_.data() + shape_.BiasOffset(last);
      std::fill(grad_w, grad_b + shape_.num_actions, 0.0f);
      const float* h = last == 0 ? input_s_ : online_hidden_[static_cast<size_t>(last) - 1].data();
      OutputLayerBackward(h, b, n_in, 0, n_in, online_.data() + shape_.WeightOffset(last),
                          q_gradient_.data(), batch.actions.data(), grad_w, grad_b,
                          last > 0 ? deltas_[static_cast<size_t>(last) - 1].data() : nullptr);
    }
    // Hidden layers, top down: dW = delta^T A_prev, db = column sums of delta, and the delta of
    // the layer below = (delta W) masked by that layer's ReLU. Only the first B rows of the
    // stacked activations (the s half) take part.
    for (int l = last - 1; l >= 0; --l) {
      const int n_in = shape_.LayerInputs(l);
      const int n_out = shape_.LayerOutputs(l);
      const float* a_prev = l == 0 ? input_s_ : online_hidden_[static_cast<size_t>(l) - 1].data();
      const float* delta_data = deltas_[static_cast<size_t>(l)].data();
      float* grad_w = gradients_.data() + shape_.WeightOffset(l);
      float* grad_b = gradients_.data() + shape_.BiasOffset(l);
      if (n_in <= kThinInputs) {
        ThinInputWeightGradient(a_prev, delta_data, b, n_in, n_out, 0, n_out, thin_gradient_.data(),
                                grad_b);
        for (int o = 0; o < n_out; ++o) {
          for (int k = 0; k < n_in; ++k) {
            grad_w[static_cast<size_t>(o) * static_cast<size_t>(n_in) + static_cast<size_t>(k)] =
                thin_gradient_[static_cast<size_t>(k) * static_cast<size_t>(n_out) +
                               static_cast<size_t>(o)];
          }
        }
      } else {
        // dW (out x in) = delta^T A_prev: delta read transposed through the GEMM's A strides.
        Gemm(n_out, n_in, b, delta_data, 1, static_cast<size_t>(n_out), a_prev,
             static_cast<size_t>(n_in), grad_w, static_cast<size_t>(n_in), /*accumulate=*/false);
        std::fill(grad_b, grad_b + n_out, 0.0f);
        for (int i = 0; i < b; ++i) {
          const float* di = delta_data + static_cast<size_t>(i) * static_cast<size_t>(n_out);
          for (int o = 0; o < n_out; ++o) grad_b[o] += di[o];
        }
      }
      if (l > 0) {
        // delta below = (delta W) masked by the lower layer's ReLU.
        float* below = deltas_[static_cast<size_t>(l) - 1].data();
        Gemm(b, n_in, n_out, delta_data, static_cast<size_t>(n_out), 1,
             online_.data() + shape_.WeightOffset(l), static_cast<size_t>(n_in), below,
             static_cast<size_t>(n_in), /*accumulate=*/false);
        const size_t total = static_cast<size_t>(b) * static_cast<size_t>(n_in);
        for (size_t i = 0; i < total; ++i) below[i] = a_prev[i] > 0.0f ? below[i] : 0.0f;
      }
    }
  }

  MlpShape shape_;
  LearnerHyperparameters hp_;
  std::vector<LayerKernel> kernels_;
  bool all_thin_ = false;  // no layer needs the GEMM: row-blocked forward passes
  bool split_ = false;     // one thin hidden layer: passes in two parts (TwoPartRunner)
  TwoPartRunner runner_;
  Buffer online_;
  Buffer target_;
  std::vector<Buffer> online_t_;  // per layer: W^T and bias, padded (thin-input only)
  std::vector<Buffer> target_t_;
  Buffer gradients_;
  Buffer adam_m_;
  Buffer adam_v_;
  int64_t adam_step_ = 0;
  float adam_sqrt_bias_correction2_ = 1.0f;  // of step adam_step_, set by Update
  float adam_step_size_ = 0.0f;

  // Scratch, sized by Reserve() and the constructor.
  int reserved_batch_ = -1;
  const float* input_s_ = nullptr;                 // the B observations s of the batch
  Buffer stacked_input_;               // 2B x in: s rows, then s' rows (wide nets)
  std::vector<Buffer> block_scratch_[2];  // per part, per hidden layer, kRowBlock x width
  std::vector<Buffer> online_hidden_;  // per hidden layer, 2B x width
  std::vector<Buffer> target_hidden_;  // per hidden layer, B x width
  std::vector<Buffer> deltas_;         // per hidden layer, B x width: dL/dz
  Buffer online_q_;                    // 2B x actions
  Buffer target_q_;                    // B x actions
  Buffer targets_;                     // B
  Buffer q_gradient_;                  // B: dL/dQ(s_i, a_i)
  Buffer thin_gradient_;               // n_in x n_out, W^T layout
  Buffer partials_[2];                 // split networks: each row half's gradients (SplitBackwardRows)
  Buffer single_scratch_;
};

}  // namespace

std::unique_ptr<QLearner> MakeFastLearner(const MlpShape& shape,
                                          const LearnerHyperparameters& hyperparameters,
                                          const LearnerState& initial_state) {
  return std::make_unique<FastLearner>(shape, hyperparameters, initial_state, 1);
}

std::unique_ptr<QLearner> MakeFastLearnerOnThreads(const MlpShape& shape,
                                                   const LearnerHyperparameters& hyperparameters,
                                                   const LearnerState& initial_state, int threads) {
  return std::make_unique<FastLearner>(shape, hyperparameters, initial_state, threads);
}

}  // namespace bestserve
