import CKernels
import COpenBLAS
import RealModule

/// The element types a ``Tensor`` can hold: `Float` (the default for models) and `Double`
/// (what GradCheck computes in).
///
/// The protocol carries the two things that cannot be written generically: the BLAS
/// matrix product for this precision, and the name used in descriptions and files.
public protocol TensorScalar: Real, BinaryFloatingPoint, Sendable
where Self.RawSignificand: FixedWidthInteger {
    /// The name of the type as safetensors and descriptions spell it (`F32`, `F64`).
    static var dtypeName: String { get }

    /// `C ← α·op(A)·op(B) + β·C` for row-major matrices (CBLAS `?gemm`; products with a side of
    /// at most 8 run in ``ThinGemm``, where BLAS's packing would dominate).
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

    /// `out ← x·W + 1·bᵀ` for `x` `[m, k]`, `W` `[k, n]` and a bias of `n` elements or one
    /// (broadcast): a linear layer's forward product, with the bias added as the product is
    /// stored (thin products) or prefilled for BLAS to accumulate onto (β = 1).
    static func linear(
        m: Int, n: Int, k: Int, x: UnsafePointer<Self>, weight: UnsafePointer<Self>, bias: UnsafePointer<Self>,
        biasCount: Int, out: UnsafeMutablePointer<Self>)

    // The kernels (Kernels/): ops call them through the protocol, so a caller in another module
    // (NN, a user's model) still runs loops specialised for its precision.

    static func unary(_ op: UnaryKernel<Self>, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, _ n: Int)
    static func binary(
        _ op: BinaryKernel, _ a: UnsafePointer<Self>, _ sa: Int, _ b: UnsafePointer<Self>, _ sb: Int,
        _ out: UnsafeMutablePointer<Self>, _ n: Int)
    static func binary2D(
        _ op: BinaryKernel, _ a: UnsafePointer<Self>, _ ra: Int, _ ca: Int, _ b: UnsafePointer<Self>, _ rb: Int,
        _ cb: Int, _ out: UnsafeMutablePointer<Self>, _ rows: Int, _ cols: Int)
    static func reduce3D(
        _ op: ReductionKernel, _ x: UnsafePointer<Self>, _ outer: Int, _ length: Int, _ inner: Int,
        into acc: UnsafeMutablePointer<Self>)
    static func select(
        _ mask: UnsafePointer<Self>, _ sm: Int, _ a: UnsafePointer<Self>, _ sa: Int,
        _ b: UnsafePointer<Self>, _ sb: Int, _ out: UnsafeMutablePointer<Self>, _ n: Int)
    static func reduce(
        _ op: ReductionKernel, _ x: UnsafePointer<Self>, _ s: Int, _ n: Int,
        into acc: UnsafeMutablePointer<Self>)
    static func accumulate(
        _ op: ReductionKernel, _ x: UnsafePointer<Self>, _ s: Int,
        into acc: UnsafeMutablePointer<Self>, _ n: Int)
    static func copy(
        _ x: UnsafePointer<Self>, _ sx: Int, _ y: UnsafeMutablePointer<Self>, _ sy: Int, _ n: Int)
    static func bernoulli(
        _ y: UnsafeMutablePointer<Self>, _ n: Int, probability: Double, value: Self, generator: inout RandomGenerator)
    /// Inverted dropout: `y[i] = x[i]·scale` where a draw keeps element i (probability
    /// `probability`), else 0, with `keep[i]` ← 1 or 0; the same decisions as ``bernoulli``.
    static func dropout(
        _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, keep: UnsafeMutablePointer<UInt8>, _ n: Int,
        probability: Double, scale: Self, generator: inout RandomGenerator)
    /// `y[i] = x[i]·(keep[i] ? scale : 0)`.
    static func maskedScale(
        _ x: UnsafePointer<Self>, keep: UnsafePointer<UInt8>, scale: Self, _ y: UnsafeMutablePointer<Self>, _ n: Int)
    static func update(
        _ rule: UpdateKernel<Self>, _ w: UnsafeMutablePointer<Self>, _ g: UnsafePointer<Self>,
        _ state: UnsafeBufferPointer<UnsafeMutablePointer<Self>>, _ n: Int)
    static func fill(_ y: UnsafeMutablePointer<Self>, _ value: Self, _ n: Int)
    /// `Σᵢ softplus(zᵢ) − yᵢ·zᵢ`, accumulated in Double; also `sigmoid[i] = σ(zᵢ)` when given.
    static func sigmoidCrossEntropy(
        _ z: UnsafePointer<Self>, _ y: UnsafePointer<Self>, _ n: Int, sigmoid: UnsafeMutablePointer<Self>?
    ) -> Double
    /// `out[i] = (sigmoid[i] − yᵢ)·scale`.
    static func sigmoidCrossEntropyGradient(
        _ sigmoid: UnsafePointer<Self>, _ y: UnsafePointer<Self>, _ n: Int, scale: Self,
        into out: UnsafeMutablePointer<Self>)
    /// `Σᵢ logSumExp(zᵢ) − zᵢ[labelᵢ]` over the rows of `z` (`[rows, classes]`), in Double; also
    /// `probabilities[i, j] = softmax(zᵢ)ⱼ` when given.
    static func softmaxCrossEntropy(
        _ z: UnsafePointer<Self>, labels: UnsafePointer<Int>, rows: Int, classes: Int,
        probabilities: UnsafeMutablePointer<Self>?
    ) -> Double
    /// `out[i, j] = (probabilities[i, j] − [j = labelᵢ])·scale`.
    static func softmaxCrossEntropyGradient(
        _ probabilities: UnsafePointer<Self>, labels: UnsafePointer<Int>, rows: Int, classes: Int, scale: Self,
        into out: UnsafeMutablePointer<Self>)
}

@inline(__always)
private func cblasTranspose(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Float: TensorScalar {
    public static var dtypeName: String { "F32" }
    public static func linear(
        m: Int, n: Int, k: Int, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        biasCount: Int, out: UnsafeMutablePointer<Float>
    ) {
        ThinGemm.linear(
            m: m, n: n, k: k, x: x, weight: weight, bias: bias, biasCount: biasCount, out: out, thin: ad_thin_gemm_f32)
    }
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if ThinGemm.handles(m: m, n: n, k: k) {
            ad_thin_gemm_f32(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, nil, c, ldc)
            return
        }
        BLASThreads.prepare(multiplyAdds: m * n * k)
        cblas_sgemm(
            CblasRowMajor, cblasTranspose(transA), cblasTranspose(transB), blasint(m), blasint(n),
            blasint(k), alpha, a, blasint(lda), b, blasint(ldb), BLASThreads.clearedForAccumulation(c, m, n, ldc, beta),
            c, blasint(ldc))
    }
}

extension Double: TensorScalar {
    public static var dtypeName: String { "F64" }
    public static func linear(
        m: Int, n: Int, k: Int, x: UnsafePointer<Double>, weight: UnsafePointer<Double>, bias: UnsafePointer<Double>,
        biasCount: Int, out: UnsafeMutablePointer<Double>
    ) {
        ThinGemm.linear(
            m: m, n: n, k: k, x: x, weight: weight, bias: bias, biasCount: biasCount, out: out, thin: ad_thin_gemm_f64)
    }
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        if ThinGemm.handles(m: m, n: n, k: k) {
            ad_thin_gemm_f64(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, nil, c, ldc)
            return
        }
        BLASThreads.prepare(multiplyAdds: m * n * k)
        cblas_dgemm(
            CblasRowMajor, cblasTranspose(transA), cblasTranspose(transB), blasint(m), blasint(n),
            blasint(k), alpha, a, blasint(lda), b, blasint(ldb), BLASThreads.clearedForAccumulation(c, m, n, ldc, beta),
            c, blasint(ldc))
    }
}

/// Controls the number of threads OpenBLAS uses for matrix products.
///
/// Only products large enough to gain from it run on more than one thread: below
/// ``parallelThreshold`` multiply-adds a product runs on one, because waking OpenBLAS's workers
/// (which then spin, yielding, waiting for the next job) costs more than it saves and, on a
/// small machine, steals the core the rest of the training step runs on.
public enum BLASThreads {
    nonisolated(unsafe) private static var configured = 0
    nonisolated(unsafe) private static var active = 0

    /// Products with fewer multiply-adds than this run on one thread.
    public static let parallelThreshold = 4 << 20

    /// The most threads a large product may use (OpenBLAS's own default until ``set(_:)``).
    public static var count: Int {
        if configured == 0 { configured = Int(openblas_get_num_threads()) }
        return configured
    }

    /// Sets the most threads a large product may use (at least 1).
    public static func set(_ n: Int) {
        configured = max(1, n)
        active = 0
    }

    /// The β to pass to BLAS for `C ← α·op(A)·op(B) + β·C`: for β = 0, C is zeroed here and 1 is
    /// returned. OpenBLAS clears C for β = 0 with a plain loop on the calling thread before its
    /// workers start (`sgemm_beta`, 3.3% of an mnist-seed004 run's samples); memset does the same
    /// several times faster, and accumulating onto zeros gives the same C.
    @inline(__always)
    static func clearedForAccumulation<S: TensorScalar>(
        _ c: UnsafeMutablePointer<S>, _ m: Int, _ n: Int, _ ldc: Int, _ beta: S
    ) -> S {
        guard beta == 0 else { return beta }
        let size = MemoryLayout<S>.stride
        ad_zero_rows(c, m, n * size, ldc * size)
        return 1
    }

    /// Chooses the thread count for a product of `multiplyAdds` and tells OpenBLAS if it changed.
    @inline(__always)
    static func prepare(multiplyAdds: Int) {
        let wanted = multiplyAdds >= parallelThreshold ? count : 1
        if wanted != active {
            openblas_set_num_threads(Int32(wanted))
            active = wanted
        }
    }
}
