// The binary policy formats: training weights (.bsw, router/policy/weights_format.h) and the exported
// router file (.bsp, router/lib/router.h, which also reads .bsw). The first byte picks the reader.
#include "router/policy/binary_io.h"
#include "router/policy/weights_format.h"
#include "router/lib/router.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bestserve;
  if (size == 0) return 0;
  const std::string_view bytes = fuzz::AsText(data + 1, size - 1);
  try {
    if (data[0] % 2 == 0) {
      DecodePolicyWeights(bytes, "fuzz.bsw");
    } else {
      auto router = Router::FromBytes(bytes, "fuzz.bsp");
      // A router that loaded must route: every task, a zero and a busy in-flight vector.
      std::vector<int32_t> in_flight(static_cast<size_t>(router->num_models()), 0);
      for (int task = 0; task < router->num_tasks(); ++task) {
        router->Route(task, 1.0, in_flight.data());
        for (auto& n : in_flight) n = 1000;
        router->Route(task, 2.0, in_flight.data());
      }
    }
  } catch (const Error&) {
  } catch (const BinaryFormatError&) {
  } catch (const RouterError&) {
  }
  return 0;
}
