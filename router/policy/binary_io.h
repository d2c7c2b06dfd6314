// Little-endian binary encoding with bounds-checked reading, for the policy weights file and
// trainer checkpoints. Standard library only (the export issue's router library reuses it).
//
// Every multi-byte value is stored little-endian whatever the host, floats as their IEEE-754
// bit patterns, so files move between machines and round-trip bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/hash.h"

namespace bestserve {

// A file's bytes are not what its format promises (truncated, corrupt, wrong version).
class BinaryFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// FNV-1a, 64 bits. Any single changed byte changes the hash (each step is a bijection).


class ByteWriter {
 public:
  void U8(uint8_t value) { bytes_.push_back(static_cast<char>(value)); }
  void U32(uint32_t value);
  void U64(uint64_t value);
  void I64(int64_t value) { U64(static_cast<uint64_t>(value)); }
  void F32(float value);
  void F64(double value);
  void Raw(std::string_view bytes) { bytes_.append(bytes); }
  // u32 length, then the bytes.
  void String(std::string_view text);
  // u64 count, then the values.
  void Floats(const float* values, size_t count);
  void Floats(const std::vector<float>& values) { Floats(values.data(), values.size()); }
  void Int32s(const std::vector<int32_t>& values);
  void Doubles(const std::vector<double>& values);
  // Appends the FNV-1a-64 of everything written so far.
  void AppendChecksum() { U64(Fnv1a64(bytes_)); }

  const std::string& bytes() const { return bytes_; }
  std::string Take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

class ByteReader {
 public:
  // `what` names the data in error messages ("policy weights file").
  ByteReader(std::string_view data, std::string what) : data_(data), what_(std::move(what)) {}

  uint8_t U8();
  uint32_t U32();
  uint64_t U64();
  int64_t I64() { return static_cast<int64_t>(U64()); }
  float F32();
  double F64();
  std::string_view Raw(size_t count);
  std::string String();
  std::vector<float> Floats();
  // Reads a float array whose count must equal `expected_count`.
  void FloatsInto(std::vector<float>* values, size_t expected_count, std::string_view field);
  std::vector<int32_t> Int32s();
  std::vector<double> Doubles();

  size_t position() const { return position_; }
  size_t remaining() const { return data_.size() - position_; }
  [[noreturn]] void Fail(const std::string& message) const;

 private:
  void Need(size_t count, std::string_view field);
  // Reads a u64 element count and checks that count * element_bytes more bytes exist.
  size_t Count(size_t element_bytes, std::string_view field);

  std::string_view data_;
  std::string what_;
  size_t position_ = 0;
};

// Checks that `data` ends with the FNV-1a-64 of everything before it; returns the data without
// the checksum. Throws BinaryFormatError naming `what` otherwise.
std::string_view VerifyChecksum(std::string_view data, const std::string& what);

}  // namespace bestserve
