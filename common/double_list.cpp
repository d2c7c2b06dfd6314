#include "common/double_list.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/error.h"

namespace bestserve {

void DoubleList::SpillTo(const std::string& dir) {
  BS_CHECK(file_ == nullptr && values_.empty());
  dir_ = dir;
  std::string name = (dir.empty() ? std::string(".") : dir) + "/.bestserve_spill_XXXXXX";
  const int fd = ::mkstemp(name.data());
  if (fd < 0) throw Error(fmt::format("{}: cannot create a temporary file: {}", dir, std::strerror(errno)));
  ::unlink(name.c_str());  // gone from the folder now; the data lives until the descriptor closes
  file_ = ::fdopen(fd, "w+b");
  if (file_ == nullptr) {
    ::close(fd);
    throw Error(fmt::format("{}: cannot open a temporary file: {}", dir, std::strerror(errno)));
  }
  buffer_.reserve(kBufferValues);
}

DoubleList::~DoubleList() {
  if (file_ != nullptr) std::fclose(file_);
}

void DoubleList::Flush() {
  if (buffer_.empty()) return;
  if (std::fwrite(buffer_.data(), sizeof(double), buffer_.size(), file_) != buffer_.size()) {
    throw Error(fmt::format("{}: cannot write a temporary file (disk full?): {}", dir_, std::strerror(errno)));
  }
  count_ += static_cast<int64_t>(buffer_.size());
  buffer_.clear();
}

std::vector<double> DoubleList::Take() {
  if (file_ == nullptr) return std::move(values_);
  Flush();
  std::vector<double> values(static_cast<size_t>(count_));
  std::rewind(file_);
  if (std::fread(values.data(), sizeof(double), values.size(), file_) != values.size()) {
    throw Error(fmt::format("{}: cannot read back a temporary file: {}", dir_, std::strerror(errno)));
  }
  std::rewind(file_);
  count_ = 0;
  return values;
}

}  // namespace bestserve
