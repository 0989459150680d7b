// Normalization over groups of x seen as [outer, groups, inner] (BatchNorm: [N, C, H·W];
// LayerNorm and GroupNorm: [1, rows, row length]). Each group is handled whole by one thread,
// run by run (outer runs of inner contiguous elements), so its three passes (sum, squared
// deviations, output) re-read the group from cache rather than memory when it fits.

#include "CKernels.h"

#include <math.h>
#include <string.h>

#include "dispatch.h"

typedef float f32x8 __attribute__((vector_size(32)));
#define LOAD8(p) ({ f32x8 v_; memcpy(&v_, (p), sizeof v_); v_; })
#define STORE8(p, v) ({ f32x8 v_ = (v); memcpy((p), &v_, sizeof v_); })
#define SPLAT8(s) ((f32x8){s, s, s, s, s, s, s, s})

// Float partial sums are flushed to double every CHUNK elements of a run, so a long run loses
// no more precision than a short one.
enum { CHUNK = 1024 };

// The sum of a vector's eight lanes in double (a macro: a vector argument would change the ABI
// of the baseline clone).
#define LANES(v)                                                                                    \
    ({                                                                                              \
        f32x8 l_ = (v);                                                                             \
        (((double)l_[0] + l_[4]) + ((double)l_[2] + l_[6])) + (((double)l_[1] + l_[5]) + ((double)l_[3] + l_[7])); \
    })

// Σ (x − shift)^power over n elements, power 1 or 2.
INLINE double run_sum(const float *x, long n, float shift, int power) {
    double total = 0;
    for (long start = 0; start < n; start += CHUNK) {
        long end = start + CHUNK < n ? start + CHUNK : n;
        f32x8 a = SPLAT8(0), b = SPLAT8(0), s = SPLAT8(shift);
        long i = start;
        for (; i + 16 <= end; i += 16) {
            f32x8 u = LOAD8(x + i) - s, v = LOAD8(x + i + 8) - s;
            a += power == 2 ? u * u : u;
            b += power == 2 ? v * v : v;
        }
        double tail = 0;
        for (; i < end; i++) {
            float d = x[i] - shift;
            tail += power == 2 ? (double)d * d : d;
        }
        total += LANES(a + b) + tail;
    }
    return total;
}

// y[i] = x[i]·a + b.
INLINE void run_affine(const float *x, float *y, long n, float a, float b) {
    f32x8 va = SPLAT8(a), vb = SPLAT8(b);
    long i = 0;
    for (; i + 8 <= n; i += 8) STORE8(y + i, LOAD8(x + i) * va + vb);
    for (; i < n; i++) y[i] = x[i] * a + b;
}

// μ and rstd = 1/√(σ² + ε) as floats, from μ and the squared deviations from μ rounded to float
// over n elements (σ² corrected for that rounding's offset; 0 for n = 0).
INLINE void statistics(double mu, double squares, long n, double epsilon, float *mean, float *rstd) {
    double offset = mu - (double)(float)mu;
    double variance = n > 0 ? squares / (double)n - offset * offset : 0;
    if (variance < 0) variance = 0;
    *mean = (float)mu;
    *rstd = (float)(1 / sqrt(variance + epsilon));
}

DISPATCHED void ad_normalize_f32(const float *x, long outer, long groups, long inner, long first, long last,
                                 double epsilon, const float *scale, const float *shift, float *out, float *mean,
                                 float *rstd) {
    long n = outer * inner;
    for (long c = first; c < last; c++) {
        double sum = 0;
        for (long o = 0; o < outer; o++) sum += run_sum(x + (o * groups + c) * inner, inner, 0, 1);
        double mu = n > 0 ? sum / (double)n : 0;
        double squares = 0;
        for (long o = 0; o < outer; o++) squares += run_sum(x + (o * groups + c) * inner, inner, (float)mu, 2);
        float m, r;
        statistics(mu, squares, n, epsilon, &m, &r);
        mean[c] = m;
        rstd[c] = r;
        float a = r * (scale ? scale[c] : 1);
        float b = (shift ? shift[c] : 0) - m * a;
        for (long o = 0; o < outer; o++) {
            long at = (o * groups + c) * inner;
            run_affine(x + at, out + at, inner, a, b);
        }
    }
}

DISPATCHED void ad_normalize_backward_f32(const float *g, const float *x, const float *mean, const float *rstd,
                                          const float *scale, long outer, long groups, long inner, long first,
                                          long last, float *dx, float *sum_g, float *sum_gxhat) {
    long n = outer * inner;
    for (long c = first; c < last; c++) {
        float m = mean[c], r = rstd[c];
        double sg = 0, sgx = 0;
        for (long o = 0; o < outer; o++) {
            const float *gr = g + (o * groups + c) * inner, *xr = x + (o * groups + c) * inner;
            for (long start = 0; start < inner; start += CHUNK) {
                long end = start + CHUNK < inner ? start + CHUNK : inner;
                // Two accumulators per sum, so the additions do not wait on each other.
                f32x8 a = SPLAT8(0), b = SPLAT8(0), a2 = SPLAT8(0), b2 = SPLAT8(0), vm = SPLAT8(m);
                long i = start;
                for (; i + 16 <= end; i += 16) {
                    f32x8 gv = LOAD8(gr + i), gw = LOAD8(gr + i + 8);
                    a += gv;
                    a2 += gw;
                    b += gv * (LOAD8(xr + i) - vm);
                    b2 += gw * (LOAD8(xr + i + 8) - vm);
                }
                for (; i + 8 <= end; i += 8) {
                    f32x8 gv = LOAD8(gr + i);
                    a += gv;
                    b += gv * (LOAD8(xr + i) - vm);
                }
                a += a2;
                b += b2;
                double ta = 0, tb = 0;
                for (; i < end; i++) {
                    ta += gr[i];
                    tb += (double)gr[i] * (xr[i] - m);
                }
                sg += LANES(a) + ta;
                sgx += LANES(b) + tb;
            }
        }
        sgx *= r;  // Σ g·(x − μ)·rstd
        sum_g[c] = (float)sg;
        sum_gxhat[c] = (float)sgx;
        // dx = w·r·(g − Σg/n − (x − μ)·r·Σgx̂/n) = A·g + B·(x − μ) + C.
        double w = scale ? scale[c] : 1;
        double meanG = n > 0 ? sg / (double)n : 0, meanGXhat = n > 0 ? sgx / (double)n : 0;
        double A = w * r, B = -w * r * r * meanGXhat, C = -A * meanG;
        f32x8 va = SPLAT8((float)A), vb = SPLAT8((float)B), vc = SPLAT8((float)C), vm = SPLAT8(m);
        for (long o = 0; o < outer; o++) {
            long at = (o * groups + c) * inner;
            const float *gr = g + at, *xr = x + at;
            float *dr = dx + at;
            long i = 0;
            for (; i + 8 <= inner; i += 8) STORE8(dr + i, LOAD8(gr + i) * va + (LOAD8(xr + i) - vm) * vb + vc);
            for (; i < inner; i++) dr[i] = (float)A * gr[i] + (float)B * (xr[i] - m) + (float)C;
        }
    }
}

// Layer normalization with a per-column affine map: each row of `width` elements normalized by
// its own statistics (the same two passes as ad_normalize_f32, so μ and rstd are the same bits),
// then y = x̂·weight[j] + bias[j] in the pass that writes the row.
DISPATCHED void ad_layer_norm_f32(const float *x, long width, long first, long last, double epsilon,
                                  const float *weight, const float *bias, float *out, float *mean, float *rstd) {
    for (long row = first; row < last; row++) {
        const float *xr = x + row * width;
        float *yr = out + row * width;
        double mu = width > 0 ? run_sum(xr, width, 0, 1) / (double)width : 0;
        float m, r;
        statistics(mu, run_sum(xr, width, (float)mu, 2), width, epsilon, &m, &r);
        mean[row] = m;
        rstd[row] = r;
        if (!weight && !bias) {
            run_affine(xr, yr, width, r, -m * r);
            continue;
        }
        f32x8 vm = SPLAT8(m), vr = SPLAT8(r), one = SPLAT8(1), zero = SPLAT8(0);
        long j = 0;
        for (; j + 8 <= width; j += 8) {
            f32x8 w = weight ? LOAD8(weight + j) : one, b = bias ? LOAD8(bias + j) : zero;
            STORE8(yr + j, (LOAD8(xr + j) - vm) * vr * w + b);
        }
        for (; j < width; j++) yr[j] = (xr[j] - m) * r * (weight ? weight[j] : 1) + (bias ? bias[j] : 0);
    }
}

DISPATCHED void ad_layer_norm_backward_f32(const float *g, const float *x, const float *mean, const float *rstd,
                                           const float *weight, long width, long first, long last, float *dx,
                                           float *weight_sums, float *bias_sums) {
    if (weight_sums) memset(weight_sums, 0, (size_t)width * sizeof(float));
    if (bias_sums) memset(bias_sums, 0, (size_t)width * sizeof(float));
    double n = (double)width;
    for (long row = first; row < last; row++) {
        const float *gr = g + row * width, *xr = x + row * width;
        float *dr = dx + row * width;
        float m = mean[row], r = rstd[row];
        f32x8 vm = SPLAT8(m), vr = SPLAT8(r), one = SPLAT8(1);
        // Σ gw and Σ gw·x̂ (gw = g·weight) for the row; the columns' Σ g·x̂ and Σ g on the way.
        f32x8 a = SPLAT8(0), b = SPLAT8(0);
        double ta = 0, tb = 0;
        long j = 0;
        for (; j + 8 <= width; j += 8) {
            f32x8 gv = LOAD8(gr + j), xh = (LOAD8(xr + j) - vm) * vr;
            f32x8 gw = gv * (weight ? LOAD8(weight + j) : one);
            a += gw;
            b += gw * xh;
            if (weight_sums) STORE8(weight_sums + j, LOAD8(weight_sums + j) + gv * xh);
            if (bias_sums) STORE8(bias_sums + j, LOAD8(bias_sums + j) + gv);
        }
        for (; j < width; j++) {
            float xh = (xr[j] - m) * r, gw = gr[j] * (weight ? weight[j] : 1);
            ta += gw;
            tb += (double)gw * xh;
            if (weight_sums) weight_sums[j] += gr[j] * xh;
            if (bias_sums) bias_sums[j] += gr[j];
        }
        double meanGW = (LANES(a) + ta) / n, meanGWXhat = (LANES(b) + tb) / n;
        // dx = r·(gw − mean(gw) − x̂·mean(gw·x̂)) = r·gw + B·(x − μ) + C.
        float B = (float)(-(double)r * r * meanGWXhat), C = (float)(-(double)r * meanGW);
        f32x8 vb = SPLAT8(B), vc = SPLAT8(C);
        for (j = 0; j + 8 <= width; j += 8) {
            f32x8 gw = LOAD8(gr + j) * (weight ? LOAD8(weight + j) : one);
            STORE8(dr + j, gw * vr + (LOAD8(xr + j) - vm) * vb + vc);
        }
        for (; j < width; j++) dr[j] = gr[j] * (weight ? weight[j] : 1) * r + (xr[j] - m) * B + C;
    }
}
