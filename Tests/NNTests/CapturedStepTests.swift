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
            layers += [
                Linear<Float>(16, 8, generator: &generator), Tanh<Float>(), Linear<Float>(8, 2, generator: &generator),
            ]
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
            #expect(
                p.parameter.value.scalars.map(\.bitPattern) == q.parameter.value.scalars.map(\.bitPattern), "\(p.name)")
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

    @Test func eachInputShapeGetsItsOwnPlan() {
        let eager = Run(captured: false)
        let captured = Run(captured: true)
        // Batches of 5 rows with every fourth of 2 rows (an epoch's last, smaller batch).
        expectIdentical(eager: eager, captured: captured, steps: 24, rows: { $0 % 4 == 3 ? 2 : 5 })
        // 5 rows: one eager call, two recorded; 2 rows (calls 3, 7, 11, …): the same.
        #expect(captured.step.recordedCalls == 4)
        #expect(captured.step.replayedCalls == 24 - 6, "\(captured.step.eagerReason ?? "")")
    }

    @Test func readingValuesInsideTheStepKeepsItEager() {
        let eager = Run(captured: false)
        var seen: [Float] = []
        let captured = Run(
            captured: true,
            loss: { prediction, target in
                let value = meanSquaredError(predictions: prediction, targets: target)
                seen.append(value.item)
                return value
            })
        expectIdentical(eager: eager, captured: captured, steps: 6)
        #expect(captured.step.replayedCalls == 0)
        #expect(captured.step.eagerReason?.contains("reads tensor elements on the host") == true)
        #expect(seen.count == 6)
    }

    @Test func aTensorFromOutsideThatChangesKeepsItEager() {
        // The target is read from a variable the step captures, not passed in: each call reads
        // a different tensor, so the step must never be replayed.
        let eager = Run(captured: false)
        var outside = Self.batch(0).1
        let captured = Run(
            captured: true, loss: { prediction, _ in meanSquaredError(predictions: prediction, targets: outside) })
        for i in 0..<12 {
            let (x, y) = Self.batch(i)
            outside = y * 1
            let a = eager.step(x, y).item
            let b = captured.step(x, y).item
            #expect(a.bitPattern == b.bitPattern, "step \(i)")
        }
        #expect(captured.step.replayedCalls == 0)
        #expect(captured.step.eagerReason != nil)
    }

    @Test func replacedParametersAreCapturedAgain() {
        let eager = Run(captured: false)
        let captured = Run(captured: true)
        expectIdentical(eager: eager, captured: captured, steps: 5)
        // Load new weights into both: the plan's parameter buffers are gone.
        for run in [eager, captured] {
            for (i, p) in run.model.parameters.enumerated() {
                p.value = Tensor.full(p.shape, Float(i) * 0.01 + 0.02).requiringGrad()
            }
        }
        expectIdentical(eager: eager, captured: captured, steps: 8)
        #expect(captured.step.recordedCalls == 4, "\(captured.step.eagerReason ?? "")")
    }

    @Test func aCopyOfAParameterKeptByTheCallerIsNotChangedByReplays() {
        let captured = Run(captured: true)
        for i in 0..<5 { _ = captured.step(Self.batch(i).0, Self.batch(i).1) }
        let kept = captured.model.parameters[0].value
        let before = kept.scalars
        for i in 5..<9 { _ = captured.step(Self.batch(i).0, Self.batch(i).1) }
        #expect(kept.scalars == before)
        #expect(captured.model.parameters[0].value.scalars != before)
    }

    @Test func keptResultsAreNotOverwritten() {
        let captured = Run(captured: true)
        var results: [Tensor<Float>] = []
        for i in 0..<8 { results.append(captured.step(Self.batch(i).0, Self.batch(i).1)) }
        let values = results.map(\.item)
        #expect(Set(values).count == 8, "\(values)")
        #expect(captured.step.replayedCalls == 5)
    }

    @Test func stepsOnOrThroughAnotherDeviceStayEager() {
        let weight = Tensor<Float>.full([3, 2], 0.5)
        // Only the CPU backend reports kernels to a recorder: a step whose inputs are on the
        // reference device, or one on the CPU with a detour through it, must never be replayed.
        let onReference = CapturedStep { (x: Tensor<Float>) -> Tensor<Float> in
            x.matmul(weight.to(.reference)).sum()
        }
        let detour = CapturedStep { (x: Tensor<Float>) -> Tensor<Float> in
            x.to(.reference).matmul(weight.to(.reference)).sum().to(.cpu)
        }
        for i in 0..<6 {
            let x = Self.batch(i).0
            let expected = x.to(.reference).matmul(weight.to(.reference)).sum().item
            #expect(onReference(x.to(.reference)).item == expected)
            #expect(detour(x).item == expected)
        }
        for step in [onReference, detour] {
            #expect(step.replayedCalls == 0)
            #expect(step.eagerReason?.contains("device") == true, "\(step.eagerReason ?? "")")
        }
    }

    /// Runs `steps` full-batch steps of a 2-8-8-1 ReLU MLP with binary cross-entropy and SGD (the
    /// moons workload's shape, 40 rows); with `readsPreActivation`, the loss also has a term of the
    /// first layer's pre-activation. Returns the losses' and parameters' bits, and the step.
    static func smallMLP(captured: Bool, steps: Int, readsPreActivation: Bool = false) -> (
        bits: [[UInt32]], step: CapturedStep<Tensor<Float>, Tensor<Float>, Tensor<Float>>
    ) {
        var generator = RandomGenerator(seed: 3)
        let first = Linear<Float>(2, 8, generator: &generator)
        let rest = Sequential<Float>(mlp: [8, 8, 1], activation: .relu, generator: &generator)
        let parameters = first.parameters + rest.parameters
        let optimizer = SGD(parameters: parameters, learningRate: 0.5)
        let step = CapturedStep(enabled: captured) { (x: Tensor<Float>, y: Tensor<Float>) -> Tensor<Float> in
            let preActivation = first(x)
            var loss = binaryCrossEntropy(logits: rest(preActivation.relu()), targets: y)
            if readsPreActivation { loss = loss + (preActivation * preActivation).mean() * Tensor(0.01) }
            optimizer.zeroGrad()
            loss.backward()
            optimizer.step()
            return loss
        }
        var data = RandomGenerator(seed: 5)
        let x = Tensor<Float>.randomNormal([40, 2], generator: &data)
        let y = Tensor<Float>(shape: [40, 1], scalars: (0..<40).map { Float($0 % 2) })
        var bits: [[UInt32]] = []
        for _ in 0..<steps { bits.append([step(x, y).item.bitPattern]) }
        for parameter in parameters { bits.append(parameter.value.scalars.map(\.bitPattern)) }
        return (bits, step)
    }

    /// The plan fuses each layer's relu into its product, relu's backward into the product that
    /// feeds it, and each bias gradient into its weight gradient (CapturePlan's `fuse`): the
    /// MLP's 24 recorded kernels become 17, and the replays stay bit for bit the eager steps.
    @Test func productsFuseWithTheirReLUsAndBiasGradients() {
        let eager = Self.smallMLP(captured: false, steps: 10)
        let captured = Self.smallMLP(captured: true, steps: 10)
        #expect(eager.bits == captured.bits)
        #expect(captured.step.replayedCalls == 7, "\(captured.step.eagerReason ?? "")")
        #expect(captured.step.plannedKernelCount == 17)
    }

    /// A pre-activation that something besides relu reads (here the loss) must stay stored: that
    /// layer's relu is not fused into its product (the other fusions still apply; the plan's own
    /// tests, `PlanFusionTests`, check which), and the replays stay bit for bit the eager steps.
    @Test func aPreActivationReadElsewhereStaysBitIdentical() {
        let eager = Self.smallMLP(captured: false, steps: 10, readsPreActivation: true)
        let captured = Self.smallMLP(captured: true, steps: 10, readsPreActivation: true)
        #expect(eager.bits == captured.bits)
        #expect(captured.step.replayedCalls == 7, "\(captured.step.eagerReason ?? "")")
    }
}
