// A workload read one request at a time: what the simulator pulls arrivals from.
//
// A generated workload is a vector (common/request.h) and comes through VectorRequestSource; a
// saved request CSV can be read lazily instead (workloads/request_csv.h), so that replaying
// ten million requests does not hold them all. Either way the requests come in arrival order
// with ids 0, 1, 2, ...
#pragma once

#include <utility>

#include "common/request.h"

namespace bestserve {

class RequestSource {
 public:
  virtual ~RequestSource() = default;
  // The next request into `*request`; false at the end. Throws ConfigError (naming file and
  // line) on bad input met on the way.
  virtual bool Next(Request* request) = 0;
};

class VectorRequestSource : public RequestSource {
 public:
  explicit VectorRequestSource(Workload workload) : workload_(std::move(workload)) {}
  bool Next(Request* request) override {
    if (next_ >= workload_.size()) return false;
    *request = workload_[next_++];
    return true;
  }

 private:
  Workload workload_;
  size_t next_ = 0;
};

}  // namespace bestserve
