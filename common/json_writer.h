// A minimal JSON writer with deterministic number formatting.
//
// Doubles are printed by fmt's shortest round-trip algorithm (Dragonbox), so the same value
// always gives the same bytes on every platform: needed for byte-identical outputs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bestserve {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Number(double value);  // NaN and infinities are written as null
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  // Convenience for `"key": value` pairs.
  JsonWriter& Field(std::string_view key, double value) { return Key(key).Number(value); }
  JsonWriter& FieldInt(std::string_view key, int64_t value) { return Key(key).Int(value); }
  JsonWriter& FieldString(std::string_view key, std::string_view value) {
    return Key(key).String(value);
  }
  JsonWriter& NumberArray(const std::vector<double>& values);

  // The document so far; complete once every Begin has its End.
  const std::string& str() const { return out_; }

 private:
  void BeforeValue();
  void Indent();

  std::string out_;
  std::vector<bool> first_in_scope_;  // one entry per open object/array
  bool after_key_ = false;
};

std::string JsonEscape(std::string_view text);

}  // namespace bestserve
