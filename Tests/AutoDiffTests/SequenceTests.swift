import AutoDiff
import Foundation
import Testing

/// The sequence-model ops' values, and cross-entropy against PyTorch's numbers
/// (`scripts/fixtures/sequence_values.py` prints them), on both devices.
@Suite("Sequence ops: embedding, masks, split, cross-entropy")
struct SequenceTests {
    static let devices: [Device] = [.cpu, .reference]

    /// Relative closeness, element by element (the convolution suite's comparison).
    func expectClose(_ a: [Double], _ b: [Double], _ what: String) {
        ConvolutionValueTests().expectClose(a, b, what)
    }

    @Test("embedding looks up rows, adds repeated indices' gradients, and skips the padding row", arguments: devices)
    func embedding(device: Device) {
        let weight = Tensor<Double>(shape: [4, 2], scalars: (0..<8).map(Double.init), on: device).requiringGrad()
        let y = Tensor.embedding(indices: [3, 1, 3, 0, 1, 1], indexShape: [2, 3], weight: weight, paddingIndex: 1)
        #expect(y.shape == [2, 3, 2])
        #expect(y.scalars == [6, 7, 2, 3, 6, 7, 0, 1, 2, 3, 2, 3])
        let upstream = Tensor<Double>(shape: [2, 3, 2], scalars: (0..<12).map { Double($0 + 1) }, on: device)
        (y * upstream).sum().backward()
        // Row 3 gets positions 0 and 2, row 0 position 3; row 1 (padding) nothing; row 2 unused.
        #expect(weight.grad!.scalars == [7, 8, 0, 0, 0, 0, 1 + 5, 2 + 6])
    }

    @Test("maskedFill broadcasts its mask and passes exactly zero gradient where it filled")
    func maskedFill() {
        let x = Tensor<Double>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]).requiringGrad()
        let y = x.maskedFill(mask: Tensor<Double>([1, 0, 1]), value: -1)
        #expect(y.scalars == [-1, 2, -1, -1, 5, -1])
        // An upstream gradient of NaN at the filled positions still gives 0 there.
        let upstream = Tensor<Double>(shape: [2, 3], scalars: [.nan, 1, .nan, .nan, 2, .nan])
        y.backward(seed: upstream)
        #expect(x.grad!.scalars == [0, 1, 0, 0, 2, 0])
    }

    @Test("tril and triu keep PyTorch's triangles for several diagonals")
    func triangles() {
        let x = Tensor<Double>(shape: [3, 4], scalars: (1...12).map(Double.init))
        #expect(x.tril().scalars == [1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0])
        #expect(x.tril(diagonal: 1).scalars == [1, 2, 0, 0, 5, 6, 7, 0, 9, 10, 11, 12])
        #expect(x.tril(diagonal: -1).scalars == [0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0])
        #expect(x.triu().scalars == [1, 2, 3, 4, 0, 6, 7, 8, 0, 0, 11, 12])
        #expect(x.triu(diagonal: 2).scalars == [0, 0, 3, 4, 0, 0, 0, 8, 0, 0, 0, 0])
        #expect(x.triu(diagonal: -1).scalars == [1, 2, 3, 4, 5, 6, 7, 8, 0, 10, 11, 12])
        let batched = Tensor<Double>.ones([2, 2, 2]).tril()
        #expect(batched.scalars == [1, 0, 1, 1, 1, 0, 1, 1])
        #expect(Tensor<Double>.causalMask(size: 2).scalars == [0, -.infinity, 0, 0])
    }

    @Test("a fully masked softmax row gives zeros, and the other rows' gradients stay finite", arguments: devices)
    func fullyMaskedSoftmax(device: Device) {
        let x = Tensor<Double>(shape: [2, 3], scalars: [0.5, -1, 2, 1, 0, -1], on: device).requiringGrad()
        let masked = x.maskedFill(mask: Tensor<Double>(shape: [2, 1], scalars: [1, 0], on: device), value: -.infinity)
        let p = masked.softmax(alongAxis: 1)
        let values = p.scalars
        #expect(Array(values[0..<3]) == [0, 0, 0])
        let e = [1.0, 0, -1].map { Foundation.exp($0) }
        expectClose(Array(values[3...]), e.map { $0 / e.reduce(0, +) }, "softmax of the unmasked row")
        (p * Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6], on: device)).sum().backward()
        let grad = x.grad!.scalars
        #expect(grad.allSatisfy { $0.isFinite }, "\(grad)")
        #expect(Array(grad[0..<3]) == [0, 0, 0])
    }

    @Test("split and chunk cut PyTorch's pieces and put gradients back in place")
    func splitAndChunk() {
        let x = Tensor<Double>(shape: [2, 5], scalars: (0..<10).map(Double.init)).requiringGrad()
        let pieces = x.split(sizes: [2, 0, 3], alongAxis: 1)
        #expect(pieces.map(\.shape) == [[2, 2], [2, 0], [2, 3]])
        #expect(pieces[2].scalars == [2, 3, 4, 7, 8, 9])
        let chunks = x.chunk(2, alongAxis: -1)
        #expect(chunks.map(\.shape) == [[2, 3], [2, 2]])
        #expect(x.chunk(4, alongAxis: 0).map(\.shape) == [[1, 5], [1, 5]])
        #expect(Tensor<Double>.ones([6]).chunk(4).map(\.shape) == [[2], [2], [2]])
        (chunks[1] * 3).sum().backward()
        #expect(x.grad!.scalars == [0, 0, 0, 3, 3, 0, 0, 0, 3, 3])
    }

    /// Logits `[2, 3, 4]` with element k = 2·sin(0.7·k + 0.3), as the fixture script builds them.
    static func fixtureLogits(on device: Device) -> Tensor<Double> {
        Tensor(shape: [2, 3, 4], scalars: (0..<24).map { 2 * Foundation.sin(0.7 * Double($0) + 0.3) }, on: device)
            .requiringGrad()
    }

    struct CrossEntropyCase: Sendable, CustomTestStringConvertible {
        let name: String
        let labels: [Int]
        let ignoreIndex: Int?
        let labelSmoothing: Double
        let loss: Double
        let gradient: [Double]
        var testDescription: String { name }
    }

    /// `scripts/fixtures/sequence_values.py`'s output.
    static let crossEntropyCases: [CrossEntropyCase] = [
        CrossEntropyCase(
            name: "plain, nothing ignored", labels: [1, 3, 0, 0, 2, 2], ignoreIndex: nil, labelSmoothing: 0,
            loss: 1.8725993639197622,
            gradient: [
                0.01643328287875668, -0.11769654851677677, 0.06612837507448305, 0.03513489056353704,
                0.10696444077268646, 0.028951422615663, 0.0139332056898391, -0.14984906907818857,
                -0.16142391776038217, 0.02064931233535966, 0.06067140696438959, 0.08010319846063291,
                -0.046973613599651, 0.03339956798851522, 0.009105246781179441, 0.004468798829956313,
                0.0035450904474518567, 0.009974276797587736, -0.12735910530606442, 0.11383973806102482,
                0.0986094113234467, 0.05030972801698709, -0.15274356925159296, 0.0038244299111591723,
            ]),
        CrossEntropyCase(
            name: "ignoreIndex -100", labels: [1, 3, -100, 0, -100, 2], ignoreIndex: -100, labelSmoothing: 0,
            loss: 1.5829668566565684,
            gradient: [
                0.02464992431813502, -0.17654482277516514, 0.09919256261172459, 0.05270233584530556,
                0.1604466611590297, 0.0434271339234945, 0.02089980853475865, -0.22477360361728288, 0, 0, 0, 0,
                -0.0704604203994765, 0.05009935198277283, 0.013657870171769164, 0.006703198244934471, 0, 0, 0, 0,
                0.14791411698517004, 0.07546459202548064, -0.22911535387738946, 0.005736644866738759,
            ]),
        CrossEntropyCase(
            name: "ignoreIndex -100, labelSmoothing 0.1", labels: [1, 3, -100, 0, -100, 2], ignoreIndex: -100,
            labelSmoothing: 0.1, loss: 1.6086454030165607,
            gradient: [
                0.018399924318135016, -0.15779482277516516, 0.09294256261172458, 0.04645233584530556,
                0.1541966611590297, 0.037177133923494504, 0.014649808534758649, -0.2060236036172829, 0, 0, 0, 0,
                -0.051710420399476514, 0.04384935198277283, 0.0074078701717691636, 0.0004531982449344704, 0, 0, 0,
                0, 0.14166411698517004, 0.06921459202548064, -0.21036535387738947, -0.0005133551332612415,
            ]),
        CrossEntropyCase(
            name: "labelSmoothing 0.25", labels: [1, 3, 0, 0, 2, 2], ignoreIndex: nil, labelSmoothing: 0.25,
            loss: 1.8754797898161206,
            gradient: [
                0.006016616212090009, -0.08644654851677677, 0.05571170840781638, 0.024718223896870364,
                0.09654777410601979, 0.018534755948996333, 0.0035165390231724327, -0.11859906907818857,
                -0.13017391776038217, 0.010232645668692988, 0.050254740297722915, 0.06968653179396624,
                -0.01572361359965102, 0.022982901321848544, -0.0013114198854872255, -0.005947867836710353,
                -0.006871576219214809, -0.0004423898690789305, -0.09610910530606441, 0.10342307139435815,
                0.08819274465678002, 0.039893061350320426, -0.12149356925159298, -0.006592236755507494,
            ]),
    ]

    @Test("cross-entropy over [batch, time, classes] matches PyTorch's F.cross_entropy", arguments: crossEntropyCases)
    func crossEntropy(_ c: CrossEntropyCase) {
        for device in Self.devices {
            let z = Self.fixtureLogits(on: device)
            let loss = Tensor.softmaxCrossEntropy(
                logits: z, labels: c.labels, ignoreIndex: c.ignoreIndex, labelSmoothing: c.labelSmoothing)
            expectClose([loss.item], [c.loss], "\(c.name) loss on \(device)")
            loss.backward()
            expectClose(z.grad!.scalars, c.gradient, "\(c.name) gradient on \(device)")
        }
    }

    @Test("cross-entropy with every position ignored is NaN, as PyTorch's")
    func allIgnored() {
        let loss = Tensor.softmaxCrossEntropy(
            logits: Tensor<Double>.ones([1, 2, 3]), labels: [-1, -1], ignoreIndex: -1)
        #expect(loss.item.isNaN)
    }
}

/// Misuse of the sequence ops stops with one line naming the op and what is wrong (run in a
/// child process, as `ErrorTests` does).
enum SequenceMisuse: String, Codable, Sendable, CaseIterable {
    case embeddingIndex, embeddingIndexShape, embeddingPadding, embeddingWeightRank, maskShape, triangleRank
    case splitSizes, chunkCount, crossEntropyLabel, crossEntropyShape, labelSmoothing

    var expectedLine: String {
        switch self {
        case .embeddingIndex: "embedding: index 5 at position 2 is out of range for 5 embeddings (weight [5, 3])"
        case .embeddingIndexShape: "embedding: index shape [2, 2] does not hold the 3 indices given"
        case .embeddingPadding: "embedding: paddingIndex 7 is out of range for 5 embeddings"
        case .embeddingWeightRank: "embedding: weight must be [numEmbeddings, embeddingDim], got shape [5]"
        case .maskShape: "maskedFill: mask of shape [3] does not broadcast to the tensor's shape [2, 4]"
        case .triangleRank: "tril: needs rank ≥ 2 (a matrix in the last two axes), got shape [4]"
        case .splitSizes: "split: sizes [2, 3] do not add up to 4, the length of axis 1 of shape [2, 4]"
        case .chunkCount: "chunk: the number of chunks must be positive, got 0"
        case .crossEntropyLabel:
            "softmaxCrossEntropy: label 4 at position 1 is out of range for 4 classes (ignoreIndex -100)"
        case .crossEntropyShape:
            "softmaxCrossEntropy: expected logits [..., classes] with 5 positions for the 5 labels, got shape [2, 3, 4]"
        case .labelSmoothing: "softmaxCrossEntropy: labelSmoothing 1.5 is outside [0, 1]"
        }
    }

    func trigger() {
        let table = Tensor<Float>.ones([5, 3])
        let logits = Tensor<Float>.ones([2, 3, 4])
        switch self {
        case .embeddingIndex: _ = Tensor.embedding(indices: [0, 1, 5], indexShape: [3], weight: table)
        case .embeddingIndexShape: _ = Tensor.embedding(indices: [0, 1, 2], indexShape: [2, 2], weight: table)
        case .embeddingPadding: _ = Tensor.embedding(indices: [0], indexShape: [1], weight: table, paddingIndex: 7)
        case .embeddingWeightRank: _ = Tensor.embedding(indices: [0], indexShape: [1], weight: Tensor<Float>.ones([5]))
        case .maskShape: _ = Tensor<Float>.ones([2, 4]).maskedFill(mask: .ones([3]), value: 0)
        case .triangleRank: _ = Tensor<Float>.ones([4]).tril()
        case .splitSizes: _ = Tensor<Float>.ones([2, 4]).split(sizes: [2, 3], alongAxis: 1)
        case .chunkCount: _ = Tensor<Float>.ones([2, 4]).chunk(0)
        case .crossEntropyLabel:
            _ = Tensor.softmaxCrossEntropy(logits: logits, labels: [0, 4, -100, 1, 2, 3], ignoreIndex: -100)
        case .crossEntropyShape:
            _ = Tensor.softmaxCrossEntropy(logits: logits, labels: [0, 1, 2, 3, 0], ignoreIndex: nil)
        case .labelSmoothing:
            _ = Tensor.softmaxCrossEntropy(
                logits: logits, labels: [0, 1, 2, 3, 0, 1], ignoreIndex: nil, labelSmoothing: 1.5)
        }
    }
}

@Suite("Sequence ops' error messages")
struct SequenceErrorTests {
    @Test("misuse stops with a message naming the op and what is wrong", arguments: SequenceMisuse.allCases)
    func message(_ misuse: SequenceMisuse) async throws {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [misuse] in
            misuse.trigger()
        }
        let stderr = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        #expect(stderr.contains(misuse.expectedLine), "stderr was: \(stderr.prefix(600))")
    }
}
