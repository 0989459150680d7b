import AutoDiff
import NN

/// What moons and spiral share once their data is drawn: build (or load) the model, train it,
/// save it, and hand back what the decision-region plot needs.
enum PlanarDemo {
    /// A ReLU MLP 2 → `settings.hidden` → `outputs`, loaded from `settings.loadPath` when set,
    /// trained on `trainSet` with `heldOut` (the `heldOutSplit`) evaluated after every epoch, saved to
    /// `settings.savePath` when set.
    /// - Returns: the final metrics, the held-out points (drawn over the regions) and a classifier
    ///   that runs the trained model in evaluation mode.
    /// - Throws: ``DemoError/message(_:)`` for `--hidden` widths too large for memory, for a `--load` file that is unreadable, corrupt or made
    ///   for another model, and for a `--save` path that cannot be written.
    static func train(
        demo: String, head: ClassificationHead, outputs: Int, classNames: [String],
        train trainSet: Dataset<Float>, heldOut: Dataset<Float>, heldOutSplit: HeldOutSplit,
        settings: TrainingSettings, progress: TrainingProgress
    ) throws -> PlanarClassifierResult {
        let settings = settings.fullBatchAtMost(trainSet.count)
        // The decision-region plot classifies a 100 × 100 grid in one pass.
        try TrainingFootprint.check(
            inputs: 2, outputs: outputs, trainCount: trainSet.count,
            evaluatedRows: max(trainSet.count, heldOut.count, 100 * 100), settings: settings)
        let model = ClassifierModel.make(inputs: 2, outputs: outputs, settings: settings)
        if let path = settings.loadPath {
            try ModelFile.load(path, into: model)
            progress.note("loaded \(path)")
        }
        let training = ClassifierTraining(
            model: model, optimizer: ClassifierModel.optimizer(for: model, settings: settings), head: head,
            settings: settings, progress: progress, heldOutSplit: heldOutSplit)
        let (trainResult, heldOutResult, logFiles) = try training.run(train: trainSet, heldOut: heldOut)
        let saved = try settings.savePath.map {
            try ModelFile.save(
                model, to: $0,
                metadata: ModelFile.metadata(demo: demo, settings: settings, inputs: 2, outputs: outputs))
        }
        return PlanarClassifierResult(
            metrics: heldOutSplit == .test
                ? training.metrics(train: trainResult, test: heldOutResult)
                : training.metrics(train: trainResult, validation: heldOutResult),
            points: LabeledPoint.points(heldOut.features, labels: classIndices(heldOut.labels)),
            predictions: heldOutResult.predictions,
            classNames: classNames,
            classify: { points in
                model.eval()
                return withoutGrad { head.predictions(model(points)) }
            },
            savedCheckpoint: saved, logFiles: logFiles)
    }
}
