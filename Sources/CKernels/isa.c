// The instruction set this CPU runs, and the per-instruction-set tables of ad_kernel_variants:
// each target_clones kernel's clones are global symbols named by clang (dispatch.h), declared
// here under C names with asm labels.

#include "CKernels.h"

#include <stddef.h>

#include "dispatch.h"

int ad_cpu_isa(void) {
#if AD_HAS_VARIANTS
    // Computed once and cached; threads may race to compute it, so the cache is read and written
    // atomically (every thread computes the same value).
    static int cached = -1;
    int isa = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (isa < 0) {
        __builtin_cpu_init();
        int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                     __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                     __builtin_cpu_supports("avx512vl");
        isa = avx512 ? AD_ISA_AVX512 : avx2 ? AD_ISA_AVX2 : AD_ISA_BASELINE;
        __atomic_store_n(&cached, isa, __ATOMIC_RELAXED);
    }
    return isa;
#else
    return AD_ISA_BASELINE;
#endif
}

// X(field, symbol) for every target_clones kernel.
#define CLONED_KERNELS(X)                                                                              \
    X(thin_gemm_f32x8, ad_thin_gemm_f32x8)                                                             \
    X(thin_gemm_f64, ad_thin_gemm_f64)                                                                 \
    X(bernoulli_f32, ad_bernoulli_f32)                                                                 \
    X(bernoulli_f64, ad_bernoulli_f64)                                                                 \
    X(masked_scale_f32, ad_masked_scale_f32)                                                           \
    X(masked_scale_f64, ad_masked_scale_f64)                                                           \
    X(adam_f32, ad_adam_f32)                                                                           \
    X(adam_f64, ad_adam_f64)                                                                           \
    X(sum3d_f32, ad_sum3d_f32)                                                                         \
    X(sum3d_f64, ad_sum3d_f64)                                                                         \
    X(nonzero_columns_f32, ad_nonzero_columns_f32)                                                     \
    X(nonzero_columns_f64, ad_nonzero_columns_f64)                                                     \
    X(gather_runs_f32, ad_gather_runs_f32)                                                             \
    X(gather_runs_f64, ad_gather_runs_f64)                                                             \
    X(activation_f32x8, ad_activation_f32x8)                                                           \
    X(activation_backward_f32x8, ad_activation_backward_f32x8)                                         \
    X(normalize_f32, ad_normalize_f32)                                                                 \
    X(normalize_backward_f32, ad_normalize_backward_f32)                                               \
    X(layer_norm_f32, ad_layer_norm_f32)                                                               \
    X(layer_norm_backward_f32, ad_layer_norm_backward_f32)                                             \
    X(max_pool_2x2_f32, ad_max_pool_2x2_f32)                                                           \
    X(max_pool_2x2_f64, ad_max_pool_2x2_f64)                                                           \
    X(conv_one_channel_f32, ad_conv_one_channel_f32)                                                   \
    X(conv_one_channel_weight_gradient_f32, ad_conv_one_channel_weight_gradient_f32)                   \
    X(winograd_kernel_f32, ad_winograd_kernel_f32)                                                     \
    X(winograd_input_f32, ad_winograd_input_f32)                                                       \
    X(winograd_output_f32, ad_winograd_output_f32)

// The eight-wide variants of kernels with a sixteen-wide AVX-512 one have no public prototypes.
void ad_activation_f32x8(int kind, const float *x, float *y, long n, float alpha);
void ad_activation_backward_f32x8(int kind, const float *g, const float *x, float *out, long n, float alpha);
void ad_activation_f32x16(int kind, const float *x, float *y, long n, float alpha);
void ad_activation_backward_f32x16(int kind, const float *g, const float *x, float *out, long n, float alpha);
void ad_thin_gemm_f32x8(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                        const float *b, long ldb, float beta, const float *bias, float *c, long ldc);

#if AD_HAS_VARIANTS && !defined(AD_NO_TARGET_CLONES)
#define DECLARE_CLONES(field, symbol)                                                                  \
    extern __typeof__(symbol) symbol##_avx512 __asm__(#symbol ".arch_x86-64-v4.0");                   \
    extern __typeof__(symbol) symbol##_avx2 __asm__(#symbol ".arch_x86-64-v3.1");                     \
    extern __typeof__(symbol) symbol##_baseline __asm__(#symbol ".default.2");
CLONED_KERNELS(DECLARE_CLONES)

#define AVX512_ENTRY(field, symbol) .field = symbol##_avx512,
#define AVX2_ENTRY(field, symbol) .field = symbol##_avx2,
#define BASELINE_ENTRY(field, symbol) .field = symbol##_baseline,
// The sixteen-wide variants, in the AVX-512 table; the eight-wide clones in the others.
#define WIDE(suffix)                                                                                   \
    .thin_gemm_f32 = ad_thin_gemm_f32##suffix, .activation_f32 = ad_activation_f32##suffix,           \
    .activation_backward_f32 = ad_activation_backward_f32##suffix
static const struct ad_kernel_variants avx512 = {CLONED_KERNELS(AVX512_ENTRY) WIDE(x16)};
static const struct ad_kernel_variants avx2 = {CLONED_KERNELS(AVX2_ENTRY) WIDE(x8_avx2)};
static const struct ad_kernel_variants baseline = {CLONED_KERNELS(BASELINE_ENTRY) WIDE(x8_baseline)};

const struct ad_kernel_variants *ad_kernel_variants(int isa) {
    if (isa < AD_ISA_BASELINE || isa > ad_cpu_isa()) return NULL;
    return isa == AD_ISA_AVX512 ? &avx512 : isa == AD_ISA_AVX2 ? &avx2 : &baseline;
}
#else
#define ONLY_ENTRY(field, symbol) .field = symbol,
static const struct ad_kernel_variants only = {
    CLONED_KERNELS(ONLY_ENTRY).thin_gemm_f32 = ad_thin_gemm_f32x8, .activation_f32 = ad_activation_f32x8,
    .activation_backward_f32 = ad_activation_backward_f32x8};

const struct ad_kernel_variants *ad_kernel_variants(int isa) { return isa == AD_ISA_BASELINE ? &only : NULL; }
#endif
