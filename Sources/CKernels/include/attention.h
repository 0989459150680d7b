// Scaled dot-product attention kernels (attention.c): for the heads b in [first, last) of
// query [batch, tq, d], key [batch, tk, d] and value [batch, tk, dv] (rows where `layout` says),
// each query row i sees the
// key rows j < tk (j ≤ i when `causal`); `mask` (NULL for none) is added to the scores and is
// [tq, tk] for every head when `shared_mask`, else [batch, tq, tk].
#ifndef CKERNELS_ATTENTION_H
#define CKERNELS_ATTENTION_H

/// Where one operand's rows lie: row i of head b starts at
/// offset + (b / heads)·batch_stride + (b % heads)·head_stride + i·row_stride; rows are contiguous.
typedef struct {
    long offset, batch_stride, head_stride, row_stride;
} ad_attention_operand;

/// The layouts of q, k, v (and their gradients) and of out (and the upstream gradient), with
/// `heads` heads per batch entry. lse and probabilities are always contiguous.
typedef struct {
    long heads;
    ad_attention_operand q, k, v, o;
} ad_attention_layout;

/// s[j] = scale·q_i·k_j + mask[i, j], then out_i = Σ_j softmax(s)_j·v_j and lse[i] = log Σ_j e^{s[j]}
/// (the max subtracted first); a row whose scores are all −∞ gives out_i = 0 and lse[i] = −∞.
/// probabilities ([batch, tq, tk], or NULL) ← softmax(s), 0 where hidden.
void ad_attention_f32(const float *q, const float *k, const float *v, const float *mask,
                      const ad_attention_layout *layout, long batch, long tq, long tk, long d, long dv, double scale,
                      int causal, int shared_mask, long first, long last, float *out, float *lse,
                      float *probabilities);
void ad_attention_f64(const double *q, const double *k, const double *v, const double *mask,
                      const ad_attention_layout *layout, long batch, long tq, long tk, long d, long dv, double scale,
                      int causal, int shared_mask, long first, long last, double *out, double *lse,
                      double *probabilities);

/// The backward pass from the upstream gradient go [batch, tq, dv], the forward's out and lse:
/// p = e^{s − lse} (0 where lse is −∞; read from the forward's probabilities when not NULL),
/// δ_i = go_i·out_i, dv_j = Σ_i p_ij·go_i,
/// ds_ij = p_ij·(go_i·v_j − δ_i), dq_i = scale·Σ_j ds_ij·k_j, dk_j = scale·Σ_i ds_ij·q_i. The
/// heads' rows of dq, dk and dv are overwritten.
void ad_attention_backward_f32(const float *go, const float *q, const float *k, const float *v, const float *mask,
                               const float *out, const float *lse, const float *probabilities,
                               const ad_attention_layout *layout, long batch, long tq, long tk, long d, long dv,
                               double scale, int causal, int shared_mask, long first, long last, float *dq,
                               float *dk, float *dvalue);
void ad_attention_backward_f64(const double *go, const double *q, const double *k, const double *v,
                               const double *mask, const double *out, const double *lse,
                               const double *probabilities, const ad_attention_layout *layout, long batch, long tq,
                               long tk, long d, long dv, double scale, int causal, int shared_mask, long first,
                               long last, double *dq, double *dk, double *dvalue);

#endif
