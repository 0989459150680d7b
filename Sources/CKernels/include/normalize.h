// Normalization kernels (normalize.c): per-group statistics, normalized output and the
// backward pass, for x seen as [outer, groups, inner] with each group's elements x[o, c, i].
#ifndef CKERNELS_NORMALIZE_H
#define CKERNELS_NORMALIZE_H

/// For the groups c in [first, last): μ_c = the mean and σ²_c = the biased variance of the
/// outer·inner elements x[o, c, i] (two passes, eight-lane float partial sums collected in
/// double), rstd_c = 1/√(σ²_c + epsilon), and out[o, c, i] = (x − μ_c)·rstd_c·scale[c] + shift[c]
/// (scale 1 and shift 0 where NULL); mean[c] ← μ_c, rstd[c] ← rstd_c.
void ad_normalize_f32(const float *x, long outer, long groups, long inner, long first, long last, double epsilon,
                      const float *scale, const float *shift, float *out, float *mean, float *rstd);

/// The backward pass of ad_normalize_f32 for the groups c in [first, last): with
/// x̂ = (x − mean[c])·rstd[c], sum_g[c] ← Σ g and sum_gxhat[c] ← Σ g·x̂ (in double), and
/// dx = scale[c]·rstd[c]·(g − Σg/n − x̂·Σgx̂/n) (scale 1 where NULL), n = outer·inner.
void ad_normalize_backward_f32(const float *g, const float *x, const float *mean, const float *rstd,
                               const float *scale, long outer, long groups, long inner, long first, long last,
                               float *dx, float *sum_g, float *sum_gxhat);

/// Layer normalization of the rows in [first, last) of x (rows of `width` elements): μ and
/// σ² (biased) of each row as ad_normalize_f32 computes them, rstd = 1/√(σ² + epsilon),
/// out[row, j] = (x[row, j] − μ)·rstd·weight[j] + bias[j] (weight 1, bias 0 where NULL);
/// mean[row] ← μ, rstd[row] ← rstd.
void ad_layer_norm_f32(const float *x, long width, long first, long last, double epsilon, const float *weight,
                       const float *bias, float *out, float *mean, float *rstd);

/// The backward pass of ad_layer_norm_f32 for the rows in [first, last): with
/// x̂ = (x − mean[row])·rstd[row] and gw = g·weight[j] (g where weight is NULL),
/// dx = rstd·(gw − Σⱼgw/width − x̂·Σⱼgw·x̂/width); weight_sums[j] ← Σ_rows g·x̂ and
/// bias_sums[j] ← Σ_rows g over these rows only (each NULL: not computed), the weight's and the
/// bias's gradients when the caller sums them over all rows.
void ad_layer_norm_backward_f32(const float *g, const float *x, const float *mean, const float *rstd,
                                const float *weight, long width, long first, long last, float *dx,
                                float *weight_sums, float *bias_sums);

#endif
