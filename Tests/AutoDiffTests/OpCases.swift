import AutoDiff
import GradCheck
import Testing

/// One differentiable function to check against finite differences.
struct OpCase<S: TensorScalar>: Sendable, CustomTestStringConvertible {
    enum Domain: Sendable { case any, positive }
    let name: String
    let shapes: [[Int]]
    let domains: [Domain]
    let f: @Sendable ([Tensor<S>]) -> Tensor<S>

    init(
        _ name: String, _ shapes: [[Int]], domains: [Domain]? = nil,
        _ f: @escaping @Sendable ([Tensor<S>]) -> Tensor<S>
    ) {
        self.name = name
        self.shapes = shapes
        self.domains = domains ?? shapes.map { _ in .any }
        self.f = f
    }

    var testDescription: String { "\(name) \(shapes.map { "\($0)" }.joined(separator: " "))" }

    /// Deterministic inputs away from kinks (see GradCheck's documentation), drawn in `Double`
    /// and converted to `S` (exact when `S` is `Double`).
    func inputs() -> [Tensor<S>] {
        zip(shapes, domains).enumerated().map { i, pair in
            let seed = UInt64(i + 1) &* 7919 &+ UInt64(name.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xffff)
            let x =
                pair.1 == .positive ? GradCheck.positiveInput(pair.0, seed: seed) : GradCheck.input(pair.0, seed: seed)
            return Tensor<S>(converting: x)
        }
    }
}

/// The derivative of `f` with respect to its single input, recorded (`createGraph`), so checking
/// it checks the rules of the backward pass itself.
@Sendable func firstDerivative<S: TensorScalar>(_ f: @escaping @Sendable (Tensor<S>) -> Tensor<S>)
    -> @Sendable ([Tensor<S>]) -> Tensor<S>
{
    { xs in
        let x = xs[0].requiresGrad ? xs[0] : xs[0].requiringGrad()
        return gradients(of: f(x), wrt: [x], createGraph: true)[0]
    }
}

/// Every differentiable op, in every broadcast pattern, reduction axis and transpose combination.
/// The coverage test fails when an `OpKind` appears in none of these tapes. Each list is generic
/// over the element type, e.g. `OpCases.all(Double.self)` or `OpCases.all(Float.self)`.
enum OpCases {
    /// Shape pairs for binary ops: same, scalar, row, column, leading axes, both sides broadcast.
    static let broadcastPatterns: [([Int], [Int])] = [
        ([3, 4], [3, 4]), ([3, 4], []), ([3, 4], [4]), ([3, 4], [3, 1]), ([2, 3, 4], [3, 4]), ([3, 1], [1, 4]),
        ([4], [2, 3, 4]),
    ]

    static func binary<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        broadcastPatterns.flatMap { a, b -> [OpCase<S>] in
            [
                OpCase("add", [a, b]) { $0[0] + $0[1] },
                OpCase("subtract", [a, b]) { $0[0] - $0[1] },
                OpCase("multiply", [a, b]) { $0[0] * $0[1] },
                OpCase("divide", [a, b]) { $0[0] / $0[1] },
                OpCase("power", [a, b], domains: [.positive, .any]) { pow($0[0], $0[1]) },
                OpCase("maximum", [a, b]) { maximum($0[0], $0[1]) },
                OpCase("minimum", [a, b]) { minimum($0[0], $0[1]) },
                OpCase("where", [a, b]) { xs in Tensor.where(xs[0] .> xs[1], xs[0] * 2, xs[1].exp()) },
            ]
        }
    }

    static func scalar<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        [
            OpCase("x + c", [[3, 4]]) { $0[0] + 2.5 },
            OpCase("c + x", [[3, 4]]) { 2.5 + $0[0] },
            OpCase("x - c", [[3, 4]]) { $0[0] - 1.5 },
            OpCase("c - x", [[3, 4]]) { 1.5 - $0[0] },
            OpCase("x * c", [[3, 4]]) { $0[0] * 3 },
            OpCase("c * x", [[3, 4]]) { -3 * $0[0] },
            OpCase("x / c", [[3, 4]]) { $0[0] / 4 },
            OpCase("c / x", [[3, 4]]) { 4 / $0[0] },
            OpCase("pow 2", [[3, 4]]) { $0[0].pow(2) },
            OpCase("pow 3", [[3, 4]]) { $0[0].pow(3) },
            OpCase("pow -1.5", [[3, 4]], domains: [.positive]) { $0[0].pow(-1.5) },
            OpCase("squared", [[3, 4]]) { $0[0].squared() },
        ]
    }

    static func unary<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        [
            OpCase("negate", [[3, 4]]) { -$0[0] },
            OpCase("exp", [[3, 4]]) { $0[0].exp() },
            OpCase("log", [[3, 4]], domains: [.positive]) { $0[0].log() },
            OpCase("sqrt", [[3, 4]], domains: [.positive]) { $0[0].sqrt() },
            OpCase("abs", [[3, 4]]) { $0[0].abs() },
            OpCase("sin", [[3, 4]]) { $0[0].sin() },
            OpCase("cos", [[3, 4]]) { $0[0].cos() },
            OpCase("tanh", [[3, 4]]) { $0[0].tanh() },
            OpCase("sigmoid", [[3, 4]]) { $0[0].sigmoid() },
            OpCase("sigmoid large |x|", [[3, 4]]) { ($0[0] * 30).sigmoid() },
            OpCase("relu", [[3, 4]]) { $0[0].relu() },
            OpCase("leakyRelu", [[3, 4]]) { $0[0].leakyRelu(slope: 0.1) },
            OpCase("softplus", [[3, 4]]) { $0[0].softplus() },
            OpCase("softplus large |x|", [[3, 4]]) { ($0[0] * 40).softplus() },
            OpCase("clamp", [[3, 4]]) { $0[0].clamped(min: -0.55, max: 0.45) },
        ]
    }

    static func reductions<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        var cases: [OpCase<S>] = []
        let axesList: [[Int]?] = [nil, [0], [1], [2], [-1], [0, 2], [1, 2]]
        for axes in axesList {
            for keep in [false, true] {
                let tag = "axes \(axes.map { "\($0)" } ?? "all") keepDims \(keep)"
                cases.append(OpCase("sum \(tag)", [[2, 3, 4]]) { $0[0].sum(alongAxes: axes, keepDims: keep) })
                cases.append(OpCase("mean \(tag)", [[2, 3, 4]]) { $0[0].mean(alongAxes: axes, keepDims: keep) })
                cases.append(OpCase("max \(tag)", [[2, 3, 4]]) { $0[0].max(alongAxes: axes, keepDims: keep) })
                cases.append(OpCase("min \(tag)", [[2, 3, 4]]) { $0[0].min(alongAxes: axes, keepDims: keep) })
                cases.append(
                    OpCase("logSumExp \(tag)", [[2, 3, 4]]) { $0[0].logSumExp(alongAxes: axes, keepDims: keep) })
            }
        }
        for axis in [0, 1, -1] {
            cases.append(OpCase("softmax axis \(axis)", [[3, 4]]) { $0[0].softmax(alongAxis: axis) })
            cases.append(OpCase("logSoftmax axis \(axis)", [[3, 4]]) { $0[0].logSoftmax(alongAxis: axis) })
        }
        cases.append(OpCase("logSoftmax large logits", [[3, 4]]) { ($0[0] * 200).logSoftmax(alongAxis: 1) })
        return cases
    }

    static func matmul<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        var cases: [OpCase<S>] = []
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = ta ? [4, 3] : [3, 4]
            let b = tb ? [5, 4] : [4, 5]
            cases.append(
                OpCase("matmul 2-D ta \(ta) tb \(tb)", [a, b]) {
                    $0[0].matmul($0[1], transposeSelf: ta, transposeOther: tb)
                })
            cases.append(
                OpCase("matmul batched ta \(ta) tb \(tb)", [[2] + a, [2] + b]) {
                    $0[0].matmul($0[1], transposeSelf: ta, transposeOther: tb)
                })
            cases.append(
                OpCase("matmul 3-D × 2-D ta \(ta) tb \(tb)", [[2] + a, b]) {
                    $0[0].matmul($0[1], transposeSelf: ta, transposeOther: tb)
                })
            cases.append(
                OpCase("matmul 2-D × 3-D ta \(ta) tb \(tb)", [a, [2] + b]) {
                    $0[0].matmul($0[1], transposeSelf: ta, transposeOther: tb)
                })
        }
        cases.append(
            OpCase("linear x·W + b", [[5, 3], [3, 4], [4]]) { Tensor.linear($0[0], weight: $0[1], bias: $0[2]) })
        cases.append(
            OpCase("linear scalar bias", [[5, 3], [3, 4], []]) { Tensor.linear($0[0], weight: $0[1], bias: $0[2]) })
        cases.append(OpCase("matmul vector × matrix", [[4], [4, 5]]) { $0[0].matmul($0[1]) })
        cases.append(OpCase("matmul matrix × vector", [[3, 4], [4]]) { $0[0].matmul($0[1]) })
        cases.append(OpCase("matmul vector · vector", [[4], [4]]) { $0[0].matmul($0[1]) })
        return cases
    }

    static func shape<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        [
            OpCase("reshape", [[2, 3, 4]]) {
                $0[0].reshaped([4, -1]) * Tensor(shape: [4, 6], scalars: (0..<24).map { S($0) }, on: $0[0].device)
            },
            OpCase("permute", [[2, 3, 4]]) {
                $0[0].permuted([2, 0, 1]) * Tensor(shape: [4, 2, 3], scalars: (0..<24).map { S($0) }, on: $0[0].device)
            },
            OpCase("transposed", [[3, 4]]) {
                $0[0].transposed() * Tensor(shape: [4, 3], scalars: (0..<12).map { S($0) }, on: $0[0].device)
            },
            OpCase("expand", [[3, 1]]) {
                $0[0].expanded(to: [2, 3, 4])
                    * Tensor(shape: [2, 3, 4], scalars: (0..<24).map { S($0) }, on: $0[0].device)
            },
            OpCase("unsqueeze squeeze", [[3, 4]]) { $0[0].unsqueezed(axis: 1).squeezed(axis: 1).exp() },
            OpCase("slice", [[4, 5]]) { $0[0].slice([1..<3, 0..<4]).exp() },
            OpCase("slice subscript", [[2, 4, 5]]) { $0[0][0..<2, 1..<4].exp() },
            OpCase("slice along axis", [[4, 5]]) { $0[0].slice(alongAxis: 1, 2..<5).exp() },
            OpCase("concat axis 0", [[2, 3], [4, 3]]) { Tensor.concat([$0[0], $0[1].exp()], alongAxis: 0) },
            OpCase("concat axis 1", [[2, 3], [2, 1], [2, 2]]) {
                Tensor.concat([$0[0], $0[1] * 2, $0[2]], alongAxis: 1).exp()
            },
            OpCase("stack", [[2, 3], [2, 3]]) { Tensor.stack([$0[0], $0[1].exp()], alongAxis: 1) },
            OpCase("gather axis 1", [[3, 4]]) { $0[0].gather(alongAxis: 1, indices: [2, 0, 3]).exp() },
            OpCase("gather repeated indices", [[3, 4]]) {
                $0[0].gather(alongAxis: 0, indices: [0, 0, 2, 1, 1, 1, 2, 0]).exp()
            },
            OpCase("indexSelect rows, repeated", [[4, 3]]) {
                $0[0].indexSelect(alongAxis: 0, indices: [3, 0, 3, 1]).exp()
            },
            OpCase("indexSelect middle axis", [[2, 4, 3]]) {
                $0[0].indexSelect(alongAxis: 1, indices: [2, 2, 0]).exp()
            },
            OpCase("to another device and back", [[3, 4]]) {
                $0[0].to($0[0].device == .cpu ? .reference : .cpu).exp().to($0[0].device)
            },
        ]
    }

    /// Rules whose ops only appear in backward graphs: checked by differentiating a gradient.
    static func backwardPrimitives<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        [
            OpCase("tanhBackward", [[3, 4]], firstDerivative { $0.tanh().sum() }),
            OpCase("sigmoidBackward", [[3, 4]], firstDerivative { $0.sigmoid().sum() }),
            OpCase("reluBackward", [[3, 4]], firstDerivative { $0.relu().squared().sum() }),
            OpCase("sliceBackward", [[4, 5]], firstDerivative { $0.slice([1..<3]).squared().sum() }),
            OpCase(
                "scatterAdd", [[3, 4]],
                firstDerivative { $0.gather(alongAxis: 1, indices: [2, 0, 2]).squared().sum() }),
            OpCase(
                "indexAdd", [[3, 4]],
                firstDerivative { $0.indexSelect(alongAxis: 1, indices: [2, 0, 2]).squared().sum() }),
        ]
    }

    /// Dropout with a fixed generator, so that every evaluation draws the same mask.
    static func dropout<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        [
            OpCase("dropout", [[5, 7]]) { xs in
                var generator = RandomGenerator(seed: 4)
                return xs[0].dropout(rate: 0.3, generator: &generator)
            },
            OpCase(
                "dropout derivative", [[5, 7]],
                firstDerivative { x in
                    var generator = RandomGenerator(seed: 4)
                    return x.dropout(rate: 0.3, generator: &generator).squared().sum()
                }),
        ]
    }

    /// The fused losses, including logits large enough that a naive formula would overflow, and
    /// targets that require gradients.
    static func losses<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        [
            OpCase("sigmoidCrossEntropy", [[3, 4]]) { xs in
                Tensor.sigmoidCrossEntropy(
                    logits: xs[0],
                    targets: Tensor(shape: [3, 4], scalars: (0..<12).map { S($0 % 2) }, on: xs[0].device))
            },
            OpCase("sigmoidCrossEntropy large |z|, soft targets", [[3, 4], [3, 4]]) { xs in
                Tensor.sigmoidCrossEntropy(logits: xs[0] * 40, targets: xs[1].sigmoid())
            },
            OpCase(
                "sigmoidCrossEntropy derivative", [[3, 4]],
                firstDerivative {
                    Tensor.sigmoidCrossEntropy(
                        logits: $0,
                        targets: Tensor(shape: [3, 4], scalars: (0..<12).map { S($0 % 3) / 2 }, on: $0.device))
                }),
            OpCase("softmaxCrossEntropy", [[5, 3]]) {
                Tensor.softmaxCrossEntropy(logits: $0[0], labels: [2, 0, 1, 1, 2])
            },
            OpCase("softmaxCrossEntropy large logits", [[4, 6]]) {
                Tensor.softmaxCrossEntropy(logits: $0[0] * 200, labels: [5, 0, 3, 3])
            },
            OpCase(
                "softmaxCrossEntropy derivative", [[5, 3]],
                firstDerivative {
                    Tensor.softmaxCrossEntropy(logits: $0, labels: [2, 0, 1, 1, 2])
                }),
        ]
    }

    static func custom<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        [
            OpCase("custom softsign", [[3, 4]]) { xs in
                Tensor.customOp(
                    name: "softsign", inputs: [xs[0]], forward: { $0[0] / ($0[0].abs() + 1) },
                    vjp: { g, inputs, _ in [g / (inputs[0].abs() + 1).squared()] })
            }
        ]
    }

    static func all<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        binary(S.self) + scalar(S.self) + unary(S.self) + reductions(S.self) + matmul(S.self) + shape(S.self)
            + backwardPrimitives(S.self) + dropout(S.self) + losses(S.self) + custom(S.self)
            + convolution(S.self)
            + normalization(S.self)
            + sequence(S.self)
            + integers(S.self)
            + attention(S.self)
    }
}
