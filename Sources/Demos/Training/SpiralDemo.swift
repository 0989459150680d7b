import AutoDiff
import NN

/// Training for `demos spiral`.
enum SpiralDemo {
    /// Points per class of the training set and of the validation set.
    static let samplesPerClass = 1000
    static let classes = 3

    /// The book's spiral data (3 classes × 1000 samples, seeded by `settings.seed`) for training
    /// and a separately drawn validation set of the same size (the next seed); a ReLU MLP
    /// 2 → `settings.hidden` → 3 with softmax cross-entropy, dropout after hidden layers and
    /// L1/L2 on them; optionally loaded from `settings.loadPath`, trained `settings.epochs`
    /// epochs (batch ≥ 3000 = full batch) and saved to `settings.savePath`. The validation
    /// split is the one evaluated every epoch and reported; its points are drawn over the decision regions.
    static func train(settings: TrainingSettings, progress: TrainingProgress) throws -> PlanarClassifierResult {
        let trainSet = spiralData(samples: samplesPerClass, classes: classes, seed: settings.seed, as: Float.self)
        let validationSet = spiralData(
            samples: samplesPerClass, classes: classes, seed: settings.seed &+ 1, as: Float.self)
        return try PlanarDemo.train(
            demo: "spiral", head: .categorical, outputs: classes, classNames: ["class 0", "class 1", "class 2"],
            train: trainSet, heldOut: validationSet, heldOutSplit: .validation, settings: settings, progress: progress)
    }
}
