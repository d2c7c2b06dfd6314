// `bestserve train` on the real simulator environment: a run stopped part-way and resumed from
// its checkpoint ends with the same bytes as an uninterrupted run; the same seed gives the same
// policy; bad configs are refused clearly.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/train/train_run.h"
#include "router/policy/policy_io.h"

namespace bestserve {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path Scratch(const std::string& name) {
  const fs::path dir = fs::current_path() / ("scratch_train_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A small but real training run: the paper scenario, a bursty Poisson-modulated workload,
// checkpoints every 400 iterations, evaluation every 600.
std::string WriteConfig(const fs::path& dir, const std::string& extra = "", int hidden = 16) {
  const fs::path path = dir / "train.yaml";
  std::ofstream(path) << "name: tiny\nseed: 7\n"
                         "training_workload: {kind: unpredictable2, num_requests: 300, min_rate_rps: 0.5, "
                         "max_rate_rps: 40, segment_mean_requests: 50}\n"
                         "episode_requests: 300\n"
                         "learner: {iterations: 1500, learning_starts: 200, batch_size: 32, hidden_sizes: [" +
                             std::to_string(hidden) + "], "
                         "checkpoint_every_iterations: 400, eval_every_iterations: 600, "
                         "progress_every_iterations: 500, curve_every_iterations: 100}\n"
                         "validation: {requests: 200, seeds: [11]}\n"
                      << extra;
  return path.string();
}

}  // namespace

TEST_CASE("a training run stopped part-way and resumed ends byte-identical to an uninterrupted one",
          "[training][resume]") {
  const fs::path dir = Scratch("resume");
  const TrainConfig config = LoadTrainConfig(WriteConfig(dir));
  TrainOptions straight;
  straight.out_dir = (dir / "straight").string();
  RunTraining(config, straight);

  TrainOptions first;
  first.out_dir = (dir / "resumed").string();
  first.stop_at_iteration = 1000;  // the last checkpoint is at 800: 200 iterations are lost, as with kill -9
  RunTraining(config, first);
  CHECK_FALSE(fs::exists(dir / "resumed" / "final.bsw"));
  TrainOptions second = first;
  second.stop_at_iteration = -1;
  second.resume = true;
  RunTraining(config, second);

  for (const char* file : {"final.bsw", "best.bsw", "curve.csv", "run.json"}) {
    INFO(file);
    const std::string a = ReadAll(dir / "straight" / file);
    CHECK_FALSE(a.empty());
    CHECK(a == ReadAll(dir / "resumed" / file));
  }
  fs::remove_all(dir);
}

TEST_CASE("a run that averages weights delivers average.bsw, scored by the last evaluation", "[training]") {
  const fs::path dir = Scratch("average");
  std::string text = ReadAll(WriteConfig(dir));
  const std::string learner_end = "curve_every_iterations: 100}";
  REQUIRE(text.find(learner_end) != std::string::npos);
  text.replace(text.find(learner_end), learner_end.size(), "curve_every_iterations: 100, target_update_every_updates: 100, average_from_fraction: 0.5}");
  std::ofstream(dir / "train.yaml") << text;
  TrainOptions options;
  options.out_dir = (dir / "run").string();
  const TrainResult result = RunTraining(LoadTrainConfig((dir / "train.yaml").string()), options);
  REQUIRE(result.average_policy == (dir / "run" / "average.bsw").string());
  const PolicyWeights average = LoadPolicyWeights(result.average_policy);
  // A target copy every 100 updates, sampled from iteration 750 on: several networks.
  CHECK(std::stoi(average.Metadata("averaged_networks")) >= 3);
  CHECK(average.parameters != LoadPolicyWeights((dir / "run" / "final.bsw").string()).parameters);
  const std::string curve = ReadAll(dir / "run" / "curve.csv");
  CHECK(curve.substr(0, curve.find('\n')).find(",eval_score,eval_score_average") != std::string::npos);
  const std::string last_row = curve.substr(curve.rfind('\n', curve.size() - 2) + 1);
  const std::string last_score = last_row.substr(last_row.rfind(',') + 1, last_row.size() - last_row.rfind(',') - 2);
  CHECK_FALSE(last_score.empty());
  CHECK(average.Metadata("validation_score") == last_score);
  CHECK(ReadAll(dir / "run" / "run.json").find("\"average_validation_score\": " + last_score) != std::string::npos);
  // Without averaging nothing of it appears.
  TrainOptions plain;
  plain.out_dir = (dir / "plain").string();
  CHECK(RunTraining(LoadTrainConfig(WriteConfig(dir)), plain).average_policy.empty());
  CHECK_FALSE(fs::exists(dir / "plain" / "average.bsw"));
  CHECK(ReadAll(dir / "plain" / "curve.csv").find("average") == std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("the same seed trains the same policy and another seed a different one", "[training]") {
  const fs::path dir = Scratch("seeds");
  const TrainConfig a = LoadTrainConfig(WriteConfig(dir));
  TrainOptions options;
  options.out_dir = (dir / "a").string();
  RunTraining(a, options);
  options.out_dir = (dir / "b").string();
  RunTraining(a, options);
  TrainOverrides other;
  other.seed = 8;
  options.out_dir = (dir / "c").string();
  RunTraining(LoadTrainConfig(WriteConfig(dir), other), options);
  CHECK(ReadAll(dir / "a" / "final.bsw") == ReadAll(dir / "b" / "final.bsw"));
  CHECK(ReadAll(dir / "a" / "final.bsw") != ReadAll(dir / "c" / "final.bsw"));
  fs::remove_all(dir);
}

TEST_CASE("one and two learner threads train the same policy, curve and checkpoint bits", "[training][threads]") {
  // Hidden width 64: the fast learner splits each pass in two (a width of 16 would not be split).
  const fs::path dir = Scratch("threads");
  const TrainConfig config = LoadTrainConfig(WriteConfig(dir, "", 64));
  TrainOptions options;
  options.out_dir = (dir / "one").string();
  options.learner_threads = 1;
  RunTraining(config, options);
  options.out_dir = (dir / "two").string();
  options.learner_threads = 2;
  RunTraining(config, options);
  for (const char* file : {"final.bsw", "best.bsw", "curve.csv", "checkpoint.bsc"}) {
    INFO(file);
    const std::string one = ReadAll(dir / "one" / file);
    CHECK_FALSE(one.empty());
    CHECK(one == ReadAll(dir / "two" / file));
  }
  options.learner_threads = 3;
  options.out_dir = (dir / "three").string();
  CHECK_THROWS_WITH(RunTraining(config, options), Catch::Contains("learner threads: expected 1 or 2, got 3"));
  fs::remove_all(dir);
}

TEST_CASE("bad training configs are refused with the key and the expectation", "[training][errors]") {
  const fs::path dir = Scratch("errors");
  auto error_of = [&](const std::string& extra) {
    try {
      LoadTrainConfig(WriteConfig(dir, extra));
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK_THAT(error_of("speed: 3\n"), Catch::Contains("unknown key 'speed'"));
  CHECK_THAT(error_of("observation: {encoding: paper-v9}\n"),
             Catch::Contains("expected paper-v1, extended-v1, request-v1 or gateway-v1, got 'paper-v9'"));
  CHECK_THAT(error_of("set:\n  cluster.gpu_groups[0].count: -1\n"), Catch::Contains("expected an integer in [1, 4096], got -1"));
  const std::string bad_lr = [&] {
    const fs::path p = dir / "lr.yaml";
    std::ofstream(p) << "learner: {learning_rate: -0.1}\n";
    try {
      LoadTrainConfig(p.string());
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  CHECK_THAT(bad_lr, Catch::Contains("learning_rate") && Catch::Contains("-0.1"));
  fs::remove_all(dir);
}

TEST_CASE("fine-tuning refuses a policy of another shape", "[training][errors]") {
  const fs::path dir = Scratch("init_from");
  const TrainConfig small = LoadTrainConfig(WriteConfig(dir));
  TrainOptions options;
  options.out_dir = (dir / "small").string();
  RunTraining(small, options);
  const TrainConfig wide = LoadTrainConfig(WriteConfig(dir, ""));
  TrainConfig other_shape = wide;
  other_shape.learner.hidden_sizes = {32};
  TrainOptions fine;
  fine.out_dir = (dir / "fine").string();
  fine.init_from = (dir / "small" / "final.bsw").string();
  CHECK_THROWS_WITH(RunTraining(other_shape, fine), Catch::Contains("final.bsw") && Catch::Contains("8-16-3"));
  fs::remove_all(dir);
}

}  // namespace bestserve
