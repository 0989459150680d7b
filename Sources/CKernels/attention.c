// Scaled dot-product attention, forward and backward, one head at a time (a thread owns whole
// heads, so the key and value gradients need no locks). Per head, K (and for the backward V) is
// first transposed into scratch, so a query row's scores are d rows of axpy over the keys and
// vectorise along the keys; the value sums vectorise along the value width.
//
// The forward keeps only each row's log-sum-exp (FlashAttention's idea): the backward
// recomputes a row's scores (one of its five tq·tk·d products) instead of reading a saved
// [tq, tk] probability matrix, so a step holds O(tq) per head, not O(tq·tk).
//
// The file is its own template: compiled once, it includes itself for float and for double.

#ifndef AD_ATTENTION_T

#include "CKernels.h"

#include <math.h>
#include <stdlib.h>

#include "dispatch.h"

#define AD_ATTENTION_T float
#define AD_EXP expf
#define AD_LOG logf
#define AD_FORWARD ad_attention_f32
#define AD_BACKWARD ad_attention_backward_f32
#define AD_SCORES attention_scores_f32
#define AD_TRANSPOSE attention_transpose_f32
#include "attention.c"
#undef AD_ATTENTION_T
#undef AD_EXP
#undef AD_LOG
#undef AD_FORWARD
#undef AD_BACKWARD
#undef AD_SCORES
#undef AD_TRANSPOSE

#define AD_ATTENTION_T double
#define AD_EXP exp
#define AD_LOG log
#define AD_FORWARD ad_attention_f64
#define AD_BACKWARD ad_attention_backward_f64
#define AD_SCORES attention_scores_f64
#define AD_TRANSPOSE attention_transpose_f64
#include "attention.c"

#else

#define T AD_ATTENTION_T

// s[j] = Σ_e (scale·q[e])·kt[e·tk + j] + mask_row[j] for j < n: the scores of one query row,
// from the head's keys transposed into kt ([d, tk]).
INLINE void AD_SCORES(const T *q, const T *kt, const T *mask_row, long tk, long d, long n, T scale, T *s) {
    for (long j = 0; j < n; j++) s[j] = 0;
    for (long e = 0; e < d; e++) {
        T qe = q[e] * scale;
        const T *kr = kt + e * tk;
        for (long j = 0; j < n; j++) s[j] += qe * kr[j];
    }
    if (mask_row)
        for (long j = 0; j < n; j++) s[j] += mask_row[j];
}

// dst ([cols, rows]) ← src ([rows, cols]) transposed.
INLINE void AD_TRANSPOSE(const T *src, long rows, long cols, T *dst) {
    for (long r = 0; r < rows; r++)
        for (long c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
}

DISPATCHED void AD_FORWARD(const T *q, const T *k, const T *v, const T *mask, long batch, long tq, long tk, long d,
                           long dv, double scale, int causal, int shared_mask, long first, long last, T *out,
                           T *lse) {
    (void)batch;
    T *kt = malloc(sizeof(T) * (size_t)(d * tk + tk + 1));
    T *s = kt + d * tk;
    for (long b = first; b < last; b++) {
        AD_TRANSPOSE(k + b * tk * d, tk, d, kt);
        const T *vb = v + b * tk * dv;
        for (long i = 0; i < tq; i++) {
            long row = b * tq + i, n = causal ? (i + 1 < tk ? i + 1 : tk) : tk;
            const T *mask_row = mask ? mask + ((shared_mask ? 0 : b) * tq + i) * tk : NULL;
            AD_SCORES(q + row * d, kt, mask_row, tk, d, n, (T)scale, s);
            T top = -INFINITY;
            for (long j = 0; j < n; j++) top = s[j] > top ? s[j] : top;
            T *o = out + row * dv;
            for (long e = 0; e < dv; e++) o[e] = 0;
            if (!(top > -INFINITY)) {
                lse[row] = -INFINITY;
                continue;
            }
            T total = 0;
            for (long j = 0; j < n; j++) {
                s[j] = AD_EXP(s[j] - top);
                total += s[j];
            }
            for (long j = 0; j < n; j++) {
                T w = s[j];
                const T *vr = vb + j * dv;
                for (long e = 0; e < dv; e++) o[e] += w * vr[e];
            }
            T inverse = 1 / total;
            for (long e = 0; e < dv; e++) o[e] *= inverse;
            lse[row] = top + AD_LOG(total);
        }
    }
    free(kt);
}

DISPATCHED void AD_BACKWARD(const T *go, const T *q, const T *k, const T *v, const T *mask, const T *out,
                            const T *lse, long batch, long tq, long tk, long d, long dv, double scale, int causal,
                            int shared_mask, long first, long last, T *dq, T *dk, T *dvalue) {
    (void)batch;
    T *kt = malloc(sizeof(T) * (size_t)(d * tk + dv * tk + 2 * tk + 1));
    T *vt = kt + d * tk, *p = vt + dv * tk, *ds = p + tk;
    T sc = (T)scale;
    for (long b = first; b < last; b++) {
        AD_TRANSPOSE(k + b * tk * d, tk, d, kt);
        AD_TRANSPOSE(v + b * tk * dv, tk, dv, vt);
        const T *kb = k + b * tk * d;
        T *dkb = dk + b * tk * d, *dvb = dvalue + b * tk * dv;
        for (long j = 0; j < tk * d; j++) dkb[j] = 0;
        for (long j = 0; j < tk * dv; j++) dvb[j] = 0;
        for (long i = 0; i < tq; i++) {
            long row = b * tq + i, n = causal ? (i + 1 < tk ? i + 1 : tk) : tk;
            const T *qi = q + row * d, *goi = go + row * dv, *oi = out + row * dv;
            T *dqi = dq + row * d;
            for (long e = 0; e < d; e++) dqi[e] = 0;
            T l = lse[row];
            if (!(l > -INFINITY)) continue;
            const T *mask_row = mask ? mask + ((shared_mask ? 0 : b) * tq + i) * tk : NULL;
            AD_SCORES(qi, kt, mask_row, tk, d, n, sc, p);
            for (long j = 0; j < n; j++) p[j] = AD_EXP(p[j] - l);
            T delta = 0;
            for (long e = 0; e < dv; e++) delta += goi[e] * oi[e];
            // ds_j = p_j·(go_i·v_j − δ)·scale, go_i·v_j as dv rows of axpy over the keys.
            for (long j = 0; j < n; j++) ds[j] = -delta;
            for (long e = 0; e < dv; e++) {
                T ge = goi[e];
                const T *vr = vt + e * tk;
                for (long j = 0; j < n; j++) ds[j] += ge * vr[j];
            }
            for (long j = 0; j < n; j++) ds[j] *= p[j] * sc;
            for (long j = 0; j < n; j++) {
                T pj = p[j], dsj = ds[j];
                T *dvr = dvb + j * dv, *dkr = dkb + j * d;
                const T *kr = kb + j * d;
                for (long e = 0; e < dv; e++) dvr[e] += pj * goi[e];
                for (long e = 0; e < d; e++) {
                    dkr[e] += dsj * qi[e];
                    dqi[e] += dsj * kr[e];
                }
            }
        }
    }
    free(kt);
}

#undef T

#endif
