import AutoDiff
import Foundation
import Testing

@Suite("Integer tensors")
struct IndexTensorTests {
    @Test("values, shape, item, reshape, equality, copies between devices and arange")
    func basics() {
        let t = IndexTensor([3, -1, 4, 1, -5, 9], shape: [2, 3])
        #expect(t.shape == [2, 3] && t.rank == 2 && t.count == 6)
        #expect(t.scalars == [3, -1, 4, 1, -5, 9])
        #expect(t.reshaped([3, -1]).shape == [3, 2])
        #expect(t.reshaped([6]) == [3, -1, 4, 1, -5, 9])
        #expect(t != IndexTensor([3, -1, 4, 1, -5, 9]))  // same values, another shape
        #expect(IndexTensor([7], shape: []).item == 7)
        let moved = t.to(.reference)
        #expect(moved.device == .reference && moved == t && moved.to(.cpu).device == .cpu)
        #expect(IndexTensor.arange(to: 5) == [0, 1, 2, 3, 4])
        #expect(IndexTensor.arange(from: 7, to: -2, step: -3, on: .reference).scalars == [7, 4, 1])
        #expect(IndexTensor([], shape: [0, 3]).scalars.isEmpty)
        #expect(t.description == "IndexTensor(shape: [2, 3], [3, -1, 4, 1, -5, 9])")
    }

    @Test(
        "float → int64 truncates toward zero as PyTorch's .long(); int64 → float is exact for small integers",
        arguments: [Device.cpu, .reference])
    func conversions(_ device: Device) {
        let floats = Tensor<Float>([-2.5, -1, -0.75, 0, 0.75, 1.5, 2, 16_777_216], on: device)
        let indices = IndexTensor(converting: floats)
        #expect(indices.scalars == [-2, -1, 0, 0, 0, 1, 2, 16_777_216])
        #expect(indices.device == device)
        let back = Tensor<Double>(converting: IndexTensor([-3, 0, 1 << 52, 5], on: device))
        #expect(back.scalars == [-3, 0, 4_503_599_627_370_496, 5] && !back.requiresGrad)
        #expect(IndexTensor(labels: Tensor<Double>([2, 0, 1], on: device), op: "test").scalars == [2, 0, 1])
    }

    @Test(
        "argmax and argmin along an axis give the shape without it, first index on ties",
        arguments: [Device.cpu, .reference])
    func argExtrema(_ device: Device) {
        let x = Tensor<Float>(shape: [2, 2, 3], scalars: [1, 5, 5, 0, -1, 2, 3, 3, 3, 9, -2, 0], on: device)
        #expect(x.argmax(alongAxis: 2) == IndexTensor([1, 2, 0, 0], shape: [2, 2]))
        #expect(x.argmin(alongAxis: 1) == IndexTensor([1, 1, 1, 0, 1, 1], shape: [2, 3]))
        #expect(x.argmax(alongAxis: 0) == IndexTensor([1, 0, 0, 1, 0, 0], shape: [2, 3]))
        #expect(x.argmax(alongAxis: 2).device == device)
    }

    @Test("gather along an axis by an IndexTensor is take_along_dim; its gradient adds back at the indices")
    func gatherAlongAxis() {
        let x = Tensor<Double>(shape: [2, 3], scalars: [10, 11, 12, 20, 21, 22]).requiringGrad()
        let picks = IndexTensor([2, 2, 0, 1], shape: [2, 2])
        let y = x.gather(alongAxis: 1, indices: picks)
        #expect(y.shape == [2, 2] && y.scalars == [12, 12, 20, 21])
        y.sum().backward()
        #expect(x.grad!.scalars == [0, 0, 2, 1, 1, 0])
        let rows = x.detached().indexSelect(alongAxis: 0, indices: IndexTensor([1, 1, 0], shape: [3]))
        #expect(rows.scalars == [20, 21, 22, 20, 21, 22, 10, 11, 12])
    }

    @Test("oneHot of an IndexTensor has the labels' shape plus classes; equalMask compares integers")
    func oneHotAndMask() {
        let labels = IndexTensor([2, 0, 1, 2], shape: [2, 2], on: .reference)
        let rows = Tensor<Float>.oneHot(labels, classes: 3)
        #expect(rows.shape == [2, 2, 3] && rows.device == .reference)
        #expect(rows.scalars == [0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1])
        let logits = Tensor<Float>(shape: [3, 2], scalars: [0, 1, 5, 2, 3, 4])
        let correct = Tensor<Float>.equalMask(logits.argmax(alongAxis: 1), IndexTensor([1, 1, 1]))
        #expect(correct.scalars == [1, 0, 1])
        #expect(Tensor<Double>.equalMask(IndexTensor([1 << 53, 3]), IndexTensor([1 << 53, 4])).scalars == [1, 0])
    }

    @Test("the IndexTensor losses and lookups equal their [Int] forms, value and gradient")
    func sameAsArrays() {
        let logits = Tensor<Double>(shape: [3, 4], scalars: (0..<12).map { sin(Double($0)) * 3 })
        let labels = [3, 0, 2]
        func lossAndGradient(_ f: (Tensor<Double>) -> Tensor<Double>) -> [Double] {
            let z = logits.requiringGrad()
            let loss = f(z)
            loss.backward()
            return [loss.item] + z.grad!.scalars
        }
        #expect(
            lossAndGradient { Tensor.softmaxCrossEntropy(logits: $0, labels: IndexTensor(labels)) }
                == lossAndGradient { Tensor.softmaxCrossEntropy(logits: $0, labels: labels) })
        // With an ignore index the IndexTensor form is composed on the device, the [Int] form
        // picks the kept rows on the host: equal up to rounding.
        for (ignored, smoothing) in [(0, 0.0), (3, 0.25), (7, 0.1)] {
            let device = lossAndGradient {
                Tensor.softmaxCrossEntropy(
                    logits: $0, labels: IndexTensor(labels), ignoreIndex: ignored, labelSmoothing: smoothing)
            }
            let host = lossAndGradient {
                Tensor.softmaxCrossEntropy(logits: $0, labels: labels, ignoreIndex: ignored, labelSmoothing: smoothing)
            }
            #expect(
                zip(device, host).allSatisfy { abs($0 - $1) < 1e-12 }, "ignoreIndex \(ignored): \(device) vs \(host)")
        }
        let allIgnored = Tensor.softmaxCrossEntropy(logits: logits, labels: IndexTensor([5, 5, 5]), ignoreIndex: 5)
        #expect(allIgnored.item.isNaN)
        let table = Tensor<Double>(shape: [4, 2], scalars: [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(
            Tensor.embedding(indices: IndexTensor([3, 1, 3, 0], shape: [2, 2]), weight: table).scalars
                == Tensor.embedding(indices: [3, 1, 3, 0], indexShape: [2, 2], weight: table).scalars)
        // A padding row present in the indices gets no gradient; the others get theirs.
        let weight = table.requiringGrad()
        Tensor.embedding(indices: IndexTensor([3, 1, 3, 0], shape: [2, 2]), weight: weight, paddingIndex: 3).sum()
            .backward()
        #expect(weight.grad!.scalars == [1, 1, 1, 1, 0, 0, 0, 0])
    }

    @Test(
        "the fused losses write their value into the result's buffer on the inputs' device",
        arguments: [Device.cpu, .reference])
    func lossesOnDevice(_ device: Device) {
        let z = Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 0, 0, 0], on: device)
        let loss = Tensor.softmaxCrossEntropy(logits: z, labels: IndexTensor([2, 1], on: device))
        let firstRow: Double = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3
        let expected = (firstRow + log(3.0)) / 2
        #expect(loss.device == device && loss.shape == [] && abs(Double(loss.item) - expected) < 1e-6)
        let binary = Tensor.sigmoidCrossEntropy(logits: z, targets: Tensor<Float>.zeros([2, 3], on: device))
        let logitValues: [Double] = [1, 2, 3, 0, 0, 0]
        let softplus = logitValues.map { log(1 + exp($0)) }.reduce(0, +) / 6
        #expect(binary.device == device && abs(Double(binary.item) - softplus) < 1e-6)
    }
}

/// Misuse of integer tensors stops with one line naming the op, the value and its position;
/// the positions come from the kernels, which check indices as they read them.
enum IntegerMisuse: String, Codable, Sendable, CaseIterable {
    case shapeCount, gatherShape, gatherIndex, indexSelectIndex, embeddingIndex, crossEntropyLabel,
        crossEntropyPosition, crossEntropyIgnoring, oneHotLabel, notWholeLabel, mixedDevices, argmaxEmpty

    var expectedLine: String {
        switch self {
        case .shapeCount: "IndexTensor: shape [2, 2] holds 4 elements but 3 were given"
        case .gatherShape: "gather: indices of shape [2, 2, 1] do not match shape [2, 3] outside axis 1"
        case .gatherIndex: "gather: index 3 is out of range for axis 1 of size 3 (shape [2, 3])"
        case .indexSelectIndex: "indexSelect: index -2 is out of range for axis 0 of size 2 (shape [2, 3])"
        case .embeddingIndex: "embedding: index 9 at position 3 is out of range for 5 embeddings (weight [5, 2])"
        case .crossEntropyLabel: "softmaxCrossEntropy: label 3 is out of range for 3 classes"
        case .crossEntropyPosition: "softmaxCrossEntropy: label -1 at position 4 is out of range for 4 classes"
        case .crossEntropyIgnoring:
            "softmaxCrossEntropy: label 4 at position 2 is out of range for 4 classes (ignoreIndex -1)"
        case .oneHotLabel: "oneHot: label 4 at row 1 is outside 0..<4"
        case .notWholeLabel: "softmaxCrossEntropy: label 1.5 at position 2 is not a whole number"
        case .mixedDevices: "gather: indices on reference and a tensor on cpu; move one with .to(_:)"
        case .argmaxEmpty: "argmax: axis 1 of shape [2, 0] is empty"
        }
    }

    func trigger() {
        let x = Tensor<Float>.ones([2, 3])
        switch self {
        case .shapeCount: _ = IndexTensor([1, 2, 3], shape: [2, 2])
        case .gatherShape: _ = x.gather(alongAxis: 1, indices: IndexTensor([0, 1, 0, 1], shape: [2, 2, 1]))
        case .gatherIndex: _ = x.gather(alongAxis: 1, indices: IndexTensor([0, 1, 3, 2], shape: [2, 2]))
        case .indexSelectIndex: _ = x.indexSelect(alongAxis: 0, indices: IndexTensor([1, -2]))
        case .embeddingIndex:
            _ = Tensor.embedding(
                indices: IndexTensor([0, 4, 1, 9], shape: [2, 2]), weight: Tensor<Float>.ones([5, 2]))
        case .crossEntropyLabel: _ = Tensor.softmaxCrossEntropy(logits: x, labels: IndexTensor([0, 3]))
        case .crossEntropyPosition:
            _ = Tensor.softmaxCrossEntropy(
                logits: Tensor<Float>.ones([2, 3, 4]), labels: IndexTensor([0, 1, 2, 3, -1, 0], shape: [2, 3]),
                labelSmoothing: 0.1)
        case .crossEntropyIgnoring:
            _ = Tensor.softmaxCrossEntropy(
                logits: Tensor<Float>.ones([3, 4]), labels: IndexTensor([-1, 0, 4]), ignoreIndex: -1)
        case .oneHotLabel: _ = Tensor<Float>.oneHot(IndexTensor([0, 4]), classes: 4)
        case .notWholeLabel: _ = IndexTensor(labels: Tensor<Float>([0, 1, 1.5]), op: "softmaxCrossEntropy")
        case .mixedDevices: _ = x.gather(alongAxis: 1, indices: IndexTensor([0, 1], shape: [2, 1], on: .reference))
        case .argmaxEmpty: _ = Tensor<Float>.ones([2, 0]).argmax(alongAxis: 1)
        }
    }
}

@Suite("Integer tensors' error messages")
struct IntegerErrorTests {
    @Test("misuse stops with one line naming the op, the value and its position", arguments: IntegerMisuse.allCases)
    func message(_ misuse: IntegerMisuse) async throws {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [misuse] in
            misuse.trigger()
        }
        let stderr = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        #expect(stderr.contains(misuse.expectedLine), "stderr was: \(stderr.prefix(600))")
    }
}
