#include "router/lib/packed_mlp.h"

#include <algorithm>
#include <cstring>

// One copy of each kernel per instruction set, chosen once by the loader (an ifunc). The
// vector types below are GCC vector extensions: 16 floats lower to one AVX-512 register, two
// AVX2 registers or four SSE registers, with the same element-wise arithmetic in each.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define BESTSERVE_ROUTER_MULTIVERSIONED __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define BESTSERVE_ROUTER_MULTIVERSIONED
#endif
#define BESTSERVE_ROUTER_INLINE inline __attribute__((always_inline))

namespace bestserve {
namespace {

typedef float V16 __attribute__((vector_size(64)));
typedef float V8 __attribute__((vector_size(32)));

BESTSERVE_ROUTER_INLINE V16 Load16(const float* p) {
  V16 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
BESTSERVE_ROUTER_INLINE void Store16(float* p, V16 v) { std::memcpy(p, &v, sizeof(v)); }
BESTSERVE_ROUTER_INLINE V8 Load8(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
// Sixteen copies of x, by a shuffle. (V16{} + x is a real addition: it costs an instruction and
// turns -0 into +0, which the reference arithmetic does not.)
BESTSERVE_ROUTER_INLINE V16 Broadcast16(float x) {
  const V16 v = {x};
  return __builtin_shufflevector(v, v, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}

// The reference tree of router/policy/mlp.h over eight lanes.
BESTSERVE_ROUTER_INLINE V16 Tree(const V16* lane) {
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}
BESTSERVE_ROUTER_INLINE V16 Relu(V16 v) { return v < V16{} ? V16{} : v; }

// The eight lanes of 16 outputs (one block of a wide layer's packed weights) for inputs x:
// lane j sums the products of inputs j, j+8, ... in order, the first product assigned.
// kIn > 0: the input count as a compile-time constant (loops unrolled, lanes in registers).
template <int kIn = 0>
BESTSERVE_ROUTER_INLINE void BlockLanes(const float* column, int runtime_inputs, const float* x, V16* lane) {
  const int inputs = kIn > 0 ? kIn : runtime_inputs;
  constexpr size_t stride = 16;
  if (inputs >= kDotLanes) {
#pragma GCC unroll 8
    for (int j = 0; j < kDotLanes; ++j) lane[j] = Load16(column + j * stride) * Broadcast16(x[j]);
  } else {
#pragma GCC unroll 8
    for (int j = 0; j < kDotLanes; ++j) lane[j] = j < inputs ? Load16(column + j * stride) * Broadcast16(x[j]) : V16{};
  }
  int k = kDotLanes;
  for (; k + kDotLanes <= inputs; k += kDotLanes) {
#pragma GCC unroll 8
    for (int j = 0; j < kDotLanes; ++j) {
      lane[j] += Load16(column + static_cast<size_t>(k + j) * stride) * Broadcast16(x[k + j]);
    }
  }
  for (int j = 0; k + j < inputs; ++j) {
    lane[j] += Load16(column + static_cast<size_t>(k + j) * stride) * Broadcast16(x[k + j]);
  }
}

// BlockLanes of two neighbouring blocks at once: each broadcast input serves 32 outputs, and the
// sixteen independent chains keep both vector adders busy (one block's eight chains are latency
// bound). Precondition: inputs >= 8.
template <int kIn = 0>
BESTSERVE_ROUTER_INLINE void PairLanes(const float* column, int runtime_inputs, const float* x, V16* a, V16* b) {
  const int inputs = kIn > 0 ? kIn : runtime_inputs;
  constexpr size_t stride = 16;
  const float* second = column + static_cast<size_t>(inputs) * stride;
#pragma GCC unroll 8
  for (int j = 0; j < kDotLanes; ++j) {
    const V16 xj = Broadcast16(x[j]);
    a[j] = Load16(column + j * stride) * xj;
    b[j] = Load16(second + j * stride) * xj;
  }
  int k = kDotLanes;
  for (; k + kDotLanes <= inputs; k += kDotLanes) {
#pragma GCC unroll 8
    for (int j = 0; j < kDotLanes; ++j) {
      const size_t at = static_cast<size_t>(k + j) * stride;
      const V16 xj = Broadcast16(x[k + j]);
      a[j] += Load16(column + at) * xj;
      b[j] += Load16(second + at) * xj;
    }
  }
  for (int j = 0; k + j < inputs; ++j) {
    const size_t at = static_cast<size_t>(k + j) * stride;
    const V16 xj = Broadcast16(x[k + j]);
    a[j] += Load16(column + at) * xj;
    b[j] += Load16(second + at) * xj;
  }
}

// Sixteen outputs per register. w: blocks of 16 outputs, each [input][16] (contiguous, so a block
// streams through the cache in order), padded a multiple of 16, x: inputs floats.
BESTSERVE_ROUTER_MULTIVERSIONED
void WideLayer(const float* w, const float* bias, int inputs, int padded, bool relu, const float* x,
               float* z) {
  const size_t block = static_cast<size_t>(inputs) * 16;
  int o = 0;
  for (; inputs >= kDotLanes && o + 32 <= padded; o += 32) {
    V16 a[kDotLanes], b[kDotLanes];
    PairLanes(w + static_cast<size_t>(o) * static_cast<size_t>(inputs), inputs, x, a, b);
    const V16 va = Tree(a) + Load16(bias + o);
    const V16 vb = Tree(b) + Load16(bias + o + 16);
    Store16(z + o, relu ? Relu(va) : va);
    Store16(z + o + 16, relu ? Relu(vb) : vb);
  }
  for (; o < padded; o += 16) {
    V16 lane[kDotLanes];
    BlockLanes(w + static_cast<size_t>(o / 16) * block, inputs, x, lane);
    const V16 v = Tree(lane) + Load16(bias + o);
    Store16(z + o, relu ? Relu(v) : v);
  }
}

// The reference tree and bias of one output whose eight lanes are in a register.
BESTSERVE_ROUTER_INLINE float Finish(V8 lanes, const float* row, const float* x, int k, int inputs, float bias) {
  float l[kDotLanes];
  std::memcpy(l, &lanes, sizeof(l));
#pragma GCC unroll 8
  for (int j = 0; k + j < inputs; ++j) l[j] += row[k + j] * x[k + j];
  return (((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))) + bias;
}

// One 8-lane register per output, four outputs interleaved. w: [padded][inputs] (padded a
// multiple of 4, rows past the real outputs zero), inputs >= 8.
BESTSERVE_ROUTER_MULTIVERSIONED
void NarrowLayer(const float* w, const float* bias, int inputs, int padded, bool relu, const float* x,
                 float* z) {
  const size_t n = static_cast<size_t>(inputs);
  for (int o = 0; o < padded; o += 4) {
    const float* r0 = w + static_cast<size_t>(o) * n;
    const float* r1 = r0 + n;
    const float* r2 = r1 + n;
    const float* r3 = r2 + n;
    V8 xv = Load8(x);
    V8 a0 = Load8(r0) * xv;
    V8 a1 = Load8(r1) * xv;
    V8 a2 = Load8(r2) * xv;
    V8 a3 = Load8(r3) * xv;
    int k = kDotLanes;
    for (; k + kDotLanes <= inputs; k += kDotLanes) {
      xv = Load8(x + k);
      a0 += Load8(r0 + k) * xv;
      a1 += Load8(r1 + k) * xv;
      a2 += Load8(r2 + k) * xv;
      a3 += Load8(r3 + k) * xv;
    }
    const float v[4] = {Finish(a0, r0, x, k, inputs, bias[o]), Finish(a1, r1, x, k, inputs, bias[o + 1]),
                        Finish(a2, r2, x, k, inputs, bias[o + 2]), Finish(a3, r3, x, k, inputs, bias[o + 3])};
    for (int i = 0; i < 4; ++i) z[o + i] = relu && v[i] < 0.0f ? 0.0f : v[i];
  }
}

// A wide hidden layer (ReLU) and the narrow output layer after it in one pass: each block of 16
// hidden units, once computed, feeds the outputs' lanes at once (units k..k+7 are lanes 0..7 of
// step k/8, in order), so the output layer's serial lane chains overlap the hidden layer's work
// instead of following it. hidden: the wide layer's packed weights, `units` outputs (a multiple
// of 16, so no padded unit ever adds a product), out: [outputs][units] rows, at most kMaxFused
// outputs. The same floats as WideLayer then NarrowLayer.
constexpr int kMaxFused = 4;

BESTSERVE_ROUTER_INLINE V8 LowHalf(V16 v) { return __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7); }
BESTSERVE_ROUTER_INLINE V8 HighHalf(V16 v) { return __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15); }

// The output lanes' step for hidden units o..o+15 (in a register): units o..o+7, then o+8..o+15.
template <int kOut>
BESTSERVE_ROUTER_INLINE void AccumulateBlock(V8* acc, const float* out, size_t n, int o, V16 h) {
  const V8 halves[2] = {LowHalf(h), HighHalf(h)};
#pragma GCC unroll 2
  for (int s = 0; s < 2; ++s) {
#pragma GCC unroll 4
    for (int a = 0; a < kOut; ++a) {
      const V8 p = Load8(out + static_cast<size_t>(a) * n + static_cast<size_t>(o + 8 * s)) * halves[s];
      acc[a] = o + 8 * s == 0 ? p : acc[a] + p;
    }
  }
}

// The paper's case with the task known: 8 inputs, the first four a one-hot whose half of each
// hidden unit's tree, ((l0 + l1) + (l2 + l3)), is read from `left` (PackedMlp's table row of
// the task); the other half, ((l4 + l5) + (l6 + l7)), computed as the reference does.
template <int kOut>
BESTSERVE_ROUTER_INLINE void FusedOneHotBody(const float* hidden, const float* hidden_bias, const float* left,
                                             int units, const float* out, const float* out_bias, const float* x,
                                             float* q) {
  V8 acc[kOut] = {};
  constexpr size_t kBlock = static_cast<size_t>(kDotLanes) * 16;
  const size_t n = static_cast<size_t>(units);
  const V16 x4 = Broadcast16(x[4]), x5 = Broadcast16(x[5]), x6 = Broadcast16(x[6]), x7 = Broadcast16(x[7]);
  for (int o = 0; o < units; o += 16) {
    const float* w = hidden + static_cast<size_t>(o / 16) * kBlock;
    const V16 right = (Load16(w + 4 * 16) * x4 + Load16(w + 5 * 16) * x5) +
                      (Load16(w + 6 * 16) * x6 + Load16(w + 7 * 16) * x7);
    AccumulateBlock<kOut>(acc, out, n, o, Relu((Load16(left + o) + right) + Load16(hidden_bias + o)));
  }
#pragma GCC unroll 4
  for (int a = 0; a < kOut; ++a) q[a] = Finish(acc[a], nullptr, nullptr, units, units, out_bias[a]);
}

BESTSERVE_ROUTER_MULTIVERSIONED
void FusedOneHot(const float* hidden, const float* hidden_bias, const float* left, int units, const float* out,
                 const float* out_bias, int outputs, const float* x, float* q) {
  switch (outputs) {
    case 1: FusedOneHotBody<1>(hidden, hidden_bias, left, units, out, out_bias, x, q); return;
    case 2: FusedOneHotBody<2>(hidden, hidden_bias, left, units, out, out_bias, x, q); return;
    case 3: FusedOneHotBody<3>(hidden, hidden_bias, left, units, out, out_bias, x, q); return;
    default: FusedOneHotBody<kMaxFused>(hidden, hidden_bias, left, units, out, out_bias, x, q); return;
  }
}

template <int kOut, int kIn>
BESTSERVE_ROUTER_INLINE void FusedBody(const float* hidden, const float* hidden_bias, int inputs, int units,
                                       const float* out, const float* out_bias, const float* x, float* q) {
  V8 acc[kOut] = {};
  const size_t block = static_cast<size_t>(inputs) * 16;
  const size_t n = static_cast<size_t>(units);
  int o = 0;
  if (inputs >= kDotLanes) {
    for (; o + 32 <= units; o += 32) {
      V16 a[kDotLanes], b[kDotLanes];
      PairLanes<kIn>(hidden + static_cast<size_t>(o / 16) * block, inputs, x, a, b);
      AccumulateBlock<kOut>(acc, out, n, o, Relu(Tree(a) + Load16(hidden_bias + o)));
      AccumulateBlock<kOut>(acc, out, n, o + 16, Relu(Tree(b) + Load16(hidden_bias + o + 16)));
    }
  }
  for (; o < units; o += 16) {
    V16 lane[kDotLanes];
    BlockLanes<kIn>(hidden + static_cast<size_t>(o / 16) * block, inputs, x, lane);
    AccumulateBlock<kOut>(acc, out, n, o, Relu(Tree(lane) + Load16(hidden_bias + o)));
  }
#pragma GCC unroll 4
  for (int a = 0; a < kOut; ++a) q[a] = Finish(acc[a], nullptr, nullptr, units, units, out_bias[a]);
}

BESTSERVE_ROUTER_MULTIVERSIONED
void FusedWideNarrow(const float* hidden, const float* hidden_bias, int inputs, int units, const float* out,
                     const float* out_bias, int outputs, const float* x, float* q) {
  // The paper's networks take 8 inputs (paper-v1 observations): that case gets its own copy.
  if (inputs == kDotLanes) {
    switch (outputs) {
      case 1: FusedBody<1, kDotLanes>(hidden, hidden_bias, inputs, units, out, out_bias, x, q); return;
      case 2: FusedBody<2, kDotLanes>(hidden, hidden_bias, inputs, units, out, out_bias, x, q); return;
      case 3: FusedBody<3, kDotLanes>(hidden, hidden_bias, inputs, units, out, out_bias, x, q); return;
      default: FusedBody<kMaxFused, kDotLanes>(hidden, hidden_bias, inputs, units, out, out_bias, x, q); return;
    }
  }
  switch (outputs) {
    case 1: FusedBody<1, 0>(hidden, hidden_bias, inputs, units, out, out_bias, x, q); return;
    case 2: FusedBody<2, 0>(hidden, hidden_bias, inputs, units, out, out_bias, x, q); return;
    case 3: FusedBody<3, 0>(hidden, hidden_bias, inputs, units, out, out_bias, x, q); return;
    default: FusedBody<kMaxFused, 0>(hidden, hidden_bias, inputs, units, out, out_bias, x, q); return;
  }
}

// Columns (the batch kernels): sixteen observations per register. x: [input][16], z: [output][16].
// Few inputs (the paper's 8): all inputs stay in registers while the outputs stream by, one
// broadcast weight per product; each lane holds at most one product.
BESTSERVE_ROUTER_MULTIVERSIONED
void ColumnLayerFewInputs(const float* rows, const float* bias, int inputs, int outputs, bool relu,
                          const float* x, float* z) {
  constexpr size_t kC = PackedMlp::kColumns;
  V16 xr[kDotLanes];
  #pragma GCC unroll 8
  for (int j = 0; j < kDotLanes; ++j) xr[j] = j < inputs ? Load16(x + static_cast<size_t>(j) * kC) : V16{};
  for (int o = 0; o < outputs; ++o) {
    const float* w = rows + static_cast<size_t>(o) * static_cast<size_t>(inputs);
    V16 lane[kDotLanes];
    #pragma GCC unroll 8
    for (int j = 0; j < kDotLanes; ++j) lane[j] = j < inputs ? xr[j] * Broadcast16(w[j]) : V16{};
    const V16 v = Tree(lane) + Broadcast16(bias[o]);
    Store16(z + static_cast<size_t>(o) * kC, relu ? Relu(v) : v);
  }
}

// kOut outputs at once: each load of an input row serves kOut outputs (8 * kOut accumulators).
template <int kOut>
BESTSERVE_ROUTER_INLINE void ColumnOutputs(const float* rows, const float* bias, int inputs, int o, bool relu,
                                           const float* x, float* z) {
  constexpr size_t kC = PackedMlp::kColumns;
  const size_t n = static_cast<size_t>(inputs);
  const float* w = rows + static_cast<size_t>(o) * n;
  V16 lane[kOut][kDotLanes];
  #pragma GCC unroll 8
  for (int j = 0; j < kDotLanes; ++j) {
    const V16 xj = j < inputs ? Load16(x + static_cast<size_t>(j) * kC) : V16{};
    #pragma GCC unroll 8
    for (int a = 0; a < kOut; ++a) lane[a][j] = j < inputs ? xj * Broadcast16(w[static_cast<size_t>(a) * n + j]) : V16{};
  }
  int k = kDotLanes;
  for (; k + kDotLanes <= inputs; k += kDotLanes) {
    #pragma GCC unroll 8
    for (int j = 0; j < kDotLanes; ++j) {
      const V16 xj = Load16(x + static_cast<size_t>(k + j) * kC);
      #pragma GCC unroll 8
      for (int a = 0; a < kOut; ++a) lane[a][j] += xj * Broadcast16(w[static_cast<size_t>(a) * n + static_cast<size_t>(k + j)]);
    }
  }
  #pragma GCC unroll 8
  for (int j = 0; k + j < inputs; ++j) {
    const V16 xj = Load16(x + static_cast<size_t>(k + j) * kC);
    #pragma GCC unroll 8
    for (int a = 0; a < kOut; ++a) lane[a][j] += xj * Broadcast16(w[static_cast<size_t>(a) * n + static_cast<size_t>(k + j)]);
  }
  #pragma GCC unroll 8
  for (int a = 0; a < kOut; ++a) {
    const V16 v = Tree(lane[a]) + Broadcast16(bias[o + a]);
    Store16(z + static_cast<size_t>(o + a) * kC, relu ? Relu(v) : v);
  }
}

BESTSERVE_ROUTER_MULTIVERSIONED
void ColumnLayer(const float* rows, const float* bias, int inputs, int outputs, bool relu, const float* x,
                 float* z) {
  int o = 0;
  for (; o + 3 <= outputs; o += 3) ColumnOutputs<3>(rows, bias, inputs, o, relu, x, z);
  for (; o < outputs; ++o) ColumnOutputs<1>(rows, bias, inputs, o, relu, x, z);
}

int RoundUp(int value, int multiple) { return (value + multiple - 1) / multiple * multiple; }

}  // namespace

size_t PackedMlp::Reserve(size_t floats) {
  const size_t at = static_cast<size_t>(RoundUp(static_cast<int>(packed_.size()), kColumns));
  packed_.resize(at + floats, 0.0f);
  return at;
}

PackedMlp::PackedMlp(const MlpShape& shape, const float* parameters, int one_hot_inputs)
    : shape_(shape) {
  for (int l = 0; l < shape.num_layers(); ++l) {
    Layer layer;
    layer.inputs = shape.LayerInputs(l);
    layer.outputs = shape.LayerOutputs(l);
    layer.relu = l + 1 < shape.num_layers();
    // Narrow layers need a full first group of lanes; few outputs would waste a 16-wide register.
    layer.wide = layer.outputs >= 16 || layer.inputs < kDotLanes;
    layer.padded_outputs = RoundUp(layer.outputs, layer.wide ? 16 : 4);
    const size_t in = static_cast<size_t>(layer.inputs);
    const size_t padded = static_cast<size_t>(layer.padded_outputs);
    const float* w = parameters + shape.WeightOffset(l);
    const float* b = parameters + shape.BiasOffset(l);
    layer.weights = Reserve(in * padded);
    for (size_t o = 0; o < static_cast<size_t>(layer.outputs); ++o) {
      for (size_t k = 0; k < in; ++k) {
        const size_t at = layer.wide ? (o / 16) * in * 16 + k * 16 + o % 16 : o * in + k;
        packed_[layer.weights + at] = w[o * in + k];
      }
    }
    layer.bias = Reserve(padded);
    std::copy(b, b + layer.outputs, packed_.begin() + static_cast<ptrdiff_t>(layer.bias));
    layer.rows = Reserve(in * static_cast<size_t>(layer.outputs));
    std::copy(w, w + in * static_cast<size_t>(layer.outputs), packed_.begin() + static_cast<ptrdiff_t>(layer.rows));
    max_padded_width_ = std::max(max_padded_width_, layer.padded_outputs);
    layers_.push_back(layer);
  }
  // The last hidden layer and the output layer run as one pass (FusedWideNarrow) when the hidden
  // layer fills whole blocks of 16 and the output layer is narrow and small.
  const size_t n = layers_.size();
  fuse_last_ = n >= 2 && layers_[n - 2].wide && layers_[n - 2].outputs % 16 == 0 && !layers_[n - 1].wide &&
               layers_[n - 1].outputs <= kMaxFused;
  if (one_hot_inputs == 4 && n == 2 && fuse_last_ && shape.input_size == kDotLanes) {
    const size_t units = static_cast<size_t>(layers_[0].outputs);
    one_hot_table_ = Reserve(4 * units);
    const float* w = parameters + shape.WeightOffset(0);
    for (size_t hot = 0; hot < 4; ++hot) {
      for (size_t o = 0; o < units; ++o) {
        float l[4];
        for (size_t j = 0; j < 4; ++j) l[j] = w[o * kDotLanes + j] * (j == hot ? 1.0f : 0.0f);
        packed_[one_hot_table_ + hot * units + o] = (l[0] + l[1]) + (l[2] + l[3]);
      }
    }
  }
}

void PackedMlp::Forward(const float* observation, float* q_values, float* scratch, int hot_input) const {
  if (one_hot_table_ != static_cast<size_t>(-1) && hot_input >= 0 && hot_input < 4) {
    const Layer& first = layers_[0];
    const Layer& last = layers_[1];
    FusedOneHot(packed_.data() + first.weights, packed_.data() + first.bias,
                packed_.data() + one_hot_table_ + static_cast<size_t>(hot_input) * static_cast<size_t>(first.outputs),
                first.outputs, packed_.data() + last.weights, packed_.data() + last.bias, last.outputs, observation,
                q_values);
    return;
  }
  const float* x = observation;
  const size_t count = layers_.size();
  for (size_t l = 0; l < count; ++l) {
    const Layer& layer = layers_[l];
    const float* w = packed_.data() + layer.weights;
    const float* b = packed_.data() + layer.bias;
    if (fuse_last_ && l + 2 == count) {
      const Layer& last = layers_[l + 1];
      FusedWideNarrow(w, b, layer.inputs, layer.outputs, packed_.data() + last.weights, packed_.data() + last.bias,
                      last.outputs, x, q_values);
      return;
    }
    float* z = scratch + (l % 2 == 0 ? 0 : max_padded_width_);
    if (layer.wide) {
      WideLayer(w, b, layer.inputs, layer.padded_outputs, layer.relu, x, z);
    } else {
      NarrowLayer(w, b, layer.inputs, layer.padded_outputs, layer.relu, x, z);
    }
    x = z;
  }
  std::copy(x, x + shape_.num_actions, q_values);
}

void PackedMlp::ForwardColumns(const float* observations, float* q_values, float* scratch) const {
  const size_t half = static_cast<size_t>(shape_.MaxWidth()) * kColumns;
  const float* x = observations;
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    float* z = l + 1 == layers_.size() ? q_values : scratch + (l % 2 == 0 ? 0 : half);
    const float* rows = packed_.data() + layer.rows;
    const float* bias = packed_.data() + layer.bias;
    if (layer.inputs <= kDotLanes) {
      ColumnLayerFewInputs(rows, bias, layer.inputs, layer.outputs, layer.relu, x, z);
    } else {
      ColumnLayer(rows, bias, layer.inputs, layer.outputs, layer.relu, x, z);
    }
    x = z;
  }
}

}  // namespace bestserve
