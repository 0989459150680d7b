// Activation kernels (activations.c): GELU (exact and tanh), SiLU and ELU and their derivatives,
// eight floats at a time with a vectorised exponential on AVX2 machines.
#ifndef CKERNELS_ACTIVATIONS_H
#define CKERNELS_ACTIVATIONS_H

/// Which activation: y = x·Φ(x) (AD_GELU; Φ through an erf with absolute error below 2e-7, as
/// PyTorch's vectorised one), x·σ(2·√(2/π)·(x + 0.044715·x³)) (AD_GELU_TANH, which equals
/// ½·x·(1 + tanh(…))), x·σ(x) (AD_SILU), x for x > 0 else α·(eˣ − 1) (AD_ELU).
enum { AD_GELU = 0, AD_GELU_TANH = 1, AD_SILU = 2, AD_ELU = 3 };

/// y[i] = f(x[i]) for n elements (alpha is ELU's α, ignored by the others).
void ad_activation_f32(int kind, const float *x, float *y, long n, float alpha);

/// out[i] = g[i]·f′(x[i]) for n elements: the activation's backward pass.
void ad_activation_backward_f32(int kind, const float *g, const float *x, float *out, long n, float alpha);

/// Which function ``ad_transcendental_f32`` computes: eˣ (AD_MATH_EXP), tanh x (AD_MATH_TANH),
/// the logistic σ(x) = 1/(1 + e⁻ˣ) (AD_MATH_SIGMOID, as 1/(1 + e^{−|x|}) for x ≥ 0 and
/// e^{−|x|}/(1 + e^{−|x|}) below, so nothing overflows).
enum { AD_MATH_EXP = 0, AD_MATH_TANH = 1, AD_MATH_SIGMOID = 2 };

/// y[i] = f(x[i]) for n elements (x and y may be the same array): through glibc's libmvec
/// (`_ZGVeN16v_expf`, `_ZGVeN16v_tanhf`, and their eight-wide AVX2 versions; within 4 ulp of the
/// correctly rounded result, see TranscendentalTests) on AVX2 and AVX-512 machines, else through
/// libm's expf and tanhf one element at a time (the results of the Swift loops).
void ad_transcendental_f32(int kind, const float *x, float *y, long n);

/// ``ad_transcendental_f32`` with the instruction set (AD_ISA_*) chosen by the caller, which
/// must be one ``ad_cpu_isa()`` allows: for tests that compare the variants.
void ad_transcendental_f32_isa(int isa, int kind, const float *x, float *y, long n);

#endif
