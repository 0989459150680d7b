import AutoDiff
import GradCheck
import Testing
@testable import NN

@Suite("GradCheck of layers and models")
struct ModelGradCheckTests {
    @Test("Dropout with its mask held fixed: ∂y/∂x = mask")
    func dropoutFixedMask() {
        var g = RandomGenerator(seed: 41)
        let mask = Dropout<Double>.mask([5, 4], rate: 0.3, generator: &g)
        #expect(Set(mask.scalars) == [0, 1 / 0.7])
        let report = GradCheck.check({ Dropout.apply($0[0], mask: mask).squared().sum() }, at: [GradCheck.input([5, 4], seed: 42)])
        #expect(report.passed, "\(report)")
    }

    @Test("A whole MLP with dropout (fixed mask), L2 and softmax cross-entropy, w.r.t. input and every parameter")
    func wholeMLP() {
        var g = RandomGenerator(seed: 43)
        let model = Sequential<Double>(mlp: [3, 5, 4, 3], activation: .tanh, generator: &g)
        (model.layers[0] as! Linear<Double>).weightL2 = 0.01
        (model.layers[0] as! Linear<Double>).biasL1 = 0.02
        let mask = Dropout<Double>.mask([6, 5], rate: 0.2, generator: &g)
        let params = model.parameters
        let x = GradCheck.input([6, 3], seed: 44)
        let labels = [0, 2, 1, 1, 0, 2]
        let f: ([Tensor<Double>]) -> Tensor<Double> = { xs in
            for (p, v) in zip(params, xs.dropFirst()) { p.value = v }
            var h = model.layers[0](xs[0])
            h = model.layers[1](h)
            h = Dropout.apply(h, mask: mask)
            for layer in model.layers[2...] { h = layer(h) }
            return softmaxCrossEntropy(logits: h, labels: labels) + model.regularizationLoss()
        }
        let report = GradCheck.check(f, at: [x] + params.map { $0.value.detached() })
        #expect(report.passed, "\(report)")
    }

    @Test("A ReLU/sigmoid MLP with binary cross-entropy on probabilities, w.r.t. every parameter")
    func reluSigmoidMLP() {
        var g = RandomGenerator(seed: 45)
        let model = Sequential<Double>(mlp: [2, 4, 1], activation: .relu, output: .sigmoid, weightInitializer: .heNormal, generator: &g)
        let params = model.parameters
        let x = GradCheck.input([5, 2], seed: 46)
        let y = Tensor<Double>(shape: [5, 1], scalars: [1, 0, 1, 1, 0])
        let initial = params.map { $0.value.detached() + 0.05 }  // nudge biases off 0 (away from ReLU kinks)
        let report = GradCheck.check({ xs in
            for (p, v) in zip(params, xs) { p.value = v }
            return binaryCrossEntropy(probabilities: model(x), targets: y)
        }, at: initial)
        #expect(report.passed, "\(report)")
    }
}
