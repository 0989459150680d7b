import Foundation
import Testing

@testable import Demos

/// Helpers for end-to-end runs: the `--json` summary, the files a run left, and SVG checks.
extension DemosBinary.Run {
    /// The `--json` summary, when standard output is exactly one JSON line.
    var summary: Summary? {
        let lines = standardOutput.split(whereSeparator: \.isNewline)
        guard lines.count == 1 else { return nil }
        return try? Summary.makeDecoder().decode(Summary.self, from: Data(lines[0].utf8))
    }
}

enum DemoFiles {
    /// Every file under `folder`, relative paths, sorted (hidden ones included: a leftover
    /// temporary file is a partial write).
    static func all(in folder: URL) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: folder.path) else { return [] }
        var files: [String] = []
        while let path = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(
                atPath: folder.appendingPathComponent(path).path, isDirectory: &isDirectory)
            if !isDirectory.boolValue { files.append(path) }
        }
        return files.sorted()
    }

    /// Records an issue unless the file at `path` is a well-formed SVG document.
    static func expectValidSVG(_ path: URL, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let text = try? String(contentsOf: path, encoding: .utf8) else {
            Issue.record("\(path.path) cannot be read", sourceLocation: sourceLocation)
            return
        }
        let check = XMLCheck.parse(text)
        #expect(check.isWellFormed, "\(path.lastPathComponent): \(check.error ?? "")", sourceLocation: sourceLocation)
        #expect(check.elementNames.first == "svg", sourceLocation: sourceLocation)
    }
}

/// The real data sets, when this machine has them: MNIST in `$MNIST_DIR`, else `../shared` beside
/// the package (the team's machines and CI); Fashion-MNIST from Debian's `dataset-fashion-mnist`
/// package. A user's clone has neither, so the tests using them are skipped there
/// (`.enabled(if:)`: reported as skipped, not passed).
enum RealData {
    static let mnist: URL = {
        if let folder = ProcessInfo.processInfo.environment["MNIST_DIR"], !folder.isEmpty {
            return URL(fileURLWithPath: folder).standardizedFileURL
        }
        return DemosBinary.packageRoot.appendingPathComponent("../shared/data/mnist").standardizedFileURL
    }()
    static let fashion = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")

    static var hasMNIST: Bool { hasFourFiles(mnist) }
    static var hasFashion: Bool { hasFourFiles(fashion) }

    private static func hasFourFiles(_ folder: URL) -> Bool {
        MNISTFiles.baseNames.allSatisfy { name in
            FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path)
                || FileManager.default.fileExists(atPath: folder.appendingPathComponent(name + ".gz").path)
        }
    }
}
