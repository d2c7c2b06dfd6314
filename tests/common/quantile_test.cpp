// The one quantile against the definition it claims (Hyndman and Fan type 7, numpy's default):
// values computed by hand from h = (n - 1) q.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "common/quantile.h"

namespace bestserve {
namespace {

TEST_CASE("Quantile interpolates between closest ranks (type 7)", "[common][quantile]") {
  const std::vector<double> v{1.0, 2.0, 4.0, 8.0};  // n = 4, h = 3q
  CHECK(Quantile(v, 0.0, -1.0) == 1.0);
  CHECK(Quantile(v, 1.0, -1.0) == 8.0);
  CHECK(Quantile(v, 0.5, -1.0) == 3.0);           // h = 1.5: 2 + 0.5 * (4 - 2)
  CHECK(Quantile(v, 0.9, -1.0) == Approx(6.8));   // h = 2.7: 4 + 0.7 * (8 - 4)
  CHECK(Quantile(v, 0.25, -1.0) == Approx(1.75)); // h = 0.75: 1 + 0.75 * (2 - 1)
}

TEST_CASE("Quantile of one value is that value; of none, the caller's choice", "[common][quantile]") {
  const std::vector<double> one{5.0};
  for (double q : {0.0, 0.3, 1.0}) CHECK(Quantile(one, q, -1.0) == 5.0);
  const std::vector<double> none;
  CHECK(Quantile(none, 0.5, 0.0) == 0.0);
  CHECK(std::isnan(Quantile(none, 0.5, std::nan(""))));
}

}  // namespace
}  // namespace bestserve
