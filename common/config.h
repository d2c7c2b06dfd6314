// Reading YAML configs with errors that say where and what.
//
// ConfigNode wraps a yaml-cpp node together with the file it came from and its key path
// ("cluster.gpu_groups[1].instances[0].memory_fraction"), so that every error can name
// file:line:column, the key path, what was expected and what was found. Components parse their
// own section from a ConfigNode; the top-level config only composes them (open_spiel
// ValidateParams, envpool specs).
#pragma once

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace bestserve {

class ConfigNode {
 public:
  // Parses a YAML file. Throws ConfigError naming the file on a missing file or bad syntax.
  static ConfigNode LoadFile(const std::string& path);
  // Parses YAML text; `source_name` stands in for the file name in messages. Refuses, naming
  // line:column, what YamlLimits (common/limits.h) bounds, text that is not UTF-8 (NUL bytes,
  // UTF-16/32), duplicate keys, keys that are not plain values, and alias expansion past the limit.
  static ConfigNode LoadString(const std::string& text, const std::string& source_name);
  // The same for machine-written data in YAML flow or JSON form (a measured serving log, a
  // workload list), which may hold its whole document on one line: every check and limit but the
  // per-line one (the file size and value limits still bound it).
  static ConfigNode LoadData(const std::string& text, const std::string& source_name);

  const std::string& source() const { return *source_; }
  const std::string& path() const { return path_; }
  const YAML::Node& yaml() const { return node_; }

  bool IsMap() const { return node_.IsMap(); }
  bool IsSequence() const { return node_.IsSequence(); }
  bool IsScalar() const { return node_.IsScalar(); }
  bool IsNull() const { return !node_.IsDefined() || node_.IsNull(); }

  // Fails unless this node is a map (with `what` describing what the map holds).
  const ConfigNode& ExpectMap(std::string_view what) const;
  // Fails unless this node is a non-empty-or-empty sequence.
  const ConfigNode& ExpectSequence(std::string_view what) const;

  // Fails on any key not in `allowed`, listing the valid keys. Precondition: IsMap().
  void CheckKeys(std::initializer_list<std::string_view> allowed) const;
  void CheckKeys(const std::vector<std::string>& allowed) const;

  bool Has(std::string_view key) const;
  // The child at `key`; fails with "missing key" if absent.
  ConfigNode Child(std::string_view key) const;
  // The child at `key`, or nullopt when absent or null.
  std::optional<ConfigNode> MaybeChild(std::string_view key) const;
  // Sequence element `index`. Precondition: IsSequence() and index < size().
  ConfigNode Element(size_t index) const;
  size_t size() const { return node_.size(); }
  // Keys of a map, in file order.
  std::vector<std::string> Keys() const;

  // Scalar conversions of this node; fail with expected-vs-got messages.
  double AsDouble() const;
  int64_t AsInt() const;
  bool AsBool() const;
  std::string AsString() const;

  // Required and defaulted accessors for a key of this map.
  double GetDouble(std::string_view key) const { return Child(key).AsDouble(); }
  double GetDouble(std::string_view key, double fallback) const;
  int64_t GetInt(std::string_view key) const { return Child(key).AsInt(); }
  int64_t GetInt(std::string_view key, int64_t fallback) const;
  bool GetBool(std::string_view key, bool fallback) const;
  std::string GetString(std::string_view key) const { return Child(key).AsString(); }
  std::string GetString(std::string_view key, const std::string& fallback) const;

  // Range-checked numeric accessors: the message quotes the bound and the value.
  double GetPositiveDouble(std::string_view key) const;
  double GetPositiveDouble(std::string_view key, double fallback) const;
  double GetNonNegativeDouble(std::string_view key, double fallback) const;
  int64_t GetPositiveInt(std::string_view key, int64_t fallback) const;

  // "file:line:col: at 'path': message". The location is this node's position.
  std::string Where() const;
  [[noreturn]] void Fail(const std::string& message) const;

 private:
  ConfigNode(YAML::Node node, std::shared_ptr<const std::string> source, std::string path)
      : node_(std::move(node)), source_(std::move(source)), path_(std::move(path)) {}
  static ConfigNode Load(const std::string& text, const std::string& source_name, bool line_limit);
  std::string TypeName() const;
  std::string ScalarText() const;

  YAML::Node node_;
  std::shared_ptr<const std::string> source_;
  std::string path_;
};

}  // namespace bestserve
