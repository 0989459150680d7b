import AutoDiff
import Distributed
import Foundation
import NN

/// How a model's logits become a loss and predicted classes.
enum ClassificationHead {
    /// One logit per sample: binary cross-entropy on the logit, class 1 when the logit is > 0
    /// (σ(z) > ½).
    case binary
    /// One logit per class: softmax cross-entropy, the arg-max class.
    case categorical

    /// The mean loss of `logits` against `labels` (`[N]` class indices as floats).
    func loss(logits: Tensor<Float>, labels: Tensor<Float>) -> Tensor<Float> {
        switch self {
        case .binary: binaryCrossEntropy(logits: logits, targets: labels.reshaped([-1, 1]))
        case .categorical: softmaxCrossEntropy(logits: logits, labels: labels)
        }
    }

    /// The predicted class of each row of `logits`.
    func predictions(_ logits: Tensor<Float>) -> [Int] {
        switch self {
        case .binary: logits.scalars.map { $0 > 0 ? 1 : 0 }
        case .categorical: logits.argmax(alongAxis: 1).scalars
        }
    }
}

/// A model's loss, accuracy and predictions on one data set, measured in evaluation mode.
struct Evaluation {
    var loss: Double
    var accuracy: Double
    /// One predicted class per sample, in the data set's order.
    var predictions: [Int]

    /// Just the numbers of an evaluation, as the summary reports them.
    struct Figures: Equatable, Sendable {
        var loss: Double
        var accuracy: Double
    }

    /// The loss and accuracy, without the predictions.
    var figures: Figures { Figures(loss: loss, accuracy: accuracy) }
}

/// The training loop the three demos share: shuffled minibatches, the optimizer step, progress
/// reporting, and an evaluation of the held-out split after every epoch.
///
/// ```
/// let training = ClassifierTraining(model: model, optimizer: optimizer, head: .binary,
///                                   settings: settings, progress: progress)
/// let (train, test, logFiles) = try training.run(train: trainSet, heldOut: testSet)
/// ```
///
/// Everything random comes from `settings.seed` (the batch order from a generator of its own),
/// and every reduction runs in a fixed order, so a seed gives the same numbers on every run.
struct ClassifierTraining {
    let model: Sequential<Float>
    let optimizer: Optimizer<Float>
    let head: ClassificationHead
    let settings: TrainingSettings
    let progress: TrainingProgress
    /// The split `heldOut` is, as `--log` and `--tensorboard` name its figures.
    var heldOutSplit: HeldOutSplit = .validation

    /// The shape the model takes each sample in (`[1, 28, 28]` for the CNN), when it is not the
    /// data set's flat row of features.
    var sampleShape: [Int]? = nil
    /// Rows per forward pass when evaluating: bounds the memory of a 60,000-image pass.
    var evaluationRows = ClassifierTraining.evaluationChunk
    /// How the last ``run(train:heldOut:)``'s steps ran.
    let stepCounts = StepCounts()

    /// Steps replayed from a capture and run eagerly (recorded calls count as eager).
    final class StepCounts {
        var replayed = 0
        var eager = 0
        /// Why the step was not captured, if it was refused (a distributed step).
        var eagerReason: String?
    }

    /// The default of ``evaluationRows``: an MLP's activations for 10,000 rows are a few tens of
    /// megabytes.
    static let evaluationChunk = 10_000

    /// `features` (`[n, d]`) in the shape the model takes: `[n] + sampleShape`.
    func modelInput(_ features: Tensor<Float>) -> Tensor<Float> {
        guard let sampleShape else { return features }
        return features.reshaped([features.shape[0]] + sampleShape)
    }

    /// Prints the model's summary (``Sequential/summary(inputShape:)``: not with `--quiet` or
    /// `--json`), then trains `settings.epochs` epochs on `train` (none: evaluate only), reporting to
    /// ``progress`` and to the `--log` and `--tensorboard` files when set; returns the final
    /// evaluation of both splits and the log files written. Throws, naming the epoch and
    /// the step, as soon as the training loss is NaN or infinite: every step after it would
    /// only train on NaN.
    func run(
        train: Dataset<Float>, heldOut: Dataset<Float>
    ) throws -> (train: Evaluation, heldOut: Evaluation, files: [String]) {
        let recorders = try RunRecorders(settings: settings, heldOutSplit: heldOutSplit)
        // Both penalties 0: skip the penalty's ops instead of adding a constant zero every step.
        let regularized = settings.l1 > 0 || settings.l2 > 0
        let fullBatch = settings.batchSize >= train.count
        var shuffler = RandomGenerator(seed: settings.seed &+ 2)
        var lastHeldOut: Evaluation?
        var firstEpoch = 1
        if let path = settings.resumePath {
            let restored = try resume(from: path)
            shuffler = restored.shuffler
            firstEpoch = restored.epoch + 1
        }
        // Once every file opened: a run that stops on a bad path prints nothing on standard output.
        progress.note(
            model.summary(inputShape: [settings.batchSize] + (sampleShape ?? Array(train.features.shape.dropFirst())))
                .description)
        Interruption.install()
        // --sync-batch-norm sums statistics in every forward pass, so every rank must have a
        // part of every batch: a rank left out would leave the others waiting for it.
        if settings.synchronizesBatchNorm, let ranks = DistributedDemo.communicator?.size {
            let smallest = fullBatch ? train.count : min(settings.batchSize, train.count % settings.batchSize)
            let last = smallest == 0 ? settings.batchSize : smallest
            guard last >= ranks else {
                throw DemoError.message(
                    "--sync-batch-norm: a batch of \(last) samples leaves some of the \(ranks) ranks without any; choose a --batch-size whose batches (the last one too, of \(train.count) samples) hold at least \(ranks)"
                )
            }
        }
        // --distributed: after any --resume, so every rank starts from rank 0's restored weights.
        let distributed =
            settings.distributed
            ? try DistributedTraining(
                model: model, transport: settings.gradientTransport,
                synchronizesBatchNorm: settings.synchronizesBatchNorm) : nil
        // The step as a function of the batch: captured after its first calls and replayed (the
        // same numbers as eager, bit for bit), unless --eager. The loss is checked after it
        // returns; a diverged step has already updated the weights, and the run stops. With
        // --distributed the gradients are exchanged during backward, and the step stays eager
        // (its eagerReason says so).
        let trainingStep = CapturedStep(enabled: settings.capturedSteps) {
            (input: Tensor<Float>, labels: Tensor<Float>) -> [Tensor<Float>] in
            optimizer.zeroGrad()
            let logits = model(input)
            let dataLoss = head.loss(logits: logits, labels: labels)
            (regularized ? dataLoss + model.regularizationLoss() : dataLoss).backward()
            distributed?.recording { try distributed?.parallel.finishGradientSynchronization() }
            optimizer.step()
            return [dataLoss, logits]
        }
        for epoch in stride(from: firstEpoch, through: settings.epochs, by: 1) {
            model.train()
            let steps = (train.count + settings.batchSize - 1) / settings.batchSize
            let epochStart = TrainingProgress.monotonicSeconds()
            progress.begin(epoch: epoch, steps: fullBatch ? 1 : steps)
            var lossSum = 0.0
            var correct = 0
            var seen = 0
            for (step, batch) in try epochBatches(train, fullBatch: fullBatch, shuffler: &shuffler).enumerated() {
                var (loss, hits, count) = (0.0, 0, 0)
                if let data = batch.data {
                    distributed?.parallel.gradientWeight = batch.share
                    let results = trainingStep(modelInput(data.features), data.labels)
                    try distributed?.rethrow()
                    let labels = classIndices(data.labels)
                    (loss, count) = (Double(results[0].item), labels.count)
                    hits = zip(head.predictions(results[1]), labels).filter { $0 == $1 }.count
                } else if let distributed {
                    try distributed.stepWithEmptySlice(optimizer)
                }
                var signal = Interruption.signal
                if let distributed {
                    // The batch's figures, and whether any rank was signalled, agreed by all.
                    let totals = try distributed.sum([
                        count > 0 ? loss * Double(count) : 0, Double(hits), Double(count), signal == nil ? 0 : 1,
                    ])
                    (loss, hits, count) = (totals[0] / max(totals[2], 1), Int(totals[1]), Int(totals[2]))
                    if totals[3] > 0 { signal = signal ?? SIGTERM }
                }
                guard loss.isFinite else { throw diverged(loss: loss, epoch: epoch, step: step + 1) }
                lossSum += loss * Double(count)
                correct += hits
                seen += count
                progress.step(loss: loss, accuracy: Double(hits) / Double(count), samples: count)
                try recorders.step(
                    (epoch - 1) * steps + step + 1, loss: loss, accuracy: Double(hits) / Double(count),
                    learningRate: optimizer.currentLearningRate)
                if let signal { throw interrupted(signal, epoch: epoch) }
            }
            if let distributed {
                do { try distributed.parallel.broadcastBuffers() } catch {
                    throw DemoError.message("--distributed: \(error)")
                }
            }
            let held = try distributed.map { try evaluateShared(heldOut, $0) } ?? evaluate(heldOut)
            lastHeldOut = held
            let metrics = EpochMetrics(
                epoch: epoch, trainLoss: lossSum / Double(seen), trainAccuracy: Double(correct) / Double(seen),
                validationLoss: held.loss, validationAccuracy: held.accuracy,
                learningRate: optimizer.currentLearningRate)
            progress.endEpoch(metrics)
            try recorders.epoch(metrics, seconds: TrainingProgress.monotonicSeconds() - epochStart, model: model)
            if let path = settings.checkpointPath { try saveCheckpoint(to: path, epoch: epoch, shuffler: shuffler) }
            var signal = Interruption.signal
            if let distributed {
                if try distributed.sum([signal == nil ? 0 : 1])[0] > 0 { signal = signal ?? SIGTERM }
                // Rank 0 has written this epoch's checkpoint (if any) before taking part in the sum.
                JobWatch.checkpointCompleted(progress: "epoch \(epoch)")
            }
            if let signal { throw interrupted(signal, epoch: epoch + 1) }
            stepCounts.replayed = trainingStep.replayedCalls
            stepCounts.eager = trainingStep.eagerCalls + trainingStep.recordedCalls
            stepCounts.eagerReason = trainingStep.eagerReason
        }
        // A distributed run's per-epoch figures have no predictions: rank 0 evaluates the
        // held-out split in full for the plots; the training split's figures are shared out.
        let finalHeldOut = distributed == nil ? lastHeldOut ?? evaluate(heldOut) : evaluateReported(heldOut)
        return (try distributed.map { try evaluateShared(train, $0) } ?? evaluate(train), finalHeldOut, recorders.files)
    }

    /// ``evaluate(_:)`` where its result is reported: in full, except on a rank of a distributed
    /// run other than 0, which reports nothing and returns an empty evaluation instead of
    /// spending the cores the ranks share.
    func evaluateReported(_ data: Dataset<Float>) -> Evaluation {
        guard settings.distributed, let world = DistributedDemo.communicator, !world.isRoot else {
            return evaluate(data)
        }
        return Evaluation(loss: 0, accuracy: 0, predictions: [])
    }

    /// One batch of an epoch as this process trains it: its samples (nil for a distributed
    /// rank whose slice is empty) and their share of the global batch.
    struct EpochBatch {
        var data: Dataset<Float>?
        var share: Double
    }

    /// The epoch's batches: shuffled by `shuffler` (one permutation per epoch), or the whole
    /// set in order for a full batch (any order gives the same gradient: no per-epoch copy); with
    /// --distributed, this rank's slice of each (``DistributedSampler``).
    func epochBatches(
        _ train: Dataset<Float>, fullBatch: Bool, shuffler: inout RandomGenerator
    ) throws -> AnySequence<EpochBatch> {
        guard settings.distributed, let world = DistributedDemo.communicator else {
            return fullBatch
                ? AnySequence([EpochBatch(data: train, share: 1)])
                : AnySequence(
                    train.batches(size: settings.batchSize, shuffledBy: &shuffler).lazy.map {
                        EpochBatch(data: $0, share: 1)
                    })
        }
        let sampler = DistributedSampler(
            sampleCount: train.count, batchSize: settings.batchSize, rank: world.rank, worldSize: world.size)
        let shards = fullBatch ? sampler.epoch(order: Array(0..<train.count)) : sampler.epoch(shuffledBy: &shuffler)
        return AnySequence(
            shards.lazy.map { EpochBatch(data: $0.indices.isEmpty ? nil : train.rows($0.indices), share: $0.share) })
    }

    /// ``evaluate(_:)`` of `data` shared among the ranks: each evaluates its contiguous part and
    /// the loss sums and correct counts are summed (no predictions).
    func evaluateShared(_ data: Dataset<Float>, _ distributed: DistributedTraining) throws -> Evaluation {
        let part = distributed.share(of: data.count)
        let local = part.isEmpty ? nil : evaluate(data.rows(part))
        let count = Double(part.count)
        let totals = try distributed.sum([
            (local?.loss ?? 0) * count, (local?.accuracy ?? 0) * count, count,
        ])
        let total = max(totals[2], 1)
        return Evaluation(loss: totals[0] / total, accuracy: (totals[1] / total), predictions: [])
    }

    // MARK: Checkpoints

    /// The options that shape a run: a checkpoint continues only the run it was saved from.
    var runShape: String {
        "hidden \(settings.hidden.map(String.init).joined(separator: ",")), optimizer \(settings.optimizer.rawValue), "
            + "lr \(settings.learningRate), lr-decay \(settings.learningRateDecay), batch-size \(settings.batchSize), "
            + "dropout \(settings.dropout), l1 \(settings.l1), l2 \(settings.l2), seed \(settings.seed)"
    }

    /// Saves the run after `epoch`: model, optimizer state and step, the model's dropout
    /// generators and the batch shuffler, the options that shape the run and the curves so far.
    func saveCheckpoint(to path: String, epoch: Int, shuffler: RandomGenerator) throws {
        let history = String(decoding: try JSONEncoder().encode(progress.history), as: UTF8.self)
        do {
            try JobWatch.writingCheckpoint(progress: "epoch \(epoch)") {
                try Checkpoint.save(
                    to: path, model: model, optimizer: optimizer, step: epoch, generators: ["shuffle": shuffler],
                    metadata: ["run": runShape, "history": history])
            }
        } catch {
            throw DemoError.message("--checkpoint: \(error)")
        }
    }

    /// Restores the run saved in the checkpoint at `path`: the model, the optimizer, the curves
    /// so far; returns the epoch it was saved after and the batch shuffler's state.
    func resume(from path: String) throws -> (epoch: Int, shuffler: RandomGenerator) {
        let restored: Checkpoint.Restored
        do {
            restored = try Checkpoint.load(from: path, model: model, optimizer: optimizer)
        } catch {
            throw DemoError.message("--resume: \(error)")
        }
        guard restored.metadata["run"] == runShape, let shuffler = restored.generators["shuffle"] else {
            throw DemoError.message(
                "--resume \(path): the checkpoint continues a run with \(restored.metadata["run"] ?? "other options"), "
                    + "not \(runShape): pass the options it was saved with")
        }
        if let history = restored.metadata["history"] {
            progress.restore(try JSONDecoder().decode([EpochMetrics].self, from: Data(history.utf8)))
        }
        progress.note("resumed \(path) after epoch \(restored.step)")
        JobWatch.resumed(from: path, progress: "epoch \(restored.step)")
        return (restored.step, shuffler)
    }

    /// The one-line report of a run stopped by `signal` during `epoch`.
    func interrupted(_ signal: Int32, epoch: Int) -> DemoError {
        let kept =
            settings.checkpointPath.map { epoch > 1 ? "; \($0) holds the run after epoch \(epoch - 1)" : "" } ?? ""
        return .interrupted(signal: signal, "interrupted by signal \(signal) during epoch \(epoch)\(kept)")
    }

    /// The one-line report of a training loss that became NaN or infinite.
    func diverged(loss: Double, epoch: Int, step: Int) -> DemoError {
        .message(
            "training diverged: the loss became \(loss.isNaN ? "NaN" : "infinite") at epoch \(epoch), step \(step) "
                + "(learning rate \(optimizer.currentLearningRate)): try a smaller --lr")
    }

    /// Loss (data loss, without the penalty) and accuracy on `data` in evaluation mode (no
    /// dropout) and without recording a tape.
    func evaluate(_ data: Dataset<Float>) -> Evaluation {
        model.eval()
        return withoutGrad {
            var lossSum = 0.0
            var predictions: [Int] = []
            predictions.reserveCapacity(data.count)
            for start in stride(from: 0, to: data.count, by: evaluationRows) {
                let chunk =
                    data.count <= evaluationRows ? data : data.rows(start..<min(start + evaluationRows, data.count))
                let logits = model(modelInput(chunk.features))
                lossSum += Double(head.loss(logits: logits, labels: chunk.labels).item) * Double(chunk.count)
                predictions += head.predictions(logits)
            }
            let labels = classIndices(data.labels)
            let correct = zip(predictions, labels).filter { $0 == $1 }.count
            return Evaluation(
                loss: lossSum / Double(max(data.count, 1)), accuracy: Double(correct) / Double(max(data.count, 1)),
                predictions: predictions)
        }
    }

    /// The final numbers of a run, as the summary reports them: each held-out evaluation under
    /// the name of the split it was measured on.
    func metrics(train: Evaluation, validation: Evaluation? = nil, test: Evaluation? = nil) -> FinalMetrics {
        FinalMetrics(
            parameters: model.parameterCount, trainLoss: train.loss, trainAccuracy: train.accuracy,
            validation: validation?.figures, test: test?.figures, replayedSteps: stepCounts.replayed,
            eagerSteps: stepCounts.eager, eagerReason: stepCounts.eagerReason)
    }
}
