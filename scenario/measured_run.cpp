#include "scenario/measured_run.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
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

std::vector<double> VllmBenchmarkPoissonArrivals(size_t n, double rate, uint32_t seed) {
  // numpy's legacy seeding of an integer is MT19937's init_genrand, as std::mt19937's.
  std::mt19937 mt(seed);
  std::vector<double> arrivals;
  arrivals.reserve(n);
  double t = 0.0;
  for (size_t i = 0; i < n; ++i) {
    arrivals.push_back(t);
    const uint32_t a = mt() >> 5;
    const uint32_t b = mt() >> 6;
    const double u = (a * 67108864.0 + b) / 9007199254740992.0;  // numpy's random_double
    t += -std::log1p(-u) / rate;
  }
  return arrivals;
}

namespace {

std::vector<double> ReadArrivalsFile(const std::string& path, size_t expected,
                                     const std::string& json_path) {
  std::istringstream in(ReadFile(path));
  std::vector<double> arrivals;
  std::string line;
  for (int line_number = 1; std::getline(in, line); ++line_number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    double v = 0.0;
    try {
      size_t used = 0;
      v = std::stod(line, &used);
      if (used != line.size() || !std::isfinite(v)) throw std::invalid_argument("");
    } catch (const std::exception&) {
      ThrowConfigError("{}:{}: '{}' is not an arrival time in seconds", path, line_number, line);
    }
    if (!arrivals.empty() && v < arrivals.back()) {
      ThrowConfigError(
          "{}:{}: arrival {} is before the previous line's {}; expected requests in "
          "the order they were sent",
          path, line_number, v, arrivals.back());
    }
    arrivals.push_back(v);
  }
  if (arrivals.size() != expected) {
    ThrowConfigError("{} has {} arrival times but {} has {} requests: not the same run", path,
                     arrivals.size(), json_path, expected);
  }
  return arrivals;
}

ConfigNode RequiredList(const ConfigNode& root, const char* key, const std::string& file) {
  if (!root.Has(key)) {
    ThrowConfigError(
        "{}: missing '{}' (expected a list, one entry per request; was it saved by "
        "benchmark_serving.py --save-result?)",
        file, key);
  }
  const ConfigNode list = root.Child(key);
  if (!list.IsSequence()) ThrowConfigError("{}: '{}' is not a list", file, key);
  return list;
}

double ListNumber(const ConfigNode& list, const char* key, size_t index, const std::string& file) {
  const ConfigNode value = list.Element(index);
  try {
    const double v = value.AsDouble();
    if (!std::isfinite(v)) throw ConfigError("");
    return v;
  } catch (const ConfigError&) {
    ThrowConfigError("{}: record {}: {}[{}] is '{}', expected a number", file, index, key, index,
                     value.IsScalar() ? value.yaml().Scalar() : std::string("not a scalar"));
  }
}

}  // namespace

MeasuredRun ReadVllmBenchmarkJson(const std::string& path, const std::string& arrivals_spec) {
  if (arrivals_spec.empty()) {
    ThrowConfigError(
        "{}: vLLM's benchmark JSON has no arrival times; give --arrivals FILE (one time in "
        "seconds per request) or --arrivals poisson:SEED (the schedule benchmark_serving.py drew "
        "with --seed SEED)",
        path);
  }
  const ConfigNode root = [&] {
    try {
      return ConfigNode::LoadData(ReadFile(path), path);
    } catch (const ConfigError& e) {
      ThrowConfigError("{}: expected vLLM's benchmark_serving.py --save-result JSON: {}", path,
                       e.what());
    }
  }();
  if (!root.IsMap()) ThrowConfigError("{}: expected a JSON object", path);
  const ConfigNode input_lens = RequiredList(root, "input_lens", path);
  const ConfigNode output_lens = RequiredList(root, "output_lens", path);
  const ConfigNode ttfts = RequiredList(root, "ttfts", path);
  const ConfigNode itls = RequiredList(root, "itls", path);
  const size_t n = input_lens.size();
  if (n == 0) ThrowConfigError("{}: no requests ('input_lens' is empty)", path);
  for (const auto& [key, list] : {std::pair{"output_lens", output_lens}, std::pair{"ttfts", ttfts},
                                  std::pair{"itls", itls}}) {
    if (list.size() != n) {
      ThrowConfigError("{}: '{}' has {} entries but 'input_lens' has {}", path, key, list.size(),
                       n);
    }
  }
  const bool has_errors =
      root.Has("errors") && root.Child("errors").IsSequence() && root.Child("errors").size() == n;

  std::vector<double> arrivals;
  constexpr std::string_view kPoisson = "poisson:";
  if (arrivals_spec.rfind(kPoisson, 0) == 0) {
    const std::string seed_text = arrivals_spec.substr(kPoisson.size());
    uint32_t seed = 0;
    try {
      size_t used = 0;
      const unsigned long long v = std::stoull(seed_text, &used);
      if (used != seed_text.size() || v > 0xffffffffULL || seed_text[0] == '-')
        throw std::invalid_argument("");
      seed = static_cast<uint32_t>(v);
    } catch (const std::exception&) {
      ThrowConfigError("--arrivals '{}': expected poisson:SEED with SEED in [0, 2^32)",
                       arrivals_spec);
    }
    if (!root.Has("request_rate")) {
      ThrowConfigError("{}: missing 'request_rate', needed by --arrivals {}", path, arrivals_spec);
    }
    const ConfigNode rate_node = root.Child("request_rate");
    double rate = 0.0;
    try {
      rate = rate_node.AsDouble();
    } catch (const ConfigError&) {
      rate = std::nan("");
    }
    if (!(rate > 0.0) || !std::isfinite(rate)) {
      ThrowConfigError(
          "{}: 'request_rate' is '{}': --arrivals {} needs a finite rate > 0 (a run at rate inf "
          "sent every request at once; give --arrivals FILE)",
          path, rate_node.IsScalar() ? rate_node.yaml().Scalar() : "not a scalar", arrivals_spec);
    }
    arrivals = VllmBenchmarkPoissonArrivals(n, rate, seed);
  } else {
    arrivals = ReadArrivalsFile(arrivals_spec, n, path);
  }

  MeasuredRun run;
  run.source = path;
  for (size_t i = 0; i < n; ++i) {
    MeasuredRequest m;
    auto length = [&](const ConfigNode& list, const char* key) {
      const double v = ListNumber(list, key, i, path);
      if (!(v >= 1.0) || v != std::floor(v) || v > 1e9) {
        std::string why;
        if (has_errors && v == 0.0) {
          const ConfigNode error = root.Child("errors").Element(i);
          if (error.IsScalar() && !error.yaml().Scalar().empty()) {
            why = fmt::format(" (the request failed: '{}')", error.yaml().Scalar());
          }
        }
        ThrowConfigError("{}: record {}: {}[{}] is {}, expected a whole number of tokens >= 1{}",
                         path, i, key, i, v, why);
      }
      return static_cast<int32_t>(v);
    };
    m.prompt_tokens = length(input_lens, "input_lens");
    m.output_tokens = length(output_lens, "output_lens");
    m.ttft_s = ListNumber(ttfts, "ttfts", i, path);
    if (!(m.ttft_s > 0.0)) {
      ThrowConfigError("{}: record {}: ttfts[{}] is {}, expected a time in seconds > 0", path, i, i,
                       m.ttft_s);
    }
    const ConfigNode gaps = itls.Element(i);
    if (!gaps.IsSequence()) {
      ThrowConfigError("{}: record {}: itls[{}] is not a list of inter-token gaps", path, i, i);
    }
    double decode_s = 0.0;
    for (size_t k = 0; k < gaps.size(); ++k) {
      const ConfigNode gap = gaps.Element(k);
      double v = std::nan("");
      try {
        v = gap.AsDouble();
      } catch (const ConfigError&) {
      }
      if (!(v >= 0.0) || !std::isfinite(v)) {
        ThrowConfigError("{}: record {}: itls[{}][{}] is '{}', expected a time in seconds >= 0",
                         path, i, i, k, gap.IsScalar() ? gap.yaml().Scalar() : "not a scalar");
      }
      decode_s += v;
    }
    if (m.output_tokens > 1 && gaps.size() == 0) {
      ThrowConfigError("{}: record {}: {} output tokens but itls[{}] is empty", path, i,
                       m.output_tokens, i);
    }
    m.e2e_s = m.ttft_s + decode_s;
    m.tpot_s = m.output_tokens > 1 ? decode_s / (m.output_tokens - 1) : std::nan("");
    m.arrival_s = arrivals[i] - arrivals.front();
    run.requests.push_back(m);
  }
  return run;
}

}  // namespace bestserve
