// The deployable router: the trainer's greedy decisions, exactly; bad files refused clearly;
// the C API equal to the C++ one; safe from many threads.
#include <catch2/catch.hpp>

#include <bit>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <filesystem>
#include <thread>

#include "router/export/export.h"
#include "router/policy/mlp.h"
#include "router/policy/policy_io.h"
#include "router/lib/c_api.h"
#include "router/lib/router.h"
#include "router/builtin/policy_router.h"
#include "router/core/rate_estimator.h"
#include "scenario/scenario.h"
#include "tests/router/router_fixtures.h"

namespace bestserve {
namespace {

// Bit-for-bit equality of n floats or doubles (parity tests compare bits, not values: -0 vs +0
// or two NaNs would pass or fail a value comparison for the wrong reason).
template <typename T>
bool SameBits(const T* a, const T* b, size_t n) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  for (size_t i = 0; i < n; ++i) {
    if (std::bit_cast<Bits>(a[i]) != std::bit_cast<Bits>(b[i])) return false;
  }
  return true;
}

}  // namespace
namespace {

struct RandomState {
  int task;
  std::vector<int32_t> in_flight;
  std::vector<int32_t> queued;
  double rate;
  int32_t prompt_tokens = 0;
  // gateway-v1's facts
  std::vector<int64_t> in_flight_prompt_tokens;
  double slow_rate = 0.0;
  int32_t max_tokens = 0;
  double deadline_base_s = 0.0;
  double deadline_per_token_s = 0.0;

  RouteRequest Request() const {
    RouteRequest r;
    r.task = task;
    r.in_flight = in_flight.data();
    r.queued = queued.data();
    r.prompt_tokens = prompt_tokens;
    r.in_flight_prompt_tokens = in_flight_prompt_tokens.data();
    r.max_tokens = max_tokens;
    r.deadline_base_s = deadline_base_s;
    r.deadline_per_token_s = deadline_per_token_s;
    return r;
  }
  GatewayState State() const {
    GatewayState g{task, in_flight.data(), queued.data(), rate, prompt_tokens};
    g.in_flight_prompt_tokens = in_flight_prompt_tokens.data();
    g.slow_rate_rps = slow_rate;
    g.max_tokens = max_tokens;
    g.deadline_base_s = deadline_base_s;
    g.deadline_per_token_s = deadline_per_token_s;
    return g;
  }
};

RandomState Draw(Rng& rng) {
  RandomState s{static_cast<int>(rng.UniformIndex(4)), {}, {}, 0.0};
  // Prompts from a few tokens to past OPT's window (request-v1 reads them; the others do not).
  s.prompt_tokens = static_cast<int32_t>(std::exp(rng.Uniform(0.0, std::log(8000.0))));
  for (int m = 0; m < 3; ++m) {
    // Mostly small batches (where decisions are made), sometimes bursts.
    const int32_t queued = rng.Bernoulli(0.2) ? static_cast<int32_t>(rng.UniformIndex(50)) : 0;
    s.queued.push_back(queued);
    s.in_flight.push_back(queued + static_cast<int32_t>(rng.UniformIndex(rng.Bernoulli(0.8) ? 8 : 200)));
  }
  s.rate = rng.Bernoulli(0.5) ? rng.Uniform(0.0, 3.0) : rng.Uniform(0.0, 60.0);
  for (int m = 0; m < 3; ++m) {
    s.in_flight_prompt_tokens.push_back(s.in_flight[static_cast<size_t>(m)] *
                                        static_cast<int64_t>(std::exp(rng.Uniform(0.0, std::log(3000.0)))));
  }
  s.slow_rate = rng.Uniform(0.0, 30.0);
  s.max_tokens = rng.Bernoulli(0.5) ? 0 : static_cast<int32_t>(rng.UniformIndex(1024)) + 1;
  s.deadline_base_s = rng.Bernoulli(0.7) ? 0.0 : rng.Uniform(0.1, 20.0);
  s.deadline_per_token_s = rng.Bernoulli(0.3) ? 0.0 : rng.Uniform(0.01, 0.2);
  return s;
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("bestserve_router_test_" + name)).string();
}

}  // namespace

TEST_CASE("router decisions equal the trainer's greedy decisions on 100,000 random observations",
          "[router]") {
  for (auto encoding : {ObservationEncoding::kPaperV1, ObservationEncoding::kExtendedV1, ObservationEncoding::kRequestV1,
                        ObservationEncoding::kGatewayV1}) {
    INFO("encoding " << ToString(encoding));
    const PolicyWeights w = testing::RandomRoutingPolicy(1, {256}, encoding);
    const auto router = Router::FromBytes(EncodePolicyWeights(w), "random policy");
    const MlpPolicy trainer(w.shape, w.parameters);
    PolicyMetadata metadata;
    REQUIRE(DecodePolicyMetadata(w.metadata, &metadata).empty());
    Rng rng(2);
    std::vector<float> observation(static_cast<size_t>(metadata.observation.size()));
    std::vector<float> q_trainer(3), q_router(3), scratch(trainer.scratch_size());
    int disagreements = 0;
    int q_differences = 0;
    std::vector<int> chosen(3, 0);
    for (int i = 0; i < 100000; ++i) {
      const RandomState s = Draw(rng);
      EncodeObservation(metadata.observation, s.State(), observation.data());
      const int expected = trainer.Act(observation);
      const int got = router->DecideWithRates(s.Request(), s.rate, s.slow_rate);
      if (encoding != ObservationEncoding::kGatewayV1) {  // the positional form, where it applies
        REQUIRE(router->DecideWithRate(s.task, s.in_flight.data(), s.queued.data(), s.rate, s.prompt_tokens) == got);
      }
      // Not just the argmax: the Q-values themselves are the same bits.
      trainer.QValues(observation.data(), q_trainer.data(), scratch.data());
      REQUIRE(router->QValues(s.Request(), s.rate, s.slow_rate, q_router.data()));
      q_differences += !SameBits(q_trainer.data(), q_router.data(), 3) ? 1 : 0;
      disagreements += expected != got ? 1 : 0;
      ++chosen[static_cast<size_t>(got)];
    }
    INFO("actions chosen: " << chosen[0] << " / " << chosen[1] << " / " << chosen[2]);
    CHECK(disagreements == 0);
    CHECK(q_differences == 0);
    // The random network must actually use more than one action, or the check proves little.
    CHECK(std::count_if(chosen.begin(), chosen.end(), [](int c) { return c > 1000; }) >= 2);
  }
}

TEST_CASE("the packed kernels give the trainer's Q-value bits for other shapes, single and batched",
          "[router][batch]") {
  // Wide, narrow and odd widths (tails of the 16-output blocks and of the 8 lanes); hidden layers
  // of whole blocks (256, 48: pairs of blocks and a single block left over, 16) take the fused
  // last-two-layers pass of the single decision.
  for (const std::vector<int>& hidden : {std::vector<int>{256, 256}, std::vector<int>{37}, std::vector<int>{20, 9},
                                         std::vector<int>{48}, std::vector<int>{9, 16}, std::vector<int>{32, 256}}) {
    for (auto encoding : {ObservationEncoding::kPaperV1, ObservationEncoding::kExtendedV1, ObservationEncoding::kGatewayV1}) {
      const PolicyWeights w = testing::RandomRoutingPolicy(3, hidden, encoding);
      const auto router = Router::FromBytes(EncodePolicyWeights(w), "random policy");
      const MlpPolicy trainer(w.shape, w.parameters);
      PolicyMetadata metadata;
      REQUIRE(DecodePolicyMetadata(w.metadata, &metadata).empty());
      INFO("network " << w.shape.ToString() << ", encoding " << ToString(encoding));
      Rng rng(4);
      // 1,003 decisions: 62 full batch blocks and a tail; every 50th task is invalid.
      const int count = 1003;
      std::vector<int32_t> tasks, in_flight, queued;
      std::vector<double> rates, slow_rates;
      std::vector<RandomState> states;
      std::vector<int> expected;
      std::vector<float> observation(static_cast<size_t>(metadata.observation.size()));
      std::vector<float> q_trainer(3), q_router(3), scratch(trainer.scratch_size());
      int q_differences = 0;
      for (int i = 0; i < count; ++i) {
        const RandomState s = Draw(rng);
        const bool invalid = i % 50 == 7;
        tasks.push_back(invalid ? 4 : s.task);
        in_flight.insert(in_flight.end(), s.in_flight.begin(), s.in_flight.end());
        queued.insert(queued.end(), s.queued.begin(), s.queued.end());
        rates.push_back(s.rate);
        slow_rates.push_back(s.slow_rate);
        states.push_back(s);
        states.back().task = tasks.back();
        if (invalid) {
          expected.push_back(-1);
          continue;
        }
        EncodeObservation(metadata.observation, s.State(), observation.data());
        expected.push_back(trainer.Act(observation));
        trainer.QValues(observation.data(), q_trainer.data(), scratch.data());
        REQUIRE(router->QValues(s.Request(), s.rate, s.slow_rate, q_router.data()));
        q_differences += !SameBits(q_trainer.data(), q_router.data(), 3) ? 1 : 0;
      }
      CHECK(q_differences == 0);
      std::vector<RouteRequest> requests;
      for (const RandomState& s : states) requests.push_back(s.Request());
      for (const int size : {1, 15, 16, 17, count}) {
        INFO("batch of " << size);
        std::vector<int32_t> got(static_cast<size_t>(size), -2);
        std::vector<int32_t> got_requests(static_cast<size_t>(size), -2);
        router->DecideBatch(size, requests.data(), rates.data(), slow_rates.data(), got_requests.data());
        CHECK(std::vector<int>(got_requests.begin(), got_requests.end()) ==
              std::vector<int>(expected.begin(), expected.begin() + size));
        router->DecideBatch(size, tasks.data(), in_flight.data(), queued.data(), rates.data(), got.data());
        if (encoding == ObservationEncoding::kGatewayV1) {
          // The positional batch carries none of gateway-v1's facts: every decision refused.
          CHECK(std::count(got.begin(), got.end(), -1) == size);
        } else {
          CHECK(std::vector<int>(got.begin(), got.end()) ==
                std::vector<int>(expected.begin(), expected.begin() + size));
        }
      }
      CHECK(std::count(expected.begin(), expected.end(), -1) == 20);
    }
  }
}

// The soft rule read per output token against the end-to-end reading, on one simulated run:
// a fixed router sees the same requests finish at the same times under both, so every request's
// reward compares one to one. Lateness per token is lateness / tokens <= lateness, and the cutoff
// is the same fraction of the deadline under both: per token never pays less.
TEST_CASE("per-token soft lateness pays at least the end-to-end reading, request by request", "[router][reward]") {
  auto run = [](const char* lateness) {
    ScenarioOverrides o;
    o.rate_rps = 3.0;  // past OPT-6.7B's capacity: many late requests
    o.duration_s = 60.0;
    o.router = "static:opt-6.7b";
    o.set_values = {{"deadline.reward", "soft"}, {"deadline.soft.lateness", lateness}};
    const Scenario scenario = LoadScenario("", o);
    auto router = MakeScenarioRouter(scenario);
    return RunSimulation(scenario, MakeScenarioWorkload(scenario), *router)->TakeRecords();
  };
  const std::vector<RequestRecord> end_to_end = run("end_to_end");
  const std::vector<RequestRecord> per_token = run("per_output_token");
  REQUIRE(end_to_end.size() == per_token.size());
  int64_t late_and_paid_more = 0;
  for (size_t i = 0; i < end_to_end.size(); ++i) {
    const RequestRecord& a = end_to_end[i];
    const RequestRecord& b = per_token[i];
    REQUIRE(a.completion_s == b.completion_s);  // the reward reading does not change the run
    CHECK(a.deadline_met == b.deadline_met);
    CHECK(b.reward >= a.reward);
    if (a.deadline_met) CHECK(b.reward == a.reward);
    late_and_paid_more += b.reward > a.reward ? 1 : 0;
  }
  CHECK(late_and_paid_more > 10);
}

TEST_CASE("routers see the per-token deadline in force at each arrival under a deadline schedule", "[router]") {
  ScenarioOverrides o;
  o.rate_rps = 4.0;
  o.duration_s = 40.0;
  o.set_values = {{"deadline.schedule", "[{start_s: 0, ms_per_token: 40}, {start_s: 20, ms_per_token: 25}]"}};
  const Scenario scenario = LoadScenario("", o);
  const Workload workload = MakeScenarioWorkload(scenario);
  auto sim = MakeSimulator(scenario);
  sim->Reset(workload);
  int64_t early = 0;
  int64_t late = 0;
  while (sim->AdvanceToNextArrival()) {
    const RouterView& view = sim->view();
    const Request& r = sim->pending();
    // What the router is told agrees with the deadline the request is judged by.
    CHECK(view.deadline_base_s + view.deadline_per_token_s * r.output_tokens == Approx(r.deadline_s));
    CHECK(view.deadline_per_token_s == (r.arrival_s < 20.0 ? 0.040 : 0.025));
    (r.arrival_s < 20.0 ? early : late) += 1;
    sim->Dispatch(0);
  }
  sim->Drain();
  CHECK(early > 20);
  CHECK(late > 20);
}

TEST_CASE("router decisions equal the simulator's policy router on every decision of a recorded run",
          "[router]") {
  // paper-v1 (the paper's state) and gateway-v1 (everything a gateway knows: queued counts,
  // prompt tokens in flight, the slow rate, the deadline), each on a recorded run.
  for (const auto encoding : {ObservationEncoding::kPaperV1, ObservationEncoding::kGatewayV1}) {
    INFO("encoding " << ToString(encoding));
    const std::string file = TempPath("recorded.bsw");
    SavePolicyWeights(file, testing::RandomRoutingPolicy(3, {256}, encoding));
    ScenarioOverrides o;
    o.rate_rps = 12.0;
    o.duration_s = 120.0;
    o.router = "policy:" + file;
    const Scenario scenario = LoadScenario("", o);
    auto policy = MakeScenarioRouter(scenario);
    auto sim = MakeSimulator(scenario);
    sim->Reset(MakeScenarioWorkload(scenario));
    auto router = Router::Load(file);
    int64_t decisions = 0;
    int64_t mismatches = 0;
    int64_t max_tokens_in_flight = 0;
    std::vector<int32_t> in_flight(3), queued(3);
    std::vector<int64_t> prompt_tokens(3);
    while (sim->AdvanceToNextArrival()) {
      const RouterView& view = sim->view();
      for (size_t m = 0; m < 3; ++m) {
        in_flight[m] = view.models[m].in_flight;
        queued[m] = view.models[m].waiting;
        prompt_tokens[m] = view.models[m].in_flight_prompt_tokens;
        max_tokens_in_flight = std::max(max_tokens_in_flight, prompt_tokens[m]);
      }
      const ModelId in_process = policy->Route(view);
      RouteRequest request;
      request.task = view.task;
      request.in_flight = in_flight.data();
      request.queued = queued.data();
      request.prompt_tokens = view.prompt_tokens;
      request.in_flight_prompt_tokens = prompt_tokens.data();
      request.max_tokens = view.max_tokens;
      request.deadline_base_s = view.deadline_base_s;
      request.deadline_per_token_s = view.deadline_per_token_s;
      // The gateway's own rate estimates from the arrival clock must equal the simulator's.
      const int deployed = router->Route(request, view.now_s);
      REQUIRE(router->arrival_rate_rps() == view.arrival_rate_rps);
      REQUIRE(router->slow_arrival_rate_rps() == view.slow_arrival_rate_rps);
      mismatches += in_process != deployed ? 1 : 0;
      ++decisions;
      sim->Dispatch(in_process);
    }
    sim->Drain();
    CHECK(decisions > 1000);
    CHECK(mismatches == 0);
    CHECK(max_tokens_in_flight > 0);  // the run had prompt tokens in flight to encode
    std::filesystem::remove(file);
  }
}

TEST_CASE("corrupt, truncated, wrong-version and mismatched files are refused with a clear error",
          "[router][errors]") {
  const std::string good = EncodePolicyWeights(testing::RandomRoutingPolicy(4, {16}));
  REQUIRE_NOTHROW(Router::FromBytes(good, "good"));
  // Every truncation.
  for (size_t n = 0; n < good.size(); n += 7) {
    REQUIRE_THROWS_AS(Router::FromBytes(std::string_view(good).substr(0, n), "cut"), RouterError);
  }
  // A flipped byte anywhere is caught (by the checksum if by nothing earlier).
  for (size_t i = 0; i < good.size(); i += 3) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    REQUIRE_THROWS_AS(Router::FromBytes(bad, "flipped"), RouterError);
  }
  std::string wrong_version = good;
  wrong_version[8] = 99;  // the u32 version after the 8-byte magic
  CHECK_THROWS_WITH(Router::FromBytes(wrong_version, "v.bsp"), Catch::Contains("v.bsp") && Catch::Contains("version"));
  // A network whose input size disagrees with its observation encoding.
  PolicyWeights mismatched = testing::RandomRoutingPolicy(5, {16});
  mismatched.shape.input_size = 9;
  mismatched.parameters.resize(mismatched.shape.NumParameters(), 0.0f);
  CHECK_THROWS_WITH(Router::FromBytes(EncodePolicyWeights(mismatched), "m.bsp"),
                    Catch::Contains("m.bsp: the network takes 9 inputs but its observation encoding gives 8"));
  // A plain weights file without routing metadata.
  PolicyWeights bare = testing::RandomRoutingPolicy(6, {16});
  bare.metadata.clear();
  CHECK_THROWS_WITH(Router::FromBytes(EncodePolicyWeights(bare), "b.bsp"),
                    Catch::Contains("b.bsp: not a routing policy: missing metadata key 'observation.encoding'"));
  CHECK_THROWS_WITH(Router::Load("/no/such/router.bsp"), Catch::Contains("/no/such/router.bsp: cannot open"));
}

TEST_CASE("the C API agrees with the C++ API", "[router][c-api]") {
  const std::string file = TempPath("capi.bsp");
  SavePolicyWeights(file, testing::RandomRoutingPolicy(7));
  char error[256];
  bs_router* c = bs_router_load(file.c_str(), error, sizeof(error));
  REQUIRE(c != nullptr);
  auto cpp = Router::Load(file);
  CHECK(bs_router_num_models(c) == 3);
  CHECK(std::string(bs_router_model_name(c, 2)) == "opt-6.7b");
  CHECK(bs_router_model_name(c, 3) == nullptr);
  CHECK(bs_router_task_index(c, "piqa") == 2);
  CHECK(bs_router_task_index(c, "chess") == -1);
  Rng rng(8);
  double t = 0.0;
  for (int i = 0; i < 20000; ++i) {
    const RandomState s = Draw(rng);
    t += rng.Exponential(5.0);
    REQUIRE(bs_router_route(c, s.task, t, s.in_flight.data(), nullptr) ==
            cpp->Route(s.task, t, s.in_flight.data(), nullptr));
  }
  CHECK(bs_router_decide(c, 7, nullptr, nullptr) == -1);
  bs_router_free(c);
  CHECK(bs_router_load("/no/such/file", error, sizeof(error)) == nullptr);
  CHECK_THAT(std::string(error), Catch::Contains("/no/such/file: cannot open"));
  std::filesystem::remove(file);

  // A request-v1 policy: the prompt-taking calls agree with C++, and a decision without the
  // queued counts or the prompt length is refused (-1), not made on a guess.
  SavePolicyWeights(file, testing::RandomRoutingPolicy(7, {64}, ObservationEncoding::kRequestV1));
  c = bs_router_load(file.c_str(), error, sizeof(error));
  REQUIRE(c != nullptr);
  cpp = Router::Load(file);
  CHECK(cpp->needs_prompt_tokens());
  CHECK(cpp->needs_queued());
  std::vector<int> chosen(3, 0);
  for (int i = 0; i < 20000; ++i) {
    const RandomState s = Draw(rng);
    t += rng.Exponential(5.0);
    const int got = bs_router_route_prompt(c, s.task, s.prompt_tokens, t, s.in_flight.data(), s.queued.data());
    REQUIRE(got == cpp->Route(s.task, t, s.in_flight.data(), s.queued.data(), s.prompt_tokens));
    REQUIRE(bs_router_decide_prompt(c, s.task, s.prompt_tokens, s.in_flight.data(), s.queued.data()) ==
            cpp->Decide(s.task, s.in_flight.data(), s.queued.data(), s.prompt_tokens));
    ++chosen[static_cast<size_t>(got)];
  }
  CHECK(std::count_if(chosen.begin(), chosen.end(), [](int n) { return n > 500; }) >= 2);
  const RandomState s = Draw(rng);
  CHECK(bs_router_decide(c, s.task, s.in_flight.data(), s.queued.data()) == -1);  // no prompt length
  CHECK(bs_router_decide_prompt(c, s.task, 100, s.in_flight.data(), nullptr) == -1);
  CHECK(bs_router_decide_prompt(c, s.task, -1, s.in_flight.data(), s.queued.data()) == -1);
  CHECK(bs_router_decide_prompt(c, s.task, 100, s.in_flight.data(), s.queued.data()) >= 0);
  CHECK(bs_router_needs_gateway_facts(c) == 0);
  bs_router_free(c);
  std::filesystem::remove(file);

  // A gateway-v1 policy: the request-struct calls agree with C++; the positional calls, which
  // carry none of its facts, and a request missing one are refused.
  SavePolicyWeights(file, testing::RandomRoutingPolicy(7, {64}, ObservationEncoding::kGatewayV1));
  c = bs_router_load(file.c_str(), error, sizeof(error));
  REQUIRE(c != nullptr);
  cpp = Router::Load(file);
  CHECK(bs_router_needs_gateway_facts(c) == 1);
  CHECK(cpp->needs_gateway_facts());
  std::fill(chosen.begin(), chosen.end(), 0);
  for (int i = 0; i < 20000; ++i) {
    const RandomState g = Draw(rng);
    t += rng.Exponential(5.0);
    bs_route_request request;
    bs_route_request_init(&request);
    request.task = g.task;
    request.in_flight = g.in_flight.data();
    request.queued = g.queued.data();
    request.prompt_tokens = g.prompt_tokens;
    request.in_flight_prompt_tokens = g.in_flight_prompt_tokens.data();
    request.max_tokens = g.max_tokens;
    request.deadline_base_s = g.deadline_base_s;
    request.deadline_per_token_s = g.deadline_per_token_s;
    const int got = bs_router_route_request(c, &request, t);
    REQUIRE(got == cpp->Route(g.Request(), t));
    REQUIRE(bs_router_decide_request(c, &request) == cpp->Decide(g.Request()));
    ++chosen[static_cast<size_t>(got)];
  }
  CHECK(std::count_if(chosen.begin(), chosen.end(), [](int n) { return n > 500; }) >= 2);
  const RandomState g = Draw(rng);
  CHECK(bs_router_decide_prompt(c, g.task, 100, g.in_flight.data(), g.queued.data()) == -1);
  bs_route_request missing;
  bs_route_request_init(&missing);
  CHECK(missing.task == -1);
  CHECK(missing.deadline_base_s == -1.0);
  missing.task = g.task;
  missing.in_flight = g.in_flight.data();
  missing.queued = g.queued.data();
  missing.prompt_tokens = 100;
  missing.in_flight_prompt_tokens = g.in_flight_prompt_tokens.data();
  CHECK(bs_router_decide_request(c, &missing) == -1);  // no deadline
  missing.deadline_base_s = 0.0;
  missing.deadline_per_token_s = 0.04;
  CHECK(bs_router_decide_request(c, &missing) >= 0);
  missing.in_flight_prompt_tokens = nullptr;
  CHECK(bs_router_decide_request(c, &missing) == -1);
  CHECK(bs_router_decide_request(c, nullptr) == -1);
  bs_router_free(c);
  std::filesystem::remove(file);
}

TEST_CASE("export checks and writes a policy of every observation encoding", "[router][export]") {
  // The export check decides through the router library with every input an encoding reads;
  // request-v1 and gateway-v1 policies must pass it (a check that omits the prompt length
  // would refuse every request-v1 policy).
  for (const auto encoding : {ObservationEncoding::kPaperV1, ObservationEncoding::kExtendedV1,
                              ObservationEncoding::kRequestV1, ObservationEncoding::kGatewayV1}) {
    INFO("encoding " << ToString(encoding));
    const std::string source = TempPath("export_source.bsw");
    const std::string out = TempPath("export_out.bsp");
    SavePolicyWeights(source, testing::RandomRoutingPolicy(11, {32}, encoding));
    const ExportResult result = ExportPolicy(source, out, "", {}, "test");
    CHECK(result.policy_file == out);
    const auto router = Router::Load(out);
    CHECK(router->observation_encoding() == ToString(encoding));
    CHECK(router->needs_gateway_facts() == (encoding == ObservationEncoding::kGatewayV1));
    std::filesystem::remove(source);
    std::filesystem::remove(out);
  }
}

TEST_CASE("many threads deciding at once get the single-threaded answers", "[router][threads]") {
  const auto router = Router::FromBytes(EncodePolicyWeights(testing::RandomRoutingPolicy(9)), "threads");
  Rng rng(10);
  std::vector<RandomState> states;
  for (int i = 0; i < 5000; ++i) states.push_back(Draw(rng));
  std::vector<int> expected;
  for (const auto& s : states) expected.push_back(router->DecideWithRate(s.task, s.in_flight.data(), nullptr, s.rate));
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        for (size_t i = 0; i < states.size(); ++i) {
          const auto& s = states[i];
          if (router->DecideWithRate(s.task, s.in_flight.data(), nullptr, s.rate) != expected[i]) ++failures[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == std::vector<int>(4, 0));
}

}  // namespace bestserve

namespace bestserve {

TEST_CASE("the deployed router's rate estimate equals the simulator's for every estimator, bit for bit",
          "[router][rate]") {
  // Arrivals a gateway meets: a start-up burst at one timestamp, a coarse one-second grid with
  // many requests per tick, then sub-millisecond jitter and long lulls.
  std::vector<double> times;
  for (int i = 0; i < 40; ++i) times.push_back(0.0);
  for (int tick = 1; tick <= 20; ++tick) {
    for (int i = 0; i < tick * 7; ++i) times.push_back(static_cast<double>(tick));
  }
  Rng rng(5);
  double t = 21.0;
  for (int i = 0; i < 3000; ++i) {
    t += (i % 500 == 499) ? 60.0 : rng.Exponential(i % 2 == 0 ? 2000.0 : 3.0);
    times.push_back(t);
  }
  const char* const sections[] = {"kind: last_k\nk: 5", "kind: last_k_v2\nk: 5\nresolution_s: 0.001",
                                  "kind: last_k_v2\nk: 3\nresolution_s: 1",
                                  "kind: two_scale\nfast_half_life_s: 0.5\nslow_half_life_s: 20",
                                  "kind: ewma\nhalf_life_s: 2"};
  for (const char* text : sections) {
    INFO(text);
    const ConfigNode section = ConfigNode::LoadString(text, "rate.yaml");
    auto simulator_estimator = MakeRateEstimator(section);
    PolicyWeights weights = testing::RandomRoutingPolicy(6, {16});
    PolicyMetadata metadata;
    REQUIRE(DecodePolicyMetadata(weights.metadata, &metadata).empty());
    metadata.rate_estimator.kind = section.GetString("kind");
    metadata.rate_estimator.k = static_cast<int32_t>(section.GetInt("k", 5));
    metadata.rate_estimator.half_life_s = section.GetDouble("half_life_s", 1.0);
    metadata.rate_estimator.resolution_s = section.GetDouble("resolution_s", 1e-3);
    metadata.rate_estimator.fast_half_life_s = section.GetDouble("fast_half_life_s", 1.0);
    metadata.rate_estimator.slow_half_life_s = section.GetDouble("slow_half_life_s", 30.0);
    weights.metadata = EncodePolicyMetadata(metadata);
    auto router = Router::FromBytes(EncodePolicyWeights(weights), "rate.bsw");
    CHECK(router->rate_estimator() == simulator_estimator->Describe());
    int64_t differences = 0;
    int64_t not_finite = 0;
    for (size_t i = 0; i < times.size(); ++i) {
      Request r;
      r.id = static_cast<int64_t>(i);
      r.arrival_s = times[i];
      const double simulated = simulator_estimator->Observe(r);
      const double deployed = router->ObserveArrival(times[i]);
      differences += !SameBits(&simulated, &deployed, 1) ? 1 : 0;
      not_finite += std::isfinite(simulated) && simulated >= 0.0 ? 0 : 1;
    }
    CHECK(differences == 0);
    CHECK(not_finite == 0);
  }
}

}  // namespace bestserve
