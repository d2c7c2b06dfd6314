// The value type that flows from a workload into the simulator.
//
// A workload is a time-sorted std::vector<Request>, produced up front (as vidur does) so that a
// run can be saved, replayed and checked before it is simulated; a long saved one can instead be
// read one request at a time (common/request_source.h). Ids are the position in that
// vector. Units are in the names: seconds for times, tokens for lengths.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace bestserve {

using TaskId = int32_t;   // index into the task table
using ModelId = int32_t;  // index into the scenario's model list

inline constexpr double kUnset = std::numeric_limits<double>::quiet_NaN();

struct Request {
  int64_t id = 0;
  double arrival_s = 0.0;
  TaskId task = 0;
  int32_t prompt_tokens = 1;
  int32_t output_tokens = 1;
  // End-to-end latency budget (arrival to last token). NaN: not given by the workload; the
  // scenario's deadline rule fills it in (deadline.h).
  double deadline_s = kUnset;
  // The arrival rate the generator was drawing from when it made this request (NaN when not
  // known, e.g. a replayed trace). The "true rate" estimator reads it; the paper gives the
  // stable-workload agent the true rate.
  double nominal_rate_rps = kUnset;
  // The client's max_tokens (an upper bound on output_tokens it may send); 0: not sent.
  int32_t max_tokens = 0;
};

using Workload = std::vector<Request>;

}  // namespace bestserve
