/// The loss and accuracy curves of a run, as one SVG with two panels side by side: train and
/// held-out (test or validation) per epoch.
///
/// The train curve is the epoch's running mean over its batches, measured while training (dropout
/// on, weights changing), and its legend says so: it sits below the clean evaluation of the
/// trained model that the summary reports as train.
struct TrainingCurves {
    var demo: String
    var history: [EpochMetrics]
    /// The name of the held-out split in the legend: `"test"` or `"validation"`.
    var heldOutName = "validation"

    /// The legend of the train curve: what it measures.
    static let trainSeriesName = "train (running, training mode)"

    /// The two-panel SVG document.
    func svg() -> String {
        let panelWidth = 480.0
        let panelHeight = 340.0
        var writer = SVGWriter(width: panelWidth * 2, height: panelHeight)
        lossChart.draw(into: &writer, frame: PlotRect(x: 0, y: 0, width: panelWidth, height: panelHeight))
        accuracyChart.draw(into: &writer, frame: PlotRect(x: panelWidth, y: 0, width: panelWidth, height: panelHeight))
        return writer.document()
    }

    var lossChart: LineChart {
        LineChart(
            title: "\(demo): loss", xLabel: "epoch", yLabel: "loss",
            series: series(train: \.trainLoss, heldOut: \.validationLoss),
            includeZero: true, legendCorner: .topRight)
    }

    var accuracyChart: LineChart {
        LineChart(
            title: "\(demo): accuracy", xLabel: "epoch", yLabel: "accuracy",
            series: series(train: \.trainAccuracy, heldOut: \.validationAccuracy),
            yClamp: 0...1, legendCorner: .bottomRight)
    }

    private func series(
        train: KeyPath<EpochMetrics, Double>, heldOut: KeyPath<EpochMetrics, Double?>
    ) -> [LineChart.Series] {
        var result = [
            LineChart.Series(
                name: TrainingCurves.trainSeriesName, color: Palette.color(0),
                points: history.map { (x: Double($0.epoch), y: $0[keyPath: train]) })
        ]
        let heldOutPoints = history.compactMap { metrics in
            metrics[keyPath: heldOut].map { (x: Double(metrics.epoch), y: $0) }
        }
        if !heldOutPoints.isEmpty {
            result.append(
                LineChart.Series(name: heldOutName, color: Palette.color(1), points: heldOutPoints, dashed: true))
        }
        return result
    }
}
