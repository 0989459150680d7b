import AutoDiff

/// The final numbers a training seam measures on its trained model.
struct FinalMetrics: Equatable, Sendable {
    /// Trainable scalars in the model.
    var parameters: Int
    /// Loss and accuracy on the whole training set, without dropout.
    var trainLoss: Double
    var trainAccuracy: Double
    /// Loss and accuracy on the validation split, when the demo has one (spiral, mnist).
    var validation: Evaluation.Figures? = nil
    /// Loss and accuracy on the test split, when the demo has one (moons, mnist).
    var test: Evaluation.Figures? = nil
    /// Training steps replayed from a capture, and run eagerly (``CapturedStep``).
    var replayedSteps = 0
    var eagerSteps = 0
    /// Why the step was not captured, if it was refused.
    var eagerReason: String? = nil
}

/// Which split a demo holds out from training and evaluates after every epoch: the name its
/// figures carry in the summary, the curves' legend and the `--log` lines.
enum HeldOutSplit: String, Sendable {
    /// Data for choosing options and epochs (spiral, mnist): looked at during training.
    case validation
    /// Data looked at only to report the result (moons, which has no validation split).
    case test
}

/// What the 2-D demos (moons, spiral) hand back: their numbers, and what the decision-region plot
/// needs — the points to draw and a way to classify any batch of points in the plane.
struct PlanarClassifierResult {
    var metrics: FinalMetrics
    /// The points drawn over the regions (the held-out split reads best: it shows generalization).
    var points: [LabeledPoint]
    /// The trained model's class for each of ``points``, in order (ringed on the plot when wrong).
    var predictions: [Int]? = nil
    var classNames: [String]
    /// Class indices for a `[n, 2]` batch of points; called once, on a 100 × 100 grid.
    var classify: (Tensor<Float>) throws -> [Int]
    /// The checkpoint written for `--save`, if any (with ``AtomicFile``).
    var savedCheckpoint: String?
    /// The `--log` file and the `--tensorboard` event file written, if any.
    var logFiles: [String] = []
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
    /// The `--log` file and the `--tensorboard` event file written, if any.
    var logFiles: [String] = []
    /// The CNN's filters and feature maps (`--model cnn`).
    var convolution: ConvolutionPictures? = nil
}
