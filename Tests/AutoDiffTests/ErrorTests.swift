import AutoDiff
import Foundation
import Testing

/// Misuse stops the program with one line naming the op and the shapes. Each case runs in a
/// child process (an exit test) and its standard error is checked.
enum Misuse: String, Codable, Sendable, CaseIterable {
    case matmulInner, broadcast, badAxis, reshapeCount, backwardNonScalar, backwardTwice
    case noGradient, gradientsOfConstant, sliceOutOfRange
    case gatherIndex, indexSelectIndex, concatShapes, scalarsCount, linearShapes, bernoulliProbability, inPlaceShape,
        clampBounds,
        lossShapes, lossLabel, lossLabelCount, dropoutRate, uninitializedShape, mixedDevices, hookWithoutGradient,
        hookShape, retainGradConstant, updateShapes, copyElementsShape, replayedLabel

    /// Every one of these must appear in the message.
    var expected: [String] {
        switch self {
        default: [expectedLine]
        }
    }

    var expectedLine: String {
        switch self {
        case .matmulInner: "matmul: [3, 4] × [5, 2]: inner dimensions 4 and 5 differ"
        case .broadcast: "add: shapes [3, 4] and [5] cannot broadcast: dimension 1 is 4 vs 5"
        case .badAxis: "sum: axis 3 is out of range for a tensor of rank 2"
        case .reshapeCount: "reshape: cannot reshape [2, 3] (6 elements) to [4, 2]"
        case .backwardNonScalar:
            "backward: the output has shape [2, 2], not a scalar: pass a seed gradient of that shape"
        case .backwardTwice:
            "backward: the graph through 'sum' was already released by an earlier backward; pass retainGraph: true"
        case .noGradient: "backward: the tensor does not require gradients"
        case .gradientsOfConstant: "gradients(of:wrt:): input 1 (shape [2]) does not require gradients"
        case .sliceOutOfRange: "slice: range 1..<5 is out of bounds for axis 0 of shape [3, 2]"
        case .gatherIndex: "gather: index 7 is out of range for axis 1 of size 3 (shape [2, 3])"
        case .indexSelectIndex: "indexSelect: index -1 is out of range for axis 0 of size 2 (shape [2, 3])"
        case .concatShapes: "concat: shapes [[2, 3], [2, 4]] differ outside axis 0"
        case .scalarsCount: "Tensor(shape:scalars:): shape [2, 2] holds 4 elements but 3 were given"
        case .linearShapes: "linear: [5, 3] × [4, 2]: inner dimensions 3 and 4 differ"
        case .bernoulliProbability: "randomBernoulli: probability 1.5 is outside [0, 1]"
        case .inPlaceShape: "-=: the result has shape [2, 3] but the parameter being updated has shape [3]"
        case .clampBounds: "clamp: min 1.0 is greater than max 0.0"
        case .lossShapes: "sigmoidCrossEntropy: logits [2, 3] and targets [3, 2] differ in shape"
        case .lossLabel: "softmaxCrossEntropy: label 3 is out of range for 3 classes"
        case .lossLabelCount: "softmaxCrossEntropy: expected logits [N, classes] with N = 3 labels, got shape [2, 3]"
        case .dropoutRate: "dropout: rate 1.0 is outside [0, 1)"
        case .uninitializedShape:
            "Tensor(shape:unsafeUninitializedScalarsWith:): shape [2, -1] has a negative dimension"
        case .mixedDevices: "add: tensors on different devices (cpu and reference); move one with .to(_:)"
        case .hookWithoutGradient: "registerHook: the tensor does not require gradients, so no gradient reaches it"
        case .hookShape: "gradient hook: returned a gradient of shape [2] for a tensor of shape [3]"
        case .retainGradConstant: "retainGrad: the tensor does not require gradients, so no gradient reaches it"
        case .updateShapes: "update: weights [2], gradient [3] and state [[2]] must have one shape"
        case .copyElementsShape: "copyElements: the source has shape [3] but the tensor has shape [2]"
        case .replayedLabel:
            "softmaxCrossEntropy in a replayed captured step: the index or label at position 1 is out of range"
        }
    }

    func trigger() {
        let m = Tensor<Float>.ones([3, 4])
        switch self {
        case .matmulInner: _ = m.matmul(Tensor<Float>.ones([5, 2]))
        case .broadcast: _ = m + Tensor<Float>.ones([5])
        case .badAxis: _ = Tensor<Float>.ones([2, 2]).sum(alongAxes: [3])
        case .reshapeCount: _ = Tensor<Float>.ones([2, 3]).reshaped([4, 2])
        case .backwardNonScalar: (Tensor<Float>.ones([2, 2]).requiringGrad() * 2).backward()
        case .backwardTwice:
            let x = Tensor<Float>([1, 2]).requiringGrad()
            let y = (x * x).sum()
            y.backward()
            y.backward()
        case .noGradient: (m * 2).sum().backward()
        case .gradientsOfConstant:
            let x = Tensor<Float>([1, 2]).requiringGrad()
            _ = gradients(of: x.sum(), wrt: [x, Tensor<Float>([1, 2])])
        case .sliceOutOfRange: _ = Tensor<Float>.ones([3, 2]).slice([1..<5])
        case .gatherIndex: _ = Tensor<Float>.ones([2, 3]).gather(alongAxis: 1, indices: [0, 7])
        case .indexSelectIndex: _ = Tensor<Float>.ones([2, 3]).indexSelect(alongAxis: 0, indices: [1, -1])
        case .concatShapes: _ = Tensor.concat([Tensor<Float>.ones([2, 3]), Tensor<Float>.ones([2, 4])])
        case .scalarsCount: _ = Tensor<Float>(shape: [2, 2], scalars: [1, 2, 3])
        case .linearShapes:
            _ = Tensor.linear(
                Tensor<Float>.ones([5, 3]), weight: Tensor<Float>.ones([4, 2]), bias: Tensor<Float>.ones([2]))
        case .bernoulliProbability:
            var g = RandomGenerator(seed: 1)
            _ = Tensor<Float>.randomBernoulli([2], probability: 1.5, generator: &g)
        case .inPlaceShape:
            var w = Tensor<Float>.ones([3]).requiringGrad()
            withoutGrad { w -= Tensor<Float>.ones([2, 3]) }
        case .clampBounds: _ = Tensor<Float>([1]).clamped(min: 1, max: 0)
        case .lossShapes: _ = Tensor.sigmoidCrossEntropy(logits: Tensor<Float>.ones([2, 3]), targets: .ones([3, 2]))
        case .lossLabel: _ = Tensor.softmaxCrossEntropy(logits: Tensor<Float>.ones([2, 3]), labels: [0, 3])
        case .lossLabelCount: _ = Tensor.softmaxCrossEntropy(logits: Tensor<Float>.ones([2, 3]), labels: [0, 1, 2])
        case .dropoutRate:
            var g = RandomGenerator(seed: 1)
            _ = Tensor<Float>.ones([2]).dropout(rate: 1, generator: &g)
        case .uninitializedShape: _ = Tensor<Float>(shape: [2, -1]) { _ in }
        case .mixedDevices: _ = Tensor<Float>([1, 2]) + Tensor<Float>([3, 4], on: .reference)
        case .hookWithoutGradient: Tensor<Float>([1, 2]).registerHook { _ in nil }
        case .hookShape:
            let x = Tensor<Float>([1, 2, 3]).requiringGrad()
            x.registerHook { _ in Tensor<Float>([1, 2]) }
            x.sum().backward()
        case .retainGradConstant: Tensor<Float>([1, 2]).retainGrad()
        case .updateShapes:
            var w = Tensor<Float>([1, 2])
            var state = [Tensor<Float>.zeros([2])]
            w.update(.sgd(lr: 0.1, decay: 1, momentum: 0.9, nesterov: false), gradient: .ones([3]), state: &state)
        case .copyElementsShape:
            var w = Tensor<Float>([1, 2])
            w.copyElements(from: Tensor<Float>([1, 2, 3]))
        case .replayedLabel:
            // Three calls build the plan; the fourth replays it with a label out of range, which
            // the replayed loss kernel reports.
            let step = CapturedStep { (z: Tensor<Float>, y: IndexTensor) -> Tensor<Float> in
                Tensor.softmaxCrossEntropy(logits: z, labels: y)
            }
            for labels in [[0, 1], [1, 2], [2, 0], [0, 4]] {
                _ = step(m.slice([0..<2]) * 1, IndexTensor(labels, shape: [2]))
            }
        }
    }
}

@Suite("Error messages")
struct ErrorTests {
    @Test("misuse stops with a message naming the op and the shapes", arguments: Misuse.allCases)
    func message(_ misuse: Misuse) async throws {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [misuse] in
            misuse.trigger()
        }
        let stderr = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        for part in misuse.expected {
            #expect(stderr.contains(part), "stderr was: \(stderr.prefix(600))")
        }
    }

    @Test("without anomaly mode, NaN flows through silently")
    func anomalyModeIsOptIn() {
        let x = Tensor<Float>([1, -1]).requiringGrad()
        let y = x.log().sum()
        #expect(y.item.isNaN)
        #expect(!GradMode.isAnomalyDetectionEnabled)
    }
}

/// Anomaly mode reports the first op that produced NaN or infinity as an error thrown from the
/// scope, naming the op, the pass, the element, the shape and the caller's line.
@Suite("Anomaly detection")
struct AnomalyTests {
    @Test("a forward -inf names the op, the element and this file's line")
    func forwardInfinity() {
        var completed = false
        do {
            try withAnomalyDetection {
                let x = Tensor<Float>([0.5, 0, 2]).requiringGrad()
                let y = x.log()  // -inf at element 1
                _ = (y * 2).sum()  // later ops see the same -inf: only the first is reported
                completed = true
            }
            Issue.record("no anomaly was thrown")
        } catch let anomaly as Anomaly {
            #expect(anomaly.op == .log && anomaly.direction == .forward)
            #expect(anomaly.element == 1 && anomaly.value == -.infinity && anomaly.shape == [3])
            #expect(anomaly.callSite?.contains("ErrorTests.swift:") == true, "\(anomaly)")
            #expect(
                anomaly.description.hasPrefix(
                    "anomaly: log produced -inf in its forward pass (element 1 of shape [3]), called at "))
        } catch {
            Issue.record("unexpected error \(error)")
        }
        #expect(completed)
    }

    @Test("a backward inf names the op whose rule produced it")
    func backwardInfinity() throws {
        #expect(throws: Anomaly.self) {
            try withAnomalyDetection {
                let x = Tensor<Double>([0, 1]).requiringGrad()
                x.sqrt().sum().backward()
            }
        }
        do {
            try withAnomalyDetection {
                let x = Tensor<Double>([0, 1]).requiringGrad()
                x.sqrt().sum().backward()
            }
        } catch let anomaly as Anomaly {
            #expect(anomaly.op == .sqrt && anomaly.direction == .backward)
            #expect(anomaly.element == 0 && anomaly.value == .infinity && anomaly.shape == [2])
            #expect(anomaly.callSite?.contains("ErrorTests.swift:") == true, "\(anomaly)")
        }
    }

    struct Failure: Error, Equatable {}

    @Test("finite runs return their result; the body's own errors pass through; scopes nest")
    func scopes() throws {
        let value = try withAnomalyDetection { (Tensor<Float>([1, 2]).requiringGrad() * 2).sum().item }
        #expect(value == 6)
        #expect(throws: Failure.self) { try withAnomalyDetection { throw Failure() } }
        // An anomaly in an inner scope is thrown there; the outer scope sees only what it lets through.
        let outer = try withAnomalyDetection { () -> Bool in
            do {
                try withAnomalyDetection { _ = Tensor<Float>([-1]).requiringGrad().sqrt() }
                return false
            } catch is Anomaly {
                return true
            }
        }
        #expect(outer)
        #expect(!GradMode.isAnomalyDetectionEnabled)
    }
}
