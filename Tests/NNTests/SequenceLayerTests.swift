import AutoDiff
import Foundation
import NN
import Testing

@Suite("Sequence models: Embedding, warmup-cosine schedule, AdamW against PyTorch")
struct SequenceLayerTests {
    @Test("Embedding: N(0, 1) table, padding row zero, [B, T] indices → [B, T, D]")
    func embeddingLayer() {
        var generator = RandomGenerator(seed: 17)
        let table = Embedding<Double>(400, 50, paddingIndex: 3, generator: &generator)
        #expect(table.weight.shape == [400, 50])
        #expect(table.namedParameters.map(\.name) == ["weight"])
        let values = table.weight.value.scalars
        #expect(values[150..<200].allSatisfy { $0 == 0 })
        let others = Array(values[..<150]) + Array(values[200...])
        let mean = others.reduce(0, +) / Double(others.count)
        let variance = others.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(others.count)
        // 19 950 draws: the sample mean and variance of N(0, 1) are within a few hundredths.
        #expect(Swift.abs(mean) < 0.03 && Swift.abs(variance - 1) < 0.05, "mean \(mean), variance \(variance)")

        let y = table(indices: [0, 3, 399, 3, 7, 0], shape: [2, 3])
        #expect(y.shape == [2, 3, 50])
        #expect(Array(y.scalars[0..<50]) == Array(values[0..<50]))
        #expect(Array(y.scalars[100..<150]) == Array(values[399 * 50..<400 * 50]))
        #expect(table.forward(Tensor(shape: [2, 3], scalars: [0, 3, 399, 3, 7, 0])).scalars == y.scalars)
    }

    @Test("Embedding's padding row stays zero while AdamW trains the others")
    func paddingRowStaysZero() {
        var generator = RandomGenerator(seed: 5)
        let table = Embedding<Float>(6, 4, paddingIndex: 0, generator: &generator)
        let optimizer = AdamW(for: table, learningRate: 0.1)
        let before = table.weight.value.scalars
        for _ in 0..<3 {
            optimizer.zeroGrad()
            table(indices: [0, 2, 0, 5], shape: [2, 2]).squared().sum().backward()
            optimizer.step()
        }
        let after = table.weight.value.scalars
        #expect(after[0..<4].allSatisfy { $0 == 0 })
        #expect(after[8..<12] != before[8..<12] && after[20..<24] != before[20..<24])
        // An unused row gets a zero gradient: only the decoupled decay w·(1 − lr·λ) moves it.
        let decayed = before[4..<8].map { Double($0) * 0.999 * 0.999 * 0.999 }
        #expect(approximatelyEqual(after[4..<8].map { Double($0) }, decayed, tolerance: 1e-6))
    }

    @Test("NN's softmaxCrossEntropy(logits:labels:ignoreIndex:) is the mean over the kept positions")
    func sequenceLoss() {
        let logits = Tensor<Double>(shape: [2, 2, 3], scalars: (0..<12).map { Double($0 % 5) - 2 })
        let loss = softmaxCrossEntropy(logits: logits, labels: [2, -1, 0, 1], ignoreIndex: -1)
        let kept = Tensor<Double>(shape: [3, 3], scalars: Array(logits.scalars[0..<3] + logits.scalars[6...]))
        #expect(Swift.abs(loss.item - softmaxCrossEntropy(logits: kept, labels: [2, 0, 1]).item) < 1e-14)
    }

    @Test("warmupCosine: linear warmup from 0, cosine to the minimum at the total, then flat (nanoGPT's get_lr)")
    func warmupCosine() {
        let schedule = LearningRateSchedule.warmupCosine(warmup: 4, total: 12, minimumFactor: 0.1)
        let factors = (0..<15).map { schedule.factor(step: $0) }
        let cosine = { (t: Double) in 0.1 + 0.9 * (1 + cos(Double.pi * (t - 4) / 8)) / 2 }
        let expected = [0, 0.25, 0.5, 0.75] + (4...12).map { cosine(Double($0)) } + [0.1, 0.1]
        #expect(approximatelyEqual(factors, expected, tolerance: 1e-15))
        #expect(factors[4] == 1 && factors[8] == 0.55)
        let p = Parameter(Tensor<Double>([0]))
        let sgd = SGD(parameters: [p], learningRate: 3e-3, schedule: schedule)
        #expect(sgd.currentLearningRate == 0)
    }

    @Test("AdamW matches torch.optim.AdamW step for step (scripts/fixtures/sequence_values.py)")
    func adamWAgainstPyTorch() {
        let w = Parameter(Tensor<Double>([0.5, -1.5, 2.0]))
        let optimizer = AdamW(
            parameters: [w], learningRate: 0.1, beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.05)
        let pytorch: [[Double]] = [
            [0.397500001, -1.3925000003333332, 1.89000000025],
            [0.3056024649018053, -1.293287655776108, 1.7880356676033067],
            [0.2103617899169395, -1.1948512621430236, 1.687418956993439],
        ]
        for (c, expected) in zip([1.0, 0.5, 2.0], pytorch) {
            optimizer.zeroGrad()
            (w.value * w.value * c).sum().backward()
            optimizer.step()
            #expect(
                approximatelyEqual(w.value.scalars, expected, tolerance: 1e-14), "\(w.value.scalars) vs \(expected)")
        }
    }
}
