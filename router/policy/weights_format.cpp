#include "router/policy/weights_format.h"

#include <cmath>

namespace bestserve {
namespace {

constexpr size_t kMagicBytes = 8;
constexpr size_t kFixedHeaderBytes = kMagicBytes + 4 + 8;
// Layer widths beyond this are surely corrupt data, not a network anyone trains here.
constexpr uint32_t kMaxLayerWidth = 1u << 20;
constexpr uint32_t kMaxHiddenLayers = 64;

}  // namespace

std::string PolicyWeights::Metadata(std::string_view key) const {
  for (const auto& [k, v] : metadata) {
    if (k == key) return v;
  }
  return "";
}

std::string EncodePolicyWeights(const PolicyWeights& weights) {
  ByteWriter out;
  out.Raw(std::string_view(kWeightsMagic, kMagicBytes));
  out.U32(kWeightsFormatVersion);
  out.U64(0);  // total size, patched below
  out.U32(static_cast<uint32_t>(weights.shape.input_size));
  out.U32(static_cast<uint32_t>(weights.shape.hidden_sizes.size()));
  for (int h : weights.shape.hidden_sizes) out.U32(static_cast<uint32_t>(h));
  out.U32(static_cast<uint32_t>(weights.shape.num_actions));
  out.String(weights.observation_encoding);
  out.U32(static_cast<uint32_t>(weights.action_names.size()));
  for (const auto& name : weights.action_names) out.String(name);
  out.U32(static_cast<uint32_t>(weights.metadata.size()));
  for (const auto& [key, value] : weights.metadata) {
    out.String(key);
    out.String(value);
  }
  out.Floats(weights.parameters);
  std::string bytes = out.Take();
  ByteWriter size_field;
  size_field.U64(bytes.size() + 8);
  bytes.replace(kMagicBytes + 4, 8, size_field.bytes());
  ByteWriter with_checksum;
  with_checksum.Raw(bytes);
  with_checksum.AppendChecksum();
  return with_checksum.Take();
}

PolicyWeights DecodePolicyWeights(std::string_view bytes, const std::string& what) {
  ByteReader header(bytes, what);
  if (bytes.size() < kMagicBytes ||
      bytes.substr(0, kMagicBytes) != std::string_view(kWeightsMagic, kMagicBytes)) {
    header.Fail("not a bestserve policy weights file (its first bytes are not \"BSWEIGHT\")");
  }
  header.Raw(kMagicBytes);
  const uint32_t version = header.U32();
  if (version != kWeightsFormatVersion) {
    header.Fail("unsupported format version " + std::to_string(version) +
                "; this build reads version " + std::to_string(kWeightsFormatVersion));
  }
  const uint64_t declared_size = header.U64();
  if (declared_size != bytes.size()) {
    header.Fail(std::string(declared_size > bytes.size() ? "truncated" : "trailing bytes") +
                ": the header declares " + std::to_string(declared_size) + " bytes, the file has " +
                std::to_string(bytes.size()));
  }
  const std::string_view body = VerifyChecksum(bytes, what);

  ByteReader in(body, what);
  in.Raw(kFixedHeaderBytes);
  PolicyWeights weights;
  auto width = [&](std::string_view field) {
    const uint32_t value = in.U32();
    if (value == 0 || value > kMaxLayerWidth) {
      in.Fail("network shape: " + std::string(field) + " is " + std::to_string(value) +
              ", expected 1.." + std::to_string(kMaxLayerWidth));
    }
    return static_cast<int>(value);
  };
  weights.shape.input_size = width("input_size");
  const uint32_t hidden_layers = in.U32();
  if (hidden_layers > kMaxHiddenLayers) {
    in.Fail("network shape: " + std::to_string(hidden_layers) + " hidden layers, at most " +
            std::to_string(kMaxHiddenLayers) + " supported");
  }
  for (uint32_t i = 0; i < hidden_layers; ++i)
    weights.shape.hidden_sizes.push_back(width("a hidden size"));
  weights.shape.num_actions = width("num_actions");
  weights.observation_encoding = in.String();
  const uint32_t names = in.U32();
  if (names != 0 && names != static_cast<uint32_t>(weights.shape.num_actions)) {
    in.Fail(std::to_string(names) + " action names for " +
            std::to_string(weights.shape.num_actions) + " actions");
  }
  for (uint32_t i = 0; i < names; ++i) weights.action_names.push_back(in.String());
  const uint32_t entries = in.U32();
  for (uint32_t i = 0; i < entries; ++i) {
    std::string key = in.String();
    std::string value = in.String();
    weights.metadata.emplace_back(std::move(key), std::move(value));
  }
  weights.parameters = in.Floats();
  if (weights.parameters.size() != weights.shape.NumParameters()) {
    in.Fail("shape mismatch: network " + weights.shape.ToString() + " has " +
            std::to_string(weights.shape.NumParameters()) + " parameters, the file holds " +
            std::to_string(weights.parameters.size()));
  }
  if (in.remaining() != 0) {
    in.Fail(std::to_string(in.remaining()) + " unexpected bytes after the parameters");
  }
  // A checksum proves the bytes are as written, not that training wrote numbers: a diverged
  // run's NaN would route every request to action 0 without a word.
  for (size_t i = 0; i < weights.parameters.size(); ++i) {
    if (!std::isfinite(weights.parameters[i])) {
      in.Fail("parameter " + std::to_string(i) + " of " + std::to_string(weights.parameters.size()) +
              " is not a finite number (" + std::to_string(weights.parameters[i]) + ")");
    }
  }
  return weights;
}

}  // namespace bestserve
