// A packed, register-blocked float GEMM for AVX-512 machines, in the way of BLIS and OpenBLAS:
// op(B) is packed once into panels of 32 columns (k × 32 floats each, zeros past n), shared by
// every part; each part packs op(A) in blocks of MC rows × KC terms into panels of 14 rows (KC × 14
// floats, zeros past m), and a micro-kernel keeps a 14 × 32 tile of C in 28 zmm registers while it
// runs over one block of terms: two loads of B and fourteen broadcasts of A feed 28 FMAs a term.
// Packing reads op(A) and op(B) in whichever layout they are stored (16 × 16 transposes in
// registers where a panel runs across the stored rows), so all four transpose combinations cost
// the same. Edges are zero-padded in the packed panels and masked (__mmask16) when C is read or
// written.
//
// This machine's OpenBLAS runs its Haswell kernels (OPENBLAS_CORETYPE=Haswell, left alone), which
// use half of the vector width AVX-512 CPUs have; the float products of the MNIST MLPs and of the
// transformer's weight gradients come here instead (Sources/AutoDiff/Backends/CPU/Products.swift).
#include "CKernels.h"

#include <stdio.h>
#include <stdlib.h>

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#include <pthread.h>

#define MR AD_GEMM_TILE_ROWS
#define NR AD_GEMM_TILE_COLUMNS
#define KC AD_GEMM_DEPTH_BLOCK
// Rows of op(A) packed at a time: 12 panels, 168 × 256 floats (168 KB), which stay in the 1 MB
// L2 while every panel of B passes over them; a 256 × 32 panel of B (32 KB) stays in the 48 KB L1
// while the 12 panels of A stream past it.
enum { MC = 12 * MR };

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma"), min_vector_width(512)))
#define AVX512_INLINE static inline __attribute__((always_inline)) AVX512

// MARK: Per-thread scratch

// Each thread's packed blocks: [0] its panels of A, [1] the panels of B of the calls it makes.
// They grow to the largest size asked for and are freed when the thread exits.
struct scratch {
    float *block[2];
    size_t capacity[2];
};
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void free_scratch(void *pointer) {
    struct scratch *s = pointer;
    free(s->block[0]);
    free(s->block[1]);
    free(s);
}

static void fail(const char *what) {
    fprintf(stderr, "ad_gemm_f32_avx512: %s\n", what);
    abort();
}

static void create_scratch_key(void) {
    if (pthread_key_create(&scratch_key, free_scratch) != 0) fail("cannot create the per-thread scratch key");
}

/// This thread's scratch block `which`, at least `count` floats, 64-byte aligned.
static float *scratch(int which, size_t count) {
    pthread_once(&scratch_once, create_scratch_key);
    struct scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(scratch_key, s) != 0) fail("out of memory for the per-thread scratch");
    }
    if (s->capacity[which] < count) {
        free(s->block[which]);
        s->block[which] = aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64);
        if (!s->block[which]) fail("out of memory for a packed operand");
        s->capacity[which] = count;
    }
    return s->block[which];
}

// MARK: Packing

/// The first `count` lanes of a 16-lane mask (none for count ≤ 0, all for count ≥ 16).
static inline __mmask16 lanes(long count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

/// r[i][j] ← r[j][i] for a 16 × 16 block of floats in registers: pairs of rows interleaved by
/// element, then by pairs of elements, then 128-bit lanes gathered across rows four apart.
AVX512_INLINE void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int g = 0; g < 16; g += 4) {
        t[g] = _mm512_unpacklo_ps(r[g], r[g + 1]);
        t[g + 1] = _mm512_unpackhi_ps(r[g], r[g + 1]);
        t[g + 2] = _mm512_unpacklo_ps(r[g + 2], r[g + 3]);
        t[g + 3] = _mm512_unpackhi_ps(r[g + 2], r[g + 3]);
        // u[g + c], lane l: rows g…g+3 at column 4l + c.
        u[g] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[g]), _mm512_castps_pd(t[g + 2])));
        u[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[g]), _mm512_castps_pd(t[g + 2])));
        u[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[g + 1]), _mm512_castps_pd(t[g + 3])));
        u[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[g + 1]), _mm512_castps_pd(t[g + 3])));
    }
    for (int c = 0; c < 4; c++) {
        // Lanes 0 and 2 (even) or 1 and 3 (odd) of row groups 0, 1 and of groups 2, 3.
        __m512 even01 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), odd01 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
        __m512 even23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
        __m512 odd23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
        r[c] = _mm512_shuffle_f32x4(even01, even23, 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(even01, even23, 0xDD);
        r[4 + c] = _mm512_shuffle_f32x4(odd01, odd23, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(odd01, odd23, 0xDD);
    }
}

/// Columns j0 ..< j0 + 32 of op(B) (k × n) into one panel: k rows of 32 floats, zeros past n.
AVX512 static void pack_b_panel(int transB, long k, long n, const float *b, long ldb, long j0, float *dst) {
    if (!transB) {
        __mmask16 m0 = lanes(n - j0), m1 = lanes(n - j0 - 16);
        for (long p = 0; p < k; p++) {
            const float *row = b + p * ldb + j0;
            _mm512_store_ps(dst + p * NR, _mm512_maskz_loadu_ps(m0, row));
            _mm512_store_ps(dst + p * NR + 16, _mm512_maskz_loadu_ps(m1, row + 16));
        }
        return;
    }
    // B is stored n × k: column j of op(B) is row j of B; 16 of them at a time, 16 terms at a time.
    for (long half = 0; half < NR; half += 16) {
        long rows = n - j0 - half;
        for (long p0 = 0; p0 < k; p0 += 16) {
            long terms = k - p0 < 16 ? k - p0 : 16;
            __mmask16 mask = lanes(terms);
            __m512 r[16];
            for (long q = 0; q < 16; q++)
                r[q] = q < rows ? _mm512_maskz_loadu_ps(mask, b + (j0 + half + q) * ldb + p0) : _mm512_setzero_ps();
            transpose16(r);
            for (long q = 0; q < terms; q++) _mm512_store_ps(dst + (p0 + q) * NR + half, r[q]);
        }
    }
}

/// Rows i0 ..< i0 + rows and terms p0 ..< p0 + kc of op(A) (m × k) into panels of 14 rows: panel
/// r at dst + r·14·kc, term p of row i at p·14 + i; zeros past the last row.
AVX512 static void pack_a_block(int transA, const float *a, long lda, long i0, long rows, long p0, long kc,
                                float *dst) {
    const __mmask16 tile = lanes(MR);
    for (long r = 0; r < rows; r += MR, dst += MR * kc) {
        long height = rows - r < MR ? rows - r : MR;
        if (transA) {
            // A is stored k × m: a term's rows of op(A) are contiguous.
            __mmask16 mask = lanes(height);
            const float *column = a + p0 * lda + i0 + r;
            for (long p = 0; p < kc; p++)
                _mm512_mask_storeu_ps(dst + p * MR, tile, _mm512_maskz_loadu_ps(mask, column + p * lda));
            continue;
        }
        // A is stored m × k: transpose 16 terms of the panel's rows at a time.
        for (long pp = 0; pp < kc; pp += 16) {
            long terms = kc - pp < 16 ? kc - pp : 16;
            __mmask16 mask = lanes(terms);
            __m512 v[16];
            for (long q = 0; q < 16; q++)
                v[q] = q < height ? _mm512_maskz_loadu_ps(mask, a + (i0 + r + q) * lda + p0 + pp) : _mm512_setzero_ps();
            transpose16(v);
            for (long q = 0; q < terms; q++) _mm512_mask_storeu_ps(dst + (pp + q) * MR, tile, v[q]);
        }
    }
}

// MARK: The micro-kernel

/// One tile of `height` (a constant: 14, or 8 or 4 for the last panel's few rows) × 32 of C:
/// acc ← Σₚ (panel of A)ₚ ⊗ (panel of B)ₚ over kc terms, one FMA chain per element, then
/// C ← α·acc + β·C for its first `rows` rows and the columns in m0, m1 (C is not read when β = 0).
/// An element's sum is the same whichever height computes it.
AVX512_INLINE void tile(const int height, long kc, const float *restrict pa, const float *restrict pb, float *c,
                        long ldc, long rows, __mmask16 m0, __mmask16 m1, float alpha, float beta) {
    // Fully unrolled over the rows, so the accumulators (28 for 14 rows) stay in registers.
    __m512 c0[MR], c1[MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < height; i++) c0[i] = c1[i] = _mm512_setzero_ps();
    for (long p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(pb), b1 = _mm512_load_ps(pb + 16);
#pragma clang loop unroll(full)
        for (int i = 0; i < height; i++) {
            __m512 av = _mm512_set1_ps(pa[i]);
            c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
        }
        pa += MR;
        pb += NR;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma clang loop unroll(full)
    for (int i = 0; i < height; i++) {
        if (i >= rows) break;
        float *row = c + i * ldc;
        __m512 r0 = _mm512_mul_ps(va, c0[i]), r1 = _mm512_mul_ps(va, c1[i]);
        if (beta != 0) {
            r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, row), r0);
            r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, row + 16), r1);
        }
        _mm512_mask_storeu_ps(row, m0, r0);
        _mm512_mask_storeu_ps(row + 16, m1, r1);
    }
}

// MARK: The driver

struct job {
    int transA, transB;
    long m, n, k;
    float alpha, beta;
    const float *a, *b;
    long lda, ldb, ldc;
    float *c;
    float *packed_b;  // panels of op(B), k × 32 floats each
    long panels;      // ⌈n / 32⌉
    long row_tiles;   // ⌈m / 14⌉
    long parts;
    long pack_parts;  // parts packing op(B): its panels split among them
    int by_rows;      // parts split the rows of C (else its panels of columns)
};

/// The part-th of `parts` nearly equal pieces of 0 ..< count.
static inline long piece(long part, long parts, long count) { return part * count / parts; }

/// The fewest elements of op(B) whose packing is split across the parts (pack_b_part): 256 KB.
enum { PARALLEL_PACK_ELEMENTS = 1 << 16 };

static void pack_b_part(void *context, long part) {
    const struct job *job = context;
    long parts = job->pack_parts;
    for (long jp = piece(part, parts, job->panels); jp < piece(part + 1, parts, job->panels); jp++)
        pack_b_panel(job->transB, job->k, job->n, job->b, job->ldb, jp * NR, job->packed_b + jp * job->k * NR);
}

AVX512 static void multiply_part(void *context, long part) {
    const struct job *job = context;
    long i0 = 0, i1 = job->m, q0 = 0, q1 = job->panels;
    if (job->by_rows) {
        i0 = piece(part, job->parts, job->row_tiles) * MR;
        i1 = piece(part + 1, job->parts, job->row_tiles) * MR;
        if (i1 > job->m) i1 = job->m;
    } else {
        q0 = piece(part, job->parts, job->panels);
        q1 = piece(part + 1, job->parts, job->panels);
    }
    if (i0 >= i1 || q0 >= q1) return;
    float *pa = scratch(0, (size_t)MC * KC);
    for (long pc = 0; pc < job->k; pc += KC) {
        long kc = job->k - pc < KC ? job->k - pc : KC;
        // The first block of terms applies β; the later ones add to what it stored.
        float beta = pc == 0 ? job->beta : 1;
        for (long ic = i0; ic < i1; ic += MC) {
            long mc = i1 - ic < MC ? i1 - ic : MC;
            pack_a_block(job->transA, job->a, job->lda, ic, mc, pc, kc, pa);
            for (long jp = q0; jp < q1; jp++) {
                long j0 = jp * NR;
                __mmask16 m0 = lanes(job->n - j0), m1 = lanes(job->n - j0 - 16);
                const float *pb = job->packed_b + jp * job->k * NR + pc * NR;
                for (long ir = 0; ir < mc; ir += MR) {
                    const float *panel = pa + ir * kc;
                    float *out = job->c + (ic + ir) * job->ldc + j0;
                    long rows = mc - ir;
                    if (rows > 8)
                        tile(MR, kc, panel, pb, out, job->ldc, rows, m0, m1, job->alpha, beta);
                    else if (rows > 4)
                        tile(8, kc, panel, pb, out, job->ldc, rows, m0, m1, job->alpha, beta);
                    else
                        tile(4, kc, panel, pb, out, job->ldc, rows, m0, m1, job->alpha, beta);
                }
            }
        }
    }
}

AVX512 void ad_gemm_f32_avx512(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                               const float *b, long ldb, float beta, float *c, long ldc, long parts) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        // No terms: C ← β·C (zeros for β = 0, without reading C).
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return;
    }
    struct job job = {
        .transA = transA, .transB = transB, .m = m, .n = n, .k = k, .alpha = alpha, .beta = beta, .a = a,
        .b = b, .lda = lda, .ldb = ldb, .ldc = ldc, .c = c, .panels = (n + NR - 1) / NR,
        .row_tiles = (m + MR - 1) / MR};
    job.packed_b = scratch(1, (size_t)job.panels * k * NR);
    parts = parts < 1 ? 1 : parts > 64 ? 64 : parts;
    // Split the rows of C (in whole tiles) or its panels of columns, whichever gives the largest
    // part less work: rows × columns of C, a part that splits the columns also packing all of
    // op(A) for itself (counted as 16 columns more). B is packed once either way.
    long row_parts = parts < job.row_tiles ? parts : job.row_tiles;
    long column_parts = parts < job.panels ? parts : job.panels;
    long most_rows = 0, most_columns = 0;
    for (long part = 0; part < row_parts; part++) {
        long end = piece(part + 1, row_parts, job.row_tiles) * MR;
        long rows = (end < m ? end : m) - piece(part, row_parts, job.row_tiles) * MR;
        if (rows > most_rows) most_rows = rows;
    }
    for (long part = 0; part < column_parts; part++) {
        long end = piece(part + 1, column_parts, job.panels) * NR;
        long columns = (end < n ? end : n) - piece(part, column_parts, job.panels) * NR;
        if (columns > most_columns) most_columns = columns;
    }
    job.by_rows = most_rows * n <= m * (most_columns + 16);
    job.parts = job.by_rows ? row_parts : column_parts;
    // A small op(B) (a transformer's [64, 256] weights) is packed by the caller alone: splitting
    // a few microseconds of copying would cost a fork and a join of the pool, as much again.
    job.pack_parts = k * n < PARALLEL_PACK_ELEMENTS ? 1 : job.parts < job.panels ? job.parts : job.panels;
    ad_pool_run(job.pack_parts, pack_b_part, &job);
    ad_pool_run(job.parts, multiply_part, &job);
}

#else

void ad_gemm_f32_avx512(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                        const float *b, long ldb, float beta, float *c, long ldc, long parts) {
    (void)transA, (void)transB, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb;
    (void)beta, (void)c, (void)ldc, (void)parts;
    fprintf(stderr, "ad_gemm_f32_avx512: called on a build without AVX-512 code (check ad_cpu_isa() first)\n");
    abort();
}

#endif
