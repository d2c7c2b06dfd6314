// Builds without libtorch cannot write TorchScript.
#include "common/error.h"
#include "router/export/export.h"

namespace bestserve {

bool TorchScriptAvailable() { return false; }

void WriteTorchScript(const std::string&, const std::string&) {
  throw Error("TorchScript export needs a build with libtorch (BESTSERVE_WITH_TORCH=ON)");
}

}  // namespace bestserve
