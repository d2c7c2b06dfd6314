// The policy weights file (".bsw"): a versioned, self-describing, checksummed container for one
// Q-network. Written by the trainer (best and final policies), read by `--init-from`
// fine-tuning and by the export issue's router library. Standard library only.
//
// Format version 1, all integers little-endian, floats IEEE-754 binary32 little-endian:
//
// | offset | size | field                                                               |
// |--------|------|---------------------------------------------------------------------|
// | 0      | 8    | magic "BSWEIGHT"                                                    |
// | 8      | 4    | u32 format version (1)                                              |
// | 12     | 8    | u64 total file size in bytes, checksum included                     |
// | 20     | ...  | u32 input_size; u32 H; H x u32 hidden sizes; u32 num_actions        |
// |        |      | str observation_encoding (str = u32 byte length + UTF-8 bytes)      |
// |        |      | u32 A; A x str action names (A is 0 or num_actions)                 |
// |        |      | u32 K; K x (str key, str value) metadata, in insertion order        |
// |        |      | u64 P; P x f32 parameters in the canonical layout of router/policy/mlp.h    |
// | end-8  | 8    | u64 FNV-1a-64 of every preceding byte                               |
//
// Readers check, in this order: magic, version, declared size (truncation), checksum
// (corruption), then the shape against the parameter count. Metadata is free-form text that
// later producers (export: task names, normalization constants) extend without a version bump;
// a change to any fixed field bumps the version.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "router/policy/binary_io.h"
#include "router/policy/mlp.h"

namespace bestserve {

inline constexpr char kWeightsMagic[] = "BSWEIGHT";  // 8 bytes on disk, no terminator
inline constexpr uint32_t kWeightsFormatVersion = 1;

struct PolicyWeights {
  MlpShape shape;
  std::vector<float> parameters;          // canonical layout, shape.NumParameters() values
  std::string observation_encoding;       // EnvSpec::observation_encoding of the training env
  std::vector<std::string> action_names;  // empty or shape.num_actions names
  std::vector<std::pair<std::string, std::string>> metadata;

  // The value of metadata `key`, or empty.
  std::string Metadata(std::string_view key) const;
};

std::string EncodePolicyWeights(const PolicyWeights& weights);

// Throws BinaryFormatError ("policy weights file: ...") on a wrong magic, unsupported version,
// truncation, checksum mismatch or an inconsistent shape. `what` prefixes the messages.
PolicyWeights DecodePolicyWeights(std::string_view bytes,
                                  const std::string& what = "policy weights file");

}  // namespace bestserve
