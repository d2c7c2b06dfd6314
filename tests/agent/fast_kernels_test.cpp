// The tiled GEMM of the fast learner, every tile shape it is instantiated with (including those
// this CPU would not select at run time), against a plain triple loop: identical bits.
#include <catch2/catch.hpp>

#include <vector>

#include "agent/learn/fast_kernels.h"
#include "common/rng.h"

namespace bestserve {
namespace {

using fast_kernels::Float16;
using fast_kernels::Float4;
using fast_kernels::Float8;
using fast_kernels::GemmTiled;

// The definition: c starts from its value (or 0) and adds products in increasing k.
void PlainGemm(int m, int n, int k, const float* a, size_t a_row, size_t a_col, const float* b,
               size_t ldb, float* c, size_t ldc, bool accumulate) {
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      float acc = accumulate ? c[i * ldc + j] : 0.0f;
      for (int kk = 0; kk < k; ++kk) acc += b[kk * ldb + j] * a[i * a_row + kk * a_col];
      c[i * ldc + j] = acc;
    }
  }
}

template <int MR, int NV, typename V>
void CheckShape(int m, int n, int k, bool transposed_a, bool accumulate) {
  Rng rng(static_cast<uint64_t>(m * 1000003 + n * 1009 + k));
  std::vector<float> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(k * n)),
      c(static_cast<size_t>(m * n));
  for (auto& v : a) v = static_cast<float>(rng.Uniform(-1, 1));
  for (auto& v : b) v = static_cast<float>(rng.Uniform(-1, 1));
  for (auto& v : c) v = static_cast<float>(rng.Uniform(-1, 1));
  std::vector<float> expected = c;
  const size_t a_row = transposed_a ? 1 : static_cast<size_t>(k);
  const size_t a_col = transposed_a ? static_cast<size_t>(m) : 1;
  PlainGemm(m, n, k, a.data(), a_row, a_col, b.data(), static_cast<size_t>(n), expected.data(),
            static_cast<size_t>(n), accumulate);
  GemmTiled<MR, NV, V>(m, n, k, a.data(), a_row, a_col, b.data(), static_cast<size_t>(n),
                       c.data(), static_cast<size_t>(n), accumulate);
  INFO("tile " << MR << " x " << NV << " vectors of " << sizeof(V) / 4 << "; m " << m << " n "
               << n << " k " << k << (transposed_a ? " (A transposed)" : "")
               << (accumulate ? " accumulating" : ""));
  CHECK(c == expected);
}

TEST_CASE("The tiled GEMM gives the bits of a plain triple loop for every tile shape", "[agent]") {
  // Sizes with and without leftover rows and columns, and k across the 256-deep blocking.
  for (const auto& [m, n, k] : std::vector<std::tuple<int, int, int>>{
           {16, 64, 8}, {13, 37, 300}, {1, 5, 3}, {40, 33, 513}, {8, 32, 256}}) {
    for (bool transposed : {false, true}) {
      for (bool accumulate : {false, true}) {
        CheckShape<8, 2, Float16>(m, n, k, transposed, accumulate);  // AVX-512
        CheckShape<4, 2, Float8>(m, n, k, transposed, accumulate);   // AVX2
        CheckShape<4, 2, Float4>(m, n, k, transposed, accumulate);   // baseline x86-64
      }
    }
  }
}

}  // namespace
}  // namespace bestserve
