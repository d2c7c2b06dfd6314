// File output that never leaves a half-written result behind.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace bestserve {

// Writes `contents` to `path` via a temporary file in the same directory and an atomic rename,
// so a reader (or a rerun after kill -9) sees either the old file or the complete new one.
// Creates missing parent directories. Throws bestserve::Error on failure.
void WriteFileAtomically(const std::string& path, const std::string& contents);
// The same for output too large to hold as one string: `write` streams the contents into the
// temporary file (a std::ostream); an exception from it removes the temporary and propagates.
void WriteFileAtomically(const std::string& path, const std::function<void(std::ostream&)>& write);

// Removes, anywhere under `dir`, the temporary files WriteFileAtomically leaves when its process is
// killed between creating one and the rename ("NAME.tmp.PID" whose process no longer exists), and
// temporary folders named the same way (evaluate's staging folder) with what they hold;
// temporaries of live processes stay. A resumed run calls it so a kill leaves no litter behind.
// Returns how many it removed; a missing `dir` is not an error.
int RemoveAbandonedTemporaries(const std::string& dir);
// The same in `dir` itself only (not below it), and only for temporaries of the given NAMEs
// ("requests.csv", ".staging"): what a run into a user's folder may safely clear.
int RemoveAbandonedTemporariesOf(const std::string& dir, const std::vector<std::string>& names);

// Reads a whole file; throws bestserve::Error naming the path when it cannot.
std::string ReadFile(const std::string& path);

}  // namespace bestserve
