import AutoDiff
import Foundation
import GradCheck
import Testing

@Suite("Gradients against finite differences")
struct GradientTests {
    /// GradCheck differentiates in `Double`.
    static let doubleCases = OpCases.all(Double.self)

    @Test("every op's gradient matches central differences", arguments: doubleCases)
    func matchesFiniteDifferences(_ op: OpCase<Double>) {
        let report = GradCheck.check(op.f, at: op.inputs())
        #expect(report.passed, "\(report)")
        #expect(report.maxRelativeError <= 1e-6)
    }

    @Test("every primitive op has a finite-difference case")
    func everyPrimitiveIsCovered() {
        var covered = Set<OpKind>()
        for op in Self.doubleCases {
            let tracked = op.inputs().map { $0.requiringGrad() }
            covered.formUnion(op.f(tracked).recordedOps)
        }
        let missing = OpKind.allCases.filter { !covered.contains($0) }
        #expect(missing.isEmpty, "no GradCheck case exercises: \(missing.map(\.rawValue))")
    }

    @Test(
        "large inputs pass the random-projection mode",
        arguments: [
            OpCase<Double>("matmul large", [[40, 50], [50, 30]]) { $0[0].matmul($0[1]).tanh() },
            OpCase<Double>("logSoftmax large", [[64, 100]]) { $0[0].logSoftmax(alongAxis: 1) },
        ])
    func projections(_ op: OpCase<Double>) {
        let report = GradCheck.check(op.f, at: op.inputs(), mode: .projections(count: 4, seed: 11))
        #expect(report.passed, "\(report)")
    }

    @Test("Float inputs are promoted to Double for the check")
    func floatInputsArePromoted() {
        let x = Tensor<Float>(shape: [2, 3], scalars: [0.3, -0.7, 0.2, 0.9, -0.4, 0.6])
        let report = GradCheck.check({ $0[0].tanh().squared().sum() }, at: [x])
        #expect(report.passed, "\(report)")
        #expect(report.maxRelativeError < 1e-8)
    }

    // MARK: Second derivatives

    static let secondOrderCases: [OpCase<Double>] = [
        OpCase("tanh", [[3, 4]]) { $0[0].tanh() },
        OpCase("sigmoid", [[3, 4]]) { $0[0].sigmoid() },
        OpCase("exp", [[3, 4]]) { $0[0].exp() },
        OpCase("x·y", [[3, 4], [3, 4]]) { $0[0] * $0[1] },
        OpCase("matmul", [[3, 4], [4, 2]]) { $0[0].matmul($0[1]) },
        OpCase("matmul transposed", [[4, 3], [2, 4]]) {
            $0[0].matmul($0[1], transposeSelf: true, transposeOther: true)
        },
        OpCase("log", [[3, 4]], domains: [.positive]) { $0[0].log() },
        OpCase("softmax", [[3, 4]]) { $0[0].softmax(alongAxis: 1) },
        OpCase("divide", [[3, 4], [4]]) { $0[0] / $0[1] },
        OpCase("sigmoidCrossEntropy", [[3, 4], [3, 4]]) { Tensor.sigmoidCrossEntropy(logits: $0[0], targets: $0[1]) },
        OpCase("softmaxCrossEntropy", [[5, 3]]) { Tensor.softmaxCrossEntropy(logits: $0[0], labels: [2, 0, 1, 1, 2]) },
        OpCase("conv2d", [[1, 2, 5, 5], [3, 2, 3, 3]]) {
            Tensor.conv2d($0[0], weight: $0[1], stride: 2, padding: 1).tanh()
        },
        OpCase("two-layer tanh network", [[5, 3], [3, 4], [4, 1]]) {
            ($0[0].matmul($0[1]).tanh().matmul($0[2])).squared().mean()
        },
    ]

    @Test("second derivatives match finite differences of the first", arguments: secondOrderCases)
    func secondOrder(_ op: OpCase<Double>) {
        let report = GradCheck.checkSecondOrder(op.f, at: op.inputs())
        #expect(report.passed, "\(report)")
    }

    @Test("Hessian-vector product of a quadratic form is exact")
    func hessianVectorProduct() {
        // f(x) = ½ xᵀAx with symmetric A: ∇f = Ax, H·v = Av.
        let a = Tensor<Double>(rows: [[2, 1, 0], [1, 3, 1], [0, 1, 4]])
        let x = Tensor<Double>(shape: [3, 1], scalars: [1, -2, 0.5]).requiringGrad()
        let v = Tensor<Double>(shape: [3, 1], scalars: [0.5, 1, -1])
        let f = (x.transposed().matmul(a).matmul(x) * 0.5).sum()
        let grad = gradients(of: f, wrt: [x], createGraph: true)[0]
        #expect(grad.scalars == [0, -4.5, 0])  // A·x = [2 − 2, 1 − 6 + 0.5, −2 + 2]
        let hv = gradients(of: (grad * v).sum(), wrt: [x])[0]
        #expect(hv.scalars == [2, 2.5, -3])  // A·v = [1 + 1, 0.5 + 3 − 1, 1 − 4]
    }

    // MARK: Catching wrong gradients

    @Test("a deliberately wrong VJP is caught, naming the input and element")
    func wrongVJPIsCaught() {
        // softsign's derivative is 1/(1+|x|)²; this VJP forgets the square.
        let wrong: @Sendable ([Tensor<Double>]) -> Tensor<Double> = { xs in
            Tensor.customOp(
                name: "softsign", inputs: [xs[1], xs[0]], forward: { $0[0] * 0 + $0[1] / ($0[1].abs() + 1) },
                vjp: { g, inputs, _ in [nil, g / (inputs[1].abs() + 1)] })
        }
        let x = GradCheck.input([2, 3], seed: 5)
        let other = GradCheck.input([2, 3], seed: 6)
        let report = GradCheck.check(wrong, at: [x, other])
        #expect(!report.passed)
        let failure = try! #require(report.failures.first)
        #expect(failure.input == 0)
        #expect(report.failures.count == 1)
        #expect(failure.worstElement?.count == 2)
        #expect(report.description.contains("input 0 [2, 3]"))
        #expect(report.description.contains("at element ["))
        #expect(report.description.contains("FAILED"))
    }

    @Test("the classic bug is caught: sigmoid's derivative applied to its output instead of its input")
    func sigmoidDerivativeOnTheWrongValue() {
        @Sendable func bce(_ p: Tensor<Double>) -> Tensor<Double> {
            let targets = Tensor<Double>(shape: [4, 1], scalars: [1, 0, 1, 0])
            return -(targets * p.log() + (1 - targets) * (1 - p).log()).mean()
        }
        // The hand-written mistake: σ'(σ(x)) = σ(y)(1 − σ(y)) where y = σ(x), instead of y(1 − y).
        let buggy: @Sendable ([Tensor<Double>]) -> Tensor<Double> = { xs in
            let p = Tensor.customOp(
                name: "sigmoid (buggy)", inputs: [xs[0]], forward: { $0[0].sigmoid() },
                vjp: { g, _, y in
                    let s = y.detached().sigmoid()
                    return [g * s * (1 - s)]
                })
            return bce(p)
        }
        let correct: @Sendable ([Tensor<Double>]) -> Tensor<Double> = { xs in bce(xs[0].sigmoid()) }
        let logits = GradCheck.input([4, 1], seed: 3)
        #expect(!GradCheck.check(buggy, at: [logits]).passed)
        #expect(GradCheck.check(correct, at: [logits]).passed)
    }

    // MARK: Reference values worked out by hand

    @Test("a two-layer ReLU network's gradients equal the values worked out on paper")
    func handComputedNetwork() {
        // x = [1 2], W = [[1 −1] [0.5 1]], v = [[1] [−2]], target 1.
        // Forward: xW = [2 1], h = relu = [2 1], y = h·v = 0, loss = (y − 1)² = 1.
        // Backward: ∂L/∂y = 2(y − 1) = −2; ∂L/∂v = hᵀ·(−2) = [[−4] [−2]];
        // ∂L/∂h = −2·vᵀ = [−2 4]; relu passes both (h > 0); ∂L/∂W = xᵀ·[−2 4] = [[−2 4] [−4 8]];
        // ∂L/∂x = [−2 4]·Wᵀ = [−2·1 + 4·(−1), −2·0.5 + 4·1] = [−6 3].
        let x = Tensor<Double>(shape: [1, 2], scalars: [1, 2]).requiringGrad()
        let w = Tensor<Double>(rows: [[1, -1], [0.5, 1]]).requiringGrad()
        let v = Tensor<Double>(shape: [2, 1], scalars: [1, -2]).requiringGrad()
        let loss = (x.matmul(w).relu().matmul(v) - 1).squared().sum()
        #expect(loss.item == 1)
        loss.backward()
        #expect(v.grad?.scalars == [-4, -2])
        #expect(w.grad?.scalars == [-2, 4, -4, 8])
        #expect(x.grad?.scalars == [-6, 3])
    }

    @Test("softmax cross-entropy gradient is softmax minus one-hot, by hand")
    func handComputedSoftmaxCrossEntropy() {
        // logits [0, ln 3]: softmax = [1/4, 3/4]; label 1: loss = −ln(3/4); ∂/∂logits = [1/4, −1/4].
        let logits = Tensor<Double>(shape: [1, 2], scalars: [0, Foundation.log(3.0)]).requiringGrad()
        let loss = -logits.logSoftmax(alongAxis: 1).gather(alongAxis: 1, indices: [1]).sum()
        #expect(abs(loss.item - (-Foundation.log(0.75))) < 1e-15)
        loss.backward()
        let g = logits.grad!.scalars
        #expect(abs(g[0] - 0.25) < 1e-15 && abs(g[1] + 0.25) < 1e-15)
    }
}
