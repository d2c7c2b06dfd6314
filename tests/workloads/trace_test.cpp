// Trace readers and replay: every format on tiny fixtures (plain and gzip), the promised errors
// on malformed rows (file, line, column), the real shared traces, and the replay options.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "common/files.h"
#include "tests/workloads/test_support.h"
#include "workloads/line_reader.h"
#include "workloads/registry.h"
#include "workloads/trace_reader.h"
#include "workloads/trace_workload.h"
#include "workloads/workload_stats.h"

namespace bestserve {
namespace {

using testing::ScratchDir;
using testing::TestTasks;
using testing::Yaml;

// A TraceRecord with owned strings: a record's views are valid only inside the callback.
struct Owned {
  double time_s;
  int64_t prompt_tokens, output_tokens;
  std::string function, category, model;
  int64_t line;
};

std::vector<Owned> ReadAll(const std::string& path, TraceFormat format,
                           TraceReadOptions options = {}) {
  std::vector<Owned> out;
  ReadTrace(path, format, options, [&](const TraceRecord& r) {
    out.push_back({r.time_s, r.prompt_tokens, r.output_tokens, std::string(r.function),
                   std::string(r.category), std::string(r.model), r.line});
  });
  return out;
}

// "file:line:column" of the first occurrence of `needle` in line `line` of `text`.
std::string Where(const std::string& file, int line, const std::string& row,
                  const std::string& needle) {
  return fmt::format("{}:{}:{}:", file, line, row.find(needle) + 1);
}

const char* k2019 =
    "HashOwner,HashApp,HashFunction,Trigger,1,2,3\n"
    "o1,a1,f1,http,2,0,1\n"
    "o2,a2,f2,timer,0,3,0\n";
const char* k2021 =
    "app,func,end_timestamp,duration\n"
    "a,f,10.5,0.5\n"
    "a,g,3.0,1.0\n"
    "b,f,4.0,5.0\n";
const char* kLlm =
    "TIMESTAMP,ContextTokens,GeneratedTokens\n"
    "2023-11-16 23:59:58.5000000,374,44\n"
    "2023-11-16 23:59:59.7500000,396,109\n"
    "2023-11-17 00:00:01.2500000,10,1";  // no final newline, crossing midnight
const char* kLlm2024 =
    "TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
    "2024-05-10 00:00:00.009930+00:00,100,20\r\n"
    "2024-05-10 02:00:01+02:00,200,30\r\n"  // = 00:00:01 UTC
    "2024-05-10 00:00:03Z,300,40\r\n";
const char* kMooncake =
    "{\"timestamp\": 0, \"input_length\": 655, \"output_length\": 52, \"hash_ids\": [46, 47]}\n"
    "\n"
    "{\"hash_ids\": [], \"timestamp\": 10535, \"output_length\": 26, \"input_length\": 672, "
    "\"extra\": {\"a\": [1, \"x\\\"y\", true, null]}}\n";
const char* kBurstGpt =
    "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
    "5,ChatGPT,472,18,490,Conversation log\n"
    "45,GPT-4,1087,0,1087,API log\n"
    "46.5,\"ChatGPT\",30,7,37,\"Conversation log\"\n";

TEST_CASE("Each trace format parses its fixture, plain and gzip", "[workloads][traces]") {
  ScratchDir dir;
  for (const bool gzip : {false, true}) {
    auto write = [&](const std::string& name, const std::string& text) {
      return gzip ? dir.WriteGzip(name + ".gz", text) : dir.Write(name, text);
    };
    SECTION(gzip ? "gzip" : "plain") {
      TraceReadOptions equidistant;
      equidistant.spread = MinuteSpread::kEquidistant;
      auto r2019 =
          ReadAll(write("f2019.csv", k2019), TraceFormat::kAzureFunctions2019, equidistant);
      std::vector<double> times;
      for (const auto& r : r2019) times.push_back(r.time_s);
      // f1: 2 in minute 1 at 0 and 30 s, 1 in minute 3 at 120 s; f2: 3 in minute 2 at 60, 80, 100.
      CHECK(times == std::vector<double>{0.0, 30.0, 120.0, 60.0, 80.0, 100.0});
      CHECK(r2019[0].category == "http");
      CHECK(r2019[0].line == 2);

      const auto r2021 = ReadAll(write("f2021.csv", k2021), TraceFormat::kAzureFunctions2021);
      REQUIRE(r2021.size() == 3);
      CHECK(r2021[0].time_s == 10.0);
      CHECK(r2021[1].time_s == 2.0);
      CHECK(r2021[2].time_s == -1.0);

      const auto llm = ReadAll(write("llm.csv", kLlm), TraceFormat::kAzureLlm);
      REQUIRE(llm.size() == 3);
      CHECK(llm[0].time_s == 0.0);
      CHECK(llm[1].time_s == Approx(1.25).margin(1e-9));
      CHECK(llm[2].time_s == Approx(2.75).margin(1e-9));
      CHECK(llm[1].prompt_tokens == 396);
      CHECK(llm[2].output_tokens == 1);

      const auto llm24 = ReadAll(write("llm24.csv", kLlm2024), TraceFormat::kAzureLlm);
      REQUIRE(llm24.size() == 3);
      CHECK(llm24[1].time_s == Approx(1.0 - 0.00993).margin(1e-9));
      CHECK(llm24[2].time_s == Approx(3.0 - 0.00993).margin(1e-9));

      const auto moon = ReadAll(write("moon.jsonl", kMooncake), TraceFormat::kMooncake);
      REQUIRE(moon.size() == 2);
      CHECK(moon[1].time_s == 10.535);
      CHECK(moon[1].prompt_tokens == 672);
      CHECK(moon[1].output_tokens == 26);
      CHECK(moon[1].line == 3);

      const auto burst = ReadAll(write("burst.csv", kBurstGpt), TraceFormat::kBurstGpt);
      REQUIRE(burst.size() == 3);
      CHECK(burst[1].model == "GPT-4");
      CHECK(burst[1].output_tokens == 0);
      CHECK(burst[2].time_s == 46.5);
      CHECK(burst[2].model == "ChatGPT");
      CHECK(burst[2].category == "Conversation log");

      CHECK(DetectTraceFormat(write("d2019.csv", k2019)) == TraceFormat::kAzureFunctions2019);
      CHECK(DetectTraceFormat(write("d2021.csv", k2021)) == TraceFormat::kAzureFunctions2021);
      CHECK(DetectTraceFormat(write("dllm.csv", kLlm)) == TraceFormat::kAzureLlm);
      CHECK(DetectTraceFormat(write("dmoon.jsonl", kMooncake)) == TraceFormat::kMooncake);
      CHECK(DetectTraceFormat(write("dburst.csv", kBurstGpt)) == TraceFormat::kBurstGpt);
    }
  }
}

TEST_CASE("The 2019 spreads keep each minute's count; uniform and equidistant stay in the minute",
          "[workloads][traces]") {
  ScratchDir dir;
  const std::string file = dir.Write("f.csv",
                                     "HashOwner,HashApp,HashFunction,Trigger,10,11\n"
                                     "o,a,f,http,500,7\n"
                                     "o,a,g,queue,0,1000\n");
  for (const MinuteSpread spread :
       {MinuteSpread::kUniform, MinuteSpread::kEquidistant, MinuteSpread::kPoisson}) {
    TraceReadOptions options;
    options.spread = spread;
    options.spread_seed = 3;
    std::map<std::pair<std::string, int>, int64_t> counts;
    ReadTrace(file, TraceFormat::kAzureFunctions2019, options, [&](const TraceRecord& r) {
      // Minute 10 is the first column, so it starts at 0; a record's minute is by its row order.
      const std::string function(r.function);
      const int minute = function == "o/a/f" && counts[{function, 0}] < 500 ? 0 : 1;
      if (spread != MinuteSpread::kPoisson) {
        REQUIRE(r.time_s >= 60.0 * minute);
        REQUIRE(r.time_s < 60.0 * (minute + 1));
      }
      ++counts[{function, minute}];
    });
    CHECK(counts[{"o/a/f", 0}] == 500);
    CHECK(counts[{"o/a/f", 1}] == 7);
    CHECK(counts[{"o/a/g", 1}] == 1000);
  }
}

TEST_CASE("A bound on records stops a reader at the line that passes it, before visiting more",
          "[workloads][traces]") {
  ScratchDir dir;
  // One cell asks for three billion arrivals: without the bound the reader would spread them all.
  const std::string minute_table = dir.Write("f.csv",
                                             "HashOwner,HashApp,HashFunction,Trigger,10,11\n"
                                             "o,a,f,http,5,7\n"
                                             "o,a,g,queue,3000000000,1\n");
  TraceReadOptions options;
  options.max_records = 100;
  int64_t visited = 0;
  CHECK_THROWS_WITH(ReadTrace(minute_table, TraceFormat::kAzureFunctions2019, options,
                              [&](const TraceRecord&) { ++visited; }),
                    Catch::Contains(minute_table + ":3: more than 100 records"));
  CHECK(visited == 100);
  // Exactly at the bound is fine; a row format counts one record per line.
  const std::string llm = dir.Write("llm.csv",
                                    "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                    "2023-11-16 18:15:46.6805900,374,44\n"
                                    "2023-11-16 18:15:50.9951690,396,109\n"
                                    "2023-11-16 18:15:51.2171530,879,83\n");
  options.max_records = 3;
  visited = 0;
  ReadTrace(llm, TraceFormat::kAzureLlm, options, [&](const TraceRecord&) { ++visited; });
  CHECK(visited == 3);
  options.max_records = 2;
  CHECK_THROWS_WITH(ReadTrace(llm, TraceFormat::kAzureLlm, options, [](const TraceRecord&) {}),
                    Catch::Contains(llm + ":4: more than 2 records"));
}

TEST_CASE("The 2019 uniform spread gives sorted, uniformly distributed times in the minute",
          "[workloads][traces][statistical]") {
  ScratchDir dir;
  const std::string file = dir.Write("u.csv",
                                     "HashOwner,HashApp,HashFunction,Trigger,7\n"
                                     "o,a,f,http,50000\n");
  TraceReadOptions options;
  options.spread_seed = 19;
  std::vector<double> times;
  ReadTrace(file, TraceFormat::kAzureFunctions2019, options,
            [&](const TraceRecord& r) { times.push_back(r.time_s); });
  REQUIRE(times.size() == 50000);
  CHECK(std::is_sorted(times.begin(), times.end()));
  const double d =
      testing::KolmogorovSmirnov(times, [](double x) { return std::clamp(x / 60.0, 0.0, 1.0); });
  CHECK(std::sqrt(50000.0) * d < testing::KsCriticalValue(testing::kKsAlpha));
}

TEST_CASE("A function's spread does not depend on which other functions are read",
          "[workloads][traces]") {
  ScratchDir dir;
  const std::string both = dir.Write("both.csv",
                                     "HashOwner,HashApp,HashFunction,Trigger,1,2\n"
                                     "o,a,f,http,4,2\n"
                                     "o,a,g,http,3,3\n");
  const std::string one = dir.Write("one.csv",
                                    "HashOwner,HashApp,HashFunction,Trigger,1,2\n"
                                    "o,a,g,http,3,3\n");
  TraceReadOptions options;
  options.spread_seed = 42;
  std::vector<double> from_both, from_one;
  ReadTrace(both, TraceFormat::kAzureFunctions2019, options, [&](const TraceRecord& r) {
    if (r.function == "o/a/g") from_both.push_back(r.time_s);
  });
  ReadTrace(one, TraceFormat::kAzureFunctions2019, options,
            [&](const TraceRecord& r) { from_one.push_back(r.time_s); });
  CHECK(from_both == from_one);
}

struct BadRow {
  const char* name;
  TraceFormat format;
  std::string text;
  int line;
  std::string needle;  // where the column points; empty: column 1
  std::string message;
};

TEST_CASE("Malformed rows in every format give file, line, column and what was expected",
          "[workloads][traces][errors]") {
  ScratchDir dir;
  const std::vector<BadRow> cases = {
      {"a2019.csv", TraceFormat::kAzureFunctions2019,
       "HashOwner,HashApp,HashFunction,Trigger,1,2,3\no1,a1,f1,http,2,x,1\n", 2, "x,1",
       "column '2': expected an integer >= 0, got 'x'"},
      {"b2019.csv", TraceFormat::kAzureFunctions2019,
       "HashOwner,HashApp,HashFunction,Trigger,1,2,3\no1,a1,f1,http,2,1\n", 2, "",
       "expected 7 comma-separated fields (as in the header), got 6"},
      {"c2019.csv", TraceFormat::kAzureFunctions2019,
       "HashOwner,HashApp,HashFunction,Trigger,1,2,3\no1,a1,f1,http,2,-4,1\n", 2, "-4",
       "column '2': expected an integer >= 0, got '-4'"},
      {"a2021.csv", TraceFormat::kAzureFunctions2021,
       "app,func,end_timestamp,duration\na,f,1.5,0.1\na,f,abc,0.5\n", 3, "abc",
       "column 'end_timestamp': expected a number of seconds, got 'abc'"},
      {"b2021.csv", TraceFormat::kAzureFunctions2021,
       "app,func,end_timestamp,duration\na,f,1.5,-0.1\n", 2, "-0.1",
       "column 'duration': expected a number of seconds >= 0, got '-0.1'"},
      {"allm.csv", TraceFormat::kAzureLlm,
       "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,374,44\n"
       "2023-11-16 18:15:4x.68,374,44\n",
       3, "2023", "column 'TIMESTAMP': expected a time 'YYYY-MM-DD HH:MM:SS[.fraction][+HH:MM]'"},
      {"bllm.csv", TraceFormat::kAzureLlm,
       "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,374,4.5\n", 2, "4.5",
       "column 'GeneratedTokens': expected an integer >= 0, got '4.5'"},
      {"cllm.csv", TraceFormat::kAzureLlm,
       "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-13-16 18:15:46.68,374,4\n", 2, "2023",
       "column 'TIMESTAMP'"},
      {"amoon.jsonl", TraceFormat::kMooncake,
       "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 2}\n"
       "{\"timestamp\": 10, \"input_length\": \"12\", \"output_length\": 3}\n",
       2, "\"12\"", "key 'input_length': expected an integer >= 0"},
      {"bmoon.jsonl", TraceFormat::kMooncake, "{\"timestamp\": 10, \"input_length\": 12}\n", 1, "",
       "missing key 'output_length'"},
      {"cmoon.jsonl", TraceFormat::kMooncake,
       "{\"timestamp\": 10, \"input_length\": 12, \"output_length\": 3} x\n", 1, "x",
       "expected the end of the line after the object, got 'x'"},
      {"dmoon.jsonl", TraceFormat::kMooncake, "[1, 2]\n", 1, "[",
       "expected a JSON object '{', got '[1, 2]'"},
      {"emoon.jsonl", TraceFormat::kMooncake,
       "{\"timestamp\": 10, \"input_length\": 12, \"output_length\": 3, \"hash_ids\": [1, x]}\n", 1,
       "x]", "key 'hash_ids': expected an integer hash id, got 'x]}'"},
      {"aburst.csv", TraceFormat::kBurstGpt,
       "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
       "5,ChatGPT,abc,18,490,Conversation log\n",
       2, "abc", "column 'Request tokens': expected an integer >= 0, got 'abc'"},
      {"bburst.csv", TraceFormat::kBurstGpt,
       "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
       "5,\"ChatGPT,472,18,490,Conversation log\n",
       2, "\"", "unterminated double-quoted field"},
  };
  for (const BadRow& c : cases) {
    INFO(c.name);
    const std::string file = dir.Write(c.name, c.text);
    // The offending line of the text, for the expected column.
    size_t start = 0;
    for (int i = 1; i < c.line; ++i) start = c.text.find('\n', start) + 1;
    const std::string row = c.text.substr(start, c.text.find('\n', start) - start);
    const std::string where = c.needle.empty() ? fmt::format("{}:{}:1:", file, c.line)
                                               : Where(file, c.line, row, c.needle);
    CHECK_THROWS_WITH(ReadAll(file, c.format),
                      Catch::StartsWith(where) && Catch::Contains(c.message));
  }
}

TEST_CASE("A header without the format's columns names the missing ones",
          "[workloads][traces][errors]") {
  ScratchDir dir;
  const std::string file = dir.Write("h.csv", "TIMESTAMP,Context,GeneratedTokens\n");
  CHECK_THROWS_WITH(ReadAll(file, TraceFormat::kAzureLlm),
                    Catch::StartsWith(file + ":1: missing column(s) ContextTokens for format "
                                             "azure_llm"));
  const std::string none = dir.Write("n.csv", "HashOwner,HashApp,HashFunction,Trigger\n");
  CHECK_THROWS_WITH(ReadAll(none, TraceFormat::kAzureFunctions2019),
                    Catch::Contains("expected minute columns named 1..1440"));
  const std::string empty = dir.Write("e.csv", "");
  CHECK_THROWS_WITH(ReadAll(empty, TraceFormat::kBurstGpt), Catch::Contains("empty file"));
  CHECK_THROWS_WITH(DetectTraceFormat(dir.Write("u.csv", "a,b,c\n")),
                    Catch::Contains("cannot tell the trace format") &&
                        Catch::Contains("azure_functions_2019, azure_functions_2021"));
  CHECK_THROWS_WITH(ReadAll(dir.Path("missing.csv"), TraceFormat::kAzureLlm),
                    Catch::Contains("missing.csv: cannot open trace file"));
}

TEST_CASE("A truncated gzip trace is an error, not a silently short trace",
          "[workloads][traces][errors]") {
  ScratchDir dir;
  std::string text = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
  for (int i = 0; i < 5000; ++i)
    text += fmt::format("2023-11-16 18:15:{:02}.{:07},374,44\n", i % 60, i);
  const std::string full = dir.WriteGzip("full.csv.gz", text);
  const std::string bytes = ReadFile(full);
  const std::string cut = dir.Write("cut.csv.gz", bytes.substr(0, bytes.size() / 2));
  CHECK_THROWS_WITH(ReadAll(cut, TraceFormat::kAzureLlm),
                    Catch::Contains("cut.csv.gz") && Catch::Contains("gzip"));
}

TEST_CASE("The line reader handles CRLF, a missing final newline, and lines past its buffer",
          "[workloads][traces]") {
  ScratchDir dir;
  const std::string long_line(3 << 20, 'x');  // 3 MiB: past the 64 KiB buffer, doubled five times
  const std::string file = dir.Write("l.txt", "a\r\n\r\nb\n" + long_line + "\nlast");
  LineReader reader(file);
  std::string_view line;
  std::vector<std::string> lines;
  while (reader.Next(&line)) lines.emplace_back(line);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == "a");
  CHECK(lines[1].empty());
  CHECK(lines[2] == "b");
  CHECK(lines[3] == long_line);
  CHECK(lines[4] == "last");
  CHECK(reader.line_number() == 5);
}

TEST_CASE("Timestamps parse with fractions and UTC offsets, and reject malformed text",
          "[workloads][traces]") {
  int64_t s = 0;
  double f = 0.0;
  REQUIRE(ParseTimestamp("1970-01-01 00:00:00", &s, &f));
  CHECK(s == 0);
  REQUIRE(ParseTimestamp("2023-11-16 18:15:46.6805900", &s, &f));
  CHECK(s == 1700158546);
  CHECK(f == Approx(0.68059).margin(1e-12));
  REQUIRE(ParseTimestamp("2024-05-10T02:00:01+02:00", &s, &f));
  CHECK(s == 1715299201);
  REQUIRE(ParseTimestamp("2024-02-29 00:00:00Z", &s, &f));
  CHECK(s == 1709164800);
  for (const char* bad :
       {"2023-11-16", "2023-11-16 25:00:00", "2023-11-16 18:15:46.", "2023/11/16 18:15:46",
        "2023-11-16 18:15:46+2", "2023-11-16 18:15:46 ", "x023-11-16 18:15:46"}) {
    INFO(bad);
    CHECK_FALSE(ParseTimestamp(bad, &s, &f));
  }
}

TEST_CASE("The shared Azure LLM trace parses and gives the README's statistics",
          "[workloads][traces]") {
  const auto traces = testing::SharedTraces();
  if (!traces) return;
  const WorkloadStats s =
      ComputeStats(LoadArrivalData(*traces + "/AzureLLMInferenceTrace_conv.csv", "auto"));
  CHECK(s.count == 19366);
  CHECK(s.duration_s == Approx(3501.72).margin(0.01));
  CHECK(s.mean_rate_rps == Approx(5.53).margin(0.005));
  CHECK(s.windows_1s.max_count == 16);
  CHECK(s.windows_1s.peak_to_mean == Approx(2.89).margin(0.005));
  CHECK(s.windows_60s.max_count == 507);
  // README: 1.55; 507 / (19366 / 59 windows) = 1.5446, the README rounds it up.
  CHECK(s.windows_60s.peak_to_mean == Approx(1.5446).margin(0.0001));
  CHECK(s.cv_interarrival == Approx(1.09).margin(0.005));
  CHECK(s.mean_interarrival_s == Approx(0.181).margin(0.0005));
  CHECK(s.zero_gaps == 0);
  REQUIRE(s.prompt_tokens);
  CHECK(s.prompt_tokens->min == 2);
  CHECK(s.prompt_tokens->p50 == 1020);
  CHECK(s.prompt_tokens->mean == Approx(1155).margin(0.5));
  CHECK(s.prompt_tokens->p99 == Approx(4142).margin(0.5));
  CHECK(s.prompt_tokens->max == 14050);
  CHECK(s.output_tokens->min == 7);
  CHECK(s.output_tokens->p50 == 129);
  CHECK(s.output_tokens->mean == Approx(211).margin(0.5));
  CHECK(s.output_tokens->p90 == 424);
  CHECK(s.output_tokens->p99 == 601);
  CHECK(s.output_tokens->max == 1000);
}

TEST_CASE("The shared Azure Functions 2019 sample parses with the README's totals",
          "[workloads][traces]") {
  const auto traces = testing::SharedTraces();
  if (!traces) return;
  const std::string file = *traces + "/azure_functions_2019_sample500_min0480-0719.csv";
  int64_t rows = 0, total = 0, biggest = 0;
  std::vector<int64_t> per_minute(240, 0);
  std::map<std::string, int64_t> by_trigger;
  ReadAzureFunctions2019Rows(file, [&](const Azure2019Row& row) {
    ++rows;
    REQUIRE(row.minutes->size() == 240);
    REQUIRE(row.minutes->front() == 480);
    int64_t sum = 0;
    for (size_t i = 0; i < 240; ++i) {
      sum += (*row.counts)[i];
      per_minute[i] += (*row.counts)[i];
    }
    total += sum;
    biggest = std::max(biggest, sum);
    by_trigger[std::string(row.trigger)] += sum;
  });
  CHECK(rows == 500);
  CHECK(total == 1505228);
  CHECK(biggest == 960194);
  CHECK(*std::min_element(per_minute.begin(), per_minute.end()) == 3013);
  CHECK(*std::max_element(per_minute.begin(), per_minute.end()) == 7438);
  CHECK(by_trigger["event"] == 1080813);
  CHECK(by_trigger["http"] == 28159);
  CHECK(by_trigger["others"] == 8);
  // Replay keeps every invocation (uniform spread keeps each minute's count).
  const TaskTable tasks = TestTasks();
  const auto replay = MakeWorkloadGenerator(
      Yaml(fmt::format(
          "{{kind: trace, format: azure_functions_2019, path: '{}', triggers: [http]}}", file)),
      "");
  CHECK(replay->Generate(WorkloadContext{&tasks, 1}).size() == 28159);
}

TEST_CASE("Trace replay windows, rescales, filters and assigns tasks as configured",
          "[workloads][traces]") {
  ScratchDir dir;
  const TaskTable tasks = TestTasks();
  std::string text = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
  for (int i = 0; i < 100; ++i) {
    text +=
        fmt::format("2023-11-16 18:{:02}:{:02}.5000000,{},{}\n", i / 60, i % 60, 10 + i, 1 + i % 7);
  }
  const std::string llm = dir.Write("llm.csv", text);
  auto generate = [&](const std::string& extra, TraceReplayReport* report = nullptr) {
    const auto g = TraceWorkload::FromConfig(
        Yaml(fmt::format("{{kind: trace, format: azure_llm, path: '{}'{}}}", llm, extra)), "");
    return dynamic_cast<const TraceWorkload&>(*g).GenerateWithReport(WorkloadContext{&tasks, 4},
                                                                     report);
  };
  SECTION("full replay keeps times and tokens") {
    const Workload w = generate("");
    REQUIRE(w.size() == 100);
    CHECK(w[7].arrival_s == 7.0);
    CHECK(w[7].prompt_tokens == 17);
    CHECK(std::isnan(w[7].nominal_rate_rps));
  }
  SECTION("a window keeps [start, end) and starts at start_s") {
    TraceReplayReport report;
    const Workload w = generate(", window_s: [10, 20], start_s: 100", &report);
    REQUIRE(w.size() == 10);
    CHECK(w.front().arrival_s == 100.0);
    CHECK(w.back().arrival_s == 109.0);
    CHECK(report.outside_window == 90);
  }
  SECTION("rate_scale compresses time; target_rate_rps reaches the target mean rate") {
    const Workload twice = generate(", rate_scale: 2");
    CHECK(twice[10].arrival_s == 5.0);
    const Workload target = generate(", target_rate_rps: 4");
    // N / T = 100 / 99 s before; after: 4 rps.
    CHECK(100.0 / (target.back().arrival_s - target.front().arrival_s) ==
          Approx(4.0).epsilon(1e-12));
  }
  SECTION("max_requests keeps the first requests") {
    TraceReplayReport report;
    CHECK(generate(", max_requests: 30", &report).size() == 30);
    CHECK(report.beyond_max_requests == 70);
  }
  SECTION("tokens from the task table instead of the trace") {
    const Workload w = generate(", tokens: task_table, task_mix: {only: openbookqa}");
    for (const Request& r : w) {
      REQUIRE(r.prompt_tokens == 40);
      REQUIRE(r.output_tokens == 16);
    }
  }
  SECTION("options that do not apply to the format are refused") {
    CHECK_THROWS_WITH(generate(", spread: uniform"),
                      Catch::Contains("applies only to format azure_functions_2019"));
    CHECK_THROWS_WITH(generate(", task_assignment: by_function"),
                      Catch::Contains("has no function ids"));
    CHECK_THROWS_WITH(generate(", models: [GPT-4]"),
                      Catch::Contains("'models' applies only to format burstgpt"));
    CHECK_THROWS_WITH(generate(", rate_scale: 2, target_rate_rps: 3"), Catch::Contains("not both"));
    CHECK_THROWS_WITH(generate(", window_s: [500, 600]"), Catch::Contains("no requests left"));
  }
}

TEST_CASE("Zero token counts are an error unless dropped or raised, and both are counted",
          "[workloads][traces]") {
  ScratchDir dir;
  const TaskTable tasks = TestTasks();
  const std::string file = dir.Write("b.csv", kBurstGpt);
  auto make = [&](const std::string& extra) {
    return TraceWorkload::FromConfig(
        Yaml(fmt::format("{{kind: trace, format: burstgpt, path: '{}'{}}}", file, extra)), "");
  };
  CHECK_THROWS_WITH(make("")->Generate(WorkloadContext{&tasks, 1}),
                    Catch::Contains(file + ":3: a request with output = 0 tokens"));
  TraceReplayReport report;
  const auto drop = make(", zero_tokens: drop");
  CHECK(dynamic_cast<const TraceWorkload&>(*drop)
            .GenerateWithReport(WorkloadContext{&tasks, 1}, &report)
            .size() == 2);
  CHECK(report.zero_token_dropped == 1);
  const auto raise = make(", zero_tokens: raise_to_1");
  const Workload w = dynamic_cast<const TraceWorkload&>(*raise).GenerateWithReport(
      WorkloadContext{&tasks, 1}, &report);
  REQUIRE(w.size() == 3);
  CHECK(w[1].output_tokens == 1);
  CHECK(report.zero_token_raised == 1);
  const Workload chatgpt = make(", models: [ChatGPT]")->Generate(WorkloadContext{&tasks, 1});
  CHECK(chatgpt.size() == 2);
}

TEST_CASE("Function filters and by-function tasks: a function keeps one task, filters select rows",
          "[workloads][traces]") {
  ScratchDir dir;
  const TaskTable tasks = TestTasks();
  const std::string file = dir.Write("f.csv",
                                     "HashOwner,HashApp,HashFunction,Trigger,1,2,3\n"
                                     "o,a,f1,http,20,10,5\n"
                                     "o,a,f2,timer,7,7,7\n"
                                     "o,b,f3,queue,1,0,30\n");
  auto make = [&](const std::string& extra) {
    return MakeWorkloadGenerator(
               Yaml(fmt::format("{{kind: trace, format: azure_functions_2019, path: '{}'{}}}", file,
                                extra)),
               "")
        ->Generate(WorkloadContext{&tasks, 2});
  };
  const Workload all = make(", task_assignment: by_function");
  REQUIRE(all.size() == 87);
  // FNV-1a of "o/a/f1" etc. mod 4; each function's requests share it.
  const auto expected_task = [](const std::string& id) {
    return static_cast<TaskId>(Fnv1a64(id) % 4);
  };
  std::map<TaskId, int64_t> per_task;
  for (const Request& r : all) ++per_task[r.task];
  std::map<TaskId, int64_t> expected;
  expected[expected_task("o/a/f1")] += 35;
  expected[expected_task("o/a/f2")] += 21;
  expected[expected_task("o/b/f3")] += 31;
  CHECK(per_task == expected);
  CHECK(make(", include_functions: [f2]").size() == 21);
  CHECK(make(", include_functions: [o/b/f3, f2]").size() == 52);
  CHECK(make(", exclude_functions: [f1]").size() == 52);
  CHECK(make(", triggers: [queue, http]").size() == 66);
  CHECK(make(", window_s: [60, 120]").size() == 17);
}

TEST_CASE("Azure Functions 2021 replay sorts by arrival and drops arrivals before the trace start",
          "[workloads][traces]") {
  ScratchDir dir;
  const TaskTable tasks = TestTasks();
  const std::string file = dir.WriteGzip("f.csv.gz", k2021);
  const auto g = MakeWorkloadGenerator(
      Yaml(fmt::format("{{kind: trace, format: azure_functions_2021, path: '{}'}}", file)), "");
  const Workload w = g->Generate(WorkloadContext{&tasks, 2});
  REQUIRE(w.size() == 2);
  CHECK(w[0].arrival_s == 2.0);
  CHECK(w[1].arrival_s == 10.0);
}

}  // namespace
}  // namespace bestserve
