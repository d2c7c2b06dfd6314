// Internal to the fast learner (not an API): the vector-extension helpers and the tiled GEMM
// template that agent/learn/fast_learner.cpp compiles once per instruction set. A header only so that
// tests/agent/fast_kernels_test.cpp can check every tile shape on any machine, including the
// ones this CPU would never select. Include it only from translation units built with
// -ffp-contract=off (the bits depend on it).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace bestserve::fast_kernels {

// GCC/Clang vector extensions: element-wise operations the compiler lowers to the clone's
// widest registers (one zmm, two ymm or four xmm for 16 floats), never reordered, so every
// clone computes the same bits.
using Float16 = float __attribute__((vector_size(64)));
using Float8 = float __attribute__((vector_size(32)));

template <typename V>
__attribute__((always_inline)) inline V Load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

// Every lane = `value` (a copy: adding to zero would turn -0 into +0).
template <typename V>
__attribute__((always_inline)) inline V Broadcast(float value) {
  V v;
  for (int i = 0; i < static_cast<int>(sizeof(V) / sizeof(float)); ++i) v[i] = value;
  return v;
}

using Float4 = float __attribute__((vector_size(16)));


// C (m x n, row-major, leading dimension ldc) = (accumulate ? C : 0) + A B, where A's element
// (i, k) is a[i * a_row + k * a_col] (so A may be stored either way round) and B is row-major
// (k x n, leading dimension ldb). Every element of C starts from its initial value and adds its
// k products in increasing k, whatever the tile shape or vector width: every instantiation
// gives the same bits. Tiles of MR rows x NV vectors of C stay in registers across a block of
// kKBlock values of k, so a block of B (kKBlock x tile width) is reused from L1 by every row tile.
template <int MR, int NV, typename V>
__attribute__((always_inline)) inline void GemmTiled(int m, int n, int k, const float* a,
                                                     size_t a_row, size_t a_col, const float* b,
                                                     size_t ldb, float* c, size_t ldc,
                                                     bool accumulate) {
  constexpr int kLanes = static_cast<int>(sizeof(V) / sizeof(float));
  constexpr int kWidth = NV * kLanes;
  constexpr int kKBlock = 256;
  const int n_full = n / kWidth * kWidth;
  for (int k0 = 0; k0 < k; k0 += kKBlock) {
    const int k1 = std::min(k, k0 + kKBlock);
    const bool from_zero = !accumulate && k0 == 0;
    for (int j0 = 0; j0 < n_full; j0 += kWidth) {
      int i0 = 0;
      for (; i0 + MR <= m; i0 += MR) {
        V acc[MR][NV];
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v) {
            acc[r][v] = from_zero ? V{}
                                  : Load<V>(c + static_cast<size_t>(i0 + r) * ldc +
                                            static_cast<size_t>(j0 + v * kLanes));
          }
        }
        for (int kk = k0; kk < k1; ++kk) {
          const float* b_row = b + static_cast<size_t>(kk) * ldb + static_cast<size_t>(j0);
          V bv[NV];
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v) bv[v] = Load<V>(b_row + v * kLanes);
          const float* a_col_k =
              a + static_cast<size_t>(kk) * a_col + static_cast<size_t>(i0) * a_row;
#pragma GCC unroll 16
          for (int r = 0; r < MR; ++r) {
            const float av = a_col_k[static_cast<size_t>(r) * a_row];
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) acc[r][v] += bv[v] * av;
          }
        }
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v) {
            std::memcpy(
                c + static_cast<size_t>(i0 + r) * ldc + static_cast<size_t>(j0 + v * kLanes),
                &acc[r][v], sizeof(V));
          }
        }
      }
      for (; i0 < m; ++i0) {  // leftover rows, one at a time, same order
        V acc[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) {
          acc[v] = from_zero ? V{}
                             : Load<V>(c + static_cast<size_t>(i0) * ldc +
                                       static_cast<size_t>(j0 + v * kLanes));
        }
        for (int kk = k0; kk < k1; ++kk) {
          const float av = a[static_cast<size_t>(i0) * a_row + static_cast<size_t>(kk) * a_col];
          const float* b_row = b + static_cast<size_t>(kk) * ldb + static_cast<size_t>(j0);
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v) acc[v] += Load<V>(b_row + v * kLanes) * av;
        }
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) {
          std::memcpy(c + static_cast<size_t>(i0) * ldc + static_cast<size_t>(j0 + v * kLanes),
                      &acc[v], sizeof(V));
        }
      }
    }
    for (int i = 0; i < m; ++i) {  // leftover columns, element by element, same order
      for (int j = n_full; j < n; ++j) {
        float acc = from_zero ? 0.0f : c[static_cast<size_t>(i) * ldc + static_cast<size_t>(j)];
        for (int kk = k0; kk < k1; ++kk) {
          acc += b[static_cast<size_t>(kk) * ldb + static_cast<size_t>(j)] *
                 a[static_cast<size_t>(i) * a_row + static_cast<size_t>(kk) * a_col];
        }
        c[static_cast<size_t>(i) * ldc + static_cast<size_t>(j)] = acc;
      }
    }
  }
}

}  // namespace bestserve::fast_kernels
