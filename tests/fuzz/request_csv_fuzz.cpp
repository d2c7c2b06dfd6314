// The request CSV reader (workloads/request_csv.h) against the built-in task table.
#include "common/tasks.h"
#include "tests/fuzz/fuzz_util.h"
#include "workloads/request_csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bestserve;
  static const TaskTable tasks =
      TaskTable::LoadFile(std::string(BESTSERVE_SOURCE_DIR) + "/profiles/tasks/opt_zero_shot.yaml");
  try {
    ParseRequestCsv(std::string(fuzz::AsText(data, size)), "fuzz.csv", tasks);
  } catch (const Error&) {
  }
  return 0;
}
