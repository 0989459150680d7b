import AutoDiff
import NN

/// What moons and spiral share once their data is drawn: build (or load) the model, train it,
/// save it, and hand back what the decision-region plot needs.
enum PlanarDemo {
    static func train(
        demo: String, head: ClassificationHead, outputs: Int, classNames: [String],
        train trainSet: Dataset<Float>, heldOut: Dataset<Float>,
        settings: TrainingSettings, progress: TrainingProgress
    ) throws -> PlanarClassifierResult {
        let model = ClassifierModel.make(inputs: 2, outputs: outputs, settings: settings)
        if let path = settings.loadPath {
            try ModelFile.load(path, into: model)
            progress.note("loaded \(path)")
        }
        let training = ClassifierTraining(
            model: model, optimizer: ClassifierModel.optimizer(for: model, settings: settings), head: head,
            settings: settings, progress: progress)
        let (trainResult, heldOutResult) = training.run(train: trainSet, heldOut: heldOut)
        let saved = try settings.savePath.map {
            try ModelFile.save(
                model, to: $0,
                metadata: ModelFile.metadata(demo: demo, settings: settings, inputs: 2, outputs: outputs))
        }
        return PlanarClassifierResult(
            metrics: training.metrics(train: trainResult, heldOut: heldOutResult),
            points: LabeledPoint.points(heldOut.features, labels: classIndices(heldOut.labels)),
            classNames: classNames,
            classify: { points in
                model.eval()
                return withoutGrad { head.predictions(model(points)) }
            },
            savedCheckpoint: saved)
    }
}
