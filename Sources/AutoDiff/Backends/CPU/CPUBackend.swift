import CMalloc

/// The host CPU's backend (``Device/cpu``): vectorised Swift and C loops, OpenBLAS for large
/// products, register-tiled loops for thin ones, and one pool of threads (``ComputeThreads``)
/// for everything large.
///
/// Each requirement picks the kernels of the buffers' element type (``CPUKernels``) once, so
/// the loops below it are specialised for `Float` or `Double`.
public final class CPUBackend: HostMemoryBackend {
    /// The one instance, behind ``Device/cpu``.
    public static let shared = CPUBackend()

    public var name: String { "cpu" }

    private init() {
        // Training allocates and frees the same buffers every step. With glibc's defaults,
        // buffers above 128 KiB come from mmap (zeroed pages, a fault per page, every time) and
        // freed memory at the top of the heap is returned to the system, to be faulted in again
        // on the next step. Keep a step's working set instead: buffers up to 32 MiB come from the
        // heap and up to 64 MiB of freed memory stays mapped for reuse. Larger buffers (whole
        // data sets) still come from mmap and go back to the system when freed.
        mallopt(M_MMAP_THRESHOLD, 32 << 20)
        mallopt(M_TRIM_THRESHOLD, 64 << 20)
    }

    private let f32 = CPUKernels<Float>.float
    private let f64 = CPUKernels<Double>.double

    // MARK: Elementwise

    public func fill(_ out: Buffer, with value: Double) {
        switch out.dtype {
        case .float32: f32.fill(out, value)
        case .float64: f64.fill(out, value)
        case .uint8: out.host(UInt8.self).update(repeating: UInt8(value), count: out.count)
        }
    }

    public func unary(_ op: UnaryKernel, _ x: Buffer, into out: Buffer) {
        switch x.dtype {
        case .float32: f32.unary(op, x, out)
        case .float64: f64.unary(op, x, out)
        case .uint8: unsupported(x.dtype, "unary")
        }
    }

    public func binary(
        _ op: BinaryKernel, _ a: Buffer, _ aShape: [Int], _ b: Buffer, _ bShape: [Int], into out: Buffer, shape: [Int]
    ) {
        switch a.dtype {
        case .float32: f32.binary(op, a, aShape, b, bShape, out, shape)
        case .float64: f64.binary(op, a, aShape, b, bShape, out, shape)
        case .uint8: unsupported(a.dtype, "binary")
        }
    }

    public func select(
        _ mask: Buffer, _ maskShape: [Int], _ a: Buffer, _ aShape: [Int], _ b: Buffer, _ bShape: [Int],
        into out: Buffer, shape: [Int]
    ) {
        switch a.dtype {
        case .float32: f32.select(mask, maskShape, a, aShape, b, bShape, out, shape)
        case .float64: f64.select(mask, maskShape, a, aShape, b, bShape, out, shape)
        case .uint8: unsupported(a.dtype, "select")
        }
    }

    public func copy(_ source: StridedView, into out: Buffer, shape: [Int]) {
        switch out.dtype {
        case .float32: f32.copy(source, out, shape)
        case .float64: f64.copy(source, out, shape)
        case .uint8: unsupported(out.dtype, "copy")
        }
    }

    public func copy(_ source: Buffer, into destination: StridedView, shape: [Int]) {
        switch source.dtype {
        case .float32: f32.copy(source, destination, shape)
        case .float64: f64.copy(source, destination, shape)
        case .uint8: unsupported(source.dtype, "copy")
        }
    }

    public func convert(_ x: Buffer, into out: Buffer) {
        switch (x.dtype, out.dtype) {
        case (.float32, .float64): CPULoops.convert(x.host(Float.self), out.host(Double.self), x.count)
        case (.float64, .float32): CPULoops.convert(x.host(Double.self), out.host(Float.self), x.count)
        case _ where x.dtype == out.dtype:
            out.hostAddress.copyMemory(from: x.hostAddress, byteCount: x.count * x.dtype.byteCount)
        default: unsupported(x.dtype, "convert to \(out.dtype)")
        }
    }

    // MARK: Reductions

    public func reduce(_ op: ReductionKernel, _ x: Buffer, shape: [Int], axes: [Int], into out: Buffer) {
        switch x.dtype {
        case .float32: f32.reduce(op, x, shape, axes, out)
        case .float64: f64.reduce(op, x, shape, axes, out)
        case .uint8: unsupported(x.dtype, "reduce")
        }
    }

    public func logSumExp(_ x: Buffer, outer: Int, length: Int, inner: Int, into out: Buffer) {
        switch x.dtype {
        case .float32: f32.logSumExp(x, outer, length, inner, out)
        case .float64: f64.logSumExp(x, outer, length, inner, out)
        case .uint8: unsupported(x.dtype, "logSumExp")
        }
    }

    public func argReduce(_ op: ReductionKernel, _ x: Buffer, outer: Int, length: Int, inner: Int) -> [Int] {
        switch x.dtype {
        case .float32: f32.argReduce(op, x, outer, length, inner)
        case .float64: f64.argReduce(op, x, outer, length, inner)
        case .uint8: unsupported(x.dtype, "argReduce")
        }
    }

    public func firstNonFinite(_ x: Buffer) -> Int? {
        switch x.dtype {
        case .float32: f32.firstNonFinite(x)
        case .float64: f64.firstNonFinite(x)
        case .uint8: nil
        }
    }

    // MARK: Products

    public func matmul(
        _ a: Buffer, _ b: Buffer, into c: Buffer, batch: Int, m: Int, n: Int, k: Int, transposeA: Bool,
        transposeB: Bool
    ) {
        switch a.dtype {
        case .float32: f32.matmul(a, b, c, batch, m, n, k, transposeA, transposeB)
        case .float64: f64.matmul(a, b, c, batch, m, n, k, transposeA, transposeB)
        case .uint8: unsupported(a.dtype, "matmul")
        }
    }

    public func linear(_ x: Buffer, weight: Buffer, bias: Buffer, into out: Buffer, m: Int, n: Int, k: Int) {
        switch x.dtype {
        case .float32: f32.linear(x, weight, bias, out, m, n, k)
        case .float64: f64.linear(x, weight, bias, out, m, n, k)
        case .uint8: unsupported(x.dtype, "linear")
        }
    }

    // MARK: Indexing

    public func indexSelect(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: [Int], into out: Buffer) {
        switch x.dtype {
        case .float32: f32.indexSelect(x, outer, length, inner, indices, out)
        case .float64: f64.indexSelect(x, outer, length, inner, indices, out)
        case .uint8: unsupported(x.dtype, "indexSelect")
        }
    }

    public func indexAdd(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: [Int], into out: Buffer) {
        switch x.dtype {
        case .float32: f32.indexAdd(x, outer, length, inner, indices, out)
        case .float64: f64.indexAdd(x, outer, length, inner, indices, out)
        case .uint8: unsupported(x.dtype, "indexAdd")
        }
    }

    public func gather(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: [Int], into out: Buffer) {
        switch x.dtype {
        case .float32: f32.gather(x, outer, length, inner, indices, out)
        case .float64: f64.gather(x, outer, length, inner, indices, out)
        case .uint8: unsupported(x.dtype, "gather")
        }
    }

    public func scatterAdd(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: [Int], into out: Buffer) {
        switch x.dtype {
        case .float32: f32.scatterAdd(x, outer, length, inner, indices, out)
        case .float64: f64.scatterAdd(x, outer, length, inner, indices, out)
        case .uint8: unsupported(x.dtype, "scatterAdd")
        }
    }

    // MARK: Randomness

    public func bernoulli(_ out: Buffer, probability: Double, value: Double, generator: inout RandomGenerator) {
        switch out.dtype {
        case .float32: f32.bernoulli(out, probability, value, &generator)
        case .float64: f64.bernoulli(out, probability, value, &generator)
        case .uint8: unsupported(out.dtype, "bernoulli")
        }
    }

    public func dropout(
        _ x: Buffer, into out: Buffer, keep: Buffer, probability: Double, scale: Double,
        generator: inout RandomGenerator
    ) {
        switch x.dtype {
        case .float32: f32.dropout(x, out, keep, probability, scale, &generator)
        case .float64: f64.dropout(x, out, keep, probability, scale, &generator)
        case .uint8: unsupported(x.dtype, "dropout")
        }
    }

    public func maskedScale(_ x: Buffer, keep: Buffer, scale: Double, into out: Buffer) {
        switch x.dtype {
        case .float32: f32.maskedScale(x, keep, scale, out)
        case .float64: f64.maskedScale(x, keep, scale, out)
        case .uint8: unsupported(x.dtype, "maskedScale")
        }
    }

    // MARK: Fused losses

    public func sigmoidCrossEntropy(_ z: Buffer, targets y: Buffer, sigmoid: Buffer?) -> Double {
        switch z.dtype {
        case .float32: f32.sigmoidCrossEntropy(z, y, sigmoid)
        case .float64: f64.sigmoidCrossEntropy(z, y, sigmoid)
        case .uint8: unsupported(z.dtype, "sigmoidCrossEntropy")
        }
    }

    public func sigmoidCrossEntropyGradient(sigmoid: Buffer, targets y: Buffer, scale: Double, into out: Buffer) {
        switch out.dtype {
        case .float32: f32.sigmoidCrossEntropyGradient(sigmoid, y, scale, out)
        case .float64: f64.sigmoidCrossEntropyGradient(sigmoid, y, scale, out)
        case .uint8: unsupported(out.dtype, "sigmoidCrossEntropyGradient")
        }
    }

    public func softmaxCrossEntropy(_ z: Buffer, labels: [Int], rows: Int, classes: Int, probabilities: Buffer?) -> Double
    {
        switch z.dtype {
        case .float32: f32.softmaxCrossEntropy(z, labels, rows, classes, probabilities)
        case .float64: f64.softmaxCrossEntropy(z, labels, rows, classes, probabilities)
        case .uint8: unsupported(z.dtype, "softmaxCrossEntropy")
        }
    }

    public func softmaxCrossEntropyGradient(
        probabilities: Buffer, labels: [Int], rows: Int, classes: Int, scale: Double, into out: Buffer
    ) {
        switch out.dtype {
        case .float32: f32.softmaxCrossEntropyGradient(probabilities, labels, rows, classes, scale, out)
        case .float64: f64.softmaxCrossEntropyGradient(probabilities, labels, rows, classes, scale, out)
        case .uint8: unsupported(out.dtype, "softmaxCrossEntropyGradient")
        }
    }

    // MARK: Optimizer updates

    public func update(_ rule: UpdateKernel, weights: Buffer, gradient: Buffer, state: [Buffer]) {
        switch weights.dtype {
        case .float32: f32.update(rule, weights, gradient, state)
        case .float64: f64.update(rule, weights, gradient, state)
        case .uint8: unsupported(weights.dtype, "update")
        }
    }
}

/// Stops with a message naming a kernel asked to compute in a type it has no loops for (a
/// programming error in an op: every op checks its element types before it calls a kernel).
func unsupported(_ dtype: DType, _ kernel: String) -> Never {
    tensorFailure("internal: kernel \(kernel) has no \(dtype) implementation")
}
