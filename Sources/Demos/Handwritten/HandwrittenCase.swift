import AutoDiff
import GradCheck

/// One hand-written network from the wild, rewritten in Swift the way its author wrote it: a
/// forward pass over plain tensors that fills a cache, and a backward pass, computed by hand from
/// that cache, that is subtly wrong.
///
/// The forward pass is written once, against ``ForwardTrace``, so the hand-written backward, the
/// tape (autodiff training) and the diagnosis all see the same network and loss.
protocol HandwrittenCase {
    /// The `--case` value: `moons`, `bias-sum`, `sigmoid-derivative`.
    var name: String { get }
    /// One line: the network, its data and what its author saw.
    var title: String { get }
    /// The training set: features `[n, inputs]` and targets shaped as the loss takes them.
    var features: Tensor<Double> { get }
    var targets: Tensor<Double> { get }
    /// Samples per step (the whole set for full-batch training).
    var batchSize: Int { get }
    /// Plain gradient descent's step size, the author's.
    var learningRate: Double { get }
    var defaultEpochs: Int { get }
    /// The parameters in the author's order, freshly initialized.
    var initialParameters: [(name: String, value: Tensor<Double>)] { get }
    /// The name the forward pass records its output (probabilities) under.
    var outputName: String { get }

    /// The forward pass and the loss.
    func loss(_ trace: ForwardTrace, x: Tensor<Double>, y: Tensor<Double>) -> Tensor<Double>
    /// The author's backward pass over the cache of ``loss(_:x:y:)``: gradients of parameters and
    /// intermediates by name, with `fixes` applied.
    func backward(_ cache: ForwardCache, x: Tensor<Double>, y: Tensor<Double>, fixes: HandwrittenFixes)
        -> [String: Tensor<Double>]
    /// The share of samples whose predicted class (from the output) is the target's.
    func accuracy(output: Tensor<Double>, targets: Tensor<Double>) -> Double
}

extension HandwrittenCase {
    /// GradCheck's diagnosis of ``backward(_:x:y:fixes:)`` (every gradient it returns) at
    /// `parameters` on the batch `x`, `y`.
    func diagnose(
        parameters: [(name: String, value: Tensor<Double>)], x: Tensor<Double>, y: Tensor<Double>,
        fixes: HandwrittenFixes
    ) -> GradCheck.Diagnosis {
        let cache = ForwardCache(parameters: Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value) }))
        _ = loss(cache, x: x, y: y)
        let handWritten = backward(cache, x: x, y: y, fixes: fixes)
        return GradCheck.diagnose({ recorder in loss(recorder, x: x, y: y) }, at: parameters, handWritten: handWritten)
    }
}
