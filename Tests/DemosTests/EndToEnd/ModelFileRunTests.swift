import Foundation
import NN
import Testing

@testable import Demos

/// `--save` and `--load` end to end: a saved model evaluates to the same numbers, training
/// continues from it, and a file that is unreadable, corrupt or made for another model stops the
/// run with one line and writes nothing.
@Suite("Save and load, end to end")
struct ModelFileRunTests {
    static let quickMoons = ["moons", "--epochs", "5", "--threads", "1", "--json"]

    @Test func savedModelEvaluatesToTheSameNumbers() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let trained = try DemosBinary.run(
            ModelFileRunTests.quickMoons + ["--no-plot", "--save", "models/moons.safetensors"], in: folder)
        let saved = try #require(trained.summary, "stderr: \(trained.standardError)")
        #expect(saved.files == ["models/moons.safetensors"])
        let path = folder.appendingPathComponent("models/moons.safetensors").path
        // NN's reader accepts it: the parameters by name, and the demo's metadata.
        let contents = try Safetensors.read(contentsOf: path, as: Float.self)
        #expect(contents.tensors["layers.0.weight"]?.shape == [2, 16])
        #expect(contents.tensors["layers.6.weight"]?.shape == [16, 1])
        #expect(contents.metadata["demo"] == "moons")
        #expect(contents.metadata["hidden"] == "16,16")

        let evaluated = try DemosBinary.run(
            ["moons", "--epochs", "0", "--load", path, "--threads", "1", "--json", "--plot", "eval"], in: folder)
        let summary = try #require(evaluated.summary, "stderr: \(evaluated.standardError)")
        #expect(summary.epochs == 0)
        #expect(summary.testAccuracy == saved.testAccuracy)
        #expect(summary.testLoss == saved.testLoss)
        #expect(summary.trainAccuracy == saved.trainAccuracy)
        // No epochs, no curves: only the decision regions of the loaded model.
        #expect(summary.files == ["eval/moons-regions.svg"])
        DemoFiles.expectValidSVG(folder.appendingPathComponent("eval/moons-regions.svg"))
    }

    /// Dropout layers are in the model at every rate (the identity at 0), so the parameter names
    /// and the file do not depend on `--dropout`.
    @Test func modelTrainedWithDropoutLoadsWithoutIt() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let trained = try DemosBinary.run(
            ModelFileRunTests.quickMoons + ["--no-plot", "--dropout", "0.2", "--save", "moons.safetensors"], in: folder)
        let saved = try #require(trained.summary, "stderr: \(trained.standardError)")
        let evaluated = try DemosBinary.run(
            ["moons", "--epochs", "0", "--load", "moons.safetensors", "--json", "--no-plot"], in: folder)
        #expect(evaluated.exitCode == 0, "stderr: \(evaluated.standardError)")
        #expect(evaluated.summary?.testAccuracy == saved.testAccuracy)
    }

    @Test func trainingContinuesFromALoadedModel() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = try DemosBinary.run(
            ModelFileRunTests.quickMoons + ["--no-plot", "--save", "moons.safetensors"], in: folder)
        let start = try #require(first.summary)
        let text = try DemosBinary.run(
            ["moons", "--epochs", "5", "--threads", "1", "--no-plot", "--load", "moons.safetensors"], in: folder)
        #expect(text.exitCode == 0)
        #expect(text.standardOutput.hasPrefix("loaded moons.safetensors\n"))
        let continued = try #require(
            try DemosBinary.run(
                ModelFileRunTests.quickMoons + ["--no-plot", "--load", "moons.safetensors"], in: folder
            ).summary)
        #expect(continued.trainLoss < start.trainLoss, "five more epochs should lower the training loss")
    }

    @Test func modelOfOtherWidthsIsRejectedInOneLine() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try DemosBinary.run(
            ["moons", "--epochs", "1", "--hidden", "8", "--no-plot", "--save", "small.safetensors"], in: folder)
        let run = try DemosBinary.run(["moons", "--epochs", "0", "--load", "small.safetensors"], in: folder)
        #expect(run.exitCode != 0)
        #expect(run.standardOutput.isEmpty)
        #expect(run.errorLines.count == 1, "stderr: \(run.standardError)")
        let line = run.errorLines.first ?? ""
        #expect(line.hasPrefix("Error: --load: small.safetensors does not fit this model"))
        #expect(line.contains("layers.0.weight has shape [2, 8], the model expects [2, 16]"))
        #expect(line.contains("demos moons --hidden 8"), "the line says which options would load it")
        #expect(DemoFiles.all(in: folder) == ["small.safetensors"], "no plots, no partial files")
    }

    @Test func spiralModelDoesNotLoadIntoMoons() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try DemosBinary.run(
            [
                "spiral", "--epochs", "1", "--hidden", "16,16", "--batch-size", "3000", "--no-plot", "--save",
                "spiral.safetensors",
            ],
            in: folder)
        let run = try DemosBinary.run(
            ["moons", "--epochs", "2", "--load", "spiral.safetensors", "--save", "moons.safetensors"], in: folder)
        #expect(run.exitCode != 0)
        #expect(run.errorLines.count == 1)
        #expect(run.standardError.contains("layers.6.weight has shape [16, 3], the model expects [16, 1]"))
        #expect(run.standardError.contains("demos spiral --hidden 16,16"))
        #expect(DemoFiles.all(in: folder) == ["spiral.safetensors"])
    }

    struct BadFile: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        /// What the error line must say.
        var mentions: [String]
        var testDescription: String { name }
    }

    static let badFiles: [BadFile] = [
        BadFile(name: "empty", bytes: [], mentions: ["truncated"]),
        BadFile(name: "text", bytes: Array("not a model at all\n".utf8), mentions: ["header length"]),
        BadFile(
            name: "JSON header cut short",
            bytes: [40, 0, 0, 0, 0, 0, 0, 0] + Array("{\"layers.0.weight\":".utf8),
            mentions: ["runs past the end of the file"]),
    ]

    @Test(arguments: badFiles)
    func corruptFileIsRejectedInOneLine(_ bad: BadFile) throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(bad.bytes).write(to: folder.appendingPathComponent("bad.safetensors"))
        let run = try DemosBinary.run(
            ["moons", "--epochs", "0", "--load", "bad.safetensors", "--save", "out.safetensors"], in: folder)
        #expect(run.exitCode != 0)
        #expect(run.standardOutput.isEmpty)
        #expect(run.errorLines.count == 1, "stderr: \(run.standardError)")
        let line = run.errorLines.first ?? ""
        #expect(line.hasPrefix("Error: --load: safetensors file bad.safetensors"))
        for mention in bad.mentions { #expect(line.contains(mention), "'\(line)' should mention '\(mention)'") }
        #expect(DemoFiles.all(in: folder) == ["bad.safetensors"], "no plots, no model, no partial files")
    }

    @Test func folderGivenToLoadIsRejectedInOneLine() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try DemosBinary.run(["moons", "--epochs", "0", "--load", folder.path], in: folder)
        #expect(run.exitCode != 0)
        #expect(run.errorLines.count == 1, "stderr: \(run.standardError)")
        #expect(run.standardError.contains("--load"))
        #expect(DemoFiles.all(in: folder).isEmpty)
    }

    @Test func unwritableSaveIsOneLine() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data().write(to: folder.appendingPathComponent("file"))
        // A path below a regular file: its folder cannot exist.
        let run = try DemosBinary.run(
            ["moons", "--epochs", "1", "--no-plot", "--save", "file/model.safetensors"], in: folder)
        #expect(run.exitCode != 0)
        #expect(run.errorLines.count == 1, "stderr: \(run.standardError)")
        #expect(run.standardError.hasPrefix("Error: --save: "))
        #expect(DemoFiles.all(in: folder) == ["file"])
    }
}
