import AutoDiff

/// How a weight matrix of shape `[fanIn, fanOut]` (or a bias) is filled at creation.
///
/// All random initializers draw from the `RandomGenerator` passed to the layer, so a seed fixes
/// the model.
public enum Initializer: Sendable, Hashable {
    /// Glorot & Bengio (2010): `U(−a, a)` with `a = √(6 / (fanIn + fanOut))`, so that
    /// `Var(w) = 2 / (fanIn + fanOut)`. Suited to tanh and sigmoid.
    case xavierUniform
    /// Glorot & Bengio (2010): `N(0, σ²)` with `σ = √(2 / (fanIn + fanOut))`.
    case xavierNormal
    /// He et al. (2015): `U(−a, a)` with `a = √(6 / fanIn)`, so that `Var(w) = 2 / fanIn`.
    /// Suited to ReLU.
    case heUniform
    /// He et al. (2015): `N(0, σ²)` with `σ = √(2 / fanIn)`.
    case heNormal
    /// `scale · N(0, 1)`: the "Neural Networks from Scratch" default is `scale = 0.01`
    /// (``tutorialNormal``).
    case scaledNormal(Double)
    /// Every element 0 (the usual bias initializer).
    case zeros
    /// Every element `c`.
    case constant(Double)
    /// `U(−bound, bound)`, whatever the shape. PyTorch's default for `nn.Linear(in, out)` draws
    /// both the weights and the biases this way with `bound = 1/√in` (kaiming-uniform with
    /// a = √5): ``pytorchLinear(inputs:)``.
    case uniform(bound: Double)

    /// PyTorch's default for the weights and biases of a linear layer with `inputs` inputs:
    /// `U(−1/√inputs, 1/√inputs)`.
    public static func pytorchLinear(inputs: Int) -> Initializer {
        .uniform(bound: 1 / Double(max(inputs, 1)).squareRoot())
    }

    /// The book's `0.01 · np.random.randn(fanIn, fanOut)`.
    public static let tutorialNormal = Initializer.scaledNormal(0.01)

    /// A tensor of `shape` filled by this rule. For a 2-D shape `fanIn = shape[0]` and
    /// `fanOut = shape[1]`; for a 1-D shape both are `shape[0]`.
    public func make<Scalar: TensorScalar>(
        _ shape: [Int], generator: inout RandomGenerator
    ) -> Tensor<Scalar> {
        let fanIn = Double(shape.first ?? 1)
        let fanOut = Double(shape.count >= 2 ? shape[1] : (shape.first ?? 1))
        switch self {
        case .xavierUniform:
            let a = Scalar((6 / (fanIn + fanOut)).squareRoot())
            return Tensor.randomUniform(shape, low: -a, high: a, generator: &generator)
        case .xavierNormal:
            return Tensor.randomNormal(
                shape, standardDeviation: Scalar((2 / (fanIn + fanOut)).squareRoot()), generator: &generator)
        case .heUniform:
            let a = Scalar((6 / fanIn).squareRoot())
            return Tensor.randomUniform(shape, low: -a, high: a, generator: &generator)
        case .heNormal:
            return Tensor.randomNormal(
                shape, standardDeviation: Scalar((2 / fanIn).squareRoot()), generator: &generator)
        case .scaledNormal(let scale):
            return Tensor.randomNormal(shape, standardDeviation: Scalar(scale), generator: &generator)
        case .zeros:
            return Tensor.zeros(shape)
        case .constant(let c):
            return Tensor.full(shape, Scalar(c))
        case .uniform(let bound):
            return Tensor.randomUniform(shape, low: -Scalar(bound), high: Scalar(bound), generator: &generator)
        }
    }
}
