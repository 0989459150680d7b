// The library's own packed float GEMM for AVX-512 machines (gemm_avx512.c).
#ifndef CKERNELS_GEMM_H
#define CKERNELS_GEMM_H

/// Rows of C in one register tile of ``ad_gemm_f32_avx512`` (MR).
enum { AD_GEMM_TILE_ROWS = 14 };
/// Columns of C in one register tile of ``ad_gemm_f32_avx512`` (NR: two 16-float vectors).
enum { AD_GEMM_TILE_COLUMNS = 32 };
/// Terms of the inner sum per packed block (KC): C is updated once per block of k.
enum { AD_GEMM_DEPTH_BLOCK = 256 };

/// C ← α·op(A)·op(B) + β·C for row-major float matrices (CBLAS conventions: op(A) is m × k, op(B)
/// is k × n, C is m × n with leading dimension ldc; transA/transB nonzero when A is stored k × m or
/// B n × k). C is not read when β = 0 (it may hold NaN). op(B) is packed once into k × 32 panels
/// shared by the parts, op(A) into 14-row panels of at most 256 terms per part; each element of
/// C is Σ over blocks of 256 terms, in order, of a fused multiply-add chain, so the result does
/// not depend on `parts` (how C is split across ``ad_pool_run``'s threads, at most 64). Packed
/// buffers live in per-thread scratch that grows and is reused, never allocated per call once
/// warm. Only callable when ``ad_cpu_isa()`` is AD_ISA_AVX512.
void ad_gemm_f32_avx512(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                        const float *b, long ldb, float beta, float *c, long ldc, long parts);

#endif
