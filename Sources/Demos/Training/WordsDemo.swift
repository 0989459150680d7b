import AutoDiff
import Foundation
import NN

/// The configuration of `demos words`: `torch_models.py gpt-words`'s by default.
struct WordsSettings: Equatable {
    var file = WordsDemo.defaultWordList
    var steps = 2000
    var batchSize = 64
    var context = 16
    var blocks = 2
    var heads = 4
    var width = 64
    var learningRate = 3e-3
    var weightDecay = 0.01
    /// Steps between held-out evaluations (and at the last step).
    var evalInterval = 250
    /// Batches of the held-out loss (fixed: the same windows at every evaluation).
    var evalBatches = 50
    var samples = 20
    var temperature = 1.0
    var topK: Int? = nil
    var seed: UInt64 = 0
    var threads = ProcessInfo.processInfo.activeProcessorCount
    var save: String?
    var load: String?
    var plotDirectory: String? = "demos-output"
    var capturedSteps = true
}

/// What a `demos words` run measured.
struct WordsResult {
    /// Step and running training loss (the step's batch loss) of every step.
    var trainLosses: [(step: Int, loss: Double)] = []
    /// Step and held-out loss of every evaluation.
    var heldOutLosses: [(step: Int, loss: Double)] = []
    var parameters = 0
    var vocabularySize = 0
    var trainingWords = 0
    var heldOutWords = 0
    var words: [String] = []
    var seconds = 0.0
    var replayedSteps = 0
    var eagerSteps = 0
    var eagerReason: String?
    var files: [String] = []

    /// The last held-out loss.
    var heldOutLoss: Double { heldOutLosses.last?.loss ?? .nan }
}

/// `demos words`: a character-level transformer (``GPT``) trained on a word list, evaluated on
/// held-out words, and sampled. The data, model, initialization and optimizer are those of
/// `../shared/peers/torch_models.py gpt-words`, so the held-out loss compares with PyTorch's
/// (2.127 after 2000 steps); the seeds play the roles of the peer's: `seed` shuffles the words
/// and draws the weights, `seed + 1` the training windows, `seed + 2` the held-out windows.
enum WordsDemo {
    /// The system word list (Debian package `wamerican`).
    static let defaultWordList = "/usr/share/dict/words"

    /// The metadata keys of a saved model: its vocabulary and shape.
    static let vocabularyKey = "vocabulary"
    static let shapeKeys = ["context", "blocks", "heads", "width"]

    /// Trains (unless `steps` is 0 with `load`), reporting to `progress`, then samples.
    static func run(settings: WordsSettings, progress: (String) -> Void) throws -> WordsResult {
        var result = WordsResult()
        var shape = (context: settings.context, blocks: settings.blocks, heads: settings.heads, width: settings.width)
        var loadedVocabulary: CharacterVocabulary?
        if let path = settings.load {
            let metadata: [String: String]
            do {
                metadata = try Safetensors.read(contentsOf: path, as: Float.self).metadata
            } catch {
                throw DemoError.message("--load: \(error)")
            }
            guard let serialized = metadata[vocabularyKey],
                let values = Optional(shapeKeys.compactMap { metadata[$0].flatMap(Int.init) }), values.count == 4
            else {
                throw DemoError.message(
                    "--load \(path): not a words model (its metadata lacks the vocabulary and the context, blocks, heads and width)"
                )
            }
            loadedVocabulary = try CharacterVocabulary(serialized: serialized)
            shape = (values[0], values[1], values[2], values[3])
        }
        guard FileManager.default.fileExists(atPath: settings.file) else {
            throw DemoError.dataNotFound(
                settings.file == defaultWordList
                    ? "\(defaultWordList) not found: install the word list (Debian/Ubuntu package wamerican: apt-get install wamerican) or pass --file PATH"
                    : "--file \(settings.file): no such file")
        }
        let corpus: WordListCorpus
        do {
            corpus = try WordListCorpus(
                contentsOf: settings.file, shuffleSeed: settings.seed, vocabulary: loadedVocabulary)
        } catch {
            throw DemoError.message("\(error)")
        }
        guard corpus.heldOut.count >= shape.context + 2, corpus.training.count >= shape.context + 2 else {
            throw DemoError.message(
                "\(settings.file): each split needs more than \(shape.context + 1) characters for context \(shape.context)"
            )
        }
        var generator = RandomGenerator(seed: settings.seed)
        let model = GPT<Float>(
            vocabularySize: corpus.vocabulary.count, contextLength: shape.context, embedDim: shape.width,
            heads: shape.heads, blocks: shape.blocks, generator: &generator)
        if let path = settings.load {
            do {
                _ = try model.loadParameters(from: path)
            } catch {
                throw DemoError.message("--load: \(error)")
            }
        }
        result.parameters = model.parameterCount
        result.vocabularySize = corpus.vocabulary.count
        result.trainingWords = corpus.trainingWordCount
        result.heldOutWords = corpus.words.count - corpus.trainingWordCount
        progress(
            "words: \(corpus.trainingWordCount) training and \(result.heldOutWords) held-out words, "
                + "\(corpus.vocabulary.count) characters; GPT with \(shape.blocks) blocks, \(shape.heads) heads, "
                + "width \(shape.width), context \(shape.context): \(model.parameterCount) parameters")

        let optimizer = AdamW(
            for: model, learningRate: settings.learningRate, beta1: 0.9, beta2: 0.99,
            weightDecay: settings.weightDecay)
        let step = trainingStep(model: model, optimizer: optimizer, captured: settings.capturedSteps)
        // The peer's held-out loss: the same 50 windows at every evaluation.
        let heldOutBatches = corpus.fixedBatches(
            of: corpus.heldOut, count: settings.evalBatches, size: settings.batchSize, context: shape.context,
            seed: settings.seed &+ 2)
        var batches = RandomGenerator(seed: settings.seed &+ 1)
        let start = Date()
        model.train()
        for index in 1...max(settings.steps, 1) where settings.steps > 0 {
            let (inputs, targets) = corpus.batch(
                of: corpus.training, size: settings.batchSize, context: shape.context, generator: &batches)
            let loss = Double(step(inputs, targets).item)
            guard loss.isFinite else {
                throw DemoError.message(
                    "training diverged: the loss became \(loss.isNaN ? "NaN" : "infinite") at step \(index): try a smaller --lr"
                )
            }
            result.trainLosses.append((index, loss))
            if index % settings.evalInterval == 0 || index == settings.steps {
                let heldOut = model.meanLoss(over: heldOutBatches)
                result.heldOutLosses.append((index, heldOut))
                model.train()
                progress(
                    "step \(index)/\(settings.steps): train loss \(Format.fixed(loss, 4)), held-out loss \(Format.fixed(heldOut, 4))"
                )
            }
        }
        result.seconds = Date().timeIntervalSince(start)
        if settings.steps == 0 {
            result.heldOutLosses.append(
                (0, model.meanLoss(over: heldOutBatches)))
        }
        result.replayedSteps = step.replayedCalls
        result.eagerSteps = step.eagerCalls + step.recordedCalls
        result.eagerReason = step.eagerReason
        var sampler = RandomGenerator(seed: settings.seed &+ 3)
        let separator = corpus.vocabulary.separatorIndex
        result.words = (0..<settings.samples).map { _ in
            let tokens = model.generate(
                prompt: [separator], maxNewTokens: 4 * shape.context, temperature: settings.temperature,
                topK: settings.topK, stop: separator, generator: &sampler)
            return corpus.vocabulary.decode(tokens.filter { $0 != separator })
        }
        if let path = settings.save {
            var metadata = [vocabularyKey: corpus.vocabulary.serialized]
            for (key, value) in zip(shapeKeys, [shape.context, shape.blocks, shape.heads, shape.width]) {
                metadata[key] = String(value)
            }
            do {
                try model.saveParameters(to: path, metadata: metadata)
            } catch {
                throw DemoError.message("--save: \(error)")
            }
            result.files.append(path)
        }
        if let directory = settings.plotDirectory, !result.trainLosses.isEmpty {
            result.files.append(try writeCurves(result, in: directory))
        }
        return result
    }

    /// The training step, captured unless `captured` is false: AdamW on the mean cross-entropy of
    /// the next-character logits; returns the loss.
    static func trainingStep(
        model: GPT<Float>, optimizer: Optimizer<Float>, captured: Bool
    ) -> CapturedStep<IndexTensor, IndexTensor, Tensor<Float>> {
        CapturedStep(enabled: captured) { inputs, targets in
            optimizer.zeroGrad()
            let loss = model.loss(inputs, targets)
            loss.backward()
            optimizer.step()
            return loss
        }
    }

    /// `words-curves.svg`: the training loss per step (a running mean over 50 steps) and the
    /// held-out loss per evaluation.
    static func writeCurves(_ result: WordsResult, in directory: String) throws -> String {
        let window = 50
        var running: [(x: Double, y: Double)] = []
        var sum = 0.0
        for (i, point) in result.trainLosses.enumerated() {
            sum += point.loss
            if i >= window { sum -= result.trainLosses[i - window].loss }
            running.append((Double(point.step), sum / Double(min(i + 1, window))))
        }
        let chart = LineChart(
            title: "words: loss (nats per character)", xLabel: "step", yLabel: "loss",
            series: [
                .init(name: "train (mean of the last \(window) steps)", color: Palette.color(0), points: running),
                .init(
                    name: "held-out", color: Palette.color(1),
                    points: result.heldOutLosses.map { (Double($0.step), $0.loss) }, dashed: true),
            ],
            includeZero: true)
        let path = (directory as NSString).appendingPathComponent("words-curves.svg")
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try AtomicFile.write(chart.svg(), to: path)
        } catch {
            throw DemoError.message("--plot: \(error)")
        }
        return path
    }
}
