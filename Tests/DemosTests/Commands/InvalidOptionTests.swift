import Foundation
import Testing

/// Every invalid option makes `demos` exit non-zero with one line naming the option, the value and
/// what is allowed — no usage block, no stack trace, nothing on standard output.
@Suite("Invalid options")
struct InvalidOptionTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var arguments: [String]
        /// Substrings the single error line must contain.
        var mentions: [String]
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let cases: [Case] = [
        Case(arguments: ["moons", "--epochs", "0"], mentions: ["--epochs", "0", "≥ 1"]),
        Case(arguments: ["spiral", "--epochs", "-5"], mentions: ["--epochs", "-5", "≥ 1"]),
        Case(arguments: ["moons", "--batch-size", "0"], mentions: ["--batch-size", "0", "≥ 1"]),
        Case(arguments: ["mnist", "--batch-size", "-1"], mentions: ["--batch-size", "-1", "≥ 1"]),
        Case(arguments: ["moons", "--dropout", "1"], mentions: ["--dropout", "1", "[0, 1)"]),
        Case(arguments: ["spiral", "--dropout", "-0.1"], mentions: ["--dropout", "-0.1", "[0, 1)"]),
        Case(
            arguments: ["moons", "--optimizer", "adamax"],
            mentions: ["--optimizer", "adamax", "sgd, adam, adamw, rmsprop, adagrad, amsgrad"]),
        Case(arguments: ["moons", "--lr", "0"], mentions: ["--lr", "0", "> 0"]),
        Case(arguments: ["mnist", "--lr", "-0.001"], mentions: ["--lr", "-0.001", "> 0"]),
        Case(arguments: ["moons", "--lr-decay", "-1"], mentions: ["--lr-decay", "-1", "≥ 0"]),
        Case(arguments: ["moons", "--l1", "-1"], mentions: ["--l1", "-1", "≥ 0"]),
        Case(arguments: ["spiral", "--l2", "-0.0005"], mentions: ["--l2", "-0.0005", "≥ 0"]),
        Case(arguments: ["moons", "--threads", "0"], mentions: ["--threads", "0", "≥ 1"]),
        Case(
            arguments: ["moons", "--hidden", "16,x"], mentions: ["--hidden", "16,x", "comma-separated integers ≥ 1"]),
        Case(arguments: ["moons", "--hidden", "16,,16"], mentions: ["--hidden", "16,,16", "comma-separated"]),
        Case(arguments: ["moons", "--hidden", "0"], mentions: ["--hidden", "'0'", "≥ 1"]),
        Case(arguments: ["moons", "--hidden", ""], mentions: ["--hidden", "comma-separated"]),
        Case(arguments: ["moons", "--epochs", "many"], mentions: ["--epochs", "many", "≥ 1"]),
        Case(arguments: ["moons", "--seed", "-1"], mentions: ["--seed", "-1", "[0, 2^64)"]),
        Case(arguments: ["moons", "--dropout", "nan"], mentions: ["--dropout", "nan", "[0, 1)"]),
        Case(
            arguments: ["moons", "--load", "/nonexistent/model.safetensors"],
            mentions: ["--load", "/nonexistent/model.safetensors", "does not exist", "readable"]),
        Case(arguments: ["moons", "--hidden", "-4"], mentions: ["--hidden", "'-4'", "comma-separated integers ≥ 1"]),
        // Widths whose sizes overflow, or whose model cannot be allocated: refused before allocating.
        Case(
            arguments: ["moons", "--hidden", "9223372036854775807"],
            mentions: ["--hidden 9223372036854775807 is out of range", "memory", "one layer of at most"]),
        Case(
            arguments: ["moons", "--hidden", "4611686018427387904"],
            mentions: ["--hidden 4611686018427387904 is out of range", "memory", "one layer of at most"]),
        Case(
            arguments: ["moons", "--hidden", "100000000"],
            mentions: ["--hidden 100000000 is out of range", "TB", "memory", "one layer of at most"]),
        Case(
            arguments: ["spiral", "--hidden", "16,100000000"],
            mentions: ["--hidden 16,100000000 is out of range", "one layer of at most"]),
        Case(arguments: ["moons", "--load", "/tmp"], mentions: ["--load '/tmp' is a folder, not a file"]),
        Case(arguments: ["moons", "--load", "/dev/null"], mentions: ["--load '/dev/null' is not a regular file"]),
        Case(arguments: ["moons", "--log", ""], mentions: ["--log '' is not a path"]),
        Case(arguments: ["moons", "--log", "/tmp"], mentions: ["--log '/tmp' is a folder"]),
        Case(
            arguments: ["spiral", "--log", "/nonexistent/run.jsonl"],
            mentions: ["--log '/nonexistent/run.jsonl' cannot be opened for writing", "No such file"]),
        Case(arguments: ["moons", "--tensorboard", ""], mentions: ["--tensorboard '' is not a path"]),
        Case(
            arguments: ["moons", "--tensorboard", "/dev/null"],
            mentions: ["--tensorboard '/dev/null' is a file, not a folder"]),
        Case(
            arguments: ["moons", "--tensorboard", "/proc/version/tb"],
            mentions: ["--tensorboard '/proc/version/tb'", "cannot be created as a folder"]),
        Case(arguments: ["mnist", "--validation", "0"], mentions: ["--validation 0 is out of range", "≥ 1"]),
        Case(
            arguments: ["moons", "--resume", "/nonexistent/run.ckpt"],
            mentions: ["--resume '/nonexistent/run.ckpt' cannot be read"]),
        Case(
            arguments: ["moons", "--resume", "/etc/passwd", "--load", "/etc/passwd"],
            mentions: ["--resume and --load cannot be combined"]),
        Case(
            arguments: ["mnist", "--data", DemosBinary.packageRoot.appendingPathComponent("Package.swift").path],
            mentions: ["--data", "Package.swift' is a file, not a folder"]),
        Case(arguments: ["mnist", "--dataset", "cifar"], mentions: ["--dataset", "cifar", "mnist", "fashion"]),
        Case(arguments: ["moons", "--no-such-option"], mentions: ["--no-such-option"]),
        Case(arguments: ["mnist", "--sync-batch-norm"], mentions: ["--sync-batch-norm needs --distributed"]),
        Case(arguments: ["moons", "--transport", "mpi"], mentions: ["--transport needs --distributed"]),
        Case(arguments: ["words", "--transport", "shared-memory"], mentions: ["--transport needs --distributed"]),
        Case(arguments: ["moons", "--transport", "carrier-pigeon"], mentions: ["--transport", "carrier-pigeon"]),
        Case(
            arguments: ["handwritten", "--case", "xor"],
            mentions: ["--case", "xor", "moons, bias-sum, sigmoid-derivative"]),
        Case(arguments: ["handwritten", "--epochs", "0"], mentions: ["--epochs", "0", "≥ 1"]),
        Case(arguments: ["handwritten", "--plot", ""], mentions: ["--plot", "--no-plot"]),
    ]

    @Test(arguments: cases)
    func exitsWithOneLineNamingTheOption(_ testCase: Case) throws {
        let run = try DemosBinary.run(testCase.arguments)
        #expect(run.exitCode != 0)
        #expect(run.standardOutput.isEmpty)
        #expect(run.errorLines.count == 1, "stderr was: \(run.standardError)")
        let line = run.errorLines.first ?? ""
        #expect(line.hasPrefix("Error: "))
        for mention in testCase.mentions {
            #expect(line.contains(mention), "'\(line)' should mention '\(mention)'")
        }
    }

    @Test("A batch size beyond the data set, up to Int.max, is full batch")
    func hugeBatchSizeIsFullBatch() throws {
        let run = try DemosBinary.run(
            ["moons", "--batch-size", "9223372036854775807", "--epochs", "2", "--json", "--no-plot"])
        #expect(run.exitCode == 0, "stderr: \(run.standardError)")
        #expect(run.summary != nil, "stdout: \(run.standardOutput)")
    }

    @Test("--epochs 0 is allowed with --load (evaluate only)")
    func zeroEpochsWithLoadPassesValidation() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("model.safetensors")
        _ = FileManager.default.createFile(atPath: checkpoint.path, contents: Data([0]))
        let run = try DemosBinary.run(["moons", "--epochs", "0", "--load", checkpoint.path], in: folder)
        #expect(!run.standardError.contains("--epochs"))
    }
}
