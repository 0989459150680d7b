import CKernels
import COpenBLAS

// Matrix products with one thin side (at most 8 rows, columns or inner terms), which small models
// are made of: a 2-feature input layer ([n, 2]·[2, 64]), a 3-class or 1-logit head ([n, 64]·[64, 3])
// and their gradients ([64, n]·[n, 3]). OpenBLAS packs both operands into panels before it
// multiplies, which pays on square-ish blocks but dominates when one side is this thin. The loops
// (Sources/CKernels/thin_gemm.inc) read the operands where they lie, keep partial sums in vector
// registers, and are compiled for AVX-512, AVX2+FMA and the baseline, chosen when the library
// loads. On AVX-512 machines the float loops, sixteen wide, also beat OpenBLAS's Haswell kernels
// on products whose B fits in L1 (``Products/maxSixteenWideB``), and take those too.

/// Matrix products on the CPU: thin ones through ``CKernels``' thin-product loops, Float ones
/// with at least ``minPackedSide`` rows and columns of C through the packed AVX-512 kernel on CPUs
/// that have it (`ad_gemm_f32_avx512`), the rest through OpenBLAS in blocks of C split across
/// ``ComputeThreads``; the last two without op(A)'s zero columns when it has enough of them
/// (``ZeroSkipping``).
enum Products {
    /// The thinnest side of a product these loops take over from BLAS.
    static let maxThinSide = 8

    /// Whether a product of these sizes goes to the thin loops: one side thin, and small enough
    /// that a multi-threaded BLAS call would not pay (see ``ComputeThreads/parallelThreshold``).
    @inline(__always)
    static func handles(m: Int, n: Int, k: Int) -> Bool {
        min(m, n, k) <= maxThinSide && m * n * k < ComputeThreads.parallelThreshold
    }

    /// Whether this CPU runs CKernels' sixteen-wide AVX-512 float product (`ad_thin_gemm_f32x16`).
    static let sixteenWide = ad_cpu_isa() >= AD_ISA_AVX512

    /// The largest op(B) (k·n elements, 64 KB) the AVX-512 float loops take from BLAS at any m:
    /// up to this size they keep B in L1 and 4 × 32 tiles of C in registers, and were measured
    /// 1.3–2× faster than one OpenBLAS thread with its Haswell kernels on the MNIST models'
    /// products ([128,128]·[128,64]: 9.1 against 17.9 µs; [128,64]·[64,10]: 1.7 against 2.3 µs;
    /// `bench thin-products`), so also faster than BLAS on two threads when ``run(_:transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:bias:c:ldc:)``
    /// splits them the same way. Must match TILED_B_LIMIT in Sources/CKernels/kernels.c.
    static let maxSixteenWideB = 16384

    /// The fewest rows and columns of C for which the packed AVX-512 kernel (`ad_gemm_f32_avx512`)
    /// takes a product from OpenBLAS. It packs all of op(B) (a cost of k·n against m·n·k
    /// multiply-adds) and each part packs op(A) (m·k against m·n·k), in tiles of 14 × 32: with few
    /// rows or columns of C the packing and the tiles' unused lanes cost more than the wider
    /// vectors save. One thread, GFLOP/s packed against OpenBLAS's Haswell kernels (a C harness
    /// over both, 2026-11-26, a loaded machine): [24,300]·[300,1000] 61–73 against 39–58,
    /// [16,300]·[300,1000] 25–68 against 30–75, [8,4096]·[4096,4096] 15 against 40;
    /// [1000,1000]·[1000,32] 77 against 48, [1000,1000]·[1000,24] 52–67 against 48–53,
    /// [1000,2000]·[2000,12] 32 against 51; from 40 rows and columns up about 2× (`bench gemm`).
    static let minPackedSide = 24

    /// ``handles(m:n:k:)`` for element type `S`: on AVX-512 machines the float loops also take
    /// every product with rows of C wider than ``maxThinSide`` and op(B) up to
    /// ``maxSixteenWideB``, unless C has at least ``minPackedSide`` rows and columns: those go to
    /// the packed kernel, whose 14 × 32 tiles do 28 multiply-adds per two loads of B where the
    /// loops' 4 × 32 do 8. On gpt-words, whose forward and input-gradient products are all
    /// [1024, 64–256]·[64–256, 64–256], that took one thread from 10.9–11.0 s to 9.7–9.8 s and
    /// two from 6.2–7.3 s to 5.6–6.0 (`bench gpt-words`, alternating runs, 2026-11-27); spiral,
    /// mnist-b128 and mnist-seed004 were unchanged within their noise.
    @inline(__always)
    static func handles<S: TensorScalar>(_: S.Type, m: Int, n: Int, k: Int) -> Bool {
        handles(m: m, n: n, k: k)
            || (S.self == Float.self && sixteenWide && n > maxThinSide && k * n <= maxSixteenWideB
                && min(m, n) < minPackedSide)
    }

    /// CKernels' thin product for one element type (`ad_thin_gemm_*`): transA, transB, m, n, k,
    /// α, A, lda, B, ldb, β, bias (nil: none), C, ldc.
    typealias ThinKernel<S> = (
        Int32, Int32, Int, Int, Int, S, UnsafePointer<S>, Int, UnsafePointer<S>, Int, S, UnsafePointer<S>?,
        UnsafeMutablePointer<S>, Int
    ) -> Void

    /// CKernels' thin product with its fused epilogue (`ad_thin_gemm_fused_*`): the arguments of
    /// ``ThinKernel`` with, after the bias, relu (nonzero: on), dropout's mask (nil: none) and
    /// scale, relu's backward mask (nil: none) and the column sums of B (nil: none) before C and
    /// ldc.
    typealias FusedThinKernel<S> = (
        Int32, Int32, Int, Int, Int, S, UnsafePointer<S>, Int, UnsafePointer<S>, Int, S, UnsafePointer<S>?, Int32,
        UnsafePointer<UInt8>?, S, UnsafePointer<S>?, UnsafeMutablePointer<S>?, UnsafeMutablePointer<S>, Int
    ) -> Void

    /// What a fused product does to each element of C after the bias: relu (`v > 0 ? v : 0`,
    /// as ``UnaryKernel/relu``), then dropout's backward (`v·(dropScale·drop)`, `drop` a 0/1
    /// mask, as ``Backend/maskedScale(_:keep:scale:into:)``), then relu's backward mask
    /// (`keep > 0 ? v : 0`, as ``BinaryKernel/reluBackward``), the masks laid out as C. Each is
    /// the unfused kernel's operation on one element, so fused and unfused agree bit for bit.
    struct Epilogue<S: TensorScalar> {
        var relu = false
        var drop: UnsafePointer<UInt8>? = nil
        var dropScale: S = 0
        var keep: UnsafePointer<S>? = nil

        /// Nothing after the bias.
        static var none: Self { Self() }
        var isNone: Bool { !relu && drop == nil && keep == nil }

        /// The epilogue of the block of C starting `offset` elements in.
        func offset(by offset: Int) -> Self {
            Self(relu: relu, drop: drop.map { $0 + offset }, dropScale: dropScale, keep: keep.map { $0 + offset })
        }

        /// Applies the epilogue to `rows × columns` of C already stored (the paths that cannot
        /// fuse it: BLAS, and thin products split along their inner sum).
        /// Rows are split across ``ComputeThreads``; CKernels' `ad_product_epilogue_*` takes each
        /// step one branch-free pass at a time: the same operations on each element, in the same
        /// order, as the fused kernels' stores.
        func apply(to c: UnsafeMutablePointer<S>, rows: Int, columns: Int, ldc: Int) {
            guard !isNone, rows > 0, columns > 0 else { return }
            ComputeThreads.forEachRange(of: rows, elements: rows * columns, alignment: 1) { r in
                let (start, offset) = (UnsafeMutableRawPointer(c + r.lowerBound * ldc), r.lowerBound * ldc)
                let (flag, mask) = (Int32(relu ? 1 : 0), drop.map { $0 + offset })
                let sign = keep.map { UnsafeRawPointer($0 + offset) }
                if S.self == Float.self {
                    ad_product_epilogue_f32(
                        start.assumingMemoryBound(to: Float.self), r.count, columns, ldc, flag, mask,
                        Float(dropScale), sign?.assumingMemoryBound(to: Float.self))
                } else {
                    ad_product_epilogue_f64(
                        start.assumingMemoryBound(to: Double.self), r.count, columns, ldc, flag, mask,
                        Double(dropScale), sign?.assumingMemoryBound(to: Double.self))
                }
            }
        }
    }

    /// `C ← α·op(A)·op(B) + β·C (+ 1·biasᵀ)`, then `epilogue`, through `plain` (no epilogue) or
    /// `thin` (the fused kernel), cut into ``ComputeThreads`` parts
    /// along the product's longest side when its largest operand is big enough to pay: rows of C
    /// (m), columns of C (n), or the inner sum (k). For the inner sum, part 0 accumulates into C
    /// and every other part into a scratch block that is then added to C, in part order; each
    /// of those parts then runs `alongsideInnerParts` (the bias gradient's share of the rows, in
    /// ``CPUKernels/matmulColumnSums(_:_:_:_:_:_:_:)``).
    @inline(__always)
    static func run<S: TensorScalar>(
        _ plain: ThinKernel<S>, _ thin: FusedThinKernel<S>, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: S,
        a: UnsafePointer<S>, lda: Int, b: UnsafePointer<S>, ldb: Int, beta: S, bias: UnsafePointer<S>?,
        epilogue: Epilogue<S> = .none, c: UnsafeMutablePointer<S>, ldc: Int,
        alongsideInnerParts: ((_ part: Int, _ parts: Int) -> Void)? = nil
    ) {
        let (ta, tb): (Int32, Int32) = (transA ? 1 : 0, transB ? 1 : 0)
        let elements = max(m * k, k * n, m * n)
        let parts = ComputeThreads.parts(elements: elements)
        // One block of C: the plain kernel when there is no epilogue (its loops test no flags).
        @inline(__always) func block(
            _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<S>, _ b: UnsafePointer<S>, _ beta: S,
            _ bias: UnsafePointer<S>?, _ epilogue: Epilogue<S>, _ c: UnsafeMutablePointer<S>, _ ldc: Int
        ) {
            if epilogue.isNone {
                plain(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, bias, c, ldc)
            } else {
                thin(
                    ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, bias, epilogue.relu ? 1 : 0, epilogue.drop,
                    epilogue.dropScale, epilogue.keep, nil, c, ldc)
            }
        }
        if parts <= 1 {
            block(m, n, k, a, b, beta, bias, epilogue, c, ldc)
        } else if m >= n && m >= k {
            ComputeThreads.forEachRange(of: m, elements: elements) { r in
                let rowsOfA = a + (transA ? r.lowerBound : r.lowerBound * lda)
                block(
                    r.count, n, k, rowsOfA, b, beta, bias, epilogue.offset(by: r.lowerBound * ldc),
                    c + r.lowerBound * ldc, ldc)
            }
        } else if n >= k {
            ComputeThreads.forEachRange(of: n, elements: elements) { r in
                let columnsOfB = b + (transB ? r.lowerBound * ldb : r.lowerBound)
                block(
                    m, r.count, k, a, columnsOfB, beta, bias.map { $0 + r.lowerBound },
                    epilogue.offset(by: r.lowerBound),
                    c + r.lowerBound, ldc)
            }
        } else {
            withUnsafeTemporaryAllocation(of: S.self, capacity: (parts - 1) * m * n) { scratch in
                let scratch = scratch.baseAddress!
                ComputeThreads.forEachPart(parts) { part in
                    let r = ComputeThreads.range(of: part, parts, in: k)
                    let partA = a + (transA ? r.lowerBound * lda : r.lowerBound)
                    let partB = b + (transB ? r.lowerBound : r.lowerBound * ldb)
                    if part == 0 {
                        block(m, n, r.count, partA, partB, beta, bias, .none, c, ldc)
                    } else if r.isEmpty {
                        (scratch + (part - 1) * m * n).initialize(repeating: 0, count: m * n)
                    } else {
                        plain(
                            ta, tb, m, n, r.count, alpha, partA, lda, partB, ldb, 0, nil, scratch + (part - 1) * m * n,
                            n)
                    }
                    alongsideInnerParts?(part, parts)
                }
                for part in 1..<parts {
                    let partial = scratch + (part - 1) * m * n
                    for i in 0..<m {
                        for j in 0..<n { c[i * ldc + j] += partial[i * n + j] }
                    }
                }
            }
            epilogue.apply(to: c, rows: m, columns: n, ldc: ldc)
        }
    }

    /// CKernels' packed AVX-512 product (`ad_gemm_f32_avx512`): transA, transB, m, n, k, α, A, lda,
    /// B, ldb, β, C, ldc, parts (how many ``ComputeThreads`` to split C across; the result does not
    /// depend on it).
    typealias PackedKernel<S> = (
        Int32, Int32, Int, Int, Int, S, UnsafePointer<S>, Int, UnsafePointer<S>, Int, S, UnsafeMutablePointer<S>, Int,
        Int
    ) -> Void

    /// OpenBLAS's `cblas_?gemm` for one element type: order, transA, transB, m, n, k, α, A, lda,
    /// B, ldb, β, C, ldc.
    typealias BLASKernel<S> = (
        CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint, S, UnsafePointer<S>?, blasint,
        UnsafePointer<S>?, blasint, S, UnsafeMutablePointer<S>?, blasint
    ) -> Void

    /// `C ← α·op(A)·op(B) + β·C` for row-major matrices (CBLAS conventions): through the thin
    /// loops when ``handles(m:n:k:)``, else through the packed kernel (``CPUKernels/packedGemm``,
    /// one call split across the threads) when there is one and C has at least ``minPackedSide``
    /// rows and columns, else through BLAS, one single-threaded call per block of C
    /// (``ComputeThreads/inBlocks(transA:transB:m:n:k:a:lda:b:ldb:c:ldc:_:)``), on operands
    /// without op(A)'s zero columns or rows when it has enough of them (``ZeroSkipping``).
    @inline(__always)
    static func gemm<S: TensorScalar>(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: S, a: UnsafePointer<S>, lda: Int,
        b: UnsafePointer<S>, ldb: Int, beta: S, epilogue: Epilogue<S> = .none, c: UnsafeMutablePointer<S>, ldc: Int,
        kernels: CPUKernels<S>
    ) {
        if handles(S.self, m: m, n: n, k: k) {
            run(
                kernels.thinGemm, kernels.thinGemmFused, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                a: a, lda: lda,
                b: b, ldb: ldb, beta: beta, bias: nil, epilogue: epilogue, c: c, ldc: ldc)
            return
        }
        defer { epilogue.apply(to: c, rows: m, columns: n, ldc: ldc) }
        func dense(
            _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: S, _ a: UnsafePointer<S>, _ lda: Int,
            _ b: UnsafePointer<S>, _ ldb: Int, _ beta: S, _ c: UnsafeMutablePointer<S>, _ ldc: Int
        ) {
            if let packed = kernels.packedGemm, min(m, n) >= minPackedSide {
                // One call for all of C: op(B) is packed once and shared by the threads.
                let parts = m * n * k >= ComputeThreads.parallelThreshold ? ComputeThreads.count : 1
                packed(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, parts)
                return
            }
            ComputeThreads.inBlocks(
                transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc
            ) { a, b, c, rows, columns in
                kernels.blasGemm(
                    CblasRowMajor, ComputeThreads.transpose(transA), ComputeThreads.transpose(transB), blasint(rows),
                    blasint(columns), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    ComputeThreads.clearedForAccumulation(c, rows, columns, ldc, beta), c, blasint(ldc))
            }
        }
        if ZeroSkipping.product(
            transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta,
            c: c, ldc: ldc, kernels: kernels.zeroSkipping, dense: dense)
        {
            return
        }
        dense(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    /// `out ← x·W + 1·bᵀ` (``Backend/linear(_:weight:bias:into:m:n:k:)``), then `epilogue`:
    /// through the thin loops with the bias added as the product is stored, or with the rows
    /// prefilled with the bias for BLAS to accumulate onto (β = 1), which saves a zero-fill, a
    /// separate addition and its buffer.
    @inline(__always)
    static func linear<S: TensorScalar>(
        m: Int, n: Int, k: Int, x: UnsafePointer<S>, weight: UnsafePointer<S>, bias: UnsafePointer<S>,
        biasCount: Int, epilogue: Epilogue<S> = .none, out: UnsafeMutablePointer<S>, kernels: CPUKernels<S>
    ) {
        if biasCount == n && handles(S.self, m: m, n: n, k: k) {
            run(
                kernels.thinGemm, kernels.thinGemmFused, transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: x,
                lda: k,
                b: weight, ldb: n, beta: 0, bias: bias, epilogue: epilogue, c: out, ldc: n)
            return
        }
        // Split across the threads: a transformer's [1024, 256] prefill alone on the caller left
        // the other threads waiting (1.4% of gpt-words on two).
        ComputeThreads.forEachRange(of: m, elements: m * n, alignment: 1) { r in
            CPULoops.fillRows(out + r.lowerBound * n, with: bias, biasCount, rows: r.count, columns: n)
        }
        if m > 0 && n > 0 && k > 0 {
            gemm(
                transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: x, lda: k, b: weight, ldb: n, beta: 1,
                epilogue: epilogue, c: out, ldc: n, kernels: kernels)
        } else {
            epilogue.apply(to: out, rows: m, columns: n, ldc: n)
        }
    }
}

// MARK: The seam's products

extension CPUBackend {
    public func matmul(
        _ a: Buffer, _ b: Buffer, into c: Buffer, batch: Int, m: Int, n: Int, k: Int, transposeA: Bool,
        transposeB: Bool
    ) {
        captureKernel {
            .matmul(
                a: $0.read(a), b: $0.read(b), c: $0.write(c), batch: batch, m: m, n: n, k: k, transposeA: transposeA,
                transposeB: transposeB)
        }
        switch a.dtype {
        case .float32: f32.matmul(a, b, c, batch, m, n, k, transposeA, transposeB)
        case .float64: f64.matmul(a, b, c, batch, m, n, k, transposeA, transposeB)
        case .uint8, .int64: unsupported(a.dtype, "matmul")
        }
    }

    public func linear(_ x: Buffer, weight: Buffer, bias: Buffer, into out: Buffer, m: Int, n: Int, k: Int) {
        captureKernel {
            .linear(x: $0.read(x), weight: $0.read(weight), bias: $0.read(bias), out: $0.write(out), m: m, n: n, k: k)
        }
        switch x.dtype {
        case .float32: f32.linear(x, weight, bias, out, m, n, k)
        case .float64: f64.linear(x, weight, bias, out, m, n, k)
        case .uint8, .int64: unsupported(x.dtype, "linear")
        }
    }
}

// MARK: The seam's fused products (a captured step's rewrites)

extension CPUBackend {
    public func linearReLU(_ x: Buffer, weight: Buffer, bias: Buffer, into out: Buffer, m: Int, n: Int, k: Int) {
        captureKernel {
            .linearReLU(
                x: $0.read(x), weight: $0.read(weight), bias: $0.read(bias), out: $0.write(out), m: m, n: n, k: k)
        }
        switch x.dtype {
        case .float32: f32.linear(x, weight, bias, out, m, n, k, relu: true)
        case .float64: f64.linear(x, weight, bias, out, m, n, k, relu: true)
        case .uint8, .int64: unsupported(x.dtype, "linearReLU")
        }
    }

    public func matmulReLUBackward(
        _ a: Buffer, _ b: Buffer, keep: Buffer, into c: Buffer, m: Int, n: Int, k: Int, transposeA: Bool,
        transposeB: Bool
    ) {
        captureKernel {
            .matmulReLUBackward(
                a: $0.read(a), b: $0.read(b), keep: $0.read(keep), c: $0.write(c), m: m, n: n, k: k,
                transposeA: transposeA, transposeB: transposeB)
        }
        switch a.dtype {
        case .float32: f32.matmul(a, b, c, 1, m, n, k, transposeA, transposeB, keep: keep)
        case .float64: f64.matmul(a, b, c, 1, m, n, k, transposeA, transposeB, keep: keep)
        case .uint8, .int64: unsupported(a.dtype, "matmulReLUBackward")
        }
    }

    public func matmulDropoutBackward(
        _ a: Buffer, _ b: Buffer, dropoutKeep: Buffer, scale: Double, reluKeep: Buffer?, into c: Buffer, m: Int, n: Int,
        k: Int, transposeA: Bool, transposeB: Bool
    ) {
        captureKernel {
            .matmulDropoutBackward(
                a: $0.read(a), b: $0.read(b), dropoutKeep: $0.read(dropoutKeep), scale: scale,
                reluKeep: reluKeep.map($0.read), c: $0.write(c), m: m, n: n, k: k, transposeA: transposeA,
                transposeB: transposeB)
        }
        switch a.dtype {
        case .float32:
            f32.matmul(a, b, c, 1, m, n, k, transposeA, transposeB, drop: (dropoutKeep, scale), keep: reluKeep)
        case .float64:
            f64.matmul(a, b, c, 1, m, n, k, transposeA, transposeB, drop: (dropoutKeep, scale), keep: reluKeep)
        case .uint8, .int64: unsupported(a.dtype, "matmulDropoutBackward")
        }
    }

    public func matmulColumnSums(_ x: Buffer, _ g: Buffer, into c: Buffer, columnSums: Buffer, m: Int, n: Int, k: Int) {
        captureKernel {
            .matmulColumnSums(
                x: $0.read(x), g: $0.read(g), c: $0.write(c), columnSums: $0.write(columnSums), m: m, n: n, k: k)
        }
        switch x.dtype {
        case .float32: f32.matmulColumnSums(x, g, c, columnSums, m, n, k)
        case .float64: f64.matmulColumnSums(x, g, c, columnSums, m, n, k)
        case .uint8, .int64: unsupported(x.dtype, "matmulColumnSums")
        }
    }
}

extension CPUKernels {
    /// ``CPUBackend/matmulColumnSums(_:_:into:columnSums:m:n:k:)``: the product and the column
    /// sums of `g` in one pass while `g` is in cache, reproducing how the two kernels would run
    /// one by one: on one thread, one C call summing by ad_sum3d's loop; when both would be
    /// split into the same number of parts along the rows of `g` (the product over its inner
    /// sum), each part of the product also sums the rows the reduction's part would, into the
    /// reduction's partial sums, which are then added in part order as it adds them. Otherwise
    /// the two kernels run one by one.
    func matmulColumnSums(_ x: Buffer, _ g: Buffer, _ c: Buffer, _ sums: Buffer, _ m: Int, _ n: Int, _ k: Int) {
        let (px, pg, pc, ps) = (p(x), p(g), p(c), p(sums))
        let productParts = ComputeThreads.parts(elements: max(m * k, k * n, m * n))
        let sumParts = ComputeThreads.parts(elements: k * n)
        // `reduce` copies instead of summing when the summed axis has one element (k = 1).
        let fusable = k > 1 && m > 0 && n > 0 && Products.handles(S.self, m: m, n: n, k: k)
        if fusable && productParts <= 1 && sumParts <= 1 {
            CPULoops.fill(ps, 0, n)
            thinGemmFused(1, 0, m, n, k, 1, px, m, pg, n, 0, nil, 0, nil, 0, nil, ps, pc, n)
            return
        }
        let splitAlongRowsOfG = !(m >= n && m >= k) && !(n >= k)  // Products.run's choice
        if fusable && productParts == sumParts && splitAlongRowsOfG {
            withUnsafeTemporaryAllocation(of: S.self, capacity: sumParts * n) { partials in
                let partials = partials.baseAddress!
                CPULoops.fill(partials, 0, sumParts * n)
                Products.run(
                    thinGemm, thinGemmFused, transA: true, transB: false, m: m, n: n, k: k, alpha: 1, a: px, lda: m,
                    b: pg, ldb: n, beta: 0, bias: nil, c: pc, ldc: n
                ) { part, parts in
                    // reduce3DInParts' share of part `part`, into its partial sums.
                    let rows = ComputeThreads.range(of: part, parts, in: k, alignment: 1)
                    if !rows.isEmpty { sum3D(pg + rows.lowerBound * n, 1, rows.count, n, partials + part * n) }
                }
                CPULoops.fill(ps, 0, n)
                sum3D(partials, 1, sumParts, n, ps)
            }
            return
        }
        matmul(x, g, c, 1, m, n, k, true, false)
        reduce(.sum, g, [k, n], [0], sums)
    }

    /// `c ← op(a)·op(b)` per block of `batch`; with `drop`, times its scale where its mask is 1
    /// and 0 where it is 0 (dropout's backward), then with `keep`, zero where `keep ≤ 0` (relu's
    /// backward), both applied as C is stored.
    func matmul(
        _ a: Buffer, _ b: Buffer, _ c: Buffer, _ batch: Int, _ m: Int, _ n: Int, _ k: Int, _ ta: Bool, _ tb: Bool,
        drop: (mask: Buffer, scale: Double)? = nil, keep: Buffer? = nil
    ) {
        let (pa, pb, pc) = (p(a), p(b), p(c))
        let epilogue = Products.Epilogue(
            drop: drop.map { UnsafePointer($0.mask.host(UInt8.self)) }, dropScale: S(drop?.scale ?? 0),
            keep: keep.map { UnsafePointer(p($0)) })
        if k == 0 {
            CPULoops.fill(pc, 0, batch * m * n)
            epilogue.apply(to: pc, rows: batch * m, columns: n, ldc: n)
            return
        }
        guard m > 0 && n > 0 else { return }
        for i in 0..<batch {
            Products.gemm(
                transA: ta, transB: tb, m: m, n: n, k: k, alpha: 1, a: pa + i * m * k, lda: ta ? m : k,
                b: pb + i * k * n, ldb: tb ? k : n, beta: 0, epilogue: epilogue.offset(by: i * m * n),
                c: pc + i * m * n, ldc: n, kernels: self)
        }
    }

    /// `C ← α·op(A)·op(B) + β·C` through ``Products``.
    @inline(__always)
    func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: S, a: UnsafePointer<S>, lda: Int,
        b: UnsafePointer<S>, ldb: Int, beta: S, c: UnsafeMutablePointer<S>, ldc: Int
    ) {
        Products.gemm(
            transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta,
            c: c, ldc: ldc, kernels: self)
    }

    /// `out ← x·W + 1·bᵀ`, with relu applied as it is stored when `relu` is set.
    func linear(
        _ x: Buffer, _ weight: Buffer, _ bias: Buffer, _ out: Buffer, _ m: Int, _ n: Int, _ k: Int, relu: Bool = false
    ) {
        Products.linear(
            m: m, n: n, k: k, x: p(x), weight: p(weight), bias: p(bias), biasCount: bias.count,
            epilogue: Products.Epilogue(relu: relu), out: p(out), kernels: self)
    }
}
