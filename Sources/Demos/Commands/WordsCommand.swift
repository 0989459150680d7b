import ArgumentParser
import AutoDiff
import Distributed
import Foundation

/// `demos words`: a character-level transformer learns to spell words, and invents some.
struct WordsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "words",
        abstract: "A character-level transformer (GPT) on a word list; prints the held-out loss and generated words.",
        discussion: """
            The defaults are ../shared/peers/torch_models.py gpt-words: the words of \
            /usr/share/dict/words (package wamerican) shuffled with the seed, 10 % held out, \
            context 16, 2 blocks, 4 heads, width 64, AdamW lr 3e-3 (β 0.9/0.99, decay 0.01), batch \
            64, 2000 steps; the held-out loss is the mean over 50 fixed batches. Writes \
            words-curves.svg.
            """)

    @Option(help: ArgumentHelp("A UTF-8 text file with one word per line.", valueName: "path"))
    var file: String = WordsDemo.defaultWordList

    @Option(
        parsing: .unconditional,
        help: "Training steps; an integer ≥ 1 (0 together with --load: evaluate and sample only).")
    var steps: Int = 2000

    @Option(parsing: .unconditional, help: "Windows per step; an integer ≥ 1.")
    var batchSize: Int = 64

    @Option(parsing: .unconditional, help: "Characters per window (the model's context); an integer ≥ 1.")
    var context: Int = 16

    @Option(parsing: .unconditional, help: "Transformer blocks; an integer ≥ 1.")
    var blocks: Int = 2

    @Option(parsing: .unconditional, help: "Attention heads per block; an integer ≥ 1 dividing --width.")
    var heads: Int = 4

    @Option(parsing: .unconditional, help: "Width of the residual stream; a multiple of --heads.")
    var width: Int = 64

    @Option(name: .customLong("lr"), parsing: .unconditional, help: "AdamW's learning rate; a number > 0.")
    var learningRate: Double = 3e-3

    @Option(parsing: .unconditional, help: "Steps between held-out evaluations; an integer ≥ 1.")
    var evalInterval: Int = 250

    @Option(parsing: .unconditional, help: "Held-out batches per evaluation; an integer ≥ 1.")
    var evalBatches: Int = 50

    @Option(parsing: .unconditional, help: "Words to generate; an integer ≥ 0.")
    var samples: Int = 20

    @Option(parsing: .unconditional, help: "Sampling temperature; a number ≥ 0 (0: always the likeliest character).")
    var temperature: Double = 1

    @Option(
        parsing: .unconditional, help: "Sample only among the k likeliest characters; an integer ≥ 1. (default: all)")
    var topK: Int?

    @Option(
        parsing: .unconditional,
        help: "Random seed for the word order, the weights, the batches and the samples; an integer in [0, 2^64).")
    var seed: UInt64 = 0

    @Option(
        parsing: .unconditional,
        help: "Threads a large kernel is split across; an integer ≥ 1. (default: the number of CPU cores)")
    var threads: Int?

    @Option(
        help: ArgumentHelp("Save the trained model and its vocabulary to this safetensors file.", valueName: "path"))
    var save: String?

    @Option(
        help: ArgumentHelp(
            "Start from the model and vocabulary in this file (as --save writes); its shape replaces --context, --blocks, --heads and --width.",
            valueName: "path"))
    var load: String?

    @Option(
        help: ArgumentHelp(
            "At every held-out evaluation, save the run to this file (atomically): the model, AdamW's state, the step, the window generator and the curves, so --resume continues it exactly.",
            valueName: "path"))
    var checkpoint: String?

    @Option(
        help: ArgumentHelp(
            "Continue the run saved with --checkpoint in this file, exactly as if it had not stopped; pass the --file and options it was saved with, and --steps as the total.",
            valueName: "path"))
    var resume: String?

    @OptionGroup var plotOptions: PlotOptions

    @Flag(help: "Run every training step eagerly instead of replaying a captured step (same results, bit for bit).")
    var eager = false

    @Flag(
        help:
            "Train data-parallel over MPI, one rank per process: start with `mpirun -np N demos words --distributed`. Each rank trains on its rows of every batch of --batch-size windows (the global batch); rank 0 prints and writes the files."
    )
    var distributed = false

    @Option(help: ArgumentHelp(DistributedDemo.transportHelp))
    var transport: GradientTransport = .automatic

    @Flag(help: "Print only the final summary.")
    var quiet = false

    @Flag(help: "Print exactly one JSON line with the summary, and nothing else, on standard output.")
    var json = false

    func validate() throws {
        func check(_ ok: Bool, _ option: String, _ value: some CustomStringConvertible, _ expected: String) throws {
            if !ok { throw ValidationError("\(option) \(value) is out of range: expected \(expected)") }
        }
        try check(steps >= 1 || (steps == 0 && load != nil), "--steps", steps, "an integer ≥ 1 (or 0 with --load)")
        if transport != .automatic && !distributed { throw ValidationError("--transport needs --distributed") }
        try check(batchSize >= 1, "--batch-size", batchSize, "an integer ≥ 1")
        try check(context >= 1, "--context", context, "an integer ≥ 1")
        try check(blocks >= 1, "--blocks", blocks, "an integer ≥ 1")
        try check(heads >= 1, "--heads", heads, "an integer ≥ 1")
        try check(width >= 1 && width % heads == 0, "--width", width, "a positive multiple of --heads \(heads)")
        try check(learningRate > 0 && learningRate.isFinite, "--lr", learningRate, "a number > 0")
        try check(evalInterval >= 1, "--eval-interval", evalInterval, "an integer ≥ 1")
        try check(evalBatches >= 1, "--eval-batches", evalBatches, "an integer ≥ 1")
        try check(samples >= 0, "--samples", samples, "an integer ≥ 0")
        try check(temperature >= 0 && temperature.isFinite, "--temperature", temperature, "a number ≥ 0")
        if let topK { try check(topK >= 1, "--top-k", topK, "an integer ≥ 1") }
        if let threads { try check(threads >= 1, "--threads", threads, "an integer ≥ 1") }
        try AllowedValues.checkResume(resume, load: load)
        if let checkpoint, checkpoint.isEmpty {
            throw ValidationError("--checkpoint '' is not a path: expected a file path")
        }
    }

    var settings: WordsSettings {
        var settings = WordsSettings()
        settings.file = file
        settings.steps = steps
        settings.batchSize = batchSize
        settings.context = context
        settings.blocks = blocks
        settings.heads = heads
        settings.width = width
        settings.learningRate = learningRate
        settings.evalInterval = evalInterval
        settings.evalBatches = evalBatches
        settings.samples = samples
        settings.temperature = temperature
        settings.topK = topK
        settings.seed = seed
        settings.threads = threads ?? (distributed ? DistributedDemo.defaultThreads : settings.threads)
        settings.save = save
        settings.load = load
        settings.checkpoint = checkpoint
        settings.resume = resume
        settings.plotDirectory = plotOptions.directory
        settings.capturedSteps = !eager
        settings.distributed = distributed
        settings.gradientTransport = transport
        return settings
    }

    func run() throws {
        var settings = settings
        if settings.distributed, try !DistributedDemo.join(checkpointPath: settings.checkpoint).isRoot {
            // Only rank 0 writes files and prints.
            (settings.save, settings.checkpoint, settings.plotDirectory) = (nil, nil, nil)
            DistributedDemo.discardStandardOutput()
        }
        ComputeThreads.set(settings.threads)
        let verbose = !quiet && !json
        let result = try WordsDemo.run(settings: settings) { line in if verbose { print(line) } }
        if json {
            print(summaryJSON(result, settings: settings))
            return
        }
        print("generated words: \(result.words.joined(separator: " "))")
        print(
            "words: held-out loss \(Format.fixed(result.heldOutLoss, 4)) nats per character after \(settings.steps) steps "
                + "(\(Format.fixed(result.seconds, 1)) s, \(result.replayedSteps) of them replayed"
                + (result.ranks.map { ", \($0) ranks" } ?? "") + ")"
                + (result.eagerReason.map { "; the step stayed eager: \($0)" } ?? ""))
        for file in result.files { print("wrote \(file)") }
    }

    /// One JSON line: the figures of the run, the generated words and the files written.
    func summaryJSON(_ result: WordsResult, settings: WordsSettings) -> String {
        var summary: [String: Any] = [
            "demo": "words", "steps": settings.steps, "seed": settings.seed, "threads": settings.threads,
            "parameters": result.parameters, "vocabulary": result.vocabularySize,
            "training_words": result.trainingWords, "heldout_words": result.heldOutWords,
            "heldout_loss": result.heldOutLoss, "seconds": (result.seconds * 1000).rounded() / 1000,
            "replayed_steps": result.replayedSteps, "eager_steps": result.eagerSteps, "words": result.words,
            "files": result.files,
            "heldout_losses": result.heldOutLosses.map { ["step": $0.step, "loss": $0.loss] },
        ]
        if let loss = result.trainLosses.last?.loss { summary["train_loss"] = loss }
        if let reason = result.eagerReason { summary["eager_reason"] = reason }
        if let ranks = result.ranks { summary["ranks"] = ranks }
        if let transport = result.transport { summary["transport"] = transport }
        let data = (try? JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
