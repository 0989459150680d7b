import Testing

@testable import AutoDiff

/// The fused products a captured step's plan rewrites into (`linearReLU`, `matmulReLUBackward`,
/// `matmulColumnSums`, CapturePlan.swift) against the kernels they replace, run one by one on
/// the same backend: bitwise, since a replay must reproduce the eager step exactly. Shapes reach
/// the thin loops (every loop order, vector tails, one output column), the split along rows,
/// columns and the inner sum at 2 and 3 threads, and BLAS; the reference backend (whose fused
/// kernels are its unfused ones) agrees within rounding.
@Suite("Fused products")
struct FusedProductTests {
    /// (m, n, k).
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (1000, 8, 2), (1000, 8, 8), (1000, 1, 8), (8, 1, 1000), (8, 8, 1000), (2, 8, 1000), (7, 13, 5),
        (9, 5, 3), (33, 3, 64), (40, 2, 9), (6, 70, 5), (17, 33, 7), (3000, 64, 2), (3000, 3, 64), (64, 3, 3000),
        (2, 64, 3000), (20, 17, 33), (160, 180, 150),
    ]

    /// Values with exact zeros, negative zeros and NaNs among them (every `period`-th element),
    /// so the selections meet their edge cases.
    static func values(_ count: Int, seed: UInt64, period: Int = 0) -> [Double] {
        var generator = RandomGenerator(seed: seed)
        return (0..<count).map { i in
            guard period > 0 else { return generator.nextUniform() - 0.5 }
            switch i % period {
            case 1: return 0
            case 2: return -0.0
            case 3: return .nan
            default: return generator.nextUniform() - 0.5
            }
        }
    }

    static func buffer<S: TensorScalar>(_ values: [Double], _: S.Type, on device: Device) -> Buffer {
        Tensor<S>(shape: [values.count], scalars: values.map { S($0) }, on: device).storage
    }

    /// The buffer's bytes.
    static func bits<S: TensorScalar>(_ buffer: Buffer, _: S.Type) -> [UInt8] {
        Tensor<S>(shape: [buffer.count], storage: buffer).scalars.withUnsafeBytes { Array($0) }
    }

    static func doubles<S: TensorScalar>(_ buffer: Buffer, _: S.Type) -> [Double] {
        Tensor<S>(shape: [buffer.count], storage: buffer).scalars.map { Double($0) }
    }

    /// Whether `a` and `b` agree within `tolerance` (NaN where both are NaN).
    static func close(_ a: [Double], _ b: [Double], _ tolerance: Double) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { x, y in (x.isNaN && y.isNaN) || abs(x - y) <= tolerance }
    }

    /// Runs `body` at 1, 2 and 3 threads.
    static func atEveryThreadCount(_ body: (Int) -> Void) {
        for threads in 1...3 { ComputeThreads.withCount(threads) { body(threads) } }
    }

    /// At 1, 2 and 3 threads: the fused kernel's result (`run(.cpu, true)`) has the bytes of the
    /// unfused kernels' (`run(.cpu, false)`) and is within rounding of the reference backend's;
    /// `check` sees the fused result. `label` names the case.
    static func expectFusedMatchesUnfused<S: TensorScalar>(
        _: S.Type, _ label: String, k: Int, run: (Device, Bool) -> Buffer, check: ([Double]) -> Bool = { _ in true }
    ) {
        atEveryThreadCount { threads in
            let fused = run(.cpu, true)
            #expect(bits(fused, S.self) == bits(run(.cpu, false), S.self), "\(label) at \(threads) threads")
            #expect(check(doubles(fused, S.self)), "\(label) at \(threads) threads")
            #expect(
                close(doubles(fused, S.self), doubles(run(.reference, true), S.self), 1e-5 * Double(k)),
                "\(label) against the reference")
        }
    }

    @Test("linearReLU is linear then relu, bit for bit", arguments: [DType.float32, .float64])
    func linearReLU(dtype: DType) {
        if dtype == .float32 { checkLinearReLU(Float.self) } else { checkLinearReLU(Double.self) }
    }

    func checkLinearReLU<S: TensorScalar>(_: S.Type) {
        for (m, n, k) in Self.shapes {
            let inputs = (
                x: Self.values(m * k, seed: 1, period: 97), weight: Self.values(k * n, seed: 2),
                bias: Self.values(n, seed: 3, period: 5)
            )
            func run(_ device: Device, _ fused: Bool) -> Buffer {
                let backend = device.backend
                let (x, weight, bias) = (
                    Self.buffer(inputs.x, S.self, on: device), Self.buffer(inputs.weight, S.self, on: device),
                    Self.buffer(inputs.bias, S.self, on: device)
                )
                let out = backend.allocate(m * n, S.dtype)
                if fused {
                    backend.linearReLU(x, weight: weight, bias: bias, into: out, m: m, n: n, k: k)
                } else {
                    let product = backend.allocate(m * n, S.dtype)
                    backend.linear(x, weight: weight, bias: bias, into: product, m: m, n: n, k: k)
                    backend.unary(.relu, product, into: out)
                }
                return out
            }
            Self.expectFusedMatchesUnfused(S.self, "[\(m),\(k)]·[\(k),\(n)]", k: k, run: run) {
                $0.allSatisfy { $0 >= 0 && $0.sign == .plus }
            }
        }
    }

    @Test(
        "matmulReLUBackward is matmul then reluBackward, bit for bit, in every transpose combination",
        arguments: [DType.float32, .float64], [(false, false), (false, true), (true, false), (true, true)])
    func matmulReLUBackward(dtype: DType, transposes: (Bool, Bool)) {
        if dtype == .float32 {
            checkMatmulReLUBackward(Float.self, transposes)
        } else {
            checkMatmulReLUBackward(Double.self, transposes)
        }
    }

    func checkMatmulReLUBackward<S: TensorScalar>(_: S.Type, _ transposes: (Bool, Bool)) {
        let (transA, transB) = transposes
        for (m, n, k) in Self.shapes {
            let inputs = (
                a: Self.values(m * k, seed: 4), b: Self.values(k * n, seed: 5),
                keep: Self.values(m * n, seed: 6, period: 7)
            )
            func run(_ device: Device, _ fused: Bool) -> Buffer {
                let backend = device.backend
                let (a, b, keep) = (
                    Self.buffer(inputs.a, S.self, on: device), Self.buffer(inputs.b, S.self, on: device),
                    Self.buffer(inputs.keep, S.self, on: device)
                )
                let out = backend.allocate(m * n, S.dtype)
                if fused {
                    backend.matmulReLUBackward(
                        a, b, keep: keep, into: out, m: m, n: n, k: k, transposeA: transA, transposeB: transB)
                } else {
                    let product = backend.allocate(m * n, S.dtype)
                    backend.matmul(
                        a, b, into: product, batch: 1, m: m, n: n, k: k, transposeA: transA, transposeB: transB)
                    backend.binary(.reluBackward, product, [m, n], keep, [m, n], into: out, shape: [m, n])
                }
                return out
            }
            // Zero wherever keep ≤ 0 or is NaN.
            Self.expectFusedMatchesUnfused(S.self, "\(transposes) [\(m),\(k)]·[\(k),\(n)]", k: k, run: run) {
                zip($0, inputs.keep).allSatisfy { v, keep in keep > 0 || v == 0 }
            }
        }
    }

    @Test(
        "matmulDropoutBackward is matmul, maskedScale and (optionally) reluBackward, bit for bit",
        arguments: [DType.float32, .float64], [false, true])
    func matmulDropoutBackward(dtype: DType, withReLU: Bool) {
        if dtype == .float32 {
            checkMatmulDropoutBackward(Float.self, withReLU)
        } else {
            checkMatmulDropoutBackward(Double.self, withReLU)
        }
    }

    func checkMatmulDropoutBackward<S: TensorScalar>(_: S.Type, _ withReLU: Bool) {
        for (m, n, k) in Self.shapes {
            for (transA, transB) in [(false, true), (true, false)] {
                let inputs = (
                    a: Self.values(m * k, seed: 12, period: 53), b: Self.values(k * n, seed: 13),
                    keep: Self.values(m * n, seed: 14, period: 7)
                )
                var generator = RandomGenerator(seed: 15)
                let dropMask = (0..<(m * n)).map { _ in UInt8(generator.nextUniform() < 0.8 ? 1 : 0) }
                func run(_ device: Device, _ fused: Bool) -> Buffer {
                    let backend = device.backend
                    let (a, b, keep) = (
                        Self.buffer(inputs.a, S.self, on: device), Self.buffer(inputs.b, S.self, on: device),
                        Self.buffer(inputs.keep, S.self, on: device)
                    )
                    let drop = backend.allocate(m * n, .uint8)
                    dropMask.withUnsafeBytes { backend.copy(fromHost: $0.baseAddress!, into: drop) }
                    let out = backend.allocate(m * n, S.dtype)
                    if fused {
                        backend.matmulDropoutBackward(
                            a, b, dropoutKeep: drop, scale: 1.25, reluKeep: withReLU ? keep : nil, into: out, m: m,
                            n: n, k: k, transposeA: transA, transposeB: transB)
                    } else {
                        let (product, dropped) = (backend.allocate(m * n, S.dtype), backend.allocate(m * n, S.dtype))
                        backend.matmul(
                            a, b, into: product, batch: 1, m: m, n: n, k: k, transposeA: transA, transposeB: transB)
                        backend.maskedScale(product, keep: drop, scale: 1.25, into: withReLU ? dropped : out)
                        if withReLU {
                            backend.binary(.reluBackward, dropped, [m, n], keep, [m, n], into: out, shape: [m, n])
                        }
                    }
                    return out
                }
                // Zero (or NaN from a NaN product) wherever dropped.
                let label = "transposes \((transA, transB)) [\(m),\(k)]·[\(k),\(n)]"
                Self.expectFusedMatchesUnfused(S.self, label, k: k, run: run) {
                    zip($0, dropMask).allSatisfy { v, kept in kept == 1 || v == 0 || v.isNaN }
                }
            }
        }
    }

    @Test("matmulColumnSums is xᵀ·g and the sum of g over its rows, bit for bit", arguments: [DType.float32, .float64])
    func matmulColumnSums(dtype: DType) {
        if dtype == .float32 { checkMatmulColumnSums(Float.self) } else { checkMatmulColumnSums(Double.self) }
    }

    func checkMatmulColumnSums<S: TensorScalar>(_: S.Type) {
        // (m, n, k) with x [k, m] and g [k, n]; k = 1 (where the reduction copies) included.
        for (m, n, k) in Self.shapes + [(3, 5, 1), (8, 1, 3), (8, 40, 1001), (5, 37, 6)] {
            let inputs = (x: Self.values(k * m, seed: 8), g: Self.values(k * n, seed: 9, period: 11))
            func run(on device: Device, fused: Bool) -> (Buffer, Buffer) {
                let backend = device.backend
                let (x, g) = (Self.buffer(inputs.x, S.self, on: device), Self.buffer(inputs.g, S.self, on: device))
                let (c, sums) = (backend.allocate(m * n, S.dtype), backend.allocate(n, S.dtype))
                if fused {
                    backend.matmulColumnSums(x, g, into: c, columnSums: sums, m: m, n: n, k: k)
                } else {
                    backend.matmul(x, g, into: c, batch: 1, m: m, n: n, k: k, transposeA: true, transposeB: false)
                    backend.reduce(.sum, g, shape: [k, n], axes: [0], into: sums)
                }
                return (c, sums)
            }
            Self.atEveryThreadCount { threads in
                let (c, sums) = run(on: .cpu, fused: true)
                let (c0, sums0) = run(on: .cpu, fused: false)
                let label = "[\(k),\(m)]ᵀ·[\(k),\(n)] at \(threads) threads"
                #expect(Self.bits(c, S.self) == Self.bits(c0, S.self), "product \(label)")
                #expect(Self.bits(sums, S.self) == Self.bits(sums0, S.self), "sums \(label)")
                let (cr, sumsr) = run(on: .reference, fused: true)
                #expect(Self.close(Self.doubles(c, S.self), Self.doubles(cr, S.self), 1e-5 * Double(k)), "\(label)")
                #expect(
                    Self.close(Self.doubles(sums, S.self), Self.doubles(sumsr, S.self), 1e-5 * Double(k)), "\(label)")
            }
        }
    }
}

/// The plan's rewrites (`CapturePlan.fuse`) on hand-made programs: each fusion where its
/// intermediate is a temporary nothing else reads, and none where a kernel in between would see
/// a different value.
@Suite("Plan fusions")
struct PlanFusionTests {
    /// Slots 0…9 are temporaries except those listed.
    static func temporaries(except kept: Set<Int> = []) -> [Bool] { (0..<10).map { !kept.contains($0) } }

    static let shape = [6, 4]

    /// `program` after the plan's fusions (slots 0…9 temporaries, except `kept`).
    static func fused(_ program: [CapturedKernel], keeping kept: Set<Int> = []) -> [CapturedKernel] {
        var program = program
        CapturePlan.fuse(&program, isTemporary: temporaries(except: kept))
        return program
    }

    /// The plan's fusions leave `program` as it is.
    static func expectUnchanged(_ program: [CapturedKernel]) { #expect(fused(program) == program) }

    static func linear(out: Slot) -> CapturedKernel { .linear(x: 0, weight: 1, bias: 2, out: out, m: 6, n: 4, k: 3) }

    static func reluBackward(_ g: Slot, mask: Slot, out: Slot) -> CapturedKernel {
        .binary(.reluBackward, a: g, aShape: shape, b: mask, bShape: shape, out: out, shape: shape)
    }

    @Test("linear then relu becomes linearReLU, and relu's backward reads the relu's output")
    func linearReLU() {
        let program: [CapturedKernel] = [
            Self.linear(out: 3), .unary(.relu, x: 3, out: 4), Self.reluBackward(5, mask: 3, out: 6),
        ]
        #expect(
            Self.fused(program) == [
                .linearReLU(x: 0, weight: 1, bias: 2, out: 4, m: 6, n: 4, k: 3), Self.reluBackward(5, mask: 4, out: 6),
            ])
    }

    @Test("a pre-activation read by anything but relu and relu's backward, or kept, is not fused away")
    func linearReLUKept() {
        let readElsewhere: [CapturedKernel] = [
            Self.linear(out: 3), .unary(.relu, x: 3, out: 4), .reduce(.sum, x: 3, shape: Self.shape, axes: [0], out: 7),
        ]
        Self.expectUnchanged(readElsewhere)
        let kept: [CapturedKernel] = [Self.linear(out: 3), .unary(.relu, x: 3, out: 4)]
        #expect(Self.fused(kept, keeping: [3]) == kept)
        // The relu's output read before the relu writes it (as an accumulation target).
        let earlyRead: [CapturedKernel] = [
            Self.linear(out: 3),
            .scatterStrided(source: 8, destination: 4, offset: 0, strides: [4, 1], shape: Self.shape),
            .unary(.relu, x: 3, out: 4),
        ]
        Self.expectUnchanged(earlyRead)
    }

    @Test("a product read only by relu's backward takes the mask in its store, unless the mask changes in between")
    func reluBackward() {
        let product = CapturedKernel.matmul(
            a: 0, b: 1, c: 3, batch: 1, m: 6, n: 4, k: 5, transposeA: false, transposeB: true)
        #expect(
            Self.fused([product, Self.reluBackward(3, mask: 4, out: 5)]) == [
                .matmulReLUBackward(a: 0, b: 1, keep: 4, c: 5, m: 6, n: 4, k: 5, transposeA: false, transposeB: true)
            ])
        let maskWritten: [CapturedKernel] = [product, .fill(out: 4, value: 1), Self.reluBackward(3, mask: 4, out: 5)]
        Self.expectUnchanged(maskWritten)
        let productReadTwice: [CapturedKernel] = [
            product, Self.reluBackward(3, mask: 4, out: 5), .unary(.negate, x: 3, out: 6),
        ]
        Self.expectUnchanged(productReadTwice)
    }

    @Test("a product read only by dropout's backward takes its mask in its store, and relu's after it")
    func dropoutBackward() {
        let product = CapturedKernel.matmul(
            a: 0, b: 1, c: 3, batch: 1, m: 6, n: 4, k: 5, transposeA: false, transposeB: true)
        let dropped = CapturedKernel.maskedScale(x: 3, keep: 2, scale: 1.25, out: 4)
        #expect(
            Self.fused([product, dropped, Self.reluBackward(4, mask: 5, out: 6)]) == [
                .matmulDropoutBackward(
                    a: 0, b: 1, dropoutKeep: 2, scale: 1.25, reluKeep: 5, c: 6, m: 6, n: 4, k: 5, transposeA: false,
                    transposeB: true)
            ])
        // The dropped gradient also read elsewhere: only the dropout is fused.
        #expect(
            Self.fused([product, dropped, Self.reluBackward(4, mask: 5, out: 6), .unary(.negate, x: 4, out: 7)]) == [
                .matmulDropoutBackward(
                    a: 0, b: 1, dropoutKeep: 2, scale: 1.25, reluKeep: nil, c: 4, m: 6, n: 4, k: 5, transposeA: false,
                    transposeB: true),
                Self.reluBackward(4, mask: 5, out: 6), .unary(.negate, x: 4, out: 7),
            ])
        // The dropout mask rewritten between the product and the dropout: nothing fused.
        let maskWritten: [CapturedKernel] = [product, .fill(out: 2, value: 1), dropped]
        Self.expectUnchanged(maskWritten)
    }

    @Test("a weight gradient and the bias gradient of the same g become one kernel at the later one's place")
    func columnSums() {
        let gradient = CapturedKernel.matmul(
            a: 0, b: 1, c: 2, batch: 1, m: 3, n: 4, k: 6, transposeA: true, transposeB: false)
        let biasGradient = CapturedKernel.reduce(.sum, x: 1, shape: [6, 4], axes: [0], out: 3)
        let fused = CapturedKernel.matmulColumnSums(x: 0, g: 1, c: 2, columnSums: 3, m: 3, n: 4, k: 6)
        let between = CapturedKernel.unary(.negate, x: 5, out: 6)
        for order in [[gradient, between, biasGradient], [biasGradient, between, gradient]] {
            #expect(Self.fused(order) == [between, fused])
        }
        // The earlier result read in between, or g rewritten in between: unchanged.
        for order in [
            [biasGradient, .unary(.negate, x: 3, out: 6), gradient], [gradient, .fill(out: 1, value: 0), biasGradient],
            [gradient, .unary(.negate, x: 2, out: 6), biasGradient],
        ] as [[CapturedKernel]] {
            Self.expectUnchanged(order)
        }
        // A sum over another axis, or of a differently shaped g: unchanged.
        let otherAxis: [CapturedKernel] = [gradient, .reduce(.sum, x: 1, shape: [6, 4], axes: [1], out: 3)]
        Self.expectUnchanged(otherAxis)
    }

    /// A host step (DistributedDataParallel's copy of a finished gradient into its bucket, an
    /// optimizer's schedule) may read or write any buffer without naming it: no kernel moves
    /// across one, so the gradient it reads is the one the eager step had at that point.
    @Test("nothing is fused across a host step")
    func hostStepsAreBarriers() {
        let gradient = CapturedKernel.matmul(
            a: 0, b: 1, c: 2, batch: 1, m: 3, n: 4, k: 6, transposeA: true, transposeB: false)
        let biasGradient = CapturedKernel.reduce(.sum, x: 1, shape: [6, 4], axes: [0], out: 3)
        Self.expectUnchanged([gradient, .host(0), biasGradient])
        let product = CapturedKernel.matmul(
            a: 0, b: 1, c: 3, batch: 1, m: 6, n: 4, k: 5, transposeA: false, transposeB: true)
        Self.expectUnchanged([product, .host(0), Self.reluBackward(3, mask: 4, out: 5)])
        Self.expectUnchanged([Self.linear(out: 3), .host(0), .unary(.relu, x: 3, out: 4)])
    }
}
