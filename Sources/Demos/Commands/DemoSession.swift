import AutoDiff
import Foundation

/// One run of a demo around its training seam: applies the thread count, owns the ``TrainingProgress``,
/// times the training, writes the plots and prints the summary.
///
/// ```
/// let session = DemoSession(demo: "moons", settings: settings, heldOutName: "test")
/// let result = try MoonsDemo.train(settings: settings, progress: session.progress)
/// try session.finish(result)
/// ```
struct DemoSession {
    let demo: String
    let settings: TrainingSettings
    /// `"test"` or `"validation"`: the held-out split's name in the summary and the legends.
    let heldOutName: String
    let progress: TrainingProgress

    init(demo: String, settings: TrainingSettings, heldOutName: String, progress: TrainingProgress? = nil) {
        ComputeThreads.set(settings.threads)
        self.demo = demo
        self.settings = settings
        self.heldOutName = heldOutName
        self.progress =
            progress
            ?? TrainingProgress(
                demo: demo, totalEpochs: settings.epochs, style: TrainingProgress.style(for: settings.outputMode))
        self.progress.heldOutLabel = heldOutName == "test" ? "test" : "val"
    }

    /// Plots and summary for moons and spiral: curves, then decision regions.
    func finish(_ result: PlanarClassifierResult) throws {
        let seconds = progress.elapsed
        var files: [String] = []
        if let directory = settings.plotDirectory {
            files += try writeCurves(in: directory)
            let bounds = ClassGrid.bounds(covering: result.points)
            let grid = try ClassGrid.evaluate(xRange: bounds.x, yRange: bounds.y, classify: result.classify)
            let plot = DecisionRegions(
                title: "\(demo): decision regions and \(heldOutName) points", grid: grid,
                points: result.points, classNames: result.classNames, predictions: result.predictions)
            files.append(try write(plot.svg(), named: "\(demo)-regions.svg", in: directory))
        }
        if let checkpoint = result.savedCheckpoint { files.append(checkpoint) }
        files += result.logFiles
        progress.finish(summary(result.metrics, seconds: seconds, files: files))
    }

    /// Plots and summary for mnist: curves, a grid of test images, the confusion matrix.
    func finish(_ result: ImageClassifierResult, classNames: [String]) throws {
        let seconds = progress.elapsed
        var files: [String] = []
        if let directory = settings.plotDirectory {
            files += try writeCurves(in: directory)
            let shown = DemoSession.imagesToShow(labels: result.testLabels, predictions: result.testPredictions)
            let grid = ImageGrid(
                title: "\(demo): first \(shown.first) test images, then the first misclassified ones",
                items: shown.indices.map {
                    ImageGrid.Item(
                        image: result.testImage($0), predicted: result.testPredictions[$0],
                        actual: result.testLabels[$0])
                },
                classNames: classNames)
            files.append(try write(grid.svg(), named: "\(demo)-samples.svg", in: directory))
            let matrix = ConfusionMatrix(
                classNames: classNames, predictions: result.testPredictions, labels: result.testLabels)
            files.append(
                try write(
                    matrix.svg(title: "\(demo): confusion matrix (test set)"), named: "\(demo)-confusion.svg",
                    in: directory))
            if let pictures = result.convolution {
                files.append(try write(pictures.filtersSVG(demo: demo), named: "\(demo)-filters.svg", in: directory))
                files.append(
                    try write(pictures.featureMapsSVG(demo: demo), named: "\(demo)-feature-maps.svg", in: directory))
            }
        }
        if let checkpoint = result.savedCheckpoint { files.append(checkpoint) }
        files += result.logFiles
        progress.finish(summary(result.metrics, seconds: seconds, files: files))
    }

    /// Which test images the grid shows: the first `first` ones, then up to `misclassified` wrong
    /// ones from the rest, so the grid shows mistakes even at 98 % accuracy.
    static func imagesToShow(
        labels: [Int], predictions: [Int], first: Int = 24, misclassified: Int = 16
    ) -> (first: Int, indices: [Int]) {
        let count = min(labels.count, predictions.count)
        let leading = Array(0..<min(first, count))
        let wrong = (leading.count..<count).lazy.filter { labels[$0] != predictions[$0] }.prefix(misclassified)
        return (leading.count, leading + wrong)
    }

    private func writeCurves(in directory: String) throws -> [String] {
        guard !progress.history.isEmpty else { return [] }
        let curves = TrainingCurves(demo: demo, history: progress.history, heldOutName: heldOutName)
        return [try write(curves.svg(), named: "\(demo)-curves.svg", in: directory)]
    }

    private func write(_ svg: String, named name: String, in directory: String) throws -> String {
        let path = (directory as NSString).appendingPathComponent(name)
        do {
            try AtomicFile.write(svg, to: path)
        } catch {
            throw DemoError.message("--plot: \(error)")
        }
        return path
    }

    private func summary(_ metrics: FinalMetrics, seconds: Double, files: [String]) -> Summary {
        Summary(
            demo: demo, epochs: settings.epochs, seed: settings.seed, parameters: metrics.parameters,
            trainLoss: metrics.trainLoss, trainAccuracy: metrics.trainAccuracy,
            validationLoss: metrics.validation?.loss, validationAccuracy: metrics.validation?.accuracy,
            testLoss: metrics.test?.loss, testAccuracy: metrics.test?.accuracy,
            seconds: (seconds * 1000).rounded() / 1000, threads: settings.threads, files: files,
            replayedSteps: settings.epochs > 0 ? metrics.replayedSteps : nil,
            eagerSteps: settings.epochs > 0 ? metrics.eagerSteps : nil,
            eagerReason: settings.epochs > 0 ? metrics.eagerReason : nil,
            ranks: settings.distributed ? DistributedDemo.communicator?.size : nil,
            transport: settings.distributed ? DistributedDemo.transport?.rawValue : nil)
    }
}
