#include "router/policy/mlp.h"

#include <algorithm>
#include <stdexcept>

namespace bestserve {

int MlpShape::LayerInputs(int layer) const {
  return layer == 0 ? input_size : hidden_sizes[static_cast<size_t>(layer) - 1];
}

int MlpShape::LayerOutputs(int layer) const {
  return layer == num_layers() - 1 ? num_actions : hidden_sizes[static_cast<size_t>(layer)];
}

size_t MlpShape::WeightOffset(int layer) const {
  size_t offset = 0;
  for (int l = 0; l < layer; ++l) {
    offset += static_cast<size_t>(LayerInputs(l) + 1) * static_cast<size_t>(LayerOutputs(l));
  }
  return offset;
}

size_t MlpShape::BiasOffset(int layer) const {
  return WeightOffset(layer) +
         static_cast<size_t>(LayerInputs(layer)) * static_cast<size_t>(LayerOutputs(layer));
}

size_t MlpShape::NumParameters() const { return WeightOffset(num_layers()); }

int MlpShape::MaxWidth() const {
  int width = std::max(input_size, num_actions);
  for (int h : hidden_sizes) width = std::max(width, h);
  return width;
}

std::string MlpShape::Problem() const {
  if (input_size <= 0) return "input_size must be > 0, got " + std::to_string(input_size);
  if (num_actions <= 0) return "num_actions must be > 0, got " + std::to_string(num_actions);
  for (size_t i = 0; i < hidden_sizes.size(); ++i) {
    if (hidden_sizes[i] <= 0) {
      return "hidden_sizes[" + std::to_string(i) + "] must be > 0, got " +
             std::to_string(hidden_sizes[i]);
    }
  }
  return "";
}

std::string MlpShape::ToString() const {
  std::string text = std::to_string(input_size);
  for (int h : hidden_sizes) text.append("-").append(std::to_string(h));
  return text.append("-").append(std::to_string(num_actions));
}

size_t ForwardScratchSize(const MlpShape& shape) {
  return 2 * static_cast<size_t>(shape.MaxWidth());
}

void MlpForwardOne(const MlpShape& shape, const float* parameters, const float* observation,
                   float* q_values, float* scratch) {
  const int layers = shape.num_layers();
  const size_t half = static_cast<size_t>(shape.MaxWidth());
  const float* in = observation;
  for (int l = 0; l < layers; ++l) {
    const int n_in = shape.LayerInputs(l);
    const int n_out = shape.LayerOutputs(l);
    const float* weight = parameters + shape.WeightOffset(l);
    const float* bias = parameters + shape.BiasOffset(l);
    const bool last = l == layers - 1;
    float* out = last ? q_values : scratch + (l % 2 == 0 ? 0 : half);
    for (int o = 0; o < n_out; ++o) {
      const float z =
          LaneDot(weight + static_cast<size_t>(o) * static_cast<size_t>(n_in), in, n_in) + bias[o];
      out[o] = last || !(z < 0.0f) ? z : 0.0f;
    }
    in = out;
  }
}

MlpPolicy::MlpPolicy(MlpShape shape, std::vector<float> parameters)
    : shape_(std::move(shape)), parameters_(std::move(parameters)) {
  const std::string problem = shape_.Problem();
  if (!problem.empty()) throw std::invalid_argument("MlpPolicy: " + problem);
  if (parameters_.size() != shape_.NumParameters()) {
    throw std::invalid_argument("MlpPolicy: network " + shape_.ToString() + " needs " +
                                std::to_string(shape_.NumParameters()) + " parameters, got " +
                                std::to_string(parameters_.size()));
  }
}

int MlpPolicy::Act(const float* observation, float* q_values, float* scratch) const {
  QValues(observation, q_values, scratch);
  return GreedyAction(q_values, shape_.num_actions);
}

int MlpPolicy::Act(const std::vector<float>& observation) const {
  if (observation.size() != static_cast<size_t>(shape_.input_size)) {
    throw std::invalid_argument("MlpPolicy::Act: expected " + std::to_string(shape_.input_size) +
                                " observation values, got " + std::to_string(observation.size()));
  }
  std::vector<float> scratch(scratch_size());
  std::vector<float> q(static_cast<size_t>(shape_.num_actions));
  return Act(observation.data(), q.data(), scratch.data());
}

}  // namespace bestserve
