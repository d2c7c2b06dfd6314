#include "workloads/line_reader.h"

#include <fmt/format.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/error.h"

namespace bestserve {
namespace {

// 64 KiB: reads as fast as larger buffers, and stays below the size at which allocators (ASan's
// among them) map and unmap every buffer, which dominated a reader's cost on small files.
constexpr size_t kBufferBytes = size_t{64} << 10;

}  // namespace

LineReader::LineReader(const std::string& path, size_t max_line_bytes, std::string what)
    : path_(path), max_line_bytes_(std::min(max_line_bytes, kMaxLineBytes)), what_(std::move(what)),
      buffer_(kBufferBytes) {
  file_ = std::fopen(path.c_str(), "rb");
  if (file_ == nullptr) {
    ThrowConfigError("{}: cannot open {}: {}", path, what_, std::strerror(errno));
  }
  unsigned char magic[2] = {0, 0};
  const size_t got = std::fread(magic, 1, 2, file_);
  gzip_ = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (gzip_) {
    std::fclose(file_);
    file_ = nullptr;
    gzFile gz = gzopen(path.c_str(), "rb");
    if (gz == nullptr) ThrowConfigError("{}: cannot open gzip {}", path, what_);
    // A larger zlib input buffer halves the number of read calls on big traces.
    gzbuffer(gz, 256 * 1024);
    gz_ = gz;
  } else {
    std::rewind(file_);
  }
}

LineReader::~LineReader() {
  if (gz_ != nullptr) gzclose(static_cast<gzFile>(gz_));
  if (file_ != nullptr) std::fclose(file_);
}

size_t LineReader::ReadSome(char* into, size_t capacity) {
  if (gzip_) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(capacity, 1u << 30));
    const int got = gzread(static_cast<gzFile>(gz_), into, chunk);
    if (got < 0) {
      int code = 0;
      const char* message = gzerror(static_cast<gzFile>(gz_), &code);
      ThrowConfigError("{}: corrupt gzip data after line {}: {}", path_, line_number_,
                       message != nullptr ? message : "unknown zlib error");
    }
    if (got == 0) {
      // gzread returns 0 both at a clean end and on a truncated stream; zlib reports the
      // latter as Z_BUF_ERROR.
      int code = 0;
      gzerror(static_cast<gzFile>(gz_), &code);
      if (code == Z_BUF_ERROR) {
        ThrowConfigError(
            "{}: truncated gzip file (unexpected end of compressed data after "
            "line {})",
            path_, line_number_);
      }
    }
    return static_cast<size_t>(got);
  }
  const size_t got = std::fread(into, 1, capacity, file_);
  if (got < capacity && std::ferror(file_)) {
    ThrowConfigError("{}: read error after line {}: {}", path_, line_number_, std::strerror(errno));
  }
  return got;
}

bool LineReader::Refill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buffer_.size()) {
    // The pending line fills the whole buffer: grow it, within the limit.
    if (buffer_.size() >= max_line_bytes_) ThrowLineTooLong();
    buffer_.resize(std::min(buffer_.size() * 2, kMaxLineBytes));
  }
  const size_t got = ReadSome(buffer_.data() + end_, buffer_.size() - end_);
  if (got == 0) {
    eof_ = true;
    return false;
  }
  end_ += got;
  bytes_read_ += static_cast<int64_t>(got);
  return true;
}

void LineReader::ThrowLineTooLong() const {
  const std::string limit = max_line_bytes_ % (size_t{1} << 20) == 0 ? fmt::format("{} MiB", max_line_bytes_ >> 20)
                                                                      : fmt::format("{} bytes", max_line_bytes_);
  ThrowConfigError("{}:{}: line longer than {}; is this a text {}?", path_, line_number_ + 1, limit, what_);
}

bool LineReader::Next(std::string_view* line) {
  size_t scan_from = begin_;
  while (true) {
    const char* start = buffer_.data() + scan_from;
    const void* newline = std::memchr(start, '\n', end_ - scan_from);
    if (newline != nullptr) {
      const size_t stop = static_cast<size_t>(static_cast<const char*>(newline) - buffer_.data());
      size_t length = stop - begin_;
      if (length > 0 && buffer_[begin_ + length - 1] == '\r') --length;
      if (length > max_line_bytes_) ThrowLineTooLong();
      *line = std::string_view(buffer_.data() + begin_, length);
      begin_ = stop + 1;
      ++line_number_;
      return true;
    }
    const size_t scanned = end_ - begin_;
    if (!Refill()) {
      if (begin_ == end_) return false;
      // The last line has no newline.
      size_t length = end_ - begin_;
      if (buffer_[begin_ + length - 1] == '\r') --length;
      if (length > max_line_bytes_) ThrowLineTooLong();
      *line = std::string_view(buffer_.data() + begin_, length);
      begin_ = end_;
      ++line_number_;
      return true;
    }
    scan_from = begin_ + scanned;  // Refill moved the pending bytes to the front
  }
}

}  // namespace bestserve
