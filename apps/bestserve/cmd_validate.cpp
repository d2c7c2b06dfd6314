// `bestserve validate`: replay a measured serving run through a scenario and compare, request
// by request (scenario/validation.h). Writes requests.csv, summary.json and report.md into
// --out, only after everything has been read and simulated.
#include <fmt/format.h>

#include <filesystem>
#include <memory>

#include "apps/bestserve/commands.h"
#include "common/error.h"
#include "common/files.h"
#include "scenario/validation.h"

namespace bestserve::app {
namespace {

struct ValidateFlags {
  std::string config;
  std::string format = "distserve";
  std::string measured;
  std::string workload;
  std::string arrivals;
  std::string out;
  double ttft_slo_ms = 200.0;
  double tpot_slo_ms = 100.0;
  std::vector<std::string> set_values;
};

void RunValidate(const ValidateFlags& f) {
  ScenarioOverrides overrides;
  for (const auto& item : f.set_values) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      ThrowConfigError("--set '{}': expected KEY.PATH=VALUE", item);
    overrides.set_values.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  const Scenario scenario = LoadScenario(f.config, overrides);
  if (!f.arrivals.empty() && f.format != "vllm-json") {
    ThrowConfigError("--arrivals applies to --format vllm-json only ({} files carry arrivals)",
                     f.format);
  }
  MeasuredRun run;
  if (f.format == "distserve") {
    if (f.workload.empty()) ThrowConfigError("--format distserve needs --workload (the .exp sent)");
    run = ReadDistServeRun(f.measured, f.workload);
  } else if (f.format == "csv") {
    run = ReadMeasuredCsv(f.measured);
  } else if (f.format == "vllm-json") {
    run = ReadVllmBenchmarkJson(f.measured, f.arrivals);
  } else {
    ThrowConfigError("--format: unknown format '{}'; valid: distserve, csv, vllm-json", f.format);
  }
  if (!(f.ttft_slo_ms > 0.0) || !(f.tpot_slo_ms > 0.0)) {
    ThrowConfigError("--ttft-slo-ms and --tpot-slo-ms: expected > 0, got {} and {}", f.ttft_slo_ms,
                     f.tpot_slo_ms);
  }
  ValidationOptions options;
  options.ttft_slo_s = f.ttft_slo_ms * 1e-3;
  options.tpot_slo_s = f.tpot_slo_ms * 1e-3;
  const ValidationResult result = Validate(scenario, run, options);
  const std::string report = FormatValidationMarkdown(result);
  fmt::print("{}", report);
  if (!f.out.empty()) {
    namespace fs = std::filesystem;
    WriteFileAtomically((fs::path(f.out) / "requests.csv").string(), FormatValidationCsv(result));
    WriteFileAtomically((fs::path(f.out) / "summary.json").string(), FormatValidationJson(result));
    WriteFileAtomically((fs::path(f.out) / "report.md").string(), report);
    WriteFileAtomically((fs::path(f.out) / "config.yaml").string(), ResolvedConfigYaml(scenario));
    fmt::print("wrote {}/{{requests.csv, summary.json, report.md, config.yaml}}\n", f.out);
  }
}

}  // namespace

void AddValidateCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "validate", "Replay a measured serving run through a scenario and compare TTFT, TPOT, E2E");
  auto f = std::make_shared<ValidateFlags>();
  cmd->add_option("--config", f->config, "Scenario YAML serving the measured model")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--measured", f->measured,
                  "Measured run (DistServe .exp, our CSV, or vLLM benchmark_serving.py JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--workload", f->workload, "DistServe workload .exp that was sent")
      ->check(CLI::ExistingFile);
  cmd->add_option("--arrivals", f->arrivals,
                  "vllm-json only: FILE (one send time in s per request) or poisson:SEED (the "
                  "schedule benchmark_serving.py --seed SEED drew)");
  cmd->add_option("--format", f->format, "distserve, csv or vllm-json (docs/fidelity.md)")
      ->capture_default_str();
  cmd->add_option("--out", f->out, "Folder for requests.csv, summary.json, report.md");
  cmd->add_option("--ttft-slo-ms", f->ttft_slo_ms, "TTFT SLO")->capture_default_str();
  cmd->add_option("--tpot-slo-ms", f->tpot_slo_ms, "TPOT SLO")->capture_default_str();
  cmd->add_option("--set", f->set_values, "Override a scenario key: --set KEY.PATH=VALUE");
  cmd->callback([f] { RunValidate(*f); });
}

}  // namespace bestserve::app
