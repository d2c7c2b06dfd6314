// Atomic writes (common/files.h): a failed writer leaves the old file, and the temporaries of
// writers that died are removed while a live writer's stay.
#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/files.h"

using namespace bestserve;
namespace fs = std::filesystem;

TEST_CASE("temporaries of dead writers are removed, a live writer's and other files stay", "[common][files]") {
  const fs::path dir = fs::temp_directory_path() / ("bestserve_files_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "data");
  // A process that has exited: its pid names no process (pids are not reused this quickly).
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(child > 0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  const auto touch = [](const fs::path& p) { std::ofstream(p) << "x"; };
  touch(dir / "data" / ("fig2.csv.tmp." + std::to_string(child)));  // killed mid-write: litter
  touch(dir / ("REPORT.md.tmp." + std::to_string(::getpid())));    // this process: alive
  touch(dir / "cells.tmp.somehost.123");                           // another host's: not judged
  touch(dir / "notes.tmp.txt");                                    // not a temporary at all
  touch(dir / "data" / "fig2.csv");
  CHECK(RemoveAbandonedTemporaries(dir.string()) == 1);
  CHECK_FALSE(fs::exists(dir / "data" / ("fig2.csv.tmp." + std::to_string(child))));
  CHECK(fs::exists(dir / ("REPORT.md.tmp." + std::to_string(::getpid()))));
  CHECK(fs::exists(dir / "cells.tmp.somehost.123"));
  CHECK(fs::exists(dir / "notes.tmp.txt"));
  CHECK(fs::exists(dir / "data" / "fig2.csv"));
  CHECK(RemoveAbandonedTemporaries((dir / "missing").string()) == 0);
  fs::remove_all(dir);
}
