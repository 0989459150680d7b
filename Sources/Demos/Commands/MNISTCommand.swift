import ArgumentParser
import Foundation
import NN

extension MNISTDataset: ExpressibleByArgument {}

/// `demos mnist`: an MLP on MNIST digits or Fashion-MNIST clothes, read from local IDX files.
struct MNISTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mnist",
        abstract: "Handwritten digits (MNIST) or clothes (Fashion-MNIST) with a 784-512-128-64-10 MLP.",
        discussion: """
            Reads the four standard IDX files (raw or .gz) from --data DIR, else $MNIST_DIR \
            ($FASHION_MNIST_DIR for --dataset fashion), else ./data/mnist (./data/fashion-mnist), \
            else /usr/share/datasets/mnist (/usr/share/datasets/fashion-mnist, from \
            `apt-get install dataset-fashion-mnist`). Nothing is downloaded. Writes \
            <dataset>-curves.svg, <dataset>-samples.svg and <dataset>-confusion.svg.
            """)

    @OptionGroup var options: TrainingOptions<MNISTDefaults>

    @Option(
        help: ArgumentHelp(
            "Folder with the four IDX files; when given, no other folder is tried. (default: $MNIST_DIR, ./data/mnist, /usr/share/datasets/mnist)",
            valueName: "dir"))
    var data: String?

    @Option(help: "Data set: handwritten digits (mnist) or clothes (fashion).")
    var dataset: MNISTDataset = .mnist

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
        if let validation, validation < 1 { throw AllowedValues.outOfRange("--validation", validation) }
        if let limit, limit < 1 {
            throw ValidationError("--limit \(limit) is out of range: expected an integer ≥ 1")
        }
    }

    func run() throws {
        let files = try MNISTLocation(dataset: dataset, explicitDirectory: data).resolve()
        let settings = options.settings
        let session = DemoSession(demo: dataset.displayName, settings: settings, heldOutName: "validation")
        let result = try MNISTDemo.train(
            settings: settings, dataset: dataset, files: files, progress: session.progress, limit: limit,
            validationCount: validation)
        try session.finish(result, classNames: dataset.classNames)
    }
}
