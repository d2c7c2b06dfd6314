// Built with AddressSanitizer and UBSan by asan_check.sh: feeds the router every truncation, a
// flipped byte at every position and random garbage, and decides on the good file. A memory
// error aborts the process (the sanitizer's exit code); an accepted bad file fails the check.
#include <cstdio>
#include <string>

#include "router/lib/router.h"
#include "tests/router/router_fixtures.h"

int main() {
  using namespace bestserve;
  const std::string good = EncodePolicyWeights(testing::RandomRoutingPolicy(11, {32}));
  int accepted_bad = 0;
  auto expect_refused = [&](std::string_view bytes) {
    try {
      Router::FromBytes(bytes, "asan");
      ++accepted_bad;
    } catch (const RouterError&) {
    }
  };
  for (size_t n = 0; n < good.size(); ++n) expect_refused(std::string_view(good).substr(0, n));
  for (size_t i = 0; i < good.size(); ++i) {
    for (unsigned char mask : {0x01, 0x80, 0xff}) {
      std::string bad = good;
      bad[i] = static_cast<char>(static_cast<unsigned char>(bad[i]) ^ mask);
      expect_refused(bad);
    }
  }
  Rng rng(12);
  for (int i = 0; i < 2000; ++i) {
    std::string garbage(rng.UniformIndex(good.size() * 2), '\0');
    for (char& c : garbage) c = static_cast<char>(rng.UniformIndex(256));
    if (i % 2 == 0 && garbage.size() >= 8) garbage.replace(0, 8, "BSWEIGHT");
    expect_refused(garbage);
  }
  auto router = Router::FromBytes(good, "good");
  int32_t in_flight[3] = {1, 2, 3};
  int decided = router->Route(0, 1.0, in_flight);
  decided += router->Decide(-1, in_flight) == -1 ? 0 : 100;  // invalid task: -1, no crash
  std::printf("asan check: %d bad inputs accepted (expected 0); decision %d\n", accepted_bad, decided);
  return accepted_bad == 0 && decided >= 0 && decided < 3 ? 0 : 1;
}
