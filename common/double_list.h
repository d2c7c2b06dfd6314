// A list of doubles appended one at a time and then taken back whole, once: in memory, or
// spilled to a temporary file so that a run of millions of requests does not hold its
// quantile inputs (8 bytes a value) while it simulates.
//
// The spill file is created in the folder given and unlinked at once, so nothing is left
// behind whatever happens to the process; its bytes are the values' own (no formatting), so
// what comes back is bit for bit what went in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace bestserve {

class DoubleList {
 public:
  DoubleList() = default;
  ~DoubleList();
  DoubleList(const DoubleList&) = delete;
  DoubleList& operator=(const DoubleList&) = delete;

  void Append(double value) {
    if (file_ == nullptr) {
      values_.push_back(value);
      return;
    }
    buffer_.push_back(value);
    if (buffer_.size() == kBufferValues) Flush();
  }
  int64_t size() const { return count_ + static_cast<int64_t>(file_ == nullptr ? values_.size() : buffer_.size()); }
  bool spilled() const { return file_ != nullptr; }
  // From now on (the list must be empty) values go to an unlinked temporary file in `dir`
  // (which must exist); throws Error naming it when no file can be made there.
  void SpillTo(const std::string& dir);

  // Every value appended, in order; the list is empty afterwards.
  std::vector<double> Take();

 private:
  static constexpr size_t kBufferValues = 8192;
  void Flush();

  std::vector<double> values_;  // in memory
  std::FILE* file_ = nullptr;   // spilled
  std::string dir_;
  std::vector<double> buffer_;
  int64_t count_ = 0;  // values already in the file
};

}  // namespace bestserve
