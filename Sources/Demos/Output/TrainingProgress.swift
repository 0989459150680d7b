import Foundation

/// The training loop's view of the console: it reports, `TrainingProgress` decides what to print.
///
/// The loop calls, in order:
/// ```
/// for epoch in 1...settings.epochs {
///     progress.begin(epoch: epoch, steps: batches.count)
///     for batch in batches {
///         … train …
///         progress.step(loss: batchLoss, accuracy: batchAccuracy, samples: batch.count)
///     }
///     progress.endEpoch(EpochMetrics(epoch: epoch, trainLoss: …, trainAccuracy: …,
///                                    validationLoss: …, validationAccuracy: …))
/// }
/// progress.finish(summary)   // done by the command, after the plots are written
/// ```
///
/// What appears depends on ``Style``:
/// - `.live` (standard output is a terminal): a bar for the current epoch redrawn in place with
///   `\r` (steps, running loss and accuracy, samples/s, time left), plus a permanent line every
///   ``reportInterval`` epochs;
/// - `.lines` (a pipe or file): only the permanent line every ``reportInterval`` epochs and after
///   the last epoch;
/// - `.quiet`: nothing until the summary block; `.json`: only the summary as one JSON line.
///
/// Every epoch's metrics are kept in ``history`` for the curves plot.
final class TrainingProgress {
    /// What the console shows.
    enum Style: Equatable {
        case live, lines, quiet, json
    }

    let demo: String
    let totalEpochs: Int
    let style: Style
    /// Epochs between permanent progress lines, chosen so a run prints about 10–20 of them.
    let reportInterval: Int
    /// Every epoch's metrics, in order.
    private(set) var history: [EpochMetrics] = []
    /// The prefix of the held-out figures in the progress lines: `val` (validation) or `test`.
    var heldOutLabel = "val"

    private let write: (String) -> Void
    private let now: () -> Double
    private let terminalWidth: Int
    private let startTime: Double
    private var epochStart: Double = 0
    private var epoch = 0
    private var stepsInEpoch = 0
    private var stepsDone = 0
    private var samplesDone = 0
    private var lossSum = 0.0
    private var accuracySum = 0.0
    private var lastDraw = -Double.infinity
    private var barVisible = false

    /// - Parameters:
    ///   - write: receives finished text (lines end in `\n`; bar redraws start with `\r`).
    ///   - now: a monotonic clock in seconds, injectable for tests.
    init(
        demo: String, totalEpochs: Int, style: Style,
        write: @escaping (String) -> Void = TrainingProgress.writeToStandardOutput,
        now: @escaping () -> Double = TrainingProgress.monotonicSeconds,
        terminalWidth: Int = TrainingProgress.standardOutputColumns()
    ) {
        self.terminalWidth = terminalWidth
        self.demo = demo
        self.totalEpochs = totalEpochs
        self.style = style
        self.reportInterval = TrainingProgress.reportInterval(forEpochs: totalEpochs)
        self.write = write
        self.now = now
        self.startTime = now()
    }

    /// The style for an output mode: `.live` only when standard output is a terminal.
    static func style(for mode: OutputMode, isTerminal: Bool = isatty(STDOUT_FILENO) != 0) -> Style {
        switch mode {
        case .json: .json
        case .quiet: .quiet
        case .automatic: isTerminal ? .live : .lines
        }
    }

    /// The smallest 1, 2 or 5 × 10ᵏ that is at least `epochs / 20`: 8 to 20 lines per run.
    static func reportInterval(forEpochs epochs: Int) -> Int {
        let target = Double(max(epochs, 1)) / 20
        var scale = 1
        while true {
            for multiple in [1, 2, 5] where Double(multiple * scale) >= target {
                return multiple * scale
            }
            scale *= 10
        }
    }

    /// Seconds since the run started.
    var elapsed: Double { now() - startTime }

    /// Starts an epoch of `steps` optimizer steps.
    func begin(epoch: Int, steps: Int) {
        self.epoch = epoch
        stepsInEpoch = max(steps, 0)
        stepsDone = 0
        samplesDone = 0
        lossSum = 0
        accuracySum = 0
        epochStart = now()
        if style == .live { drawBar() }
    }

    /// Records one optimizer step: its batch loss and accuracy and how many samples it saw.
    func step(loss: Double, accuracy: Double, samples: Int) {
        stepsDone += 1
        samplesDone += samples
        lossSum += loss * Double(samples)
        accuracySum += accuracy * Double(samples)
        if style == .live { drawBar() }
    }

    /// Ends the epoch: records `metrics` and prints the permanent line when one is due.
    /// The curves of the epochs a resumed run did before it stopped (printed by that run).
    func restore(_ earlier: [EpochMetrics]) {
        history = earlier + history
    }

    func endEpoch(_ metrics: EpochMetrics) {
        history.append(metrics)
        let epochSeconds = now() - epochStart
        let due = metrics.epoch % reportInterval == 0 || metrics.epoch >= totalEpochs
        switch style {
        case .live:
            if due {
                write(
                    "\r\u{1B}[K"
                        + TrainingProgress.line(
                            metrics, totalEpochs: totalEpochs, samplesPerSecond: throughput(epochSeconds),
                            elapsed: elapsed, heldOutLabel: heldOutLabel) + "\n")
                barVisible = false
            }
        case .lines:
            if due {
                write(
                    TrainingProgress.line(
                        metrics, totalEpochs: totalEpochs, samplesPerSecond: throughput(epochSeconds),
                        elapsed: elapsed, heldOutLabel: heldOutLabel) + "\n")
            }
        case .quiet, .json:
            break
        }
    }

    /// Prints the final summary: a text block, or the JSON line with `--json`.
    func finish(_ summary: Summary) {
        if barVisible {
            write("\r\u{1B}[K")
            barVisible = false
        }
        switch style {
        case .json: write(summary.jsonLine() + "\n")
        case .live, .lines, .quiet: write(summary.textBlock() + "\n")
        }
    }

    /// A message outside the progress stream (e.g. "loaded checkpoint"), kept off stdout in
    /// JSON mode and in quiet mode.
    func note(_ message: String) {
        switch style {
        case .live:
            write((barVisible ? "\r\u{1B}[K" : "") + message + "\n")
            barVisible = false
        case .lines: write(message + "\n")
        case .quiet, .json: break
        }
    }

    /// The permanent progress line, e.g.
    /// `epoch  20/300  loss 0.2345  acc 0.9123  val_loss 0.2501  val_acc 0.9050  12.3k samples/s  0:02 elapsed`
    /// (`test_loss`, `test_acc` with `heldOutLabel` `test`). `loss` and `acc` are the epoch's
    /// running means in training mode.
    static func line(
        _ metrics: EpochMetrics, totalEpochs: Int, samplesPerSecond: Double?, elapsed: Double,
        heldOutLabel: String = "val"
    ) -> String {
        let width = String(totalEpochs).count
        var parts = [
            "epoch \(Format.padLeft(String(metrics.epoch), width))/\(totalEpochs)",
            "loss \(Format.fixed(metrics.trainLoss, 4))",
            "acc \(Format.fixed(metrics.trainAccuracy, 4))",
        ]
        if let loss = metrics.validationLoss { parts.append("\(heldOutLabel)_loss \(Format.fixed(loss, 4))") }
        if let accuracy = metrics.validationAccuracy {
            parts.append("\(heldOutLabel)_acc \(Format.fixed(accuracy, 4))")
        }
        if let rate = metrics.learningRate { parts.append("lr \(String(format: "%.3g", rate))") }
        if let samplesPerSecond { parts.append("\(Format.rate(samplesPerSecond)) samples/s") }
        parts.append("\(Format.clock(elapsed)) elapsed")
        return parts.joined(separator: "  ")
    }

    /// The live bar, e.g. `epoch  3/300 [#######.......]  7/13  loss 0.3120  acc 0.8870  9.8k samples/s  ETA 0:05`.
    static func bar(
        epoch: Int, totalEpochs: Int, step: Int, steps: Int, loss: Double?, accuracy: Double?,
        samplesPerSecond: Double?, secondsLeft: Double?
    ) -> String {
        let barWidth = 20
        let filled = steps > 0 ? min(barWidth, step * barWidth / steps) : 0
        let width = String(totalEpochs).count
        var parts = [
            "epoch \(Format.padLeft(String(epoch), width))/\(totalEpochs)",
            "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled) + "]",
            "\(Format.padLeft(String(step), String(steps).count))/\(steps)",
        ]
        if let loss { parts.append("loss \(Format.fixed(loss, 4))") }
        if let accuracy { parts.append("acc \(Format.fixed(accuracy, 4))") }
        if let samplesPerSecond { parts.append("\(Format.rate(samplesPerSecond)) samples/s") }
        if let secondsLeft { parts.append("ETA \(Format.clock(secondsLeft))") }
        return parts.joined(separator: "  ")
    }

    private func throughput(_ seconds: Double) -> Double? {
        seconds > 0 && samplesDone > 0 ? Double(samplesDone) / seconds : nil
    }

    /// Redraws at most ten times a second, epoch starts included: a full-batch demo runs
    /// thousands of epochs a second, and drawing each would cost more than the training.
    private func drawBar() {
        let time = now()
        guard time - lastDraw >= 0.1 else { return }
        lastDraw = time
        let epochSeconds = time - epochStart
        let seen = Double(samplesDone)
        let bar = TrainingProgress.bar(
            epoch: epoch, totalEpochs: totalEpochs, step: stepsDone, steps: stepsInEpoch,
            loss: samplesDone > 0 ? lossSum / seen : nil,
            accuracy: samplesDone > 0 ? accuracySum / seen : nil,
            samplesPerSecond: throughput(epochSeconds),
            secondsLeft: secondsLeft(time: time))
        // A line longer than the terminal wraps, and `\r` then redraws only its last row.
        write("\r\u{1B}[K" + String(bar.prefix(max(terminalWidth - 1, 20))))
        barVisible = true
    }

    /// Time left for the whole run, from the average time per step so far.
    private func secondsLeft(time: Double) -> Double? {
        let completedSteps = (epoch - 1) * stepsInEpoch + stepsDone
        let totalSteps = totalEpochs * stepsInEpoch
        guard completedSteps > 0, totalSteps > 0 else { return nil }
        let perStep = (time - startTime) / Double(completedSteps)
        return perStep * Double(totalSteps - completedSteps)
    }

    /// Writes to standard output and flushes, so the bar appears while the step runs.
    static func writeToStandardOutput(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// The width of the terminal on standard output, or 120 when unknown.
    static func standardOutputColumns() -> Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 120 }
        return Int(size.ws_col)
    }

    /// Seconds from a monotonic clock (not wall time: immune to clock adjustments).
    static func monotonicSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}
