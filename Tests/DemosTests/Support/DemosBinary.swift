import Foundation
import Testing

/// Runs the built `demos` executable, as a user would, and captures what it printed.
///
/// `swift test` builds every product of the package, `demos` included, so the binary sits next to
/// the test bundle. Where that is not so (a test runner elsewhere), `$DEMOS_BINARY` names it, and
/// the package's `.build/debug/demos` is the last resort.
enum DemosBinary {
    struct Run {
        var exitCode: Int32
        var standardOutput: String
        var standardError: String

        /// Standard error's non-empty lines.
        var errorLines: [String] { standardError.split(whereSeparator: \.isNewline).map(String.init) }
    }

    /// Starts `demos arguments` in `folder`, sends it SIGTERM once `run.ckpt` exists there, and
    /// returns its exit status and standard error.
    static func terminatedAfterCheckpoint(_ arguments: [String], in folder: URL) throws -> (
        status: Int32, standardError: String
    ) {
        let process = Process()
        process.executableURL = try #require(url)
        process.arguments = arguments
        process.currentDirectoryURL = folder
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let checkpoint = folder.appendingPathComponent("run.ckpt").path
        while !FileManager.default.fileExists(atPath: checkpoint) && process.isRunning { usleep(20_000) }
        process.terminate()  // SIGTERM
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, message)
    }

    /// The package root: the nearest folder above this file holding `Package.swift`.
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// The places the binary may be, best first.
    static var candidates: [URL] {
        var list: [URL] = []
        if let explicit = ProcessInfo.processInfo.environment["DEMOS_BINARY"] {
            list.append(URL(fileURLWithPath: explicit))
        }
        // The test runner itself lives in the products folder (…/debug/<package>PackageTests.xctest).
        let runner = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        list.append(runner.deletingLastPathComponent().appendingPathComponent("demos"))
        if let bundle = Bundle.allBundles.first(where: { $0.bundlePath.hasSuffix(".xctest") }) {
            list.append(bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("demos"))
        }
        list.append(packageRoot.appendingPathComponent(".build/debug/demos"))
        return list
    }

    /// The first candidate that is an executable file.
    static var url: URL? {
        candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Runs `demos` with `arguments` in `directory` (a fresh temporary folder by default, so no
    /// output lands in the repository) with `$MNIST_DIR` and `$FASHION_MNIST_DIR` unset unless
    /// given in `environment`.
    static func run(
        _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]
    ) throws -> Run {
        guard let executable = url else {
            Issue.record(
                "No demos binary; looked at \(candidates.map(\.path)). Run `swift build --product demos` or set DEMOS_BINARY."
            )
            return Run(exitCode: -1, standardOutput: "", standardError: "")
        }
        let workingDirectory = try directory ?? TemporaryFolder.make()
        let outputURL = workingDirectory.appendingPathComponent(".stdout-\(UUID().uuidString)")
        let errorURL = workingDirectory.appendingPathComponent(".stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outputURL)
            try? FileManager.default.removeItem(at: errorURL)
        }
        // Files rather than pipes: a chatty child can never block on a full pipe.
        let output = try FileHandle(forWritingTo: outputURL)
        let error = try FileHandle(forWritingTo: errorURL)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = workingDirectory
        var env = ProcessInfo.processInfo.environment
        env["MNIST_DIR"] = nil
        env["FASHION_MNIST_DIR"] = nil
        env["COLUMNS"] = "100"
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = output
        process.standardError = error
        try process.run()
        process.waitUntilExit()
        try output.close()
        try error.close()
        return Run(
            exitCode: process.terminationStatus,
            standardOutput: try String(contentsOf: outputURL, encoding: .utf8),
            standardError: try String(contentsOf: errorURL, encoding: .utf8))
    }
}

/// Fresh folders under the system's temporary directory.
enum TemporaryFolder {
    static func make() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("demos-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The names in `folder`, sorted (hidden ones included).
    static func contents(_ folder: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    }
}
