// The Q-network's shape, its canonical flat parameter layout, and the single-observation forward
// pass that acting and the deployed router share.
//
// Standard library only (no Eigen, fmt or torch), so the router library of the export issue can
// compile this file as is and make exactly the trainer's greedy decisions.
//
// | piece              | meaning                                                                 |
// |--------------------|-------------------------------------------------------------------------|
// | MlpShape           | input_size -> hidden_sizes... -> num_actions, ReLU after each hidden    |
// | canonical layout   | for each linear layer l in order: weight (out x in, row-major, the     |
// |                    | layout of torch.nn.Linear.weight), then bias (out)                      |
// | LaneDot            | the reference dot product (below); MlpForwardOne: z = LaneDot + b[o]    |
// | GreedyAction       | argmax of the Q-values, ties to the lowest action index                 |
//
// Reference arithmetic of one layer output (float32, each product rounded before it is added,
// no fused multiply-add):
//     lane[j] = W[o][j] * x[j], then + W[o][k] * x[k] for k = j+8, j+16, ... in order (j < 8;
//               a lane without any product is +0)
//     z       = (((lane0 + lane1) + (lane2 + lane3)) + ((lane4 + lane5) + (lane6 + lane7))) + b[o]
//     hidden units: z < 0 ? 0 : z; outputs: z
// Eight independent lanes let a compiler vectorize the dot product (8 floats = one AVX2
// register) and let the trainer's batched kernels vectorize across outputs instead, with the
// same bits. Compile users of this arithmetic with -ffp-contract=off (the default x86-64 target
// has no FMA, so plain builds already comply) to keep those bits across machines.
//
// The paper's policy is a "2-layer MLP with hidden size 256"; bestserve reads that as two linear
// layers with one hidden layer of 256 units: hidden_sizes = {256}. The other reading, two hidden
// layers, is hidden_sizes = {256, 256}.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bestserve {

struct MlpShape {
  int input_size = 0;
  std::vector<int> hidden_sizes;  // one entry per hidden layer
  int num_actions = 0;

  // Number of linear layers (hidden layers + the output layer).
  int num_layers() const { return static_cast<int>(hidden_sizes.size()) + 1; }
  // Inputs and outputs of linear layer `layer` (0-based). Precondition: layer < num_layers().
  int LayerInputs(int layer) const;
  int LayerOutputs(int layer) const;
  // Offsets of layer `layer`'s weight and bias in the canonical flat parameter vector.
  size_t WeightOffset(int layer) const;
  size_t BiasOffset(int layer) const;
  size_t NumParameters() const;
  // The widest layer output (scratch sizing).
  int MaxWidth() const;
  // Empty when the shape is usable, else what is wrong ("input_size must be > 0, got 0").
  std::string Problem() const;
  // "8-256-3".
  std::string ToString() const;

  bool operator==(const MlpShape& other) const = default;
};

inline constexpr int kDotLanes = 8;

// The reference dot product of `n` weights and inputs (see the header comment).
inline float LaneDot(const float* weights, const float* inputs, int n) {
  float lane[kDotLanes] = {};
  const int first = n < kDotLanes ? n : kDotLanes;
  for (int j = 0; j < first; ++j) lane[j] = weights[j] * inputs[j];
  int k = kDotLanes;
  for (; k + kDotLanes <= n; k += kDotLanes) {
    for (int j = 0; j < kDotLanes; ++j) lane[j] += weights[k + j] * inputs[k + j];
  }
  for (int j = 0; k + j < n; ++j) lane[j] += weights[k + j] * inputs[k + j];
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// Floats of scratch MlpForwardOne needs for `shape`.
size_t ForwardScratchSize(const MlpShape& shape);

// Q-values of one observation: `observation` has shape.input_size floats, `q_values` receives
// shape.num_actions floats, `scratch` must hold ForwardScratchSize(shape) floats. `parameters`
// is the canonical flat vector. Allocates nothing, touches no shared state: safe to call from
// many threads at once with distinct scratch.
void MlpForwardOne(const MlpShape& shape, const float* parameters, const float* observation,
                   float* q_values, float* scratch);

// Index of the largest Q-value; ties go to the lowest index, NaN never wins.
// Precondition: num_actions > 0.
// Inline: the router's whole decision is about 100 ns, and a call here was a fifth of what
// remained outside the network.
inline int GreedyAction(const float* q_values, int num_actions) {
  int best = 0;
  for (int a = 1; a < num_actions; ++a) {
    // Strictly greater: ties keep the lower index (torch.argmax does the same), and a NaN
    // never replaces a number.
    if (q_values[a] > q_values[best] || (q_values[best] != q_values[best])) best = a;
  }
  return best;
}

// A greedy policy over fixed weights: what evaluation and the exported router run.
class MlpPolicy {
 public:
  // Precondition: shape.Problem() is empty and parameters.size() == shape.NumParameters().
  MlpPolicy(MlpShape shape, std::vector<float> parameters);

  const MlpShape& shape() const { return shape_; }
  const std::vector<float>& parameters() const { return parameters_; }
  size_t scratch_size() const { return ForwardScratchSize(shape_); }

  // Thread-safe and allocation-free with caller scratch of scratch_size() floats.
  void QValues(const float* observation, float* q_values, float* scratch) const {
    MlpForwardOne(shape_, parameters_.data(), observation, q_values, scratch);
  }
  // The greedy action for `observation`. `q_values` (num_actions floats) receives the Q-values.
  int Act(const float* observation, float* q_values, float* scratch) const;
  // Convenience: allocates its own scratch.
  int Act(const std::vector<float>& observation) const;

 private:
  MlpShape shape_;
  std::vector<float> parameters_;
};

}  // namespace bestserve
