import AutoDiff
import Testing

@testable import NN

/// A regression test for capture plans: a gradient assembled from several slices of one tensor
/// (zeros, then each slice's gradient added into them, as attention's q, k and v split of one
/// projection) must start from zeros at every replay. Folding the zero fill into a constant of the
/// plan once let the sums pile up from step to step.
@Suite("Captured steps: gradients of slices of one tensor")
struct CapturedSliceGradientTests {
    /// The parameters after 8 AdamW steps on `y = a·b + c` for `a`, `b`, `c` three slices of one
    /// embedding, captured or eager.
    func parametersAfterTraining(captured: Bool) -> [[Float]] {
        var generator = RandomGenerator(seed: 0)
        let embedding = Embedding<Float>(9, 24, generator: &generator)
        let head = Linear<Float>(8, 9, generator: &generator)
        let model = Sequential<Float> {
            embedding
            head
        }
        let optimizer = AdamW(for: model, learningRate: 1e-2)
        let step = CapturedStep(enabled: captured) { (x: IndexTensor, y: IndexTensor) -> Tensor<Float> in
            optimizer.zeroGrad()
            let parts = embedding(x).reshaped([4, 8, 3, 8]).permuted([2, 0, 1, 3])
            let mixed = parts[0..<1].squeezed(axis: 0) * parts[1..<2].squeezed(axis: 0) + parts[2..<3].squeezed(axis: 0)
            let loss = Tensor.softmaxCrossEntropy(logits: head(mixed.reshaped([32, 8])), labels: y)
            loss.backward()
            optimizer.step()
            return loss
        }
        var draws = RandomGenerator(seed: 5)
        for _ in 0..<8 {
            let tokens = (0..<32).map { _ in Int(draws.next() % 9) }
            let targets = (0..<32).map { _ in Int(draws.next() % 9) }
            _ = step(IndexTensor(tokens, shape: [4, 8]), IndexTensor(targets))
        }
        if captured { #expect(step.replayedCalls >= 5, "\(step.eagerReason ?? "")") }
        return model.parameters.map(\.value.scalars)
    }

    @Test func replayedStepsMatchEagerBitForBit() {
        let same = parametersAfterTraining(captured: true) == parametersAfterTraining(captured: false)
        #expect(same, "the replayed steps left other parameters than the eager steps")
    }
}
