// Bad raw measurements and provenance records are refused with messages that name the file,
// line, column or key and what was expected; through the binary they exit with code 3 and
// leave no output file behind.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "profiles/tools/profile_fit.h"
#include "tests/profiles/test_support.h"

namespace bestserve::profiling {
namespace {

using testing::DataPath;
using testing::ReadText;
using testing::ScratchDir;

const char* kHeader =
    "model,measurement,status,batch_size,context_tokens,prompt_tokens,peer_model,peer_batch_size,"
    "peer_context_tokens,unit,repeats,median,p10,p90,mean,min,max,method,samples\n";

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  return text.replace(pos, from.size(), to);
}

std::string CsvError(const std::string& text) {
  try {
    ParseRawCsv(text, "raw.csv");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string ProvenanceError(const std::string& text) {
  try {
    ParseProvenance(ConfigNode::LoadString(text, "prov.json"));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string ValidProvenance() { return ReadText(DataPath("exact_provenance.json")); }

}  // namespace

TEST_CASE("the fixture files parse", "[profiling][input]") {
  const RawMeasurements raw = LoadRawCsv(DataPath("exact.csv"));
  CHECK(raw.rows.size() == 21);
  CHECK(raw.models == std::vector<std::string>{"m1"});
  const ProvenanceRecord p = LoadProvenance(DataPath("exact_provenance.json"));
  CHECK(p.device == "cuda");
  CHECK(p.models.size() == 2);
  // null versions are kept as "none"; keys are sorted.
  CHECK(p.software == std::vector<std::pair<std::string, std::string>>{
                          {"cuda", "none"}, {"python", "3.11"}, {"torch", "fixture"}});
}

TEST_CASE("raw CSV errors name the file, line, column and expectation", "[profiling][input]") {
  const std::string columns =
      "model, measurement, status, batch_size, context_tokens, prompt_tokens, peer_model, "
      "peer_batch_size, "
      "peer_context_tokens, unit, repeats, median, p10, p90, mean, min, max, method, samples";
  CHECK(CsvError("") ==
        "raw.csv: the file is empty; expected a CSV header line with the columns: " + columns);
  CHECK(CsvError("\n  \n") ==
        "raw.csv: the file is empty; expected a CSV header line with the columns: " + columns);
  CHECK(CsvError(kHeader) == "raw.csv: no measurement rows after the header line");
  CHECK(CsvError(Replace(kHeader, ",p90,", ",")) ==
        "raw.csv:1: missing column 'p90' in the header; expected the columns: " + columns);
  CHECK(CsvError(Replace(kHeader, ",p90,", ",p95,")) ==
        "raw.csv:1:14: unknown column 'p95'; valid columns: " + columns);

  const std::string good =
      std::string(kHeader) + "m,decode,ok,1,16,0,,0,0,ms,3,1.5,1.4,1.6,1.5,1.4,1.6,t,1.4;1.5;1.6\n";
  CHECK_NOTHROW(ParseRawCsv(good, "raw.csv"));
  CHECK(CsvError(Replace(good, ",1.5,1.4,", ",fast,1.4,")) ==
        "raw.csv:2:12: column 'median': expected a finite number, got 'fast'");
  CHECK(CsvError(Replace(good, ",1.5,1.4,", ",,1.4,")) ==
        "raw.csv:2:12: column 'median': expected a finite number, got ''");
  CHECK(CsvError(Replace(good, "m,decode,ok,1,", "m,decode,ok,x,")) ==
        "raw.csv:2:4: column 'batch_size': expected an integer, got 'x'");
  CHECK(CsvError(Replace(good, "m,decode,ok,1,16,", "m,decode,ok,1,0,")) ==
        "raw.csv:2:5: column 'context_tokens': expected an integer >= 1, got 0");
  CHECK(CsvError(Replace(good, ",ms,", ",s,")) ==
        "raw.csv:2:10: column 'unit': expected 'ms' for a decode row, got 's'");
  CHECK(
      CsvError(Replace(good, "m,decode,", "m,decoding,")) ==
      "raw.csv:2:2: column 'measurement': unknown measurement 'decoding'; valid: prefill, decode, "
      "decode_colocated, weight_bytes, kv_bytes_per_token, activation_peak_bytes");
  CHECK(CsvError(Replace(good, ",1.5,1.4,1.6,", ",1.5,1.6,1.4,")) ==
        "raw.csv:2:12: column 'median': expected p10 <= median <= p90, got 1.6 <= 1.5 <= 1.4");
  CHECK(CsvError(Replace(good, ",t,1.4;", ",t,1.4,")) ==
        "raw.csv:2: expected 19 fields (one per header column), got 20");
  CHECK(CsvError(good + "m,decode,ok,1,16,0,,0,0,ms,3,1.7,1.6,1.8,1.7,1.6,1.8,t,\n") ==
        "raw.csv:3: the same decode point of 'm' as line 2; each point must be measured once");
  // A row that was not measured has no statistics, and that is fine.
  CHECK_NOTHROW(ParseRawCsv(good + "m,decode,oom,2,16,0,,0,0,ms,0,,,,,,,,\n", "raw.csv"));
}

TEST_CASE("a provenance record missing a field is refused with its key and location",
          "[profiling][input]") {
  CHECK_NOTHROW(ParseProvenance(ConfigNode::LoadString(ValidProvenance(), "prov.json")));
  CHECK(ProvenanceError(Replace(ValidProvenance(), "\"date\": \"2024-01-01T00:00:00Z\",", "")) ==
        "prov.json:1:1: missing required key 'date'");
  CHECK(ProvenanceError(Replace(
            ValidProvenance(), "\"name\": \"fixture-gpu (hand-written test data)\"",
            "\"label\": \"x\"")) == "prov.json:7:10: at 'gpu': missing required key 'name'");
  CHECK(ProvenanceError(Replace(ValidProvenance(), "\"torch\": \"fixture\"", "\"numpy\": \"1\"")) ==
        "prov.json:20:15: at 'software': missing required key 'torch'");
  CHECK(ProvenanceError(Replace(ValidProvenance(), "\"max_positions\": 1024, ", "")) ==
        "prov.json:14:11: at 'models.m1': missing required key 'max_positions'");
  CHECK(
      ProvenanceError(Replace(ValidProvenance(), "\"device\": \"cuda\"", "\"device\": \"tpu\"")) ==
      "prov.json:5:13: at 'device': expected 'cuda' or 'cpu', got 'tpu'");
  CHECK(ProvenanceError(Replace(ValidProvenance(), "\"repeats\": 3", "\"repeats\": \"many\"")) ==
        "prov.json:18:14: at 'repeats': expected an integer, got 'many'");
  CHECK(ProvenanceError("") == "prov.json: the file is empty; expected a YAML map of settings");
}

TEST_CASE("a model measured but absent from the provenance record is refused",
          "[profiling][input]") {
  const std::string csv =
      Replace(ReadText(DataPath("exact.csv")), "\nm1,weight_bytes,ok,0,0,0,,0,0,bytes,1,1000,",
              "\nm3,weight_bytes,ok,0,0,0,,0,0,bytes,1,1000,");
  try {
    FitProfileSet(ParseRawCsv(csv, "raw.csv"), LoadProvenance(DataPath("exact_provenance.json")),
                  {});
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) ==
          DataPath("exact_provenance.json") +
              ": models: no entry for 'm3' (measured in raw.csv); it has: m1, m2");
  }
}

TEST_CASE("bestserve profile fit exits with 3 and writes nothing on bad input",
          "[profiling][input][cli]") {
  ScratchDir dir("cli_errors");
  const std::string bin = BESTSERVE_BINARY;
  const std::string prov = DataPath("exact_provenance.json");

  const std::string bad_csv =
      dir.Write("bad.csv", Replace(ReadText(DataPath("exact.csv")), ",6.25,6.2,", ",slow,6.2,"));
  const std::string out = dir.Path("out/profile.yaml");
  auto result =
      testing::Run(bin + " profile fit " + bad_csv + " --provenance " + prov + " --out " + out);
  CHECK(result.exit_code == 3);
  CHECK(result.output ==
        "error: " + bad_csv + ":14:12: column 'median': expected a finite number, got 'slow'\n");
  CHECK_FALSE(std::filesystem::exists(dir.Path("out")));

  const std::string bad_prov = dir.Write(
      "prov.json", Replace(ReadText(prov),
                           "\"command\": \"hand-written test fixture (not a measurement)\",", ""));
  result = testing::Run(bin + " profile fit " + DataPath("exact.csv") + " --provenance " +
                        bad_prov + " --out " + out);
  CHECK(result.exit_code == 3);
  CHECK(result.output == "error: " + bad_prov + ":1:1: missing required key 'command'\n");
  CHECK_FALSE(std::filesystem::exists(dir.Path("out")));

  const std::string empty = dir.Write("empty.csv", "");
  result = testing::Run(bin + " profile fit " + empty + " --provenance " + prov + " --out " + out);
  CHECK(result.exit_code == 3);
  CHECK_THAT(result.output,
             Catch::StartsWith("error: " + empty + ": the file is empty; expected a CSV header"));

  // Without --provenance the record is looked up next to the CSV.
  const std::string lone = dir.Write("lone.csv", ReadText(DataPath("exact.csv")));
  result = testing::Run(bin + " profile fit " + lone + " --out " + out);
  CHECK(result.exit_code == 3);
  CHECK_THAT(result.output, Catch::Contains("no provenance record next to the raw file"));
  CHECK(dir.Entries() == 4);  // bad.csv, prov.json, empty.csv, lone.csv: no output, no temporaries

  result = testing::Run(bin + " profile fit " + DataPath("exact.csv") + " --provenance " + prov +
                        " --out " + out + " --prefill-mapping median");
  CHECK(result.exit_code == 3);
  CHECK(result.output ==
        "error: --prefill-mapping: unknown mapping 'median'; valid: max, mean, batch1\n");

  // And the good case writes the file, loadable as a profile set.
  result = testing::Run(bin + " profile fit " + DataPath("exact.csv") + " --provenance " + prov +
                        " --out " + out + " --report " + dir.Path("out/report.txt"));
  CHECK(result.exit_code == 0);
  CHECK_THAT(result.output, Catch::Contains("wrote " + out + " (profile set 'out', 1 models)"));
  CHECK(ProfileSet::LoadFile(out).name == "out");
  const std::string report = ReadText(dir.Path("out/report.txt"));
  CHECK_THAT(result.output, Catch::StartsWith(report));
  CHECK_THAT(report, Catch::Contains("warnings: 0"));
}

}  // namespace bestserve::profiling

namespace bestserve::profiling {

TEST_CASE("runs of one setup merge; a model in two files or another setup is refused",
          "[profiling][input]") {
  const std::string m1 = ReadText(DataPath("exact.csv"));
  std::string m2 = m1;
  for (size_t pos = 0; (pos = m2.find("\nm1,", pos)) != std::string::npos;)
    m2.replace(pos, 4, "\nm2,");
  const RawMeasurements merged =
      MergeRawMeasurements({ParseRawCsv(m1, "a.csv"), ParseRawCsv(m2, "b.csv")});
  CHECK(merged.models == std::vector<std::string>{"m1", "m2"});
  CHECK(merged.rows.size() == 42);
  CHECK(merged.source == "a.csv, b.csv");
  CHECK(merged.rows.back().source == "b.csv");
  try {
    MergeRawMeasurements({ParseRawCsv(m1, "a.csv"), ParseRawCsv(m1, "c.csv")});
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) ==
          "c.csv: model 'm1' is also measured in a.csv; each model must come from one raw file");
  }

  const std::string text = ReadText(DataPath("exact_provenance.json"));
  const ProvenanceRecord a = ParseProvenance(ConfigNode::LoadString(text, "a.json"));
  ProvenanceRecord b = ParseProvenance(ConfigNode::LoadString(
      Replace(text, "\"command\": \"hand-written test fixture (not a measurement)\"",
              "\"command\": \"second run\""),
      "b.json"));
  const ProvenanceRecord both = MergeProvenance({a, b});
  CHECK(both.command == "hand-written test fixture (not a measurement); second run");
  CHECK(both.date == "2024-01-01T00:00:00Z");
  CHECK(both.source == "a.json, b.json");
  const FitResult fit = FitProfileSet(merged, both, {});
  CHECK(fit.models.size() == 2);
  CHECK(ProfileSet::Parse(ConfigNode::LoadString(fit.yaml, "fit.yaml")).ModelNames() ==
        std::vector<std::string>{"m1", "m2"});

  b.dtype = "bfloat16";
  try {
    MergeProvenance({a, b});
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) ==
          "b.json: dtype differs from a.json (bfloat16 vs float16); only runs of one "
          "measurement setup can be fitted together");
  }
}

}  // namespace bestserve::profiling
