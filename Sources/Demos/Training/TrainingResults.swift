import AutoDiff

/// The final numbers a training seam measures on its trained model.
struct FinalMetrics: Equatable, Sendable {
    /// Trainable scalars in the model.
    var parameters: Int
    /// Loss and accuracy on the whole training set, without dropout.
    var trainLoss: Double
    var trainAccuracy: Double
    /// Loss and accuracy on the held-out split (test for moons and mnist, validation for spiral).
    var testLoss: Double
    var testAccuracy: Double
}

/// What the 2-D demos (moons, spiral) hand back: their numbers, and what the decision-region plot
/// needs — the points to draw and a way to classify any batch of points in the plane.
struct PlanarClassifierResult {
    var metrics: FinalMetrics
    /// The points drawn over the regions (the held-out split reads best: it shows generalization).
    var points: [LabeledPoint]
    var classNames: [String]
    /// Class indices for a `[n, 2]` batch of points; called once, on a 100 × 100 grid.
    var classify: (Tensor<Float>) throws -> [Int]
    /// The checkpoint written for `--save`, if any (with ``AtomicFile``).
    var savedCheckpoint: String?
}

/// What the mnist demo hands back: its numbers and the test-set predictions behind the image grid
/// and the confusion matrix.
struct ImageClassifierResult {
    var metrics: FinalMetrics
    /// Test labels and predicted classes, one per test image, in file order.
    var testLabels: [Int]
    var testPredictions: [Int]
    /// Test image `index` in file order (only the few shown in the grid are asked for).
    var testImage: (_ index: Int) -> GrayscaleImage
    /// The checkpoint written for `--save`, if any (with ``AtomicFile``).
    var savedCheckpoint: String?
}
