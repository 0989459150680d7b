import AutoDiff
import GradCheck
import NN

/// A 3-2-1 sigmoid network on a three-input truth table whose `sigmoid(x, derivative: true)`
/// returns `x·(1 − x)`: right when handed the activation, wrong when handed the pre-activation —
/// which is what its backward hands it.
///
/// The target is the XOR of the first two inputs; the loss is ½·Σ(p − y)², as in the "neural
/// network in a few lines of NumPy" it follows.
///
/// XOR with two sigmoid hidden units has a well-known local minimum that some initializations
/// settle in, whatever computes the gradients: over seeds 40–49, the fixed backward and autodiff
/// reach 1.0 (74–278 epochs) from 7 of the 10, the same 7 (seed 42: 88 epochs). As written, the
/// run diverges from every one.
struct SigmoidDerivativeCase: HandwrittenCase {
    let name = "sigmoid-derivative"
    let title = "3-input truth table (y = x₀ XOR x₁), 3-2-1 sigmoid network, squared error, full batch"
    let features: Tensor<Double>
    let targets: Tensor<Double>
    let batchSize = 8
    let learningRate = 2.0
    let defaultEpochs = 400
    let initialParameters: [(name: String, value: Tensor<Double>)]
    let outputName = "p"

    init(seed: UInt64) {
        var rows: [Double] = []
        var labels: [Double] = []
        for i in 0..<8 {
            let bits = [(i >> 2) & 1, (i >> 1) & 1, i & 1].map(Double.init)
            rows += bits
            labels.append(bits[0] != bits[1] ? 1 : 0)
        }
        features = Tensor(shape: [8, 3], scalars: rows)
        targets = Tensor(shape: [8, 1], scalars: labels)
        var generator = RandomGenerator(seed: seed &+ 1)
        // The author's `2 * np.random.random((3, 2)) - 1`.
        initialParameters = [
            ("W1", Tensor.randomUniform([3, 2], generator: &generator) * 2 - 1), ("b1", Tensor.zeros([2])),
            ("W2", Tensor.randomUniform([2, 1], generator: &generator) * 2 - 1), ("b2", Tensor.zeros([1])),
        ]
    }

    /// The author's helper: the derivative form expects the sigmoid's output.
    static func sigmoid(_ x: Tensor<Double>, derivative: Bool = false) -> Tensor<Double> {
        derivative ? x * (1 - x) : 1 / (1 + (-x).exp())
    }

    func loss(_ trace: ForwardTrace, x: Tensor<Double>, y: Tensor<Double>) -> Tensor<Double> {
        let z1 = trace.record("z1", x.matmul(trace.parameter("W1")) + trace.parameter("b1"))
        let a1 = trace.activate("z1", z1, .sigmoid, as: "a1")
        let z2 = trace.record("z2", a1.matmul(trace.parameter("W2")) + trace.parameter("b2"))
        let p = trace.activate("z2", z2, .sigmoid, as: "p")
        return ((p - y).squared() * 0.5).sum()
    }

    func backward(_ cache: ForwardCache, x: Tensor<Double>, y: Tensor<Double>, fixes: HandwrittenFixes)
        -> [String: Tensor<Double>]
    {
        var grads: [String: Tensor<Double>] = [:]
        let sigmoid = Self.sigmoid
        let d2 = fixes.derivative(
            "z2", asWritten: sigmoid(cache["z2"], true), right: sigmoid(cache["p"], true))
        let dz2 = fixes.scaled("z2", (cache["p"] - y) * d2)
        grads["z2"] = dz2
        grads["W2"] = fixes.scaled("W2", cache["a1"].matmul(dz2, transposeSelf: true))
        grads["b2"] = fixes.biasGradient("b2", dz2) { $0.sum(alongAxis: 0) }
        let da1 = fixes.scaled("a1", dz2.matmul(cache.parameter("W2"), transposeOther: true))
        grads["a1"] = da1
        let d1 = fixes.derivative(
            "z1", asWritten: sigmoid(cache["z1"], true), right: sigmoid(cache["a1"], true))
        let dz1 = fixes.scaled("z1", da1 * d1)
        grads["z1"] = dz1
        grads["W1"] = fixes.scaled("W1", x.matmul(dz1, transposeSelf: true))
        grads["b1"] = fixes.biasGradient("b1", dz1) { $0.sum(alongAxis: 0) }
        return grads
    }

    func accuracy(output: Tensor<Double>, targets: Tensor<Double>) -> Double {
        binaryAccuracy(outputs: output, targets: targets)
    }
}
