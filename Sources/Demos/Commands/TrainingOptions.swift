import ArgumentParser
import Distributed
import Foundation
import NN

/// The options every demo shares (`@OptionGroup`), with the defaults of demo `Defaults`.
///
/// Numeric options (and `--hidden`) parse their value unconditionally, so `--l2 -1` reaches
/// ``validate()`` and gets the range message instead of being mistaken for a flag.
struct TrainingOptions<Defaults: DemoDefaults>: ParsableArguments {
    @Option(
        parsing: .unconditional,
        help: "Passes over the training data; an integer ≥ 1 (0 together with --load: evaluate only).")
    var epochs: Int = Defaults.epochs

    @Option(
        parsing: .unconditional,
        help: "Samples per optimizer step; an integer ≥ 1 (a value ≥ the training-set size means full batch).")
    var batchSize: Int = Defaults.batchSize

    @Option(name: .customLong("lr"), parsing: .unconditional, help: "Learning rate; a number > 0.")
    var learningRate: Double = Defaults.learningRate

    @Option(
        name: .customLong("lr-decay"), parsing: .unconditional,
        help: "Learning-rate decay per step, lr / (1 + decay · step); a number ≥ 0.")
    var learningRateDecay: Double = Defaults.learningRateDecay

    // A string checked in validate(), not the enum itself: ArgumentParser's own message for an
    // unknown enum value is a multi-line list.
    @Option(
        name: .customLong("optimizer"),
        help: "Optimizer; one of \(OptimizerChoice.allowedValues).")
    var optimizerName: String = Defaults.optimizer.rawValue

    // Optional, with the default in the help: mnist's `--model cnn` has defaults of its own.
    @Option(
        name: .customLong("hidden"), parsing: .unconditional,
        help:
            "Hidden-layer widths, comma-separated integers ≥ 1 (e.g. 64 or 512,128,64). (default: \(Defaults.hidden)\(Defaults.convolutional.map { "; \($0.hidden) with --model cnn" } ?? ""))"
    )
    var hiddenSpecification: String?

    @Option(
        parsing: .unconditional,
        help:
            "Dropout probability after each hidden layer; a number in [0, 1). (default: \(Defaults.dropout)\(Defaults.convolutional.map { "; \($0.dropout) with --model cnn" } ?? ""))"
    )
    var dropout: Double?

    @Option(parsing: .unconditional, help: "L1 penalty on the weights; a number ≥ 0.")
    var l1: Double = Defaults.l1

    @Option(parsing: .unconditional, help: "L2 penalty on the weights; a number ≥ 0.")
    var l2: Double = Defaults.l2

    @Option(
        parsing: .unconditional,
        help: "Random seed for data, initialization, shuffling and dropout; an integer in [0, 2^64).")
    var seed: UInt64 = Defaults.seed

    @Option(
        parsing: .unconditional,
        help: "Threads a large kernel is split across; an integer ≥ 1. (default: the number of CPU cores)")
    var threads: Int?

    @Option(
        help: ArgumentHelp(
            "Save the trained model to this safetensors file. (default: not saved)", valueName: "path"))
    var save: String?

    @Option(
        help: ArgumentHelp(
            "Start from the weights in this safetensors model file (as --save writes): train them further, or evaluate them with --epochs 0. Only the weights are restored: the optimizer's state, the schedule and the data order start afresh (--resume continues a run exactly). (default: a fresh model)",
            valueName: "path"))
    var load: String?

    @Option(
        help: ArgumentHelp(
            "After every epoch, save the run to this file (atomically): the model, the optimizer's state, the schedule's step, the random generators, the epoch and the options that shape the run, so --resume continues it exactly. (default: none)",
            valueName: "path"))
    var checkpoint: String?

    @Option(
        help: ArgumentHelp(
            "Continue the run saved with --checkpoint in this file, exactly as if it had not stopped; pass the options it was saved with, and --epochs as the total. (default: none)",
            valueName: "path"))
    var resume: String?

    @Option(
        help: ArgumentHelp(
            "Append one JSON line per epoch to this file, as the epoch ends: epoch, the running training-mode loss and accuracy, the held-out split's loss and accuracy (named by the split), the learning rate and the epoch's seconds. (default: none)",
            valueName: "path"))
    var log: String?

    @Option(
        help: ArgumentHelp(
            "Write a TensorBoard event file into this folder (created when missing): losses, accuracies and the learning rate per step and per epoch, weight histograms per epoch; view with `tensorboard --logdir <dir>`. (default: none)",
            valueName: "dir"))
    var tensorboard: String?

    @OptionGroup var plotOptions: PlotOptions

    @Flag(
        help:
            "Run every training step eagerly on the tape instead of replaying a captured step (the results are the same bit for bit; for comparison). (default: off)"
    )
    var eager = false

    @Flag(
        help:
            "Train data-parallel over MPI, one rank per process: start with `mpirun -np N demos <demo> --distributed`. Each rank trains on its slice of every batch of --batch-size (the global batch); rank 0 prints and writes the files. (default: off)"
    )
    var distributed = false

    @Option(help: ArgumentHelp(DistributedDemo.transportHelp + " (default: automatic)"))
    var transport: GradientTransport = .automatic

    @Flag(
        help:
            "With --distributed: normalize BatchNorm layers (mnist --model cnn) with the statistics of the whole global batch, summed across ranks (PyTorch's SyncBatchNorm), so the ranks train what one process trains. (default: off, each rank normalizes its own slice)"
    )
    var syncBatchNorm = false

    @Flag(help: "Print only the final summary. (default: off)")
    var quiet = false

    @Flag(help: "Print exactly one JSON line with the summary, and nothing else, on standard output. (default: off)")
    var json = false

    /// Checks every option against its allowed range; the first violation becomes a one-line error.
    func validate() throws {
        if epochs < 1 && !(epochs == 0 && load != nil) { throw AllowedValues.outOfRange("--epochs", epochs) }
        if batchSize < 1 { throw AllowedValues.outOfRange("--batch-size", batchSize) }
        if !(learningRate > 0) || !learningRate.isFinite { throw AllowedValues.outOfRange("--lr", learningRate) }
        if !(learningRateDecay >= 0) || !learningRateDecay.isFinite {
            throw AllowedValues.outOfRange("--lr-decay", learningRateDecay)
        }
        if OptimizerChoice(rawValue: optimizerName) == nil {
            throw ValidationError(
                "--optimizer '\(optimizerName)' is not supported: expected \(AllowedValues.byOption["--optimizer"]!)")
        }
        if let hiddenSpecification, HiddenLayers(parsing: hiddenSpecification) == nil {
            throw ValidationError(
                "--hidden '\(hiddenSpecification)' is malformed: expected \(AllowedValues.byOption["--hidden"]!)")
        }
        if let dropout, !(dropout >= 0 && dropout < 1) { throw AllowedValues.outOfRange("--dropout", dropout) }
        if !(l1 >= 0) || !l1.isFinite { throw AllowedValues.outOfRange("--l1", l1) }
        if !(l2 >= 0) || !l2.isFinite { throw AllowedValues.outOfRange("--l2", l2) }
        if let threads, threads < 1 { throw AllowedValues.outOfRange("--threads", threads) }
        if syncBatchNorm && !distributed { throw ValidationError("--sync-batch-norm needs --distributed") }
        if transport != .automatic && !distributed { throw ValidationError("--transport needs --distributed") }
        if let load {
            let expected = "expected a readable safetensors file"
            switch FileKind(atPath: load) {
            case .missing: throw ValidationError("--load '\(load)' does not exist: \(expected)")
            case .folder: throw ValidationError("--load '\(load)' is a folder, not a file: \(expected)")
            case .characterDevice, .blockDevice, .fifo, .socket, .symbolicLink:
                throw ValidationError("--load '\(load)' is not a regular file: \(expected)")
            case .regularFile where !FileManager.default.isReadableFile(atPath: load):
                throw ValidationError("--load '\(load)' cannot be read (permission denied): \(expected)")
            case .regularFile: break
            }
        }
        try AllowedValues.checkResume(resume, load: load)
        if let save, save.isEmpty {
            throw ValidationError("--save '' is not a path: expected a file path")
        }
        if let log {
            if log.isEmpty { throw ValidationError("--log '' is not a path: expected a file path") }
            if FileKind(atPath: log) == .folder {
                throw ValidationError("--log '\(log)' is a folder: expected a file path")
            }
        }
        if let tensorboard {
            if tensorboard.isEmpty { throw ValidationError("--tensorboard '' is not a path: expected a folder path") }
            if ![.folder, .missing].contains(FileKind(atPath: tensorboard)) {
                throw ValidationError("--tensorboard '\(tensorboard)' is a file, not a folder: expected a folder path")
            }
        }
    }

    /// The validated options as plain values, in the demo-independent form the training seams
    /// take, with the defaults of the demo's MLP.
    var settings: TrainingSettings { settings(hidden: Defaults.hidden, dropout: Defaults.dropout) }

    /// The validated options as plain values, with `hidden` and `dropout` as the defaults of the
    /// options not given.
    func settings(hidden defaultHidden: String, dropout defaultDropout: Double) -> TrainingSettings {
        TrainingSettings(
            epochs: epochs,
            batchSize: batchSize,
            learningRate: learningRate,
            learningRateDecay: learningRateDecay,
            optimizer: OptimizerChoice(rawValue: optimizerName) ?? Defaults.optimizer,
            hidden: HiddenLayers(parsing: hiddenSpecification ?? defaultHidden)?.widths ?? [],
            dropout: dropout ?? defaultDropout,
            l1: l1,
            l2: l2,
            seed: seed,
            threads: threads
                ?? (distributed ? DistributedDemo.defaultThreads : ProcessInfo.processInfo.activeProcessorCount),
            savePath: save,
            loadPath: load,
            checkpointPath: checkpoint,
            resumePath: resume,
            logPath: log,
            tensorBoardDirectory: tensorboard,
            plotDirectory: plotOptions.directory,
            outputMode: json ? .json : quiet ? .quiet : .automatic,
            capturedSteps: !eager,
            distributed: distributed,
            gradientTransport: transport,
            synchronizesBatchNorm: syncBatchNorm)
    }
}
extension GradientTransport: ExpressibleByArgument {}
