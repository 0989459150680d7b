import AutoDiff
import Foundation
import Testing

@testable import Demos

/// What happens after a training seam returns: plots, checkpoint listing, summary. Fake results
/// stand in for trained models, so this part is tested before NN is wired in.
@Suite("Demo session")
struct DemoSessionTests {
    static func settings(plotDirectory: String?, mode: OutputMode = .automatic) -> TrainingSettings {
        TrainingSettings(
            epochs: 3, batchSize: 64, learningRate: 0.01, learningRateDecay: 0, optimizer: .adam, hidden: [16, 16],
            dropout: 0, l1: 0, l2: 0, seed: 7, threads: 1, savePath: nil, loadPath: nil,
            plotDirectory: plotDirectory, outputMode: mode)
    }

    static let metrics = FinalMetrics(
        parameters: 337, trainLoss: 0.1, trainAccuracy: 0.96, test: .init(loss: 0.12, accuracy: 0.95))

    /// Runs a session over a fake 2-D result and returns what it printed.
    static func runPlanar(plotDirectory: String?, style: TrainingProgress.Style) throws -> String {
        let recorder = ProgressRecorder()
        let settings = DemoSessionTests.settings(plotDirectory: plotDirectory)
        let session = DemoSession(
            demo: "moons", settings: settings, heldOutName: "test",
            progress: recorder.make(epochs: settings.epochs, style: style))
        TrainingProgressTests.train(session.progress, recorder: recorder, epochs: settings.epochs)
        try session.finish(
            PlanarClassifierResult(
                metrics: metrics, points: PlotFixtures.moonPoints, classNames: ["0", "1"],
                classify: PlotFixtures.classify, savedCheckpoint: nil))
        return recorder.text
    }

    @Test func planarWritesCurvesAndRegionsThenTheSummary() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let plots = folder.appendingPathComponent("plots").path
        let output = try DemoSessionTests.runPlanar(plotDirectory: plots, style: .lines)
        #expect(try TemporaryFolder.contents(URL(fileURLWithPath: plots)) == ["moons-curves.svg", "moons-regions.svg"])
        #expect(output.contains("epoch 3/3"))
        #expect(output.contains("wrote \(plots)/moons-regions.svg"))
        #expect(output.contains("  test          0.1200    0.9500"))
    }

    @Test func sameResultsGiveIdenticalFiles() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = folder.appendingPathComponent("first").path
        let second = folder.appendingPathComponent("second").path
        _ = try DemoSessionTests.runPlanar(plotDirectory: first, style: .quiet)
        _ = try DemoSessionTests.runPlanar(plotDirectory: second, style: .quiet)
        for name in ["moons-curves.svg", "moons-regions.svg"] {
            let a = try Data(contentsOf: URL(fileURLWithPath: first).appendingPathComponent(name))
            let b = try Data(contentsOf: URL(fileURLWithPath: second).appendingPathComponent(name))
            #expect(a == b, "\(name) differs between identical runs")
        }
    }

    @Test func noPlotWritesNothingAndJSONIsOneLine() throws {
        let output = try DemoSessionTests.runPlanar(plotDirectory: nil, style: .json)
        #expect(output.split(separator: "\n").count == 1)
        let summary = try Summary.makeDecoder().decode(Summary.self, from: Data(output.utf8))
        #expect(summary.demo == "moons" && summary.epochs == 3 && summary.seed == 7 && summary.threads == 1)
        #expect(summary.parameters == 337 && summary.testAccuracy == 0.95 && summary.files.isEmpty)
    }

    @Test func imagesWriteCurvesSamplesAndConfusionMatrix() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let recorder = ProgressRecorder()
        let settings = DemoSessionTests.settings(plotDirectory: folder.path)
        let session = DemoSession(
            demo: "fashion-mnist", settings: settings, heldOutName: "test",
            progress: recorder.make(epochs: settings.epochs, style: .quiet))
        TrainingProgressTests.train(session.progress, recorder: recorder, epochs: settings.epochs)
        let labels = (0..<100).map { $0 % 10 }
        let predictions = labels.enumerated().map { $0.offset % 9 == 4 ? 0 : $0.element }
        try session.finish(
            ImageClassifierResult(
                metrics: DemoSessionTests.metrics, testLabels: labels, testPredictions: predictions,
                testImage: { PlotFixtures.digit($0) }, savedCheckpoint: "model.safetensors"),
            classNames: MNISTDataset.fashion.classNames)
        #expect(
            try TemporaryFolder.contents(folder) == [
                "fashion-mnist-confusion.svg", "fashion-mnist-curves.svg", "fashion-mnist-samples.svg",
            ])
        #expect(recorder.text.contains("wrote model.safetensors"))
        let samples = try String(
            contentsOf: folder.appendingPathComponent("fashion-mnist-samples.svg"), encoding: .utf8)
        #expect(
            XMLCheck.parse(samples).count("image") == 24 + 7,
            "the first 24, then the 7 later mistakes (index 40 is predicted 0 correctly)")
    }

    @Test func imagesToShowAddsMistakesAfterTheFirstOnes() {
        let labels = Array(repeating: 1, count: 100)
        var predictions = labels
        for index in [3, 30, 31, 90] { predictions[index] = 2 }
        let shown = DemoSession.imagesToShow(labels: labels, predictions: predictions, first: 10, misclassified: 2)
        #expect(shown.first == 10)
        #expect(shown.indices == Array(0..<10) + [30, 31])
    }
}
