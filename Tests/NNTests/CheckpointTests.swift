import AutoDiff
import Foundation
import Testing
@testable import NN

@Suite("Checkpoints")
struct CheckpointTests {
    static func makeRun(seed: UInt64) -> (Sequential<Float>, Adam<Float>) {
        var g = RandomGenerator(seed: seed)
        let model = Sequential<Float> {
            Linear(2, 16, weightL2: 5e-4, biasL2: 5e-4, generator: &g)
            ReLU()
            Dropout(rate: 0.1, seed: seed + 1)
            Linear(16, 3, generator: &g)
        }
        return (model, Adam(for: model, learningRate: 0.05, epsilon: 1e-7, amsgrad: true, schedule: .inverseTimeDecay(5e-5)))
    }

    /// One epoch of shuffled minibatches; returns the data and regularization losses of each step.
    static func epoch(_ model: Sequential<Float>, _ optimizer: Optimizer<Float>, _ data: Dataset<Float>, _ shuffler: inout RandomGenerator) -> [Float] {
        model.train()
        var losses: [Float] = []
        for batch in data.batches(size: 32, shuffledBy: &shuffler) {
            optimizer.zeroGrad()
            let dataLoss = softmaxCrossEntropy(logits: model(batch.features), labels: batch.labels)
            let regLoss = model.regularizationLoss()
            (dataLoss + regLoss).backward()
            optimizer.clipGradients(maxNorm: 5)
            optimizer.step()
            losses += [dataLoss.item, regLoss.item]
        }
        return losses
    }

    @Test("A run resumed from a checkpoint reproduces the uninterrupted run bit for bit")
    func resumeIsExact() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let data = spiralData(samples: 50, classes: 3, seed: 7)

        let (model, optimizer) = Self.makeRun(seed: 1)
        var shuffler = RandomGenerator(seed: 99)
        var uninterrupted: [Float] = []
        for _ in 0..<6 { uninterrupted += Self.epoch(model, optimizer, data, &shuffler) }

        let (first, firstOptimizer) = Self.makeRun(seed: 1)
        var firstShuffler = RandomGenerator(seed: 99)
        var resumed: [Float] = []
        for _ in 0..<3 { resumed += Self.epoch(first, firstOptimizer, data, &firstShuffler) }
        let path = dir.file("run.ckpt.safetensors")
        try Checkpoint.save(to: path, model: first, optimizer: firstOptimizer, step: 3, generators: ["shuffle": firstShuffler], metadata: ["note": "x"])

        // A differently initialised model and a fresh optimizer, restored from the file.
        let (second, secondOptimizer) = Self.makeRun(seed: 12345)
        let restored = try Checkpoint.load(from: path, model: second, optimizer: secondOptimizer)
        #expect(restored.step == 3)
        #expect(restored.metadata == ["note": "x"])
        #expect(secondOptimizer.stepCount == firstOptimizer.stepCount)
        var secondShuffler = try #require(restored.generators["shuffle"])
        for _ in restored.step..<6 { resumed += Self.epoch(second, secondOptimizer, data, &secondShuffler) }

        #expect(resumed == uninterrupted)
        #expect(second.parameters.map(\.value.scalars) == model.parameters.map(\.value.scalars))
    }

    @Test("Loading into a different architecture or optimizer fails, naming the problem, and changes nothing")
    func mismatches() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (model, optimizer) = Self.makeRun(seed: 1)
        let path = dir.file("c.safetensors")
        try Checkpoint.save(to: path, model: model, optimizer: optimizer, step: 0)

        var g = RandomGenerator(seed: 2)
        let other = Sequential<Float>(mlp: [2, 8, 3], activation: .relu, generator: &g)
        let before = other.parameters.map(\.value.scalars)
        let e1 = #expect(throws: NNError.self) { try Checkpoint.load(from: path, model: other, optimizer: Adam(for: other, amsgrad: true)) }
        #expect("\(e1!)" == "checkpoint \(path): missing model.layers.2.weight, model.layers.2.bias; unexpected model.layers.3.bias, model.layers.3.weight; model.layers.0.weight has shape [2, 16], the model expects [2, 8]; model.layers.0.bias has shape [16], the model expects [8]")
        #expect(other.parameters.map(\.value.scalars) == before)

        let (same, _) = Self.makeRun(seed: 3)
        let e2 = #expect(throws: NNError.self) { try Checkpoint.load(from: path, model: same, optimizer: SGD(for: same)) }
        #expect("\(e2!)" == "checkpoint \(path): was saved with optimizer Adam<Float>, not SGD<Float>")

        let plain = dir.file("plain.safetensors")
        try same.saveParameters(to: plain)
        let e3 = #expect(throws: NNError.self) { try Checkpoint.load(from: plain, model: same, optimizer: Adam(for: same)) }
        #expect("\(e3!)".contains("not a checkpoint"))
    }
}
