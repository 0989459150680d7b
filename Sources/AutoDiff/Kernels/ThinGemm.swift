import CKernels

// Matrix products with one thin side (at most 8 rows, columns or inner terms), which small models
// are made of: a 2-feature input layer ([n, 2]·[2, 64]), a 3-class or 1-logit head ([n, 64]·[64, 3])
// and their gradients ([64, n]·[n, 3]). OpenBLAS packs both operands into panels before it
// multiplies, which pays on square-ish blocks but dominates when one side is this thin. The loops
// (Sources/CKernels/thin_gemm.inc) read the operands where they lie, keep partial sums in vector
// registers, and are compiled for AVX2+FMA and for the baseline, chosen when the library loads.

/// Which matrix products bypass BLAS for ``CKernels``' thin-product loops.
enum ThinGemm {
    /// The thinnest side of a product these loops take over from BLAS.
    static let maxThinSide = 8

    /// Whether a product of these sizes goes to the thin loops: one side thin, and small enough
    /// that a multi-threaded BLAS call would not pay (see ``BLASThreads/parallelThreshold``).
    @inline(__always)
    static func handles(m: Int, n: Int, k: Int) -> Bool {
        min(m, n, k) <= maxThinSide && m * n * k < BLASThreads.parallelThreshold
    }

    /// CKernels' thin product for one element type (`ad_thin_gemm_*`): transA, transB, m, n, k,
    /// α, A, lda, B, ldb, β, bias (nil: none), C, ldc.
    typealias Kernel<S> = (
        Int32, Int32, Int, Int, Int, S, UnsafePointer<S>, Int, UnsafePointer<S>, Int, S, UnsafePointer<S>?,
        UnsafeMutablePointer<S>, Int
    ) -> Void

    /// `out ← x·W + 1·bᵀ` (``TensorScalar/linear(m:n:k:x:weight:bias:biasCount:out:)``): through
    /// `thin` with the bias added as the product is stored, or with the rows prefilled with the
    /// bias for BLAS to accumulate onto (β = 1).
    @inline(__always)
    static func linear<S: TensorScalar>(
        m: Int, n: Int, k: Int, x: UnsafePointer<S>, weight: UnsafePointer<S>, bias: UnsafePointer<S>,
        biasCount: Int, out: UnsafeMutablePointer<S>, thin: Kernel<S>
    ) {
        if biasCount == n && handles(m: m, n: n, k: k) {
            thin(0, 0, m, n, k, 1, x, k, weight, n, 0, bias, out, n)
            return
        }
        CPUKernels.fillRows(out, with: bias, biasCount, rows: m, columns: n)
        if m > 0 && n > 0 && k > 0 {
            S.gemm(
                transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: x, lda: k, b: weight, ldb: n, beta: 1,
                c: out, ldc: n)
        }
    }
}
