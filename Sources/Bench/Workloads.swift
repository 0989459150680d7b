import ArgumentParser
import AutoDiff
import Foundation
import NN

/// The workloads of the performance issue, with the shapes and hyperparameters of
/// `../shared/peers/torch_workloads.py`, so the two can be compared side by side.
enum Workload: String, CaseIterable, ExpressibleByArgument {
    case opOverhead = "op-overhead"
    case moons
    case spiral
    case mnistB128 = "mnist-b128"
    case mnistSeed004 = "mnist-seed004"
    /// One epoch of `torch_models.py cnn-mnist`'s CNN, batch 128, Adam 1e-3.
    case cnnMNIST = "cnn-mnist"
    /// mnist-b128's training step, 10,000 times, sampling resident memory every 1,000 steps.
    case memory
    /// The small models' matrix products through OpenBLAS and through the thin-product loops.
    case thinProducts = "thin-products"
    /// The CNN's two convolutions at batch 128: forward, weight and input gradients.
    case conv
    /// BatchNorm2d forward and backward at the CNN benchmark's shapes (BatchNormBench.swift).
    case batchNorm = "batchnorm"
    /// Causal attention at the gpt-words shapes, fused against composed (AttentionBench.swift).
    case attention
    /// `torch_models.py gpt-words`: a character-level transformer on the system word list,
    /// 2000 steps; the metric is the held-out loss.
    case gptWords = "gpt-words"
    /// The float products that go to the packed AVX-512 kernel, through it and through OpenBLAS
    /// at one and two threads (GemmBench.swift).
    case gemm

    func run(dataDirectory: String?, captured: Bool) throws -> Report {
        var report = try measure(dataDirectory: dataDirectory, captured: captured)
        report.mode = captured && Workload.training.contains(self) ? "captured" : "eager"
        return report
    }

    /// The workloads that train with a step function, captured unless `--eager`.
    static let training: [Workload] = [.moons, .spiral, .mnistB128, .mnistSeed004, .cnnMNIST, .memory, .gptWords]

    private func measure(dataDirectory: String?, captured: Bool) throws -> Report {
        switch self {
        case .opOverhead: return opOverhead()
        case .moons: return moons(captured: captured)
        case .spiral: return spiral(captured: captured)
        case .mnistB128:
            return try mnist(
                name: rawValue, epochs: 1, batchSize: 128, learningRate: 1e-3, dataDirectory: dataDirectory,
                captured: captured)
        case .mnistSeed004:
            return try mnist(
                name: rawValue, epochs: 10, batchSize: 1000, learningRate: 0.01, dataDirectory: dataDirectory,
                captured: captured)
        case .cnnMNIST:
            return try mnist(
                name: rawValue, model: MNISTData.cnn(), imageShaped: true, epochs: 1, batchSize: 128,
                learningRate: 1e-3, dataDirectory: dataDirectory, captured: captured)
        case .memory:
            return try memory(dataDirectory: dataDirectory, captured: captured)
        case .thinProducts:
            return thinProducts()
        case .conv:
            return convolutions()
        case .batchNorm:
            return batchNorm()
        case .attention:
            return attention()
        case .gptWords:
            return try gptWords(captured: captured)
        case .gemm:
            return try gemm()
        }
    }

    /// 4×4 tensors, ten `c = tanh(c·b + a)`, sum, backward: 31 recorded ops; µs per op including
    /// its share of the backward pass.
    func opOverhead() -> Report {
        var generator = RandomGenerator(seed: 0)
        let a = Tensor<Float>.randomNormal([4, 4], generator: &generator).requiringGrad()
        let b = Tensor<Float>.randomNormal([4, 4], generator: &generator).requiringGrad()
        func iteration() {
            var c = a
            for _ in 0..<10 { c = (c * b + a).tanh() }
            c.sum().backward()
        }
        for _ in 0..<2_000 { iteration() }
        let iterations = 50_000
        let seconds = timed { for _ in 0..<iterations { iteration() } }
        return Report(
            workload: rawValue, seconds: seconds, stepsPerSecond: Double(iterations) / seconds,
            metricName: "us_per_op", metric: seconds / Double(iterations * 31) * 1e6)
    }

    /// make_moons 1000 samples, 2-8-8-1 ReLU, BCE with logits, SGD lr 0.5, 3000 full-batch epochs.
    func moons(captured: Bool) -> Report {
        let data = makeMoons(samples: 1000, noise: 0.2, seed: 100, as: Float.self)
        let targets = data.labels.reshaped([-1, 1])
        var generator = RandomGenerator(seed: 0)
        let model = Sequential<Float>(mlp: [2, 8, 8, 1], activation: .relu, generator: &generator)
        let optimizer = SGD(for: model, learningRate: 0.5)
        let step = trainingStep(model: model, optimizer: optimizer, captured: captured) {
            (logits, targets: Tensor<Float>) in
            binaryCrossEntropy(logits: logits, targets: targets)
        }
        let epochs = 3000
        let seconds = timed {
            for _ in 0..<epochs { _ = step(data.features, targets) }
        }
        let accuracy = withoutGrad { binaryAccuracy(outputs: model(data.features), targets: targets, threshold: 0) }
        return Report(
            workload: rawValue, seconds: seconds, stepsPerSecond: Double(epochs) / seconds,
            metricName: "train_accuracy", metric: accuracy
        ).describing(step)
    }

    /// The step every training workload times: zero the gradients, forward, `loss`, backward,
    /// the optimizer's update; captured and replayed unless `--eager`.
    func trainingStep<Targets: CaptureArgument>(
        model: some Layer<Float>, optimizer: Optimizer<Float>, captured: Bool,
        loss: @escaping (_ output: Tensor<Float>, _ targets: Targets) -> Tensor<Float>
    ) -> CapturedStep<Tensor<Float>, Targets, Tensor<Float>> {
        CapturedStep(enabled: captured) { input, targets in
            let value = loss(model(input), targets)
            optimizer.zeroGrad()
            value.backward()
            optimizer.step()
            return value
        }
    }

    /// 3 classes × 1000 samples, 2-64-3 with dropout 0.1 and L2 5e-4 on the first layer, Adam
    /// (lr 0.05, decay 5e-5, ε 1e-7), 10,001 full-batch epochs; validation on a separate draw.
    func spiral(captured: Bool) -> Report {
        let train = spiralData(samples: 1000, classes: 3, seed: 0, as: Float.self)
        let validation = spiralData(samples: 100, classes: 3, seed: 1, as: Float.self)
        var generator = RandomGenerator(seed: 0)
        let model = Sequential<Float> {
            Linear<Float>(2, 64, weightL2: 5e-4, biasL2: 5e-4, generator: &generator)
            ReLU<Float>()
            Dropout<Float>(rate: 0.1, seed: 1)
            Linear<Float>(64, 3, generator: &generator)
        }
        let optimizer = Adam(
            parameters: model.parameters, learningRate: 0.05, epsilon: 1e-7, schedule: .inverseTimeDecay(5e-5))
        let labels = IndexTensor(labels: train.labels, op: "spiral")
        let step = trainingStep(model: model, optimizer: optimizer, captured: captured) {
            (logits, labels: IndexTensor) in
            softmaxCrossEntropy(logits: logits, labels: labels) + model.regularizationLoss()
        }
        let epochs = 10_001
        let seconds = timed {
            for _ in 0..<epochs { _ = step(train.features, labels) }
        }
        model.eval()
        let accuracy = withoutGrad {
            categoricalAccuracy(scores: model(validation.features), labels: classIndices(validation.labels))
        }
        return Report(
            workload: rawValue, seconds: seconds, stepsPerSecond: Double(epochs) / seconds,
            metricName: "validation_accuracy", metric: accuracy
        ).describing(step)
    }

    /// A model trained on MNIST with softmax cross-entropy, Adam and shuffled minibatches; test
    /// accuracy in evaluation mode, 1,000 images at a time. The MLP workloads train
    /// 784-512-128-64-10 ReLU on flat rows; `cnn-mnist` is `../shared/peers/torch_models.py
    /// cnn-mnist` (``MNISTData/cnn()``) on `[N, 1, 28, 28]` images, one epoch, batch 128, Adam 1e-3.
    func mnist(
        name: String, model: Sequential<Float> = MNISTData.model(), imageShaped: Bool = false, epochs: Int,
        batchSize: Int, learningRate: Double, dataDirectory: String?, captured: Bool
    ) throws -> Report {
        let data = try MNISTData.load(directory: dataDirectory)
        let optimizer = Adam(parameters: model.parameters, learningRate: learningRate)
        var shuffle = RandomGenerator(seed: 1)
        var steps = 0
        func input(_ features: Tensor<Float>) -> Tensor<Float> {
            imageShaped ? features.reshaped([features.shape[0], 1, 28, 28]) : features
        }
        model.train()
        if let communicator = Workload.communicator {
            return try distributedMNIST(
                name: name, model: model, optimizer: optimizer, data: data, input: input, epochs: epochs,
                batchSize: batchSize, communicator: communicator, captured: captured)
        }
        let step = trainingStep(model: model, optimizer: optimizer, captured: captured) {
            (logits, labels: Tensor<Float>) in
            softmaxCrossEntropy(logits: logits, labels: labels)
        }
        let seconds = timed {
            for _ in 0..<epochs {
                for batch in data.train.batches(size: batchSize, shuffledBy: &shuffle) {
                    _ = step(input(batch.features), batch.labels)
                    steps += 1
                }
            }
        }
        return Report(
            workload: name, seconds: seconds, stepsPerSecond: Double(steps) / seconds,
            metricName: "test_accuracy", metric: testAccuracy(model, data, input), data: data.source
        ).describing(step)
    }

    /// The test set's accuracy in evaluation mode, 1,000 images at a time.
    func testAccuracy(_ model: Sequential<Float>, _ data: MNISTData, _ input: (Tensor<Float>) -> Tensor<Float>)
        -> Double
    {
        model.eval()
        var correct = 0.0
        withoutGrad {
            for start in stride(from: 0, to: data.test.count, by: 1000) {
                let chunk = data.test.rows(start..<min(start + 1000, data.test.count))
                let accuracy = categoricalAccuracy(scores: model(input(chunk.features)), labels: chunk.labels)
                correct += accuracy * Double(chunk.count)
            }
        }
        return correct / Double(data.test.count)
    }

    /// mnist-b128's step 10,000 times; resident memory every 1,000 steps shows whether it is
    /// flat (no growth from the tape or caches).
    func memory(dataDirectory: String?, captured: Bool) throws -> Report {
        let data = try MNISTData.load(directory: dataDirectory)
        let model = MNISTData.model()
        let optimizer = Adam(parameters: model.parameters, learningRate: 1e-3)
        let step = trainingStep(model: model, optimizer: optimizer, captured: captured) {
            (logits, labels: Tensor<Float>) in
            softmaxCrossEntropy(logits: logits, labels: labels)
        }
        var shuffle = RandomGenerator(seed: 1)
        var steps = 0
        var samples: [Double] = []
        let totalSteps = 10_000
        let seconds = timed {
            while steps < totalSteps {
                for batch in data.train.batches(size: 128, shuffledBy: &shuffle) where steps < totalSteps {
                    _ = step(batch.features, batch.labels)
                    steps += 1
                    if steps % 1000 == 0 { samples.append((currentResidentMegabytes() * 10).rounded() / 10) }
                }
            }
        }
        let growth = (samples.last ?? 0) - (samples.first ?? 0)
        return Report(
            workload: rawValue, seconds: seconds, stepsPerSecond: Double(steps) / seconds,
            metricName: "rss_growth_mb_steps_1000_to_10000", metric: growth, data: data.source,
            residentMBSamples: samples
        ).describing(step)
    }

    /// `torch_models.py gpt-words`: the words of /usr/share/dict/words shuffled (seed 0), the
    /// last 10 % held out; a GPT of 2 blocks, 4 heads, width 64, context 16 (weights from seed
    /// 0); AdamW lr 3e-3, β 0.9/0.99, decay 0.01; 2000 steps of 64 random windows (seed 1). Timed:
    /// the steps, including drawing the windows (as the peer's). Metric: the mean loss of 50 fixed
    /// held-out batches (seed 2).
    func gptWords(captured: Bool) throws -> Report {
        let (steps, batch, context) = (2000, 64, 16)
        let wordList = "/usr/share/dict/words"
        guard FileManager.default.fileExists(atPath: wordList) else {
            throw NNError.dataset("gpt-words: \(wordList) not found: install the Debian/Ubuntu package wamerican")
        }
        let corpus = try WordListCorpus(contentsOf: wordList, shuffleSeed: 0)
        var generator = RandomGenerator(seed: 0)
        let model = GPT<Float>(
            vocabularySize: corpus.vocabulary.count, contextLength: context, embedDim: 64, heads: 4, blocks: 2,
            generator: &generator)
        let optimizer = AdamW(for: model, learningRate: 3e-3, beta1: 0.9, beta2: 0.99, weightDecay: 0.01)
        let step = CapturedStep(enabled: captured) { (inputs: IndexTensor, targets: IndexTensor) -> Tensor<Float> in
            optimizer.zeroGrad()
            let loss = model.loss(inputs, targets)
            loss.backward()
            optimizer.step()
            return loss
        }
        var windows = RandomGenerator(seed: 1)
        model.train()
        let seconds = timed {
            for _ in 0..<steps {
                let (inputs, targets) = corpus.batch(
                    of: corpus.training, size: batch, context: context, generator: &windows)
                _ = step(inputs, targets)
            }
        }
        let heldOut = model.meanLoss(
            over: corpus.fixedBatches(of: corpus.heldOut, count: 50, size: batch, context: context, seed: 2))
        return Report(
            workload: rawValue, seconds: seconds, stepsPerSecond: Double(steps) / seconds,
            metricName: "heldout_loss", metric: heldOut, data: wordList,
            replayedSteps: step.replayedCalls, eagerReason: step.eagerReason)
    }
}
