// The deployed router's forward pass: the network of router/policy/mlp.h with its weights packed
// once at load for wide vector registers, and kernels compiled for AVX-512, AVX2 and the baseline
// x86-64 ISA, picked at run time (target_clones, as agent/learn/fast_learner.cpp does).
//
// Same bits as MlpForwardOne: every output keeps the reference's eight lanes (lane j sums the
// products of inputs j, j+8, ... in increasing order, first product assigned, lanes without a
// product +0), the same reduction tree, then the bias, then ReLU as z < 0 ? 0 : z. The vectors
// run across outputs (wide layers: 16 outputs per register, weights packed input-major per block of 16), across
// the lanes (narrow layers such as the 3 Q-values: one 8-lane register per output, four outputs
// interleaved; after a hidden layer of whole 16-output blocks the two run as one pass, each block
// of hidden units feeding the outputs' lanes as soon as it is computed) or across observations
// (the batch kernel: 16 observations per register, several outputs per pass over the inputs). No
// multiply-add is ever fused (-ffp-contract=off), so every ISA gives the same floats.
//
// Allocation-free and read-only after construction: any number of threads may call Forward and
// ForwardColumns at once, each with its own scratch.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

#include "router/policy/mlp.h"

namespace bestserve {

class PackedMlp {
 public:
  // Observations per batch kernel call: one 64-byte register of floats.
  static constexpr int kColumns = 16;

  PackedMlp() = default;
  // Precondition: shape.Problem() is empty; parameters holds shape.NumParameters() floats in the
  // canonical layout.
  //
  // one_hot_inputs: how many leading inputs are always a one-hot vector (the router's
  // observations begin with the task, one-hot over the tasks; 0: none). With four of them in a
  // network of 8 inputs whose one wide hidden layer fuses with the output layer (the paper's
  // 8-256-3), the left half of the reference tree of each hidden unit,
  // (w0 x0 + w1 x1) + (w2 x2 + w3 x3), takes one of four values, one per task: those are
  // tabulated here by the very same float operations, and Forward given the task reads them
  // instead of computing half of the hidden layer. Same bits (the products are w * 1 = w and
  // w * 0 = a signed zero, as in the reference).
  PackedMlp(const MlpShape& shape, const float* parameters, int one_hot_inputs = 0);

  const MlpShape& shape() const { return shape_; }

  // Q-values of one observation (shape().input_size floats) into q_values (num_actions floats).
  // scratch: scratch_floats() floats. hot_input: which of the one_hot_inputs is 1 (the others
  // 0), or -1 when unknown; the caller vouches that the observation says the same.
  void Forward(const float* observation, float* q_values, float* scratch, int hot_input = -1) const;
  size_t scratch_floats() const { return 2 * static_cast<size_t>(max_padded_width_); }

  // Q-values of kColumns observations at once, column-major: observations[k * kColumns + c] is
  // input k of observation c; q_values[a * kColumns + c] receives Q-value a of observation c.
  // scratch: column_scratch_floats() floats.
  void ForwardColumns(const float* observations, float* q_values, float* scratch) const;
  size_t column_scratch_floats() const {
    return 2 * static_cast<size_t>(shape_.MaxWidth()) * static_cast<size_t>(kColumns);
  }

 private:
  struct Layer {
    int inputs = 0;
    int outputs = 0;
    int padded_outputs = 0;  // wide: a multiple of 16; narrow: a multiple of 4
    bool wide = false;
    bool relu = false;
    size_t weights = 0;  // offset into packed_: wide [output/16][input][16], narrow [output][input]
    size_t bias = 0;     // offset into packed_: padded_outputs floats (zero padded)
    size_t rows = 0;     // offset into packed_: the canonical [output][input] rows and bias, for
                         // the batch kernel
  };

  // 64-byte aligned storage: every 16-float load of a block is then one cache line (unaligned,
  // each would straddle two).
  template <typename T>
  struct CacheLineAllocator {
    using value_type = T;
    CacheLineAllocator() = default;
    template <typename U>
    explicit CacheLineAllocator(const CacheLineAllocator<U>&) {}
    T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
    void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(64)); }
    bool operator==(const CacheLineAllocator&) const = default;
  };
  // Appends `floats` zeros at the next multiple of 16 floats (a cache line); returns their offset.
  size_t Reserve(size_t floats);

  MlpShape shape_;
  std::vector<Layer> layers_;
  std::vector<float, CacheLineAllocator<float>> packed_;
  int max_padded_width_ = 0;
  bool fuse_last_ = false;  // last hidden layer and output layer in one pass
  // Offset of the one-hot table ([hot input][padded hidden units]), or npos when not built.
  size_t one_hot_table_ = static_cast<size_t>(-1);
};

}  // namespace bestserve
