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
}
