// eˣ, tanh and the logistic sigmoid over float arrays through glibc's vector math library
// (libmvec: sixteen floats at a time on AVX-512, eight on AVX2), where libm's expf and tanhf
// are called one element at a time. libmvec's functions may only be called from code compiled
// for their instruction set, so this file dispatches by hand (ad_cpu_isa) rather than through
// target_clones. The tail of an array runs through the same vector function on a padded copy,
// so every element of a call gets the same function.

#include "CKernels.h"

#include <math.h>
#include <string.h>

#include "dispatch.h"

// σ(x) as the Swift loops compute it: 1/(1 + e⁻ˣ) for x ≥ 0 and eˣ/(1 + eˣ) below, so neither
// overflows; e = e^{−|x|} covers both. NaN takes the second branch and stays NaN.
static void transcendental_scalar(int kind, const float *x, float *y, long n) {
    switch (kind) {
    case AD_MATH_EXP:
        for (long i = 0; i < n; i++) y[i] = expf(x[i]);
        break;
    case AD_MATH_TANH:
        for (long i = 0; i < n; i++) y[i] = tanhf(x[i]);
        break;
    default:
        for (long i = 0; i < n; i++) {
            float e = expf(-fabsf(x[i]));
            y[i] = x[i] >= 0 ? 1 / (1 + e) : e / (1 + e);
        }
        break;
    }
}

#if AD_HAS_VARIANTS && defined(__GLIBC__)
#include <immintrin.h>

#define EXP8(v) VECTOR_CALL(_ZGVdN8v_expf, v, "ymm0")
#define TANH8(v) VECTOR_CALL(_ZGVdN8v_tanhf, v, "ymm0")
#define EXP16(v) VECTOR_CALL(_ZGVeN16v_expf, v, "zmm0")
#define TANH16(v) VECTOR_CALL(_ZGVeN16v_tanhf, v, "zmm0")

// One vector of results for kind; the sigmoid's branches as a blend on x ≥ 0.
#define APPLY(kind, v, EXP, TANH, SET1, OR, DIV, ADD, BLEND_GE0)                                      \
    ((kind) == AD_MATH_EXP    ? EXP(v)                                                                \
     : (kind) == AD_MATH_TANH ? TANH(v)                                                               \
                              : ({                                                                    \
                                    __typeof__(v) e_ = EXP(OR(v, SET1(-0.0f)));                       \
                                    DIV(BLEND_GE0(v, e_, SET1(1.0f)), ADD(SET1(1.0f), e_));           \
                                }))

#define BLEND_GE0_256(v, below, above) _mm256_blendv_ps(below, above, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GE_OQ))
#define BLEND_GE0_512(v, below, above)                                                                 \
    _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GE_OQ), below, above)

// The whole vectors of LANES floats (type VT, intrinsics prefixed PRE: _mm256 or _mm512), then
// the tail through a zero-padded copy.
#define DEFINE_TRANSCENDENTAL(NAME, ATTR, LANES, VT, PRE, EXP, TANH, BLEND_GE0)                         \
    ATTR static void NAME(int kind, const float *x, float *y, long n) {                                \
        float padded[LANES] = {0};                                                                     \
        for (long i = 0; i < n; i += LANES) {                                                          \
            long count = n - i < LANES ? n - i : LANES;                                                \
            if (count < LANES) memcpy(padded, x + i, sizeof(float) * (size_t)count);                   \
            VT v = PRE##_loadu_ps(count < LANES ? padded : x + i);                                     \
            VT r = APPLY(kind, v, EXP, TANH, PRE##_set1_ps, PRE##_or_ps, PRE##_div_ps, PRE##_add_ps,   \
                         BLEND_GE0);                                                                   \
            if (count < LANES) {                                                                       \
                PRE##_storeu_ps(padded, r);                                                            \
                memcpy(y + i, padded, sizeof(float) * (size_t)count);                                  \
            } else {                                                                                   \
                PRE##_storeu_ps(y + i, r);                                                             \
            }                                                                                          \
        }                                                                                              \
    }

DEFINE_TRANSCENDENTAL(transcendental_avx2, TARGET_AVX2, 8, __m256, _mm256, EXP8, TANH8, BLEND_GE0_256)
DEFINE_TRANSCENDENTAL(transcendental_avx512, TARGET_AVX512, 16, __m512, _mm512, EXP16, TANH16, BLEND_GE0_512)

void ad_transcendental_f32_isa(int isa, int kind, const float *x, float *y, long n) {
    if (isa >= AD_ISA_AVX512)
        transcendental_avx512(kind, x, y, n);
    else if (isa == AD_ISA_AVX2)
        transcendental_avx2(kind, x, y, n);
    else
        transcendental_scalar(kind, x, y, n);
}
#else
void ad_transcendental_f32_isa(int isa, int kind, const float *x, float *y, long n) {
    (void)isa;
    transcendental_scalar(kind, x, y, n);
}
#endif

void ad_transcendental_f32(int kind, const float *x, float *y, long n) {
    ad_transcendental_f32_isa(ad_cpu_isa(), kind, x, y, n);
}
