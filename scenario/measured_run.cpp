#include "scenario/measured_run.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "common/config.h"
#include "common/error.h"
#include "common/files.h"

namespace bestserve {
namespace {

// A record's numeric field, failing with the file, the record index and the key.
double Number(const ConfigNode& record, const char* key, size_t index, const std::string& file) {
  if (!record.Has(key)) {
    ThrowConfigError("{}: record {}: missing '{}' (expected a number)", file, index, key);
  }
  const ConfigNode value = record.Child(key);
  try {
    return value.AsDouble();
  } catch (const ConfigError&) {
    ThrowConfigError("{}: record {}: '{}' is '{}', expected a number", file, index, key,
                     value.IsScalar() ? value.yaml().Scalar() : std::string("not a scalar"));
  }
}

int32_t Length(const ConfigNode& record, const char* key, size_t index, const std::string& file) {
  const double v = Number(record, key, index, file);
  if (!(v >= 1.0) || v != std::floor(v) || v > 1e9) {
    ThrowConfigError("{}: record {}: '{}' is {}, expected a whole number of tokens >= 1", file,
                     index, key, v);
  }
  return static_cast<int32_t>(v);
}

ConfigNode ParseList(const std::string& text, const std::string& file, const char* what) {
  // A Python literal of dicts, numbers and single-quoted strings is YAML flow syntax; JSON is too.
  ConfigNode root = [&] {
    try {
      return ConfigNode::LoadData(text, file);
    } catch (const ConfigError& e) {
      ThrowConfigError("{}: expected {} on the first line: {}", file, what, e.what());
    }
  }();
  if (!root.IsSequence() || root.size() == 0) {
    ThrowConfigError("{}: expected {} (a non-empty list of records)", file, what);
  }
  for (size_t i = 0; i < root.size(); ++i) {
    if (!root.Element(i).IsMap()) ThrowConfigError("{}: record {}: expected a dict", file, i);
  }
  return root;
}

}  // namespace

MeasuredRun ReadDistServeRun(const std::string& measured_path, const std::string& workload_path) {
  std::string first_line;
  {
    std::ifstream in(measured_path);
    if (!in) ThrowConfigError("{}: cannot open the measured file", measured_path);
    std::getline(in, first_line);
  }
  const ConfigNode measured = ParseList(first_line, measured_path, "a Python list of dicts");
  const ConfigNode workload = ParseList(ReadFile(workload_path), workload_path, "a JSON list");
  if (measured.size() != workload.size()) {
    ThrowConfigError("{} has {} requests but {} has {}: not a measured/workload pair",
                     measured_path, measured.size(), workload_path, workload.size());
  }
  struct Row {
    double issue_s;
    size_t index;
    MeasuredRequest request;
  };
  std::vector<Row> rows;
  for (size_t i = 0; i < measured.size(); ++i) {
    const ConfigNode r = measured.Element(i);
    Row row{Number(r, "issue_time", i, measured_path), i, {}};
    MeasuredRequest& m = row.request;
    m.prompt_tokens = Length(r, "prompt_len", i, measured_path);
    m.output_tokens = Length(r, "output_len", i, measured_path);
    m.ttft_s = Number(r, "ttft_ms", i, measured_path) * 1e-3;
    m.tpot_s = m.output_tokens > 1 ? Number(r, "tpot_ms", i, measured_path) * 1e-3 : std::nan("");
    m.e2e_s = Number(r, "latency_ms", i, measured_path) * 1e-3;
    if (!(m.ttft_s >= 0.0) || !(m.e2e_s >= m.ttft_s)) {
      ThrowConfigError("{}: record {}: expected 0 <= ttft_ms <= latency_ms, got {} and {}",
                       measured_path, i, m.ttft_s * 1e3, m.e2e_s * 1e3);
    }
    rows.push_back(row);
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return a.issue_s < b.issue_s; });
  MeasuredRun run;
  run.source = measured_path;
  for (size_t i = 0; i < rows.size(); ++i) {
    const ConfigNode w = workload.Element(i);
    MeasuredRequest m = rows[i].request;
    const int32_t prompt = Length(w, "prompt_len", i, workload_path);
    const int32_t output = Length(w, "output_len", i, workload_path);
    const double start = Number(w, "start_time", i, workload_path);
    if (prompt != m.prompt_tokens || output != m.output_tokens) {
      ThrowConfigError(
          "{}: record {} (issued {}th) has lengths {}/{} but {} entry {} has {}/{}: not a "
          "measured/workload pair",
          measured_path, rows[i].index, i + 1, m.prompt_tokens, m.output_tokens, workload_path, i,
          prompt, output);
    }
    if (i > 0 && start < run.requests.back().arrival_s) {
      ThrowConfigError("{}: entry {}: start_time {} goes back in time", workload_path, i, start);
    }
    // The measured issue times are what the server saw; the workload's start times are what
    // the client meant to send. They agree in DistServe's data; we use the measured ones.
    m.arrival_s = rows[i].issue_s - rows.front().issue_s;
    run.requests.push_back(m);
  }
  return run;
}

MeasuredRun ReadMeasuredCsv(const std::string& path) {
  std::istringstream in(ReadFile(path));
  std::string line;
  const std::string header = "arrival_s,prompt_tokens,output_tokens,ttft_s,tpot_s,e2e_s";
  if (!std::getline(in, line) || line != header) {
    ThrowConfigError("{}:1: expected the header '{}', got '{}'", path, header, line);
  }
  MeasuredRun run;
  run.source = path;
  for (int line_number = 2; std::getline(in, line); ++line_number) {
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::stringstream cells_in(line);
    for (std::string cell; std::getline(cells_in, cell, ',');) cells.push_back(cell);
    if (line.back() == ',') cells.emplace_back();
    if (cells.size() != 6) {
      ThrowConfigError("{}:{}: expected 6 values ({}), got {}", path, line_number, header,
                       cells.size());
    }
    auto number = [&](size_t column, bool allow_empty) {
      if (cells[column].empty() && allow_empty) return std::nan("");
      try {
        size_t used = 0;
        const double v = std::stod(cells[column], &used);
        if (used != cells[column].size() || !std::isfinite(v) || v < 0.0)
          throw std::invalid_argument("");
        return v;
      } catch (const std::exception&) {
        ThrowConfigError("{}:{}: column {} is '{}', expected a number >= 0", path, line_number,
                         column + 1, cells[column]);
      }
    };
    MeasuredRequest m;
    m.arrival_s = number(0, false);
    m.prompt_tokens = static_cast<int32_t>(number(1, false));
    m.output_tokens = static_cast<int32_t>(number(2, false));
    m.ttft_s = number(3, false);
    m.tpot_s = number(4, m.output_tokens < 2);
    m.e2e_s = number(5, false);
    if (m.prompt_tokens < 1 || m.output_tokens < 1) {
      ThrowConfigError("{}:{}: expected prompt and output tokens >= 1", path, line_number);
    }
    if (!run.requests.empty() && m.arrival_s < run.requests.back().arrival_s) {
      ThrowConfigError("{}:{}: arrival_s {} is before the previous row's; expected rows by arrival",
                       path, line_number, m.arrival_s);
    }
    run.requests.push_back(m);
  }
  if (run.requests.empty()) ThrowConfigError("{}: no requests", path);
  const double first = run.requests.front().arrival_s;
  for (auto& m : run.requests) m.arrival_s -= first;
  return run;
}

}  // namespace bestserve
