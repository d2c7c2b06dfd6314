#include "workloads/request_csv.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "common/limits.h"
#include "workloads/registry.h"
#include "workloads/workload_config.h"

namespace bestserve {
namespace {

// A row is seven short fields; a longer line is not a request CSV (docs/reliability.md).
constexpr size_t kMaxRequestCsvLineBytes = 4096;


constexpr std::string_view kHeader =
    "id,arrival_s,task,prompt_tokens,output_tokens,deadline_s,nominal_rate_rps";
constexpr const char* kColumns[] = {"id",           "arrival_s",  "task",
                                    "prompt_tokens", "output_tokens", "deadline_s",
                                    "nominal_rate_rps"};

std::string FormatOptional(double value) {
  return std::isnan(value) ? std::string() : fmt::format("{}", value);
}

struct RowContext {
  const std::string& source;
  size_t line;
  [[noreturn]] void Fail(size_t column, const std::string& message) const {
    ThrowConfigError("{}:{}: column '{}': {}", source, line, kColumns[column], message);
  }
};

double ParseDouble(std::string_view field, size_t column, const RowContext& row, bool optional) {
  if (field.empty()) {
    if (optional) return kUnset;
    row.Fail(column, "expected a number, got an empty field");
  }
  double value = 0.0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (ec != std::errc() || end != field.data() + field.size() || !std::isfinite(value)) {
    row.Fail(column, fmt::format("expected a number, got '{}'", field));
  }
  return value;
}

int64_t ParseInt(std::string_view field, size_t column, const RowContext& row) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (field.empty() || ec != std::errc() || end != field.data() + field.size()) {
    row.Fail(column, fmt::format("expected an integer, got '{}'", field));
  }
  return value;
}

}  // namespace

std::string FormatRequestCsv(const Workload& workload, const TaskTable& tasks) {
  std::string out(kHeader);
  out += '\n';
  for (const Request& r : workload) {
    out += fmt::format("{},{},{},{},{},{},{}\n", r.id, r.arrival_s, tasks.task(r.task).name,
                       r.prompt_tokens, r.output_tokens, FormatOptional(r.deadline_s),
                       FormatOptional(r.nominal_rate_rps));
  }
  return out;
}

Workload ParseRequestCsv(const std::string& text, const std::string& source,
                         const TaskTable& tasks) {
  Workload workload;
  size_t line_number = 0;
  size_t pos = 0;
  bool saw_header = false;
  std::vector<std::string_view> fields;
  std::unordered_map<int64_t, size_t> first_line_of_id;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.size() > kMaxRequestCsvLineBytes) {
      ThrowConfigError("{}:{}: a line of {} bytes; a request CSV row holds at most {} bytes", source,
                       line_number, line.size(), kMaxRequestCsvLineBytes);
    }
    if (!saw_header) {
      if (line != kHeader) {
        ThrowConfigError("{}:{}: expected the request CSV header '{}', got '{}'", source,
                         line_number, kHeader, MessageExcerpt(line));
      }
      saw_header = true;
      continue;
    }
    fields.clear();
    size_t start = 0;
    while (true) {
      const size_t comma = line.find(',', start);
      fields.push_back(line.substr(start, comma == std::string_view::npos ? comma : comma - start));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    const RowContext row{source, line_number};
    if (fields.size() != std::size(kColumns)) {
      ThrowConfigError("{}:{}: expected {} comma-separated fields, got {}", source, line_number,
                       std::size(kColumns), fields.size());
    }
    Request r;
    r.id = static_cast<int64_t>(workload.size());
    // Ids are renumbered by position, but a repeated id means rows were pasted twice or merged
    // from two files: refused rather than silently simulated.
    const int64_t id = ParseInt(fields[0], 0, row);
    if (const auto [it, fresh] = first_line_of_id.emplace(id, line_number); !fresh) {
      row.Fail(0, fmt::format("request id {} repeats (first on line {}); ids must be unique", id, it->second));
    }
    r.arrival_s = ParseDouble(fields[1], 1, row, false);
    if (r.arrival_s < 0.0) row.Fail(1, fmt::format("expected a time >= 0, got {}", r.arrival_s));
    if (!workload.empty() && r.arrival_s < workload.back().arrival_s) {
      row.Fail(1, fmt::format("rows must be sorted by arrival time; {} comes after {}",
                              r.arrival_s, workload.back().arrival_s));
    }
    try {
      r.task = tasks.FindTask(std::string(fields[2]));
    } catch (const ConfigError& e) {
      row.Fail(2, e.what());
    }
    const int64_t prompt = ParseInt(fields[3], 3, row);
    const int64_t output = ParseInt(fields[4], 4, row);
    constexpr int64_t kMaxTokens = int64_t{1} << 30;
    if (prompt < 1 || prompt > kMaxTokens) {
      row.Fail(3, fmt::format("expected a token count in [1, {}], got {}", kMaxTokens, prompt));
    }
    if (output < 1 || output > kMaxTokens) {
      row.Fail(4, fmt::format("expected a token count in [1, {}], got {}", kMaxTokens, output));
    }
    r.prompt_tokens = static_cast<int32_t>(prompt);
    r.output_tokens = static_cast<int32_t>(output);
    r.deadline_s = ParseDouble(fields[5], 5, row, true);
    if (!std::isnan(r.deadline_s) && !(r.deadline_s > 0.0)) {
      row.Fail(5, fmt::format("expected a deadline > 0 seconds, got {}", r.deadline_s));
    }
    r.nominal_rate_rps = ParseDouble(fields[6], 6, row, true);
    workload.push_back(r);
  }
  if (!saw_header) ThrowConfigError("{}: the file is empty; expected a request CSV header", source);
  if (workload.empty()) ThrowConfigError("{}: no request rows after the header", source);
  return workload;
}

Workload ReadRequestCsv(const std::string& path, const TaskTable& tasks) {
  std::string text;
  try {
    text = ReadFile(path);
  } catch (const Error& e) {
    throw ConfigError(e.what());
  }
  return ParseRequestCsv(text, path, tasks);
}

namespace {

// Replays a request CSV written by `bestserve workload generate` or by hand.
//   | key  | meaning                                                        |
//   | path | the CSV file; relative paths as in workload_config.h (config's   |
//   |      | folder, then the data folder)                                   |
class CsvWorkload : public WorkloadGenerator {
 public:
  explicit CsvWorkload(std::string path) : path_(std::move(path)) {}
  Workload Generate(const WorkloadContext& ctx) const override {
    return ReadRequestCsv(path_, *ctx.tasks);
  }
  std::string Describe() const override { return fmt::format("csv({})", path_); }

 private:
  std::string path_;
};

}  // namespace

// Registered in workloads/registry.cpp.
extern const WorkloadKind kCsvWorkload{
    "csv", "replay of a saved request CSV (`bestserve workload generate`)",
    [](const ConfigNode& s, const std::string& base) -> std::unique_ptr<WorkloadGenerator> {
      s.CheckKeys({"kind", "path"});
      return std::make_unique<CsvWorkload>(ResolveDataPath(s.GetString("path"), base));
    }};

}  // namespace bestserve
