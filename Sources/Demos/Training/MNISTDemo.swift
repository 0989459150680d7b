import AutoDiff
import Foundation
import NN

/// Training for `demos mnist`.
enum MNISTDemo {
    static let classes = 10

    /// Reads `files` with NN's IDX reader (raw or .gz; pixels scaled to [0, 1]); a ReLU MLP
    /// 784 → `settings.hidden` → 10 with softmax cross-entropy; optionally loaded from
    /// `settings.loadPath`, trained `settings.epochs` epochs of shuffled batches and saved to
    /// `settings.savePath`. The last `validationCount` training images (default: one twelfth,
    /// 5000 of 60,000) are held out as the validation split, evaluated after every epoch for the
    /// progress lines and curves; the test set is evaluated once, after training, so no choice is
    /// made by looking at it.
    ///
    /// `limit` keeps only the first `limit` training and test images (before the validation
    /// split): a quick run for tests and smoke checks (the hidden `--limit` option).
    ///
    /// - Throws: ``DemoError/message(_:)`` naming the file when one is corrupt, or its labels are
    ///   not classes 0–9, or its images have no pixels, or the two sets' images differ in size; and
    ///   naming `--hidden` when the model would not fit in memory, and naming `--validation` when it
    ///   leaves no training image.
    static func train(
        settings: TrainingSettings, dataset: MNISTDataset, model kind: MNISTModel = .mlp, files: MNISTFiles,
        progress: TrainingProgress, limit: Int? = nil, validationCount: Int? = nil
    ) throws -> ImageClassifierResult {
        let (allTraining, testSet) = try load(files, limit: limit)
        let (trainSet, validationSet) = try splitValidation(allTraining, count: validationCount)
        let inputs = trainSet.features.shape[1]
        let (width, height) = imageSize(pixels: inputs)
        let settings = settings.fullBatchAtMost(trainSet.count)
        let model: Sequential<Float>
        switch kind {
        case .mlp:
            try TrainingFootprint.check(
                inputs: inputs, outputs: classes, trainCount: trainSet.count,
                evaluatedRows: max(trainSet.count, validationSet.count, testSet.count),
                settings: settings)
            model = ClassifierModel.make(inputs: inputs, outputs: classes, settings: settings)
        case .cnn:
            guard width >= 4, height >= 4 else {
                throw DemoError.message(
                    "--model cnn: images of \(width) × \(height) pixels are too small for two 2 × 2 poolings (need at least 4 × 4)"
                )
            }
            // The convolutions' activations are fixed by the image size; the head's grow with --hidden.
            try TrainingFootprint.check(
                inputs: ClassifierModel.convolutionFeatures(height: height, width: width), outputs: classes,
                trainCount: trainSet.count, evaluatedRows: min(convolutionEvaluationRows, testSet.count),
                settings: settings)
            model = ClassifierModel.convolutional(height: height, width: width, outputs: classes, settings: settings)
        }
        if let path = settings.loadPath {
            try ModelFile.load(path, into: model)
            progress.note("loaded \(path)")
        }
        var training = ClassifierTraining(
            model: model, optimizer: ClassifierModel.optimizer(for: model, settings: settings), head: .categorical,
            settings: settings, progress: progress, heldOutSplit: .validation)
        if kind == .cnn {
            training.sampleShape = [1, height, width]
            training.evaluationRows = convolutionEvaluationRows
        }
        let (trainResult, validationResult, logFiles) = try training.run(train: trainSet, heldOut: validationSet)
        let testResult = training.evaluateReported(testSet)
        let saved = try settings.savePath.map {
            try ModelFile.save(
                model, to: $0,
                metadata: ModelFile.metadata(
                    demo: dataset.displayName, settings: settings, inputs: inputs, outputs: classes
                ).merging(["model": kind.rawValue]) { $1 })
        }
        let testFeatures = testSet.features
        return ImageClassifierResult(
            metrics: training.metrics(train: trainResult, validation: validationResult, test: testResult),
            testLabels: classIndices(testSet.labels),
            testPredictions: testResult.predictions,
            testImage: { index in
                testFeatures.withUnsafeBufferPointer { pixels in
                    GrayscaleImage(
                        width: width, height: height,
                        intensities: Array(pixels[(index * inputs)..<((index + 1) * inputs)]))
                }
            },
            savedCheckpoint: saved, logFiles: logFiles,
            convolution: kind == .cnn
                ? ConvolutionPictures(
                    model: model, image: testFeatures.slice([0..<1, 0..<inputs]).reshaped([1, 1, height, width]))
                : nil)
    }

    /// Images per forward pass when the CNN is evaluated: its activations are about 0.5 MB an
    /// image, so 1,000 at a time (as the PyTorch peer) keep the pass near 500 MB.
    static let convolutionEvaluationRows = 1_000

    /// `training` split into its first images, to train on, and its last `count` (default: one
    /// twelfth, at least 1), the validation split.
    static func splitValidation(
        _ training: Dataset<Float>, count: Int?
    ) throws -> (train: Dataset<Float>, validation: Dataset<Float>) {
        let held = count ?? max(1, training.count / 12)
        guard held >= 1, held < training.count else {
            throw DemoError.message(
                "--validation \(held) is out of range: the training set has \(training.count) images, "
                    + "so expected an integer in [1, \(training.count - 1)]")
        }
        let boundary = training.count - held
        return (training.rows(0..<boundary), training.rows(boundary..<training.count))
    }

    /// The training and test sets, validated: classes 0–9 and one image size for both.
    static func load(_ files: MNISTFiles, limit: Int?) throws -> (train: Dataset<Float>, test: Dataset<Float>) {
        var sets: [Dataset<Float>] = []
        for (images, labels) in [(files.trainImages, files.trainLabels), (files.testImages, files.testLabels)] {
            var data: Dataset<Float>
            do {
                data = try loadMNIST(images: images, labels: labels, classes: classes, as: Float.self)
            } catch {
                throw DemoError.message("\(error)")
            }
            guard data.count > 0 else { throw DemoError.message("IDX file \(images): holds no images") }
            // A valid file (600 × 0 × 28), but nothing to learn from: no input features.
            guard data.features.shape[1] > 0 else {
                throw DemoError.message("IDX file \(images): its images hold no pixels (an image dimension is 0)")
            }
            if let limit, limit < data.count { data = data.rows(0..<limit) }
            sets.append(data)
        }
        guard sets[0].features.shape[1] == sets[1].features.shape[1] else {
            throw DemoError.message(
                "IDX file \(files.testImages): images of \(sets[1].features.shape[1]) pixels, but the training images have \(sets[0].features.shape[1])"
            )
        }
        return (sets[0], sets[1])
    }

    /// Width and height of a flattened image: square when the count is a square (28 × 28), else
    /// one row.
    static func imageSize(pixels: Int) -> (width: Int, height: Int) {
        let side = Int(Double(pixels).squareRoot().rounded())
        return side * side == pixels ? (side, side) : (pixels, 1)
    }
}
