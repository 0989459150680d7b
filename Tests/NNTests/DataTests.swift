import AutoDiff
import Foundation
import Testing
@testable import NN

@Suite("Data")
struct DataTests {
    static func numbered(_ n: Int) -> Dataset<Float> {
        Dataset(
            features: Tensor(shape: [n, 2], scalars: (0..<(2 * n)).map(Float.init)),
            labels: Tensor((0..<n).map(Float.init)))
    }

    @Test("Minibatches cover every sample once and keep the last partial batch", arguments: [(10, 3), (10, 5), (7, 10), (1, 1)])
    func batches(count: Int, size: Int) {
        let data = Self.numbered(count)
        let batches = Array(data.batches(size: size))
        #expect(batches.count == (count + size - 1) / size)
        #expect(batches.map(\.count) == (0..<batches.count).map { min(size, count - $0 * size) })
        #expect(batches.flatMap { $0.labels.scalars } == (0..<count).map(Float.init))
        #expect(batches.flatMap { $0.features.scalars } == (0..<(2 * count)).map(Float.init))
    }

    @Test("Picking rows outside the data set stops with a message naming the index and the size")
    func rowOutOfRange() async throws {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = DataTests.numbered(4).rows([1, 4])
        }
        let stderr = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        #expect(stderr.contains("Dataset.rows: index 4 is outside 0..<4"), "stderr was: \(stderr.prefix(600))")
    }

    @Test("Shuffled batches are a seeded permutation; features stay with their labels")
    func shuffledBatches() {
        let data = Self.numbered(25)
        var g1 = RandomGenerator(seed: 3), g2 = RandomGenerator(seed: 3)
        let a = Array(data.batches(size: 4, shuffledBy: &g1)), b = Array(data.batches(size: 4, shuffledBy: &g2))
        let order = a.flatMap { $0.labels.scalars }
        #expect(order == b.flatMap { $0.labels.scalars })
        #expect(order.sorted() == (0..<25).map(Float.init))
        #expect(order != (0..<25).map(Float.init))
        #expect(a.last!.count == 1)
        for batch in a {
            let f = batch.features.scalars, l = batch.labels.scalars
            for (i, label) in l.enumerated() { #expect(f[2 * i] == 2 * label && f[2 * i + 1] == 2 * label + 1) }
        }
        // The next epoch draws a new order from the advanced generator.
        let next = Array(data.batches(size: 4, shuffledBy: &g1)).flatMap { $0.labels.scalars }
        #expect(next != order)
    }

    @Test("Train/validation split: sizes, disjoint, seeded")
    func split() {
        let data = Self.numbered(50)
        let (train, validation) = data.split(validationFraction: 0.2, seed: 9)
        #expect(train.count == 40 && validation.count == 10)
        #expect(Set(train.labels.scalars + validation.labels.scalars).count == 50)
        let again = data.split(validationFraction: 0.2, seed: 9)
        #expect(again.validation.labels.scalars == validation.labels.scalars)
        let ordered = data.split(validationFraction: 0.2)
        #expect(ordered.validation.labels.scalars == (40..<50).map(Float.init))
    }

    @Test("Binary accuracy thresholds probabilities (or logits at 0)")
    func binaryAccuracyValues() {
        let p = Tensor<Float>(shape: [4, 1], scalars: [0.9, 0.4, 0.6, 0.1]), y = Tensor<Float>([1, 1, 0, 0])
        #expect(binaryAccuracy(outputs: p, targets: y) == 0.5)
        let logits = Tensor<Float>([2, -1, 3, -4])
        #expect(binaryAccuracy(outputs: logits, targets: Tensor([1, 0, 1, 1]), threshold: 0) == 0.75)
    }

    @Test("Categorical accuracy and the confusion matrix")
    func multiclass() {
        let scores = Tensor<Float>(rows: [[3, 1, 0], [0, 2, 1], [0, 0, 5], [1, 4, 0], [2, 0, 1]])
        let labels = [0, 1, 1, 1, 2]
        #expect(categoricalAccuracy(scores: scores, labels: labels) == 0.6)
        #expect(categoricalAccuracy(scores: scores, labels: Tensor<Float>.oneHot(labels, classes: 3)) == 0.6)
        #expect(categoricalAccuracy(scores: scores, labels: Tensor<Float>(labels.map(Float.init))) == 0.6)
        let cm = ConfusionMatrix(scores: scores, labels: labels)
        #expect(cm.counts == [[1, 0, 0], [0, 2, 1], [1, 0, 0]])
        #expect(cm.accuracy == 0.6)
        #expect(cm.recall == [1, 2.0 / 3, 0])
        #expect(cm.precision[1] == 1)
        #expect(cm.total == 5)
    }

    @Test("makeMoons without noise: points on the two half circles, n_out = ⌊n/2⌋", arguments: [100, 101])
    func moonsGeometry(samples: Int) {
        let data = makeMoons(samples: samples, noise: 0, seed: 1, as: Double.self)
        #expect(data.features.shape == [samples, 2])
        let f = data.features.scalars, y = data.labels.scalars
        #expect(y.filter { $0 == 0 }.count == samples / 2)
        #expect(y.filter { $0 == 1 }.count == samples - samples / 2)
        for i in 0..<samples {
            let (a, b) = (f[2 * i], f[2 * i + 1])
            if y[i] == 0 {
                #expect(abs(a * a + b * b - 1) < 1e-12 && b >= -1e-12)
            } else {
                #expect(abs((1 - a) * (1 - a) + (0.5 - b) * (0.5 - b) - 1) < 1e-12 && b <= 0.5 + 1e-12)
            }
        }
        // Shuffled: the labels are not in blocks.
        #expect(y != y.sorted())
        // Endpoints of the linspace are present: (1, 0), (−1, 0) outer; (0, 0.5), (2, 0.5) inner.
        let points = Set((0..<samples).map { "\((f[2 * $0] * 1e9).rounded()),\((f[2 * $0 + 1] * 1e9).rounded())" })
        #expect(points.contains("1000000000.0,0.0") && points.contains("-1000000000.0,0.0"))
        #expect(points.contains("0.0,500000000.0") && points.contains("2000000000.0,500000000.0"))
    }

    @Test("makeMoons noise has the requested standard deviation and is seeded")
    func moonsNoise() {
        let clean = makeMoons(samples: 2000, noise: 0, seed: 4, as: Double.self)
        let noisy = makeMoons(samples: 2000, noise: 0.2, seed: 4, as: Double.self)
        let d = zip(noisy.features.scalars, clean.features.scalars).map { $0 - $1 }
        let sd = (d.map { $0 * $0 }.reduce(0, +) / Double(d.count)).squareRoot()
        #expect(abs(sd - 0.2) < 0.01)
        #expect(noisy.labels.scalars == clean.labels.scalars)
        #expect(makeMoons(samples: 50, noise: 0.2, seed: 4).features.scalars == makeMoons(samples: 50, noise: 0.2, seed: 4).features.scalars)
    }

    @Test("spiralData follows nnfs spiral_data: radius linspace(0, 1), labels in class blocks")
    func spiral() {
        let data = spiralData(samples: 100, classes: 3, seed: 0, as: Double.self)
        #expect(data.features.shape == [300, 2])
        #expect(data.labels.scalars == (0..<300).map { Double($0 / 100) })
        let f = data.features.scalars
        for c in 0..<3 {
            for i in 0..<100 {
                let k = c * 100 + i
                let r = (f[2 * k] * f[2 * k] + f[2 * k + 1] * f[2 * k + 1]).squareRoot()
                #expect(abs(r - Double(i) / 99) < 1e-12)
            }
        }
        // Without its noise the angle would be t = 4c + 4i/99: check it is within 5σ (σ = 0.2).
        for c in 0..<3 {
            for i in [10, 50, 99] {
                let k = c * 100 + i
                let theta = atan2(f[2 * k], f[2 * k + 1]) / 2.5  // x = r·sin(2.5t), y = r·cos(2.5t)
                let t0 = Double(4 * c) + 4 * Double(i) / 99
                let wraps = (0..<12).map { abs(theta + Double($0 - 6) * 2 * .pi / 2.5 - t0) }
                #expect(wraps.min()! < 1.0)
            }
        }
    }
}
