import Foundation

/// The outcome of a run: what the summary block and the `--json` line report.
///
/// ```
/// {"demo":"moons","epochs":300,"files":["demos-output/moons-curves.svg"],"parameters":337,
///  "seconds":2.41,"seed":42,"testAccuracy":0.97,"testLoss":0.08,"threads":2,
///  "trainAccuracy":0.975,"trainLoss":0.07}
/// ```
/// (one line in reality). Keys are sorted so equal summaries give equal bytes. Each held-out
/// figure is named by the split it was measured on: moons reports `test…`, spiral `validation…`,
/// mnist both (validation per epoch, the test set once at the end); an absent split's keys are
/// left out.
struct Summary: Codable, Equatable, Sendable {
    /// `moons`, `spiral`, `mnist` or `fashion-mnist`.
    var demo: String
    /// Epochs trained (0 when a loaded checkpoint was only evaluated).
    var epochs: Int
    var seed: UInt64
    /// Trainable scalars in the model.
    var parameters: Int
    /// Final training loss and accuracy: the trained model evaluated on the whole training set in
    /// evaluation mode (no dropout), not the running training-mode mean of the progress lines.
    var trainLoss: Double
    var trainAccuracy: Double
    /// Final loss and accuracy on the validation split, when the demo has one (spiral, mnist).
    var validationLoss: Double?
    var validationAccuracy: Double?
    /// Final loss and accuracy on the test split, when the demo has one (moons, mnist).
    var testLoss: Double?
    var testAccuracy: Double?
    /// Wall-clock seconds of training and evaluation.
    var seconds: Double
    /// Compute threads used (``ComputeThreads``).
    var threads: Int
    /// Files the run wrote (plots, checkpoint, log), in the order written.
    var files: [String]
    /// Training steps replayed from a captured step, and run eagerly (the first calls, and all
    /// with `--eager`); absent when the run trained nothing.
    var replayedSteps: Int?
    var eagerSteps: Int?
    /// Why the training step was not captured, when it was refused (a `--distributed` step).
    var eagerReason: String?
    /// MPI ranks that trained the model together (`--distributed`); absent for one process.
    var ranks: Int?
    /// How the ranks exchanged gradients (`shared-memory` or `mpi`), with ``ranks``.
    var transport: String?

    init(
        demo: String, epochs: Int, seed: UInt64, parameters: Int,
        trainLoss: Double, trainAccuracy: Double,
        validationLoss: Double? = nil, validationAccuracy: Double? = nil,
        testLoss: Double? = nil, testAccuracy: Double? = nil,
        seconds: Double, threads: Int, files: [String] = [], replayedSteps: Int? = nil, eagerSteps: Int? = nil,
        eagerReason: String? = nil, ranks: Int? = nil, transport: String? = nil
    ) {
        self.demo = demo
        self.epochs = epochs
        self.seed = seed
        self.parameters = parameters
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
        self.testLoss = testLoss
        self.testAccuracy = testAccuracy
        self.seconds = seconds
        self.threads = threads
        self.files = files
        self.replayedSteps = replayedSteps
        self.eagerSteps = eagerSteps
        self.eagerReason = eagerReason
        self.ranks = ranks
        self.transport = transport
    }

    /// The summary as one line of JSON with sorted keys; a diverged (NaN or infinite) loss is
    /// written as the string `"nan"`, `"inf"` or `"-inf"` rather than failing.
    func jsonLine() -> String {
        let encoder = Self.makeEncoder()
        // Encoding plain numbers and strings cannot fail once non-finite numbers are handled.
        let data = (try? encoder.encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The encoder behind ``jsonLine()``: sorted keys, no slash escaping, non-finite as strings.
    static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    /// A decoder that reads what ``jsonLine()`` writes.
    static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }

    /// The human-readable block printed at the end of a run.
    ///
    /// ```
    /// moons: 300 epochs in 2.41 s (seed 42, 337 parameters, 2 threads)
    ///                 loss  accuracy
    ///   train       0.0712    0.9750
    ///   test        0.0801    0.9700
    ///   (train: the whole training set in evaluation mode, without dropout)
    ///   wrote demos-output/moons-curves.svg
    /// ```
    func textBlock() -> String {
        var lines: [String] = []
        lines.append(
            "\(demo): \(epochs) epoch\(epochs == 1 ? "" : "s") in \(Format.seconds(seconds)) "
                + "(seed \(seed), \(parameters) parameters, \(threads) thread\(threads == 1 ? "" : "s"))")
        lines.append("  " + Format.padRight("", 10) + Format.padLeft("loss", 10) + Format.padLeft("accuracy", 10))
        lines.append(row("train", trainLoss, trainAccuracy))
        if let validationLoss, let validationAccuracy {
            lines.append(row("validation", validationLoss, validationAccuracy))
        }
        if let testLoss, let testAccuracy { lines.append(row("test", testLoss, testAccuracy)) }
        lines.append("  (train: the whole training set in evaluation mode, without dropout)")
        if let ranks {
            let exchange =
                transport.map { ", gradients exchanged through \($0 == "mpi" ? "MPI" : "shared memory")" } ?? ""
            lines.append("  (trained data-parallel by \(ranks) MPI ranks, each on its slice of every batch\(exchange))")
        }
        for file in files { lines.append("  wrote \(file)") }
        return lines.joined(separator: "\n")
    }

    private func row(_ name: String, _ loss: Double, _ accuracy: Double) -> String {
        "  " + Format.padRight(name, 10) + Format.padLeft(Format.fixed(loss, 4), 10)
            + Format.padLeft(Format.fixed(accuracy, 4), 10)
    }
}
