import AutoDiff
import Testing

@testable import NN

/// A captured step replays bit for bit what the eager step computes, and stays eager (or
/// captures again) whenever a replay could differ.
@Suite struct CapturedStepTests {
    /// A model, its optimizer and a step over it, built twice from one seed: once to run
    /// eagerly, once captured.
    struct Run {
        let model: Sequential<Float>
        let optimizer: Optimizer<Float>
        let step: CapturedStep<Tensor<Float>, Tensor<Float>, Tensor<Float>>

        init(
            captured: Bool, dropout: Float = 0, adam: Bool = false,
            loss: @escaping (Tensor<Float>, Tensor<Float>) -> Tensor<Float> = {
                meanSquaredError(predictions: $0, targets: $1)
            }
        ) {
            var generator = RandomGenerator(seed: 7)
            var layers: [any Layer<Float>] = [
                Linear<Float>(3, 16, generator: &generator), ReLU<Float>(),
            ]
            if dropout > 0 { layers.append(Dropout<Float>(rate: dropout, seed: 11)) }
            layers += [Linear<Float>(16, 8, generator: &generator), Tanh<Float>(), Linear<Float>(8, 2, generator: &generator)]
            let model = Sequential<Float>(layers)
            let optimizer: Optimizer<Float> =
                adam
                ? Adam(for: model, learningRate: 0.01, schedule: .warmupCosine(warmup: 3, total: 20))
                : SGD(for: model, learningRate: 0.05, momentum: 0.9)
            self.model = model
            self.optimizer = optimizer
            step = CapturedStep(enabled: captured) { x, y in
                optimizer.zeroGrad()
                let value = loss(model(x), y)
                value.backward()
                optimizer.step()
                return value
            }
        }
    }

    static func batch(_ i: Int, rows: Int = 5) -> (Tensor<Float>, Tensor<Float>) {
        var generator = RandomGenerator(seed: UInt64(100 + i))
        return (
            Tensor<Float>.randomNormal([rows, 3], generator: &generator),
            Tensor<Float>.randomNormal([rows, 2], generator: &generator)
        )
    }

    /// Runs both for `steps` batches; every loss and every parameter must be bitwise equal.
    func expectIdentical(eager: Run, captured: Run, steps: Int, rows: (Int) -> Int = { _ in 5 }) {
        for i in 0..<steps {
            let (x, y) = Self.batch(i, rows: rows(i))
            let a = eager.step(x, y).item
            let b = captured.step(x, y).item
            #expect(a.bitPattern == b.bitPattern, "loss at step \(i): eager \(a), captured \(b)")
        }
        for (p, q) in zip(eager.model.namedParameters, captured.model.namedParameters) {
            #expect(p.parameter.value.scalars.map(\.bitPattern) == q.parameter.value.scalars.map(\.bitPattern), "\(p.name)")
        }
    }

    @Test func sgdWithMomentumReplaysBitForBit() {
        let eager = Run(captured: false)
        let captured = Run(captured: true)
        expectIdentical(eager: eager, captured: captured, steps: 12)
        #expect(captured.step.replayedCalls == 9, "\(captured.step.eagerReason ?? "")")
        #expect(captured.step.recordedCalls == 2)
        #expect(captured.step.eagerReason == nil)
    }

    @Test func adamWithScheduleAndDropoutReplaysBitForBit() {
        let eager = Run(captured: false, dropout: 0.3, adam: true)
        let captured = Run(captured: true, dropout: 0.3, adam: true)
        expectIdentical(eager: eager, captured: captured, steps: 12)
        #expect(captured.step.replayedCalls == 9, "\(captured.step.eagerReason ?? "")")
        #expect(captured.optimizer.stepCount == 12)
    }
}
