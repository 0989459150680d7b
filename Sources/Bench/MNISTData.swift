import AutoDiff
import Foundation
import NN

/// MNIST for the benchmark: the real IDX files when found, else synthetic data of the same
/// shapes (60,000 + 10,000 images of 784 values in [0, 1], 10 classes).
struct MNISTData {
    var train: Dataset<Float>
    var test: Dataset<Float>
    /// Where the data came from, for the report.
    var source: String

    /// `--data`, else `$MNIST_DIR`, else `../shared/data/mnist`, else synthetic.
    static func load(directory: String?) throws -> MNISTData {
        let candidates = [directory, ProcessInfo.processInfo.environment["MNIST_DIR"], "../shared/data/mnist"]
            .compactMap { $0 }
        for folder in candidates {
            if let paths = files(in: folder) {
                let train = try loadMNIST(images: paths[0], labels: paths[1], as: Float.self)
                let test = try loadMNIST(images: paths[2], labels: paths[3], as: Float.self)
                return MNISTData(train: train, test: test, source: "real MNIST in \(folder)")
            }
            if folder == directory {
                throw BenchError("--data \(folder): the four MNIST IDX files (raw or .gz) are not all there")
            }
        }
        return synthetic()
    }

    /// The four files in `folder` (NN's ``locateMNISTFiles(in:fileExists:)``), or nil unless all
    /// are there.
    static func files(in folder: String) -> [String]? {
        let (found, missing) = locateMNISTFiles(in: folder)
        return missing.isEmpty ? found : nil
    }

    /// Ten random prototype images plus noise: learnable, with MNIST's shapes and value range.
    static func synthetic() -> MNISTData {
        var generator = RandomGenerator(seed: 99)
        let prototypes = (0..<10).map { _ in (0..<784).map { _ in generator.nextUniform() < 0.2 ? 1.0 : 0.0 } }
        func make(_ n: Int) -> Dataset<Float> {
            var pixels = [Float]()
            pixels.reserveCapacity(n * 784)
            var labels = [Float]()
            for _ in 0..<n {
                let label = Int(generator.next() % 10)
                labels.append(Float(label))
                for p in prototypes[label] {
                    let noisy = p + 0.3 * generator.nextNormal()
                    pixels.append(Float(Swift.min(Swift.max(noisy, 0), 1)))
                }
            }
            return Dataset(features: Tensor(shape: [n, 784], scalars: pixels), labels: Tensor(labels))
        }
        return MNISTData(train: make(60_000), test: make(10_000), source: "synthetic (no MNIST files found)")
    }

    /// The CNN of `torch_models.py cnn-mnist`, initialized as PyTorch's layers are.
    static func cnn() -> Sequential<Float> {
        var g = RandomGenerator(seed: 0)
        let (hidden, last) = (Initializer.pytorchLinear(inputs: 1568), Initializer.pytorchLinear(inputs: 128))
        return Sequential<Float> {
            Conv2d(1, 16, kernelSize: 3, padding: 1, generator: &g)
            BatchNorm2d(numFeatures: 16)
            ReLU()
            MaxPool2d(kernelSize: 2)
            Conv2d(16, 32, kernelSize: 3, padding: 1, generator: &g)
            BatchNorm2d(numFeatures: 32)
            ReLU()
            MaxPool2d(kernelSize: 2)
            Flatten()
            Linear(1568, 128, weightInitializer: hidden, biasInitializer: hidden, generator: &g)
            ReLU()
            Dropout(rate: 0.25, seed: 1)
            Linear(128, 10, weightInitializer: last, biasInitializer: last, generator: &g)
        }
    }

    /// 784-512-128-64-10 with ReLU.
    static func model() -> Sequential<Float> {
        var generator = RandomGenerator(seed: 0)
        return Sequential<Float>(mlp: [784, 512, 128, 64, 10], activation: .relu, generator: &generator)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
