import Foundation
import NN
import Testing

@testable import Demos

/// Every demo's training step, captured and replayed, gives bit for bit what `--eager` gives:
/// the same saved weights and the same reported figures, with most steps replayed.
@Suite("Captured steps, end to end")
struct CapturedStepRunTests {
    /// Runs `arguments` with and without `--eager` in `folder`, saving the model, and compares.
    func expectSameAsEager(_ arguments: [String], in folder: URL, minimumReplayed: Int) throws {
        var summaries: [Summary] = []
        var weights: [Data] = []
        for (index, mode) in [["--eager"], []].enumerated() {
            let file = "model-\(index).safetensors"
            let run = try DemosBinary.run(arguments + mode + ["--json", "--no-plot", "--save", file], in: folder)
            #expect(run.exitCode == 0, "stderr: \(run.standardError)")
            summaries.append(try #require(run.summary, "stdout: \(run.standardOutput)"))
            weights.append(try Data(contentsOf: folder.appendingPathComponent(file)))
        }
        let (eager, captured) = (summaries[0], summaries[1])
        #expect(eager.replayedSteps == 0)
        #expect((captured.replayedSteps ?? 0) >= minimumReplayed, "\(captured)")
        #expect(weights[0] == weights[1], "the saved weights differ")
        #expect(eager.trainLoss.bitPattern == captured.trainLoss.bitPattern)
        #expect(eager.trainAccuracy == captured.trainAccuracy)
        #expect(eager.validationLoss?.bitPattern == captured.validationLoss?.bitPattern)
        #expect(eager.testLoss?.bitPattern == captured.testLoss?.bitPattern)
    }

    @Test func moons() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        // 800 training points in batches of 96: a smaller last batch, its own capture.
        try expectSameAsEager(
            ["moons", "--epochs", "12", "--batch-size", "96", "--threads", "1"], in: folder, minimumReplayed: 80)
    }

    @Test func spiralWithDropoutAndPenalties() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        try expectSameAsEager(
            ["spiral", "--epochs", "15", "--batch-size", "256", "--dropout", "0.2", "--l2", "0.001", "--threads", "2"],
            in: folder, minimumReplayed: 30)
    }

    @Test func mnistPerceptronAndConvolutionalNetwork() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try IDXFixture.writeToyDataSet(in: data)
        try expectSameAsEager(
            [
                "mnist", "--data", "data", "--epochs", "3", "--hidden", "32,16", "--dropout", "0.2", "--batch-size",
                "25",
                "--optimizer", "adam", "--threads", "2",
            ],
            in: folder, minimumReplayed: 10)
        // BatchNorm's running statistics and dropout inside a captured step.
        try expectSameAsEager(
            [
                "mnist", "--data", "data", "--model", "cnn", "--hidden", "16", "--epochs", "3", "--batch-size", "40",
                "--threads", "2",
            ],
            in: folder, minimumReplayed: 5)
    }
}
