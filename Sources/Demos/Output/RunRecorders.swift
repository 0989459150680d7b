import Foundation
import NN

/// What `--log FILE` appends after every epoch: one JSON object per line, keys sorted.
///
/// ```
/// {"epoch":3,"learningRate":0.00098,"runningTrainAccuracy":0.91,"runningTrainLoss":0.25,"seconds":1.92,"validationAccuracy":0.93,"validationLoss":0.21}
/// ```
/// The train figures are the epoch's running mean over its batches in training mode (dropout on,
/// weights changing), as the progress lines and the curves show them; the held-out figures are
/// named by their split (`validation…` or `test…`).
struct EpochLogLine: Encodable, Equatable {
    var epoch: Int
    var runningTrainLoss: Double
    var runningTrainAccuracy: Double
    var heldOutSplit: HeldOutSplit
    var heldOutLoss: Double?
    var heldOutAccuracy: Double?
    var learningRate: Double?
    /// Wall-clock seconds of the epoch: training and the held-out evaluation.
    var seconds: Double

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.init(stringValue) }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(epoch, forKey: Key("epoch"))
        try container.encode(runningTrainLoss, forKey: Key("runningTrainLoss"))
        try container.encode(runningTrainAccuracy, forKey: Key("runningTrainAccuracy"))
        try container.encodeIfPresent(heldOutLoss, forKey: Key("\(heldOutSplit.rawValue)Loss"))
        try container.encodeIfPresent(heldOutAccuracy, forKey: Key("\(heldOutSplit.rawValue)Accuracy"))
        try container.encodeIfPresent(learningRate, forKey: Key("learningRate"))
        try container.encode(seconds, forKey: Key("seconds"))
    }

    /// The line, without its newline: sorted keys, non-finite numbers as `"nan"`, `"inf"`, `"-inf"`.
    func json() -> String {
        // The summary's encoder: the same key order and spelling of non-finite numbers.
        let data = (try? Summary.makeEncoder().encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// Where a run's numbers go besides the console: the `--log` JSON lines and the `--tensorboard`
/// event file. Both are opened before the first epoch (so a bad path stops the run before any
/// training) and written as the run goes, each record appended whole, so a crash keeps everything
/// recorded before it.
///
/// TensorBoard tags: per optimizer step `step/train_loss`, `step/train_accuracy` (the batch's, in
/// training mode), `step/learning_rate`; per epoch `epoch/running_train_loss`,
/// `epoch/running_train_accuracy`, `epoch/<split>_loss`, `epoch/<split>_accuracy`,
/// `epoch/learning_rate`, and a histogram of every parameter, `weights/<path>`.
struct RunRecorders {
    let heldOutSplit: HeldOutSplit
    private let log: AppendingFile?
    private let tensorBoard: TensorBoardWriter?

    /// Opens the files `settings` asks for (none: records nothing).
    /// - Throws: ``DemoError/message(_:)`` naming the option and the path that cannot be written.
    init(settings: TrainingSettings, heldOutSplit: HeldOutSplit) throws {
        self.heldOutSplit = heldOutSplit
        do {
            log = try settings.logPath.map { try AppendingFile(path: $0) }
        } catch {
            throw DemoError.message("--log \(error)")
        }
        do {
            tensorBoard = try settings.tensorBoardDirectory.map { try TensorBoardWriter(directory: $0) }
        } catch {
            throw DemoError.message("--tensorboard \(error)")
        }
    }

    /// The files being written, for the summary's list.
    var files: [String] { [log?.path, tensorBoard?.path].compactMap { $0 } }

    /// Records one optimizer step (`step` counts from 1 over the whole run).
    func step(_ step: Int, loss: Double, accuracy: Double, learningRate: Double) throws {
        guard let tensorBoard else { return }
        try record("--tensorboard") {
            try tensorBoard.addScalars(
                [("step/train_loss", loss), ("step/train_accuracy", accuracy), ("step/learning_rate", learningRate)],
                step: step)
        }
    }

    /// Records an epoch's metrics, and with TensorBoard the histograms of `model`'s parameters.
    func epoch<Model: Layer>(_ metrics: EpochMetrics, seconds: Double, model: Model) throws {
        if let log {
            let line = EpochLogLine(
                epoch: metrics.epoch, runningTrainLoss: metrics.trainLoss, runningTrainAccuracy: metrics.trainAccuracy,
                heldOutSplit: heldOutSplit, heldOutLoss: metrics.validationLoss,
                heldOutAccuracy: metrics.validationAccuracy, learningRate: metrics.learningRate, seconds: seconds)
            try record("--log") { try log.append(Array((line.json() + "\n").utf8)) }
        }
        if let tensorBoard {
            let split = heldOutSplit.rawValue
            var scalars = [
                ("epoch/running_train_loss", metrics.trainLoss),
                ("epoch/running_train_accuracy", metrics.trainAccuracy),
            ]
            if let loss = metrics.validationLoss { scalars.append(("epoch/\(split)_loss", loss)) }
            if let accuracy = metrics.validationAccuracy { scalars.append(("epoch/\(split)_accuracy", accuracy)) }
            if let rate = metrics.learningRate { scalars.append(("epoch/learning_rate", rate)) }
            try record("--tensorboard") {
                try tensorBoard.addScalars(scalars, step: metrics.epoch)
                try tensorBoard.addHistograms(of: model, step: metrics.epoch, tagPrefix: "weights/")
            }
        }
    }

    private func record(_ option: String, _ body: () throws -> Void) throws {
        do { try body() } catch { throw DemoError.message("\(option) \(error)") }
    }
}
