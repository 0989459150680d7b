import Distributed

/// The validated options of one run, as the training seams receive them.
///
/// Plain values with no ArgumentParser types, so the seams (``MoonsDemo``, ``SpiralDemo``,
/// ``MNISTDemo``) read like ordinary code and tests can build settings directly.
struct TrainingSettings: Equatable, Sendable {
    /// Passes over the training data; 0 only with ``loadPath`` (evaluate the checkpoint).
    var epochs: Int
    /// Samples per optimizer step; a value ≥ the training-set size means full batch.
    var batchSize: Int
    var learningRate: Double
    /// Step decay: the rate at step `t` is `learningRate / (1 + learningRateDecay · t)`.
    var learningRateDecay: Double
    var optimizer: OptimizerChoice
    /// Hidden-layer widths, input side first.
    var hidden: [Int]
    /// Dropout probability after each hidden layer, in [0, 1).
    var dropout: Double
    var l1: Double
    var l2: Double
    var seed: UInt64
    /// Compute threads (``ComputeThreads``), already applied by the command before training starts.
    var threads: Int
    /// Where to save the trained model (safetensors), if anywhere.
    var savePath: String?
    /// A model file whose weights to start from, if any (weights only).
    var loadPath: String?
    /// Where to write a checkpoint after every epoch, if anywhere.
    var checkpointPath: String? = nil
    /// A checkpoint whose run to continue exactly, if any.
    var resumePath: String? = nil
    /// The file `--log` appends one JSON line per epoch to, if any.
    var logPath: String? = nil
    /// The folder `--tensorboard` writes an event file into, if any.
    var tensorBoardDirectory: String? = nil
    /// The folder for SVG plots; `nil` with `--no-plot`.
    var plotDirectory: String?
    /// How much the run prints.
    var outputMode: OutputMode
    /// Whether training steps are captured and replayed (``CapturedStep``); `--eager` turns it off.
    var capturedSteps = true
    /// Whether this process is one rank of a data-parallel run over MPI (`--distributed`).
    var distributed = false
    /// How the ranks exchange gradients (`--transport`).
    var gradientTransport = GradientTransport.automatic
    /// Whether BatchNorm layers use the global batch's statistics (`--sync-batch-norm`).
    var synchronizesBatchNorm = false
}

/// How much a run prints on standard output.
enum OutputMode: Equatable, Sendable {
    /// Live progress bar on a terminal, plain periodic lines otherwise, then the summary.
    case automatic
    /// Only the final summary (`--quiet`).
    case quiet
    /// Exactly one JSON line with the summary (`--json`).
    case json
}

extension TrainingSettings {
    /// These settings with the batch size at most `trainingSamples` (and at least 1): a larger
    /// batch means full batch, as with PyTorch's `DataLoader`, and would only overflow the step
    /// arithmetic (`--batch-size 9223372036854775807`).
    func fullBatchAtMost(_ trainingSamples: Int) -> TrainingSettings {
        var settings = self
        settings.batchSize = max(1, min(batchSize, trainingSamples))
        return settings
    }
}
