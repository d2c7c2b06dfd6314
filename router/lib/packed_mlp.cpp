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
BESTSERVE_ROUTER_INLINE V16 Broadcast16(float x) { return V16{} + x; }

// The reference tree of router/policy/mlp.h over eight lanes.
BESTSERVE_ROUTER_INLINE V16 Tree(const V16* lane) {
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}
BESTSERVE_ROUTER_INLINE V16 Relu(V16 v) { return v < V16{} ? V16{} : v; }

// Sixteen outputs per register. w: blocks of 16 outputs, each [input][16] (contiguous, so a block
// streams through the cache in order), padded a multiple of 16, x: inputs floats.
BESTSERVE_ROUTER_MULTIVERSIONED
void WideLayer(const float* w, const float* bias, int inputs, int padded, bool relu, const float* x,
               float* z) {
  constexpr size_t stride = 16;
  for (int o = 0; o < padded; o += 16) {
    const float* column = w + static_cast<size_t>(o) * static_cast<size_t>(inputs);
    V16 lane[kDotLanes];
    for (int j = 0; j < kDotLanes; ++j) {
      lane[j] = j < inputs ? Load16(column + j * stride) * Broadcast16(x[j]) : V16{};
    }
    int k = kDotLanes;
    for (; k + kDotLanes <= inputs; k += kDotLanes) {
      for (int j = 0; j < kDotLanes; ++j) {
        lane[j] += Load16(column + static_cast<size_t>(k + j) * stride) * Broadcast16(x[k + j]);
      }
    }
    for (int j = 0; j < kDotLanes; ++j) {
      if (k + j < inputs) {
        lane[j] += Load16(column + static_cast<size_t>(k + j) * stride) * Broadcast16(x[k + j]);
      }
    }
    const V16 v = Tree(lane) + Load16(bias + o);
    Store16(z + o, relu ? Relu(v) : v);
  }
}

// The reference tree and bias of one output whose eight lanes are in a register.
BESTSERVE_ROUTER_INLINE float Finish(V8 lanes, const float* row, const float* x, int k, int inputs, float bias) {
  float l[kDotLanes];
  std::memcpy(l, &lanes, sizeof(l));
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

// Sixteen observations per register. rows: the canonical [output][input] weights, x: [input][16],
// z: [output][16].
BESTSERVE_ROUTER_MULTIVERSIONED
void ColumnLayer(const float* rows, const float* bias, int inputs, int outputs, bool relu, const float* x,
                 float* z) {
  constexpr size_t kC = PackedMlp::kColumns;
  for (int o = 0; o < outputs; ++o) {
    const float* w = rows + static_cast<size_t>(o) * static_cast<size_t>(inputs);
    V16 lane[kDotLanes];
    for (int j = 0; j < kDotLanes; ++j) {
      lane[j] = j < inputs ? Load16(x + j * kC) * Broadcast16(w[j]) : V16{};
    }
    int k = kDotLanes;
    for (; k + kDotLanes <= inputs; k += kDotLanes) {
      for (int j = 0; j < kDotLanes; ++j) {
        lane[j] += Load16(x + static_cast<size_t>(k + j) * kC) * Broadcast16(w[k + j]);
      }
    }
    for (int j = 0; j < kDotLanes; ++j) {
      if (k + j < inputs) lane[j] += Load16(x + static_cast<size_t>(k + j) * kC) * Broadcast16(w[k + j]);
    }
    const V16 v = Tree(lane) + Broadcast16(bias[o]);
    Store16(z + static_cast<size_t>(o) * kC, relu ? Relu(v) : v);
  }
}

int RoundUp(int value, int multiple) { return (value + multiple - 1) / multiple * multiple; }

}  // namespace

PackedMlp::PackedMlp(const MlpShape& shape, const float* parameters) : shape_(shape) {
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
    layer.weights = packed_.size();
    packed_.resize(packed_.size() + in * padded, 0.0f);
    for (size_t o = 0; o < static_cast<size_t>(layer.outputs); ++o) {
      for (size_t k = 0; k < in; ++k) {
        const size_t at = layer.wide ? (o / 16) * in * 16 + k * 16 + o % 16 : o * in + k;
        packed_[layer.weights + at] = w[o * in + k];
      }
    }
    layer.bias = packed_.size();
    packed_.resize(packed_.size() + padded, 0.0f);
    std::copy(b, b + layer.outputs, packed_.begin() + static_cast<ptrdiff_t>(layer.bias));
    layer.rows = packed_.size();
    packed_.insert(packed_.end(), w, w + in * static_cast<size_t>(layer.outputs));
    max_padded_width_ = std::max(max_padded_width_, layer.padded_outputs);
    layers_.push_back(layer);
  }
}

void PackedMlp::Forward(const float* observation, float* q_values, float* scratch) const {
  const float* x = observation;
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    float* z = scratch + (l % 2 == 0 ? 0 : max_padded_width_);
    const float* w = packed_.data() + layer.weights;
    const float* b = packed_.data() + layer.bias;
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
    ColumnLayer(packed_.data() + layer.rows, packed_.data() + layer.bias, layer.inputs, layer.outputs,
                layer.relu, x, z);
    x = z;
  }
}

}  // namespace bestserve
