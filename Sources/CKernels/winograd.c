#include "CKernels.h"

#include "dispatch.h"

#include <stdlib.h>
#include <string.h>

// Winograd F(2×2, 3×3) (Lavin & Gray 2015): each 2×2 block of outputs of a 3×3, stride-1
// convolution comes from a 4×4 tile of the input as Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, 16
// multiplications per (output channel, input channel, tile) in place of 36. The three transforms
// are here; the 16 products [Cout × Cin]·[Cin × tiles] that sum the element-wise products over
// the input channels are OpenBLAS's (CPU+Convolution.swift). Each loop runs along a row of tiles
// with unit-stride stores into (or loads from) the transformed matrices, so it vectorises.
//
//       ⎡1  0  0⎤        ⎡1  0 −1  0⎤        ⎡1  1  1  0⎤
//   G = ⎢½  ½  ½⎥   Bᵀ = ⎢0  1  1  0⎥   Aᵀ = ⎣0  1 −1 −1⎦
//       ⎢½ −½  ½⎥        ⎢0 −1  1  0⎥
//       ⎣0  0  1⎦        ⎣0  1  0 −1⎦

DISPATCHED
void ad_winograd_kernel_f32(const float *w, long cout, long cin, int transposed, float *u) {
    long k_count = transposed ? cin : cout, c_count = transposed ? cout : cin;
    for (long k = 0; k < k_count; k++) {
        for (long c = 0; c < c_count; c++) {
            float g[3][3];
            for (int p = 0; p < 3; p++) {
                for (int q = 0; q < 3; q++) {
                    g[p][q] = transposed ? w[((c * cin + k) * 3 + 2 - p) * 3 + 2 - q]
                                         : w[((k * cin + c) * 3 + p) * 3 + q];
                }
            }
            float t[4][3];  // G g
            for (int q = 0; q < 3; q++) {
                t[0][q] = g[0][q];
                t[1][q] = 0.5f * (g[0][q] + g[1][q] + g[2][q]);
                t[2][q] = 0.5f * (g[0][q] - g[1][q] + g[2][q]);
                t[3][q] = g[2][q];
            }
            for (int r = 0; r < 4; r++) {  // (G g) Gᵀ
                float row[4] = {t[r][0], 0.5f * (t[r][0] + t[r][1] + t[r][2]), 0.5f * (t[r][0] - t[r][1] + t[r][2]),
                                t[r][2]};
                for (int s = 0; s < 4; s++) u[((r * 4 + s) * k_count + k) * c_count + c] = row[s];
            }
        }
    }
}

// Tiles of a row transformed at once: one vector of floats.
#define LANES 8
typedef float f32x8 __attribute__((vector_size(32)));

// Unaligned vector loads and stores (macros: a vector argument of a function compiled for the
// baseline would change its ABI).
#define LOAD8(p)                                                                                   \
    ({                                                                                             \
        f32x8 loaded_;                                                                             \
        memcpy(&loaded_, (p), sizeof loaded_);                                                     \
        loaded_;                                                                                   \
    })
#define STORE8(p, v)                                                                               \
    do {                                                                                           \
        f32x8 stored_ = (v);                                                                       \
        memcpy((p), &stored_, sizeof stored_);                                                     \
    } while (0)

DISPATCHED
void ad_winograd_input_f32(const float *x, long images, long channels, long h, long w, long padTop, long padLeft,
                           long tilesH, long tilesW, float *v, long ldv) {
    // The tiles' reach of each image plane, zero outside it, split into its even and odd columns
    // (even[r][j] = x[r − padTop, 2j − padLeft], odd one column on): tile (ti, tj) reads columns
    // tj and tj + 1 of both, so a vector of neighbouring tiles is four unit-stride loads a row.
    long rows = 2 * tilesH + 2, vectors = (tilesW + LANES - 1) / LANES, width = vectors * LANES + LANES;
    float *even = malloc((size_t)(2 * rows * width) * sizeof(float));
    float *odd = even + rows * width;
    long tiles = tilesH * tilesW, positionStride = channels * ldv;
    for (long n = 0; n < images; n++) {
        for (long c = 0; c < channels; c++) {
            const float *image = x + (n * channels + c) * h * w;
            for (long r = 0; r < rows; r++) {
                long ih = r - padTop;
                float *e = even + r * width, *o = odd + r * width;
                if (ih < 0 || ih >= h) {
                    memset(e, 0, (size_t)width * sizeof(float));
                    memset(o, 0, (size_t)width * sizeof(float));
                    continue;
                }
                const float *line = image + ih * w;
                // Columns j whose two elements both lie in the image: 2j − padLeft ≥ 0 and
                // 2j − padLeft + 1 < w; the few others are checked one by one.
                long first = (padLeft + 1) / 2, end = (w + padLeft) / 2;
                if (end > width) end = width;
                if (first > end) first = end;
                for (long j = 0; j < first; j++) {
                    long iw = 2 * j - padLeft;
                    e[j] = (iw >= 0 && iw < w) ? line[iw] : 0.0f;
                    o[j] = (iw + 1 >= 0 && iw + 1 < w) ? line[iw + 1] : 0.0f;
                }
                const float *pairs = line + 2 * first - padLeft;
                for (long j = first; j < end; j++) {
                    e[j] = pairs[2 * (j - first)];
                    o[j] = pairs[2 * (j - first) + 1];
                }
                for (long j = end; j < width; j++) {
                    long iw = 2 * j - padLeft;
                    e[j] = (iw >= 0 && iw < w) ? line[iw] : 0.0f;
                    o[j] = (iw + 1 >= 0 && iw + 1 < w) ? line[iw + 1] : 0.0f;
                }
            }
            // The last vector of a row spills past it into the next row's (or image's) tiles,
            // which are written after it, or into the slack past the block's last tile.
            float *out = v + c * ldv + n * tiles;
            for (long ti = 0; ti < tilesH; ti++) {
                for (long tj = 0; tj < tilesW; tj += LANES) {
                    f32x8 d[4][4];
                    for (int a = 0; a < 4; a++) {
                        long r = (2 * ti + a) * width + tj;
                        d[a][0] = LOAD8(even + r);
                        d[a][1] = LOAD8(odd + r);
                        d[a][2] = LOAD8(even + r + 1);
                        d[a][3] = LOAD8(odd + r + 1);
                    }
                    f32x8 t[4][4];  // Bᵀ d
                    for (int b = 0; b < 4; b++) {
                        t[0][b] = d[0][b] - d[2][b];
                        t[1][b] = d[1][b] + d[2][b];
                        t[2][b] = d[2][b] - d[1][b];
                        t[3][b] = d[1][b] - d[3][b];
                    }
                    float *target = out + ti * tilesW + tj;
                    for (int a = 0; a < 4; a++) {  // (Bᵀ d) B
                        float *base = target + a * 4 * positionStride;
                        STORE8(base, t[a][0] - t[a][2]);
                        STORE8(base + positionStride, t[a][1] + t[a][2]);
                        STORE8(base + 2 * positionStride, t[a][2] - t[a][1]);
                        STORE8(base + 3 * positionStride, t[a][1] - t[a][3]);
                    }
                }
            }
        }
    }
    free(even);
}

DISPATCHED
void ad_winograd_output_f32(const float *m, long ldm, long images, long channels, long tilesH, long tilesW,
                            const float *bias, long oh, long ow, float *y) {
    long tiles = tilesH * tilesW, positionStride = channels * ldm;
    const float *last = y + images * channels * oh * ow;
    int single = tilesW <= LANES;
    for (long n = 0; n < images; n++) {
        for (long k = 0; k < channels; k++) {
            const float *source = m + k * ldm + n * tiles;
            float *plane = y + (n * channels + k) * oh * ow;
            f32x8 shift = {0};
            shift += bias ? bias[k] : 0.0f;
            for (long ti = 0; ti < tilesH; ti++) {
                float *top = plane + 2 * ti * ow;
                int second = 2 * ti + 1 < oh;
                for (long tj = 0; tj < tilesW; tj += LANES) {
                    // A vector of tiles reads past the row into the next tiles or the slack.
                    const float *row = source + ti * tilesW + tj;
                    f32x8 t[2][4];  // Aᵀ M
                    for (int b = 0; b < 4; b++) {
                        f32x8 m0 = LOAD8(row + b * positionStride), m1 = LOAD8(row + (4 + b) * positionStride);
                        f32x8 m2 = LOAD8(row + (8 + b) * positionStride), m3 = LOAD8(row + (12 + b) * positionStride);
                        t[0][b] = m0 + m1 + m2;
                        t[1][b] = m1 - m2 - m3;
                    }
                    long j = 2 * tj, count = ow - j < 2 * LANES ? ow - j : 2 * LANES;
                    for (int a = 0; a < 1 + second; a++) {  // (Aᵀ M) A, its two columns interleaved
                        f32x8 left = shift + t[a][0] + t[a][1] + t[a][2], right = shift + t[a][1] - t[a][2] - t[a][3];
                        f32x8 low = __builtin_shufflevector(left, right, 0, 8, 1, 9, 2, 10, 3, 11);
                        f32x8 high = __builtin_shufflevector(left, right, 4, 12, 5, 13, 6, 14, 7, 15);
                        float *target = top + a * ow + j;
                        if (count == 2 * LANES || (single && target + 2 * LANES <= last)) {
                            // With one vector a row of tiles, outputs past the row are the next
                            // row's or plane's, written later (with more, the next row's first
                            // outputs would already be written). Two vector stores: one memcpy
                            // for both cases, its size chosen at run time, was a call to libc
                            // for every store (8 % of cnn-mnist).
                            STORE8(target, low);
                            STORE8(target + LANES, high);
                        } else {
                            float pairs[2 * LANES];
                            STORE8(pairs, low);
                            STORE8(pairs + LANES, high);
                            memcpy(target, pairs, (size_t)count * sizeof(float));
                        }
                    }
                }
            }
        }
    }
}
