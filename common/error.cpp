#include "common/error.h"

namespace bestserve {

std::string MessageExcerpt(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  return fmt::format("{}... ({} bytes in all)", text.substr(0, max_bytes), text.size());
}

void FailInvariant(const char* file, int line, const char* condition, const std::string& detail) {
  std::string message = fmt::format("internal invariant failed at {}:{}: {}", file, line, condition);
  if (!detail.empty()) message += " (" + detail + ")";
  throw InvariantError(message);
}

}  // namespace bestserve
