import AutoDiff
import GradCheck

/// Where a forward pass written once reads its parameters and leaves its intermediates.
///
/// The hand-written cases write their forward pass once against this protocol. Run over a
/// ``ForwardCache`` of constant tensors it is the author's NumPy-style forward (the cache is what
/// the hand-written backward reads); over a cache of tensors requiring gradients it is the tape's
/// forward; over GradCheck's `Recorder` it is what the diagnosis differentiates.
protocol ForwardTrace {
    func parameter(_ name: String) -> Tensor<Double>
    @discardableResult func record(_ name: String, _ tensor: Tensor<Double>) -> Tensor<Double>
    func activate(_ name: String, _ z: Tensor<Double>, _ activation: GradCheck.Activation, as output: String)
        -> Tensor<Double>
}

extension GradCheck.Recorder: ForwardTrace {
    func parameter(_ name: String) -> Tensor<Double> { self[name] }
}

/// Parameters in, every intermediate kept by name: the `cache` of a NumPy backpropagation.
final class ForwardCache: ForwardTrace {
    let parameters: [String: Tensor<Double>]
    private(set) var values: [String: Tensor<Double>] = [:]

    init(parameters: [String: Tensor<Double>]) {
        self.parameters = parameters
    }

    func parameter(_ name: String) -> Tensor<Double> { parameters[name]! }

    @discardableResult func record(_ name: String, _ tensor: Tensor<Double>) -> Tensor<Double> {
        values[name] = tensor
        return tensor
    }

    func activate(_ name: String, _ z: Tensor<Double>, _ activation: GradCheck.Activation, as output: String)
        -> Tensor<Double>
    {
        record(name, z)
        return record(output, activation(z))
    }

    /// A parameter or an intermediate.
    subscript(_ name: String) -> Tensor<Double> { values[name] ?? parameters[name]! }
}
