#include "scenario/validation.h"

#include <fmt/format.h>

#include <cmath>

#include "common/json_writer.h"

namespace bestserve {
namespace {

std::string Cell(double v) { return std::isnan(v) ? std::string() : fmt::format("{}", v); }

MetricComparison Compare(const std::vector<ValidationRow>& rows,
                         double MeasuredRequest::*measured_field,
                         double ValidationRow::*simulated) {
  std::vector<double> measured;
  std::vector<double> sim;
  double ape_sum = 0.0;
  int64_t ape_count = 0;
  for (const ValidationRow& row : rows) {
    const double m = row.measured.*measured_field;
    const double s = row.*simulated;
    if (std::isnan(m) || std::isnan(s)) continue;  // undefined on one side (rejected, 1 token)
    measured.push_back(m);
    sim.push_back(s);
    if (m > 0.0) {
      ape_sum += std::abs(s - m) / m;
      ++ape_count;
    }
  }
  MetricComparison c;
  c.measured = Describe(std::move(measured));
  c.simulated = Describe(std::move(sim));
  c.mean_error = c.measured.mean > 0.0 ? c.simulated.mean / c.measured.mean - 1.0 : 0.0;
  c.mape = ape_count > 0 ? ape_sum / static_cast<double>(ape_count) : 0.0;
  return c;
}

bool MeetsSlo(double ttft_s, double tpot_s, const ValidationOptions& o) {
  return ttft_s <= o.ttft_slo_s && (std::isnan(tpot_s) || tpot_s <= o.tpot_slo_s);
}

}  // namespace

ValidationResult Validate(const Scenario& scenario, const MeasuredRun& run,
                          const ValidationOptions& options) {
  if (scenario.system.model_names.size() != 1 || scenario.system.instances.empty()) {
    ThrowConfigError("{}: validate replays a run of one model; the scenario serves {} ({})",
                     scenario.source, scenario.system.model_names.size(),
                     fmt::join(scenario.system.model_names, ", "));
  }
  Workload workload;
  for (size_t i = 0; i < run.requests.size(); ++i) {
    const MeasuredRequest& m = run.requests[i];
    Request r;
    r.id = static_cast<int64_t>(i);
    r.arrival_s = m.arrival_s;
    r.task = 0;
    r.prompt_tokens = m.prompt_tokens;
    r.output_tokens = m.output_tokens;
    workload.push_back(r);
  }
  scenario.deadline.ApplyTo(workload, scenario.tasks);
  auto sim = MakeSimulator(scenario);
  sim->Reset(std::move(workload));
  while (sim->AdvanceToNextArrival()) sim->Dispatch(0);
  sim->Drain();

  ValidationResult result;
  result.scenario = scenario.name;
  result.measured_source = run.source;
  result.engine = ToString(scenario.system.engine.kind);
  result.options = options;
  result.counters = sim->counters();
  int64_t met_measured = 0;
  int64_t met_simulated = 0;
  for (size_t i = 0; i < run.requests.size(); ++i) {
    const RequestRecord& rec = sim->records()[i];
    ValidationRow row;
    row.measured = run.requests[i];
    row.rejected = rec.reject != RejectReason::kNone;
    row.ttft_s = TimeToFirstToken(rec);
    row.tpot_s = TimePerOutputToken(rec);
    row.e2e_s = row.rejected ? std::nan("") : rec.completion_s - rec.request.arrival_s;
    result.rejected += row.rejected ? 1 : 0;
    met_measured += MeetsSlo(row.measured.ttft_s, row.measured.tpot_s, options) ? 1 : 0;
    met_simulated += !row.rejected && MeetsSlo(row.ttft_s, row.tpot_s, options) ? 1 : 0;
    result.rows.push_back(row);
  }
  const auto n = static_cast<double>(run.requests.size());
  result.slo_measured = static_cast<double>(met_measured) / n;
  result.slo_simulated = static_cast<double>(met_simulated) / n;
  result.ttft_s = Compare(result.rows, &MeasuredRequest::ttft_s, &ValidationRow::ttft_s);
  result.tpot_s = Compare(result.rows, &MeasuredRequest::tpot_s, &ValidationRow::tpot_s);
  result.e2e_s = Compare(result.rows, &MeasuredRequest::e2e_s, &ValidationRow::e2e_s);
  return result;
}

std::string FormatValidationCsv(const ValidationResult& r) {
  std::string out =
      "id,arrival_s,prompt_tokens,output_tokens,measured_ttft_s,sim_ttft_s,measured_tpot_s,"
      "sim_tpot_s,measured_e2e_s,sim_e2e_s,rejected\n";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const ValidationRow& row = r.rows[i];
    const MeasuredRequest& m = row.measured;
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", i, m.arrival_s, m.prompt_tokens,
                       m.output_tokens, Cell(m.ttft_s), Cell(row.ttft_s), Cell(m.tpot_s),
                       Cell(row.tpot_s), Cell(m.e2e_s), Cell(row.e2e_s), row.rejected ? 1 : 0);
  }
  return out;
}

std::string FormatValidationJson(const ValidationResult& r) {
  JsonWriter w;
  w.BeginObject();
  w.FieldString("scenario", r.scenario);
  w.FieldString("measured", r.measured_source);
  w.FieldString("engine", r.engine);
  w.FieldInt("num_requests", static_cast<int64_t>(r.rows.size()));
  w.FieldInt("rejected", r.rejected);
  auto metric = [&](const char* key, const MetricComparison& c) {
    w.Key(key).BeginObject();
    WriteDistribution(w, "measured", c.measured);
    WriteDistribution(w, "simulated", c.simulated);
    w.Field("mean_error", c.mean_error).Field("mape", c.mape).EndObject();
  };
  metric("ttft_s", r.ttft_s);
  metric("tpot_s", r.tpot_s);
  metric("e2e_s", r.e2e_s);
  w.Key("slo").BeginObject();
  w.Field("ttft_s", r.options.ttft_slo_s).Field("tpot_s", r.options.tpot_slo_s);
  w.Field("measured_attainment", r.slo_measured).Field("simulated_attainment", r.slo_simulated);
  w.Field("error_points", 100.0 * (r.slo_simulated - r.slo_measured)).EndObject();
  w.Key("simulator").BeginObject();
  w.FieldInt("prefill_iterations", r.counters.prefill_iterations);
  w.FieldInt("decode_iterations", r.counters.decode_iterations);
  w.FieldInt("mixed_iterations", r.counters.mixed_iterations);
  w.FieldInt("preemptions", r.counters.preemptions);
  w.FieldInt("max_running_batch", r.counters.max_running_batch);
  w.EndObject();
  w.EndObject();
  return w.str();
}

std::string FormatValidationMarkdown(const ValidationResult& r) {
  std::string out = fmt::format(
      "Scenario `{}` (engine `{}`) vs `{}`: {} requests ({} rejected "
      "by the simulator), simulated / measured.\n\n",
      r.scenario, r.engine, r.measured_source, r.rows.size(), r.rejected);
  out += "| metric | mean | p50 | p90 | p99 | error of mean | per-request MAPE |\n";
  out += "|---|---|---|---|---|---|---|\n";
  auto row = [&out](const char* name, const MetricComparison& c, double scale, const char* unit) {
    out += fmt::format(
        "| {} ({}) | {:.3g} / {:.3g} | {:.3g} / {:.3g} | {:.3g} / {:.3g} | {:.3g} / {:.3g} | "
        "{:+.1f}% | {:.1f}% |\n",
        name, unit, c.simulated.mean * scale, c.measured.mean * scale, c.simulated.p50 * scale,
        c.measured.p50 * scale, c.simulated.p90 * scale, c.measured.p90 * scale,
        c.simulated.p99 * scale, c.measured.p99 * scale, 100.0 * c.mean_error, 100.0 * c.mape);
  };
  row("TTFT", r.ttft_s, 1e3, "ms");
  row("TPOT", r.tpot_s, 1e3, "ms");
  row("E2E", r.e2e_s, 1.0, "s");
  out += fmt::format(
      "\nSLO attainment (TTFT <= {:g} ms and TPOT <= {:g} ms): {:.1f}% / {:.1f}% ({:+.1f} "
      "points). Preemptions simulated: {}.\n",
      r.options.ttft_slo_s * 1e3, r.options.tpot_slo_s * 1e3, 100.0 * r.slo_simulated,
      100.0 * r.slo_measured, 100.0 * (r.slo_simulated - r.slo_measured), r.counters.preemptions);
  return out;
}

}  // namespace bestserve
