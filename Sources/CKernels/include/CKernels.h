// Numeric kernels written in C so that each can be compiled twice, for the x86-64-v3 level
// (AVX2 + FMA) and for the baseline, with the right one chosen once when the library loads
// (`target_clones`). Swift has no per-function target attribute, and building the whole
// package for AVX2 would need unsafe flags, which make a package unusable as a dependency.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stdint.h>

#include "activations.h"
#include "attention.h"
#include "gemm.h"
#include "isa.h"
#include "normalize.h"

/// C ← α·op(A)·op(B) + β·C + 1·biasᵀ (row-major, CBLAS conventions; `bias` has n elements, or is
/// NULL for none) for products with a side of at most a few elements, where BLAS's packing
/// dominates. C is not read when β = 0.
void ad_thin_gemm_f32(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                      const float *b, long ldb, float beta, const float *bias, float *c, long ldc);
void ad_thin_gemm_f64(int transA, int transB, long m, long n, long k, double alpha, const double *a, long lda,
                      const double *b, long ldb, double beta, const double *bias, double *c, long ldc);
/// ad_thin_gemm_* with a fused epilogue, for a captured step's rewrites: each element v of C,
/// after the bias, becomes `v > 0 ? v : 0` when `relu` is not 0 (the relu kernel's bits), then
/// `v·(dropScale·drop(i,j))` when `drop` (a 0/1 mask) is not NULL (dropout's backward, as
/// ad_masked_scale_*), then `keep(i,j) > 0 ? v : 0` when `keep` is not NULL (relu's backward); the
/// masks are laid out as C, with ldc. When `columnSums` is not NULL (B not transposed, ldb = n),
/// the sums of B's columns over its k rows are added into it in the order of ad_sum3d_* (a linear
/// layer's bias gradient beside its weight gradient).
void ad_thin_gemm_fused_f32(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                            const float *b, long ldb, float beta, const float *bias, int relu, const uint8_t *drop,
                            float dropScale, const float *keep, float *columnSums, float *c, long ldc);
void ad_thin_gemm_fused_f64(int transA, int transB, long m, long n, long k, double alpha, const double *a, long lda,
                            const double *b, long ldb, double beta, const double *bias, int relu, const uint8_t *drop,
                            double dropScale, const double *keep, double *columnSums, double *c, long ldc);

/// y[i] ← value where a uniform 32-bit draw is below `threshold`, else 0, for n elements — times
/// x[i] when `x` is not NULL (dropout), with keep[i] ← 1 or 0 when `keep` is not NULL (the mask
/// for dropout's backward pass). The draws come from eight 32-bit halves per step of four
/// xoshiro256** lanes, whose 16 words of state are read from and written back to `lanes`.
void ad_bernoulli_f32(float *y, const float *x, uint8_t *keep, long n, uint32_t threshold, float value,
                      uint64_t lanes[16]);
void ad_bernoulli_f64(double *y, const double *x, uint8_t *keep, long n, uint32_t threshold, double value,
                      uint64_t lanes[16]);

/// y[i] ← x[i]·(keep[i] ? scale : 0): dropout's backward pass (and its own derivative).
void ad_masked_scale_f32(float *y, const float *x, const uint8_t *keep, long n, float scale);
void ad_masked_scale_f64(double *y, const double *x, const uint8_t *keep, long n, double scale);

/// For each of `rows` rows of c (`ldc` apart; drop and keep rows too): with `relu`,
/// c ← (c > 0 ? c : 0); with `drop`, c ← c·(scale·drop); with `keep`, c ← (keep > 0 ? c : 0); in that
/// order (a product's epilogue when the product could not apply it as it stored C).
void ad_product_epilogue_f32(float *c, long rows, long columns, long ldc, int relu, const uint8_t *drop, float scale,
                             const float *keep);
void ad_product_epilogue_f64(double *c, long rows, long columns, long ldc, int relu, const uint8_t *drop,
                             double scale, const double *keep);

/// x[i] ← e^{x[i]} for n elements, eight at a time through glibc's libmvec on AVX2 machines
/// (e^{−∞} = 0).
void ad_exp_in_place_f32(float *x, long n);

/// One Adam (or AMSGrad, when vmax is not NULL) step over n parameters, in one pass:
/// m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; v̂ ← max(v̂, v) (AMSGrad) else v;
/// w ← w·decay − lr·(m·c₁)/(√(v̂·c₂) + ε). The arrays must not overlap.
void ad_adam_f32(float *w, const float *g, float *m, float *v, float *vmax, long n, float lr, float decay,
                 float beta1, float beta2, float c1, float c2, float epsilon);
void ad_adam_f64(double *w, const double *g, double *m, double *v, double *vmax, long n, double lr, double decay,
                 double beta1, double beta2, double c1, double c2, double epsilon);

/// Sets `rows` rows of `rowBytes` bytes, `strideBytes` apart, to zero bytes (+0.0 in IEEE 754),
/// through memset.
void ad_zero_rows(void *base, long rows, long rowBytes, long strideBytes);

/// seen[c] ← the or of the magnitude bits (all but the sign) of column c of the rows × columns
/// matrix a (leading dimension lda): nonzero exactly where the column holds a value other than
/// ±0 (NaN and ±∞ included). Returns how many columns are nonzero; stops early, returning a count
/// above `limit`, once more than `limit` are found.
long ad_nonzero_columns_f32(const float *a, long rows, long columns, long lda, uint32_t *seen, long limit);
long ad_nonzero_columns_f64(const double *a, long rows, long columns, long lda, uint64_t *seen, long limit);

/// Row r of packed (rows × count) ← the runs of row r of a (leading dimension lda) side by side;
/// runs holds nruns pairs (first column, length) whose lengths add up to count.
void ad_gather_runs_f32(const float *a, long rows, long lda, const long *runs, long nruns, float *packed, long count);
void ad_gather_runs_f64(const double *a, long rows, long lda, const long *runs, long nruns, double *packed,
                        long count);

/// acc[o·inner + j] += Σₖ x[(o·length + k)·inner + j]: the sum over the middle axis of x seen as
/// [outer, length, inner], added to acc ([outer, inner]).
void ad_sum3d_f32(const float *x, long outer, long length, long inner, float *acc);
void ad_sum3d_f64(const double *x, long outer, long length, long inner, double *acc);

/// Σᵢ softplus(zᵢ) − yᵢ·zᵢ (summed in double), with σ(zᵢ) into `sigmoid` when it is not NULL:
/// binary cross-entropy on logits. On AVX2 machines eight elements at a time through glibc's
/// vector exp and log1p (libmvec, ≤ 4 ulp), else one at a time through expf and log1pf.
double ad_sigmoid_cross_entropy_f32(const float *z, const float *y, long n, float *sigmoid);

/// Σᵢ logSumExp(zᵢ) − zᵢ[labelᵢ] over the rows of z ([rows, classes]), summed in double, with
/// softmax(zᵢ) into `probabilities` when it is not NULL: softmax cross-entropy. The exponentials
/// and logarithms run over whole arrays, eight at a time through libmvec on AVX2 machines.
double ad_softmax_cross_entropy_f32(const float *z, const long *labels, long rows, long classes,
                                    float *probabilities);

/// A part of a job run by ``ad_pool_run``: `task(context, part)`.
typedef void (*ad_pool_task)(void *context, long part);

/// Sets how many threads (the caller included) a job may use, creating the missing workers.
void ad_pool_set_width(int width);
/// How many threads (the caller included) a job may use; 1 until ``ad_pool_set_width``.
int ad_pool_width(void);
/// Runs task(context, p) for p in 0..<parts and returns when all are done: part 0 on the calling
/// thread, each other part on whichever thread (a worker or the caller) claims it first. With one
/// part, more parts than ``ad_pool_width()``, or another job running, the parts run on the
/// calling thread in order.
void ad_pool_run(long parts, ad_pool_task task, void *context);
/// The cores this process may use: its CPU affinity mask, bounded by its cgroup's CPU quota
/// (rounded up), at least 1.
int ad_available_cpus(void);

/// 2×2 max pooling with stride 2 and no padding over `planes` planes of h × w, into planes of
/// oh × ow (oh ≤ h/2, ow ≤ w/2): y ← the largest of each window's four elements, taken in
/// row-major order, an element replacing the best so far when greater or NaN (the first of equal
/// maxima wins); index ← its position row·w + column within the plane. Branch-free (max pooling's
/// comparisons are unpredictable on real data), so the compiler can vectorise it.
void ad_max_pool_2x2_f32(const float *x, long planes, long h, long w, long oh, long ow, float *y, long *index);
void ad_max_pool_2x2_f64(const double *x, long planes, long h, long w, long oh, long ow, double *y, long *index);

/// A convolution of one input channel, stride 1, no dilation, over `images` images of h × w into
/// [images, cout, oh, ow]: y[n, c, i, j] ← bias[c] + Σ_{p,q} weight[c, p, q]·x[n, i + p − padTop,
/// j + q − padLeft] (x zero outside the image; `bias` NULL for none). Each image is padded once
/// and each output row accumulated tap by tap, in place of a patch matrix and a K = kH·kW product.
void ad_conv_one_channel_f32(const float *x, long images, long h, long w, const float *weight, const float *bias,
                             long cout, long kh, long kw, long padTop, long padLeft, long oh, long ow, float *y);
void ad_conv_one_channel_f64(const double *x, long images, long h, long w, const double *weight, const double *bias,
                             long cout, long kh, long kw, long padTop, long padLeft, long oh, long ow, double *y);

/// The weight gradient of ``ad_conv_one_channel_f32`` over `images` images, added to gw
/// ([cout, kh, kw]): gw[c, p, q] += Σ_{n,i,j} gy[n, c, i, j]·x[n, i + p − padTop, j + q − padLeft],
/// summed per image over rows for each output column, then over the columns in order.
void ad_conv_one_channel_weight_gradient_f32(const float *x, long images, long h, long w, const float *gy, long cout,
                                             long kh, long kw, long padTop, long padLeft, long oh, long ow, float *gw);
void ad_conv_one_channel_weight_gradient_f64(const double *x, long images, long h, long w, const double *gy,
                                             long cout, long kh, long kw, long padTop, long padLeft, long oh, long ow,
                                             double *gw);

/// Winograd F(2×2, 3×3)'s kernel transform: u[r·4 + s, k, c] ← (G g Gᵀ)[r, s] for every 3×3 kernel
/// g of w ([cout, cin, 3, 3]), with k < cout and c < cin — or, when `transposed`, of the input
/// gradient's convolution (k < cin, c < cout, g[p, q] = w[c, k, 2 − p, 2 − q]).
void ad_winograd_kernel_f32(const float *w, long cout, long cin, int transposed, float *u);

/// Winograd F(2×2, 3×3)'s input transform of `images` images [channels, h, w]:
/// v[r·4 + s, c, n·tilesH·tilesW + ti·tilesW + tj] (positions `channels·ldv` apart, channels
/// `ldv` apart) ← (Bᵀ d B)[r, s] for the 4×4 tile d[a, b] = x[n, c, 2ti + a − padTop,
/// 2tj + b − padLeft] (zero outside the image). Rows are written in vectors of 8 tiles, so `ldv`
/// must leave 7 elements of slack past the last image's tiles.
void ad_winograd_input_f32(const float *x, long images, long channels, long h, long w, long padTop, long padLeft,
                           long tilesH, long tilesW, float *v, long ldv);

/// Winograd F(2×2, 3×3)'s output transform: y[n, k, 2ti + a, 2tj + b] ← bias[k] + (Aᵀ M A)[a, b]
/// with M[r, s] = m[r·4 + s, k, n·tilesH·tilesW + ti·tilesW + tj] (the layout of
/// ``ad_winograd_input_f32``, rows `ldm` apart, read in vectors of 8 tiles so with the same 7
/// elements of slack), for the outputs inside oh × ow (`bias` NULL: none).
void ad_winograd_output_f32(const float *m, long ldm, long images, long channels, long tilesH, long tilesW,
                            const float *bias, long oh, long ow, float *y);

#endif
