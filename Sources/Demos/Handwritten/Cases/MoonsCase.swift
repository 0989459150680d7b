import AutoDiff
import GradCheck
import NN

/// A NumPy MLP on make_moons (2-8-8-1, ReLU, sigmoid output, binary cross-entropy) that needs ten
/// times the epochs PyTorch needs: its gradients are much smaller than PyTorch's.
///
/// Its author took `dz3 = (p − y)/m`, the derivative of the *mean* cross-entropy, and then used
/// the textbook `dW = aᵀ·dz / m`, `db = Σ dz / m` — written for `dz = p − y` — in every layer, so
/// each parameter gradient is divided by the batch size twice. With batches of 10, every step is
/// a tenth of PyTorch's. Over seeds 40–49: fixed and autodiff reach 0.95 training accuracy in
/// 10–31 epochs; as written in 78–140, or not within 150 epochs (best 0.91–0.925) for 4 of 10.
struct MoonsCase: HandwrittenCase {
    let name = "moons"
    let title = "make_moons, 2-8-8-1 ReLU MLP, sigmoid output, binary cross-entropy, batches of 10"
    let features: Tensor<Double>
    let targets: Tensor<Double>
    let batchSize = 10
    let learningRate = 0.2
    let defaultEpochs = 150
    let initialParameters: [(name: String, value: Tensor<Double>)]
    let outputName = "p"

    init(seed: UInt64) {
        let data = makeMoons(samples: 200, noise: 0.1, seed: seed, as: Double.self)
        features = data.features
        targets = data.labels.reshaped([data.count, 1])
        var generator = RandomGenerator(seed: seed &+ 1)
        // He initialization, as the author's `np.random.randn(n_in, n_out) * np.sqrt(2 / n_in)`.
        let sizes = [2, 8, 8, 1]
        var parameters: [(name: String, value: Tensor<Double>)] = []
        for layer in 1...3 {
            let (fanIn, fanOut) = (sizes[layer - 1], sizes[layer])
            let scale = (2 / Double(fanIn)).squareRoot()
            parameters.append(("W\(layer)", Tensor.randomNormal([fanIn, fanOut], generator: &generator) * scale))
            parameters.append(("b\(layer)", Tensor.zeros([fanOut])))
        }
        initialParameters = parameters
    }

    func loss(_ trace: ForwardTrace, x: Tensor<Double>, y: Tensor<Double>) -> Tensor<Double> {
        let z1 = trace.record("z1", x.matmul(trace.parameter("W1")) + trace.parameter("b1"))
        let a1 = trace.activate("z1", z1, .relu, as: "a1")
        let z2 = trace.record("z2", a1.matmul(trace.parameter("W2")) + trace.parameter("b2"))
        let a2 = trace.activate("z2", z2, .relu, as: "a2")
        let z3 = trace.record("z3", a2.matmul(trace.parameter("W3")) + trace.parameter("b3"))
        _ = trace.activate("z3", z3, .sigmoid, as: "p")
        // −mean(y·log p + (1 − y)·log(1 − p)) with p = σ(z3), written stably as softplus(z3) − y·z3.
        return (z3.softplus() - y * z3).mean()
    }

    func backward(_ cache: ForwardCache, x: Tensor<Double>, y: Tensor<Double>, fixes: HandwrittenFixes)
        -> [String: Tensor<Double>]
    {
        let m = Double(x.shape[0])
        var grads: [String: Tensor<Double>] = [:]
        // dL/dz3 of the mean cross-entropy through the sigmoid: (p − y)/m.
        var dz = fixes.scaled("z3", (cache["p"] - y) / m)
        grads["z3"] = dz
        for layer in stride(from: 3, through: 1, by: -1) {
            let input = layer == 1 ? x : cache["a\(layer - 1)"]
            // The textbook formulas for dz = p − y, applied to a dz already divided by m.
            grads["W\(layer)"] = fixes.scaled("W\(layer)", input.matmul(dz, transposeSelf: true) / m)
            grads["b\(layer)"] = fixes.biasGradient("b\(layer)", dz) { $0.sum(alongAxis: 0) / m }
            guard layer > 1 else { break }
            let da = fixes.scaled("a\(layer - 1)", dz.matmul(cache.parameter("W\(layer)"), transposeOther: true))
            grads["a\(layer - 1)"] = da
            // relu′(z) = [z > 0]
            dz = fixes.scaled("z\(layer - 1)", da * (cache["z\(layer - 1)"] .> 0))
            grads["z\(layer - 1)"] = dz
        }
        return grads
    }

    func accuracy(output: Tensor<Double>, targets: Tensor<Double>) -> Double {
        binaryAccuracy(outputs: output, targets: targets)
    }
}
