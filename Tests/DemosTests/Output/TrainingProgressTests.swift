import Foundation
import Testing

@testable import Demos

/// Captures what ``TrainingProgress`` writes, with a clock the test moves by hand.
final class ProgressRecorder {
    var text = ""
    var time = 100.0

    func make(epochs: Int, style: TrainingProgress.Style, terminalWidth: Int = 120) -> TrainingProgress {
        TrainingProgress(
            demo: "moons", totalEpochs: epochs, style: style,
            write: { [unowned self] in self.text += $0 }, now: { [unowned self] in self.time },
            terminalWidth: terminalWidth)
    }

    var lines: [String] { text.split(separator: "\n").map(String.init) }
}

@Suite("TrainingProgress")
struct TrainingProgressTests {
    static let summary = Summary(
        demo: "moons", epochs: 300, seed: 42, parameters: 337, trainLoss: 0.0712, trainAccuracy: 0.975,
        testLoss: 0.08014, testAccuracy: 0.97, seconds: 2.413, threads: 2,
        files: ["demos-output/moons-curves.svg"])

    /// Drives `progress` through `epochs` epochs of `steps` steps, 0.01 s per step.
    static func train(_ progress: TrainingProgress, recorder: ProgressRecorder, epochs: Int, steps: Int = 4) {
        for epoch in 1...epochs {
            progress.begin(epoch: epoch, steps: steps)
            for _ in 0..<steps {
                recorder.time += 0.01
                progress.step(loss: 0.5, accuracy: 0.75, samples: 64)
            }
            progress.endEpoch(
                EpochMetrics(
                    epoch: epoch, trainLoss: 1.0 / Double(epoch), trainAccuracy: 0.9,
                    validationLoss: 0.25, validationAccuracy: 0.875))
        }
    }

    @Test func plainLineFormat() {
        let metrics = EpochMetrics(
            epoch: 20, trainLoss: 0.234_49, trainAccuracy: 0.9123, validationLoss: 0.2501, validationAccuracy: 0.905)
        let line = TrainingProgress.line(metrics, totalEpochs: 300, samplesPerSecond: 12_345, elapsed: 65)
        #expect(
            line
                == "epoch  20/300  loss 0.2345  acc 0.9123  val_loss 0.2501  val_acc 0.9050  12.3k samples/s  1:05 elapsed"
        )
    }

    @Test func barFormat() {
        let bar = TrainingProgress.bar(
            epoch: 3, totalEpochs: 300, step: 7, steps: 13, loss: 0.312, accuracy: 0.887,
            samplesPerSecond: 9_800, secondsLeft: 5)
        #expect(
            bar == "epoch   3/300  [##########..........]   7/13  loss 0.3120  acc 0.8870  9.8k samples/s  ETA 0:05")
    }

    @Test(arguments: [
        (1, 1), (10, 1), (15, 1), (20, 1), (21, 2), (50, 5), (100, 5), (300, 20), (1_000, 50), (10_000, 500),
        (15_000, 1_000),
    ])
    func reportIntervalGivesTenToTwentyLines(epochs: Int, interval: Int) {
        #expect(TrainingProgress.reportInterval(forEpochs: epochs) == interval)
        let lines = epochs / interval + (epochs % interval == 0 ? 0 : 1)
        #expect(lines <= 21)
        #expect(lines >= min(epochs, 8))
    }

    @Test(arguments: [7, 300, 1_001])
    func plainModePrintsPeriodicLinesIncludingTheLast(epochs: Int) {
        let recorder = ProgressRecorder()
        let progress = recorder.make(epochs: epochs, style: .lines)
        TrainingProgressTests.train(progress, recorder: recorder, epochs: epochs, steps: 1)
        let interval = progress.reportInterval
        let expectedEpochs = (1...epochs).filter { $0 % interval == 0 || $0 == epochs }
        #expect(recorder.lines.count == expectedEpochs.count)
        #expect(recorder.lines.last?.hasPrefix("epoch \(epochs)/\(epochs)") == true)
        #expect(!recorder.text.contains("\r"), "no carriage returns when not on a terminal")
        #expect(progress.history.count == epochs)
    }

    @Test func liveModeRedrawsTheBarInPlace() {
        let recorder = ProgressRecorder()
        let progress = recorder.make(epochs: 2, style: .live)
        TrainingProgressTests.train(progress, recorder: recorder, epochs: 2, steps: 20)
        progress.finish(TrainingProgressTests.summary)
        #expect(recorder.text.contains("\r\u{1B}[Kepoch 1/2  [#"))
        #expect(recorder.text.contains("samples/s"))
        #expect(recorder.text.contains("ETA "))
        #expect(recorder.text.contains("epoch 2/2  loss 0.5000  acc 0.9000  val_loss 0.2500  val_acc 0.8750"))
        #expect(recorder.text.hasSuffix(TrainingProgressTests.summary.textBlock() + "\n"))
    }

    @Test func liveBarRedrawsAtMostTenTimesASecond() {
        let recorder = ProgressRecorder()
        let progress = recorder.make(epochs: 1_000, style: .live)
        // 1,000 one-step epochs of 1 ms: one second in all.
        for epoch in 1...1_000 {
            progress.begin(epoch: epoch, steps: 1)
            recorder.time += 0.001
            progress.step(loss: 0.5, accuracy: 0.5, samples: 100)
            progress.endEpoch(EpochMetrics(epoch: epoch, trainLoss: 0.5, trainAccuracy: 0.5))
        }
        let redraws = recorder.text.components(separatedBy: "/1000  [").count - 1
        #expect(redraws <= 12, "\(redraws) bar redraws in one second")
    }

    @Test func liveBarFitsANarrowTerminal() {
        let recorder = ProgressRecorder()
        let progress = recorder.make(epochs: 2, style: .live, terminalWidth: 40)
        TrainingProgressTests.train(progress, recorder: recorder, epochs: 1, steps: 3)
        let redraws = recorder.text.components(separatedBy: "\r\u{1B}[K").filter { $0.hasPrefix("epoch 1/2  [") }
        #expect(!redraws.isEmpty)
        #expect(redraws.allSatisfy { $0.count <= 39 })
    }

    @Test func quietModePrintsOnlyTheSummary() {
        let recorder = ProgressRecorder()
        let progress = recorder.make(epochs: 5, style: .quiet)
        TrainingProgressTests.train(progress, recorder: recorder, epochs: 5)
        progress.note("loaded a checkpoint")
        progress.finish(TrainingProgressTests.summary)
        #expect(recorder.text == TrainingProgressTests.summary.textBlock() + "\n")
    }

    @Test func jsonModePrintsExactlyOneDecodableLine() throws {
        let recorder = ProgressRecorder()
        let progress = recorder.make(epochs: 5, style: .json)
        TrainingProgressTests.train(progress, recorder: recorder, epochs: 5)
        progress.note("loaded a checkpoint")
        progress.finish(TrainingProgressTests.summary)
        #expect(recorder.lines.count == 1)
        #expect(recorder.text.hasSuffix("\n"))
        let decoded = try Summary.makeDecoder().decode(Summary.self, from: Data(recorder.lines[0].utf8))
        #expect(decoded == TrainingProgressTests.summary)
    }

    @Test func styleFollowsTheTerminal() {
        #expect(TrainingProgress.style(for: .automatic, isTerminal: true) == .live)
        #expect(TrainingProgress.style(for: .automatic, isTerminal: false) == .lines)
        #expect(TrainingProgress.style(for: .quiet, isTerminal: true) == .quiet)
        #expect(TrainingProgress.style(for: .json, isTerminal: true) == .json)
    }
}

@Suite("Summary")
struct SummaryTests {
    @Test func jsonHasSortedKeysAndTheReportedFields() {
        let json = TrainingProgressTests.summary.jsonLine()
        #expect(
            json
                == #"{"demo":"moons","epochs":300,"files":["demos-output/moons-curves.svg"],"parameters":337,"seconds":2.413,"seed":42,"testAccuracy":0.97,"testLoss":0.08014,"threads":2,"trainAccuracy":0.975,"trainLoss":0.0712}"#
        )
    }

    @Test func divergedLossStillEncodes() throws {
        var summary = TrainingProgressTests.summary
        summary.trainLoss = .nan
        summary.testLoss = .infinity
        let json = summary.jsonLine()
        #expect(json.contains(#""trainLoss":"nan""#))
        let decoded = try Summary.makeDecoder().decode(Summary.self, from: Data(json.utf8))
        #expect(decoded.trainLoss.isNaN)
        #expect(decoded.testLoss == .infinity)
    }

    @Test func textBlock() {
        #expect(
            TrainingProgressTests.summary.textBlock() == """
                moons: 300 epochs in 2.41 s (seed 42, 337 parameters, 2 threads)
                                  loss  accuracy
                  train         0.0712    0.9750
                  test          0.0801    0.9700
                  (train: the whole training set in evaluation mode, without dropout)
                  wrote demos-output/moons-curves.svg
                """)
    }

    @Test func bothHeldOutSplitsAreNamedByWhatTheyAre() throws {
        var summary = TrainingProgressTests.summary
        summary.validationLoss = 0.09
        summary.validationAccuracy = 0.96
        #expect(summary.textBlock().contains("  validation    0.0900    0.9600\n  test          0.0801    0.9700\n"))
        let json = summary.jsonLine()
        #expect(json.contains(#""testAccuracy":0.97"#) && json.contains(#""validationAccuracy":0.96"#))
        #expect(try Summary.makeDecoder().decode(Summary.self, from: Data(json.utf8)) == summary)
    }
}

@Suite("Format")
struct FormatTests {
    @Test(arguments: [
        (0.123_45, 2, "0.12"), (-0.001, 2, "0.00"), (2.5, 0, "2"), (Double.nan, 3, "nan"),
        (-Double.infinity, 1, "-inf"),
    ])
    func fixed(value: Double, digits: Int, expected: String) {
        #expect(Format.fixed(value, digits) == expected)
    }

    @Test(arguments: [(12.5, "12.5"), (3.0, "3"), (0.254, "0.25"), (-0.001, "0"), (Double.nan, "0")])
    func coordinate(value: Double, expected: String) {
        #expect(Format.coordinate(value) == expected)
    }

    @Test(arguments: [(0.42, "0.42 s"), (12.34, "12.3 s"), (245, "4:05"), (3723, "1:02:03")])
    func seconds(value: Double, expected: String) {
        #expect(Format.seconds(value) == expected)
    }
}
