// Every trace format's reader (workloads/trace_reader.h). The first byte picks the format
// (or auto-detection); the rest is the file, read from a scratch path as a real trace is.
#include "tests/fuzz/fuzz_util.h"
#include "workloads/trace_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bestserve;
  if (size == 0) return 0;
  static const std::vector<std::string> names = TraceFormatNames();
  const size_t choice = data[0] % (names.size() + 1);
  const std::string path = fuzz::WriteScratch(fuzz::AsText(data + 1, size - 1), ".trace");
  try {
    const TraceFormat format =
        choice == names.size() ? DetectTraceFormat(path) : *TraceFormatFromName(names[choice]);
    TraceReadOptions options;
    options.window_start_s = 0.0;
    options.window_end_s = 3600.0;  // a day-long minute table would spread a day of arrivals
    // One minute cell may ask for billions of arrivals: past this many the reader stops with its
    // error (also a path under test) instead of spending the run spreading them.
    options.max_records = 20'000;
    int64_t visited = 0;
    ReadTrace(path, format, options, [&](const TraceRecord&) { ++visited; });
  } catch (const Error&) {
  }
  return 0;
}
