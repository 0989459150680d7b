import AutoDiff
import Distributed
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
    /// Where to save the run at every held-out evaluation (`--checkpoint`).
    var checkpoint: String?
    /// The checkpoint to continue (`--resume`).
    var resume: String?
    var plotDirectory: String? = "demos-output"
    var capturedSteps = true
    /// Data-parallel over the ranks of an MPI job (`--distributed`).
    var distributed = false
    /// How the ranks exchange gradients (`--transport`).
    var gradientTransport = GradientTransport.automatic
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
    /// The ranks that trained, with `--distributed`.
    var ranks: Int?
    /// How the ranks exchanged gradients, when distributed.
    var transport: String?

    /// The last held-out loss.
    var heldOutLoss: Double { heldOutLosses.last?.loss ?? .nan }
}

/// `demos words`: a character-level transformer (``GPT``) trained on a word list, evaluated on
/// held-out words, and sampled. The data, model, initialization and optimizer are those of
/// `../shared/peers/torch_models.py gpt-words`, so the held-out loss compares with PyTorch's
/// (2.127 after 2000 steps); the seeds play the roles of the peer's: `seed` shuffles the words
/// and draws the weights, `seed + 1` the training windows, `seed + 2` the held-out windows.
///
/// With `--distributed` every rank draws each step's global batch of windows and trains on its
/// rows `⌊b·r/p⌋ ..< ⌊b·(r+1)/p⌋` (``DistributedSampler``'s slice), its mean loss weighted by its
/// share, so the ranks together take the single-process run's steps; the held-out batches are
/// shared out and their losses summed. Only rank 0 prints, samples and writes files.
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
        let run = Run(settings: settings, shape: shape, vocabulary: corpus.vocabulary)
        var batches = RandomGenerator(seed: settings.seed &+ 1)
        var firstStep = 1
        // The checkpoint the run could continue from, as an interruption's message names it.
        var lastCheckpoint: (path: String, step: Int)?
        if let path = settings.resume {
            let restored = try run.resume(from: path, model: model, optimizer: optimizer)
            (batches, firstStep) = (restored.batches, restored.step + 1)
            (result.trainLosses, result.heldOutLosses) = (restored.trainLosses, restored.heldOutLosses)
            lastCheckpoint = (path, restored.step)
            JobWatch.resumed(from: path, progress: "step \(restored.step)")
            progress("resumed \(path) after step \(restored.step)")
        }
        // --distributed: after any --load or --resume, so every rank starts from rank 0's weights.
        let distributed =
            settings.distributed ? try DistributedTraining(model: model, transport: settings.gradientTransport) : nil
        result.ranks = distributed?.communicator.size
        result.transport = distributed?.parallel.transport.rawValue
        let step = trainingStep(
            model: model, optimizer: optimizer, captured: settings.capturedSteps, distributed: distributed)
        // The peer's held-out loss: the same 50 windows at every evaluation.
        let heldOutBatches = corpus.fixedBatches(
            of: corpus.heldOut, count: settings.evalBatches, size: settings.batchSize, context: shape.context,
            seed: settings.seed &+ 2)
        // This rank's windows of every global batch, and their share of it.
        let rows = distributed?.share(of: settings.batchSize) ?? 0..<settings.batchSize
        let share = Double(rows.count) / Double(settings.batchSize)
        // A checkpoint rank 0 wrote at the last evaluation: the other ranks count it as complete
        // once the next collective has completed.
        var unconfirmedCheckpoint: Int?
        let start = Date()
        Interruption.install()
        model.train()
        for index in stride(from: firstStep, through: settings.steps, by: 1) {
            let (inputs, targets) = corpus.batch(
                of: corpus.training, size: settings.batchSize, context: shape.context, generator: &batches)
            var loss = 0.0
            var signal = Interruption.signal
            if let distributed {
                if rows.isEmpty {
                    try distributed.stepWithEmptySlice(optimizer)
                } else {
                    distributed.parallel.gradientWeight = share
                    loss = Double(step(inputs.rows(rows), targets.rows(rows)).item)
                    try distributed.rethrow()
                }
                // The global batch's mean loss (the share-weighted sum), and whether any rank
                // was signalled, agreed by all.
                let totals = try distributed.sum([share * loss, signal == nil ? 0 : 1])
                loss = totals[0]
                if totals[1] > 0 { signal = signal ?? SIGTERM }
                if let saved = unconfirmedCheckpoint.take() { JobWatch.checkpointCompleted(progress: "step \(saved)") }
            } else {
                loss = Double(step(inputs, targets).item)
            }
            guard loss.isFinite else {
                throw DemoError.message(
                    "training diverged: the loss became \(loss.isNaN ? "NaN" : "infinite") at step \(index): try a smaller --lr"
                )
            }
            result.trainLosses.append((index, loss))
            if let signal {
                let kept = lastCheckpoint.map { "; \($0.path) holds the run after step \($0.step)" } ?? ""
                throw DemoError.interrupted(
                    signal: signal, "interrupted by signal \(signal) at step \(index)\(kept)")
            }
            if index % settings.evalInterval == 0 || index == settings.steps {
                let heldOut = try heldOutLoss(model, heldOutBatches, distributed)
                result.heldOutLosses.append((index, heldOut))
                model.train()
                progress(
                    "step \(index)/\(settings.steps): train loss \(Format.fixed(loss, 4)), held-out loss \(Format.fixed(heldOut, 4))"
                )
                if let path = settings.checkpoint {
                    try run.save(to: path, step: index, model: model, optimizer: optimizer, batches: batches, result)
                    lastCheckpoint = (path, index)
                }
                unconfirmedCheckpoint = index
            }
        }
        result.seconds = Date().timeIntervalSince(start)
        if settings.steps == 0 {
            result.heldOutLosses.append((0, try heldOutLoss(model, heldOutBatches, distributed)))
        }
        result.replayedSteps = step.replayedCalls
        result.eagerSteps = step.eagerCalls + step.recordedCalls
        result.eagerReason = step.eagerReason
        var sampler = RandomGenerator(seed: settings.seed &+ 3)
        let separator = corpus.vocabulary.separatorIndex
        // Only rank 0 prints the words: the other ranks leave the cores to it.
        let samples = distributed?.communicator.isRoot == false ? 0 : settings.samples
        result.words = (0..<samples).map { _ in
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
        if let path = lastCheckpoint?.path, path == settings.checkpoint { result.files.append(path) }
        if let directory = settings.plotDirectory, !result.trainLosses.isEmpty {
            result.files.append(try writeCurves(result, in: directory))
        }
        return result
    }

    /// The training step, captured unless `captured` is false: AdamW on the mean cross-entropy of
    /// the next-character logits; returns the loss. With `distributed`, the gradients are
    /// exchanged during backward and averaged before the optimizer's step (a replay repeats the
    /// exchange: ``DistributedDataParallel``).
    static func trainingStep(
        model: GPT<Float>, optimizer: Optimizer<Float>, captured: Bool, distributed: DistributedTraining? = nil
    ) -> CapturedStep<IndexTensor, IndexTensor, Tensor<Float>> {
        CapturedStep(enabled: captured) { inputs, targets in
            optimizer.zeroGrad()
            let loss = model.loss(inputs, targets)
            loss.backward()
            distributed?.recording { try distributed?.parallel.finishGradientSynchronization() }
            optimizer.step()
            return loss
        }
    }

    /// The mean of the held-out batches' losses (``GPT/meanLoss(over:)``); with `distributed`,
    /// each rank evaluates its contiguous part of the batches and the sums are added up.
    static func heldOutLoss(
        _ model: GPT<Float>, _ batches: [(inputs: IndexTensor, targets: IndexTensor)],
        _ distributed: DistributedTraining?
    ) throws -> Double {
        guard let distributed else { return model.meanLoss(over: batches) }
        let part = distributed.share(of: batches.count)
        let local = part.isEmpty ? 0 : model.meanLoss(over: Array(batches[part])) * Double(part.count)
        return try distributed.sum([local])[0] / Double(max(batches.count, 1))
    }

    /// What a checkpoint of `demos words` must match to be continued, and how it is written and
    /// read: the model and AdamW's state, the step, the window generator, and the loss curves so
    /// far (`Checkpoint`).
    struct Run {
        let settings: WordsSettings
        let shape: (context: Int, blocks: Int, heads: Int, width: Int)
        let vocabulary: CharacterVocabulary

        /// The options and data that shape the run: a checkpoint continues only the run it was
        /// saved from.
        var description: String {
            "context \(shape.context), blocks \(shape.blocks), heads \(shape.heads), width \(shape.width), "
                + "batch-size \(settings.batchSize), lr \(settings.learningRate), weight-decay \(settings.weightDecay), "
                + "seed \(settings.seed), \(vocabulary.count) characters"
        }

        /// Saves the run after `step` to `path` (atomically), with `result`'s curves.
        func save(
            to path: String, step: Int, model: GPT<Float>, optimizer: Optimizer<Float>, batches: RandomGenerator,
            _ result: WordsResult
        ) throws {
            let curves = Curves(
                train: result.trainLosses.map(\.loss), heldOutSteps: result.heldOutLosses.map(\.step),
                heldOut: result.heldOutLosses.map(\.loss))
            do {
                let encoded = String(decoding: try JSONEncoder().encode(curves), as: UTF8.self)
                try JobWatch.writingCheckpoint(progress: "step \(step)") {
                    try Checkpoint.save(
                        to: path, model: model, optimizer: optimizer, step: step, generators: ["batches": batches],
                        metadata: [
                            "run": description, WordsDemo.vocabularyKey: vocabulary.serialized, "curves": encoded,
                        ])
                }
            } catch {
                throw DemoError.message("--checkpoint: \(error)")
            }
        }

        /// Restores the run saved at `path` into `model` and `optimizer`; returns the step it was
        /// saved after, the window generator and the curves.
        func resume(from path: String, model: GPT<Float>, optimizer: Optimizer<Float>) throws -> (
            step: Int, batches: RandomGenerator, trainLosses: [(step: Int, loss: Double)],
            heldOutLosses: [(step: Int, loss: Double)]
        ) {
            let restored: Checkpoint.Restored
            do {
                restored = try Checkpoint.load(from: path, model: model, optimizer: optimizer)
            } catch {
                throw DemoError.message("--resume: \(error)")
            }
            guard restored.metadata["run"] == description,
                restored.metadata[WordsDemo.vocabularyKey] == vocabulary.serialized,
                let batches = restored.generators["batches"],
                let curves = restored.metadata["curves"].flatMap({
                    try? JSONDecoder().decode(Curves.self, from: Data($0.utf8))
                })
            else {
                throw DemoError.message(
                    "--resume \(path): the checkpoint continues a words run with "
                        + "\(restored.metadata["run"] ?? "other options") and its own word list, not \(description): "
                        + "pass the --file and options it was saved with")
            }
            return (
                restored.step, batches, curves.train.enumerated().map { ($0 + 1, $1) },
                Array(zip(curves.heldOutSteps, curves.heldOut)).map { ($0, $1) }
            )
        }

        /// The loss curves as a checkpoint keeps them: the training loss of steps 1, 2, … and
        /// the held-out losses with their steps.
        struct Curves: Codable {
            var train: [Double]
            var heldOutSteps: [Int]
            var heldOut: [Double]
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

extension IndexTensor {
    /// Rows `range` of a `[rows, columns]` index tensor (itself when `range` is all of them).
    fileprivate func rows(_ range: Range<Int>) -> IndexTensor {
        guard range != 0..<shape[0] else { return self }
        let columns = shape[1]
        return IndexTensor(
            Array(scalars[(range.lowerBound * columns)..<(range.upperBound * columns)]), shape: [range.count, columns])
    }
}
