// The YAML config loader (common/config.h) and the parsers of the config sections that stand
// alone: the task table and the latency profile set. Any bytes must give a ConfigNode or a
// ConfigError, and a parsed tree must give a table or a ConfigError.
#include "common/config.h"
#include "common/limits.h"
#include "common/tasks.h"
#include "sim/latency_profile.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bestserve;
  try {
    const ConfigNode root = ConfigNode::LoadString(std::string(fuzz::AsText(data, size)), "fuzz.yaml");
    try {
      TaskTable::Parse(root);
    } catch (const Error&) {
    }
    try {
      ProfileSet::Parse(root);
    } catch (const Error&) {
    }
    if (root.IsMap()) {
      for (const auto& key : root.Keys()) {
        const ConfigNode child = root.Child(key);
        try {
          if (child.IsScalar()) {
            child.AsDouble();
            IntIn(child, -5, 5);
          }
        } catch (const Error&) {
        }
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
