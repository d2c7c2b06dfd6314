#include "common/files.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace bestserve {

void WriteFileAtomically(const std::string& path, const std::string& contents) {
  WriteFileAtomically(path, [&](std::ostream& out) {
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  });
}

void WriteFileAtomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) throw Error(fmt::format("{}: cannot create directory: {}", path, ec.message()));
  }
  // The pid keeps concurrent writers (sweep workers) from sharing a temporary file.
  const std::string temp = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(fmt::format("{}: cannot open for writing: {}", temp, std::strerror(errno)));
    try {
      write(out);
    } catch (...) {
      out.close();
      std::remove(temp.c_str());
      throw;
    }
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      throw Error(fmt::format("{}: write failed", temp));
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temp.c_str());
    throw Error(fmt::format("{}: cannot move result into place: {}", path, reason));
  }
}

namespace {

// The process id of a temporary "NAME.tmp.PID" (with NAME), or 0 when `name` is not one.
pid_t TemporaryOwner(const std::string& name, std::string* base) {
  const size_t mark = name.rfind(".tmp.");
  if (mark == std::string::npos || mark + 5 >= name.size()) return 0;
  const std::string digits = name.substr(mark + 5);
  if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  *base = name.substr(0, mark);
  return static_cast<pid_t>(std::stol(digits));
}

bool Abandoned(pid_t pid) { return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH; }  // else alive, or not ours

}  // namespace

int RemoveAbandonedTemporaries(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  int removed = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const bool folder = it->is_directory(ec);
    if (!folder && !it->is_regular_file(ec)) continue;
    std::string base;
    if (!Abandoned(TemporaryOwner(it->path().filename().string(), &base))) continue;
    std::error_code remove_error;
    if (folder) {
      it.disable_recursion_pending();
      if (fs::remove_all(it->path(), remove_error) > 0) ++removed;
    } else if (fs::remove(it->path(), remove_error)) {
      ++removed;
    }
  }
  return removed;
}

int RemoveAbandonedTemporariesOf(const std::string& dir, const std::vector<std::string>& names) {
  namespace fs = std::filesystem;
  std::error_code ec;
  int removed = 0;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string base;
    if (!Abandoned(TemporaryOwner(it->path().filename().string(), &base))) continue;
    if (std::find(names.begin(), names.end(), base) == names.end()) continue;
    std::error_code remove_error;
    if (fs::remove_all(it->path(), remove_error) > 0) ++removed;
  }
  return removed;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open file", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace bestserve
