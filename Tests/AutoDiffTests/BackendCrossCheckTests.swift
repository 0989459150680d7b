import AutoDiff
import GradCheck
import Testing

/// The CPU backend against the reference backend (plain loops, the specification of every
/// kernel): each op's value and gradients, in Float and Double, on both devices.
///
/// Results may differ by rounding (the CPU sums in a different order, uses FMA, vector math
/// and BLAS), so values are compared within a tolerance relative to the largest magnitude of
/// the reference result; NaN must be NaN on both sides. Random masks are compared exactly.
@Suite("CPU backend against the reference backend")
struct BackendCrossCheckTests {
    static let floatCases = OpCases.all(Float.self)
    static let doubleCases = OpCases.all(Double.self)

    @Test("every op's value and gradients agree, in Float", arguments: floatCases)
    func everyOpInFloat(_ op: OpCase<Float>) {
        BackendCrossCheckTests.crossCheck(op, tolerance: 2e-5)
    }

    @Test("every op's value and gradients agree, in Double", arguments: doubleCases)
    func everyOpInDouble(_ op: OpCase<Double>) {
        BackendCrossCheckTests.crossCheck(op, tolerance: 1e-12)
    }

    @Test("every primitive op has a cross-check case")
    func everyPrimitiveIsCrossChecked() {
        var covered = Set<OpKind>()
        for op in Self.floatCases {
            let tracked = op.inputs().map { $0.to(.reference).requiringGrad() }
            covered.formUnion(op.f(tracked).recordedOps)
        }
        let missing = OpKind.allCases.filter { !covered.contains($0) }
        #expect(missing.isEmpty, "no cross-check case exercises: \(missing.map(\.rawValue))")
    }

    @Test(
        "large kernels agree at every thread count, through the split, thin-product, BLAS and zero-skipping paths",
        arguments: LargeCases.all(Float.self))
    func largeInFloat(_ op: OpCase<Float>) {
        for threads in 1...4 {
            ComputeThreads.withCount(threads) {
                BackendCrossCheckTests.crossCheck(op, tolerance: 2e-4, "\(threads) threads")
            }
        }
    }

    @Test("large kernels agree at every thread count, in Double", arguments: LargeCases.all(Double.self))
    func largeInDouble(_ op: OpCase<Double>) {
        for threads in 1...4 {
            ComputeThreads.withCount(threads) {
                BackendCrossCheckTests.crossCheck(op, tolerance: 1e-11, "\(threads) threads")
            }
        }
    }

    /// Runs `op` on inputs on each device, and its vector-Jacobian product for a fixed upstream
    /// gradient, and compares the results.
    static func crossCheck<S: TensorScalar>(_ op: OpCase<S>, tolerance: Double, _ context: String = "") {
        func run(on device: Device) -> [[S]] {
            let inputs = op.inputs().map { $0.to(device).requiringGrad() }
            let output = op.f(inputs)
            let upstream = Tensor<S>(converting: GradCheck.input(output.shape, seed: 99)).to(output.device)
            guard output.requiresGrad else { return [output.scalars] }
            let grads = gradients(of: output, wrt: inputs, seed: upstream)
            return [output.scalars] + grads.map(\.scalars)
        }
        let cpu = run(on: .cpu)
        let reference = run(on: .reference)
        #expect(cpu.count == reference.count)
        for (index, (a, b)) in zip(cpu, reference).enumerated() {
            let what = index == 0 ? "value" : "gradient of input \(index - 1)"
            #expect(a.count == b.count, "\(op.name): \(what) sizes differ")
            let scale = Swift.max(1, b.lazy.filter(\.isFinite).map { Double(Swift.abs($0)) }.max() ?? 1)
            for (i, (x, y)) in zip(a, b).enumerated() {
                let agree = x.isNaN ? y.isNaN : (x == y || Double(Swift.abs(x - y)) <= tolerance * scale)
                if !agree {
                    Issue.record("\(op.name) \(context): \(what) element \(i): cpu \(x), reference \(y)")
                    return
                }
            }
        }
    }
}

/// Cases large enough that the CPU backend splits them across threads and takes its fast paths:
/// elementwise work above ``ComputeThreads/elementThreshold``, reductions along the long and
/// the short axis, products through the thin loops (split by rows, columns and the inner sum),
/// through blocked BLAS, and without op(A)'s zero columns or rows, multi-block dropout masks,
/// and the fused losses.
enum LargeCases {
    static func all<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        var cases: [OpCase<S>] = [
            OpCase("elementwise chain", [[300, 400]]) { xs in
                let x = xs[0]
                return x.exp() * x.tanh() + x.relu() - x.sigmoid() / (x.softplus() + 1) + x.abs().sqrt()
            },
            OpCase("broadcast row and column", [[300, 400], [400], [300, 1]]) { ($0[0] + $0[1]) * $0[2] },
            OpCase("broadcast both sides", [[300, 1], [1, 400]]) { maximum($0[0], $0[1]) },
            OpCase("sum long axis", [[3, 40000]]) { $0[0].sum(alongAxis: 1) },
            OpCase("sum short axis", [[40000, 3]]) { $0[0].sum(alongAxis: 0) },
            OpCase("sum middle axis", [[20, 3000, 4]]) { $0[0].sum(alongAxis: 1) },
            OpCase("max long axis", [[3, 40000]]) { $0[0].max(alongAxis: 1) },
            // All axes but a middle block reduced: a convolution's bias gradient.
            OpCase("sum all but the channels", [[64, 16, 14, 14]]) { $0[0].sum(alongAxes: [0, 2, 3]) },
            OpCase("max all but the middle axis", [[60, 30, 70]]) { $0[0].max(alongAxes: [0, 2]) },
            OpCase("mean all", [[300, 400]]) { $0[0].mean() },
            OpCase("logSumExp rows", [[3000, 20]]) { ($0[0] * 10).logSumExp(alongAxes: [1]) },
            OpCase("softmax rows", [[3000, 20]]) { $0[0].softmax(alongAxis: 1) },
            OpCase("softmaxCrossEntropy", [[3000, 10]]) {
                Tensor.softmaxCrossEntropy(logits: $0[0] * 5, labels: (0..<3000).map { $0 % 10 })
            },
            OpCase("sigmoidCrossEntropy", [[400, 250], [400, 250]]) {
                Tensor.sigmoidCrossEntropy(logits: $0[0] * 8, targets: $0[1].sigmoid())
            },
            OpCase("dropout, three mask blocks", [[200, 201]]) { xs in
                var generator = RandomGenerator(seed: 21)
                return xs[0].dropout(rate: 0.25, generator: &generator)
            },
            OpCase("indexSelect rows", [[5000, 64]]) {
                $0[0].indexSelect(alongAxis: 0, indices: (0..<3000).map { $0 * 7 % 5000 })
            },
            OpCase("linear thin input layer", [[3000, 2], [2, 64], [64]]) {
                Tensor.linear($0[0], weight: $0[1], bias: $0[2])
            },
            OpCase("linear thin head", [[3000, 64], [64, 3], [3]]) { Tensor.linear($0[0], weight: $0[1], bias: $0[2]) },
            OpCase("linear through BLAS", [[256, 300], [300, 100], [100]]) {
                Tensor.linear($0[0], weight: $0[1], bias: $0[2])
            },
            OpCase("thin product split along the inner sum", [[4, 30000], [30000, 3]]) { $0[0].matmul($0[1]) },
        ]
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = ta ? [300, 200] : [200, 300]
            let b = tb ? [100, 300] : [300, 100]
            cases.append(
                OpCase("BLAS product ta \(ta) tb \(tb)", [a, b]) {
                    $0[0].matmul($0[1], transposeSelf: ta, transposeOther: tb)
                })
            // op(A) with two thirds of its columns (inner terms) or rows zero, as blank pixels.
            let zeroPattern = (0..<(a[0] * a[1])).map { e in S(((ta ? e / a[1] : e % a[1]) % 3 == 1) ? 1 : 0) }
            cases.append(
                OpCase("zero-skipping product ta \(ta) tb \(tb)", [a, b]) { xs in
                    let zeroColumns = Tensor<S>(shape: a, scalars: zeroPattern, on: xs[0].device)
                    return (xs[0] * zeroColumns).matmul(xs[1], transposeSelf: ta, transposeOther: tb)
                })
        }
        return cases
    }
}

@Suite("Kernels outside the tape, on both backends")
struct UnrecordedKernelCrossCheckTests {
    @Test("optimizer updates agree with the reference, split across threads", arguments: [37, 100_003])
    func updates(n: Int) {
        let rules: [UpdateKernel] = [
            .sgd(lr: 0.1, decay: 0.999, momentum: 0, nesterov: false),
            .sgd(lr: 0.1, decay: 1, momentum: 0.9, nesterov: false),
            .sgd(lr: 0.1, decay: 1, momentum: 0.9, nesterov: true),
            .adagrad(lr: 0.01, decay: 1, epsilon: 1e-10),
            .rmsprop(lr: 0.01, decay: 0.99, rho: 0.99, epsilon: 1e-8),
            .adam(
                lr: 0.01, decay: 0.999, beta1: 0.9, beta2: 0.999, c1: 1 / 0.19, c2: 1 / 0.001999, epsilon: 1e-8,
                amsgrad: false),
            .adam(
                lr: 0.01, decay: 1, beta1: 0.9, beta2: 0.999, c1: 1 / 0.19, c2: 1 / 0.001999, epsilon: 1e-8,
                amsgrad: true),
        ]
        let slots = [0, 1, 1, 1, 1, 2, 3]
        for (rule, slotCount) in zip(rules, slots) {
            for threads in [1, 2, 4] {
                func run(on device: Device) -> [[Float]] {
                    var w = Tensor<Float>(converting: GradCheck.input([n], seed: 1)).to(device)
                    let g = Tensor<Float>(converting: GradCheck.input([n], seed: 2)).to(device)
                    var state = (0..<slotCount).map {
                        Tensor<Float>(converting: GradCheck.positiveInput([n], seed: UInt64(3 + $0))).to(device)
                    }
                    ComputeThreads.withCount(threads) { w.update(rule, gradient: g, state: &state) }
                    return [w.scalars] + state.map(\.scalars)
                }
                for (a, b) in zip(run(on: .cpu), run(on: .reference)) {
                    let worst = zip(a, b).map { Swift.abs($0 - $1) }.max() ?? 0
                    #expect(worst <= 1e-6, "\(rule), \(threads) threads: differs by \(worst)")
                }
            }
        }
    }

    @Test("masks, comparisons, conversions, one-hot rows and argmax agree exactly")
    func unrecorded() {
        func run(on device: Device) -> [[Double]] {
            var generator = RandomGenerator(seed: 5)
            let mask = Tensor<Float>.randomBernoulli(
                [70_000], probability: 0.3, value: 2, generator: &generator, on: device)
            let x = Tensor<Double>(converting: GradCheck.input([40, 30], seed: 8)).to(device)
            let y = Tensor<Double>(converting: GradCheck.input([30], seed: 9)).to(device)
            let comparisons = [x .< y, x .<= y, x .> y, x .>= y, x .== x, x .!= y, x .> 0.2, x .< -0.2, x .== 0]
            return [mask.scalars.map(Double.init), Tensor<Float>(converting: x).scalars.map(Double.init)]
                + comparisons.map(\.scalars)
                + [Tensor<Double>.oneHot([3, 0, 2], classes: 4, on: device).scalars]
                + [x.argmax(alongAxis: 1).scalars.map(Double.init), x.argmin(alongAxis: 0).scalars.map(Double.init)]
        }
        let (cpu, reference) = (run(on: .cpu), run(on: .reference))
        for (index, (a, b)) in zip(cpu, reference).enumerated() { #expect(a == b, "result \(index)") }
    }

    @Test("integer kernels agree exactly: conversions both ways, argmax along every axis, max pooling's indices")
    func integerKernels() {
        func run<S: TensorScalar>(on device: Device, _: S.Type) -> [[Int]] {
            let x = Tensor<S>(converting: GradCheck.input([4, 5, 6], seed: 12)).to(device) * 7
            let special = Tensor<S>(
                [-2.75, -0.5, 0.5, 2.99, 3, -0.0, .nan, .infinity, -.infinity, 1e30, -4], on: device)
            // The kernel's report of the first inexact value, and the truncated integers.
            let truncated = IndexTensor(converting: special)
            var results = [truncated.scalars, IndexTensor(converting: x).scalars]
            results += [
                Tensor<S>(converting: IndexTensor([Int.max, -3, 1 << 40, 0], on: device)).scalars.map { Int($0 / 1024) }
            ]
            results += (0..<3).flatMap { [x.argmax(alongAxis: $0).scalars, x.argmin(alongAxis: $0).scalars] }
            let image = Tensor<S>(converting: GradCheck.input([2, 3, 7, 9], seed: 13)).to(device).requiringGrad()
            let pooled = image.maxPool2d(kernelSize: [3, 2], stride: 2, padding: [1, 0], dilation: 1, ceilMode: true)
            // The gradient of a sum of distinct weights shows where each maximum came from.
            let weights = Tensor<S>(converting: IndexTensor.arange(to: pooled.count, on: device)).reshaped(pooled.shape)
            (pooled * weights).sum().backward()
            results.append(image.grad!.scalars.map { Int($0) })
            return results
        }
        for (cpu, reference) in [
            (run(on: .cpu, Float.self), run(on: .reference, Float.self)),
            (run(on: .cpu, Double.self), run(on: .reference, Double.self)),
        ] {
            for (index, (a, b)) in zip(cpu, reference).enumerated() { #expect(a == b, "result \(index)") }
        }
        #expect(run(on: .cpu, Float.self)[0] == [-2, 0, 0, 2, 3, 0, Int.min, Int.min, Int.min, Int.min, -4])
    }

    @Test("index kernels report the first index out of range at the same position on both devices")
    func indexReports() {
        func reports(on device: Device) -> [Int?] {
            let backend = device.backend
            func buffer<T>(_ values: [T], _ dtype: DType) -> Buffer {
                let buffer = backend.allocate(values.count, dtype)
                values.withUnsafeBytes { backend.copy(fromHost: $0.baseAddress!, into: buffer) }
                return buffer
            }
            let x = buffer([Float](repeating: 1, count: 12), .float32)
            let indices = buffer([0, 2, -1, 5, 7, 1], .int64)
            let (scratch, loss) = (backend.allocate(64, .float32), backend.allocate(1, .float32))
            let labels = buffer([1, 3, 4], .int64)
            let pairs = buffer([Float](repeating: 1, count: 6), .float32)
            // Two slices of ten indices: the CPU checks a slice eight lanes at a time, then the rest.
            let twenty = buffer([Float](repeating: 1, count: 20), .float32)
            func slices(_ bad: Int, at position: Int) -> Buffer {
                var values = (0..<20).map { $0 % 9 }
                values[position] = bad
                return buffer(values, .int64)
            }
            return [
                backend.indexSelect(x, outer: 1, length: 3, inner: 4, indices: indices, into: scratch),
                backend.indexAdd(x, outer: 1, length: 5, inner: 4, indices: indices, into: scratch),
                backend.gather(x, outer: 2, length: 6, inner: 1, indices: indices, into: scratch),
                backend.scatterAdd(pairs, outer: 1, length: 6, inner: 1, indices: indices, into: scratch),
                backend.softmaxCrossEntropy(x, labels: labels, rows: 3, classes: 4, probabilities: nil, into: loss),
                backend.softmaxCrossEntropyGradient(
                    probabilities: x, labels: labels, rows: 3, classes: 4, scale: buffer([1], .float32), into: scratch),
                backend.convert(buffer([1, 2, 2.5, 3.5], .float64), into: backend.allocate(4, .int64)),
                backend.convert(buffer([1, 2, 3, -0.0], .float64), into: backend.allocate(4, .int64)),
                backend.indexSelect(x, outer: 1, length: 3, inner: 4, indices: buffer([2, 0], .int64), into: scratch),
                backend.scatterAdd(twenty, outer: 2, length: 9, inner: 1, indices: slices(9, at: 13), into: scratch),
                backend.scatterAdd(twenty, outer: 2, length: 9, inner: 1, indices: slices(-3, at: 5), into: scratch),
                backend.scatterAdd(twenty, outer: 2, length: 9, inner: 1, indices: slices(8, at: 19), into: scratch),
                backend.scatterAdd(twenty, outer: 1, length: 9, inner: 2, indices: slices(11, at: 17), into: scratch),
            ]
        }
        #expect(reports(on: .cpu) == [2, 2, 2, 2, 2, 2, 2, nil, nil, 13, 5, nil, 17])
        #expect(reports(on: .reference) == [2, 2, 2, 2, 2, 2, 2, nil, nil, 13, 5, nil, 17])
    }
}
