// The limits of what bestserve reads (docs/reliability.md), and range-checked numbers.
//
// YamlLimits bounds every YAML input read through ConfigNode (common/config.cpp enforces them,
// in ConfigNode::LoadString). Our configs are a few KB; the limits are far above any real one
// and far below what exhausts memory or time. The range accessors give a key its stated range
// in one call, with a message that quotes range and value.
#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/config.h"

namespace bestserve {

struct YamlLimits {
  static constexpr size_t kMaxFileBytes = 4u << 20;     // a whole file
  static constexpr size_t kMaxLineBytes = 64u << 10;    // one line
  static constexpr size_t kMaxScalarBytes = 64u << 10;  // one value
  static constexpr size_t kMaxDepth = 64;               // nested maps and lists
  // Nodes visited with every alias expanded: a billion-laughs file exceeds it at once.
  static constexpr size_t kMaxExpandedNodes = 1u << 20;
};

// `node` as a number in [min, max] / an integer in [min, max]; fails naming the node otherwise
// (an integral value too large for 64 bits, or written as 1e11, gets the range in the message).
double DoubleIn(const ConfigNode& node, double min, double max);
int64_t IntIn(const ConfigNode& node, int64_t min, int64_t max);
// The same for the key `key` of the map `map`, or `fallback` when the key is absent or null.
int64_t GetIntIn(const ConfigNode& map, std::string_view key, int64_t min, int64_t max,
                 int64_t fallback);

// `text` for an error message: whole when short, else its first `max_bytes` bytes and how long
// it was (a 70 MB line must not become a 70 MB message).
inline std::string MessageExcerpt(std::string_view text, size_t max_bytes = 80) {
  if (text.size() <= max_bytes) return std::string(text);
  return fmt::format("{}... ({} bytes in all)", text.substr(0, max_bytes), text.size());
}

}  // namespace bestserve
