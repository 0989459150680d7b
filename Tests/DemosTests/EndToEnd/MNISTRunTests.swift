import Foundation
import NN
import Testing

@testable import Demos

/// `demos mnist` end to end on small IDX files the tests write (the IDX path, the plots, the
/// errors for corrupt files), and briefly on the real data sets where this machine has them.
@Suite("MNIST, end to end")
struct MNISTRunTests {
    static let quick = ["--epochs", "2", "--hidden", "32", "--batch-size", "50", "--threads", "1"]

    @Test func toyDataSetTrainsAndWritesTheThreePlots() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try IDXFixture.writeToyDataSet(in: data)
        let run = try DemosBinary.run(
            ["mnist", "--data", "data", "--json", "--plot", "plots", "--save", "mnist.safetensors"]
                + MNISTRunTests.quick,
            in: folder)
        #expect(run.exitCode == 0, "stderr: \(run.standardError)")
        let summary = try #require(run.summary, "stdout: \(run.standardOutput)")
        #expect(summary.demo == "mnist")
        #expect(summary.parameters == 784 * 32 + 32 + 32 * 10 + 10)
        // One bright band per class: two epochs learn it. Validation per epoch, test once at the end.
        let (validation, test) = (try #require(summary.validationAccuracy), try #require(summary.testAccuracy))
        #expect(validation > 0.9 && test > 0.9)
        let plots = ["plots/mnist-curves.svg", "plots/mnist-samples.svg", "plots/mnist-confusion.svg"]
        #expect(summary.files == plots + ["mnist.safetensors"])
        for plot in plots { DemoFiles.expectValidSVG(folder.appendingPathComponent(plot)) }
        // The grid shows images with their labels, the matrix one cell per pair of classes.
        let samples = try String(contentsOf: folder.appendingPathComponent(plots[1]), encoding: .utf8)
        #expect(samples.contains("data:image/png;base64,"))

        let evaluated = try DemosBinary.run(
            [
                "mnist", "--data", "data", "--epochs", "0", "--hidden", "32", "--load", "mnist.safetensors", "--json",
                "--no-plot",
            ],
            in: folder)
        #expect(evaluated.summary?.testAccuracy == summary.testAccuracy)
    }

    @Test func convolutionalModelTrainsSavesLoadsAndDrawsItsFiltersAndFeatureMaps() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try IDXFixture.writeToyDataSet(in: data)
        let options = ["mnist", "--data", "data", "--model", "cnn", "--hidden", "16", "--json", "--threads", "1"]
        let run = try DemosBinary.run(
            options + ["--epochs", "5", "--batch-size", "20", "--plot", "plots", "--save", "cnn.safetensors"],
            in: folder)
        #expect(run.exitCode == 0, "stderr: \(run.standardError)")
        let summary = try #require(run.summary, "stdout: \(run.standardOutput)")
        let convolutions = (16 * 9 + 16) + 2 * 16 + (32 * 16 * 9 + 32) + 2 * 32
        #expect(summary.parameters == convolutions + (32 * 7 * 7 * 16 + 16) + (16 * 10 + 10))
        #expect(try #require(summary.testAccuracy) > 0.9, "test accuracy \(summary.testAccuracy ?? 0)")
        let plots = ["curves", "samples", "confusion", "filters", "feature-maps"].map { "plots/mnist-\($0).svg" }
        #expect(summary.files == plots + ["cnn.safetensors"])
        for plot in plots { DemoFiles.expectValidSVG(folder.appendingPathComponent(plot)) }
        let maps = try String(contentsOf: folder.appendingPathComponent(plots[4]), encoding: .utf8)
        #expect(maps.contains("16 maps of 14 × 14") && maps.contains("32 maps of 7 × 7"))
        // The running statistics are saved with the weights: evaluation gives the same numbers.
        let evaluated = try DemosBinary.run(
            options + ["--epochs", "0", "--load", "cnn.safetensors", "--no-plot"], in: folder)
        #expect(evaluated.summary?.testAccuracy == summary.testAccuracy)
        #expect(evaluated.summary?.testLoss == summary.testLoss)
        // An MLP cannot load it: the error names the tensors.
        let mismatch = try DemosBinary.run(
            ["mnist", "--data", "data", "--epochs", "0", "--load", "cnn.safetensors", "--no-plot"], in: folder)
        #expect(mismatch.exitCode == 1)
        let line = mismatch.errorLines.first ?? ""
        #expect(line.contains("layers.1.running_mean"), "\(line)")
        #expect(line.hasSuffix("it was saved by `demos mnist --model cnn --hidden 16`"), "\(line)")
    }

    @Test func imagesTooSmallForTheConvolutionalModelAreOneLine() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (count, side) = (12, 3)
        let pixels = (0..<(count * side * side)).map { UInt8($0 % 251) }
        let labels = (0..<count).map { UInt8($0 % 10) }
        for prefix in ["train", "t10k"] {
            try IDXFixture.write(
                IDXFixture.idx(shape: [count, side, side], values: pixels), folder, "\(prefix)-images-idx3-ubyte")
            try IDXFixture.write(IDXFixture.idx(shape: [count], values: labels), folder, "\(prefix)-labels-idx1-ubyte")
        }
        let run = try DemosBinary.run(["mnist", "--data", ".", "--model", "cnn", "--no-plot"], in: folder)
        #expect(run.exitCode == 1)
        #expect(
            run.errorLines == [
                "Error: --model cnn: images of 3 × 3 pixels are too small for two 2 × 2 poolings (need at least 4 × 4)"
            ])
    }

    @Test func unknownModelIsOneLine() throws {
        let run = try DemosBinary.run(["mnist", "--model", "resnet"])
        #expect(run.exitCode != 0)
        #expect(run.errorLines.first == "Error: --model 'resnet' is not supported: expected one of mlp, cnn")
    }

    @Test func validationLargerThanTheTrainingSetIsOneLine() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        try IDXFixture.writeToyDataSet(in: folder)
        let run = try DemosBinary.run(["mnist", "--data", ".", "--validation", "200", "--no-plot"], in: folder)
        #expect(run.exitCode == 1)
        #expect(
            run.errorLines == [
                "Error: --validation 200 is out of range: the training set has 200 images, so expected an integer in [1, 199]"
            ])
    }

    @Test func fashionUsesItsOwnNameAndClassNames() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        try IDXFixture.writeToyDataSet(in: folder, trainCount: 100, testCount: 30)
        let run = try DemosBinary.run(
            ["mnist", "--dataset", "fashion", "--data", folder.path, "--plot", "plots"] + MNISTRunTests.quick,
            in: folder)
        #expect(run.exitCode == 0, "stderr: \(run.standardError)")
        #expect(run.standardOutput.contains("fashion-mnist: 2 epochs in "))
        let confusion = try String(
            contentsOf: folder.appendingPathComponent("plots/fashion-mnist-confusion.svg"), encoding: .utf8)
        #expect(confusion.contains("Ankle boot"))
    }

    struct Corruption: CustomTestStringConvertible, Sendable {
        var name: String
        var file: String
        var bytes: [UInt8]
        var mentions: [String]
        var testDescription: String { name }
    }

    static let corruptions: [Corruption] = [
        Corruption(
            name: "truncated gzip", file: "train-images-idx3-ubyte.gz",
            bytes: Array(
                Gzip.compress(IDXFixture.idx(shape: [200, 28, 28], values: Array(repeating: 7, count: 200 * 784)))
                    .prefix(60)),
            mentions: ["train-images-idx3-ubyte.gz", "truncated"]),
        Corruption(
            name: "bad magic", file: "t10k-labels-idx1-ubyte", bytes: [1, 2, 3, 4, 0, 0, 0, 1, 5],
            mentions: ["t10k-labels-idx1-ubyte", "bad magic number"]),
        Corruption(
            name: "too few pixels", file: "t10k-images-idx3-ubyte",
            bytes: IDXFixture.idx(shape: [50, 28, 28], values: Array(repeating: 0, count: 100)),
            mentions: ["t10k-images-idx3-ubyte", "truncated"]),
        Corruption(
            name: "label count differs", file: "t10k-labels-idx1-ubyte",
            bytes: IDXFixture.idx(shape: [49], values: Array(repeating: 1, count: 49)),
            mentions: ["t10k-labels-idx1-ubyte", "49 labels"]),
        Corruption(
            name: "label outside 0-9", file: "t10k-labels-idx1-ubyte",
            bytes: IDXFixture.idx(shape: [50], values: Array(repeating: 3, count: 49) + [12]),
            mentions: ["t10k-labels-idx1-ubyte", "label 12 at index 49"]),
        // Float and wide labels are checked as written, never converted into a class.
        Corruption(
            name: "float32 label NaN", file: "t10k-labels-idx1-ubyte", bytes: IDXFixture.testLabels(float32: .nan),
            mentions: ["t10k-labels-idx1-ubyte: label nan at index 49 is not a class 0–9"]),
        Corruption(
            name: "float32 label 1e20", file: "t10k-labels-idx1-ubyte", bytes: IDXFixture.testLabels(float32: 1e20),
            mentions: ["t10k-labels-idx1-ubyte: label 1e+20 at index 49 is not a class 0–9"]),
        Corruption(
            name: "float64 label infinity", file: "t10k-labels-idx1-ubyte",
            bytes: IDXFixture.testLabels(float64: .infinity),
            mentions: ["t10k-labels-idx1-ubyte: label inf at index 49 is not a class 0–9"]),
        Corruption(
            name: "float32 label 2.5", file: "t10k-labels-idx1-ubyte", bytes: IDXFixture.testLabels(float32: 2.5),
            mentions: ["t10k-labels-idx1-ubyte: label 2.5 at index 49 is not a class 0–9"]),
        Corruption(
            name: "float32 label -0.5", file: "t10k-labels-idx1-ubyte", bytes: IDXFixture.testLabels(float32: -0.5),
            mentions: ["t10k-labels-idx1-ubyte: label -0.5 at index 49 is not a class 0–9"]),
        Corruption(
            name: "int32 label 2^31-1", file: "t10k-labels-idx1-ubyte", bytes: IDXFixture.testLabels(int32: .max),
            mentions: ["t10k-labels-idx1-ubyte: label 2147483647 at index 49 is not a class 0–9"]),
        Corruption(
            name: "images with no pixels", file: "t10k-images-idx3-ubyte",
            bytes: IDXFixture.idx(shape: [50, 0, 28], values: []),
            mentions: ["t10k-images-idx3-ubyte: its images hold no pixels"]),
        Corruption(
            name: "gzip inflating past its header", file: "train-labels-idx1-ubyte.gz",
            bytes: Gzip.compress(
                IDXFixture.idx(shape: [200], values: (0..<200).map { UInt8($0 % 10) })
                    + [UInt8](repeating: 0, count: 1 << 22)),
            mentions: ["train-labels-idx1-ubyte.gz", "need 200 data bytes but the gzip stream holds more"]),
    ]

    @Test(arguments: corruptions)
    func corruptFileIsNamedInOneLine(_ corruption: Corruption) throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try IDXFixture.writeToyDataSet(in: data)
        try IDXFixture.write(corruption.bytes, data, corruption.file)
        let before = DemoFiles.all(in: folder)
        let run = try DemosBinary.run(
            ["mnist", "--data", "data", "--save", "model.safetensors"] + MNISTRunTests.quick, in: folder)
        #expect(run.exitCode != 0)
        #expect(run.standardOutput.isEmpty)
        #expect(run.errorLines.count == 1, "stderr: \(run.standardError)")
        let line = run.errorLines.first ?? ""
        #expect(line.hasPrefix("Error: IDX file "))
        for mention in corruption.mentions { #expect(line.contains(mention), "'\(line)' should mention '\(mention)'") }
        #expect(DemoFiles.all(in: folder) == before, "no plots, no model, no partial files")
    }

    // The real data sets: a quick run on a subset (hidden `--limit`) shows the files load and a
    // model learns from them. The full-size accuracy runs are measured by hand (README table).

    @Test(
        .enabled(
            if: RealData.hasMNIST,
            "needs the MNIST files in $MNIST_DIR or ../shared/data/mnist (absent in a user's clone)"))
    func realMNISTLoadsAndLearns() throws {
        let run = try DemosBinary.run(
            ["mnist", "--data", RealData.mnist.path, "--limit", "2000", "--epochs", "1", "--json", "--no-plot"])
        #expect(run.exitCode == 0, "stderr: \(run.standardError)")
        let summary = try #require(run.summary)
        #expect(summary.parameters == 784 * 512 + 512 + 512 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10)
        #expect(summary.testAccuracy ?? 0 > 0.7, "16 steps on 2000 digits already reach ~0.8")
    }

    @Test(
        .enabled(
            if: RealData.hasMNIST,
            "needs the MNIST files in $MNIST_DIR or ../shared/data/mnist (absent in a user's clone)"))
    func realMNISTTrainsTheConvolutionalModel() throws {
        let run = try DemosBinary.run(
            [
                "mnist", "--model", "cnn", "--data", RealData.mnist.path, "--limit", "1000", "--epochs", "1", "--json",
                "--no-plot",
            ])
        #expect(run.exitCode == 0, "stderr: \(run.standardError)")
        let summary = try #require(run.summary)
        #expect(summary.parameters == 207_018, "the peer's model: 160 + 32 + 4,640 + 64 + 200,832 + 1,290")
        #expect(summary.testAccuracy ?? 0 > 0.5)
    }

    @Test(
        .enabled(
            if: RealData.hasFashion,
            "needs /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist)"))
    func realFashionMNISTLoadsFromDebiansFolderAndLearns() throws {
        // No --data: the Debian folder is found by the default search.
        let run = try DemosBinary.run(
            ["mnist", "--dataset", "fashion", "--limit", "2000", "--epochs", "1", "--json", "--no-plot"])
        #expect(run.exitCode == 0, "stderr: \(run.standardError)")
        let summary = try #require(run.summary)
        #expect(summary.demo == "fashion-mnist")
        #expect(summary.testAccuracy ?? 0 > 0.6)
    }
}
