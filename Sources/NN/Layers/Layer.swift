import AutoDiff

/// A trainable tensor owned by a layer: a leaf of the tape that keeps its identity for the whole
/// life of the model.
///
/// Optimizers and ``Layer/loadParameters(from:)`` write into ``value`` in place (through
/// `withUnsafeMutableBufferPointer`), so the leaf a graph was recorded against is the leaf that
/// gets updated; nothing ever replaces it behind the model's back.
///
/// **Gradients accumulate** into ``grad`` on each `backward()`, as in PyTorch: call
/// ``Optimizer/zeroGrad()`` (or ``Layer/zeroGrad()``) once per step.
public final class Parameter<Scalar: TensorScalar> {
    /// Whether the parameter is a weight matrix or a bias (regularizers treat them separately).
    public enum Role: String, Sendable {
        /// A weight matrix (or any parameter that is not a bias).
        case weight
        /// A bias vector, added after the product.
        case bias
    }

    /// The current value, a leaf that requires gradients.
    public var value: Tensor<Scalar>
    /// Weight or bias.
    public let role: Role

    /// Wraps `value` as a new leaf that requires gradients.
    public init(_ value: Tensor<Scalar>, role: Role = .weight) {
        self.value = value.detached().requiringGrad()
        self.role = role
    }

    /// The gradient accumulated by `backward()`, `nil` before the first one reaches it.
    public var grad: Tensor<Scalar>? { value.grad }
    /// The shape of ``value``.
    public var shape: [Int] { value.shape }
    /// Clears the accumulated gradient.
    public func zeroGrad() { value.zeroGrad() }
}

/// A named parameter: its stable path in the model (`layers.0.weight`) and the parameter.
public struct NamedParameter<Scalar: TensorScalar> {
    /// The path, e.g. `layers.0.weight`.
    public let name: String
    /// The parameter.
    public let parameter: Parameter<Scalar>
}

/// Non-trainable state of a layer that is saved and loaded with the model, as PyTorch's
/// buffers are: BatchNorm's running mean and variance and its batch count.
///
/// A buffer is a constant tensor (it never requires gradients): optimizers do not see it
/// (``Layer/parameters`` lists parameters only), the layer updates it without recording, and
/// ``Layer/saveParameters(to:metadata:)``, ``Layer/loadParameters(from:)`` and ``Checkpoint``
/// save and restore it beside the parameters under its path (`layers.1.running_mean`).
public final class LayerBuffer<Scalar: TensorScalar> {
    /// The current value (a constant, replaced as a whole when the layer updates it).
    public var value: Tensor<Scalar>

    /// A buffer holding `value`, detached from any tape.
    public init(_ value: Tensor<Scalar>) { self.value = value.detached() }

    /// The shape of ``value``.
    public var shape: [Int] { value.shape }

    /// Makes `newValue` (of the buffer's shape, already checked by the loaders) the value, detached
    /// and on the buffer's device.
    func assign(_ newValue: Tensor<Scalar>) { value = newValue.detached().to(value.device) }
}

/// A named buffer: its stable path in the model (`layers.1.running_var`) and the buffer.
public struct NamedBuffer<Scalar: TensorScalar> {
    /// The path, e.g. `layers.1.running_var`.
    public let name: String
    /// The buffer.
    public let buffer: LayerBuffer<Scalar>
}

/// A building block of a model: a function of one tensor with (possibly) parameters, children,
/// and a train/eval mode.
///
/// Layers are reference types: a model is a tree of layer objects whose parameters the
/// optimizer updates in place. Parameters are found without reflection: each layer lists its own
/// (``ownParameters``) and its children (``children``), and the tree walk in this extension names
/// them by path, PyTorch style (`layers.2.bias`).
///
/// ```swift
/// var generator = RandomGenerator(seed: 0)
/// let model = Sequential<Float> {
///     Linear(2, 64, generator: &generator)
///     ReLU()
///     Dropout(rate: 0.1, seed: 1)
///     Linear(64, 3, generator: &generator)
/// }
/// model.train()                         // dropout on
/// let logits = model(x)                 // [N, 3]
/// let loss = softmaxCrossEntropy(logits: logits, labels: y) + model.regularizationLoss()
/// model.eval()                          // dropout off
/// ```
public protocol Layer<Scalar>: AnyObject {
    /// The element type of the layer's parameters and tensors (`Float` or `Double`).
    associatedtype Scalar: TensorScalar

    /// The layer's output for `input` (recorded on the tape when the input or a parameter
    /// requires gradients).
    func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar>

    /// The parameters this layer owns directly, with their local names (`weight`, `bias`).
    var ownParameters: [(name: String, parameter: Parameter<Scalar>)] { get }

    /// The sub-layers, with their local names (`layers.0`, …).
    var children: [(name: String, layer: any Layer<Scalar>)] { get }

    /// The L1/L2 penalty of this layer's own parameters (not its children's), or `nil`.
    func ownRegularizationLoss() -> Tensor<Scalar>?

    /// Called on every layer of the tree by ``Layer/train()`` and ``Layer/eval()``.
    func setTrainingMode(_ training: Bool)

    /// Random generators this layer owns (dropout's), by local name, so checkpoints can save them.
    var ownGenerators: [(name: String, get: () -> RandomGenerator, set: (RandomGenerator) -> Void)] { get }

    /// The non-trainable state this layer owns directly (``LayerBuffer``), with PyTorch's local
    /// names (`running_mean`, `running_var`, `num_batches_tracked`); none by default.
    var ownBuffers: [(name: String, buffer: LayerBuffer<Scalar>)] { get }
}

extension Layer {
    public var ownParameters: [(name: String, parameter: Parameter<Scalar>)] { [] }
    public var children: [(name: String, layer: any Layer<Scalar>)] { [] }
    public func ownRegularizationLoss() -> Tensor<Scalar>? { nil }
    public func setTrainingMode(_ training: Bool) {}
    public var ownGenerators: [(name: String, get: () -> RandomGenerator, set: (RandomGenerator) -> Void)] { [] }
    public var ownBuffers: [(name: String, buffer: LayerBuffer<Scalar>)] { [] }

    /// Visits this layer and every descendant, depth first in declaration order, with its path
    /// (`""` for the root).
    public func forEachLayer(_ body: (_ path: String, _ layer: any Layer<Scalar>) -> Void) {
        var stack: [(String, any Layer<Scalar>)] = [("", self)]
        while let (path, layer) = stack.popLast() {
            body(path, layer)
            for child in layer.children.reversed() {
                stack.append((path.isEmpty ? child.name : path + "." + child.name, child.layer))
            }
        }
    }

    /// Every parameter with its stable path (`layers.0.weight`), in declaration order. The order
    /// and names depend only on the model's structure, so they are the same on every run.
    public var namedParameters: [NamedParameter<Scalar>] {
        byPath { $0.ownParameters.map { ($0.name, $0.parameter) } }.map {
            NamedParameter(name: $0.name, parameter: $0.item)
        }
    }

    /// What `own` lists for every layer of the tree, depth first, each name prefixed with its
    /// layer's path (`layers.2.` + `bias`).
    func byPath<Item>(_ own: (any Layer<Scalar>) -> [(name: String, item: Item)]) -> [(name: String, item: Item)] {
        var result: [(name: String, item: Item)] = []
        forEachLayer { path, layer in
            for entry in own(layer) { result.append((path.isEmpty ? entry.name : path + "." + entry.name, entry.item)) }
        }
        return result
    }

    /// Every buffer (non-trainable saved state) with its stable path (`layers.1.running_mean`),
    /// in declaration order, as ``namedParameters`` names parameters.
    public var namedBuffers: [NamedBuffer<Scalar>] {
        byPath { $0.ownBuffers.map { ($0.name, $0.buffer) } }.map { NamedBuffer(name: $0.name, buffer: $0.item) }
    }

    /// Every parameter, in the order of ``namedParameters``.
    public var parameters: [Parameter<Scalar>] { namedParameters.map(\.parameter) }

    /// The total number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// The sum of every layer's L1/L2 penalties (the book's `regularization_loss`), recorded on
    /// the tape so its gradient reaches the parameters: add it to the data loss before
    /// `backward()`. A constant 0 when no layer is regularized.
    public func regularizationLoss() -> Tensor<Scalar> {
        var total: Tensor<Scalar>?
        forEachLayer { _, layer in
            if let r = layer.ownRegularizationLoss() { total = total.map { $0 + r } ?? r }
        }
        return total ?? Tensor(0)
    }

    /// Training mode: dropout is active.
    public func train() { forEachLayer { _, layer in layer.setTrainingMode(true) } }
    /// Evaluation mode: dropout is the identity.
    public func eval() { forEachLayer { _, layer in layer.setTrainingMode(false) } }

    /// Clears the gradients of every parameter.
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    /// The random generators of the tree (dropout masks) by path, e.g. `layers.2.generator`.
    public var namedGenerators: [(name: String, get: () -> RandomGenerator, set: (RandomGenerator) -> Void)] {
        byPath { $0.ownGenerators.map { ($0.name, ($0.get, $0.set)) } }.map { ($0.name, $0.item.0, $0.item.1) }
    }
}
