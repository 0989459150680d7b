import AutoDiff
import Foundation
import GradCheck
import Testing

/// A 3-4-2 network with a chosen hidden activation, a squared-error data term averaged over the
/// N = 6 samples and an optional L2 penalty on W1, with its correct hand-written backward. Each
/// test breaks one gradient the way people do and expects the diagnosis to name it.
struct TwoLayerNet {
    var activation: GradCheck.Activation
    var l2 = 0.0
    let x = GradCheck.input([6, 3], seed: 1)
    let y = GradCheck.input([6, 2], seed: 2)
    let parameters: [(name: String, value: Tensor<Double>)] = [
        ("W1", GradCheck.input([3, 4], seed: 3)), ("b1", GradCheck.input([4], seed: 4)),
        ("W2", GradCheck.input([4, 2], seed: 5)), ("b2", GradCheck.input([2], seed: 6)),
    ]
    var n: Double { Double(x.shape[0]) }

    func parameter(_ name: String) -> Tensor<Double> { parameters.first { $0.name == name }!.value }

    func activate(_ z: Tensor<Double>) -> Tensor<Double> {
        switch activation {
        case .sigmoid: z.sigmoid()
        case .relu: z.relu()
        case .tanh: z.tanh()
        }
    }

    /// loss = ½·mean over samples of Σ (z2 − y)², plus l2·Σ W1².
    func loss(_ r: GradCheck.Recorder) -> Tensor<Double> {
        let z1 = r.record("z1", x.matmul(r["W1"]) + r["b1"])
        let a1 = r.activate("z1", z1, activation, as: "a1")
        let z2 = r.record("z2", a1.matmul(r["W2"]) + r["b2"])
        let data = r.term("data", ((z2 - y).squared().sum(alongAxis: 1) * 0.5).mean())
        return l2 == 0 ? data : data + r.term("l2", r["W1"].squared().sum() * l2)
    }

    /// The correct backward pass, written by hand.
    func handWritten() -> [String: Tensor<Double>] {
        let z1 = x.matmul(parameter("W1")) + parameter("b1")
        let a1 = activate(z1)
        let z2 = a1.matmul(parameter("W2")) + parameter("b2")
        let dz2 = (z2 - y) / n
        let da1 = dz2.matmul(parameter("W2"), transposeOther: true)
        let derivative: Tensor<Double> =
            switch activation {
            case .sigmoid: a1 * (1 - a1)
            case .relu: z1 .> 0
            case .tanh: 1 - a1 * a1
            }
        let dz1 = da1 * derivative
        return [
            "z2": dz2, "W2": a1.matmul(dz2, transposeSelf: true), "b2": dz2.sum(alongAxis: 0), "a1": da1, "z1": dz1,
            "W1": x.matmul(dz1, transposeSelf: true) + parameter("W1") * (2 * l2), "b1": dz1.sum(alongAxis: 0),
        ]
    }

    func diagnose(_ handWritten: [String: Tensor<Double>]) -> GradCheck.Diagnosis {
        GradCheck.diagnose(loss, at: parameters, handWritten: handWritten)
    }

    /// The hand-written gradients with `name`'s replaced by `change` of it.
    func diagnose(breaking name: String, _ change: (Tensor<Double>) -> Tensor<Double>) -> GradCheck.Diagnosis {
        var grads = handWritten()
        grads[name] = change(grads[name]!)
        return diagnose(grads)
    }
}

@Suite("GradCheck.diagnose")
struct DiagnosisTests {
    @Test("A correct hand-written backward gets no difference", arguments: GradCheck.Activation.allCases)
    func correctBackwardIsClean(activation: GradCheck.Activation) {
        let diagnosis = TwoLayerNet(activation: activation, l2: 0.01).diagnose(
            TwoLayerNet(activation: activation, l2: 0.01).handWritten())
        #expect(diagnosis.isClean, "\(diagnosis)")
        #expect(diagnosis.firstWrong == nil)
        #expect(diagnosis.tensors.map(\.name) == ["z2", "b2", "W2", "a1", "z1", "b1", "W1"])
        #expect(diagnosis.tensors.allSatisfy { ($0.relativeError ?? 1) < 1e-12 })
        #expect(diagnosis.batchSize == 6)
        #expect(diagnosis.description.hasPrefix("no difference"))
    }

    @Test("A factor of 1/N is named, with the tensor", arguments: [(-1, 1.0 / 6), (1, 6.0), (-2, 1.0 / 36)])
    func batchFactor(power: Int, factor: Double) {
        let diagnosis = TwoLayerNet(activation: .tanh).diagnose(breaking: "W2") { $0 * factor }
        let finding = diagnosis["W2"]!
        #expect(diagnosis.firstWrong == "W2")
        #expect(finding.relation.kind == .factor)
        #expect(finding.relation.batchPower == power)
        #expect(abs(finding.relation.factor! - factor) < 1e-9 * factor)
        let name = ["1/N²", "1/N", "", "N"][power + 2]
        #expect(diagnosis.description.contains("W2 — a constant factor: h = \(name) (c = "), "\(diagnosis)")
    }

    @Test("Any other factor is reported as a number")
    func plainFactor() {
        let diagnosis = TwoLayerNet(activation: .sigmoid).diagnose(breaking: "z1") { $0 * 0.37 }
        let relation = diagnosis["z1"]!.relation
        #expect(relation.kind == .factor && relation.batchPower == nil)
        #expect(abs(relation.factor! - 0.37) < 1e-9)
    }

    @Test("A sign flip")
    func signFlip() {
        let diagnosis = TwoLayerNet(activation: .relu).diagnose(breaking: "a1") { -$0 }
        #expect(diagnosis.firstWrong == "a1")
        #expect(diagnosis["a1"]!.relation.kind == .signFlip)
        #expect(diagnosis["a1"]!.relation.factor == -1)
    }

    @Test("A transposed weight gradient")
    func transpose() {
        let diagnosis = TwoLayerNet(activation: .tanh).diagnose(breaking: "W1") { $0.transposed() }
        let finding = diagnosis["W1"]!
        #expect(finding.relation.kind == .transpose, "\(diagnosis)")
        #expect(finding.handWrittenShape == [4, 3] && finding.shape == [3, 4])
        #expect(finding.relativeError == nil)
    }

    @Test("A bias gradient summed over every axis into one scalar (np.sum(dz))")
    func biasSummedToScalar() {
        let net = TwoLayerNet(activation: .relu)
        let diagnosis = net.diagnose(breaking: "b2") { _ in net.handWritten()["z2"]!.sum() }
        let relation = diagnosis["b2"]!.relation
        #expect(diagnosis.firstWrong == "b2")
        #expect(relation.kind == .sumOverAxes && relation.axes == [0])
        #expect(relation.factor == nil)
        #expect(diagnosis["b2"]!.relativeError != nil)  // the scalar broadcast, as NumPy applies it
        #expect(diagnosis.description.contains("summed over every axis into one scalar"))
    }

    @Test("Summed into a scalar and not divided by N: both are named")
    func biasSummedAndScaled() {
        let net = TwoLayerNet(activation: .relu)
        let diagnosis = net.diagnose(breaking: "b1") { _ in net.handWritten()["z1"]!.sum() * net.n }
        let relation = diagnosis["b1"]!.relation
        #expect(relation.kind == .sumOverAxes && relation.batchPower == 1)
        #expect(relation.summary(batchSize: 6).contains("times N (c = 6"))
    }

    @Test("An intermediate summed over the wrong axis")
    func summedOverFeatures() {
        let diagnosis = TwoLayerNet(activation: .tanh).diagnose(breaking: "z1") { $0.sum(alongAxis: 1) }
        let relation = diagnosis["z1"]!.relation
        #expect(relation.kind == .sumOverAxes && relation.axes == [1], "\(diagnosis)")
    }

    @Test("A single number that is an arbitrary multiple is not called a relation")
    func singleNumberNeedsANamedFactor() {
        let net = TwoLayerNet(activation: .tanh)
        let diagnosis = net.diagnose(breaking: "b2") { _ in net.handWritten()["z2"]!.sum() * 0.731 }
        #expect(diagnosis["b2"]!.relation.kind == .unexplained)
    }

    @Test("x·(1−x) handed the pre-activation instead of the activation (σ′ at the wrong value)")
    func sigmoidOutputFormOnPreActivation() {
        let net = TwoLayerNet(activation: .sigmoid)
        let z1 = net.x.matmul(net.parameter("W1")) + net.parameter("b1")
        let diagnosis = net.diagnose(breaking: "z1") { _ in net.handWritten()["a1"]! * (z1 * (1 - z1)) }
        let relation = diagnosis["z1"]!.relation
        #expect(diagnosis.firstWrong == "z1")
        #expect(relation.kind == .wrongDerivative, "\(diagnosis)")
        #expect(relation.activation == .sigmoid && relation.evaluatedAt == "z1")
        #expect(
            relation.explanation.contains("x·(1−x) evaluated at the pre-activation z1 instead of the activation a1"))
    }

    @Test("The reverse: σ′ evaluated at the activation")
    func sigmoidDerivativeAtActivation() {
        let net = TwoLayerNet(activation: .sigmoid)
        let a1 = (net.x.matmul(net.parameter("W1")) + net.parameter("b1")).sigmoid()
        let s = a1.sigmoid()
        let diagnosis = net.diagnose(breaking: "z1") { _ in net.handWritten()["a1"]! * (s * (1 - s)) }
        let relation = diagnosis["z1"]!.relation
        #expect(relation.kind == .wrongDerivative && relation.evaluatedAt == "a1", "\(diagnosis)")
    }

    @Test("relu: the activation used in place of relu′, and the derivative left out")
    func reluValueAndMissingDerivative() {
        let net = TwoLayerNet(activation: .relu)
        let z1 = net.x.matmul(net.parameter("W1")) + net.parameter("b1")
        let value = net.diagnose(breaking: "z1") { _ in net.handWritten()["a1"]! * z1.relu() }
        #expect(value["z1"]!.relation.kind == .wrongDerivative)
        #expect(value["z1"]!.relation.explanation.contains("used in place of its derivative"), "\(value)")
        let missing = net.diagnose(breaking: "z1") { _ in net.handWritten()["a1"]! }
        #expect(missing["z1"]!.relation.kind == .wrongDerivative)
        #expect(missing["z1"]!.relation.explanation.contains("left out"), "\(missing)")
    }

    @Test("relu′ evaluated at another layer's pre-activation")
    func reluDerivativeAtOtherLayer() {
        let x = GradCheck.input([5, 4], seed: 11)
        let w1 = GradCheck.input([4, 4], seed: 12)
        let w2 = GradCheck.input([4, 4], seed: 13)
        let z1 = x.matmul(w1)
        let a1 = z1.relu()
        let z2 = a1.matmul(w2)
        let a2 = z2.relu()
        let da2 = Tensor<Double>.ones([5, 4]) / 5
        let dz2 = da2 * (z2 .> 0)
        let da1 = dz2.matmul(w2, transposeOther: true)
        let diagnosis = GradCheck.diagnose(
            { r in
                let z1 = r.record("z1", x.matmul(r["W1"]))
                let a1 = r.activate("z1", z1, .relu, as: "a1")
                let z2 = r.record("z2", a1.matmul(r["W2"]))
                return r.activate("z2", z2, .relu, as: "a2").mean(alongAxes: [0]).sum()
            }, at: [("W1", w1), ("W2", w2)],
            handWritten: ["z2": dz2, "a1": da1, "z1": da1 * (z2 .> 0)])
        _ = a2
        let relation = diagnosis["z1"]!.relation
        #expect(diagnosis.firstWrong == "z1")
        #expect(relation.kind == .wrongDerivative && relation.evaluatedAt == "z2", "\(diagnosis)")
    }

    @Test("A missing term: the L2 penalty's gradient left out of W1")
    func missingTerm() {
        let net = TwoLayerNet(activation: .tanh, l2: 0.05)
        let diagnosis = net.diagnose(breaking: "W1") { $0 - net.parameter("W1") * 0.1 }
        let relation = diagnosis["W1"]!.relation
        #expect(diagnosis.firstWrong == "W1")
        #expect(relation.kind == .missingTerm && relation.term == "l2", "\(diagnosis)")
    }

    @Test("Zeros where the tape has a gradient")
    func zeros() {
        let diagnosis = TwoLayerNet(activation: .sigmoid).diagnose(breaking: "b1") { Tensor.zeros(like: $0) }
        #expect(diagnosis["b1"]!.relation.kind == .zeros)
        #expect(diagnosis["b1"]!.relativeError == 1)
    }

    @Test("Noise no hypothesis explains: the relative error alone")
    func unexplained() {
        var generator = RandomGenerator(seed: 9)
        let diagnosis = TwoLayerNet(activation: .tanh).diagnose(breaking: "W2") {
            $0 + Tensor.randomNormal($0.shape, generator: &generator) * 0.01
        }
        let finding = diagnosis["W2"]!
        #expect(finding.relation.kind == .unexplained)
        #expect(finding.relativeError! > 1e-3 && finding.relativeError! < 1)
    }

    @Test("The first wrong tensor in backward order leads, and later ones inherit")
    func firstWrongInBackwardOrder() {
        let net = TwoLayerNet(activation: .tanh)
        var grads = net.handWritten()
        grads["a1"] = -grads["a1"]!
        grads["z1"] = -grads["z1"]!
        grads["W1"] = -grads["W1"]!
        grads["b2"] = grads["b2"]! * 2
        let diagnosis = net.diagnose(grads)
        #expect(diagnosis.firstWrong == "b2")
        #expect(diagnosis.tensors.filter { !$0.matches }.map(\.name) == ["b2", "a1", "z1", "W1"])
        #expect(diagnosis.description.hasPrefix("first wrong tensor in backward order: b2"))
    }

    @Test("Float inputs and gradients are promoted to Double")
    func floatInputs() {
        let net = TwoLayerNet(activation: .sigmoid)
        let floats = net.parameters.map { ($0.name, Tensor<Float>(converting: $0.value)) }
        var grads = net.handWritten().mapValues { Tensor<Float>(converting: $0) }
        grads["W2"] = grads["W2"]! / 6
        let diagnosis = GradCheck.diagnose(net.loss, at: floats, handWritten: grads)
        #expect(diagnosis.tensors.filter { !$0.matches }.map(\.name) == ["W2"], "\(diagnosis)")
        #expect(diagnosis["W2"]!.relation.batchPower == -1)
    }

    @Test("The Codable form round-trips")
    func codableRoundTrip() throws {
        let net = TwoLayerNet(activation: .sigmoid)
        let diagnosis = net.diagnose(breaking: "b2") { _ in net.handWritten()["z2"]!.sum() * 6 }
        let data = try JSONEncoder().encode(diagnosis)
        let decoded = try JSONDecoder().decode(GradCheck.Diagnosis.self, from: data)
        #expect(decoded == diagnosis)
        let json = String(decoding: data, as: UTF8.self)
        #expect(json.contains("\"firstWrong\":\"b2\"") && json.contains("\"kind\":\"sumOverAxes\""))
    }
}

@Suite("README's diagnosis example")
struct ReadmeDiagnosisExampleTests {
    @Test("The example compiles and names a bias gradient summed into one scalar")
    func example() {
        let x = GradCheck.input([5, 3], seed: 21)
        let y = GradCheck.input([5, 2], seed: 22)
        let w1 = GradCheck.input([3, 4], seed: 23)
        let b1 = GradCheck.input([4], seed: 24)
        let w2 = GradCheck.input([4, 2], seed: 25)
        let b2 = GradCheck.input([2], seed: 26)
        let a1 = (x.matmul(w1) + b1).sigmoid()
        let dz2 = (a1.matmul(w2) + b2 - y) / 5
        let dW2 = a1.matmul(dz2, transposeSelf: true)
        let db2 = dz2.sum()  // the bug: np.sum(dz2)
        let da1 = dz2.matmul(w2, transposeOther: true)
        let dz1 = da1 * a1 * (1 - a1)
        let dW1 = x.matmul(dz1, transposeSelf: true)
        let db1 = dz1.sum(alongAxis: 0)

        // As in the README:
        let diagnosis = GradCheck.diagnose(
            { r in
                let z1 = r.record("z1", x.matmul(r["W1"]) + r["b1"])
                let a1 = r.activate("z1", z1, .sigmoid, as: "a1")  // a1 = σ(z1), both recorded
                let z2 = r.record("z2", a1.matmul(r["W2"]) + r["b2"])
                return ((z2 - y).squared().sum(alongAxis: 1) * 0.5).mean()
            }, at: [("W1", w1), ("b1", b1), ("W2", w2), ("b2", b2)],
            handWritten: ["z2": dz2, "W2": dW2, "b2": db2, "a1": da1, "z1": dz1, "W1": dW1, "b1": db1])

        #expect(diagnosis.firstWrong == "b2")
        #expect(diagnosis.tensors.filter { !$0.matches }.map(\.name) == ["b2"], "\(diagnosis)")
        #expect(diagnosis["b2"]?.relation.kind == .sumOverAxes)
    }
}

/// Misusing the diagnosis stops with one line naming the problem.
@Suite("Diagnosis misuse")
struct DiagnosisMisuseTests {
    @Test("a loss that is not a scalar, and a hand-written gradient for an unknown name")
    func misuse() async {
        await #expect(processExitsWith: .failure) {
            _ = GradCheck.diagnose(
                { r in r["W"] * 2 }, at: [("W", Tensor<Double>([1, 2]))], handWritten: ["W": Tensor<Double>([2, 2])])
        }
        await #expect(processExitsWith: .failure) {
            _ = GradCheck.diagnose(
                { r in r["W"].sum() }, at: [("W", Tensor<Double>([1, 2]))], handWritten: ["V": Tensor<Double>([1, 1])])
        }
    }
}
