// Streaming line reader for trace files: plain text or gzip, in bounded memory.
//
// Reads through a fixed buffer (64 KiB, grown only for a longer line, up to kMaxLineBytes), so
// a multi-gigabyte trace costs the same memory as a small one. A file that starts with the
// gzip magic bytes (1f 8b) is inflated on the fly with zlib's gzread, whatever its name;
// anything else is read as is. Lines end at "\n"; a trailing "\r" is dropped; the last line
// needs no newline (the Azure LLM trace has none).
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bestserve {

class LineReader {
 public:
  static constexpr size_t kMaxLineBytes = size_t{64} << 20;

  // Opens `path`; throws ConfigError naming it when it cannot be opened. `what` names the
  // kind of file in messages ("trace file", "request CSV"); a line longer than
  // `max_line_bytes` (at most kMaxLineBytes) is an error naming file and line.
  explicit LineReader(const std::string& path, size_t max_line_bytes = kMaxLineBytes, std::string what = "trace file");
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line without its terminator; false at the end of the file. The view stays valid
  // until the next call. Throws ConfigError on a read error, corrupt gzip data or a line
  // longer than kMaxLineBytes.
  bool Next(std::string_view* line);

  // 1-based number of the line last returned by Next (0 before the first).
  int64_t line_number() const { return line_number_; }
  const std::string& path() const { return path_; }
  bool gzip() const { return gzip_; }
  // Bytes of (decompressed) text consumed so far.
  int64_t bytes_read() const { return bytes_read_; }

 private:
  // Moves unread bytes to the front and reads more; false when nothing more could be read.
  bool Refill();
  size_t ReadSome(char* into, size_t capacity);

  [[noreturn]] void ThrowLineTooLong() const;

  std::string path_;
  size_t max_line_bytes_;
  std::string what_;
  bool gzip_ = false;
  void* gz_ = nullptr;  // gzFile (kept opaque so the header does not need zlib.h)
  std::FILE* file_ = nullptr;
  std::vector<char> buffer_;
  size_t begin_ = 0;  // first unread byte
  size_t end_ = 0;    // one past the last valid byte
  bool eof_ = false;
  int64_t line_number_ = 0;
  int64_t bytes_read_ = 0;
};

}  // namespace bestserve
