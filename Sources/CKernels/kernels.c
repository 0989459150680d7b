#include "CKernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

// ---------------------------------------------------------------------------------------------
// Thin matrix products (thin_gemm.inc, once per element type). Loop orders, by which operand
// is contiguous along which side:
// - n ≥ 8: rows of C as 8-wide vectors, Σₚ A(i,p)·B(p, j…j+7), in 4×8 register tiles while B
//   is small, else streaming B once per 4 rows into a cache-resident scratch block (a
//   transposed B is first copied into rows; a thin side makes that copy cheap);
// - n < 8, A transposed ([k, m], contiguous down i): colⱼ += B(p,j)·Aᵀ(p,:), one pass over A;
// - n < 8, A as is: dot products of A's rows with B's columns, eight terms per vector;
// - n = 8 with α = 1, β = 0 (small layers): k ≤ 8 keeps B's rows in registers for all rows of C;
//   A transposed with m ≤ 8 keeps all of C in registers over one pass down k.
// The fused entry points (ad_thin_gemm_fused_*) add an epilogue to every store (ReLU, dropout's
// and relu's backward masks) and the column sums of B, for a captured step's rewrites.

enum { ROW_BLOCK = 4, COLUMN_BLOCK = 512, THIN_COLUMNS = 8 };
// Up to this many elements of B, the register tiles re-read B from L1 for each block of rows.
enum { TILED_B_LIMIT = 16384 };
// A transposed thin B up to this many elements is copied into rows on the stack, not the heap.
enum { SMALL_COPY = 256 };

// Eight elements: one AVX register of floats, two of doubles (or two and four SSE registers).
typedef float f32x8 __attribute__((vector_size(32)));
typedef double f64x8 __attribute__((vector_size(64)));
#define LOAD8(V, p) ({ V v_; memcpy(&v_, (p), sizeof v_); v_; })
// The sum of a vector's eight lanes, as a tree of pairwise additions.
#define HSUM8(v) ((((v)[0] + (v)[4]) + ((v)[2] + (v)[6])) + (((v)[1] + (v)[5]) + ((v)[3] + (v)[7])))
// The lane sums of four vectors at once: two rounds of pairwise adds of interleaved lanes, then
// the two halves (one vector add per round instead of four serial sums).
#define HSUM8X4(out, a, b, c, d)                                                                         \
    do {                                                                                                  \
        __typeof__(a) ab = __builtin_shufflevector(a, b, 0, 2, 8, 10, 4, 6, 12, 14) +                    \
                           __builtin_shufflevector(a, b, 1, 3, 9, 11, 5, 7, 13, 15);                     \
        __typeof__(a) cd = __builtin_shufflevector(c, d, 0, 2, 8, 10, 4, 6, 12, 14) +                    \
                           __builtin_shufflevector(c, d, 1, 3, 9, 11, 5, 7, 13, 15);                     \
        __typeof__(a) abcd = __builtin_shufflevector(ab, cd, 0, 2, 8, 10, 4, 6, 12, 14) +                \
                             __builtin_shufflevector(ab, cd, 1, 3, 9, 11, 5, 7, 13, 15);                 \
        for (int e_ = 0; e_ < 4; e_++) (out)[e_] = abcd[e_] + abcd[e_ + 4];                               \
    } while (0)
#define STORE8(p, v) ({ __typeof__(v) v_ = (v); memcpy((p), &v_, sizeof v_); })

// Sums over the rows of a [length, inner] block added into sums[inner] (bias gradients: [batch,
// features] down to [features]; a row sum when inner = 1): ad_sum3d's loop, which the fused
// weight-gradient product (thin_gemm.inc) calls too, so both give the same bits. Columns are
// summed 32, then 8 at a time in vector registers down all the rows (four rows a step, as
// (r0 + r1) + (r2 + r3)), then one at a time; a single column uses eight partial sums, which
// vectorise (and round less on long rows). Every element sees the same additions in the same
// order whatever the vector width.
#define DEFINE_SUM_ROWS(T, VT, NAME)                                                                    \
    INLINE void NAME(const T *restrict block, long length, long inner, T *restrict sums) {             \
        if (inner == 1) {                                                                               \
            T partial[8] = {0};                                                                         \
            long k = 0;                                                                                 \
            for (; k + 8 <= length; k += 8)                                                             \
                for (int e = 0; e < 8; e++) partial[e] += block[k + e];                                 \
            T s = ((partial[0] + partial[4]) + (partial[2] + partial[6])) +                             \
                  ((partial[1] + partial[5]) + (partial[3] + partial[7]));                              \
            for (; k < length; k++) s += block[k];                                                      \
            sums[0] += s;                                                                               \
            return;                                                                                     \
        }                                                                                               \
        long j = 0;                                                                                     \
        for (; j + 32 <= inner; j += 32) {                                                              \
            VT s[4];                                                                                    \
            for (int v = 0; v < 4; v++) s[v] = LOAD8(VT, sums + j + 8 * v);                             \
            long k = 0;                                                                                 \
            for (; k + 4 <= length; k += 4) {                                                           \
                const T *r0 = block + k * inner + j, *r1 = r0 + inner, *r2 = r1 + inner, *r3 = r2 + inner; \
                for (int v = 0; v < 4; v++)                                                             \
                    s[v] += (LOAD8(VT, r0 + 8 * v) + LOAD8(VT, r1 + 8 * v)) +                           \
                            (LOAD8(VT, r2 + 8 * v) + LOAD8(VT, r3 + 8 * v));                            \
            }                                                                                           \
            for (; k < length; k++)                                                                     \
                for (int v = 0; v < 4; v++) s[v] += LOAD8(VT, block + k * inner + j + 8 * v);           \
            for (int v = 0; v < 4; v++) STORE8(sums + j + 8 * v, s[v]);                                 \
        }                                                                                               \
        for (; j + 8 <= inner; j += 8) {                                                                \
            VT s = LOAD8(VT, sums + j);                                                                 \
            long k = 0;                                                                                 \
            for (; k + 4 <= length; k += 4) {                                                           \
                const T *r0 = block + k * inner + j, *r1 = r0 + inner, *r2 = r1 + inner, *r3 = r2 + inner; \
                s += (LOAD8(VT, r0) + LOAD8(VT, r1)) + (LOAD8(VT, r2) + LOAD8(VT, r3));                 \
            }                                                                                           \
            for (; k < length; k++) s += LOAD8(VT, block + k * inner + j);                              \
            STORE8(sums + j, s);                                                                        \
        }                                                                                               \
        for (; j < inner; j++) {                                                                        \
            T s = sums[j];                                                                              \
            long k = 0;                                                                                 \
            for (; k + 4 <= length; k += 4) {                                                           \
                const T *r0 = block + k * inner + j;                                                    \
                s += (r0[0] + r0[inner]) + (r0[2 * inner] + r0[3 * inner]);                             \
            }                                                                                           \
            for (; k < length; k++) s += block[k * inner + j];                                          \
            sums[j] = s;                                                                                \
        }                                                                                               \
    }

// Floats: eight a vector in the AVX2 and baseline clones (ad_thin_gemm_f32x8), sixteen (one
// zmm register) in a variant compiled for AVX-512 only (ad_thin_gemm_f32x16): target_clones
// compiles one source per target, and would leave explicit eight-wide code eight wide.
typedef float f32x16 __attribute__((vector_size(64)));
// A dropout mask's bytes for eight or sixteen lanes (thin_gemm.inc's epilogue).
typedef uint8_t u8x8 __attribute__((vector_size(8)));
typedef uint8_t u8x16 __attribute__((vector_size(16)));
DEFINE_SUM_ROWS(float, f32x8, sum_rows_f32)
DEFINE_SUM_ROWS(double, f64x8, sum_rows_f64)

#define T float
#define SUM_ROWS sum_rows_f32
#define V f32x8
#define DV f32x8
#define W 8
#define ENTRY DISPATCHED
#define HELPER INLINE
#define FN(name) name##_f32x8
#include "thin_gemm.inc"
#undef V
#undef W
#undef ENTRY
#undef FN

#if AD_HAS_VARIANTS
#include <immintrin.h>

// The last 1…15 columns of `rows` rows (from i, at column j; a0…a3 their rows of A) as one masked
// vector a row: lanes past n are neither loaded nor stored. Each element gets the operations of
// the unmasked steps, in the same order.
#define MASKED_TAIL(rows)                                                                              \
    if (j < n) {                                                                                       \
        __mmask16 mask = (__mmask16)((1u << (n - j)) - 1);                                             \
        const T *rowsOfA[4] = {a0, a0, a0, a0};                                                        \
        for (int q = 1; q < (rows); q++) rowsOfA[q] = a0 + q * ars;                                    \
        f32x16 sums[4] = {{0}, {0}, {0}, {0}};                                                         \
        for (long p = 0; p < k; p++) {                                                                 \
            f32x16 bv = (f32x16)_mm512_maskz_loadu_ps(mask, b + p * ldb + j);                          \
            for (int q = 0; q < (rows); q++) sums[q] += rowsOfA[q][p * acs] * bv;                      \
        }                                                                                              \
        for (int q = 0; q < (rows); q++) {                                                             \
            T *row = c + (i + q) * ldc + j;                                                            \
            f32x16 out = alpha * sums[q];                                                              \
            if (beta != 0) out += beta * (f32x16)_mm512_maskz_loadu_ps(mask, row);                     \
            if (bias) out += (f32x16)_mm512_maskz_loadu_ps(mask, bias + j);                            \
            if (relu) out = (f32x16)((__typeof__(out > 0))out & (out > 0));                            \
            if (drop) {                                                                                \
                f32x16 factor_ = {0};                                                                  \
                for (long e_ = 0; e_ < n - j; e_++) factor_[e_] = dropScale * (T)drop[(row - c) + e_];  \
                out = out * factor_;                                                                   \
            }                                                                                          \
            if (keep) {                                                                                \
                f32x16 keep_ = (f32x16)_mm512_maskz_loadu_ps(mask, keep + (row - c));                  \
                out = (f32x16)((__typeof__(keep_ > 0))out & (keep_ > 0));                              \
            }                                                                                          \
            _mm512_mask_storeu_ps(row, mask, (__m512)out);                                             \
        }                                                                                              \
        j = n;                                                                                         \
    }
#define V f32x16
#define W 16
#define ENTRY TARGET_AVX512
#undef HELPER
#define HELPER INLINE TARGET_AVX512
#define FN(name) name##_f32x16
#include "thin_gemm.inc"
#undef V
#undef W
#undef ENTRY
#undef FN
#undef MASKED_TAIL
#endif
#undef T
#undef DV

// Doubles: eight a vector (one zmm register, two ymm or four xmm), in every clone.
#undef SUM_ROWS
#define T double
#define SUM_ROWS sum_rows_f64
#define V f64x8
#define DV f64x8
#define W 8
#define ENTRY DISPATCHED
#undef HELPER
#define HELPER INLINE
#define FN(name) name##_f64
#include "thin_gemm.inc"
#undef T
#undef V
#undef DV
#undef W
#undef ENTRY
#undef HELPER
#undef FN
#undef SUM_ROWS

// Whether the sixteen-wide AVX-512 float product takes this shape: where rows of C (n > 8, the
// last n mod 16 columns masked) or columns of it (A transposed, n < 8, m ≥ 32) fill zmm registers:
// 1.3× on spiral's [3000,2]·[2,64], 1.8× on [128,128]·[128,64], 5–8× on [128,64]·[64,10] and its
// gradient (whose last 2 columns the eight-wide clone sums as scalars). On moons' 8-column
// products and [8,1000]ᵀ·[1000,1] the eight-wide clone was measured faster (1.0 against 1.4 µs,
// 0.9 against 2.5 µs); both give the same bits (InstructionSetTests).
static int sixteen_wide(int transA, long m, long n) {
#if AD_HAS_VARIANTS
    return ad_cpu_isa() >= AD_ISA_AVX512 && (n > THIN_COLUMNS || (transA && n < THIN_COLUMNS && m >= 32));
#else
    (void)transA, (void)m, (void)n;
    return 0;
#endif
}

void ad_thin_gemm_f32(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                      const float *b, long ldb, float beta, const float *bias, float *c, long ldc) {
#if AD_HAS_VARIANTS
    if (sixteen_wide(transA, m, n)) {
        ad_thin_gemm_f32x16(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, c, ldc);
        return;
    }
#endif
    ad_thin_gemm_f32x8(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, c, ldc);
}

void ad_thin_gemm_fused_f32(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                            const float *b, long ldb, float beta, const float *bias, int relu, const uint8_t *drop,
                            float dropScale, const float *keep, float *columnSums, float *c, long ldc) {
#if AD_HAS_VARIANTS
    if (sixteen_wide(transA, m, n)) {
        ad_thin_gemm_fused_f32x16(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, relu, drop, dropScale,
                                  keep, columnSums, c, ldc);
        return;
    }
#endif
    ad_thin_gemm_fused_f32x8(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, relu, drop, dropScale, keep,
                             columnSums, c, ldc);
}

// ---------------------------------------------------------------------------------------------
// Bernoulli masks: four xoshiro256** generators in the lanes of one vector, stepped together;
// each step yields eight 32-bit draws, compared with the threshold without a branch.

typedef uint64_t u64x4 __attribute__((vector_size(32)));
typedef uint32_t u32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));

// A macro, not a function: a 32-byte vector argument would change the baseline clone's ABI.
#define ROTL4(x, k) (((x) << (k)) | ((x) >> (64 - (k))))

#define DEFINE_BERNOULLI(T, BITS, NAME)                                                                     \
    DISPATCHED void NAME(T *y, const T *x, uint8_t *keep, long n, uint32_t threshold, T value, uint64_t lanes[16]) { \
        u64x4 s0, s1, s2, s3;                                                                             \
        memcpy(&s0, lanes, 32);                                                                           \
        memcpy(&s1, lanes + 4, 32);                                                                       \
        memcpy(&s2, lanes + 8, 32);                                                                       \
        memcpy(&s3, lanes + 12, 32);                                                                      \
        BITS valueBits;                                                                                   \
        memcpy(&valueBits, &value, sizeof value);                                                         \
        for (long i = 0; i < n; i += 8) {                                                                 \
            u64x4 v = s1 + (s1 << 2); /* s1·5 and ·9 as shifts: AVX2 has no 64-bit multiply */           \
            v = ROTL4(v, 7);                                                                              \
            u64x4 word = v + (v << 3);                                                                    \
            u64x4 t = s1 << 17;                                                                           \
            s2 ^= s0;                                                                                     \
            s3 ^= s1;                                                                                     \
            s1 ^= s2;                                                                                     \
            s0 ^= s3;                                                                                     \
            s2 ^= t;                                                                                      \
            s3 = ROTL4(s3, 45);                                                                           \
            u32x8 draws = (u32x8)word;                                                                    \
            i32x8 below = (i32x8)(draws < threshold); /* all ones where kept */                          \
            T out[8];                                                                                     \
            for (int e = 0; e < 8; e++) {                                                                 \
                BITS bits = valueBits & (BITS)(int64_t)below[e];                                          \
                memcpy(&out[e], &bits, sizeof bits);                                                      \
            }                                                                                             \
            long count = n - i < 8 ? n - i : 8;                                                           \
            if (count == 8) { /* constant trip counts: vector code, not calls */                          \
                if (x)                                                                                    \
                    for (int e = 0; e < 8; e++) out[e] *= x[i + e];                                       \
                if (keep)                                                                                 \
                    for (int e = 0; e < 8; e++) keep[i + e] = (uint8_t)(below[e] & 1);                    \
                memcpy(y + i, out, sizeof out);                                                           \
            } else {                                                                                      \
                for (long e = 0; e < count; e++) {                                                        \
                    y[i + e] = x ? out[e] * x[i + e] : out[e];                                            \
                    if (keep) keep[i + e] = (uint8_t)(below[e] & 1);                                      \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
        memcpy(lanes, &s0, 32);                                                                           \
        memcpy(lanes + 4, &s1, 32);                                                                       \
        memcpy(lanes + 8, &s2, 32);                                                                       \
        memcpy(lanes + 12, &s3, 32);                                                                      \
    }

DEFINE_BERNOULLI(float, uint32_t, ad_bernoulli_f32)
DEFINE_BERNOULLI(double, uint64_t, ad_bernoulli_f64)

// Multiplying by scale·keep (rather than choosing 0) keeps NaN and ∞ inputs visible, as x·mask does.
#define DEFINE_MASKED_SCALE(T, NAME)                                                                    \
    DISPATCHED void NAME(T *restrict y, const T *restrict x, const uint8_t *restrict keep, long n, T scale) { \
        for (long i = 0; i < n; i++) y[i] = x[i] * (scale * (T)keep[i]);                                 \
    }

DEFINE_MASKED_SCALE(float, ad_masked_scale_f32)
DEFINE_MASKED_SCALE(double, ad_masked_scale_f64)

// A product's epilogue applied after the product was stored without it (Products.Epilogue): one
// pass per step and row, each a branch-free loop (a relu mask is a coin flip per element, which
// a branch per element mispredicts half the time).
#define DEFINE_PRODUCT_EPILOGUE(T, NAME)                                                                 \
    DISPATCHED void NAME(T *c, long rows, long columns, long ldc, int relu, const uint8_t *drop, T scale,   \
                         const T *keep) {                                                                \
        for (long i = 0; i < rows; i++) {                                                                \
            T *restrict row = c + i * ldc;                                                               \
            if (relu)                                                                                    \
                for (long j = 0; j < columns; j++) row[j] = row[j] > 0 ? row[j] : 0;                     \
            if (drop) {                                                                                  \
                const uint8_t *restrict mask = drop + i * ldc;                                           \
                for (long j = 0; j < columns; j++) row[j] = row[j] * (scale * (T)mask[j]);               \
            }                                                                                            \
            if (keep) {                                                                                  \
                const T *restrict sign = keep + i * ldc;                                                 \
                for (long j = 0; j < columns; j++) row[j] = sign[j] > 0 ? row[j] : 0;                    \
            }                                                                                            \
        }                                                                                                \
    }

DEFINE_PRODUCT_EPILOGUE(float, ad_product_epilogue_f32)
DEFINE_PRODUCT_EPILOGUE(double, ad_product_epilogue_f64)

// ---------------------------------------------------------------------------------------------
// Adam: every state array read and written once per step, with the square roots and divisions
// (which bound this loop) vectorised: `restrict` rules out overlap, and

// The square root is __builtin_elementwise_sqrt: sqrtf may set errno, which keeps the
// compiler from vectorising it.
#define DEFINE_ADAM(T, NAME)                                                                            \
    DISPATCHED void NAME(T *restrict w, const T *restrict g, T *restrict m, T *restrict v, T *restrict vmax, \
                         long n, T lr, T decay, T beta1, T beta2, T c1, T c2, T epsilon) {                \
        T a1 = 1 - beta1, a2 = 1 - beta2;                                                                 \
        if (vmax) {                                                                                       \
            for (long i = 0; i < n; i++) {                                                                \
                T mi = beta1 * m[i] + a1 * g[i];                                                          \
                T vi = beta2 * v[i] + a2 * g[i] * g[i];                                                   \
                T vm = vmax[i] > vi ? vmax[i] : vi;                                                       \
                m[i] = mi;                                                                                \
                v[i] = vi;                                                                                \
                vmax[i] = vm;                                                                             \
                w[i] = w[i] * decay - lr * (mi * c1) / (__builtin_elementwise_sqrt(vm * c2) + epsilon);   \
            }                                                                                             \
        } else {                                                                                          \
            for (long i = 0; i < n; i++) {                                                                \
                T mi = beta1 * m[i] + a1 * g[i];                                                          \
                T vi = beta2 * v[i] + a2 * g[i] * g[i];                                                   \
                m[i] = mi;                                                                                \
                v[i] = vi;                                                                                \
                w[i] = w[i] * decay - lr * (mi * c1) / (__builtin_elementwise_sqrt(vi * c2) + epsilon);   \
            }                                                                                             \
        }                                                                                                 \
    }

DEFINE_ADAM(float, ad_adam_f32)
DEFINE_ADAM(double, ad_adam_f64)

// ---------------------------------------------------------------------------------------------
// Sums over the middle axis of [outer, length, inner]: each [length, inner] block by the rows'
// loop above (sum_rows_*), shared with the fused weight-gradient product.

#define DEFINE_SUM3D(T, NAME, ROWS)                                                                     \
    DISPATCHED void NAME(const T *restrict x, long outer, long length, long inner, T *restrict acc) {   \
        for (long o = 0; o < outer; o++) ROWS(x + o * length * inner, length, inner, acc + o * inner);   \
    }

DEFINE_SUM3D(float, ad_sum3d_f32, sum_rows_f32)
DEFINE_SUM3D(double, ad_sum3d_f64, sum_rows_f64)

// ---------------------------------------------------------------------------------------------
// Binary cross-entropy on logits. Its exponentials and logarithms are most of its time, and
// libm's are scalar; glibc's libmvec has vector versions, callable only from code compiled for
// the matching instruction set, so this kernel dispatches by hand rather than by target_clones.

static double sigmoid_cross_entropy_scalar(const float *z, const float *y, long i, long n, float *sigmoid) {
    double total = 0;
    for (; i < n; i++) {
        float e = expf(-fabsf(z[i]));
        total += (double)((z[i] > 0 ? z[i] : 0) + log1pf(e) - y[i] * z[i]);
        if (sigmoid) sigmoid[i] = (z[i] >= 0 ? 1 : e) / (1 + e);
    }
    return total;
}

#if defined(__x86_64__) && defined(__clang__) && defined(__GLIBC__)
#include <immintrin.h>

// Whether this CPU has AVX2 and FMA (for the kernels dispatched by hand), asked once.
static int has_avx2(void) {
    static int cached = -1;  // read and written atomically: threads may race to fill it
    int avx2 = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (avx2 < 0) {
        avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        __atomic_store_n(&cached, avx2, __ATOMIC_RELAXED);
    }
    return avx2;
}

__attribute__((target("avx2,fma"))) static double sigmoid_cross_entropy_avx2(const float *z, const float *y, long n,
                                                                            float *sigmoid) {
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1), sign = _mm256_set1_ps(-0.0f);
    __m256d sum = _mm256_setzero_pd();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 zv = _mm256_loadu_ps(z + i);
        __m256 e = VECTOR_CALL(_ZGVdN8v_expf, _mm256_or_ps(zv, sign), "ymm0");  // e^{−|z|}
        __m256 term = _mm256_add_ps(_mm256_max_ps(zv, zero), VECTOR_CALL(_ZGVdN8v_log1pf, e, "ymm0"));
        term = _mm256_fnmadd_ps(_mm256_loadu_ps(y + i), zv, term);  // − y·z
        term = _mm256_or_ps(term, _mm256_and_ps(zv, _mm256_cmp_ps(zv, zv, _CMP_UNORD_Q)));  // NaN stays NaN
        sum = _mm256_add_pd(sum, _mm256_cvtps_pd(_mm256_castps256_ps128(term)));
        sum = _mm256_add_pd(sum, _mm256_cvtps_pd(_mm256_extractf128_ps(term, 1)));
        if (sigmoid) {
            __m256 numerator = _mm256_blendv_ps(e, one, _mm256_cmp_ps(zv, zero, _CMP_GE_OQ));
            _mm256_storeu_ps(sigmoid + i, _mm256_div_ps(numerator, _mm256_add_ps(one, e)));
        }
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, sum);
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + sigmoid_cross_entropy_scalar(z, y, i, n, sigmoid);
}

double ad_sigmoid_cross_entropy_f32(const float *z, const float *y, long n, float *sigmoid) {
    return has_avx2() ? sigmoid_cross_entropy_avx2(z, y, n, sigmoid)
                      : sigmoid_cross_entropy_scalar(z, y, 0, n, sigmoid);
}
#else
double ad_sigmoid_cross_entropy_f32(const float *z, const float *y, long n, float *sigmoid) {
    return sigmoid_cross_entropy_scalar(z, y, 0, n, sigmoid);
}
#endif

// ---------------------------------------------------------------------------------------------
// Softmax cross-entropy: row maxima, then the exponentials of all shifted logits in one array
// pass, row sums, and the logarithms of all sums in one more, so that the transcendental
// functions run eight at a time however few classes there are.

static void exp_in_place_scalar(float *x, long n) {
    for (long i = 0; i < n; i++) x[i] = expf(x[i]);
}
static void log_in_place_scalar(float *x, long n) {
    for (long i = 0; i < n; i++) x[i] = logf(x[i]);
}

#if defined(__x86_64__) && defined(__clang__) && defined(__GLIBC__)

__attribute__((target("avx2,fma"))) static void exp_in_place_avx2(float *x, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, VECTOR_CALL(_ZGVdN8v_expf, _mm256_loadu_ps(x + i), "ymm0"));
    exp_in_place_scalar(x + i, n - i);
}
__attribute__((target("avx2,fma"))) static void log_in_place_avx2(float *x, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, VECTOR_CALL(_ZGVdN8v_logf, _mm256_loadu_ps(x + i), "ymm0"));
    log_in_place_scalar(x + i, n - i);
}
#define EXP_IN_PLACE (has_avx2() ? exp_in_place_avx2 : exp_in_place_scalar)
#define LOG_IN_PLACE (has_avx2() ? log_in_place_avx2 : log_in_place_scalar)
#else
#define EXP_IN_PLACE exp_in_place_scalar
#define LOG_IN_PLACE log_in_place_scalar
#endif

void ad_exp_in_place_f32(float *x, long n) { EXP_IN_PLACE(x, n); }

// A row's largest element, NaN when it holds one (−∞ for an empty row), and a row's sum, each
// over eight independent lanes combined in a fixed order: one running maximum or sum is a chain
// of dependent operations the compiler may not reorder (a transformer's 70 classes a row took
// 4 % of its training step in these two loops).
static inline float row_maximum(const float *row, long n) {
    float lane[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int nan = 0;
    long j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) {
            float v = row[j + l];
            lane[l] = v > lane[l] ? v : lane[l];
            nan |= v != v;
        }
    for (; j < n; j++) {
        lane[0] = row[j] > lane[0] ? row[j] : lane[0];
        nan |= row[j] != row[j];
    }
    float m = lane[0];
    for (int l = 1; l < 8; l++) m = lane[l] > m ? lane[l] : m;
    return nan ? NAN : m;
}

static inline float row_sum(const float *row, long n) {
    float lane[8] = {0};
    long j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) lane[l] += row[j + l];
    for (; j < n; j++) lane[j % 8] += row[j];
    return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

double ad_softmax_cross_entropy_f32(const float *z, const long *labels, long rows, long classes,
                                    float *probabilities) {
    long total = rows * classes;
    float *shifted = probabilities ? probabilities : malloc(sizeof(float) * (size_t)(total > 0 ? total : 1));
    float *rowData = malloc(sizeof(float) * (size_t)(2 * rows + 1));  // maxima, then sums → logs
    if (!shifted || !rowData) abort();
    float *maxima = rowData, *sums = rowData + rows;
    for (long i = 0; i < rows; i++) {
        const float *row = z + i * classes;
        float m = row_maximum(row, classes);
        maxima[i] = m == -INFINITY ? 0 : m;  // a row of −∞: shift by 0, so its logSumExp is −∞
        for (long j = 0; j < classes; j++) shifted[i * classes + j] = row[j] - maxima[i];
    }
    EXP_IN_PLACE(shifted, total);
    for (long i = 0; i < rows; i++) sums[i] = row_sum(shifted + i * classes, classes);
    if (probabilities)
        for (long i = 0; i < rows; i++) {
            float inverse = 1 / sums[i];
            for (long j = 0; j < classes; j++) probabilities[i * classes + j] *= inverse;
        }
    LOG_IN_PLACE(sums, rows);
    double loss = 0;
    for (long i = 0; i < rows; i++) loss += (double)(sums[i] + maxima[i] - z[i * classes + labels[i]]);
    free(rowData);
    if (!probabilities) free(shifted);
    return loss;
}

void ad_zero_rows(void *base, long rows, long rowBytes, long strideBytes) {
    if (rowBytes == strideBytes) {
        memset(base, 0, (size_t)(rows * rowBytes));
        return;
    }
    for (long r = 0; r < rows; r++) memset((char *)base + r * strideBytes, 0, (size_t)rowBytes);
}

// The magnitudes' bits are or-ed row by row (a loop of vector ors); every 32 rows the columns
// seen nonzero are counted, so a matrix without zero columns is given up on after its first rows.
#define DEFINE_NONZERO_COLUMNS(T, BITS, MAGNITUDE, NAME)                                                \
    DISPATCHED long NAME(const T *a, long rows, long columns, long lda, BITS *restrict seen, long limit) { \
        memset(seen, 0, sizeof(BITS) * (size_t)columns);                                              \
        long count = 0;                                                                               \
        for (long r = 0; r < rows; r++) {                                                             \
            const BITS *restrict row = (const BITS *)(a + r * lda);                                   \
            for (long c = 0; c < columns; c++) seen[c] |= row[c] & MAGNITUDE;                         \
            if (r % 32 == 31 || r == rows - 1) {                                                      \
                count = 0;                                                                            \
                for (long c = 0; c < columns; c++) count += seen[c] != 0;                             \
                if (count > limit) return count;                                                      \
            }                                                                                         \
        }                                                                                             \
        return count;                                                                                 \
    }

DEFINE_NONZERO_COLUMNS(float, uint32_t, 0x7fffffffu, ad_nonzero_columns_f32)
DEFINE_NONZERO_COLUMNS(double, uint64_t, 0x7fffffffffffffffull, ad_nonzero_columns_f64)

// Short runs (a row of pixels inside an image) are copied in 32-byte blocks, the last block of a
// run running past its end (the next run overwrites the excess): a memcpy call per run of
// twenty-odd elements costs more than the copy itself. A block never passes the end of a row of
// packed, nor, except in the last row, where the copies are exact, the next row of a.
typedef char bytes32 __attribute__((vector_size(32), aligned(1)));
#define DEFINE_GATHER_RUNS(T, NAME)                                                                     \
    DISPATCHED __attribute__((no_builtin("memcpy", "memmove"))) void NAME(                            \
        const T *restrict a, long rows, long lda, const long *restrict runs, long nruns, T *restrict packed, \
        long count) {                                                                                 \
        const long block = 32 / sizeof(T);                                                            \
        for (long r = 0; r < rows; r++) {                                                             \
            const T *source = a + r * lda;                                                            \
            T *target = packed + r * count, *end = target + count;                                    \
            for (long q = 0; q < nruns; q++) {                                                        \
                const T *from = source + runs[2 * q];                                                 \
                long length = runs[2 * q + 1], e = 0;                                                 \
                if (r < rows - 1)                                                                     \
                    for (; e < length && target + e + block <= end; e += block)                       \
                        *(bytes32 *)(target + e) = *(const bytes32 *)(from + e);                      \
                else                                                                                  \
                    for (; e + block <= length; e += block)                                           \
                        *(bytes32 *)(target + e) = *(const bytes32 *)(from + e);                      \
                for (; e < length; e++) target[e] = from[e];                                          \
                target += length;                                                                     \
            }                                                                                         \
        }                                                                                             \
    }

DEFINE_GATHER_RUNS(float, ad_gather_runs_f32)
DEFINE_GATHER_RUNS(double, ad_gather_runs_f64)
