import AutoDiff
import Foundation
import GradCheck
import Testing

/// All first and second derivatives of `loss(inputs)` with respect to every input, recorded
/// (`createGraph`) and joined into one vector: checking it against finite differences checks
/// the rules of the backward pass itself, including cross terms between inputs.
@Sendable func allFirstDerivatives<S: TensorScalar>(_ loss: @escaping @Sendable ([Tensor<S>]) -> Tensor<S>)
    -> @Sendable ([Tensor<S>]) -> Tensor<S>
{
    { xs in
        let tracked = xs.map { $0.requiresGrad ? $0 : $0.requiringGrad() }
        let grads = gradients(of: loss(tracked), wrt: tracked, createGraph: true)
        return Tensor.concat(grads.map { $0.reshaped([-1]) })
    }
}

extension OpCases {
    /// A fixed, non-uniform weighting of `y`, so that a sum over it has a gradient that
    /// depends on every element (a plain sum of a normalized tensor is constant).
    static func weighted<S: TensorScalar>(_ y: Tensor<S>) -> Tensor<S> {
        let w = Tensor<S>(
            shape: y.shape, scalars: (0..<y.count).map { S(Foundation.sin(Double($0) * 0.7) + 0.3) }, on: y.device)
        return y * w
    }

    /// N-D products, axis ops, the single-kernel activations and the normalizations (issue 15),
    /// with second derivatives of the activations and normalizations.
    static func normalization<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        var cases: [OpCase<S>] = [
            // Activations and their fused backward kernels.
            OpCase("gelu", [[3, 4]]) { $0[0].gelu() },
            OpCase("gelu tanh", [[3, 4]]) { ($0[0] * 2).gelu(approximate: .tanh) },
            OpCase("silu", [[3, 4]]) { ($0[0] * 3).silu() },
            OpCase("silu large |x|", [[3, 4]]) { ($0[0] * 60).silu() },
            OpCase("elu", [[3, 4]]) { $0[0].elu() },
            OpCase("elu alpha 0.5", [[3, 4]]) { ($0[0] * 3).elu(alpha: 0.5) },
            OpCase("geluBackward", [[3, 4]], firstDerivative { ($0 * 2).gelu().sum() }),
            OpCase("geluBackward tanh", [[3, 4]], firstDerivative { ($0 * 2).gelu(approximate: .tanh).sum() }),
            OpCase("siluBackward", [[3, 4]], firstDerivative { ($0 * 3).silu().sum() }),
            OpCase("eluBackward", [[3, 4]], firstDerivative { ($0 * 3).elu(alpha: 0.7).sum() }),
            OpCase(
                "gelu third order", [[3, 4]],
                firstDerivative { x in
                    gradients(of: x.gelu().sum(), wrt: [x], createGraph: true)[0].sum()
                }),
            // Normalization: BatchNorm (channels on axis 1), LayerNorm (trailing axes), GroupNorm.
            OpCase("batchNorm [N, C]", [[5, 3]]) { weighted($0[0].batchNorm().output) },
            OpCase("batchNorm [N, C, L] affine", [[2, 3, 4], [3], [3]]) {
                weighted($0[0].batchNorm(weight: $0[1], bias: $0[2]).output)
            },
            OpCase("batchNorm [N, C, H, W] affine", [[2, 3, 2, 3], [3], [3]]) {
                weighted($0[0].batchNorm(weight: $0[1], bias: $0[2], epsilon: 1e-3).output)
            },
            OpCase("batchNorm weight only", [[4, 2, 3], [2]]) { weighted($0[0].batchNorm(weight: $0[1]).output) },
            OpCase(
                "batchNorm with given statistics", [[2, 3, 4], [3], [3], [3]], domains: [.any, .any, .positive, .any]
            ) {
                weighted($0[0].batchNorm(mean: $0[1], variance: $0[2], weight: $0[3]))
            },
            OpCase("layerNorm last axis", [[3, 5]]) { weighted($0[0].layerNorm(normalizedShape: [5])) },
            OpCase("layerNorm two axes affine", [[2, 3, 4], [3, 4], [3, 4]]) {
                weighted($0[0].layerNorm(normalizedShape: [3, 4], weight: $0[1], bias: $0[2]))
            },
            // The fused op without one of its parameters: the other's gradient shaped as it is.
            OpCase("layerNorm weight only", [[3, 2, 4], [2, 4]]) {
                weighted($0[0].layerNorm(normalizedShape: [2, 4], weight: $0[1]))
            },
            OpCase("layerNorm bias only", [[4, 5], [5]]) {
                weighted($0[0].layerNorm(normalizedShape: [5], bias: $0[1]))
            },
            OpCase("groupNorm affine", [[2, 4, 3], [4], [4]]) {
                weighted($0[0].groupNorm(groups: 2, weight: $0[1], bias: $0[2]))
            },
            OpCase("groupNorm instance", [[2, 3, 2, 2]]) { weighted($0[0].groupNorm(groups: 3)) },
            OpCase(
                "batchNorm second order", [[3, 2, 4], [2], [2]],
                allFirstDerivatives { xs in
                    weighted(xs[0].batchNorm(weight: xs[1], bias: xs[2]).output).tanh().sum()
                }),
            OpCase(
                "layerNorm second order", [[3, 5], [5], [5]],
                allFirstDerivatives { xs in
                    weighted(xs[0].layerNorm(normalizedShape: [5], weight: xs[1], bias: xs[2])).tanh().sum()
                }),
            OpCase(
                "groupNorm second order", [[2, 4, 3], [4], [4]],
                allFirstDerivatives { xs in
                    weighted(xs[0].groupNorm(groups: 2, weight: xs[1], bias: xs[2])).tanh().sum()
                }),
            // Axis ops.
            OpCase("transpose axes 0 and 2", [[2, 3, 4]]) { weighted($0[0].transposed(0, 2)) },
            OpCase("transpose negative axes", [[2, 3, 4, 2]]) { weighted($0[0].transposed(-1, 1)) },
            OpCase("flatten from 1", [[2, 3, 2, 2]]) { weighted($0[0].flattened(from: 1)) },
            OpCase("flatten middle", [[2, 3, 2, 2]]) { weighted($0[0].flattened(from: 1, through: 2)) },
            OpCase("unflatten with -1", [[2, 12]]) { weighted($0[0].unflattened(axis: -1, into: [3, -1])) },
        ]
        // N-D products: broadcast batches on either side, 4-D, matrices and vectors against
        // batches, every transpose combination.
        let products: [([Int], [Int])] = [
            ([1, 4, 3], [2, 3, 5]), ([2, 4, 3], [1, 3, 5]), ([2, 1, 4, 3], [3, 3, 5]), ([2, 3, 4, 3], [3, 5]),
            ([4, 3], [2, 2, 3, 5]), ([3, 2, 4, 3], [3, 2, 3, 5]), ([2, 4, 3], [3, 5]),
        ]
        for (a, b) in products {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                var sa = a
                var sb = b
                if ta { sa.swapAt(a.count - 1, a.count - 2) }
                if tb { sb.swapAt(b.count - 1, b.count - 2) }
                cases.append(
                    OpCase("matmul \(sa)\(ta ? "ᵀ" : "") × \(sb)\(tb ? "ᵀ" : "")", [sa, sb]) {
                        $0[0].matmul($0[1], transposeSelf: ta, transposeOther: tb)
                    })
            }
        }
        cases += [
            OpCase("matmul vector × batch", [[3], [2, 2, 3, 5]]) { $0[0].matmul($0[1]) },
            OpCase("matmul batch × vector", [[2, 2, 4, 3], [3]]) { $0[0].matmul($0[1]) },
            OpCase(
                "matmul 4-D second order", [[2, 1, 3, 2], [2, 2, 4]],
                allFirstDerivatives { xs in
                    xs[0].matmul(xs[1]).tanh().sum()
                }),
        ]
        return cases
    }
}

@Suite("Activations and normalization against PyTorch, large kernels, errors")
struct NormalizationOpTests {
    static let points: [Double] = [-3, -1.5, -0.5, 0, 0.3, 1, 2.5]

    /// `a` and `b` agree to `tolerance` relative to 1 + |b|, element by element.
    func expectClose(_ a: [Double], _ b: [Double], tolerance: Double = 1e-12, _ what: String) {
        #expect(a.count == b.count, "\(what): \(a.count) values, expected \(b.count)")
        for (i, (x, y)) in zip(a, b).enumerated() where Swift.abs(x - y) > tolerance * (1 + Swift.abs(y)) {
            Issue.record("\(what) element \(i): \(x), PyTorch \(y)")
            return
        }
    }

    // Expected values: PyTorch 2.15, float64 (torch.nn.functional.gelu / silu / elu). In Float
    // (the CPU's vectorised C kernels, the reference's libm) to 1e-6.
    @Test(
        "GELU (exact and tanh), SiLU and ELU match PyTorch",
        arguments: [(Device.cpu, false), (.reference, false), (.cpu, true), (.reference, true)])
    func activations(_ device: Device, _ inFloat: Bool) {
        func expectClose(_ a: [Double], _ b: [Double], _ what: String) {
            self.expectClose(a, b, tolerance: inFloat ? 1e-6 : 1e-12, "\(what)\(inFloat ? " in Float" : "")")
        }
        let x = Tensor<Double>(Self.points, on: device)
        func values(_ f: (Tensor<Float>) -> Tensor<Float>, _ g: (Tensor<Double>) -> Tensor<Double>) -> [Double] {
            inFloat ? f(Tensor<Float>(converting: x)).scalars.map(Double.init) : g(x).scalars
        }
        expectClose(
            values({ $0.gelu() }, { $0.gelu() }),
            [
                -0.00404969409489031, -0.10021080190328704, -0.15426876936299344, 0.0, 0.1853734266566858,
                0.841344746068543, 2.4844758366855597,
            ], "gelu")
        expectClose(
            values({ $0.gelu(approximate: .tanh) }, { $0.gelu(approximate: .tanh) }),
            [
                -0.0036373920817729943, -0.10042842301976707, -0.15428599017485606, 0.0, 0.18537092354275922,
                0.8411919906082768, 2.484915733910001,
            ], "gelu tanh")
        expectClose(
            values({ $0.silu() }, { $0.silu() }),
            [
                -0.14227761953270035, -0.2736382857095345, -0.1887703343990727, 0.0, 0.1723327550434977,
                0.7310585786300049, 2.3103545499468914,
            ], "silu")
        expectClose(
            values({ $0.elu(alpha: 0.7) }, { $0.elu(alpha: 0.7) }),
            [-0.6651490521424952, -0.5438088878960992, -0.2754285382011566, 0.0, 0.3, 1.0, 2.5], "elu")
    }

    /// `sin(0.37·i)·2` for i in 0..<24: the input the PyTorch values below were computed on.
    static func sineInput(_ shape: [Int], on device: Device = .cpu) -> Tensor<Double> {
        Tensor(shape: shape, scalars: (0..<24).map { Foundation.sin(0.37 * Double($0)) * 2 }, on: device)
    }

    static func ramp(_ shape: [Int], _ f: (Double) -> Double) -> Tensor<Double> {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { f(Double($0)) })
    }

    @Test("LayerNorm and GroupNorm with affine parameters match PyTorch", arguments: [Device.cpu, .reference])
    func layerAndGroupNorm(_ device: Device) {
        let ln = Self.sineInput([2, 3, 4], on: device).layerNorm(
            normalizedShape: [3, 4], weight: Self.ramp([3, 4]) { 1 + 0.1 * $0 }.to(device),
            bias: Self.ramp([3, 4]) { 0.05 * $0 - 0.2 }.to(device))
        // torch.nn.LayerNorm([3, 4]) with weight 1 + 0.1·j and bias 0.05·j − 0.2.
        expectClose(
            ln.scalars,
            [
                -0.7622318523740521, -0.07537673712103335, 0.6351600001185087, 1.2479392993022158, 1.6421582079750556,
                1.7190110012977144, 1.4210995252468845, 0.7464485233067889, -0.24561643116109932, -1.4382833145680227,
                -2.67081457475615, -3.7603235842437583, -1.5342388720548674, -1.663329775006171, -1.591728344342809,
                -1.2905248852896074, -0.7675901252140739, -0.07020925787224279, 0.718891386436617, 1.491915688549267,
                2.1314750895319747, 2.5289570153245684, 2.602962581739306, 2.3148122694913487,
            ], tolerance: 1e-10, "layerNorm")
        let gn = Self.sineInput([2, 4, 3], on: device).groupNorm(
            groups: 2, weight: Self.ramp([4]) { 1 + 0.1 * $0 }.to(device), bias: Self.ramp([4]) { 0.1 * $0 }.to(device))
        // torch.nn.GroupNorm(2, 4) with weight 1 + 0.1·c and bias 0.1·c.
        expectClose(
            gn.scalars,
            [
                -1.7939681292083234, -0.7930420538410594, 0.07241337278173007, 0.8537891005717527, 1.1588159850619928,
                1.0534514056606714, 1.9051676597527838, 1.3238135280798202, 0.5911549033610115, -0.12645016548867868,
                -0.9180685180278702, -1.5439620819432012, -0.8747772609529413, -0.9630081464734707,
                -0.6810988542383768, 0.026075067099053398, 0.9751459638173926, 2.069551656914821, -2.130597385365767,
                -0.37965091785881716, 0.8542367111393152, 1.6044033160949573, 1.3783674652978541, 0.3612417766995608,
            ], tolerance: 1e-10, "groupNorm")
    }

    @Test("batchNorm with batch statistics matches PyTorch's training output", arguments: [Device.cpu, .reference])
    func batchNormTraining(_ device: Device) {
        let result = Self.sineInput([2, 3, 2, 2], on: device).batchNorm()
        expectClose(
            result.output.scalars,
            [
                0.27293202966136887, 0.7699378882786047, 1.1996763354918798, 1.5039842884650676, 1.125460067160135,
                1.047379204556158, 0.6757439082644031, 0.060853272217971426, -0.15960648977167524, -0.7026521565274946,
                -1.2082793657681932, -1.6080538467275087, -1.050799406547884, -1.0949300149661902, -0.9539269125750883,
                -0.6468742078077586, -1.9231104848184426, -1.1061743985029837, -0.29131936847790163, 0.4111677996006595,
                0.900402015665697, 1.0447171454147401, 0.9899524949409808, 0.7435202027734534,
            ], tolerance: 1e-10, "batchNorm")
        #expect(result.countPerChannel == 8)
        #expect(result.mean.shape == [3] && result.variance.shape == [3])
    }

    @Test(
        "normalization and activation kernels agree with the reference at every thread count",
        arguments: [
            OpCase<Float>("batchNorm [128, 16, 28, 28]-like", [[16, 8, 30, 31], [8], [8]]) {
                OpCases.weighted($0[0].batchNorm(weight: $0[1], bias: $0[2]).output)
            },
            OpCase<Float>("batchNorm offset mean", [[32, 4, 1100]]) {
                ($0[0] + 1000).batchNorm().output
            },
            OpCase<Float>("layerNorm long rows", [[6, 2500]]) {
                OpCases.weighted($0[0].layerNorm(normalizedShape: [2500]))
            },
            OpCase<Float>("layerNorm affine, rows over several blocks", [[1030, 67], [67], [67]]) {
                OpCases.weighted($0[0].layerNorm(normalizedShape: [67], weight: $0[1], bias: $0[2]))
            },
            OpCase<Float>("layerNorm weight only", [[70, 64], [64]]) {
                OpCases.weighted($0[0].layerNorm(normalizedShape: [64], weight: $0[1]))
            },
            OpCase<Float>("layerNorm bias only, two axes", [[5, 13, 2, 8], [2, 8]]) {
                OpCases.weighted($0[0].layerNorm(normalizedShape: [2, 8], bias: $0[1]))
            },
            OpCase<Float>("groupNorm", [[8, 16, 9, 9]]) { OpCases.weighted($0[0].groupNorm(groups: 4)) },
            OpCase<Float>("activations", [[300, 400]]) { xs in
                let x = xs[0] * 4
                return x.gelu() + x.gelu(approximate: .tanh) * 2 + x.silu() * 3 + x.elu(alpha: 0.5) * 4
            },
        ])
    func largeKernels(_ op: OpCase<Float>) {
        for threads in 1...4 {
            ComputeThreads.withCount(threads) {
                BackendCrossCheckTests.crossCheck(op, tolerance: 2e-4, "\(threads) threads")
            }
        }
    }

    /// The fused layer norm's weight and bias gradients are sums over blocks of rows taken in
    /// a fixed order, so they are the same bits at any thread count.
    @Test("layerNorm's gradients are the same bits at every thread count")
    func layerNormThreadCountIndependence() {
        let x = Tensor<Float>(converting: GradCheck.input([300, 48], seed: 11)).requiringGrad()
        let w = Tensor<Float>(converting: GradCheck.input([48], seed: 12)).requiringGrad()
        let b = Tensor<Float>(converting: GradCheck.input([48], seed: 13)).requiringGrad()
        func grads() -> [[Float]] {
            let loss = OpCases.weighted(x.layerNorm(normalizedShape: [48], weight: w, bias: b)).sum()
            return gradients(of: loss, wrt: [x, w, b]).map(\.scalars)
        }
        let one = ComputeThreads.withCount(1) { grads() }
        for threads in 2...4 { #expect(ComputeThreads.withCount(threads) { grads() } == one, "\(threads) threads") }
    }

    @Test("the fused layerNorm backward pass equals the recorded one")
    func fusedAndRecordedLayerNormAgree() {
        let x = Tensor<Float>(converting: GradCheck.input([70, 24], seed: 6)).requiringGrad()
        let w = Tensor<Float>(converting: GradCheck.input([24], seed: 7)).requiringGrad()
        let b = Tensor<Float>(converting: GradCheck.input([24], seed: 8)).requiringGrad()
        let loss = { OpCases.weighted(x.layerNorm(normalizedShape: [24], weight: w, bias: b)).sum() }
        let fused = gradients(of: loss(), wrt: [x, w, b])
        let recorded = gradients(of: loss(), wrt: [x, w, b], createGraph: true)
        for (f, r) in zip(fused, recorded) {
            expectClose(f.scalars.map(Double.init), r.scalars.map(Double.init), tolerance: 1e-4, "gradient")
        }
    }

    @Test("the fused backward pass equals the recorded one")
    func fusedAndRecordedRulesAgree() {
        let x = Tensor<Double>(converting: GradCheck.input([4, 3, 5], seed: 3)).requiringGrad()
        let w = Tensor<Double>(converting: GradCheck.input([3], seed: 4)).requiringGrad()
        let b = Tensor<Double>(converting: GradCheck.input([3], seed: 5)).requiringGrad()
        let loss = { OpCases.weighted(x.batchNorm(weight: w, bias: b).output).sum() }
        let fused = gradients(of: loss(), wrt: [x, w, b])
        let recorded = gradients(of: loss(), wrt: [x, w, b], createGraph: true)
        for (f, r) in zip(fused, recorded) { expectClose(f.scalars, r.scalars, tolerance: 1e-12, "gradient") }
    }

    @Test("misuse stops with one line naming the op and the shapes", arguments: NormalizationMisuse.allCases)
    func misuse(_ misuse: NormalizationMisuse) async throws {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [misuse] in
            misuse.trigger()
        }
        let stderr = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        #expect(stderr.contains(misuse.expected), "stderr was: \(stderr.prefix(600))")
    }
}

/// Bad shapes and options for the ops of this file, each with the line it must print.
enum NormalizationMisuse: String, Codable, Sendable, CaseIterable {
    case matmulBatch, matmulInner4D, matmulScalar, transposeAxis, flattenOrder, unflattenSizes
    case batchNormRank, batchNormWeight, batchNormOneValue, batchNormStatistics, layerNormShape, layerNormWeight
    case groupNormGroups, groupNormEpsilon

    var expected: String {
        switch self {
        case .matmulBatch: "matmul: [2, 4, 3] × [3, 3, 5]: batch dimensions [2] and [3] cannot broadcast"
        case .matmulInner4D: "matmul: [2, 1, 4, 3] × [3, 2, 5]: inner dimensions 3 and 2 differ"
        case .matmulScalar: "matmul: [] × [3, 2]: expected tensors of rank ≥ 1, and no transpose of a vector"
        case .transposeAxis: "transpose: axis 3 is out of range for a tensor of rank 3"
        case .flattenOrder: "flatten: start axis 2 comes after end axis 1 for shape [2, 3, 4]"
        case .unflattenSizes:
            "unflatten: sizes [5, -1] do not split axis 1 of length 12 (shape [2, 12]); they must multiply to 12, with at most one -1"
        case .batchNormRank: "batchNorm: input [5] needs at least 2 axes ([N, C, …])"
        case .batchNormWeight: "batchNorm: weight has shape [4], expected [3] for input [2, 3, 5]"
        case .batchNormOneValue:
            "batchNorm: input [1, 3] has 1 value per channel; batch statistics need more than 1"
        case .batchNormStatistics: "batchNorm: variance has shape [2], expected [3] for input [2, 3]"
        case .layerNormShape: "layerNorm: input [2, 3, 4] does not end with the normalized shape [3]"
        case .layerNormWeight: "layerNorm: bias has shape [3, 4], expected the normalized shape [4]"
        case .groupNormGroups: "groupNorm: 6 channels of input [2, 6, 3] cannot be cut into 4 groups"
        case .groupNormEpsilon: "groupNorm: epsilon -1.0 must be ≥ 0"
        }
    }

    func trigger() {
        switch self {
        case .matmulBatch: _ = Tensor<Float>.ones([2, 4, 3]).matmul(.ones([3, 3, 5]))
        case .matmulInner4D: _ = Tensor<Float>.ones([2, 1, 4, 3]).matmul(.ones([3, 2, 5]))
        case .matmulScalar: _ = Tensor<Float>(2).matmul(.ones([3, 2]))
        case .transposeAxis: _ = Tensor<Float>.ones([2, 3, 4]).transposed(0, 3)
        case .flattenOrder: _ = Tensor<Float>.ones([2, 3, 4]).flattened(from: 2, through: 1)
        case .unflattenSizes: _ = Tensor<Float>.ones([2, 12]).unflattened(axis: 1, into: [5, -1])
        case .batchNormRank: _ = Tensor<Float>.ones([5]).batchNorm()
        case .batchNormWeight: _ = Tensor<Float>.ones([2, 3, 5]).batchNorm(weight: .ones([4]))
        case .batchNormOneValue: _ = Tensor<Float>.ones([1, 3]).batchNorm()
        case .batchNormStatistics: _ = Tensor<Float>.ones([2, 3]).batchNorm(mean: .zeros([3]), variance: .ones([2]))
        case .layerNormShape: _ = Tensor<Float>.ones([2, 3, 4]).layerNorm(normalizedShape: [3])
        case .layerNormWeight:
            _ = Tensor<Float>.ones([2, 3, 4]).layerNorm(normalizedShape: [4], weight: .ones([4]), bias: .ones([3, 4]))
        case .groupNormGroups: _ = Tensor<Float>.ones([2, 6, 3]).groupNorm(groups: 4)
        case .groupNormEpsilon: _ = Tensor<Float>.ones([2, 6, 3]).groupNorm(groups: 3, epsilon: -1)
        }
    }
}
