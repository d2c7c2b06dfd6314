#include "common/config.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <sstream>

namespace bestserve {
namespace {

std::string JoinPath(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return fmt::format("{}.{}", parent, key);
}

std::string Quoted(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ", ";
    out += names[i];
  }
  return out;
}

}  // namespace

ConfigNode ConfigNode::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) ThrowConfigError("{}: cannot open config file", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return LoadString(buffer.str(), path);
}

ConfigNode ConfigNode::LoadString(const std::string& text, const std::string& source_name) {
  auto source = std::make_shared<const std::string>(source_name);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    ThrowConfigError("{}:{}:{}: invalid YAML: {}", source_name, e.mark.line + 1, e.mark.column + 1,
                     e.msg);
  }
  if (!root.IsDefined() || root.IsNull()) {
    ThrowConfigError("{}: the file is empty; expected a YAML map of settings", source_name);
  }
  return ConfigNode(root, source, "");
}

std::string ConfigNode::Where() const {
  const YAML::Mark mark = node_.IsDefined() ? node_.Mark() : YAML::Mark::null_mark();
  std::string location = source();
  if (!mark.is_null()) location += fmt::format(":{}:{}", mark.line + 1, mark.column + 1);
  if (path_.empty()) return location;
  return fmt::format("{}: at '{}'", location, path_);
}

void ConfigNode::Fail(const std::string& message) const {
  throw ConfigError(fmt::format("{}: {}", Where(), message));
}

std::string ConfigNode::TypeName() const {
  if (!node_.IsDefined() || node_.IsNull()) return "nothing (null)";
  if (node_.IsMap()) return "a map";
  if (node_.IsSequence()) return "a list";
  return fmt::format("'{}'", node_.Scalar());
}

std::string ConfigNode::ScalarText() const {
  if (!node_.IsScalar()) Fail(fmt::format("expected a single value, got {}", TypeName()));
  return node_.Scalar();
}

const ConfigNode& ConfigNode::ExpectMap(std::string_view what) const {
  if (!node_.IsMap()) Fail(fmt::format("expected a map of {}, got {}", what, TypeName()));
  return *this;
}

const ConfigNode& ConfigNode::ExpectSequence(std::string_view what) const {
  if (!node_.IsSequence()) Fail(fmt::format("expected a list of {}, got {}", what, TypeName()));
  return *this;
}

void ConfigNode::CheckKeys(std::initializer_list<std::string_view> allowed) const {
  std::vector<std::string> names;
  for (auto name : allowed) names.emplace_back(name);
  CheckKeys(names);
}

void ConfigNode::CheckKeys(const std::vector<std::string>& allowed) const {
  ExpectMap("settings");
  for (const auto& entry : node_) {
    const std::string key = entry.first.as<std::string>();
    bool known = false;
    for (const auto& name : allowed) known = known || name == key;
    if (!known) {
      ConfigNode key_node(entry.first, source_, JoinPath(path_, key));
      key_node.Fail(fmt::format("unknown key '{}'; valid keys here: {}", key, Quoted(allowed)));
    }
  }
}

bool ConfigNode::Has(std::string_view key) const {
  if (!node_.IsMap()) return false;
  const YAML::Node child = node_[std::string(key)];
  return child.IsDefined() && !child.IsNull();
}

ConfigNode ConfigNode::Child(std::string_view key) const {
  ExpectMap("settings");
  const YAML::Node child = node_[std::string(key)];
  if (!child.IsDefined() || child.IsNull()) {
    Fail(fmt::format("missing required key '{}'", key));
  }
  return ConfigNode(child, source_, JoinPath(path_, key));
}

std::optional<ConfigNode> ConfigNode::MaybeChild(std::string_view key) const {
  if (!Has(key)) return std::nullopt;
  return ConfigNode(node_[std::string(key)], source_, JoinPath(path_, key));
}

ConfigNode ConfigNode::Element(size_t index) const {
  BS_CHECK(node_.IsSequence() && index < node_.size());
  return ConfigNode(node_[index], source_, fmt::format("{}[{}]", path_, index));
}

std::vector<std::string> ConfigNode::Keys() const {
  ExpectMap("settings");
  std::vector<std::string> keys;
  for (const auto& entry : node_) keys.push_back(entry.first.as<std::string>());
  return keys;
}

double ConfigNode::AsDouble() const {
  const std::string text = ScalarText();
  double value = 0.0;
  if (!YAML::convert<double>::decode(node_, value) || std::isnan(value)) {
    Fail(fmt::format("expected a number, got '{}'", text));
  }
  if (std::isinf(value)) Fail(fmt::format("expected a finite number, got '{}'", text));
  return value;
}

int64_t ConfigNode::AsInt() const {
  const std::string text = ScalarText();
  int64_t value = 0;
  if (!YAML::convert<int64_t>::decode(node_, value)) {
    Fail(fmt::format("expected an integer, got '{}'", text));
  }
  return value;
}

bool ConfigNode::AsBool() const {
  const std::string text = ScalarText();
  bool value = false;
  if (!YAML::convert<bool>::decode(node_, value)) {
    Fail(fmt::format("expected true or false, got '{}'", text));
  }
  return value;
}

std::string ConfigNode::AsString() const { return ScalarText(); }

double ConfigNode::GetDouble(std::string_view key, double fallback) const {
  auto child = MaybeChild(key);
  return child ? child->AsDouble() : fallback;
}

int64_t ConfigNode::GetInt(std::string_view key, int64_t fallback) const {
  auto child = MaybeChild(key);
  return child ? child->AsInt() : fallback;
}

bool ConfigNode::GetBool(std::string_view key, bool fallback) const {
  auto child = MaybeChild(key);
  return child ? child->AsBool() : fallback;
}

std::string ConfigNode::GetString(std::string_view key, const std::string& fallback) const {
  auto child = MaybeChild(key);
  return child ? child->AsString() : fallback;
}

double ConfigNode::GetPositiveDouble(std::string_view key) const {
  const ConfigNode child = Child(key);
  const double value = child.AsDouble();
  if (!(value > 0.0)) child.Fail(fmt::format("expected a number > 0, got {}", value));
  return value;
}

double ConfigNode::GetPositiveDouble(std::string_view key, double fallback) const {
  return Has(key) ? GetPositiveDouble(key) : fallback;
}

double ConfigNode::GetNonNegativeDouble(std::string_view key, double fallback) const {
  auto child = MaybeChild(key);
  if (!child) return fallback;
  const double value = child->AsDouble();
  if (value < 0.0) child->Fail(fmt::format("expected a number >= 0, got {}", value));
  return value;
}

int64_t ConfigNode::GetPositiveInt(std::string_view key, int64_t fallback) const {
  auto child = MaybeChild(key);
  if (!child) return fallback;
  const int64_t value = child->AsInt();
  if (value <= 0) child->Fail(fmt::format("expected an integer > 0, got {}", value));
  return value;
}

}  // namespace bestserve
