// GELU, SiLU and ELU and their derivatives over arrays, eight floats at a time (sixteen on AVX-512). Each is written
// with one vectorised exponential (Cephes' expf: a degree-5 polynomial on the reduced argument,
// relative error about 1e-7) so the loops vectorise; libm's erff, tanhf and expf are scalar and
// would bound them. The tails run the same formulas on a partial vector.

#include "CKernels.h"

#include <string.h>

#include "dispatch.h"

// The kernels are compiled twice: with VF, VI = eight floats and ints (the AVX2 and baseline
// clones) and with sixteen (an AVX-512 variant; target_clones would leave eight-wide code eight
// wide). Every lane computes the same operations either way, so both give the same bits.
typedef float f32x8 __attribute__((vector_size(32)));
typedef int i32x8 __attribute__((vector_size(32)));
typedef float f32x16 __attribute__((vector_size(64)));
typedef int i32x16 __attribute__((vector_size(64)));
// s in every lane (s − (+0) is s for every float, −0 included).
#define SPLAT(s) ((s) - (VF){0})
// Bit casts, and SELECT(m, a, c): a in the lanes where mask m (a comparison's result) is set, else c.
#define AS_INT(v) ({ VF v_ = (v); VI b_; memcpy(&b_, &v_, sizeof b_); b_; })
#define AS_FLOAT(v) ({ VI v_ = (v); VF f_; memcpy(&f_, &v_, sizeof f_); f_; })
#define SELECT(m, a, c) ({ VI m_ = (m); AS_FLOAT((m_ & AS_INT(a)) | (~m_ & AS_INT(c))); })

// The operations below are macros over VF values, not functions: a vector argument would
// change the ABI of the baseline clone.

// eˣ, x clamped to [−87.3, 88] (so 0 < eˣ < ∞): x = n·ln 2 + r, |r| ≤ ½ln 2, eʳ by a degree-5
// polynomial, 2ⁿ put into the exponent bits.
#define VEXP(x_)                                                                                       \
    ({                                                                                                 \
        VF x = (x_);                                                                                \
        x = SELECT(x > SPLAT(88.0f), SPLAT(88.0f), x);                                                       \
        x = SELECT(x < SPLAT(-87.3f), SPLAT(-87.3f), x);                                                     \
        VF fx = x * SPLAT(1.44269504088896341f) + SPLAT(0.5f);                                      \
        VI n = __builtin_convertvector(fx, VI);                                                  \
        VF fn = __builtin_convertvector(n, VF);                                                  \
        n = n + (fn > fx); /* floor: the mask is −1 where truncation rounded up */                                                           \
        fn = __builtin_convertvector(n, VF);                                                        \
        VF r = x - fn * SPLAT(0.693359375f) + fn * SPLAT(2.12194440e-4f);                           \
        VF p = SPLAT(1.9875691500e-4f);                                                             \
        p = p * r + SPLAT(1.3981999507e-3f);                                                           \
        p = p * r + SPLAT(8.3334519073e-3f);                                                           \
        p = p * r + SPLAT(4.1665795894e-2f);                                                           \
        p = p * r + SPLAT(1.6666665459e-1f);                                                           \
        p = p * r + SPLAT(5.0000001201e-1f);                                                           \
        p = p * r * r + r + SPLAT(1.0f);                                                               \
        VI bits = (n + 127) << 23;                                                                  \
        VF scale;                                                                                   \
        memcpy(&scale, &bits, sizeof scale);                                                           \
        p * scale;                                                                                     \
    })

// σ(x) = 1/(1 + e⁻ˣ) (e⁻ˣ is clamped, so no overflow and σ → 0 or 1 in the tails).
#define VSIGMOID(x_) (SPLAT(1.0f) / (SPLAT(1.0f) + VEXP(-(x_))))

// Φ(x) = ½·(1 + erf(x/√2)), with erf(z) = sign(z)·(1 − t·P(t)·e^{−z²}), t = 1/(1 + p·|z|)
// (Abramowitz and Stegun 7.1.26, |error| < 1.5e-7); `e` is e^{−x²/2} = e^{−z²}.
#define VPHI(x_, e_)                                                                                   \
    ({                                                                                                 \
        VF x = (x_);                                                                                \
        VF z = x * SPLAT(0.70710678118654752f);                                                     \
        VF az = SELECT(z < SPLAT(0.0f), -z, z);                                                           \
        VF t = SPLAT(1.0f) / (SPLAT(1.0f) + SPLAT(0.3275911f) * az);                                \
        VF q = SPLAT(1.061405429f);                                                                 \
        q = q * t + SPLAT(-1.453152027f);                                                              \
        q = q * t + SPLAT(1.421413741f);                                                               \
        q = q * t + SPLAT(-0.284496736f);                                                              \
        q = q * t + SPLAT(0.254829592f);                                                               \
        VF erfAbs = SPLAT(1.0f) - q * t * (e_);                                                     \
        VF erf = SELECT(z < SPLAT(0.0f), -erfAbs, erfAbs);                                                \
        SPLAT(0.5f) * (SPLAT(1.0f) + erf);                                                             \
    })

#define GELU_C 0.7978845608028654f  // √(2/π)
#define GELU_A 0.044715f

// f(x) and f′(x) for one vector, per kind.
#define GELU_F(x) ((x) * VPHI(x, VEXP(SPLAT(-0.5f) * (x) * (x))))
#define GELU_D(x)                                                                                      \
    ({                                                                                                 \
        VF e = VEXP(SPLAT(-0.5f) * (x) * (x));                                                      \
        VPHI(x, e) + (x) * e * SPLAT(0.3989422804014327f);                                             \
    })
#define GELU_TANH_S(x) VSIGMOID(SPLAT(2 * GELU_C) * ((x) + SPLAT(GELU_A) * (x) * (x) * (x)))
#define GELU_TANH_F(x) ((x) * GELU_TANH_S(x))
// y = x·σ(2u): y′ = σ(2u) + x·σ(2u)·(1 − σ(2u))·2u′.
#define GELU_TANH_D(x)                                                                                 \
    ({                                                                                                 \
        VF s = GELU_TANH_S(x);                                                                      \
        VF du = SPLAT(2 * GELU_C) * (SPLAT(1.0f) + SPLAT(3 * GELU_A) * (x) * (x));                  \
        s + (x) * s * (SPLAT(1.0f) - s) * du;                                                          \
    })
#define SILU_F(x) ((x) * VSIGMOID(x))
#define SILU_D(x)                                                                                      \
    ({                                                                                                 \
        VF s = VSIGMOID(x);                                                                         \
        s * (SPLAT(1.0f) + (x) * (SPLAT(1.0f) - s));                                                   \
    })
#define ELU_F(x) SELECT((x) > SPLAT(0.0f), (x), SPLAT(alpha) * (VEXP(x) - SPLAT(1.0f)))
#define ELU_D(x) SELECT((x) > SPLAT(0.0f), SPLAT(1.0f), SPLAT(alpha) * VEXP(x))

// y = F(x) over n elements: whole vectors (copies of a constant size, which compile to vector
// loads and stores; a copy of a variable size is a call to libc's memmove, which was most of
// the time of these kernels), then the tail as one partial vector padded with zeros.
#define MAP(F)                                                                                         \
    do {                                                                                               \
        long i = 0;                                                                                    \
        for (; i + LANES <= n; i += LANES) {                                                           \
            VF v;                                                                                      \
            memcpy(&v, x + i, sizeof v);                                                               \
            VF r = F(v);                                                                               \
            memcpy(y + i, &r, sizeof r);                                                               \
        }                                                                                              \
        if (i < n) {                                                                                   \
            long k = n - i;                                                                            \
            VF v = SPLAT(0.0f);                                                                        \
            memcpy(&v, x + i, (size_t)k * sizeof(float));                                              \
            VF r = F(v);                                                                               \
            memcpy(y + i, &r, (size_t)k * sizeof(float));                                              \
        }                                                                                              \
    } while (0)

// out = g·D(x) over n elements, in the same two parts.
#define MAP_BACKWARD(D)                                                                                \
    do {                                                                                               \
        long i = 0;                                                                                    \
        for (; i + LANES <= n; i += LANES) {                                                           \
            VF v, gv;                                                                                  \
            memcpy(&v, x + i, sizeof v);                                                               \
            memcpy(&gv, g + i, sizeof gv);                                                             \
            VF r = gv * D(v);                                                                          \
            memcpy(out + i, &r, sizeof r);                                                             \
        }                                                                                              \
        if (i < n) {                                                                                   \
            long k = n - i;                                                                            \
            VF v = SPLAT(0.0f), gv = SPLAT(0.0f);                                                      \
            memcpy(&v, x + i, (size_t)k * sizeof(float));                                              \
            memcpy(&gv, g + i, (size_t)k * sizeof(float));                                             \
            VF r = gv * D(v);                                                                          \
            memcpy(out + i, &r, (size_t)k * sizeof(float));                                            \
        }                                                                                              \
    } while (0)

// The two entry points for one vector width, with attributes ATTR.
#define DEFINE_ACTIVATIONS(ATTR, FORWARD, BACKWARD)                                                    \
    ATTR void FORWARD(int kind, const float *x, float *y, long n, float alpha) {                       \
        switch (kind) {                                                                                \
        case AD_GELU: MAP(GELU_F); break;                                                              \
        case AD_GELU_TANH: MAP(GELU_TANH_F); break;                                                    \
        case AD_SILU: MAP(SILU_F); break;                                                              \
        default: MAP(ELU_F); break;                                                                    \
        }                                                                                              \
    }                                                                                                  \
    ATTR void BACKWARD(int kind, const float *g, const float *x, float *out, long n, float alpha) {    \
        switch (kind) {                                                                                \
        case AD_GELU: MAP_BACKWARD(GELU_D); break;                                                     \
        case AD_GELU_TANH: MAP_BACKWARD(GELU_TANH_D); break;                                           \
        case AD_SILU: MAP_BACKWARD(SILU_D); break;                                                     \
        default: MAP_BACKWARD(ELU_D); break;                                                           \
        }                                                                                              \
    }

#define VF f32x8
#define VI i32x8
#define LANES 8
DEFINE_ACTIVATIONS(DISPATCHED, ad_activation_f32x8, ad_activation_backward_f32x8)
#undef VF
#undef VI
#undef LANES

#if AD_HAS_VARIANTS
#define VF f32x16
#define VI i32x16
#define LANES 16
DEFINE_ACTIVATIONS(TARGET_AVX512, ad_activation_f32x16, ad_activation_backward_f32x16)
#undef VF
#undef VI
#undef LANES
#endif

void ad_activation_f32(int kind, const float *x, float *y, long n, float alpha) {
#if AD_HAS_VARIANTS
    if (ad_cpu_isa() >= AD_ISA_AVX512) {
        ad_activation_f32x16(kind, x, y, n, alpha);
        return;
    }
#endif
    ad_activation_f32x8(kind, x, y, n, alpha);
}

void ad_activation_backward_f32(int kind, const float *g, const float *x, float *out, long n, float alpha) {
#if AD_HAS_VARIANTS
    if (ad_cpu_isa() >= AD_ISA_AVX512) {
        ad_activation_backward_f32x16(kind, g, x, out, n, alpha);
        return;
    }
#endif
    ad_activation_backward_f32x8(kind, g, x, out, n, alpha);
}
