import AutoDiff

/// Layers applied in order: `y = fₙ(…f₂(f₁(x)))`. Its children are named `layers.0`,
/// `layers.1`, …, so parameters read `layers.0.weight`, as in PyTorch's `nn.Sequential` under a
/// `layers` attribute.
///
/// ```swift
/// var g = RandomGenerator(seed: 42)
/// let model = Sequential<Float> {
///     Linear(2, 8, generator: &g)
///     ReLU()
///     Linear(8, 1, generator: &g)
///     Sigmoid()
/// }
/// ```
public final class Sequential<Scalar: TensorScalar>: Layer {
    /// The layers, applied in order.
    public private(set) var layers: [any Layer<Scalar>]

    /// A model applying `layers` in order.
    public init(_ layers: [any Layer<Scalar>]) { self.layers = layers }

    /// A model applying the layers listed in `build`, one per line.
    public init(@LayerBuilder<Scalar> _ build: () -> [any Layer<Scalar>]) { layers = build() }

    /// A multilayer perceptron: `Linear(widths[0], widths[1])`, `activation`, …, and the last
    /// `Linear(widths[n−2], widths[n−1])` followed by `output` (``Activation/identity`` by
    /// default, i.e. logits). Linear layers sit at even indices: `layers.0`, `layers.2`, ….
    ///
    /// ```swift
    /// let mlp = Sequential<Float>(mlp: [2, 8, 8, 1], activation: .relu, output: .sigmoid, generator: &g)
    /// ```
    public convenience init(
        mlp widths: [Int], activation: Activation, output: Activation = .identity,
        weightInitializer: Initializer = .xavierUniform, generator: inout RandomGenerator
    ) {
        guard widths.count >= 2 else { tensorFailure("Sequential(mlp:): needs at least 2 widths, got \(widths)") }
        var layers: [any Layer<Scalar>] = []
        for i in 0..<(widths.count - 1) {
            layers.append(Linear<Scalar>(widths[i], widths[i + 1], weightInitializer: weightInitializer, generator: &generator))
            let act = i == widths.count - 2 ? output : activation
            if let layer: any Layer<Scalar> = act.layer() { layers.append(layer) }
        }
        self.init(layers)
    }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        var x = input
        for layer in layers { x = layer(x) }
        return x
    }

    public var children: [(name: String, layer: any Layer<Scalar>)] {
        layers.enumerated().map { ("layers.\($0.offset)", $0.element) }
    }

    /// Adds a layer at the end.
    public func append(_ layer: any Layer<Scalar>) { layers.append(layer) }
}

/// Builds a list of layers from a closure with one layer per line (`if`, `for` and `if`/`else`
/// allowed).
@resultBuilder
public enum LayerBuilder<Scalar: TensorScalar> {
    /// One layer on a line.
    public static func buildExpression(_ layer: any Layer<Scalar>) -> [any Layer<Scalar>] { [layer] }
    /// A list of layers on a line, spliced in.
    public static func buildExpression(_ layers: [any Layer<Scalar>]) -> [any Layer<Scalar>] { layers }
    /// The lines of a block, in order.
    public static func buildBlock(_ parts: [any Layer<Scalar>]...) -> [any Layer<Scalar>] { parts.flatMap { $0 } }
    /// An `if` without `else`: its layers, or none.
    public static func buildOptional(_ part: [any Layer<Scalar>]?) -> [any Layer<Scalar>] { part ?? [] }
    /// The `if` branch of an `if`/`else`.
    public static func buildEither(first: [any Layer<Scalar>]) -> [any Layer<Scalar>] { first }
    /// The `else` branch of an `if`/`else`.
    public static func buildEither(second: [any Layer<Scalar>]) -> [any Layer<Scalar>] { second }
    /// A `for` loop: the layers of every iteration, in order.
    public static func buildArray(_ parts: [[any Layer<Scalar>]]) -> [any Layer<Scalar>] { parts.flatMap { $0 } }
}
