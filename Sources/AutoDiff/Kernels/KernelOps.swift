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
