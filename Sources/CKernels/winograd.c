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
                    g[p][q] = transposed ? w[((c * cin + k) * 3 + 2 - p) * 3 + 2 - q] : w[((k * cin + c) * 3 + p) * 3 + q];
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

DISPATCHED
void ad_winograd_input_f32(const float *x, long images, long channels, long h, long w, long padTop, long padLeft,
                           long tilesH, long tilesW, float *v, long ldv) {
    long rows = 2 * tilesH + 2, columns = 2 * tilesW + 2;
    float *plane = calloc((size_t)(rows * columns), sizeof(float));
    long tiles = tilesH * tilesW;
    for (long n = 0; n < images; n++) {
        for (long c = 0; c < channels; c++) {
            const float *image = x + (n * channels + c) * h * w;
            // The tiles' reach of the image, zero outside it (the borders stay zero between planes).
            for (long r = 0; r < rows; r++) {
                long ih = r - padTop;
                float *target = plane + r * columns;
                if (ih < 0 || ih >= h) {
                    memset(target, 0, (size_t)columns * sizeof(float));
                    continue;
                }
                for (long s = 0; s < columns; s++) {
                    long iw = s - padLeft;
                    target[s] = (iw >= 0 && iw < w) ? image[ih * w + iw] : 0.0f;
                }
            }
            float *out = v + c * ldv + n * tiles;
            long positionStride = channels * ldv;
            for (long ti = 0; ti < tilesH; ti++) {
                const float *top = plane + 2 * ti * columns;
                float *row = out + ti * tilesW;
                for (long tj = 0; tj < tilesW; tj++) {
                    const float *d = top + 2 * tj;
                    float t[4][4];  // Bᵀ d
                    for (int s = 0; s < 4; s++) {
                        float d0 = d[s], d1 = d[columns + s], d2 = d[2 * columns + s], d3 = d[3 * columns + s];
                        t[0][s] = d0 - d2;
                        t[1][s] = d1 + d2;
                        t[2][s] = d2 - d1;
                        t[3][s] = d1 - d3;
                    }
                    for (int r = 0; r < 4; r++) {  // (Bᵀ d) B
                        float *base = row + tj + r * 4 * positionStride;
                        base[0] = t[r][0] - t[r][2];
                        base[positionStride] = t[r][1] + t[r][2];
                        base[2 * positionStride] = t[r][2] - t[r][1];
                        base[3 * positionStride] = t[r][1] - t[r][3];
                    }
                }
            }
        }
    }
    free(plane);
}

DISPATCHED
void ad_winograd_output_f32(const float *m, long ldm, long images, long channels, long tilesH, long tilesW,
                            const float *bias, long oh, long ow, float *y) {
    long tiles = tilesH * tilesW, positionStride = channels * ldm;
    for (long n = 0; n < images; n++) {
        for (long k = 0; k < channels; k++) {
            const float *source = m + k * ldm + n * tiles;
            float *plane = y + (n * channels + k) * oh * ow;
            float shift = bias ? bias[k] : 0.0f;
            for (long ti = 0; ti < tilesH; ti++) {
                const float *row = source + ti * tilesW;
                float *top = plane + 2 * ti * ow;
                int second = 2 * ti + 1 < oh;
                for (long tj = 0; tj < tilesW; tj++) {
                    float t[2][4];  // Aᵀ M
                    for (int s = 0; s < 4; s++) {
                        float m0 = row[tj + s * positionStride], m1 = row[tj + (4 + s) * positionStride];
                        float m2 = row[tj + (8 + s) * positionStride], m3 = row[tj + (12 + s) * positionStride];
                        t[0][s] = m0 + m1 + m2;
                        t[1][s] = m1 - m2 - m3;
                    }
                    long j = 2 * tj;
                    top[j] = shift + t[0][0] + t[0][1] + t[0][2];
                    if (j + 1 < ow) top[j + 1] = shift + t[0][1] - t[0][2] - t[0][3];
                    if (second) {
                        top[ow + j] = shift + t[1][0] + t[1][1] + t[1][2];
                        if (j + 1 < ow) top[ow + j + 1] = shift + t[1][1] - t[1][2] - t[1][3];
                    }
                }
            }
        }
    }
}
