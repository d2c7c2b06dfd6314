// Checks the outputs of the real `bestserve reproduce --quick` (the reproduce_quick test runs it
// first): every file exists and parses, tables have their rows and columns, figures are real
// PNG/SVG files, and the facts that must hold even at quick scale hold. The facts are read from
// the figure data, not from our own verdicts, so a wrong verdict rule cannot hide a wrong result.
#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "tests/reproduce/reproduce_test_support.h"

namespace bestserve::testing {
namespace {

namespace fs = std::filesystem;
const fs::path kOut = BESTSERVE_QUICK_OUT;

using Rows = std::vector<std::map<std::string, std::string>>;

Rows Csv(const std::string& rel) {
  const fs::path path = kOut / rel;
  INFO(path.string());
  REQUIRE(fs::exists(path));
  return ParseCsv(ReadAll(path.string()));
}

// series -> x -> y of a "lines" figure file.
std::map<std::string, std::map<double, double>> Lines(const std::string& rel) {
  std::map<std::string, std::map<double, double>> out;
  for (const auto& row : Csv(rel)) out[row.at("series")][std::stod(row.at("x"))] = std::stod(row.at("y"));
  return out;
}

TEST_CASE("quick reproduction: every expected file exists and parses", "[reproduce][quick]") {
  for (const char* file : {"REPORT.md", "claims.csv", "figures.json", "run.json"}) {
    INFO(file);
    CHECK(fs::file_size(kOut / file) > 0);
  }
  const YAML::Node manifest = YAML::LoadFile((kOut / "figures.json").string());
  CHECK(manifest["format"].as<std::string>() == "bestserve-reproduce-figures-1");
  CHECK(manifest["banner"].as<std::string>().find("QUICK RUN") == 0);
  std::set<std::string> paper_figures;
  for (const auto& figure : manifest["figures"]) {
    const std::string out = figure["out"].as<std::string>();
    INFO(out);
    // The data parses and has rows; the figure exists in both formats and is a real image.
    CHECK_FALSE(Csv(figure["csv"].as<std::string>()).empty());
    const fs::path png = kOut / (out + ".png");
    const fs::path svg = kOut / (out + ".svg");
    REQUIRE(fs::exists(png));
    REQUIRE(fs::exists(svg));
    CHECK(fs::file_size(png) > 10000);
    CHECK(ReadAll(png.string()).substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
    CHECK(ReadAll(svg.string()).find("<svg") != std::string::npos);
    paper_figures.insert(figure["id"].as<std::string>().substr(0, figure["id"].as<std::string>().find('_')));
  }
  for (int f = 2; f <= 14; ++f) CHECK(paper_figures.count("fig" + std::to_string(f)) == 1);

  const YAML::Node run = YAML::LoadFile((kOut / "run.json").string());
  CHECK(run["mode"].as<std::string>() == "quick");
  CHECK(run["policies"].size() == 4);  // hard, soft, soft_per_token, per_task

  const std::string report = ReadAll((kOut / "REPORT.md").string());
  CHECK(report.find("QUICK RUN") != std::string::npos);
  const auto claims = Csv("claims.csv");
  CHECK(claims.size() >= 15);
  for (const auto& claim : claims) {
    const std::string verdict = claim.at("verdict");
    CHECK((verdict == "reproduced" || verdict == "partly" || verdict == "not reproduced"));
    CHECK(report.find(claim.at("ours").substr(0, 40)) != std::string::npos);
  }
}

TEST_CASE("quick reproduction: Tables 2-4 have the paper's rows and both column groups", "[reproduce][quick]") {
  for (const char* id : {"table2", "table3", "table4"}) {
    INFO(id);
    const std::string md = ReadAll((kOut / "tables" / (std::string(id) + ".md")).string());
    CHECK(md.find("QUICK RUN") != std::string::npos);
    std::vector<std::string> rows;
    size_t start = 0;
    while ((start = md.find("\n|", start)) != std::string::npos) {
      const size_t end = md.find('\n', start + 1);
      rows.push_back(md.substr(start + 1, end - start - 1));
      start = end;
    }
    REQUIRE(rows.size() == 8);  // header, rule, 5 thresholds, mean reward
    const std::string& header = rows[0];
    // Ours: policy, OPT-6.7B, OPT-1.3B, greedy, threshold; the paper: policy, OPT-6.7B, OPT-1.3B.
    CHECK(std::count(header.begin(), header.end(), '|') == 1 + 1 + 5 + 3);
    for (const char* column : {"ours: policy", "ours: greedy", "ours: threshold", "paper: policy", "paper: OPT-6.7B"}) {
      CHECK(header.find(column) != std::string::npos);
    }
    const char* thresholds[] = {"| = 1.00 |", "| >= 0.99 |", "| >= 0.98 |", "| >= 0.96 |", "| >= 0.94 |"};
    for (int k = 0; k < 5; ++k) CHECK(rows[static_cast<size_t>(2 + k)].find(thresholds[k]) == 0);
    const auto csv = Csv(std::string("tables/") + id + ".csv");
    CHECK(csv.size() == 5 * (5 + 3) + 5);  // thresholds x (ours + paper) + mean reward x ours
  }
}

// Margins: over 3 training seeds at the quick budget, the policy's worst shortfall against the
// best static model on this sweep was 0.0076 of peak (0.0027 for seed 1, the one shipped); an
// under-trained policy misses by 0.09-0.36 at 48 rps. Between the 2 simulation seeds a rate's
// mean moves by about 0.01. 0.02 separates the two cases with room on both sides.
TEST_CASE("quick reproduction: the policy is never much worse than the best static model", "[reproduce][quick][facts]") {
  const auto lines = Lines("data/fig2_performance.csv");
  const auto& policy = lines.at("policy");
  REQUIRE(policy.size() == 40);
  for (const auto& [rate, y] : policy) {
    double best = 0.0;
    for (const char* s : {"OPT-6.7B", "OPT-1.3B", "OPT-125M"}) best = std::max(best, lines.at(s).at(rate));
    INFO("rate " << rate << " rps: policy " << y << ", best static " << best);
    CHECK(y >= best - 0.02);
  }
}

TEST_CASE("quick reproduction: OPT-6.7B alone collapses past its capacity", "[reproduce][quick][facts]") {
  const auto big = Lines("data/fig2_performance.csv").at("OPT-6.7B");
  // The paper: fine at low rates, collapsed past about 2 requests/s. Our calibration: 0.98 at
  // 1 rps, 0.54 at 4; by 10 rps the queue grows without bound and almost nothing meets its deadline.
  CHECK(big.begin()->second >= 0.95);
  for (const auto& [rate, y] : big) {
    INFO("rate " << rate);
    if (rate <= 1.0) CHECK(y >= 0.9);
    if (rate >= 10.0) CHECK(y <= 0.1);
  }
}

TEST_CASE("quick reproduction: the policy shifts toward smaller models as the rate grows", "[reproduce][quick][facts]") {
  // The policy's panel of the selection figure: share per model per rate.
  std::map<double, std::map<std::string, double>> share;
  for (const auto& row : Csv("data/fig2_selection.csv")) {
    if (row.at("panel") == "policy") share[std::stod(row.at("x"))][row.at("category")] = std::stod(row.at("fraction"));
  }
  REQUIRE(share.size() == 40);
  auto mean_over = [&](bool low, const std::string& model) {
    double total = 0.0;
    int n = 0;
    int i = 0;
    for (const auto& [rate, mix] : share) {
      if ((low && i < 10) || (!low && i >= 30)) {
        total += mix.at(model);
        ++n;
      }
      ++i;
    }
    return total / n;
  };
  // Measured at the quick budget (3 training seeds): OPT-6.7B's share 0.89-0.97 over the lowest
  // 10 rates, 0.09-0.11 over the highest 10.
  const double big_low = mean_over(true, "opt-6.7b");
  const double big_high = mean_over(false, "opt-6.7b");
  INFO("opt-6.7b share: lowest 10 rates " << big_low << ", highest 10 " << big_high);
  CHECK(big_low - big_high >= 0.5);
  CHECK(mean_over(false, "opt-1.3b") + mean_over(false, "opt-125m") >
        mean_over(true, "opt-1.3b") + mean_over(true, "opt-125m") + 0.5);
}

}  // namespace
}  // namespace bestserve::testing
