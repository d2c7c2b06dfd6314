#include "agent/learn/torch_learner.h"

#include <torch/torch.h>

#include "common/error.h"

namespace bestserve {
namespace {

class TorchLearner final : public QLearner {
 public:
  TorchLearner(const MlpShape& shape, const LearnerHyperparameters& hyperparameters,
               const LearnerState& state, torch::Device device)
      : shape_(shape), hp_(hyperparameters), device_(device) {
    BS_CHECK_MSG(shape_.Problem().empty(), "{}", shape_.Problem());
    for (int l = 0; l < shape_.num_layers(); ++l) {
      auto options = torch::nn::LinearOptions(shape_.LayerInputs(l), shape_.LayerOutputs(l));
      online_.push_back(torch::nn::Linear(options));
      target_.push_back(torch::nn::Linear(options));
      online_.back()->to(device_);
      target_.back()->to(device_);
      for (auto& p : target_.back()->parameters()) p.set_requires_grad(false);
    }
    std::vector<torch::Tensor> parameters;
    for (auto& layer : online_) {
      parameters.push_back(layer->weight);
      parameters.push_back(layer->bias);
    }
    optimizer_ = std::make_unique<torch::optim::Adam>(parameters,
                                                      torch::optim::AdamOptions(hp_.learning_rate)
                                                          .betas({hp_.adam_beta1, hp_.adam_beta2})
                                                          .eps(hp_.adam_eps)
                                                          .weight_decay(0.0)
                                                          .amsgrad(false));
    SetState(state);
  }

  const MlpShape& shape() const override { return shape_; }
  std::string backend_name() const override {
    return device_.is_cuda() ? "torch-cuda" : "torch-cpu";
  }

  void OnlineQValues(const float* observations, int count, float* q_values) override {
    torch::NoGradGuard no_grad;
    const torch::Tensor q =
        Forward(online_, Input(observations, count)).to(torch::kCPU).contiguous();
    std::memcpy(
        q_values, q.data_ptr<float>(),
        static_cast<size_t>(count) * static_cast<size_t>(shape_.num_actions) * sizeof(float));
  }

  double ComputeGradients(const TransitionBatch& batch, std::vector<float>* gradients) override {
    optimizer_->zero_grad();
    UpdateStats stats;
    torch::Tensor loss = Loss(batch, &stats);
    loss.backward();
    gradients->assign(shape_.NumParameters(), 0.0f);
    for (int l = 0; l < shape_.num_layers(); ++l) {
      CopyOut(online_[static_cast<size_t>(l)]->weight.grad(),
              gradients->data() + shape_.WeightOffset(l));
      CopyOut(online_[static_cast<size_t>(l)]->bias.grad(),
              gradients->data() + shape_.BiasOffset(l));
    }
    return stats.loss;
  }

  UpdateStats Update(const TransitionBatch& batch) override {
    optimizer_->zero_grad();
    UpdateStats stats;
    torch::Tensor loss = Loss(batch, &stats);
    loss.backward();
    optimizer_->step();
    return stats;
  }

  void SyncTarget() override {
    torch::NoGradGuard no_grad;
    for (size_t l = 0; l < online_.size(); ++l) {
      target_[l]->weight.copy_(online_[l]->weight);
      target_[l]->bias.copy_(online_[l]->bias);
    }
  }

  LearnerState GetState() const override {
    const size_t n = shape_.NumParameters();
    LearnerState state;
    state.online.assign(n, 0.0f);
    state.target.assign(n, 0.0f);
    state.adam.first_moment.assign(n, 0.0f);
    state.adam.second_moment.assign(n, 0.0f);
    for (int l = 0; l < shape_.num_layers(); ++l) {
      const auto& on = online_[static_cast<size_t>(l)];
      const auto& tg = target_[static_cast<size_t>(l)];
      CopyOut(on->weight, state.online.data() + shape_.WeightOffset(l));
      CopyOut(on->bias, state.online.data() + shape_.BiasOffset(l));
      CopyOut(tg->weight, state.target.data() + shape_.WeightOffset(l));
      CopyOut(tg->bias, state.target.data() + shape_.BiasOffset(l));
      const std::pair<const torch::Tensor*, size_t> tensors[] = {
          {&on->weight, shape_.WeightOffset(l)}, {&on->bias, shape_.BiasOffset(l)}};
      for (const auto& [tensor, offset] : tensors) {
        const auto* adam = AdamStateOf(*tensor);
        if (adam == nullptr) continue;  // no step taken yet: zero moments
        CopyOut(adam->exp_avg(), state.adam.first_moment.data() + offset);
        CopyOut(adam->exp_avg_sq(), state.adam.second_moment.data() + offset);
        state.adam.step = adam->step();
      }
    }
    return state;
  }

  void SetState(const LearnerState& state) override {
    const size_t n = shape_.NumParameters();
    BS_CHECK(state.online.size() == n && state.target.size() == n &&
             state.adam.first_moment.size() == n && state.adam.second_moment.size() == n);
    torch::NoGradGuard no_grad;
    auto& optimizer_state = optimizer_->state();
    optimizer_state.clear();
    for (int l = 0; l < shape_.num_layers(); ++l) {
      auto& on = online_[static_cast<size_t>(l)];
      auto& tg = target_[static_cast<size_t>(l)];
      CopyIn(state.online.data() + shape_.WeightOffset(l), on->weight);
      CopyIn(state.online.data() + shape_.BiasOffset(l), on->bias);
      CopyIn(state.target.data() + shape_.WeightOffset(l), tg->weight);
      CopyIn(state.target.data() + shape_.BiasOffset(l), tg->bias);
      if (state.adam.step == 0) continue;  // torch creates fresh state on the first step
      const std::pair<torch::Tensor*, size_t> tensors[] = {{&on->weight, shape_.WeightOffset(l)},
                                                           {&on->bias, shape_.BiasOffset(l)}};
      for (const auto& [tensor, offset] : tensors) {
        auto adam = std::make_unique<torch::optim::AdamParamState>();
        adam->step(state.adam.step);
        adam->exp_avg(torch::empty_like(*tensor));
        adam->exp_avg_sq(torch::empty_like(*tensor));
        CopyIn(state.adam.first_moment.data() + offset, adam->exp_avg());
        CopyIn(state.adam.second_moment.data() + offset, adam->exp_avg_sq());
        optimizer_state[StateKey(*tensor)] = std::move(adam);
      }
    }
  }

 private:
  // torch::optim keys per-parameter state by the address of the tensor's implementation.
  static std::string StateKey(const torch::Tensor& parameter) {
    return c10::guts::to_string(parameter.unsafeGetTensorImpl());
  }

  const torch::optim::AdamParamState* AdamStateOf(const torch::Tensor& parameter) const {
    const auto& optimizer_state = optimizer_->state();
    auto it = optimizer_state.find(StateKey(parameter));
    if (it == optimizer_state.end()) return nullptr;
    return static_cast<const torch::optim::AdamParamState*>(it->second.get());
  }

  static void CopyOut(const torch::Tensor& tensor, float* out) {
    const torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
    std::memcpy(out, cpu.data_ptr<float>(), static_cast<size_t>(cpu.numel()) * sizeof(float));
  }

  static void CopyIn(const float* values, const torch::Tensor& tensor) {
    torch::NoGradGuard no_grad;
    // from_blob wraps without copying; copy_ moves the values into the (maybe CUDA) tensor.
    const torch::Tensor source =
        torch::from_blob(const_cast<float*>(values), tensor.sizes(), torch::kFloat32);
    const_cast<torch::Tensor&>(tensor).copy_(source);
  }

  torch::Tensor Input(const float* values, int rows) const {
    return torch::from_blob(const_cast<float*>(values), {rows, shape_.input_size}, torch::kFloat32)
        .to(device_);
  }

  torch::Tensor Forward(std::vector<torch::nn::Linear>& layers, torch::Tensor x) const {
    for (size_t l = 0; l < layers.size(); ++l) {
      x = layers[l]->forward(x);
      if (l + 1 < layers.size()) x = torch::relu(x);
    }
    return x;
  }

  torch::Tensor Loss(const TransitionBatch& batch, UpdateStats* stats) {
    const int b = batch.size;
    const torch::Tensor observations = Input(batch.observations.data(), b);
    const torch::Tensor next_observations = Input(batch.next_observations.data(), b);
    const torch::Tensor actions =
        torch::from_blob(const_cast<int32_t*>(batch.actions.data()), {b, 1}, torch::kInt32)
            .to(device_, torch::kInt64);
    const torch::Tensor rewards =
        torch::from_blob(const_cast<float*>(batch.rewards.data()), {b}, torch::kFloat32)
            .to(device_);
    const torch::Tensor terminals =
        torch::from_blob(const_cast<float*>(batch.terminals.data()), {b}, torch::kFloat32)
            .to(device_);

    torch::Tensor targets;
    {
      torch::NoGradGuard no_grad;
      // Double DQN (van Hasselt 2016): the online network selects a*, the target evaluates it.
      const torch::Tensor best_next = Forward(online_, next_observations).argmax(1, true);
      const torch::Tensor next_value =
          Forward(target_, next_observations).gather(1, best_next).squeeze(1);
      targets = rewards + hp_.gamma * (1.0f - terminals) * next_value;
    }
    const torch::Tensor q = Forward(online_, observations).gather(1, actions).squeeze(1);
    torch::Tensor loss = hp_.loss == TdLoss::kHuber
                             ? torch::huber_loss(q, targets, at::Reduction::Mean, hp_.huber_delta)
                             : torch::mse_loss(q, targets, at::Reduction::Mean);
    stats->loss = loss.item<double>();
    stats->mean_q = q.mean().item<double>();
    stats->mean_target = targets.mean().item<double>();
    return loss;
  }

  MlpShape shape_;
  LearnerHyperparameters hp_;
  torch::Device device_;
  std::vector<torch::nn::Linear> online_;
  std::vector<torch::nn::Linear> target_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
};

}  // namespace

bool TorchCudaAvailable() { return torch::cuda::is_available(); }
void SetTorchThreads(int threads) { torch::set_num_threads(threads); }
void SeedTorch(uint64_t seed) { torch::manual_seed(seed); }
std::string TorchVersion() { return TORCH_VERSION; }

std::unique_ptr<QLearner> MakeTorchLearner(const MlpShape& shape,
                                           const LearnerHyperparameters& hyperparameters,
                                           const LearnerState& initial_state,
                                           const std::string& device) {
  if (device != "cpu" && device != "cuda") {
    ThrowConfigError("torch backend: device must be cpu or cuda, got '{}'", device);
  }
  if (device == "cuda" && !torch::cuda::is_available()) {
    ThrowConfigError(
        "torch backend: device 'cuda' requested, but this libtorch ({}) sees no "
        "CUDA device",
        TORCH_VERSION);
  }
  return std::make_unique<TorchLearner>(
      shape, hyperparameters, initial_state,
      device == "cuda" ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU));
}

}  // namespace bestserve
