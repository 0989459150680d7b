#include "CKernels.h"

#include "dispatch.h"

#include <stdlib.h>
#include <string.h>

// Convolutions of one input channel with stride 1 and no dilation (the first layer of an image
// CNN): K = kH·kW taps is too few for a matrix product to pay for its patch matrix. Each image is
// copied once into a zero-padded plane whose rows are rounded up to whole vectors, and each
// output row is computed a vector of columns at a time, every tap a multiply-add of a shifted
// load (the vector extensions, not the auto-vectoriser, which leaves rows of 28 to its scalar
// remainder loop). Up to four vectors of a row are worked on at once, so that their chains of
// multiply-adds overlap, and the loops are compiled once more for 3×3 kernels with constant
// bounds, fully unrolled. Memory traffic is one read of the image and one write (forward) or
// read (weight gradient) of the output.

typedef float f32xv __attribute__((vector_size(32)));
typedef double f64xv __attribute__((vector_size(32)));

// Vectors of a row worked on at once.
#define BLOCK 4

// `bytes` (less than one 32-byte vector, a multiple of 4) from src to dst as at most three copies
// of constant sizes, which compile to moves: a memcpy whose size is known only at run time is a
// call to libc, once per row of the CNN's 28 columns (3 % of cnn-mnist).
INLINE void copy_short(void *dst, const void *src, size_t bytes) {
    char *d = dst;
    const char *s = src;
    if (bytes & 16) {
        memcpy(d, s, 16);
        d += 16;
        s += 16;
    }
    if (bytes & 8) {
        memcpy(d, s, 8);
        d += 8;
        s += 8;
    }
    if (bytes & 4) memcpy(d, s, 4);
}

// The padded plane of an image: (oh + kh − 1) rows of `stride` ≥ ⌈ow⌉ (to whole vectors, or
// blocks of them) + kw − 1 elements, column s < `columns` = ow + kw − 1 holding x[r − padTop, s − padLeft], zero outside
// the image and past `columns` (lanes past ow read only zeros, so an infinity in an image column
// no output reaches cannot turn a weight gradient into NaN).
#define DEFINE_PAD_PLANE(T, NAME)                                                                  \
    INLINE void NAME(const T *x, long h, long w, long padTop, long padLeft, long rows, long columns, long stride, \
                     T *padded) {                                                                  \
        memset(padded, 0, (size_t)(rows * stride) * sizeof(T));                                    \
        for (long r = 0; r < rows; r++) {                                                          \
            long ih = r - padTop;                                                                  \
            if (ih < 0 || ih >= h) continue;                                                       \
            long end = padLeft + w < columns ? padLeft + w : columns;                              \
            if (padLeft < end) memcpy(padded + r * stride + padLeft, x + ih * w, (size_t)(end - padLeft) * sizeof(T)); \
        }                                                                                          \
    }

DEFINE_PAD_PLANE(float, pad_plane_f32)
DEFINE_PAD_PLANE(double, pad_plane_f64)

// One output plane (oh × ow, rows `ow` apart) from a padded image: `chunks` vectors a row, the
// last one partial when L does not divide ow (stored in pieces, copy_short). Every block computes all
// BLOCK vectors (the padded rows are long enough), storing only those inside the row, so that
// the sums stay in registers.
#define DEFINE_CONV_PLANE(T, V, NAME)                                                              \
    INLINE void NAME(const T *padded, long stride, const T *taps, T shift, long kh, long kw, long oh, long ow, \
                     long chunks, T *out) {                                                        \
        enum { L = sizeof(V) / sizeof(T) };                                                        \
        for (long i = 0; i < oh; i++) {                                                            \
            T *row = out + i * ow;                                                                 \
            for (long first = 0; first < chunks; first += BLOCK) {                                 \
                const long count = chunks - first < BLOCK ? chunks - first : BLOCK;                \
                V sums[BLOCK];                                                                     \
                for (long b = 0; b < BLOCK; b++) sums[b] = (V){0} + shift;                         \
                for (long p = 0; p < kh; p++) {                                                    \
                    const T *source = padded + (i + p) * stride + first * L;                       \
                    for (long q = 0; q < kw; q++) {                                                \
                        const T tap = taps[p * kw + q];                                            \
                        for (long b = 0; b < BLOCK; b++) {                                         \
                            V v;                                                                   \
                            memcpy(&v, source + b * L + q, sizeof v);                              \
                            sums[b] += tap * v;                                                    \
                        }                                                                          \
                    }                                                                              \
                }                                                                                  \
                for (long b = 0; b < count; b++) {                                                 \
                    const long j = (first + b) * L;                                                \
                    if (j + L <= ow) {                                                             \
                        memcpy(row + j, &sums[b], sizeof sums[b]);                                 \
                    } else {                                                                       \
                        copy_short(row + j, &sums[b], (size_t)(ow - j) * sizeof(T));               \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_CONV_PLANE(float, f32xv, conv_plane_f32)
DEFINE_CONV_PLANE(double, f64xv, conv_plane_f64)

#define DEFINE_CONV_ONE_CHANNEL(T, V, NAME, PAD, PLANE)                                            \
    DISPATCHED void NAME(const T *x, long images, long h, long w, const T *weight, const T *bias, long cout, \
                         long kh, long kw, long padTop, long padLeft, long oh, long ow, T *y) {    \
        enum { L = sizeof(V) / sizeof(T) };                                                        \
        const long chunks = (ow + L - 1) / L, rows = oh + kh - 1;                                  \
        const long stride = (chunks + BLOCK - 1) / BLOCK * BLOCK * L + kw - 1;                     \
        T *padded = malloc((size_t)(rows * stride) * sizeof(T));                                   \
        if (!padded) abort();                                                                      \
        for (long n = 0; n < images; n++) {                                                        \
            PAD(x + n * h * w, h, w, padTop, padLeft, rows, ow + kw - 1, stride, padded);          \
            for (long c = 0; c < cout; c++) {                                                      \
                const T *taps = weight + c * kh * kw;                                              \
                const T shift = bias ? bias[c] : 0;                                                \
                T *out = y + (n * cout + c) * oh * ow;                                             \
                if (kh == 3 && kw == 3) {                                                          \
                    PLANE(padded, stride, taps, shift, 3, 3, oh, ow, chunks, out);                 \
                } else {                                                                           \
                    PLANE(padded, stride, taps, shift, kh, kw, oh, ow, chunks, out);               \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        free(padded);                                                                              \
    }

DEFINE_CONV_ONE_CHANNEL(float, f32xv, ad_conv_one_channel_f32, pad_plane_f32, conv_plane_f32)
DEFINE_CONV_ONE_CHANNEL(double, f64xv, ad_conv_one_channel_f64, pad_plane_f64, conv_plane_f64)

// One output channel's weight gradient from a padded image and its upstream plane (oh × ow, rows
// `ow` apart; a row's last, partial vector read in pieces, zero past ow): each tap's products
// summed lane by lane over the image (kh·kw vector sums in `sums`), then the lanes added in order
// into gw.
#define DEFINE_WEIGHT_GRADIENT_PLANE(T, V, NAME)                                                   \
    INLINE void NAME(const T *padded, long stride, const T *upstream, long ow, long kh, long kw, long oh, \
                     long chunks, V *sums, T *gw) {                                                \
        enum { L = sizeof(V) / sizeof(T) };                                                        \
        for (long t = 0; t < kh * kw; t++) sums[t] = (V){0};                                       \
        for (long i = 0; i < oh; i++) {                                                            \
            for (long chunk = 0; chunk < chunks; chunk++) {                                        \
                const long j = chunk * L;                                                          \
                V g = (V){0};                                                                      \
                if (j + L <= ow) {                                                                 \
                    memcpy(&g, upstream + i * ow + j, sizeof g);                                   \
                } else {                                                                           \
                    copy_short(&g, upstream + i * ow + j, (size_t)(ow - j) * sizeof(T));           \
                }                                                                                  \
                for (long p = 0; p < kh; p++) {                                                    \
                    const T *source = padded + (i + p) * stride + j;                               \
                    for (long q = 0; q < kw; q++) {                                                \
                        V v;                                                                       \
                        memcpy(&v, source + q, sizeof v);                                          \
                        sums[p * kw + q] += g * v;                                                 \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        for (long t = 0; t < kh * kw; t++) {                                                       \
            T total = 0;                                                                           \
            for (int lane = 0; lane < L; lane++) total += sums[t][lane];                           \
            gw[t] += total;                                                                        \
        }                                                                                          \
    }

DEFINE_WEIGHT_GRADIENT_PLANE(float, f32xv, weight_gradient_plane_f32)
DEFINE_WEIGHT_GRADIENT_PLANE(double, f64xv, weight_gradient_plane_f64)

#define DEFINE_CONV_ONE_CHANNEL_WEIGHT_GRADIENT(T, V, NAME, PAD, PLANE)                            \
    DISPATCHED void NAME(const T *x, long images, long h, long w, const T *gy, long cout, long kh, long kw, \
                         long padTop, long padLeft, long oh, long ow, T *gw) {                     \
        enum { L = sizeof(V) / sizeof(T) };                                                        \
        const long chunks = (ow + L - 1) / L, rows = oh + kh - 1, stride = chunks * L + kw - 1;    \
        const long taps = kh * kw;                                                                 \
        T *padded = malloc((size_t)(rows * stride) * sizeof(T));                                   \
        /* The vectors' own alignment (32 bytes): malloc guarantees only 16. */                    \
        V *heapSums = taps > 9 ? aligned_alloc(sizeof(V), (size_t)taps * sizeof(V)) : NULL;        \
        V localSums[9];                                                                            \
        V *sums = taps > 9 ? heapSums : localSums;                                                 \
        if (!padded || !sums) abort();                                                             \
        for (long n = 0; n < images; n++) {                                                        \
            PAD(x + n * h * w, h, w, padTop, padLeft, rows, ow + kw - 1, stride, padded);          \
            for (long c = 0; c < cout; c++) {                                                      \
                const T *plane = gy + (n * cout + c) * oh * ow;                                    \
                if (kh == 3 && kw == 3) {                                                          \
                    PLANE(padded, stride, plane, ow, 3, 3, oh, chunks, localSums, gw + c * taps);  \
                } else {                                                                           \
                    PLANE(padded, stride, plane, ow, kh, kw, oh, chunks, sums, gw + c * taps);     \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        free(heapSums);                                                                            \
        free(padded);                                                                              \
    }

DEFINE_CONV_ONE_CHANNEL_WEIGHT_GRADIENT(float, f32xv, ad_conv_one_channel_weight_gradient_f32, pad_plane_f32,
                                        weight_gradient_plane_f32)
DEFINE_CONV_ONE_CHANNEL_WEIGHT_GRADIENT(double, f64xv, ad_conv_one_channel_weight_gradient_f64, pad_plane_f64,
                                        weight_gradient_plane_f64)
