// Shared by the libFuzzer targets: expected refusals are not findings, everything else is.
//
// A parser given arbitrary bytes may refuse them with bestserve::Error (ConfigError included),
// the binary formats' BinaryFormatError or the router's RouterError, each with a message; any
// other exception (an InvariantError, std::out_of_range, ...) escapes to libFuzzer, which reports
// it as a crash, as it does for every sanitizer finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "common/error.h"

namespace bestserve::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A scratch file unique to this process, for parsers that read from a path.
inline std::string WriteScratch(std::string_view bytes, const char* suffix) {
  // In memory (tmpfs) where the machine has it: a file per input on disk costs more than parsing it.
  static const std::string dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  const std::string path = dir + "/bestserve_fuzz_" + std::to_string(::getpid()) + suffix;
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) __builtin_trap();
  std::fwrite(bytes.data(), 1, bytes.size(), file);
  std::fclose(file);
  return path;
}

}  // namespace bestserve::fuzz
