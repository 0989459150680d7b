// Scaled dot-product attention, forward and backward, one head at a time (a thread owns whole
// heads, so the key and value gradients need no locks). A head's products (S = s·Q·Kᵀ, O = P·V;
// backward dP = dO·Vᵀ, dV = Pᵀ·dO, dQ = s·dS·K, dK = s·dSᵀ·Q) are the thin register-tiled
// products of thin_gemm.inc, with K and V transposed into scratch so none of them copies; the
// exponentials of a head's [tq, tk] scores run in one vectorised pass.
//
// The forward keeps each row's log-sum-exp, and the probabilities only when the caller passes a
// buffer for them: without it the backward recomputes a head's probabilities (one more product
// of QKᵀ's size, plus the exponentials; FlashAttention's idea), so what a step keeps is O(tq)
// per head rather than O(tq·tk). The scratch is one head's [tq, tk] scores and their gradient
// per thread, reused across its heads.
//
// The file is its own template: compiled once, it includes itself for float and for double.

#ifndef AD_ATTENTION_T

#include "CKernels.h"

#include <math.h>
#include <stdlib.h>

#include "dispatch.h"

static void exp_in_place_f64(double *x, long n) {
    for (long i = 0; i < n; i++) x[i] = exp(x[i]);
}

// e^x in place for float scores that are 0 or below, −∞ where hidden. libmvec's vector expf
// takes a scalar detour for a whole vector when any lane is below about −87 (a causal head is half
// −∞), so such lanes are raised to −87 first and their results, at most e^{−87} ≈ 1.6e-38 next
// to a row maximum of e^0 = 1, set to exactly 0 afterwards.
INLINE void exp_scores_f32(float *x, long n) {
    for (long i = 0; i < n; i++) x[i] = x[i] < -87.0f ? -87.0f : x[i];  // NaN stays NaN
    ad_exp_in_place_f32(x, n);
    for (long i = 0; i < n; i++) x[i] = x[i] < 1.7e-38f ? 0.0f : x[i];
}

#define AD_ATTENTION_T float
#define AD_LOG logf
#define AD_EXP_IN_PLACE exp_scores_f32
#define AD_GEMM ad_thin_gemm_f32
#define AD_FORWARD ad_attention_f32
#define AD_BACKWARD ad_attention_backward_f32
#define AD_SCORES attention_scores_f32
#define AD_TRANSPOSE attention_transpose_f32
#include "attention.c"
#undef AD_ATTENTION_T
#undef AD_LOG
#undef AD_EXP_IN_PLACE
#undef AD_GEMM
#undef AD_FORWARD
#undef AD_BACKWARD
#undef AD_SCORES
#undef AD_TRANSPOSE

#define AD_ATTENTION_T double
#define AD_LOG log
#define AD_EXP_IN_PLACE exp_in_place_f64
#define AD_GEMM ad_thin_gemm_f64
#define AD_FORWARD ad_attention_f64
#define AD_BACKWARD ad_attention_backward_f64
#define AD_SCORES attention_scores_f64
#define AD_TRANSPOSE attention_transpose_f64
#include "attention.c"

#else

#define T AD_ATTENTION_T

// The element where head b of operand x (q, k, v or o) starts.
#define AD_HEAD(L, x, b) ((L).x.offset + (b) / (L).heads * (L).x.batch_stride + (b) % (L).heads * (L).x.head_stride)

// dst ([cols, rows]) ← src ([rows, cols], rows `ld` apart) transposed.
INLINE void AD_TRANSPOSE(const T *src, long rows, long cols, long ld, T *dst) {
    for (long r = 0; r < rows; r++)
        for (long c = 0; c < cols; c++) dst[c * rows + r] = src[r * ld + c];
}

// s ([tq, tk]) ← scale·q·kᵀ + mask of head b (its query rows at `qb`, `ldq` apart, and key rows
// at `kb`, `ldk` apart), then per row i minus `shift[i]` (the row's
// maximum when `shift` is NULL, stored in `top`), −∞ where row i does not see key j (j > i when
// causal) and across the whole row when its shift is −∞: exponentials of s are then the
// unnormalised (forward) or normalised (backward, shift = log-sum-exp) probabilities. `kt` is
// scratch for the keys transposed ([d, tk]).
INLINE void AD_SCORES(const T *qb, long ldq, const T *kb, long ldk, const T *mask, long b, long tq, long tk, long d,
                      double scale, int causal, int shared_mask, const T *shift, T *top, T *kt, T *s) {
    AD_TRANSPOSE(kb, tk, d, ldk, kt);
    AD_GEMM(0, 0, tq, tk, d, (T)scale, qb, ldq, kt, tk, 0, NULL, s, tk);
    for (long i = 0; i < tq; i++) {
        T *row = s + i * tk;
        long n = causal ? (i + 1 < tk ? i + 1 : tk) : tk;
        if (mask) {
            const T *mask_row = mask + ((shared_mask ? 0 : b) * tq + i) * tk;
            for (long j = 0; j < n; j++) row[j] += mask_row[j];
        }
        T m;
        if (shift) {
            m = shift[i];
        } else {
            m = -INFINITY;
            for (long j = 0; j < n; j++) m = row[j] > m ? row[j] : m;
            top[i] = m;
        }
        if (!(m > -INFINITY)) n = 0;
        for (long j = 0; j < n; j++) row[j] -= m;
        for (long j = n; j < tk; j++) row[j] = -INFINITY;
    }
}

DISPATCHED void AD_FORWARD(const T *q, const T *k, const T *v, const T *mask, const ad_attention_layout *layout,
                           long batch, long tq, long tk, long d, long dv, double scale, int causal, int shared_mask,
                           long first, long last, T *out, T *lse, T *probabilities) {
    (void)batch;
    const ad_attention_layout L = *layout;
    T *kt = malloc(sizeof(T) * (size_t)(d * tk + tq * tk + tq + 1));
    if (!kt) abort();
    T *scratch = kt + d * tk, *top = scratch + tq * tk;
    for (long b = first; b < last; b++) {
        const T *qb = q + AD_HEAD(L, q, b), *kb = k + AD_HEAD(L, k, b), *vb = v + AD_HEAD(L, v, b);
        T *p = probabilities ? probabilities + b * tq * tk : scratch;
        AD_SCORES(qb, L.q.row_stride, kb, L.k.row_stride, mask, b, tq, tk, d, scale, causal, shared_mask, NULL, top,
                  kt, p);
        AD_EXP_IN_PLACE(p, tq * tk);
        for (long i = 0; i < tq; i++) {
            T *row = p + i * tk;
            if (!(top[i] > -INFINITY)) {
                lse[b * tq + i] = -INFINITY;  // the row is all zeros, and so is its output
                continue;
            }
            T total = 0;
            for (long j = 0; j < tk; j++) total += row[j];
            T inverse = 1 / total;
            for (long j = 0; j < tk; j++) row[j] *= inverse;
            lse[b * tq + i] = top[i] + AD_LOG(total);
        }
        AD_GEMM(0, 0, tq, dv, tk, 1, p, tk, vb, L.v.row_stride, 0, NULL, out + AD_HEAD(L, o, b), L.o.row_stride);
    }
    free(kt);
}

DISPATCHED void AD_BACKWARD(const T *go, const T *q, const T *k, const T *v, const T *mask, const T *out,
                            const T *lse, const T *probabilities, const ad_attention_layout *layout, long batch,
                            long tq, long tk, long d, long dv, double scale, int causal, int shared_mask, long first,
                            long last, T *dq, T *dk, T *dvalue) {
    (void)batch;
    const ad_attention_layout L = *layout;
    const long ldq = L.q.row_stride, ldk = L.k.row_stride, ldv = L.v.row_stride, ldo = L.o.row_stride;
    long width = d > dv ? d : dv;
    T *kt = malloc(sizeof(T) * (size_t)(width * tk + 2 * tq * tk + 1));
    if (!kt) abort();
    T *scratch = kt + width * tk, *ds = scratch + tq * tk;
    for (long b = first; b < last; b++) {
        const long qh = AD_HEAD(L, q, b), kh = AD_HEAD(L, k, b), vh = AD_HEAD(L, v, b), oh = AD_HEAD(L, o, b);
        const T *gob = go + oh, *ob = out + oh, *p = scratch;
        if (probabilities) {
            p = probabilities + b * tq * tk;
        } else {
            AD_SCORES(q + qh, ldq, k + kh, ldk, mask, b, tq, tk, d, scale, causal, shared_mask, lse + b * tq, NULL,
                      kt, scratch);
            AD_EXP_IN_PLACE(scratch, tq * tk);
        }
        // dP = dO·Vᵀ, then dS = P ⊙ (dP − δ) with δ_i = dO_i·O_i (= Σ_j P_ij·dP_ij).
        AD_TRANSPOSE(v + vh, tk, dv, ldv, kt);
        AD_GEMM(0, 0, tq, tk, dv, 1, gob, ldo, kt, tk, 0, NULL, ds, tk);
        for (long i = 0; i < tq; i++) {
            const T *goi = gob + i * ldo, *oi = ob + i * ldo;
            T delta = 0;
            for (long e = 0; e < dv; e++) delta += goi[e] * oi[e];
            T *dsi = ds + i * tk;
            const T *pi = p + i * tk;
            for (long j = 0; j < tk; j++) dsi[j] = pi[j] * (dsi[j] - delta);
        }
        AD_GEMM(1, 0, tk, dv, tq, 1, p, tk, gob, ldo, 0, NULL, dvalue + vh, ldv);
        AD_GEMM(0, 0, tq, d, tk, (T)scale, ds, tk, k + kh, ldk, 0, NULL, dq + qh, ldq);
        AD_GEMM(1, 0, tk, d, tq, (T)scale, ds, tk, q + qh, ldq, 0, NULL, dk + kh, ldk);
    }
    free(kt);
}

#undef AD_HEAD
#undef T

#endif
