#include "CKernels.h"

#include "dispatch.h"

#include <stdlib.h>
#include <string.h>

// Convolutions of one input channel with stride 1 and no dilation (the first layer of an image
// CNN): K = kH·kW taps is too few for a matrix product to pay for its patch matrix, so each image
// is copied once into a zero-padded plane and every output row is accumulated tap by tap, a loop
// over the row's pixels that the compiler vectorises. Memory traffic is one read of the image and
// one write (forward) or read (weight gradient) of the output.

// padded ((oh + kh − 1) × (ow + kw − 1)) ← the image x (h × w) shifted down by padTop and right by
// padLeft, zero outside it; image rows and columns past the padded plane are not needed.
#define DEFINE_PAD_PLANE(T, NAME)                                                                  \
    INLINE void NAME(const T *x, long h, long w, long padTop, long padLeft, long ph, long pw, T *padded) { \
        memset(padded, 0, (size_t)(ph * pw) * sizeof(T));                                          \
        for (long r = 0; r < ph; r++) {                                                            \
            long ih = r - padTop;                                                                  \
            if (ih < 0 || ih >= h) continue;                                                       \
            long first = padLeft > 0 ? padLeft : 0;                                                \
            long end = padLeft + w < pw ? padLeft + w : pw;                                        \
            if (first < end) memcpy(padded + r * pw + first, x + ih * w + first - padLeft,          \
                                    (size_t)(end - first) * sizeof(T));                            \
        }                                                                                          \
    }

DEFINE_PAD_PLANE(float, pad_plane_f32)
DEFINE_PAD_PLANE(double, pad_plane_f64)

#define DEFINE_CONV_ONE_CHANNEL(T, NAME, PAD)                                                      \
    DISPATCHED void NAME(const T *x, long images, long h, long w, const T *weight, const T *bias, long cout, \
                         long kh, long kw, long padTop, long padLeft, long oh, long ow, T *y) {    \
        const long ph = oh + kh - 1, pw = ow + kw - 1;                                             \
        T *padded = malloc((size_t)(ph * pw) * sizeof(T));                                         \
        if (!padded) abort();                                                                      \
        for (long n = 0; n < images; n++) {                                                        \
            PAD(x + n * h * w, h, w, padTop, padLeft, ph, pw, padded);                             \
            for (long c = 0; c < cout; c++) {                                                      \
                const T *taps = weight + c * kh * kw;                                              \
                const T shift = bias ? bias[c] : 0;                                                \
                for (long i = 0; i < oh; i++) {                                                    \
                    T *restrict row = y + ((n * cout + c) * oh + i) * ow;                          \
                    for (long j = 0; j < ow; j++) row[j] = shift;                                  \
                    for (long p = 0; p < kh; p++) {                                                \
                        for (long q = 0; q < kw; q++) {                                            \
                            const T tap = taps[p * kw + q];                                        \
                            const T *restrict source = padded + (i + p) * pw + q;                  \
                            for (long j = 0; j < ow; j++) row[j] += tap * source[j];               \
                        }                                                                          \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        free(padded);                                                                              \
    }

DEFINE_CONV_ONE_CHANNEL(float, ad_conv_one_channel_f32, pad_plane_f32)
DEFINE_CONV_ONE_CHANNEL(double, ad_conv_one_channel_f64, pad_plane_f64)

// The weight gradient sums each tap's products per output column first (`partial`, over the
// rows, elementwise and so vectorised without reassociating a reduction), then the columns in
// order: the result depends only on the images given.
#define DEFINE_CONV_ONE_CHANNEL_WEIGHT_GRADIENT(T, NAME, PAD)                                      \
    DISPATCHED void NAME(const T *x, long images, long h, long w, const T *gy, long cout, long kh, long kw, \
                         long padTop, long padLeft, long oh, long ow, T *gw) {                     \
        const long ph = oh + kh - 1, pw = ow + kw - 1;                                             \
        T *padded = malloc((size_t)(ph * pw + ow) * sizeof(T));                                    \
        if (!padded) abort();                                                                      \
        T *restrict partial = padded + ph * pw;                                                    \
        for (long n = 0; n < images; n++) {                                                        \
            PAD(x + n * h * w, h, w, padTop, padLeft, ph, pw, padded);                             \
            for (long c = 0; c < cout; c++) {                                                      \
                const T *plane = gy + (n * cout + c) * oh * ow;                                    \
                for (long p = 0; p < kh; p++) {                                                    \
                    for (long q = 0; q < kw; q++) {                                                \
                        for (long j = 0; j < ow; j++) partial[j] = 0;                              \
                        for (long i = 0; i < oh; i++) {                                            \
                            const T *restrict upstream = plane + i * ow;                           \
                            const T *restrict source = padded + (i + p) * pw + q;                  \
                            for (long j = 0; j < ow; j++) partial[j] += upstream[j] * source[j];   \
                        }                                                                          \
                        T sum = 0;                                                                 \
                        for (long j = 0; j < ow; j++) sum += partial[j];                           \
                        gw[(c * kh + p) * kw + q] += sum;                                          \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        free(padded);                                                                              \
    }

DEFINE_CONV_ONE_CHANNEL_WEIGHT_GRADIENT(float, ad_conv_one_channel_weight_gradient_f32, pad_plane_f32)
DEFINE_CONV_ONE_CHANNEL_WEIGHT_GRADIENT(double, ad_conv_one_channel_weight_gradient_f64, pad_plane_f64)
