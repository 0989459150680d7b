import AutoDiff
import Foundation
import Testing
@testable import NN

/// The classic tutorials' results, reproduced with every gradient from the tape.
@Suite("Tutorial reproductions")
struct TutorialTests {
    @Test("3-2-1 sigmoid network learns \"first AND last\" of 3 bits")
    func firstAndLast() {
        var g = RandomGenerator(seed: 1)
        let model = Sequential<Float>(mlp: [3, 2, 1], activation: .sigmoid, output: .sigmoid, generator: &g)
        let x = Tensor<Float>(rows: [[1, 0, 1], [0, 0, 0], [1, 1, 0], [1, 0, 0], [0, 0, 1]])
        let y = Tensor<Float>(shape: [5, 1], scalars: [1, 0, 0, 0, 0])
        let optimizer = SGD(for: model, learningRate: 2, momentum: 0.9)
        for _ in 0..<TutorialRuns.andEpochs {
            optimizer.zeroGrad()
            binaryCrossEntropy(probabilities: model(x), targets: y).backward()
            optimizer.step()
        }
        let train = withoutGrad { model(x) }.scalars.map { $0.rounded() }
        #expect(train == [1, 0, 0, 0, 0])
        let unseen = withoutGrad { model(Tensor<Float>(rows: [[0, 1, 1], [1, 1, 1], [0, 1, 0]])) }.scalars
        // Measured: [1.1e-5, 0.913, 7.7e-6].
        #expect(unseen.map { $0.rounded() } == [0, 1, 0], "\(unseen)")
    }

    @Test("make_moons(1000, noise 0.2), 2-8-8-1 ReLU/sigmoid: accuracy ≥ 0.95 within 300 full-batch epochs")
    func moons() {
        let result = TutorialRuns.moons(epochs: 300)
        // Measured: 0.971 on the 800 training points, 0.955 on the 200 held out.
        #expect(result.train >= 0.95, "train accuracy \(result.train)")
        #expect(result.validation >= 0.93, "validation accuracy \(result.validation)")
    }

    @Test("Spiral, 3 classes, 2-64-3, L2 5e-4, dropout 0.1, Adam(0.05, decay 5e-5): a short run's validation accuracy")
    func spiral() {
        let result = TutorialRuns.spiral(samplesPerClass: 300, epochs: 400)
        // Measured: validation 0.707 after 400 full-batch epochs on 300 samples per class (seed 10).
        // The bound leaves margin for a different order of floating-point sums in another BLAS.
        #expect(result.validation >= TutorialRuns.spiralShortBound, "validation accuracy \(result.validation), train \(result.train)")
    }

    @Test("Spiral, the book's full run: 10,000 epochs on 1,000 samples per class (set NN_FULL_SPIRAL=1; run in release)",
          .enabled(if: ProcessInfo.processInfo.environment["NN_FULL_SPIRAL"] != nil, "the full 10,000-epoch spiral run is opt-in (NN_FULL_SPIRAL=1)"))
    func spiralFull() {
        let seed = ProcessInfo.processInfo.environment["NN_SPIRAL_SEED"].flatMap(UInt64.init) ?? 10
        let result = TutorialRuns.spiral(samplesPerClass: 1000, epochs: 10_000, seed: seed)
        // Measured in release (about 45 s): validation 0.747 with the default seed 10; over seeds
        // 20, 40, 50, 60: 0.677, 0.750, 0.690, 0.743 (300 validation points: ±0.025 from
        // sampling alone). The book reports about 0.75 for this setup on its own data; the book's
        // loop rewritten in NumPy (float32, np.random seeds 0, 1, 2) gave 0.763, 0.710, 0.710.
        // The opt-in measurement run also reports its numbers on standard error.
        FileHandle.standardError.write("full spiral run, seed \(seed): validation \(result.validation), train \(result.train)\n".data(using: .utf8)!)
        #expect(result.validation >= 0.65, "validation accuracy \(result.validation), train \(result.train) (seed \(seed))")
        #expect(result.validation <= 0.85, "validation accuracy \(result.validation), train \(result.train) (seed \(seed))")
    }
}

enum TutorialRuns {
    static let andEpochs = 1000
    static let spiralShortBound = 0.65

    /// Full-batch Adam on make_moons, 800 train / 200 validation.
    static func moons(epochs: Int) -> (train: Double, validation: Double) {
        let (train, validation) = makeMoons(samples: 1000, noise: 0.2, seed: 0).split(validationFraction: 0.2, seed: 1)
        var g = RandomGenerator(seed: 2)
        let model = Sequential<Float>(mlp: [2, 8, 8, 1], activation: .relu, output: .sigmoid, weightInitializer: .heUniform, generator: &g)
        let optimizer = Adam(for: model, learningRate: 0.05)
        let targets = train.labels.reshaped([-1, 1])
        for _ in 0..<epochs {
            optimizer.zeroGrad()
            binaryCrossEntropy(probabilities: model(train.features), targets: targets).backward()
            optimizer.step()
        }
        return withoutGrad {
            (binaryAccuracy(outputs: model(train.features), targets: train.labels),
             binaryAccuracy(outputs: model(validation.features), targets: validation.labels))
        }
    }

    /// The book's chapter 15 setup with 64 hidden units: train on spiral_data(n, 3), validate on
    /// a separate spiral_data(100, 3).
    static func spiral(samplesPerClass: Int, epochs: Int, seed: UInt64 = 10) -> (train: Double, validation: Double) {
        let train = spiralData(samples: samplesPerClass, classes: 3, seed: seed)
        let validation = spiralData(samples: 100, classes: 3, seed: seed + 1)
        var g = RandomGenerator(seed: seed + 2)
        let model = Sequential<Float> {
            Linear(2, 64, weightInitializer: .tutorialNormal, weightL2: 5e-4, biasL2: 5e-4, generator: &g)
            ReLU()
            Dropout(rate: 0.1, seed: seed + 3)
            Linear(64, 3, weightInitializer: .tutorialNormal, generator: &g)
        }
        let optimizer = Adam(for: model, learningRate: 0.05, epsilon: 1e-7, schedule: .inverseTimeDecay(5e-5))
        let labels = classIndices(train.labels)
        for _ in 0..<epochs {
            optimizer.zeroGrad()
            let dataLoss = softmaxCrossEntropy(logits: model(train.features), labels: labels)
            (dataLoss + model.regularizationLoss()).backward()
            optimizer.step()
        }
        model.eval()
        return withoutGrad {
            (categoricalAccuracy(scores: model(train.features), labels: train.labels),
             categoricalAccuracy(scores: model(validation.features), labels: validation.labels))
        }
    }
}
