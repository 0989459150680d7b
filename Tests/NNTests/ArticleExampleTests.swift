import AutoDiff
import Foundation
import GradCheck
import NN
import Testing

/// The code of the DocC articles, run as written, so an article cannot describe an API that no
/// longer exists or a result the library no longer gives. Each test names its article; when an
/// article's code changes, its test changes with it.
@Suite("DocC article examples")
struct ArticleExampleTests {
    // MARK: Sources/AutoDiff/AutoDiff.docc/GettingStarted.md

    @Test("Getting started: a model as expressions, backward, a hand-written SGD step")
    func gettingStartedExpressions() {
        let data = makeMoons(samples: 200, noise: 0.1, seed: 0, as: Float.self)
        let x = data.features  // [200, 2]
        let y = data.labels.reshaped([-1, 1])  // [200, 1], 0 or 1

        var generator = RandomGenerator(seed: 1)
        var w1 = (Tensor<Float>.randomNormal([2, 16], generator: &generator) * 0.5).requiringGrad()
        var b1 = Tensor<Float>.zeros([16]).requiringGrad()
        var w2 = (Tensor<Float>.randomNormal([16, 1], generator: &generator) * 0.5).requiringGrad()
        var b2 = Tensor<Float>.zeros([1]).requiringGrad()

        func logits(_ x: Tensor<Float>) -> Tensor<Float> {
            (x.matmul(w1) + b1).relu().matmul(w2) + b2
        }

        let loss = binaryCrossEntropy(logits: logits(x), targets: y)
        loss.backward()
        #expect(w1.grad!.shape == [2, 16])
        #expect(b2.grad!.shape == [1])

        let learningRate: Float = 0.5
        withoutGrad {
            w1 -= w1.grad! * learningRate
            b1 -= b1.grad! * learningRate
            w2 -= w2.grad! * learningRate
            b2 -= b2.grad! * learningRate
        }
        for parameter in [w1, b1, w2, b2] { parameter.zeroGrad() }

        let after = withoutGrad { binaryCrossEntropy(logits: logits(x), targets: y) }
        #expect(after.item < loss.item, "one step lowers the loss: \(loss.item) → \(after.item)")
        #expect(w1.isLeaf && w1.requiresGrad && w1.grad == nil)

        // The functional form: fresh gradients, `.grad` untouched.
        let fresh = gradients(of: binaryCrossEntropy(logits: logits(x), targets: y), wrt: [w1, b1])
        #expect(fresh.map(\.shape) == [[2, 16], [16]])
        #expect(w1.grad == nil)
    }

    @Test("Getting started: the same model with layers and Adam reaches 0.95 training accuracy")
    func gettingStartedLayers() {
        let data = makeMoons(samples: 200, noise: 0.1, seed: 0, as: Float.self)
        let x = data.features
        let y = data.labels.reshaped([-1, 1])

        var generator = RandomGenerator(seed: 1)
        let model = Sequential<Float>(mlp: [2, 16, 16, 1], activation: .relu, generator: &generator)
        let optimizer = Adam(for: model, learningRate: 0.01)

        for _ in 0..<300 {
            optimizer.zeroGrad()
            let loss = binaryCrossEntropy(logits: model(x), targets: y)
            loss.backward()
            optimizer.step()
        }

        let accuracy = withoutGrad { binaryAccuracy(outputs: model(x), targets: y, threshold: 0) }
        #expect(accuracy >= 0.95, "training accuracy \(accuracy)")
    }

    // MARK: Sources/AutoDiff/AutoDiff.docc/WritingACustomOp.md

    /// softsign(x) = x / (1 + |x|), with d/dx = 1 / (1 + |x|)².
    static func softsign(_ x: Tensor<Double>) -> Tensor<Double> {
        Tensor.customOp(
            name: "softsign", inputs: [x],
            forward: { inputs in inputs[0] / (inputs[0].abs() + 1) },
            vjp: { upstream, inputs, _ in [upstream / (inputs[0].abs() + 1).squared()] })
    }

    /// The same op with the square left out of its VJP: the mistake the check exists for.
    static func softsignWithWrongVJP(_ x: Tensor<Double>) -> Tensor<Double> {
        Tensor.customOp(
            name: "softsign", inputs: [x],
            forward: { inputs in inputs[0] / (inputs[0].abs() + 1) },
            vjp: { upstream, inputs, _ in [upstream / (inputs[0].abs() + 1)] })
    }

    /// `x·w` with its VJP from the saved output: ∂/∂x = g·wᵀ, ∂/∂w = xᵀ·g.
    static func product(_ x: Tensor<Double>, _ w: Tensor<Double>) -> Tensor<Double> {
        Tensor.customOp(
            name: "product", inputs: [x, w],
            forward: { inputs in inputs[0].matmul(inputs[1]) },
            vjp: { g, inputs, _ in
                [g.matmul(inputs[1], transposeOther: true), inputs[0].matmul(g, transposeSelf: true)]
            })
    }

    @Test("Writing a custom op: softsign's VJP passes the first- and second-order checks")
    func customOpPasses() {
        let x = Tensor<Double>([-2, -0.5, 0.25, 3]).requiringGrad()
        Self.softsign(x).sum().backward()
        // 1 / (1 + |x|)² at −2, −0.5, 0.25, 3:
        let expected: [Double] = [1 / 9, 1 / 2.25, 1 / 1.5625, 1 / 16]
        #expect(x.grad!.scalars == expected)

        let report = GradCheck.check(
            { inputs in Self.softsign(inputs[0]).sum() }, at: [GradCheck.input([3, 4], seed: 1)])
        #expect(report.passed, "\(report)")

        let second = GradCheck.checkSecondOrder(
            { inputs in Self.softsign(inputs[0]).sum() }, at: [GradCheck.input([3, 4], seed: 1)])
        #expect(second.passed, "\(second)")
    }

    @Test("Writing a custom op: a VJP without the square fails the check, naming the element")
    func customOpWrongVJPFails() {
        let report = GradCheck.check(
            { inputs in Self.softsignWithWrongVJP(inputs[0]).sum() }, at: [GradCheck.input([3, 4], seed: 1)])
        #expect(!report.passed)
        #expect(report.inputs[0].maxRelativeError > 0.1)
        #expect(report.inputs[0].worstElement != nil)
    }

    @Test("Writing a custom op: a two-input op, composed with built-in ops, checked by projections")
    func customOpTwoInputs() {
        let report = GradCheck.check(
            { inputs in Self.product(inputs[0], inputs[1]).tanh().sum() },
            at: [GradCheck.input([8, 5], seed: 2), GradCheck.input([5, 3], seed: 3)],
            mode: .projections(count: 4, seed: 7))
        #expect(report.passed, "\(report)")
    }

    // MARK: Sources/NN/NN.docc/SavingAndResuming.md

    /// The article's model and optimizer, built the same way on every call.
    static func makeRun() -> (model: Sequential<Float>, optimizer: Adam<Float>) {
        var generator = RandomGenerator(seed: 3)
        let model = Sequential<Float>(mlp: [2, 16, 16, 1], activation: .relu, generator: &generator)
        return (model, Adam(for: model, learningRate: 0.01))
    }

    /// Trains the epochs `epochs` on shuffled minibatches, saving a checkpoint after each when
    /// `checkpoint` is given.
    static func train(
        _ model: Sequential<Float>, _ optimizer: Adam<Float>, on data: Dataset<Float>,
        epochs: Range<Int>, shuffler: inout RandomGenerator, checkpoint: String? = nil
    ) throws {
        for epoch in epochs {
            for batch in data.batches(size: 32, shuffledBy: &shuffler) {
                optimizer.zeroGrad()
                binaryCrossEntropy(logits: model(batch.features), targets: batch.labels.reshaped([-1, 1]))
                    .backward()
                optimizer.step()
            }
            if let checkpoint {
                try Checkpoint.save(
                    to: checkpoint, model: model, optimizer: optimizer, step: epoch + 1,
                    generators: ["shuffle": shuffler])
            }
        }
    }

    @Test("Saving and resuming: parameters round-trip through safetensors with their metadata")
    func savingParameters() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }

        var generator = RandomGenerator(seed: 3)
        let model = Sequential<Float>(mlp: [2, 16, 1], activation: .relu, generator: &generator)
        let weights = folder + "/moons.safetensors"
        try model.saveParameters(to: weights, metadata: ["task": "moons"])

        var other = RandomGenerator(seed: 99)
        let copy = Sequential<Float>(mlp: [2, 16, 1], activation: .relu, generator: &other)
        let metadata = try copy.loadParameters(from: weights)
        #expect(metadata["task"] == "moons")
        #expect(
            copy.namedParameters.map(\.name) == [
                "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
            ])
        for (a, b) in zip(model.parameters, copy.parameters) { #expect(a.value.scalars == b.value.scalars) }

        let contents = try Safetensors.read(contentsOf: weights, as: Float.self)
        #expect(contents.names.sorted() == ["layers.0.bias", "layers.0.weight", "layers.2.bias", "layers.2.weight"])
        #expect(contents.tensors["layers.0.weight"]!.shape == [2, 16])

        let wider = Sequential<Float>(mlp: [2, 32, 1], activation: .relu, generator: &other)
        #expect(throws: NNError.self) { try wider.loadParameters(from: weights) }
    }

    @Test("Saving and resuming: 3 + 3 epochs through a checkpoint give the parameters of 6 straight")
    func resumingTraining() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let data = makeMoons(samples: 256, noise: 0.1, seed: 0, as: Float.self)

        // Six epochs straight.
        let straight = Self.makeRun()
        var straightShuffler = RandomGenerator(seed: 4)
        try Self.train(straight.model, straight.optimizer, on: data, epochs: 0..<6, shuffler: &straightShuffler)

        // Three epochs, saving a checkpoint after each; then a new process's worth of objects
        // resumes from the last one and trains the remaining three.
        let checkpoint = folder + "/run.ckpt"
        let first = Self.makeRun()
        var shuffler = RandomGenerator(seed: 4)
        try Self.train(
            first.model, first.optimizer, on: data, epochs: 0..<3, shuffler: &shuffler, checkpoint: checkpoint)

        let resumed = Self.makeRun()
        let restored = try Checkpoint.load(from: checkpoint, model: resumed.model, optimizer: resumed.optimizer)
        var resumedShuffler = restored.generators["shuffle"]!
        try Self.train(
            resumed.model, resumed.optimizer, on: data, epochs: restored.step..<6, shuffler: &resumedShuffler)

        #expect(restored.step == 3)
        #expect(resumed.optimizer.stepCount == straight.optimizer.stepCount)
        for (a, b) in zip(straight.model.parameters, resumed.model.parameters) {
            #expect(a.value.scalars == b.value.scalars)
        }
    }

    // MARK: Sources/NN/NN.docc/NN.md

    @Test("NN's landing page: minibatch Adam on make_moons classifies the validation points")
    func nnLandingPage() {
        let (train, validation) = makeMoons(samples: 1000, noise: 0.2, seed: 0).split(
            validationFraction: 0.2, seed: 1)
        var generator = RandomGenerator(seed: 2)
        let model = Sequential<Float>(mlp: [2, 16, 16, 1], activation: .relu, generator: &generator)
        let optimizer = Adam(for: model, learningRate: 0.01)
        for _ in 0..<100 {
            for batch in train.batches(size: 64, shuffledBy: &generator) {
                optimizer.zeroGrad()
                binaryCrossEntropy(logits: model(batch.features), targets: batch.labels.reshaped([-1, 1])).backward()
                optimizer.step()
            }
        }
        let accuracy = withoutGrad {
            binaryAccuracy(outputs: model(validation.features), targets: validation.labels, threshold: 0)
        }
        #expect(accuracy >= 0.93, "validation accuracy \(accuracy)")
    }

    // MARK: GradCheck/GradCheck.docc/GradCheck.md

    @Test("GradCheck's landing page: a check that passes, and a diagnosis naming the factor N")
    func gradCheckLandingPage() {
        let report = GradCheck.check(
            { inputs in inputs[0].matmul(inputs[1]).tanh().sum() },
            at: [GradCheck.input([3, 4], seed: 1), GradCheck.input([4, 2], seed: 2)])
        #expect(report.passed, "\(report)")

        var generator = RandomGenerator(seed: 0)
        let x = Tensor<Double>.randomNormal([8, 3], generator: &generator)
        let y = Tensor<Double>.randomNormal([8, 1], generator: &generator)
        let w = Tensor<Double>.randomNormal([3, 1], generator: &generator)
        let b = Tensor<Double>.zeros([1])

        let z = x.matmul(w) + b
        let dz = (z - y) * 2
        let dw = x.matmul(dz, transposeSelf: true)
        let db = dz.sum(alongAxis: 0)

        let diagnosis = GradCheck.diagnose(
            { r in
                let z = r.record("z", x.matmul(r["w"]) + r["b"])
                return (z - y).squared().mean()
            }, at: [("w", w), ("b", b)], handWritten: ["z": dz, "w": dw, "b": db])
        #expect(diagnosis.firstWrong == "z", "\(diagnosis)")
        #expect(diagnosis.batchSize == 8)
        for finding in diagnosis.tensors {
            #expect(finding.relation.kind == .factor, "\(finding.name): \(finding.relation)")
            #expect(finding.relation.batchPower == 1, "\(finding.name): \(finding.relation)")
        }
    }

    static func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "article-examples-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
