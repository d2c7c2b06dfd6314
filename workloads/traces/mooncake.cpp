// mooncake: the Mooncake traces, JSON lines {"timestamp": ms, "input_length", "output_length",
// "hash_ids"}; the clock is timestamp / 1000.
#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>

#include "common/error.h"
#include "workloads/traces/csv_rows.h"
#include "workloads/traces/trace_format.h"

namespace bestserve::traces {
namespace {

// A tiny JSON reader for one flat object per line: enough for Mooncake records, strict about
// syntax, and it reports the 1-based column of what it did not expect.
class JsonLine {
 public:
  JsonLine(std::string_view text, const LineContext& at) : text_(text), at_(at) {}

  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= text_.size();
  }
  char Peek() {
    SkipSpace();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  void Expect(char c, std::string_view what) {
    if (Peek() != c) Fail(what);
    ++pos_;
  }
  [[noreturn]] void Fail(std::string_view what) {
    SkipSpace();
    const std::string got = pos_ < text_.size() ? Excerpt(text_.substr(pos_, 20)) : "end of line";
    LineError(at_, pos_ + 1, fmt::format("expected {}, got '{}'", what, got));
  }
  [[noreturn]] void FailKey(std::string_view key, size_t column, std::string_view what,
                            std::string_view got) {
    LineError(at_, column, fmt::format("key '{}': expected {}, got '{}'", key, what, Excerpt(got)));
  }
  size_t column() {
    SkipSpace();
    return pos_ + 1;
  }

  // A string without escapes needing decoding is returned as a view; escapes are validated and
  // kept raw (keys never have them in practice).
  std::string_view String() {
    Expect('"', "a string");
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      if (text_[pos_] == '\\') ++pos_;
      ++pos_;
    }
    if (pos_ >= text_.size()) {
      pos_ = start - 1;
      Fail("a terminated string");
    }
    return text_.substr(start, pos_++ - start);
  }
  std::string_view NumberText() {
    SkipSpace();
    const size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isdigit(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '-' ||
            text_[pos_] == '+' || text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }
  void SkipValue(int depth = 0) {
    if (depth > 64) Fail("a less deeply nested value");
    const char c = Peek();
    if (c == '"') {
      String();
    } else if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++pos_;
      if (Peek() == close) {
        ++pos_;
        return;
      }
      while (true) {
        if (c == '{') {
          String();
          Expect(':', "':'");
        }
        SkipValue(depth + 1);
        if (Peek() == ',') {
          ++pos_;
          continue;
        }
        Expect(close, c == '{' ? "',' or '}'" : "',' or ']'");
        return;
      }
    } else if (text_.substr(pos_, 4) == "true" || text_.substr(pos_, 4) == "null") {
      pos_ += 4;
    } else if (text_.substr(pos_, 5) == "false") {
      pos_ += 5;
    } else {
      const std::string_view number = NumberText();
      double value = 0.0;
      const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
      if (number.empty() || ec != std::errc() || end != number.data() + number.size()) {
        pos_ -= number.size();
        Fail("a JSON value");
      }
    }
  }

 private:
  std::string_view text_;
  const LineContext& at_;
  size_t pos_ = 0;
};

TraceReadSummary Read(const std::string& path, const TraceReadOptions& /*options*/,
                      const TraceVisitor& visit) {
  LineReader reader(path);
  TraceReadSummary summary;
  std::string_view line;
  TraceRecord record;
  LineContext at{&path, 0};
  while (reader.Next(&line)) {
    at.line = reader.line_number();
    JsonLine json(line, at);
    if (json.AtEnd()) continue;
    json.Expect('{', "a JSON object '{'");
    bool has_timestamp = false, has_input = false, has_output = false;
    if (json.Peek() != '}') {
      while (true) {
        const std::string_view key = json.String();
        json.Expect(':', "':' after a key");
        if (key == "timestamp" || key == "input_length" || key == "output_length") {
          const size_t column = json.column();
          const std::string_view text = json.NumberText();
          if (key == "timestamp") {
            double ms = 0.0;
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
            if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
                !std::isfinite(ms) || ms < 0.0) {
              json.FailKey(key, column, "a time in milliseconds >= 0",
                           text.empty() ? line.substr(column - 1, 12) : text);
            }
            record.time_s = ms / 1000.0;
            has_timestamp = true;
          } else {
            int64_t value = 0;
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
            if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
                value < 0) {
              json.FailKey(key, column, "an integer >= 0",
                           text.empty() ? line.substr(column - 1, 12) : text);
            }
            (key == "input_length" ? record.prompt_tokens : record.output_tokens) = value;
            (key == "input_length" ? has_input : has_output) = true;
          }
        } else if (key == "hash_ids") {
          // Prefix-block ids: validated as a list of integers; bestserve does not model prefix
          // caching, so they are not kept.
          const size_t column = json.column();
          json.Expect('[', "a list of integer hash ids '['");
          if (json.Peek() != ']') {
            while (true) {
              const size_t item_column = json.column();
              const std::string_view text = json.NumberText();
              int64_t id = 0;
              const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
              if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
                json.FailKey(key, item_column, "an integer hash id",
                             text.empty() ? line.substr(item_column - 1, 12) : text);
              }
              if (json.Peek() == ',') {
                json.Expect(',', "','");
                continue;
              }
              json.Expect(']', "',' or ']' in hash_ids");
              break;
            }
          } else {
            json.Expect(']', "']'");
          }
          (void)column;
        } else {
          json.SkipValue();
        }
        if (json.Peek() == ',') {
          json.Expect(',', "','");
          continue;
        }
        json.Expect('}', "',' or '}'");
        break;
      }
    } else {
      json.Expect('}', "'}'");
    }
    if (!json.AtEnd()) json.Fail("the end of the line after the object");
    const char* missing = !has_timestamp ? "timestamp"
                          : !has_input   ? "input_length"
                          : !has_output  ? "output_length"
                                         : nullptr;
    if (missing != nullptr) {
      LineError(at, 1,
                fmt::format("missing key '{}'; a mooncake record needs timestamp (ms), "
                            "input_length and output_length",
                            missing));
    }
    record.line = at.line;
    ++summary.rows;
    ++summary.records;
    visit(record);
  }
  summary.lines = reader.line_number();
  return summary;
}

bool Detect(const TraceProbe& probe) { return probe.IsJsonObject(); }

}  // namespace

extern const TraceFormatEntry kMooncakeTrace{
    TraceFormat::kMooncake, "mooncake", /*has_tokens=*/true, /*has_functions=*/false, Detect, Read,
};

}  // namespace bestserve::traces
