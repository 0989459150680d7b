/// The vocabulary of numeric kernels: what every backend must compute.
///
/// Ops in `Ops/` never loop over elements themselves; they describe the work with these codes and
/// hand it to the element type's kernels (``TensorScalar``), which run it on the CPU today. A
/// second backend implements the same codes for its own buffers.

/// Elementwise functions of one tensor.
public enum UnaryKernel<Scalar: TensorScalar>: Sendable {
    case negate, exp, log, sqrt, abs, sin, cos, tanh, sigmoid, relu, softplus
    /// `sign(x)`: -1, 0 or 1.
    case sign
    /// `1` where `x > 0`, else `0` (relu's derivative).
    case positive
    case addScalar(Scalar)
    case multiplyScalar(Scalar)
    case powerScalar(Scalar)
    case leakyRelu(Scalar)
    /// `1` where `x > 0`, else the slope (leakyRelu's derivative).
    case leakyReluSlope(Scalar)
    case clamp(Scalar, Scalar)
    /// `1` where `lo ≤ x ≤ hi`, else `0` (clamp's derivative).
    case inside(Scalar, Scalar)
    /// Comparisons with a scalar, giving 1 or 0.
    case greaterThanScalar(Scalar)
    case lessThanScalar(Scalar)
    case equalToScalar(Scalar)
}

/// Elementwise functions of two tensors (after broadcasting).
public enum BinaryKernel: Sendable {
    case add, subtract, multiply, divide, power, maximum, minimum
    /// `1` where `a > b`, `½` where `a == b`, else `0` (maximum's derivative for `a`).
    case greaterMask
    /// `g·(1 − y²)` with `a = g`, `b = y`: tanh's derivative.
    case tanhBackward
    /// `g·y·(1 − y)` with `a = g`, `b = y`: sigmoid's derivative.
    case sigmoidBackward
    /// `g` where `x > 0`, else `0`, with `a = g`, `b = x`: relu's derivative in one pass.
    case reluBackward
    /// Comparisons giving 1 or 0.
    case less, lessEqual, greater, greaterEqual, equal, notEqual
}

/// Reductions along a run of elements.
public enum ReductionKernel: Sendable {
    case sum, max, min

    func identity<Scalar: TensorScalar>(_: Scalar.Type) -> Scalar {
        switch self {
        case .sum: 0
        case .max: -.infinity
        case .min: .infinity
        }
    }
}

/// One optimizer step over a parameter, its gradient and its state, fused into one pass (the
/// optimizers in NN describe their step with these; the loops run behind the kernel seam, so a
/// second backend updates parameters where they live). `decay` is the decoupled weight-decay
/// factor `1 − lr·λ` applied to the weight first.
public enum UpdateKernel<Scalar: TensorScalar>: Sendable {
    /// `b ← μ·b + g; w ← w·decay − lr·(g + μ·b)` (Nesterov) or `− lr·b`; plain SGD when `μ = 0`
    /// (then no state). State: the momentum buffer.
    case sgd(lr: Scalar, decay: Scalar, momentum: Scalar, nesterov: Bool)
    /// `s ← s + g²; w ← w·decay − lr·g/(√s + ε)`. State: the running sum.
    case adagrad(lr: Scalar, decay: Scalar, epsilon: Scalar)
    /// `a ← ρ·a + (1 − ρ)·g²; w ← w·decay − lr·g/(√a + ε)`. State: the running average.
    case rmsprop(lr: Scalar, decay: Scalar, rho: Scalar, epsilon: Scalar)
    /// `m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; w ← w·decay − lr·(m·c₁)/(√(v̂·c₂) + ε)` with
    /// `c₁ = 1/(1 − β₁ᵗ)`, `c₂ = 1/(1 − β₂ᵗ)` and `v̂ = v`, or `max(v̂_prev, v)` for AMSGrad.
    /// State: m, v (and v̂ for AMSGrad).
    case adam(
        lr: Scalar, decay: Scalar, beta1: Scalar, beta2: Scalar, c1: Scalar, c2: Scalar, epsilon: Scalar, amsgrad: Bool)
}
