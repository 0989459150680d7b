import AutoDiff
import GradCheck
import Testing
@testable import NN

@Suite("Losses")
struct LossTests {
    @Test("MSE and MAE are means over every element")
    func regressionLosses() {
        let p = Tensor<Double>(rows: [[1, 2], [3, 4]]), t = Tensor<Double>(rows: [[0, 2], [5, 3]])
        #expect(abs(meanSquaredError(predictions: p, targets: t).item - (1 + 0 + 4 + 1) / 4.0) < 1e-15)
        #expect(abs(meanAbsoluteError(predictions: p, targets: t).item - (1 + 0 + 2 + 1) / 4.0) < 1e-15)
    }

    @Test("BCE on probabilities matches −mean(y·log p + (1−y)·log(1−p)) over samples and outputs")
    func bceValue() {
        let p = Tensor<Double>(rows: [[0.9, 0.2], [0.4, 0.7]]), y = Tensor<Double>(rows: [[1, 0], [0, 1]])
        let expected = -(ln(0.9) + ln(0.8) + ln(0.6) + ln(0.7)) / 4
        #expect(abs(binaryCrossEntropy(probabilities: p, targets: y).item - expected) < 1e-12)
    }

    @Test("BCE clips probabilities to [1e-7, 1−1e-7] in value and gradient, as the book does")
    func bceClipping() {
        let p = Tensor<Double>([0, 1, 0.5]).requiringGrad(), y = Tensor<Double>([1, 0, 1])
        let loss = binaryCrossEntropy(probabilities: p, targets: y)
        let clipped = -ln(1e-7)
        #expect(abs(loss.item - (2 * clipped + ln(2)) / 3) < 1e-9)
        loss.backward()
        // ∂L/∂p = −(y/p̃ − (1−y)/(1−p̃))/n at the clipped p̃: finite, and not zeroed by the clip.
        let g = p.grad!.scalars
        #expect(abs(g[0] - (-1 / 1e-7 / 3)) / (1 / 1e-7 / 3) < 1e-9)
        #expect(abs(g[1] - (1 / 1e-7 / 3)) / (1 / 1e-7 / 3) < 1e-6)
        #expect(abs(g[2] - (-2.0 / 3)) < 1e-12)
        #expect(g.allSatisfy { $0.isFinite })
    }

    @Test("BCE with logits equals BCE of the sigmoid and stays finite for huge logits")
    func bceLogits() {
        let z = Tensor<Double>(rows: [[-3, 0.5], [2, -0.1]]), y = Tensor<Double>(rows: [[0, 1], [1, 0]])
        let viaSigmoid = binaryCrossEntropy(probabilities: z.sigmoid(), targets: y).item
        #expect(abs(binaryCrossEntropy(logits: z, targets: y).item - viaSigmoid) < 1e-12)
        let huge = Tensor<Float>([1000, -1000, 1000]).requiringGrad(), t = Tensor<Float>([1, 0, 0])
        let loss = binaryCrossEntropy(logits: huge, targets: t)
        #expect(abs(loss.item - 1000.0 / 3) < 1e-3)
        loss.backward()
        #expect(approximatelyEqual(doubles(huge.grad!), [0, 0, 1.0 / 3], tolerance: 1e-6))
    }

    @Test("Categorical CE on probabilities: −mean log p[label], with labels or one-hot")
    func categoricalValue() {
        let p = Tensor<Double>(rows: [[0.7, 0.2, 0.1], [0.1, 0.5, 0.4]])
        let expected = -(ln(0.7) + ln(0.4)) / 2
        #expect(abs(categoricalCrossEntropy(probabilities: p, labels: [0, 2]).item - expected) < 1e-12)
        #expect(abs(categoricalCrossEntropy(probabilities: p, targets: Tensor.oneHot([0, 2], classes: 3)).item - expected) < 1e-12)
    }

    @Test("Softmax CE on logits equals CE of the softmax; labels and one-hot agree; huge logits are finite")
    func softmaxCE() {
        let z = Tensor<Double>(rows: [[2, -1, 0.5], [0, 3, 1]])
        let viaSoftmax = categoricalCrossEntropy(probabilities: z.softmax(alongAxis: 1), labels: [2, 1]).item
        #expect(abs(softmaxCrossEntropy(logits: z, labels: [2, 1]).item - viaSoftmax) < 1e-12)
        #expect(abs(softmaxCrossEntropy(logits: z, targets: Tensor.oneHot([2, 1], classes: 3)).item - viaSoftmax) < 1e-12)
        #expect(abs(softmaxCrossEntropy(logits: z, labels: Tensor<Double>([2, 1])).item - viaSoftmax) < 1e-12)
        let huge = Tensor<Float>(rows: [[1e4, 0, -1e4]]).requiringGrad()
        let loss = softmaxCrossEntropy(logits: huge, labels: [1])
        #expect(abs(loss.item - 1e4) < 1)
        loss.backward()
        #expect(approximatelyEqual(doubles(huge.grad!), [1, -1, 0], tolerance: 1e-6))
    }

    // GradCheck (Double, full Jacobian) over every loss. Probabilities are drawn in
    // [0.14, 0.86], inside the clip range; targets are constants of the function.
    nonisolated(unsafe) static let probabilities = GradCheck.input([4, 3], seed: 21).abs().detached() * 0.8 + 0.06
    nonisolated(unsafe) static let values = GradCheck.input([4, 3], seed: 22)
    nonisolated(unsafe) static let binaryTargets = Tensor<Double>(shape: [4, 3], scalars: [1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1])
    nonisolated(unsafe) static let softTargets = GradCheck.positiveInput([4, 3], seed: 23)
    static let labels = [2, 0, 1, 1]

    nonisolated(unsafe) static let gradCheckCases: [(String, Tensor<Double>, ([Tensor<Double>]) -> Tensor<Double>)] = [
        ("meanSquaredError", values, { meanSquaredError(predictions: $0[0], targets: softTargets) }),
        ("meanAbsoluteError", values, { meanAbsoluteError(predictions: $0[0], targets: softTargets) }),
        ("binaryCrossEntropy(probabilities)", probabilities, { binaryCrossEntropy(probabilities: $0[0], targets: binaryTargets) }),
        ("binaryCrossEntropy(logits)", values * 3, { binaryCrossEntropy(logits: $0[0], targets: binaryTargets) }),
        ("categoricalCrossEntropy(labels)", probabilities, { categoricalCrossEntropy(probabilities: $0[0], labels: labels) }),
        ("categoricalCrossEntropy(one-hot)", probabilities, { categoricalCrossEntropy(probabilities: $0[0], targets: Tensor.oneHot(labels, classes: 3)) }),
        ("softmaxCrossEntropy(labels)", values * 3, { softmaxCrossEntropy(logits: $0[0], labels: labels) }),
        ("softmaxCrossEntropy(one-hot)", values * 3, { softmaxCrossEntropy(logits: $0[0], targets: Tensor.oneHot(labels, classes: 3)) }),
        ("softmaxCrossEntropy(soft targets)", values * 3, { softmaxCrossEntropy(logits: $0[0], targets: softTargets) }),
    ]

    @Test("GradCheck in Double for every loss", arguments: gradCheckCases.map(\.0))
    func gradCheck(name: String) {
        let (_, input, f) = Self.gradCheckCases.first { $0.0 == name }!
        let report = GradCheck.check(f, at: [input])
        #expect(report.passed, "\(name): \(report)")
    }

    nonisolated(unsafe) static let regularizerCases: [(String, (Linear<Double>) -> Void)] = [
        ("weight L1", { $0.weightL1 = 0.3 }), ("weight L2", { $0.weightL2 = 0.7 }),
        ("bias L1", { $0.biasL1 = 0.2 }), ("bias L2", { $0.biasL2 = 0.9 }),
        ("all four", { $0.weightL1 = 0.1; $0.weightL2 = 0.2; $0.biasL1 = 0.3; $0.biasL2 = 0.4 }),
    ]

    @Test("GradCheck in Double for every regularizer", arguments: regularizerCases.map(\.0))
    func regularizerGradCheck(name: String) {
        let (_, configure) = Self.regularizerCases.first { $0.0 == name }!
        let report = GradCheck.check({ xs in
            let layer = Linear(weight: Tensor<Double>.zeros([3, 2]), bias: Tensor<Double>.zeros([2]))
            configure(layer)
            layer.weight.value = xs[0]
            layer.bias.value = xs[1]
            return layer.regularizationLoss()
        }, at: [GradCheck.input([3, 2], seed: 31), GradCheck.input([2], seed: 32)])
        #expect(report.passed, "\(name): \(report)")
    }
}
