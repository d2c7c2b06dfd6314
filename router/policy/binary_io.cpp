#include "router/policy/binary_io.h"

#include <bit>
#include <cstring>

namespace bestserve {
namespace {

template <typename T>
T ToLittle(T value) {
  if constexpr (std::endian::native == std::endian::little) {
    return value;
  } else {
    T out = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      out = static_cast<T>((out << 8) | ((value >> (8 * i)) & 0xff));
    }
    return out;
  }
}

}  // namespace

void ByteWriter::U32(uint32_t value) {
  const uint32_t little = ToLittle(value);
  bytes_.append(reinterpret_cast<const char*>(&little), sizeof(little));
}

void ByteWriter::U64(uint64_t value) {
  const uint64_t little = ToLittle(value);
  bytes_.append(reinterpret_cast<const char*>(&little), sizeof(little));
}

void ByteWriter::F32(float value) { U32(std::bit_cast<uint32_t>(value)); }
void ByteWriter::F64(double value) { U64(std::bit_cast<uint64_t>(value)); }

void ByteWriter::String(std::string_view text) {
  U32(static_cast<uint32_t>(text.size()));
  bytes_.append(text);
}

void ByteWriter::Floats(const float* values, size_t count) {
  U64(count);
  if constexpr (std::endian::native == std::endian::little) {
    bytes_.append(reinterpret_cast<const char*>(values), count * sizeof(float));
  } else {
    for (size_t i = 0; i < count; ++i) F32(values[i]);
  }
}

void ByteWriter::Int32s(const std::vector<int32_t>& values) {
  U64(values.size());
  for (int32_t v : values) U32(static_cast<uint32_t>(v));
}

void ByteWriter::Doubles(const std::vector<double>& values) {
  U64(values.size());
  for (double v : values) F64(v);
}

void ByteReader::Fail(const std::string& message) const {
  throw BinaryFormatError(what_ + ": " + message);
}

void ByteReader::Need(size_t count, std::string_view field) {
  if (count > remaining()) {
    Fail("truncated: " + std::string(field) + " needs " + std::to_string(count) +
         " more bytes at offset " + std::to_string(position_) + ", only " +
         std::to_string(remaining()) + " left");
  }
}

uint8_t ByteReader::U8() {
  Need(1, "a byte");
  return static_cast<uint8_t>(data_[position_++]);
}

uint32_t ByteReader::U32() {
  Need(4, "a 32-bit integer");
  uint32_t little = 0;
  std::memcpy(&little, data_.data() + position_, 4);
  position_ += 4;
  return ToLittle(little);
}

uint64_t ByteReader::U64() {
  Need(8, "a 64-bit integer");
  uint64_t little = 0;
  std::memcpy(&little, data_.data() + position_, 8);
  position_ += 8;
  return ToLittle(little);
}

float ByteReader::F32() { return std::bit_cast<float>(U32()); }
double ByteReader::F64() { return std::bit_cast<double>(U64()); }

std::string_view ByteReader::Raw(size_t count) {
  Need(count, "a byte string");
  std::string_view out = data_.substr(position_, count);
  position_ += count;
  return out;
}

std::string ByteReader::String() {
  const uint32_t length = U32();
  Need(length, "a text field");
  std::string out(data_.substr(position_, length));
  position_ += length;
  return out;
}

size_t ByteReader::Count(size_t element_bytes, std::string_view field) {
  const uint64_t count = U64();
  if (count > remaining() / element_bytes) {
    Fail("truncated: " + std::string(field) + " claims " + std::to_string(count) +
         " values at offset " + std::to_string(position_) + ", only " +
         std::to_string(remaining()) + " bytes left");
  }
  return static_cast<size_t>(count);
}

std::vector<float> ByteReader::Floats() {
  const size_t count = Count(sizeof(float), "a float array");
  std::vector<float> values(count);
  if constexpr (std::endian::native == std::endian::little) {
    // An empty vector's data() may be null, and memcpy from or to null is undefined even for 0 bytes.
    if (count > 0) std::memcpy(values.data(), data_.data() + position_, count * sizeof(float));
    position_ += count * sizeof(float);
  } else {
    for (auto& v : values) v = F32();
  }
  return values;
}

void ByteReader::FloatsInto(std::vector<float>* values, size_t expected_count,
                            std::string_view field) {
  *values = Floats();
  if (values->size() != expected_count) {
    Fail(std::string(field) + " holds " + std::to_string(values->size()) + " values, expected " +
         std::to_string(expected_count));
  }
}

std::vector<int32_t> ByteReader::Int32s() {
  const size_t count = Count(4, "an integer array");
  std::vector<int32_t> values(count);
  for (auto& v : values) v = static_cast<int32_t>(U32());
  return values;
}

std::vector<double> ByteReader::Doubles() {
  const size_t count = Count(8, "a double array");
  std::vector<double> values(count);
  for (auto& v : values) v = F64();
  return values;
}

std::string_view VerifyChecksum(std::string_view data, const std::string& what) {
  if (data.size() < 8) {
    throw BinaryFormatError(what + ": truncated: " + std::to_string(data.size()) +
                            " bytes is too short to hold a checksum");
  }
  const std::string_view body = data.substr(0, data.size() - 8);
  ByteReader tail(data.substr(data.size() - 8), what);
  const uint64_t stored = tail.U64();
  if (stored != Fnv1a64(body)) {
    throw BinaryFormatError(what + ": checksum mismatch: the file is corrupt or truncated");
  }
  return body;
}

}  // namespace bestserve
