#include "common/config.h"

#include "common/limits.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
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

// Refuses text that is not UTF-8 YAML of a sane size before yaml-cpp sees it (yaml-cpp decodes
// UTF-16/32 silently and has no size limits of its own).
// `line_limit`: false for machine-written data that holds a whole document on one line.
void CheckText(const std::string& text, const std::string& source_name, bool line_limit) {
  if (text.size() > YamlLimits::kMaxFileBytes) {
    ThrowConfigError("{}: {} bytes; a YAML file may hold at most {} bytes", source_name,
                     text.size(), YamlLimits::kMaxFileBytes);
  }
  const auto starts_with = [&](std::string_view prefix) {
    return std::string_view(text).substr(0, prefix.size()) == prefix;
  };
  if (starts_with("\xFF\xFE") || starts_with("\xFE\xFF") ||
      starts_with(std::string_view("\0\0\xFE\xFF", 4))) {
    ThrowConfigError("{}: the file is UTF-16 or UTF-32 (byte-order mark); save it as UTF-8",
                     source_name);
  }
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] == '\0') {
      ThrowConfigError("{}:{}:{}: NUL byte; expected UTF-8 text (is the file UTF-16?)",
                       source_name, line, i - line_start + 1);
    }
    if (i == text.size() || text[i] == '\n') {
      if (line_limit && i - line_start > YamlLimits::kMaxLineBytes) {
        ThrowConfigError("{}:{}: line of {} bytes; a line may hold at most {} bytes", source_name,
                         line, i - line_start, YamlLimits::kMaxLineBytes);
      }
      ++line;
      line_start = i + 1;
    }
  }
}

std::string MarkText(const std::string& source_name, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return source_name;
  return fmt::format("{}:{}:{}", source_name, mark.line + 1, mark.column + 1);
}

// Walks the parsed tree once, with every alias expanded, and refuses what yaml-cpp accepts
// silently: duplicate keys (yaml-cpp keeps the first), keys that are lists or maps, values
// longer than a line may be, nesting deeper than kMaxDepth, and alias expansion past
// kMaxExpandedNodes (the budget stops the walk, so a billion-laughs file costs milliseconds).
class TreeChecker {
 public:
  explicit TreeChecker(const std::string& source_name) : source_name_(source_name) {}

  void Check(const YAML::Node& node, size_t depth) {
    if (++visited_ > YamlLimits::kMaxExpandedNodes) {
      ThrowConfigError("{}: more than {} values once aliases (*name) are expanded; refusing an "
                       "alias bomb",
                       MarkText(source_name_, node), YamlLimits::kMaxExpandedNodes);
    }
    if (depth > YamlLimits::kMaxDepth) {
      ThrowConfigError("{}: nested more than {} levels deep", MarkText(source_name_, node),
                       YamlLimits::kMaxDepth);
    }
    if (node.IsScalar() && node.Scalar().size() > YamlLimits::kMaxScalarBytes) {
      ThrowConfigError("{}: a value of {} bytes; a value may hold at most {} bytes",
                       MarkText(source_name_, node), node.Scalar().size(),
                       YamlLimits::kMaxScalarBytes);
    }
    if (node.IsSequence()) {
      for (const auto& element : node) Check(element, depth + 1);
    } else if (node.IsMap()) {
      std::set<std::string> keys;
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          ThrowConfigError("{}: a key must be a plain name, got a {}", MarkText(source_name_, entry.first),
                           entry.first.IsMap() ? "map" : entry.first.IsSequence() ? "list" : "null");
        }
        if (!keys.insert(entry.first.Scalar()).second) {
          ThrowConfigError("{}: duplicate key '{}'; each key may appear once in a map",
                           MarkText(source_name_, entry.first), entry.first.Scalar());
        }
        Check(entry.first, depth + 1);
        Check(entry.second, depth + 1);
      }
    }
  }

 private:
  const std::string& source_name_;
  size_t visited_ = 0;
};

}  // namespace

ConfigNode ConfigNode::LoadFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    ThrowConfigError("{}: is a directory; expected a YAML file", path);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) ThrowConfigError("{}: cannot open config file", path);
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > YamlLimits::kMaxFileBytes) {
    ThrowConfigError("{}: {} bytes; a YAML file may hold at most {} bytes", path, size,
                     YamlLimits::kMaxFileBytes);
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return LoadString(buffer.str(), path);
}

ConfigNode ConfigNode::LoadString(const std::string& text, const std::string& source_name) {
  return Load(text, source_name, /*line_limit=*/true);
}

ConfigNode ConfigNode::LoadData(const std::string& text, const std::string& source_name) {
  return Load(text, source_name, /*line_limit=*/false);
}

ConfigNode ConfigNode::Load(const std::string& text, const std::string& source_name, bool line_limit) {
  auto source = std::make_shared<const std::string>(source_name);
  CheckText(text, source_name, line_limit);
  YAML::Node root;
  try {
    root = YAML::Load(text);
    TreeChecker(source_name).Check(root, 0);
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

double DoubleIn(const ConfigNode& node, double min, double max) {
  const double value = node.AsDouble();
  if (value < min || value > max) {
    node.Fail(fmt::format("expected a number in [{}, {}], got {}", min, max, value));
  }
  return value;
}

int64_t IntIn(const ConfigNode& node, int64_t min, int64_t max) {
  const std::string text = node.AsString();
  int64_t value = 0;
  if (!YAML::convert<int64_t>::decode(node.yaml(), value)) {
    double approximate = 0.0;
    const bool number = YAML::convert<double>::decode(node.yaml(), approximate) && std::isfinite(approximate);
    if (!number || approximate != std::floor(approximate)) {
      node.Fail(fmt::format("expected an integer, got '{}'", text));
    }
    // An integral number written as 1e11 or too large for 64 bits: the range says what fits.
    node.Fail(fmt::format("expected an integer in [{}, {}], got {}", min, max, text));
  }
  if (value < min || value > max) {
    node.Fail(fmt::format("expected an integer in [{}, {}], got {}", min, max, value));
  }
  return value;
}

int64_t GetIntIn(const ConfigNode& map, std::string_view key, int64_t min, int64_t max,
                 int64_t fallback) {
  auto child = map.MaybeChild(key);
  return child ? IntIn(*child, min, max) : fallback;
}

}  // namespace bestserve
