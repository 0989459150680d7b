// Which instruction set the C kernels run with, and each variant of every kernel by name, so
// that tests can run all the variants this CPU supports and compare them (isa.c).
#ifndef CKERNELS_ISA_H
#define CKERNELS_ISA_H

#include <stdint.h>

/// The instruction sets the kernels are compiled for: the x86-64 baseline (SSE2), x86-64-v3
/// (AVX2 + FMA) and x86-64-v4 (AVX-512 F, BW, CD, DQ, VL).
enum { AD_ISA_BASELINE = 0, AD_ISA_AVX2 = 1, AD_ISA_AVX512 = 2 };

/// The best of the instruction sets above that this CPU runs (AD_ISA_BASELINE off x86-64), asked
/// once: the one the loader picks for target_clones kernels and the hand-dispatched kernels use.
int ad_cpu_isa(void);

/// The float thin product (``ad_thin_gemm_f32``) compiled for AVX-512 with 16-float vectors;
/// only callable when ``ad_cpu_isa()`` is AD_ISA_AVX512.
void ad_thin_gemm_f32x16(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                         const float *b, long ldb, float beta, const float *bias, float *c, long ldc);

/// One variant of each kernel chosen at load time, all for the same instruction set: the
/// target_clones clone for that set (the float thin product and activations: their eight-wide
/// clone, or their sixteen-wide AVX-512 variant; the `…x8` fields are always the eight-wide
/// clone). Kernels dispatched by hand take the set as an argument instead
/// (`ad_transcendental_f32_isa`); the two loss kernels have their AVX2 and baseline paths only.
struct ad_kernel_variants {
    __typeof__(ad_thin_gemm_f32x16) *thin_gemm_f32;
    __typeof__(ad_thin_gemm_f32x16) *thin_gemm_f32x8;
    void (*thin_gemm_f64)(int transA, int transB, long m, long n, long k, double alpha, const double *a, long lda,
                          const double *b, long ldb, double beta, const double *bias, double *c, long ldc);
    void (*bernoulli_f32)(float *y, const float *x, uint8_t *keep, long n, uint32_t threshold, float value,
                          uint64_t lanes[16]);
    void (*bernoulli_f64)(double *y, const double *x, uint8_t *keep, long n, uint32_t threshold, double value,
                          uint64_t lanes[16]);
    void (*masked_scale_f32)(float *y, const float *x, const uint8_t *keep, long n, float scale);
    void (*masked_scale_f64)(double *y, const double *x, const uint8_t *keep, long n, double scale);
    void (*adam_f32)(float *w, const float *g, float *m, float *v, float *vmax, long n, float lr, float decay,
                     float beta1, float beta2, float c1, float c2, float epsilon);
    void (*adam_f64)(double *w, const double *g, double *m, double *v, double *vmax, long n, double lr,
                     double decay, double beta1, double beta2, double c1, double c2, double epsilon);
    void (*sum3d_f32)(const float *x, long outer, long length, long inner, float *acc);
    void (*sum3d_f64)(const double *x, long outer, long length, long inner, double *acc);
    long (*nonzero_columns_f32)(const float *a, long rows, long columns, long lda, uint32_t *seen, long limit);
    long (*nonzero_columns_f64)(const double *a, long rows, long columns, long lda, uint64_t *seen, long limit);
    void (*gather_runs_f32)(const float *a, long rows, long lda, const long *runs, long nruns, float *packed,
                            long count);
    void (*gather_runs_f64)(const double *a, long rows, long lda, const long *runs, long nruns, double *packed,
                            long count);
    void (*activation_f32)(int kind, const float *x, float *y, long n, float alpha);
    void (*activation_f32x8)(int kind, const float *x, float *y, long n, float alpha);
    void (*activation_backward_f32)(int kind, const float *g, const float *x, float *out, long n, float alpha);
    void (*activation_backward_f32x8)(int kind, const float *g, const float *x, float *out, long n, float alpha);
    void (*normalize_f32)(const float *x, long outer, long groups, long inner, long first, long last,
                          double epsilon, const float *scale, const float *shift, float *out, float *mean,
                          float *rstd);
    void (*normalize_backward_f32)(const float *g, const float *x, const float *mean, const float *rstd,
                                   const float *scale, long outer, long groups, long inner, long first, long last,
                                   float *dx, float *sum_g, float *sum_gxhat);
    void (*layer_norm_f32)(const float *x, long width, long first, long last, double epsilon, const float *weight,
                           const float *bias, float *out, float *mean, float *rstd);
    void (*layer_norm_backward_f32)(const float *g, const float *x, const float *mean, const float *rstd,
                                    const float *weight, long width, long first, long last, float *dx,
                                    float *weight_sums, float *bias_sums);
    void (*max_pool_2x2_f32)(const float *x, long planes, long h, long w, long oh, long ow, float *y, long *index);
    void (*max_pool_2x2_f64)(const double *x, long planes, long h, long w, long oh, long ow, double *y,
                             long *index);
    void (*conv_one_channel_f32)(const float *x, long images, long h, long w, const float *weight,
                                 const float *bias, long cout, long kh, long kw, long padTop, long padLeft, long oh,
                                 long ow, float *y);
    void (*conv_one_channel_weight_gradient_f32)(const float *x, long images, long h, long w, const float *gy,
                                                 long cout, long kh, long kw, long padTop, long padLeft, long oh,
                                                 long ow, float *gw);
    void (*winograd_kernel_f32)(const float *w, long cout, long cin, int transposed, float *u);
    void (*winograd_input_f32)(const float *x, long images, long channels, long h, long w, long padTop,
                               long padLeft, long tilesH, long tilesW, float *v, long ldv);
    void (*winograd_output_f32)(const float *m, long ldm, long images, long channels, long tilesH, long tilesW,
                                const float *bias, long oh, long ow, float *y);
};

/// The kernels compiled for `isa` (AD_ISA_*), or NULL when this CPU cannot run them or the
/// library was built without target_clones (AD_NO_TARGET_CLONES, the sanitizer builds), where
/// only AD_ISA_BASELINE is available (the one compiled variant).
const struct ad_kernel_variants *ad_kernel_variants(int isa);

#endif
