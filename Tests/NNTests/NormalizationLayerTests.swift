import AutoDiff
import Foundation
import Testing

@testable import NN

@Suite("Normalization, flatten and activation layers; buffers")
struct NormalizationLayerTests {
    /// `a` and `b` agree to `tolerance` relative to 1 + |b|.
    func expectClose(_ a: [Double], _ b: [Double], tolerance: Double = 1e-10, _ what: String) {
        #expect(a.count == b.count, "\(what): \(a.count) values, expected \(b.count)")
        for (i, (x, y)) in zip(a, b).enumerated() where abs(x - y) > tolerance * (1 + abs(y)) {
            Issue.record("\(what) element \(i): \(x), PyTorch \(y)")
            return
        }
    }

    static func input(_ shape: [Int], _ f: (Double) -> Double) -> Tensor<Double> {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { f(Double($0)) })
    }

    /// The two batches the PyTorch numbers were made from (float64, torch 2.15):
    /// `sin(0.37·i)·2` and `cos(0.21·i)·3 + 1`, shape [2, 3, 2, 2].
    static var first: Tensor<Double> { input([2, 3, 2, 2]) { sin(0.37 * $0) * 2 } }
    static var second: Tensor<Double> { input([2, 3, 2, 2]) { cos(0.21 * $0) * 3 + 1 } }

    @Test("BatchNorm2d: running statistics after two training steps and the evaluation output match PyTorch")
    func batchNormRunningStatistics() {
        let bn = BatchNorm2d<Double>(numFeatures: 3)
        _ = bn(Self.first)
        _ = bn(Self.second)
        expectClose(
            bn.runningMean!.value.scalars, [0.06388011897263612, 0.12277505393377858, 0.06330803456842461],
            "running_mean")
        expectClose(
            bn.runningVar!.value.scalars, [1.915439870138028, 1.3104483649591425, 1.0594667532504425], "running_var")
        #expect(bn.numBatchesTracked!.value.item == 2)
        bn.eval()
        expectClose(
            bn(Self.first).scalars,
            [
                -0.046156229181927744, 0.47641026010862314, 0.9282498265439192, 1.2482081044821707, 1.632655599370292,
                1.5721959969266626, 1.2844312166913134, 0.8083088717034884, 0.28940244218774175, -0.42542853143168863,
                -1.0910042139138856, -1.6172420589915575, -1.4379661593665598, -1.4843663711780881,
                -1.3361115872192117, -1.0132673970041328, -0.7279146792755892, -0.09534442642119181, 0.5356144221558584,
                1.0795645462624228, 1.6847306040224006, 1.8746979143644777, 1.8026091917862201, 1.47822130670511,
            ], "evaluation output")
        // Evaluation leaves the running statistics alone.
        #expect(bn.numBatchesTracked!.value.item == 2)
    }

    @Test("training normalizes each channel to mean 0 and variance 1; evaluation uses the running statistics")
    func trainVersusEval() {
        let bn = BatchNorm1d<Double>(numFeatures: 3, momentum: nil)
        let x = Self.input([4, 3, 5]) { sin($0 * 1.3) * 4 + $0 / 10 }
        let y = bn(x)
        let mean = y.mean(alongAxes: [0, 2]).scalars
        let variance = (y * y).mean(alongAxes: [0, 2]).scalars
        for c in 0..<3 {
            #expect(abs(mean[c]) < 1e-12)
            #expect(abs(variance[c] - 1) < 1e-3)  // (σ²/(σ² + ε))
        }
        // momentum nil: a cumulative average, so after one batch the running mean is the batch mean.
        expectClose(bn.runningMean!.value.scalars, x.mean(alongAxes: [0, 2]).scalars, tolerance: 1e-12, "mean")
        bn.eval()
        let evaluated = bn(x)
        // The running variance is unbiased (n/(n − 1) = 20/19), so evaluation differs from training.
        expectClose(
            evaluated.scalars, ((y * sqrt(Tensor<Double>(19.0 / 20.0)))).scalars, tolerance: 1e-4, "evaluation")
        #expect(evaluated.scalars != y.scalars)
        // Without running statistics, evaluation normalizes with the batch's own.
        let untracked = BatchNorm1d<Double>(numFeatures: 3, trackRunningStats: false)
        untracked.eval()
        expectClose(untracked(x).scalars, y.scalars, tolerance: 1e-12, "untracked")
        #expect(untracked.namedBuffers.isEmpty)
    }

    @Test("buffers are named as PyTorch names them and are not parameters")
    func buffersAreNotParameters() {
        var g = RandomGenerator(seed: 3)
        let model = Sequential<Float> {
            Linear(4, 6, generator: &g)
            BatchNorm1d(numFeatures: 6)
            ReLU()
            Linear(6, 2, generator: &g)
        }
        #expect(
            model.namedBuffers.map(\.name) == [
                "layers.1.running_mean", "layers.1.running_var", "layers.1.num_batches_tracked",
            ])
        #expect(
            model.namedParameters.map(\.name) == [
                "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.3.weight",
                "layers.3.bias",
            ])
        let optimizer = Adam(for: model)
        #expect(optimizer.parameters.count == 6)
        #expect(model.namedBuffers.allSatisfy { !$0.buffer.value.requiresGrad })
        // A training step updates the running statistics without recording them on the tape.
        let x = Tensor<Float>(shape: [8, 4], scalars: (0..<32).map { Float(sin(Double($0))) })
        optimizer.zeroGrad()
        model(x).squared().mean().backward()
        optimizer.step()
        #expect(model.namedBuffers[2].buffer.value.item == 1)
        #expect(model.namedBuffers.allSatisfy { !$0.buffer.value.requiresGrad })
        let noAffine = BatchNorm2d<Float>(numFeatures: 2, affine: false)
        #expect(noAffine.namedParameters.isEmpty && noAffine.namedBuffers.count == 3)
    }

    static func bnModel(seed: UInt64) -> Sequential<Float> {
        var g = RandomGenerator(seed: seed)
        return Sequential<Float> {
            Linear(3, 4, generator: &g)
            BatchNorm1d(numFeatures: 4)
            Linear(4, 2, generator: &g)
        }
    }

    static var batch: Tensor<Float> {
        Tensor(shape: [6, 3], scalars: (0..<18).map { Float(cos(Double($0) * 0.9)) * 2 })
    }

    @Test("saveParameters writes buffers; loadParameters restores them, and reports missing ones")
    func saveAndLoadBuffers() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let model = Self.bnModel(seed: 1)
        _ = model(Self.batch)
        _ = model(Self.batch * 2)
        let path = dir.file("bn.safetensors")
        try model.saveParameters(to: path)
        let stored = try Safetensors.read(contentsOf: path, as: Float.self).tensors
        #expect(stored["layers.1.num_batches_tracked"]?.shape == [])
        #expect(stored["layers.1.running_var"]?.scalars == model.namedBuffers[1].buffer.value.scalars)

        let other = Self.bnModel(seed: 2)
        try other.loadParameters(from: path)
        #expect(other.namedBuffers.map(\.buffer.value.scalars) == model.namedBuffers.map(\.buffer.value.scalars))
        #expect(other.parameters.map(\.value.scalars) == model.parameters.map(\.value.scalars))
        model.eval()
        other.eval()
        #expect(other(Self.batch).scalars == model(Self.batch).scalars)

        // A file without the buffers (parameters only) does not load into a model that has them.
        let parametersOnly = dir.file("parameters.safetensors")
        try Safetensors.write(
            model.namedParameters.map { ($0.name, $0.parameter.value.detached()) }, to: parametersOnly)
        let error = #expect(throws: NNError.self) { try other.loadParameters(from: parametersOnly) }
        #expect(
            "\(error!)".contains("missing layers.1.running_mean, layers.1.running_var, layers.1.num_batches_tracked"))
        // A model without buffers still loads a parameters-only file.
        var g = RandomGenerator(seed: 5)
        let plain = Sequential<Float> { Linear(3, 4, generator: &g) }
        let plainPath = dir.file("plain.safetensors")
        try Safetensors.write(plain.namedParameters.map { ($0.name, $0.parameter.value.detached() + 1) }, to: plainPath)
        try plain.loadParameters(from: plainPath)
        #expect(plain.namedBuffers.isEmpty)
    }

    @Test("a checkpoint of a BatchNorm model resumes exactly, running statistics included")
    func checkpointRoundTrip() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        func step(_ model: Sequential<Float>, _ optimizer: Adam<Float>, _ k: Int) {
            optimizer.zeroGrad()
            let x = Self.batch * Float(1 + k) + Float(k)
            softmaxCrossEntropy(logits: model(x), labels: [0, 1, 1, 0, 1, 0]).backward()
            optimizer.step()
        }
        let straight = Self.bnModel(seed: 1)
        let straightOptimizer = Adam(for: straight, learningRate: 0.01)
        for k in 0..<6 { step(straight, straightOptimizer, k) }

        let first = Self.bnModel(seed: 1)
        let firstOptimizer = Adam(for: first, learningRate: 0.01)
        for k in 0..<3 { step(first, firstOptimizer, k) }
        let path = dir.file("bn.ckpt")
        try Checkpoint.save(to: path, model: first, optimizer: firstOptimizer, step: 3)
        let second = Self.bnModel(seed: 9)
        let secondOptimizer = Adam(for: second, learningRate: 0.01)
        let restored = try Checkpoint.load(from: path, model: second, optimizer: secondOptimizer)
        for k in restored.step..<6 { step(second, secondOptimizer, k) }
        #expect(second.parameters.map(\.value.scalars) == straight.parameters.map(\.value.scalars))
        #expect(second.namedBuffers.map(\.buffer.value.scalars) == straight.namedBuffers.map(\.buffer.value.scalars))
        #expect(second.namedBuffers[2].buffer.value.item == 6)
    }

    @Test("LayerNorm, GroupNorm, Flatten and the activation layers compute their functions")
    func otherLayers() {
        let x = Self.input([2, 4, 3]) { sin(0.37 * $0) * 2 }
        let ln = LayerNorm<Double>([4, 3])
        #expect(ln.namedParameters.map(\.name) == ["weight", "bias"] && ln.weight!.shape == [4, 3])
        #expect(
            ln(x).scalars
                == x.layerNorm(normalizedShape: [4, 3], weight: .ones([4, 3]), bias: .zeros([4, 3])).scalars)
        let gn = GroupNorm<Double>(numGroups: 2, numChannels: 4)
        #expect(gn.weight!.shape == [4] && gn.bias!.shape == [4])
        #expect(gn(x).scalars == x.groupNorm(groups: 2, weight: .ones([4]), bias: .zeros([4])).scalars)
        #expect(LayerNorm<Double>([3], elementwiseAffine: false).namedParameters.isEmpty)
        #expect(Flatten<Double>()(x).shape == [2, 12])
        #expect(Flatten<Double>(startDim: 0, endDim: 1)(x).shape == [8, 3])
        #expect(GELU<Double>()(x).scalars == x.gelu().scalars)
        #expect(GELU<Double>(approximate: .tanh)(x).scalars == x.gelu(approximate: .tanh).scalars)
        #expect(SiLU<Double>()(x).scalars == x.silu().scalars)
        #expect(ELU<Double>(alpha: 0.5)(x).scalars == x.elu(alpha: 0.5).scalars)
        #expect(LogSoftmax<Double>(axis: 1)(x).scalars == x.logSoftmax(alongAxis: 1).scalars)
        #expect(LeakyReLU<Double>(slope: 0.2)(x).scalars == x.leakyRelu(slope: 0.2).scalars)
        // By name, for Sequential(mlp:activation:).
        let byName: [(Activation, Tensor<Double>)] = [
            (.gelu(approximate: .tanh), x.gelu(approximate: .tanh)), (.silu, x.silu()),
            (.elu(alpha: 0.3), x.elu(alpha: 0.3)),
        ]
        for (activation, expected) in byName {
            #expect(activation.layer(Double.self)!(x).scalars == expected.scalars, "\(activation)")
        }
    }

    @Test("layer misuse stops with one line naming the layer and the shapes", arguments: LayerMisuse.allCases)
    func misuse(_ misuse: LayerMisuse) async throws {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [misuse] in
            misuse.trigger()
        }
        let stderr = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        #expect(stderr.contains(misuse.expected), "stderr was: \(stderr.prefix(600))")
    }
}

/// Bad shapes and options for the layers of this file.
enum LayerMisuse: String, Codable, Sendable, CaseIterable {
    case batchNorm2dRank, batchNorm1dChannels, momentum, groupNormChannels, layerNormShape

    var expected: String {
        switch self {
        case .batchNorm2dRank: "BatchNorm2d: input [2, 3] is not [N, C, H, W] with C = 3"
        case .batchNorm1dChannels: "BatchNorm1d: input [2, 4, 5] is not [N, C] or [N, C, L] with C = 3"
        case .momentum: "BatchNorm2d: momentum 1.5 is outside [0, 1]"
        case .groupNormChannels: "GroupNorm: 6 channels cannot be cut into 4 groups"
        case .layerNormShape: "LayerNorm: normalizedShape [] must be nonempty with positive sizes"
        }
    }

    func trigger() {
        switch self {
        case .batchNorm2dRank: _ = BatchNorm2d<Float>(numFeatures: 3)(.ones([2, 3]))
        case .batchNorm1dChannels: _ = BatchNorm1d<Float>(numFeatures: 3)(.ones([2, 4, 5]))
        case .momentum: _ = BatchNorm2d<Float>(numFeatures: 3, momentum: 1.5)
        case .groupNormChannels: _ = GroupNorm<Float>(numGroups: 4, numChannels: 6)
        case .layerNormShape: _ = LayerNorm<Float>([])
        }
    }
}
