import AutoDiff

/// `max(x, 0)` as a layer.
public final class ReLU<Scalar: TensorScalar>: Layer {
    /// The activation as a layer; it has no parameters.
    public init() {}
    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> { input.relu() }
}

/// `x` for `x > 0`, else `slope·x`, as a layer.
public final class LeakyReLU<Scalar: TensorScalar>: Layer {
    /// The slope for negative inputs.
    public let slope: Scalar
    /// A leaky ReLU with `slope` for negative inputs (PyTorch's default 0.01).
    public init(slope: Scalar = 0.01) { self.slope = slope }
    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> { input.leakyRelu(slope: slope) }
}

/// `σ(x) = 1/(1 + e⁻ˣ)` as a layer (for a binary output, prefer raw logits with
/// ``binaryCrossEntropy(logits:targets:)``).
public final class Sigmoid<Scalar: TensorScalar>: Layer {
    /// The activation as a layer; it has no parameters.
    public init() {}
    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> { input.sigmoid() }
}

/// `tanh x` as a layer.
public final class Tanh<Scalar: TensorScalar>: Layer {
    /// The activation as a layer; it has no parameters.
    public init() {}
    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> { input.tanh() }
}

/// `softmax(x)ᵢ = e^{xᵢ}/Σⱼe^{xⱼ}` along `axis` (the last by default) as a layer. For training,
/// prefer leaving it out and using ``softmaxCrossEntropy(logits:labels:)-(_,[Int])`` on the logits.
public final class Softmax<Scalar: TensorScalar>: Layer {
    /// The axis normalised over.
    public let axis: Int
    /// A softmax over `axis` (negative counts from the last axis).
    public init(axis: Int = -1) { self.axis = axis }
    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> { input.softmax(alongAxis: axis) }
}

/// GELU as a layer: `x·Φ(x)` exact, or PyTorch's `approximate='tanh'` form
/// (`Tensor.gelu(approximate:)`).
public final class GELU<Scalar: TensorScalar>: Layer {
    /// Exact (`.none`) or the tanh approximation.
    public let approximate: GELUApproximation
    /// A GELU layer, exact by default.
    public init(approximate: GELUApproximation = .none) { self.approximate = approximate }
    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> { input.gelu(approximate: approximate) }
}

/// SiLU (swish), `x·σ(x)`, as a layer.
public final class SiLU<Scalar: TensorScalar>: Layer {
    /// A SiLU layer.
    public init() {}
    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> { input.silu() }
}

/// ELU, `x` for `x > 0`, else `α·(eˣ − 1)`, as a layer.
public final class ELU<Scalar: TensorScalar>: Layer {
    /// `α`, the negative saturation value's magnitude.
    public let alpha: Scalar
    /// An ELU layer with `α = alpha` (1 by default, as PyTorch).
    public init(alpha: Scalar = 1) { self.alpha = alpha }
    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> { input.elu(alpha: alpha) }
}

/// `log softmax(x) = x − log Σ eˣ` along `axis` (the last by default) as a layer, stable for
/// any magnitude.
public final class LogSoftmax<Scalar: TensorScalar>: Layer {
    /// The axis normalised over.
    public let axis: Int
    /// A log-softmax layer over `axis` (the last by default).
    public init(axis: Int = -1) { self.axis = axis }
    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> { input.logSoftmax(alongAxis: axis) }
}

/// The activation functions by name, for ``Sequential/init(mlp:activation:output:weightInitializer:generator:)``.
public enum Activation: Sendable, Hashable {
    /// ``ReLU``: `max(x, 0)`.
    case relu
    /// ``LeakyReLU``: `x` for `x > 0`, else `slope·x`.
    case leakyRelu(slope: Double)
    /// ``Sigmoid``: `σ(x) = 1/(1 + e⁻ˣ)`.
    case sigmoid
    /// ``Tanh``: `tanh x`.
    case tanh
    /// ``Softmax`` over the last axis.
    case softmax
    /// ``GELU``, exact or tanh-approximated.
    case gelu(approximate: GELUApproximation)
    /// ``SiLU``: `x·σ(x)`.
    case silu
    /// ``ELU`` with its `α`.
    case elu(alpha: Double)
    /// No activation (the layer's output is passed on unchanged).
    case identity

    /// A new layer computing this activation, or `nil` for ``identity``.
    public func layer<Scalar: TensorScalar>(_: Scalar.Type = Scalar.self) -> (any Layer<Scalar>)? {
        switch self {
        case .relu: ReLU<Scalar>()
        case .leakyRelu(let slope): LeakyReLU<Scalar>(slope: Scalar(slope))
        case .sigmoid: Sigmoid<Scalar>()
        case .tanh: Tanh<Scalar>()
        case .softmax: Softmax<Scalar>()
        case .gelu(let approximate): GELU<Scalar>(approximate: approximate)
        case .silu: SiLU<Scalar>()
        case .elu(let alpha): ELU<Scalar>(alpha: Scalar(alpha))
        case .identity: nil
        }
    }
}
