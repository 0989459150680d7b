#include "CKernels.h"

#include "dispatch.h"

// One 2×2 window: each later element replaces the best so far when greater or NaN, as selects
// rather than branches.
#define DEFINE_MAX_POOL_2X2(T, NAME)                                                                   \
    DISPATCHED void NAME(const T *x, long planes, long h, long w, long oh, long ow, T *y, long *index) { \
        for (long p = 0; p < planes; p++) {                                                          \
            const T *plane = x + p * h * w;                                                            \
            for (long i = 0; i < oh; i++) {                                                            \
                const long top = 2 * i * w;                                                            \
                const T *r0 = plane + top, *r1 = r0 + w;                                               \
                T *out = y + (p * oh + i) * ow;                                                        \
                long *where = index + (p * oh + i) * ow;                                               \
                for (long j = 0; j < ow; j++) {                                                        \
                    T best = r0[2 * j];                                                                \
                    long at = top + 2 * j;                                                             \
                    T v = r0[2 * j + 1];                                                               \
                    int take = (v > best) | (v != v);                                                  \
                    best = take ? v : best;                                                            \
                    at = take ? top + 2 * j + 1 : at;                                                  \
                    v = r1[2 * j];                                                                     \
                    take = (v > best) | (v != v);                                                      \
                    best = take ? v : best;                                                            \
                    at = take ? top + w + 2 * j : at;                                                  \
                    v = r1[2 * j + 1];                                                                 \
                    take = (v > best) | (v != v);                                                      \
                    best = take ? v : best;                                                            \
                    at = take ? top + w + 2 * j + 1 : at;                                              \
                    out[j] = best;                                                                     \
                    where[j] = at;                                                                     \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }

DEFINE_MAX_POOL_2X2(float, ad_max_pool_2x2_f32)
DEFINE_MAX_POOL_2X2(double, ad_max_pool_2x2_f64)
