#include "CKernels.h"

#include "dispatch.h"

#include <string.h>

// One 2×2 window: each later element replaces the best so far when greater or NaN, as selects
// rather than branches. `tap` numbers the window's elements 0 (top left) to 3 (bottom right).
#define CONSIDER(v, tap)                                                                           \
    do {                                                                                           \
        int take_ = ((v) > best) | ((v) != (v));                                                   \
        best = take_ ? (v) : best;                                                                 \
        chosen = take_ ? (tap) : chosen;                                                           \
    } while (0)

// Where tap 0–3 of the window at output column j lies in its plane, top row `top`.
#define TAP_INDEX(top, w, j, tap) ((top) + 2 * (j) + ((tap) & 1) + ((tap) >> 1) * (w))

#define DEFINE_MAX_POOL_2X2_SCALAR(T, NAME)                                                        \
    static inline void NAME(const T *r0, const T *r1, long top, long w, long j0, long ow, T *out,   \
                            long *where) {                                                         \
        for (long j = j0; j < ow; j++) {                                                           \
            T best = r0[2 * j];                                                                    \
            long chosen = 0;                                                                       \
            CONSIDER(r0[2 * j + 1], 1);                                                            \
            CONSIDER(r1[2 * j], 2);                                                                \
            CONSIDER(r1[2 * j + 1], 3);                                                            \
            out[j] = best;                                                                         \
            where[j] = TAP_INDEX(top, w, j, chosen);                                               \
        }                                                                                          \
    }


DEFINE_MAX_POOL_2X2_SCALAR(double, max_pool_row_f64)

typedef float f32x8 __attribute__((vector_size(32)));
typedef int i32x8 __attribute__((vector_size(32)));
typedef long i64x8 __attribute__((vector_size(64)));

// Eight windows at once: the even and odd columns of both rows as vectors, the same selects lane
// by lane (a NaN compares unequal to itself), then the chosen taps turned into indices.
static inline void max_pool_row8_f32(const float *r0, const float *r1, long top, long w, long j, float *out,
                                     long *where) {
    f32x8 lo0, hi0, lo1, hi1;
    memcpy(&lo0, r0 + 2 * j, sizeof lo0);
    memcpy(&hi0, r0 + 2 * j + 8, sizeof hi0);
    memcpy(&lo1, r1 + 2 * j, sizeof lo1);
    memcpy(&hi1, r1 + 2 * j + 8, sizeof hi1);
    f32x8 taps[4] = {
        __builtin_shufflevector(lo0, hi0, 0, 2, 4, 6, 8, 10, 12, 14),
        __builtin_shufflevector(lo0, hi0, 1, 3, 5, 7, 9, 11, 13, 15),
        __builtin_shufflevector(lo1, hi1, 0, 2, 4, 6, 8, 10, 12, 14),
        __builtin_shufflevector(lo1, hi1, 1, 3, 5, 7, 9, 11, 13, 15),
    };
    f32x8 best = taps[0];
    i32x8 chosen = {0};
    for (int tap = 1; tap < 4; tap++) {
        f32x8 v = taps[tap];
        i32x8 take = (v > best) | (v != v);
        best = (f32x8)(((i32x8)v & take) | ((i32x8)best & ~take));
        chosen = (tap & take) | (chosen & ~take);
    }
    memcpy(out + j, &best, sizeof best);
    const i32x8 lanes = {0, 1, 2, 3, 4, 5, 6, 7};
    i32x8 offset = 2 * lanes + (chosen & 1) + (chosen >> 1) * (int)w;
    i64x8 index = __builtin_convertvector(offset, i64x8) + (top + 2 * j);
    memcpy(where + j, &index, sizeof index);
}

// The last ow − j < 8 windows of a row by the same vector step, on rows of at least 16 readable
// columns from 2j (the plane's next row when it lies inside the planes given, else copies padded
// with −∞); the lanes past ow are computed and dropped. Rows of 7 or 14 windows (a 28 × 28 image
// pooled twice) would otherwise run mostly through the scalar loop. Copies are the last resort:
// loading a vector from just-stored smaller pieces stalls on store forwarding.
static inline void max_pool_tail8_f32(const float *r0, const float *r1, const float *end, long top, long w, long j,
                                      long ow, float *out, long *where) {
    const long count = ow - j;
    float values[8], rows[2][16];
    long indices[8];
    // The windows from column 2j, as if the row started there (indices shifted by 2j).
    const float *from0 = r0 + 2 * j, *from1 = r1 + 2 * j;
    if (from1 + 16 > end) {
        for (int e = 0; e < 16; e++) rows[0][e] = rows[1][e] = -__builtin_inff();
        memcpy(rows[0], from0, (size_t)(2 * count) * sizeof(float));
        memcpy(rows[1], from1, (size_t)(2 * count) * sizeof(float));
        from0 = rows[0];
        from1 = rows[1];
    }
    max_pool_row8_f32(from0, from1, top + 2 * j, w, 0, values, indices);
    memcpy(out + j, values, (size_t)count * sizeof(float));
    memcpy(where + j, indices, (size_t)count * sizeof(long));
}

DISPATCHED void ad_max_pool_2x2_f32(const float *x, long planes, long h, long w, long oh, long ow, float *y,
                                    long *index) {
    for (long p = 0; p < planes; p++) {
        const float *plane = x + p * h * w;
        for (long i = 0; i < oh; i++) {
            const long top = 2 * i * w;
            float *out = y + (p * oh + i) * ow;
            long *where = index + (p * oh + i) * ow;
            long j = 0;
            // The vector step reads 16 columns from 2j: whole windows only (2j + 16 ≤ 2·ow ≤ w).
            for (; j + 8 <= ow; j += 8) max_pool_row8_f32(plane + top, plane + top + w, top, w, j, out, where);
            if (j < ow && ow >= 8) {
                // Overlapping the last vector step: the windows from ow − 8 again.
                max_pool_row8_f32(plane + top, plane + top + w, top, w, ow - 8, out, where);
            } else if (j < ow) {
                max_pool_tail8_f32(plane + top, plane + top + w, x + planes * h * w, top, w, j, ow, out, where);
            }
        }
    }
}

DISPATCHED void ad_max_pool_2x2_f64(const double *x, long planes, long h, long w, long oh, long ow, double *y,
                                    long *index) {
    for (long p = 0; p < planes; p++) {
        const double *plane = x + p * h * w;
        for (long i = 0; i < oh; i++) {
            const long top = 2 * i * w;
            max_pool_row_f64(plane + top, plane + top + w, top, w, 0, ow, y + (p * oh + i) * ow,
                             index + (p * oh + i) * ow);
        }
    }
}
