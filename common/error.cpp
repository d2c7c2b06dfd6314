#include "common/error.h"

namespace bestserve {

void FailInvariant(const char* file, int line, const char* condition, const std::string& detail) {
  std::string message = fmt::format("internal invariant failed at {}:{}: {}", file, line, condition);
  if (!detail.empty()) message += " (" + detail + ")";
  throw InvariantError(message);
}

}  // namespace bestserve
