import AutoDiff
import Testing

@testable import NN

@Suite("Model summary")
struct ModelSummaryTests {
    static func model() -> Sequential<Float> {
        var generator = RandomGenerator(seed: 1)
        return Sequential<Float> {
            Linear(784, 512, generator: &generator)
            ReLU()
            Dropout(rate: 0.5, seed: 9)
            Linear(512, 10, generator: &generator)
        }
    }

    @Test func rowsHaveEachLayersOutputShapeAndParameters() {
        let summary = Self.model().summary(inputShape: [32, 784])
        #expect(
            summary.rows == [
                .init(name: "layers.0", type: "Linear", outputShape: [32, 512], parameters: 784 * 512 + 512),
                .init(name: "layers.1", type: "ReLU", outputShape: [32, 512], parameters: 0),
                .init(name: "layers.2", type: "Dropout", outputShape: [32, 512], parameters: 0),
                .init(name: "layers.3", type: "Linear", outputShape: [32, 10], parameters: 512 * 10 + 10),
            ])
        #expect(summary.totalParameters == Self.model().parameterCount)
    }

    @Test func tableListsTheLayersAndTheTotal() {
        var generator = RandomGenerator(seed: 1)
        let model = Sequential<Float> {
            Linear(2, 3, generator: &generator)
            Tanh()
        }
        #expect(
            model.summary(inputShape: [1, 2]).description == """
                Layer (type)       Output shape  Parameters
                ───────────────────────────────────────────
                input              [1, 2]                 0
                layers.0 (Linear)  [1, 3]                 9
                layers.1 (Tanh)    [1, 3]                 0
                ───────────────────────────────────────────
                Total parameters: 9
                """)
        #expect(ModelSummary.grouped(535_818) == "535,818" && ModelSummary.grouped(1_000_000) == "1,000,000")
        #expect(ModelSummary.grouped(999) == "999")
    }

    /// Describing a model runs it once: dropout's generator must not move, or the summary would
    /// change what the model trains to.
    @Test func describingLeavesTheDropoutStreamAsItWas() {
        let described = Self.model()
        let untouched = Self.model()
        _ = described.summary(inputShape: [4, 784])
        described.train()
        untouched.train()
        let input = Tensor<Float>.ones([4, 784])
        #expect(withoutGrad { described(input).scalars == untouched(input).scalars })
    }
}
