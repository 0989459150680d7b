import ArgumentParser
import Foundation
import NN

extension MNISTDataset: ExpressibleByArgument {}

/// The models `demos mnist --model` trains.
enum MNISTModel: String, CaseIterable, Sendable {
    /// ``ClassifierModel/make(inputs:outputs:settings:)``.
    case mlp
    /// ``ClassifierModel/convolutional(height:width:outputs:settings:)``.
    case cnn

    static let allowedValues = allCases.map(\.rawValue).joined(separator: ", ")
}

/// `demos mnist`: an MLP or a CNN on MNIST digits or Fashion-MNIST clothes, read from local IDX
/// files.
struct MNISTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mnist",
        abstract:
            "Handwritten digits (MNIST) or clothes (Fashion-MNIST) with a 784-512-128-64-10 MLP or a convolutional network.",
        discussion: """
            Reads the four standard IDX files (raw or .gz) from --data DIR, else $MNIST_DIR \
            ($FASHION_MNIST_DIR for --dataset fashion), else ./data/mnist (./data/fashion-mnist), \
            else /usr/share/datasets/mnist (/usr/share/datasets/fashion-mnist, from \
            `apt-get install dataset-fashion-mnist`). Nothing is downloaded. Writes \
            <dataset>-curves.svg, <dataset>-samples.svg and <dataset>-confusion.svg, and with --model cnn \
            <dataset>-filters.svg (the first layer's filters) and <dataset>-feature-maps.svg (what the \
            first block makes of one test image).
            """)

    @OptionGroup var options: TrainingOptions<MNISTDefaults>

    @Option(
        help: ArgumentHelp(
            "Folder with the four IDX files; when given, no other folder is tried. (default: $MNIST_DIR, ./data/mnist, /usr/share/datasets/mnist)",
            valueName: "dir"))
    var data: String?

    @Option(help: "Data set: handwritten digits (mnist) or clothes (fashion).")
    var dataset: MNISTDataset = .mnist

    // A string checked in validate(), as --optimizer: ArgumentParser's own message for an
    // unknown enum value is a multi-line list.
    @Option(
        name: .customLong("model"),
        help: ArgumentHelp(
            "Model; one of \(MNISTModel.allowedValues): mlp is 784 → --hidden → 10 with ReLU, cnn is two convolution blocks (conv 3×3, BatchNorm, ReLU, max pool 2) of 16 and 32 channels, then --hidden (default 128) with ReLU and dropout, then 10.",
            valueName: "model"))
    var modelName: String = MNISTModel.mlp.rawValue

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Training images held out (the last ones in the file) as the validation split, evaluated after every epoch; the test set is evaluated once, at the end. An integer ≥ 1, smaller than the training set. (default: one twelfth of the training images, 5000 of 60000)",
            valueName: "n"))
    var validation: Int?

    // Hidden: for the test suite and smoke checks, so a run on the real files takes seconds; the
    // accuracy targets are for the full sets.
    @Option(help: .private)
    var limit: Int?

    func validate() throws {
        if let data, data.isEmpty {
            throw ValidationError("--data '' is not a folder: expected a folder path")
        }
        // A missing folder gets MNISTLocation's list of where it looked.
        if let data, ![.folder, .missing].contains(FileKind(atPath: (data as NSString).expandingTildeInPath)) {
            throw ValidationError("--data '\(data)' is a file, not a folder: expected a folder with the four IDX files")
        }
        if MNISTModel(rawValue: modelName) == nil {
            throw ValidationError(
                "--model '\(modelName)' is not supported: expected one of \(MNISTModel.allowedValues)")
        }
        if let validation, validation < 1 { throw AllowedValues.outOfRange("--validation", validation) }
        if let limit, limit < 1 {
            throw ValidationError("--limit \(limit) is out of range: expected an integer ≥ 1")
        }
    }

    func run() throws {
        let files = try MNISTLocation(dataset: dataset, explicitDirectory: data).resolve()
        let model = MNISTModel(rawValue: modelName) ?? .mlp
        let defaults =
            model == .cnn
            ? MNISTDefaults.convolutional! : (hidden: MNISTDefaults.hidden, dropout: MNISTDefaults.dropout)
        let settings = try DistributedDemo.prepare(options.settings(hidden: defaults.hidden, dropout: defaults.dropout))
        let session = DemoSession(demo: dataset.displayName, settings: settings, heldOutName: "validation")
        let result = try MNISTDemo.train(
            settings: settings, dataset: dataset, model: model, files: files, progress: session.progress,
            limit: limit, validationCount: validation)
        try session.finish(result, classNames: dataset.classNames)
    }
}
