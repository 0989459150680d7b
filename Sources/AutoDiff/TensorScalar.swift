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
        ThinGemm.gemm(
            transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta,
            c: c, ldc: ldc, thin: ad_thin_gemm_f32, blas: cblas_sgemm,
            zeroSkipping: ZeroSkipping.Kernels(
                scan: { ad_nonzero_columns_f32($0, $1, $2, $3, $4.assumingMemoryBound(to: UInt32.self), $5) },
                gather: ad_gather_runs_f32))
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
        ThinGemm.gemm(
            transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta,
            c: c, ldc: ldc, thin: ad_thin_gemm_f64, blas: cblas_dgemm,
            zeroSkipping: ZeroSkipping.Kernels(
                scan: { ad_nonzero_columns_f64($0, $1, $2, $3, $4.assumingMemoryBound(to: UInt64.self), $5) },
                gather: ad_gather_runs_f64))
    }
}
