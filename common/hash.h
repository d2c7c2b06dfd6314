// FNV-1a, 64 bits: the one string hash of bestserve (named random streams, policy-file
// checksums, sweep cell ids, trace function ids). Stable across platforms and releases; any
// single changed byte changes the hash (each step is a bijection). Standard library only.
#pragma once

#include <cstdint>
#include <string_view>

namespace bestserve {

inline constexpr uint64_t kFnv1a64Basis = 0xcbf29ce484222325ULL;

// Hash of `bytes`; pass an earlier result as `hash` to continue hashing a longer stream.
inline uint64_t Fnv1a64(std::string_view bytes, uint64_t hash = kFnv1a64Basis) {
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;  // the FNV prime
  }
  return hash;
}

}  // namespace bestserve
