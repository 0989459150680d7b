import Foundation
import NN

/// Which of the two MNIST-format data sets a run uses (`--dataset`).
enum MNISTDataset: String, CaseIterable, Codable, Sendable {
    case mnist
    case fashion

    /// The name used in output, plot titles and file names.
    var displayName: String { self == .mnist ? "mnist" : "fashion-mnist" }

    /// The environment variable naming a folder with the files.
    ///
    /// Fashion-MNIST has its own variable: reading `$MNIST_DIR` for it would silently train on
    /// digits labelled as clothes when a user has `MNIST_DIR` set for the digits.
    var environmentVariable: String { self == .mnist ? "MNIST_DIR" : "FASHION_MNIST_DIR" }

    /// The folder looked in relative to the working directory.
    var localFolder: String { self == .mnist ? "data/mnist" : "data/fashion-mnist" }

    /// Where Debian's packages put the files.
    var systemFolder: String { self == .mnist ? "/usr/share/datasets/mnist" : "/usr/share/datasets/fashion-mnist" }

    /// The label of each class index.
    var classNames: [String] {
        switch self {
        case .mnist: (0..<10).map(String.init)
        case .fashion:
            ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
        }
    }

    /// Where the files come from, for the "not found" message. Nothing is ever downloaded.
    var provenance: String {
        switch self {
        case .mnist:
            "They are the original MNIST distribution (Yann LeCun, Corinna Cortes and Chris Burges), "
                + "mirrored widely; copy the four files into one of these folders or pass --data DIR. "
                + "Nothing is downloaded."
        case .fashion:
            "Install them with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu; they land "
                + "in /usr/share/datasets/fashion-mnist), or pass --data DIR pointing at a copy of "
                + "github.com/zalandoresearch/fashion-mnist. Nothing is downloaded."
        }
    }
}

/// The four IDX files of an MNIST-format data set, each raw or gzip-compressed.
struct MNISTFiles: Equatable, Sendable {
    /// The folder they were found in.
    let directory: String
    let trainImages: String
    let trainLabels: String
    let testImages: String
    let testLabels: String

    /// The standard base names, in the order train images, train labels, test images, test labels.
    static let baseNames = mnistFileNames
}

/// Finds the MNIST or Fashion-MNIST files.
///
/// The folders tried, in order:
/// 1. `--data DIR` — when given, it is the only folder tried: an explicit choice never silently
///    falls back to other data;
/// 2. `$MNIST_DIR` (`$FASHION_MNIST_DIR` for Fashion-MNIST), when set;
/// 3. `./data/mnist` (`./data/fashion-mnist`);
/// 4. `/usr/share/datasets/mnist` (`/usr/share/datasets/fashion-mnist`, Debian's
///    `dataset-fashion-mnist` package).
///
/// The first folder holding all four files (each raw or `.gz`; raw preferred) wins.
struct MNISTLocation {
    var dataset: MNISTDataset
    /// `--data DIR`, if given.
    var explicitDirectory: String?
    var environment: [String: String] = ProcessInfo.processInfo.environment
    var currentDirectory: String = FileManager.default.currentDirectoryPath
    var fileExists: (String) -> Bool = { path in
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }
    var directoryExists: (String) -> Bool = { path in
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// A folder to look in and why it is on the list.
    struct Candidate: Equatable {
        var directory: String
        var origin: String
    }

    /// The folders to try, in order.
    var candidates: [Candidate] {
        if let explicitDirectory {
            return [Candidate(directory: absolute(explicitDirectory), origin: "--data")]
        }
        var list: [Candidate] = []
        if let fromEnvironment = environment[dataset.environmentVariable], !fromEnvironment.isEmpty {
            list.append(Candidate(directory: absolute(fromEnvironment), origin: "$\(dataset.environmentVariable)"))
        }
        list.append(Candidate(directory: absolute(dataset.localFolder), origin: "./\(dataset.localFolder)"))
        list.append(Candidate(directory: dataset.systemFolder, origin: "Debian's location"))
        return list
    }

    /// The four files from the first candidate folder that has them all.
    /// - Throws: ``DemoError/dataNotFound(_:)`` listing the folders tried and what each lacked,
    ///   the expected file names and where they come from.
    func resolve() throws -> MNISTFiles {
        var report: [String] = []
        if explicitDirectory == nil, environment[dataset.environmentVariable]?.isEmpty ?? true {
            report.append("  $\(dataset.environmentVariable): not set")
        }
        for candidate in candidates {
            guard directoryExists(candidate.directory) else {
                report.append("  \(candidate.directory) (\(candidate.origin)): no such folder")
                continue
            }
            let (found, missing) = locateMNISTFiles(in: candidate.directory, fileExists: fileExists)
            if missing.isEmpty {
                return MNISTFiles(
                    directory: candidate.directory, trainImages: found[0], trainLabels: found[1],
                    testImages: found[2], testLabels: found[3])
            }
            let problem =
                missing.count == MNISTFiles.baseNames.count
                ? "none of the files" : "missing " + missing.joined(separator: ", ")
            report.append("  \(candidate.directory) (\(candidate.origin)): \(problem)")
        }
        let title = dataset == .mnist ? "MNIST" : "Fashion-MNIST"
        let message = """
            \(title) data not found. Looked in:
            \(report.joined(separator: "\n"))
            Expected the four IDX files, each raw or gzip-compressed (.gz): \(MNISTFiles.baseNames.joined(separator: ", ")).
            \(dataset.provenance)
            """
        throw DemoError.dataNotFound(message)
    }

    private func absolute(_ path: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        let url =
            expanded.hasPrefix("/")
            ? URL(fileURLWithPath: expanded)
            : URL(fileURLWithPath: currentDirectory).appendingPathComponent(expanded)
        return url.standardizedFileURL.path
    }
}
