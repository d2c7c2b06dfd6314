// `bestserve gateway`, `bestserve emulate` and `bestserve loadgen`: the learned router in a real
// serving path (serve/). Each runs one event loop until its work ends or SIGINT/SIGTERM.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <csignal>
#include <filesystem>
#include <memory>

#include "apps/bestserve/app_support.h"
#include "apps/bestserve/commands.h"
#include "common/error.h"
#include "common/files.h"
#include "serve/emulator.h"
#include "serve/gateway.h"
#include "serve/loadgen.h"
#include "sim/metrics.h"

namespace bestserve::app {
namespace {

namespace fs = std::filesystem;
using serve::asio::io_context;

// Writes "PORT\n" where a test or script waits for it (after the socket listens).
void WritePortFile(const std::string& path, const std::string& text) {
  if (!path.empty()) WriteFileAtomically(path, text);
}

}  // namespace

void AddGatewayCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("gateway", "Serve the OpenAI API, routing each request through a bestserve router");
  auto config_path = std::make_shared<std::string>();
  auto port_file = std::make_shared<std::string>();
  cmd->add_option("--config", *config_path, "Gateway YAML (serve/gateway.h lists the keys)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--port-file", *port_file, "Write the port listened on to this file once listening");
  cmd->callback([config_path, port_file] {
    serve::GatewayConfig config = serve::LoadGatewayConfig(*config_path);
    io_context io(1);
    std::unique_ptr<serve::Gateway> gateway;
    try {
      gateway = std::make_unique<serve::Gateway>(io, config);
    } catch (const boost::system::system_error& e) {
      ThrowConfigError("{}: listen {}:{}: {}", *config_path, config.host, config.port, e.what());
    }
    gateway->Start();
    fmt::print("bestserve gateway: http://{}:{} serving '{}' over {} (models: {}; {} backends)\n", config.host,
               gateway->port(), config.logical_model,
               config.policy_path.empty() ? (config.router_spec.empty() ? "the scenario's router" : config.router_spec)
                                          : config.policy_path,
               fmt::join(gateway->model_names(), ", "), config.backends.size());
    std::fflush(stdout);
    WritePortFile(*port_file, fmt::format("{}\n", gateway->port()));
    serve::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      fmt::print("bestserve gateway: draining\n");
      std::fflush(stdout);
      gateway->Drain([&io] { io.stop(); });
    });
    io.run();
  });
}

void AddEmulateCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "emulate", "Serve the OpenAI API as vLLM would, timed by a latency profile (no GPU): one model or a scenario's box");
  struct Flags {
    std::string config;
    std::string profile = "paper";
    std::string model;
    uint16_t port = 0;
    std::string host = "127.0.0.1";
    double time_scale = 1.0;
    std::string backends_out;
    std::string port_file;
    std::vector<std::string> set_values;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("--config", f->config, "Scenario YAML: emulate every instance of its cluster (default: the built-in paper box)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--profile", f->profile, "Profile set (with --model): a name under profiles/ or a YAML path");
  cmd->add_option("--model", f->model, "Emulate this one model (one instance, all of one GPU's memory)");
  cmd->add_option("--port", f->port, "First port (instances take consecutive ports); 0: free ports");
  cmd->add_option("--host", f->host, "Address to listen on (loopback by default)");
  cmd->add_option("--time-scale", f->time_scale, "Wall seconds per profile second (1: real time)")
      ->check(CLI::Range(0.01, 100.0));
  cmd->add_option("--backends-out", f->backends_out, "Write the instances as a gateway backends list (YAML)");
  cmd->add_option("--port-file", f->port_file, "Write the first port to this file once listening");
  cmd->add_option("--set", f->set_values, "Override a scenario key (as in simulate)");
  cmd->callback([f] {
    ScenarioOverrides overrides;
    for (const auto& item : f->set_values) {
      const auto eq = item.find('=');
      if (eq == std::string::npos || eq == 0) ThrowConfigError("--set '{}': expected KEY.PATH=VALUE", item);
      overrides.set_values.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    }
    if (!f->model.empty()) {
      if (!f->config.empty()) ThrowConfigError("--model emulates one model of --profile; --config a whole box: give one");
      // One GPU holding the model alone, as the paper's dedicated baselines.
      overrides.set_values.emplace_back("profile", f->profile);
      overrides.set_values.emplace_back("models", fmt::format("[{}]", f->model));
      overrides.set_values.emplace_back(
          "cluster", fmt::format("{{gpu_groups: [{{count: 1, instances: [{{model: {}, memory_fraction: 0.9}}]}}], engine: {{kind: vllm}}}}",
                                 f->model));
    }
    const Scenario scenario = LoadScenario(f->config, overrides);
    serve::EmulatorOptions options;
    options.host = f->host;
    options.time_scale = f->time_scale;
    io_context io(1);
    std::vector<std::unique_ptr<serve::EmulatedInstance>> instances;
    try {
      for (auto& spec : serve::EmulatedInstances(scenario.system, f->port)) {
        instances.push_back(std::make_unique<serve::EmulatedInstance>(io, spec, options));
      }
    } catch (const boost::system::system_error& e) {
      ThrowConfigError("emulate: cannot listen on {} from port {}: {}", f->host, f->port, e.what());
    }
    std::string backends;
    for (const auto& instance : instances) {
      instance->Start();
      backends += fmt::format("- {{model: {}, url: \"{}\"}}\n", instance->model(), instance->url());
      fmt::print("bestserve emulate: {} at {} (KV {} tokens, profile '{}')\n", instance->model(), instance->url(),
                 scenario.system.instances[static_cast<size_t>(&instance - instances.data())].kv_capacity_tokens,
                 scenario.profiles.name);
    }
    std::fflush(stdout);
    if (!f->backends_out.empty()) WriteFileAtomically(f->backends_out, backends);
    WritePortFile(f->port_file, fmt::format("{}\n", instances.front()->port()));
    serve::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int) {
      if (!ec) io.stop();
    });
    io.run();
  });
}

void AddLoadgenCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "loadgen", "Replay a scenario's workload open-loop against an OpenAI-compatible URL; write requests.csv, summary.json");
  auto flags = std::make_shared<ScenarioFlags>();
  auto url = std::make_shared<std::string>();
  auto options = std::make_shared<serve::LoadgenOptions>();
  auto timeout_s = std::make_shared<double>(600.0);
  flags->Add(cmd);
  cmd->add_option("--url", *url, "The endpoint: http://HOST:PORT (a gateway, or one server)")->required();
  cmd->add_option("--model", options->model, "Model name each request asks for (a gateway's logical model)");
  cmd->add_option("--max-concurrency", options->max_concurrency, "Most requests open at once")->check(CLI::Range(1, 100000));
  cmd->add_option("--max-duration", options->max_duration_s, "Send nothing after this many seconds")
      ->check(CLI::Range(0.001, 1e6));
  cmd->add_option("--timeout", *timeout_s, "Abandon a request after this many seconds")->check(CLI::Range(0.001, 86400.0));
  cmd->add_option("--time-scale", options->time_scale, "Wall seconds per workload second (as given to emulate)")
      ->check(CLI::Range(0.01, 100.0));
  cmd->callback([flags, url, options, timeout_s] {
    try {
      options->target = serve::ParseHttpUrl(*url);
    } catch (const std::invalid_argument& e) {
      ThrowConfigError("--url {}", e.what());
    }
    options->request_timeout = std::chrono::milliseconds(static_cast<int64_t>(*timeout_s * 1000.0));
    const Scenario scenario = LoadScenario(flags->config, flags->Overrides());
    const Workload workload = MakeScenarioWorkload(scenario);
    if (!flags->out.empty()) fs::create_directories(flags->out);
    fmt::print("bestserve loadgen: {} requests ({}) against {}\n", workload.size(), scenario.workload->Describe(), *url);
    std::fflush(stdout);
    const serve::LoadgenResult result = serve::RunLoad(scenario, workload, *options);
    const Summary summary = Summarize(result.records, scenario.system, result.counters, scenario.tasks, scenario.metrics);
    fmt::print("completed {}, failed {}, not sent {}; mean reward {:.4f} of peak, deadline misses {:.2f}%\n",
               summary.completed, result.failed, result.not_sent, summary.mean_reward_fraction,
               100.0 * summary.deadline_miss_rate);
    std::vector<std::string> mix;
    for (size_t m = 0; m < summary.model_names.size(); ++m) {
      mix.push_back(fmt::format("{} {}", summary.model_names[m], summary.selections[m]));
    }
    fmt::print("served by: {}\n", fmt::join(mix, ", "));
    for (const std::string& error : result.first_errors) fmt::print("  {}\n", error);
    if (!flags->out.empty()) {
      const fs::path base(flags->out);
      WriteFileAtomically((base / "config.yaml").string(), ResolvedConfigYaml(scenario));
      WriteFileAtomically((base / "requests.csv").string(),
                          FormatRequestLog(result.records, scenario.system.model_names, scenario.tasks));
      WriteFileAtomically((base / "summary.json").string(), FormatSummaryJson(summary));
      fmt::print("wrote {}/{{config.yaml, requests.csv, summary.json}}\n", flags->out);
    }
  });
}

}  // namespace bestserve::app
