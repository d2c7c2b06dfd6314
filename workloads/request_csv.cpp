#include "workloads/request_csv.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "common/limits.h"
#include "workloads/line_reader.h"
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

RequestCsvRows::RequestCsvRows(std::string source, const TaskTable& tasks, FirstLineOf first_line_of)
    : source_(std::move(source)), tasks_(&tasks), first_line_of_(std::move(first_line_of)) {}

bool RequestCsvRows::SeenId(int64_t id, size_t line_number) {
  if (id >= 0 && id < kDenseIds) {
    const auto word = static_cast<size_t>(id) / 64;
    const uint64_t bit = uint64_t{1} << (static_cast<size_t>(id) % 64);
    if (word >= dense_ids_.size()) {
      dense_ids_.resize(std::min(std::max(word + 1, dense_ids_.size() * 2), static_cast<size_t>(kDenseIds / 64)), 0);
    }
    const bool seen = (dense_ids_[word] & bit) != 0;
    dense_ids_[word] |= bit;
    return seen;
  }
  return !sparse_ids_.emplace(id, line_number).second;
}

bool RequestCsvRows::Parse(std::string_view line, size_t line_number, Request* out) {
  if (line.empty()) return false;
  if (line.size() > kMaxRequestCsvLineBytes) {
    ThrowConfigError("{}:{}: a line of {} bytes; a request CSV row holds at most {} bytes", source_,
                     line_number, line.size(), kMaxRequestCsvLineBytes);
  }
  if (!saw_header_) {
    if (line != kHeader) {
      ThrowConfigError("{}:{}: expected the request CSV header '{}', got '{}'", source_, line_number, kHeader,
                       MessageExcerpt(line));
    }
    saw_header_ = true;
    return false;
  }
  fields_.clear();
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    fields_.push_back(line.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  const RowContext row{source_, line_number};
  if (fields_.size() != std::size(kColumns)) {
    ThrowConfigError("{}:{}: expected {} comma-separated fields, got {}", source_, line_number,
                     std::size(kColumns), fields_.size());
  }
  Request r;
  r.id = rows_;
  // Ids are renumbered by position, but a repeated id means rows were pasted twice or merged
  // from two files: refused rather than silently simulated.
  const int64_t id = ParseInt(fields_[0], 0, row);
  if (SeenId(id, line_number)) {
    const auto sparse = sparse_ids_.find(id);
    const size_t first = sparse != sparse_ids_.end() ? sparse->second : first_line_of_(id);
    row.Fail(0, fmt::format("request id {} repeats (first on line {}); ids must be unique", id, first));
  }
  r.arrival_s = ParseDouble(fields_[1], 1, row, false);
  if (r.arrival_s < 0.0) row.Fail(1, fmt::format("expected a time >= 0, got {}", r.arrival_s));
  if (rows_ > 0 && r.arrival_s < last_arrival_s_) {
    row.Fail(1, fmt::format("rows must be sorted by arrival time; {} comes after {}", r.arrival_s,
                            last_arrival_s_));
  }
  try {
    r.task = tasks_->FindTask(std::string(fields_[2]));
  } catch (const ConfigError& e) {
    row.Fail(2, e.what());
  }
  const int64_t prompt = ParseInt(fields_[3], 3, row);
  const int64_t output = ParseInt(fields_[4], 4, row);
  constexpr int64_t kMaxTokens = int64_t{1} << 30;
  if (prompt < 1 || prompt > kMaxTokens) {
    row.Fail(3, fmt::format("expected a token count in [1, {}], got {}", kMaxTokens, prompt));
  }
  if (output < 1 || output > kMaxTokens) {
    row.Fail(4, fmt::format("expected a token count in [1, {}], got {}", kMaxTokens, output));
  }
  r.prompt_tokens = static_cast<int32_t>(prompt);
  r.output_tokens = static_cast<int32_t>(output);
  r.deadline_s = ParseDouble(fields_[5], 5, row, true);
  if (!std::isnan(r.deadline_s) && !(r.deadline_s > 0.0)) {
    row.Fail(5, fmt::format("expected a deadline > 0 seconds, got {}", r.deadline_s));
  }
  r.nominal_rate_rps = ParseDouble(fields_[6], 6, row, true);
  last_arrival_s_ = r.arrival_s;
  ++rows_;
  *out = r;
  return true;
}

void RequestCsvRows::Finish() const {
  if (!saw_header_) ThrowConfigError("{}: the file is empty; expected a request CSV header", source_);
  if (rows_ == 0) ThrowConfigError("{}: no request rows after the header", source_);
}

namespace {

// Whether a row's first field is the integer `id`.
bool FirstFieldIs(std::string_view line, int64_t id) {
  int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
  return ec == std::errc() && ptr != line.data() + line.size() && *ptr == ',' && value == id;
}

// The line of `text` whose first field is `id` (for a repeat's message; the rows before the
// repeat were all accepted, so the first such line is the first row with that id).
size_t FirstLineWithId(std::string_view text, int64_t id) {
  size_t line_number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (FirstFieldIs(line, id)) return line_number;
  }
  return 0;
}

size_t FirstLineWithIdInFile(const std::string& path, int64_t id) {
  LineReader reader(path);
  std::string_view line;
  while (reader.Next(&line)) {
    if (FirstFieldIs(line, id)) return static_cast<size_t>(reader.line_number());
  }
  return 0;
}

}  // namespace

Workload ParseRequestCsv(const std::string& text, const std::string& source,
                         const TaskTable& tasks) {
  RequestCsvRows rows(source, tasks, [&text](int64_t id) { return FirstLineWithId(text, id); });
  Workload workload;
  size_t line_number = 0;
  size_t pos = 0;
  Request r;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // as LineReader does
    if (rows.Parse(line, line_number, &r)) workload.push_back(r);
  }
  rows.Finish();
  return workload;
}

RequestCsvReader::RequestCsvReader(const std::string& path, const TaskTable& tasks)
    : reader_(path, kMaxRequestCsvLineBytes, "request CSV"), rows_(path, tasks, [path](int64_t id) { return FirstLineWithIdInFile(path, id); }) {}

bool RequestCsvReader::Next(Request* request) {
  std::string_view line;
  while (reader_.Next(&line)) {
    if (rows_.Parse(line, static_cast<size_t>(reader_.line_number()), request)) return true;
  }
  rows_.Finish();
  return false;
}

Workload ReadRequestCsv(const std::string& path, const TaskTable& tasks) {
  RequestCsvReader reader(path, tasks);
  Workload workload;
  Request r;
  while (reader.Next(&r)) workload.push_back(r);
  return workload;
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
  // Read as the simulator reaches each request, not held: a replay of millions of rows.
  std::unique_ptr<RequestSource> Open(const WorkloadContext& ctx) const override {
    return std::make_unique<RequestCsvReader>(path_, *ctx.tasks);
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
