// The request CSV readers (workloads/request_csv.h) against the built-in task table, each
// against the other: ParseRequestCsv over the text and RequestCsvReader over the same bytes in a
// file (the lazy reader simulate and evaluate use) must accept the same inputs and give the same
// requests. Only the messages may differ (a line past 4 KiB is refused by the line reader
// before the row parser sees it); gzip input is the file reader's alone.
#include <bit>
#include <cstdlib>
#include <cstring>

#include "common/tasks.h"
#include "tests/fuzz/fuzz_util.h"
#include "workloads/request_csv.h"

namespace {

bool SameRequests(const bestserve::Workload& a, const bestserve::Workload& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto bits = [](double x) { return std::bit_cast<uint64_t>(x); };
    if (a[i].id != b[i].id || bits(a[i].arrival_s) != bits(b[i].arrival_s) || a[i].task != b[i].task ||
        a[i].prompt_tokens != b[i].prompt_tokens || a[i].output_tokens != b[i].output_tokens ||
        bits(a[i].deadline_s) != bits(b[i].deadline_s) || bits(a[i].nominal_rate_rps) != bits(b[i].nominal_rate_rps)) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bestserve;
  static const TaskTable tasks =
      TaskTable::LoadFile(std::string(BESTSERVE_SOURCE_DIR) + "/profiles/tasks/opt_zero_shot.yaml");
  const std::string text(fuzz::AsText(data, size));
  bool parsed = false;
  Workload from_text;
  try {
    from_text = ParseRequestCsv(text, "fuzz.csv", tasks);
    parsed = true;
  } catch (const Error&) {
  }
  if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) return 0;  // gzip: the file reader inflates it
  const std::string path = fuzz::WriteScratch(text, ".csv");
  bool read = false;
  Workload from_file;
  try {
    RequestCsvReader reader(path, tasks);
    Request r;
    while (reader.Next(&r)) from_file.push_back(r);
    read = true;
  } catch (const Error&) {
  }
  if (parsed != read || (parsed && !SameRequests(from_text, from_file))) std::abort();  // the readers disagree
  return 0;
}
