// `bestserve profile fit`: turn raw latency measurements (profiles/tools/profile_gpu.py) into a
// profile set the simulator reads. The fit itself lives in profiles/tools/profile_fit.h.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "apps/bestserve/commands.h"
#include "common/error.h"
#include "common/files.h"
#include "profiles/tools/distserve_import.h"
#include "profiles/tools/profile_fit.h"
#include "sim/latency_profile.h"

namespace bestserve::app {
namespace {

struct FitFlags {
  std::vector<std::string> raw;
  std::vector<std::string> provenance;
  std::string out;
  std::string report;
  std::string name;
  std::string prefill_mapping = "max";
  std::string incomplete_grid = "error";
  std::string extrapolation = "error";
  bool monotone_repair = false;
};

std::string CommandLine(const FitFlags& f, const std::vector<std::string>& provenance,
                        const std::string& name) {
  std::string command = fmt::format("bestserve profile fit {}", fmt::join(f.raw, " "));
  for (const auto& p : provenance) command += " --provenance " + p;
  command += fmt::format(
      " --out {} --name {} --prefill-mapping {} --incomplete-grid {} --extrapolation {}", f.out,
      name, f.prefill_mapping, f.incomplete_grid, f.extrapolation);
  if (f.monotone_repair) command += " --monotone-repair";
  if (!f.report.empty()) command += " --report " + f.report;
  return command;
}

// The provenance record of each raw file: as given (one per raw file, in order), or the
// profiler's provenance.json next to it.
std::vector<std::string> ProvenancePaths(const FitFlags& flags) {
  namespace fs = std::filesystem;
  if (!flags.provenance.empty()) {
    if (flags.provenance.size() != flags.raw.size()) {
      ThrowConfigError("--provenance: expected one record per raw file ({}), got {}",
                       flags.raw.size(), flags.provenance.size());
    }
    return flags.provenance;
  }
  std::vector<std::string> paths;
  for (const auto& raw : flags.raw) {
    const std::string path = (fs::path(raw).parent_path() / "provenance.json").string();
    if (!fs::exists(path)) {
      ThrowConfigError(
          "{}: no provenance record next to the raw file ({} does not exist); pass "
          "--provenance FILE (a measured profile must say where it was measured)",
          raw, path);
    }
    paths.push_back(path);
  }
  return paths;
}

void RunFit(const FitFlags& flags) {
  profiling::FitOptions options;
  options.prefill_mapping = profiling::ParsePrefillMapping(flags.prefill_mapping);
  options.incomplete_grid = profiling::ParseIncompleteGrid(flags.incomplete_grid);
  options.monotone_repair = flags.monotone_repair;
  if (flags.extrapolation != "error" && flags.extrapolation != "clamp") {
    ThrowConfigError("--extrapolation: unknown rule '{}'; valid: error, clamp",
                     flags.extrapolation);
  }
  options.extrapolation =
      flags.extrapolation == "clamp" ? ExtrapolationRule::kClamp : ExtrapolationRule::kError;
  options.name = flags.name.empty() ? profiling::DefaultSetName(flags.out) : flags.name;
  const std::vector<std::string> provenance_paths = ProvenancePaths(flags);
  options.fit_command = CommandLine(flags, provenance_paths, options.name);

  std::vector<profiling::RawMeasurements> raws;
  std::vector<profiling::ProvenanceRecord> records;
  for (size_t i = 0; i < flags.raw.size(); ++i) {
    raws.push_back(profiling::LoadRawCsv(flags.raw[i]));
    records.push_back(profiling::LoadProvenance(provenance_paths[i]));
  }
  const profiling::FitResult fit = profiling::FitProfileSet(
      profiling::MergeRawMeasurements(raws), profiling::MergeProvenance(records), options);
  // Load the YAML back before writing it: what we write must be a valid profile set.
  ProfileSet::Parse(ConfigNode::LoadString(fit.yaml, flags.out));
  fmt::print("{}", fit.report);
  WriteFileAtomically(flags.out, fit.yaml);
  if (!flags.report.empty()) WriteFileAtomically(flags.report, fit.report);
  fmt::print("wrote {} (profile set '{}', {} models)\n", flags.out, options.name,
             fit.models.size());
}

void RunImport(const profiling::DistServeImportOptions& options, const std::string& out_dir) {
  const std::string yaml = profiling::ImportDistServeProfile(options);
  const std::string path = (std::filesystem::path(out_dir) / "profile.yaml").string();
  ProfileSet::Parse(ConfigNode::LoadString(yaml, path));  // what we write must load
  WriteFileAtomically(path, yaml);
  fmt::print("wrote {} ('{}' at tensor parallel {}, provenance: fitted by DistServe)\n", path,
             options.model, options.tensor_parallel);
}

}  // namespace

void AddProfileCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "profile", "Fit latency profiles from raw measurements, or import a fitted model");
  cmd->require_subcommand(1);

  auto flags = std::make_shared<FitFlags>();
  auto* fit = cmd->add_subcommand(
      "fit",
      "Turn the raw CSV of profiles/tools/profile_gpu.py into a profile set (YAML, written "
      "atomically) and print a fit report");
  fit->add_option(
         "raw", flags->raw,
         "Raw measurements CSV (measurements.csv); several runs on one device (e.g. one per "
         "model) can be fitted together")
      ->required()
      ->check(CLI::ExistingFile);
  fit->add_option(
         "--provenance", flags->provenance,
         "Provenance record, JSON or YAML, one per raw file (default: provenance.json next "
         "to each CSV)")
      ->check(CLI::ExistingFile);
  fit->add_option("--out", flags->out, "Profile set YAML to write")->required();
  fit->add_option("--report", flags->report, "Also write the fit report to this file (atomically)");
  fit->add_option("--name", flags->name,
                  "Name of the profile set (default: the output's folder name, e.g. h100 for "
                  "profiles/h100/profile.yaml)");
  fit->add_option(
         "--prefill-mapping", flags->prefill_mapping,
         "How (batch x prompt) prefill points map to the total-tokens table: max, mean, batch1")
      ->capture_default_str();
  fit->add_option("--incomplete-grid", flags->incomplete_grid,
                  "Decode grid with unmeasured cells: error, drop-batches, drop-contexts")
      ->capture_default_str();
  fit->add_option("--extrapolation", flags->extrapolation,
                  "The set's rule outside the tables: error, clamp")
      ->capture_default_str();
  fit->add_flag("--monotone-repair", flags->monotone_repair,
                "Replace values that decrease along an axis by the running maximum (each change is "
                "logged in the report and the provenance)");
  fit->callback([flags] { RunFit(*flags); });

  auto import_options = std::make_shared<profiling::DistServeImportOptions>();
  auto import_out = std::make_shared<std::string>();
  auto* import = cmd->add_subcommand(
      "import",
      "Turn DistServe's fitted latency model (profiler-<gpu>.vllm.json) into a profile set "
      "with a parametric latency model (provenance: fitted, not measured)");
  import->add_option("json", import_options->json_path, "DistServe profile JSON")
      ->required()
      ->check(CLI::ExistingFile);
  import->add_option("--model", import_options->model, "Model, e.g. opt-13b")->required();
  import->add_option("--tp", import_options->tensor_parallel, "Tensor-parallel degree")
      ->capture_default_str();
  import->add_option("--gpu-name", import_options->gpu_name, "GPU the fit was measured on")
      ->capture_default_str();
  import->add_option("--gpu-memory-gib", import_options->gpu_memory_gib, "Its memory")
      ->capture_default_str();
  import->add_option("--name", import_options->set_name, "Profile set name")
      ->capture_default_str();
  import->add_option("--iteration-overhead-ms", import_options->iteration_overhead_ms,
                     "Serving cost per iteration beyond the fit (ours, written to provenance)");
  import->add_option("--request-overhead-ms", import_options->request_overhead_ms,
                     "Serving cost per request at its first token beyond the fit");
  import->add_option("--sequence-overhead-ms", import_options->sequence_overhead_ms,
                     "Serving cost per sequence in each iteration beyond the fit");
  import->add_option("--overhead-note", import_options->overhead_note,
                     "How the overheads were calibrated (goes into the provenance)");
  import->add_option("--out", *import_out, "Folder to write profile.yaml into")->required();
  import->callback([import_options, import_out] { RunImport(*import_options, *import_out); });
}

}  // namespace bestserve::app
