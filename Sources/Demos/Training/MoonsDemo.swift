import AutoDiff
import NN

/// Training for `demos moons`.
enum MoonsDemo {
    /// make_moons' size and noise, as the issue fixes them.
    static let samples = 1000
    static let noise = 0.2
    /// The share of the samples held out for testing.
    static let testFraction = 0.2

    /// make_moons (1000 samples, noise 0.2, seeded by `settings.seed`) split 800/200 into train
    /// and test; a ReLU MLP 2 → `settings.hidden` → 1 logit with binary cross-entropy; optionally
    /// loaded from `settings.loadPath`, trained `settings.epochs` epochs and saved to
    /// `settings.savePath`. The test split is the held-out split of the progress lines and the
    /// summary; its points are drawn over the decision regions. Does not call
    /// `progress.finish`: the command does, after the plots.
    static func train(settings: TrainingSettings, progress: TrainingProgress) throws -> PlanarClassifierResult {
        let data = makeMoons(samples: samples, noise: noise, seed: settings.seed, as: Float.self)
        let (trainSet, testSet) = data.split(validationFraction: testFraction, seed: settings.seed &+ 1)
        return try PlanarDemo.train(
            demo: "moons", head: .binary, outputs: 1, classNames: ["class 0", "class 1"],
            train: trainSet, heldOut: testSet, heldOutSplit: .test, settings: settings, progress: progress)
    }
}
