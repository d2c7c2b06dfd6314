// Learner settings: the paper's defaults, YAML parsing, and exact messages for bad input.
#include "agent/learn/learner_settings.h"

#include <catch2/catch.hpp>

#include "common/config.h"
#include "common/error.h"

namespace bestserve {
namespace {

LearnerSettings Parse(const std::string& yaml) {
  return ParseLearnerSettings(ConfigNode::LoadString(yaml, "learner.yaml"));
}

TEST_CASE("Learner settings default to the paper's hyperparameters", "[agent]") {
  const LearnerSettings s;
  CHECK(s.gamma == 0.99);
  CHECK(s.learning_rate == 1e-4);
  CHECK(s.batch_size == 1024);
  CHECK(s.target_update_every_updates == 500);
  CHECK(s.iterations == 1'200'000);
  CHECK(s.hidden_sizes == std::vector<int>{256});
  CHECK(s.adam_beta1 == 0.9);
  CHECK(s.adam_beta2 == 0.999);
  CHECK(s.adam_eps == 1e-8);
  CHECK(s.Problem().empty());
}

TEST_CASE("Learner settings parse from YAML and print back to YAML that parses unchanged",
          "[agent]") {
  const LearnerSettings s = Parse(
      "hidden_sizes: [256, 256]\nloss: mse\nlearning_rate: 3.0e-4\nreplay_capacity: 200000\n"
      "epsilon_decay_fraction: 0.25\niterations: 685000\n");
  CHECK(s.hidden_sizes == std::vector<int>{256, 256});
  CHECK(s.loss == TdLoss::kMse);
  CHECK(s.learning_rate == 3e-4);
  CHECK(s.iterations == 685000);
  CHECK(Parse(LearnerSettingsToYaml(s)) == s);
  CHECK(Parse(LearnerSettingsToYaml(LearnerSettings{})) == LearnerSettings{});
}

TEST_CASE("An unknown learner hyperparameter fails listing the valid keys", "[agent]") {
  REQUIRE_THROWS_AS(Parse("gamma: 0.9\nlearnig_rate: 0.001\n"), ConfigError);
  REQUIRE_THROWS_WITH(
      Parse("gamma: 0.9\nlearnig_rate: 0.001\n"),
      "learner.yaml:2:1: at 'learnig_rate': unknown key 'learnig_rate'; valid keys here: backend, "
      "device, hidden_sizes, gamma, learning_rate, adam_beta1, adam_beta2, adam_eps, loss, "
      "huber_delta, batch_size, target_update_every_updates, iterations, replay_capacity, "
      "learning_starts, epsilon_start, epsilon_end, epsilon_decay_fraction, "
      "checkpoint_every_iterations, eval_every_iterations, progress_every_iterations, "
      "curve_every_iterations, reward_window, average_from_fraction");
}

TEST_CASE("Weight averaging is off by default, absent from the YAML then, and round-trips when on",
          "[agent]") {
  CHECK_FALSE(LearnerSettings{}.averages_weights());
  CHECK(LearnerSettingsToYaml(LearnerSettings{}).find("average_from_fraction") == std::string::npos);
  const LearnerSettings s = Parse("average_from_fraction: 0.5\n");
  CHECK(s.averages_weights());
  CHECK(LearnerSettingsToYaml(s).find("average_from_fraction: 0.5\n") != std::string::npos);
  CHECK(Parse(LearnerSettingsToYaml(s)) == s);
  REQUIRE_THROWS_WITH(Parse("average_from_fraction: 1.5\n"),
                      "learner.yaml:1:24: at 'average_from_fraction': expected a number in [0, 1], got 1.5");
}

TEST_CASE("A negative learning rate fails quoting the value", "[agent]") {
  REQUIRE_THROWS_WITH(Parse("learning_rate: -0.001\n"),
                      "learner.yaml:1:16: at 'learning_rate': expected a number > 0, got -0.001");
}

TEST_CASE("Bad learner values fail with where, what was expected and what was found", "[agent]") {
  REQUIRE_THROWS_WITH(Parse("gamma: 1.5\n"),
                      "learner.yaml:1:8: at 'gamma': expected a number in [0, 1], got 1.5");
  REQUIRE_THROWS_WITH(Parse("loss: l1\n"),
                      "learner.yaml:1:7: at 'loss': expected one of huber, mse, got 'l1'");
  REQUIRE_THROWS_WITH(Parse("hidden_sizes: [256, 0]\n"),
                      "learner.yaml:1:21: at 'hidden_sizes[1]': expected a layer width in "
                      "1..1048576, got 0");
  REQUIRE_THROWS_WITH(Parse("batch_size: many\n"),
                      "learner.yaml:1:13: at 'batch_size': expected an integer, got 'many'");
  // Checks across fields quote both values and point at the section.
  REQUIRE_THROWS_WITH(Parse("batch_size: 2048\nlearning_starts: 1000\n"),
                      "learner.yaml:1:1: learning_starts (1000) must be >= batch_size (2048)");
  REQUIRE_THROWS_WITH(Parse("device: cuda\n"),
                      "learner.yaml:1:1: device 'cuda' needs backend 'torch', got backend 'fast'");
  LearnerSettings s;
  s.replay_capacity = 5000;
  REQUIRE_THROWS_WITH(
      s.Validate(), "learner settings: replay_capacity (5000) must be >= learning_starts (10000)");
}

}  // namespace
}  // namespace bestserve
