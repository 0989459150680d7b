// Large matrix products whose op(A) has whole columns or rows of zeros. A batch of images is the
// common case: pixels blank in every image of the batch (MNIST: a fifth of the 784 pixels in a
// batch of 1000, a third in a batch of 128). The input layer's forward product x·W and its
// weight gradient xᵀ·g are most of an MLP's multiply-adds, and every term of those zero columns
// is 0·w. Leaving them out keeps the product dense (the same BLAS kernel on smaller operands)
// and exact: only terms that are exactly zero are dropped, so the sums are the same up to
// rounding. As with any sparse product, a zero times ±∞ or NaN in the skipped part of B is not
// propagated (the dense product would make it NaN).

/// How ``Products/gemm(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:kernels:)``
/// leaves out the zero columns (and zero rows) of op(A).
enum ZeroSkipping {
    /// The fewest zero columns, as a fraction of the side, that are left out: below it, gathering
    /// the rest costs about what it saves.
    static let minimumZeroFraction = 0.125

    /// Products with fewer multiply-adds than this, or fewer than 16 columns of C, are not
    /// scanned for zeros.
    static let minimumSize = ComputeThreads.parallelThreshold

    /// CKernels' loops for one element type.
    struct Kernels<S> {
        /// `ad_nonzero_columns_*`: a, rows, columns, lda, seen (one word of S's size per column),
        /// limit → count.
        typealias Scan = (UnsafePointer<S>, Int, Int, Int, UnsafeMutableRawPointer, Int) -> Int
        var scan: Scan
        /// `ad_gather_runs_*`: a, rows, lda, runs (first column, length pairs), run count, packed,
        /// count.
        typealias Gather = (UnsafePointer<S>, Int, Int, UnsafePointer<Int>, Int, UnsafeMutablePointer<S>, Int) -> Void
        var gather: Gather
    }

    /// A dense product with gemm's arguments: transA, transB, m, n, k, α, A, lda, B, ldb, β, C, ldc.
    typealias Dense<S> = (
        Bool, Bool, Int, Int, Int, S, UnsafePointer<S>, Int, UnsafePointer<S>, Int, S, UnsafeMutablePointer<S>, Int
    ) -> Void

    /// A product through `dense` (same arguments as `gemm`) without op(A)'s zero columns (A not
    /// transposed: those terms of the inner sum) or zero rows (A transposed: those rows of C are
    /// β·C). Returns false, having done nothing, when too few are zero.
    @inline(__always)
    static func product<S: TensorScalar>(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: S, a: UnsafePointer<S>, lda: Int,
        b: UnsafePointer<S>, ldb: Int, beta: S, c: UnsafeMutablePointer<S>, ldc: Int, kernels: Kernels<S>,
        dense: Dense<S>
    ) -> Bool {
        guard n >= 16 && m * n * k >= minimumSize else { return false }
        // Stored A is m × k (its columns are the inner sum's terms) or, transposed, k × m (its
        // columns are the rows of C).
        let (rows, columns) = transA ? (k, m) : (m, k)
        guard let runs = nonzeroRuns(a, rows: rows, columns: columns, lda: lda, scan: kernels.scan) else {
            return false
        }
        let count = runs.reduce(0) { $0 + $1.count }
        withUnsafeTemporaryAllocation(of: S.self, capacity: max(rows * count, 1)) { packed in
            let packed = packed.baseAddress!
            gatherColumns(a, rows: rows, lda: lda, runs, count, into: packed, gather: kernels.gather)
            if transA {
                rowsOfC(
                    transB: transB, m: m, n: n, k: k, alpha: alpha, packed: packed, runs: runs, count: count, b: b,
                    ldb: ldb, beta: beta, c: c, ldc: ldc, dense: dense)
            } else {
                innerTerms(
                    transB: transB, m: m, n: n, alpha: alpha, packed: packed, runs: runs, count: count, b: b, ldb: ldb,
                    beta: beta, c: c, ldc: ldc, gather: kernels.gather, dense: dense)
            }
        }
        return true
    }

    /// The columns of `a` holding a nonzero, as runs of consecutive columns, or nil when fewer
    /// than ``minimumZeroFraction`` of them are zero. The rows are scanned in ``ComputeThreads``
    /// parts, each giving up as soon as it alone has seen too many nonzero columns.
    static func nonzeroRuns<S: TensorScalar>(
        _ a: UnsafePointer<S>, rows: Int, columns: Int, lda: Int, scan: Kernels<S>.Scan
    ) -> [Range<Int>]? {
        let limit = columns - max(1, Int(Double(columns) * minimumZeroFraction))
        let parts = ComputeThreads.parts(elements: rows * columns)
        let word = MemoryLayout<S>.size
        return withUnsafeTemporaryAllocation(byteCount: parts * columns * word, alignment: 64) { seen in
            let seen = seen.baseAddress!
            let tooDense = withUnsafeTemporaryAllocation(of: Bool.self, capacity: parts) { tooDense in
                ComputeThreads.forEachPart(parts) { part in
                    let r = ComputeThreads.range(of: part, parts, in: rows, alignment: 1)
                    tooDense[part] =
                        scan(a + r.lowerBound * lda, r.count, columns, lda, seen + part * columns * word, limit) > limit
                }
                return tooDense.contains(true)
            }
            if tooDense { return nil }
            func isNonzero(_ column: Int) -> Bool {
                (0..<parts).contains { part in
                    let offset = (part * columns + column) * word
                    return word == 4
                        ? seen.load(fromByteOffset: offset, as: UInt32.self) != 0
                        : seen.load(fromByteOffset: offset, as: UInt64.self) != 0
                }
            }
            var runs: [Range<Int>] = []
            var count = 0
            var column = 0
            while column < columns {
                guard isNonzero(column) else {
                    column += 1
                    continue
                }
                let start = column
                while column < columns && isNonzero(column) { column += 1 }
                runs.append(start..<column)
                count += column - start
            }
            return count <= limit ? runs : nil
        }
    }

    /// The columns `runs` of `a` (rows × ·, leading dimension lda) side by side in `packed`
    /// (rows × count), split by rows across ``ComputeThreads``.
    @inline(__always)
    static func gatherColumns<S: TensorScalar>(
        _ a: UnsafePointer<S>, rows: Int, lda: Int, _ runs: [Range<Int>], _ count: Int,
        into packed: UnsafeMutablePointer<S>, gather: Kernels<S>.Gather
    ) {
        let pairs = runs.flatMap { [$0.lowerBound, $0.count] }
        pairs.withUnsafeBufferPointer { pairs in
            ComputeThreads.forEachRange(of: rows, elements: rows * count, alignment: 1) { r in
                gather(
                    a + r.lowerBound * lda, r.count, lda, pairs.baseAddress!, runs.count, packed + r.lowerBound * count,
                    count)
            }
        }
    }

    /// C ← α·A′·op(B)′ + β·C with A′ (m × count) the kept columns of A and op(B)′ the kept rows
    /// of op(B) (rows of B, or columns of a transposed B).
    @inline(__always)
    static func innerTerms<S: TensorScalar>(
        transB: Bool, m: Int, n: Int, alpha: S, packed: UnsafePointer<S>, runs: [Range<Int>], count: Int,
        b: UnsafePointer<S>, ldb: Int, beta: S, c: UnsafeMutablePointer<S>, ldc: Int, gather: Kernels<S>.Gather,
        dense: Dense<S>
    ) {
        guard count > 0 else {
            scaleRows(c, m, n, ldc, by: beta)
            return
        }
        withUnsafeTemporaryAllocation(of: S.self, capacity: count * n) { packedB in
            let packedB = packedB.baseAddress!
            if transB {  // B is n × k: keep its columns
                gatherColumns(b, rows: n, lda: ldb, runs, count, into: packedB, gather: gather)
                dense(false, true, m, n, count, alpha, packed, count, packedB, count, beta, c, ldc)
            } else {  // B is k × n: keep its rows
                copyRows(of: b, ld: ldb, runs, into: packedB, n)
                dense(false, false, m, n, count, alpha, packed, count, packedB, n, beta, c, ldc)
            }
        }
    }

    /// C ← α·op(A)·op(B) + β·C where op(A) = Aᵀ is zero outside the rows `kept` (A′ = its
    /// k × count kept columns): those rows of C are computed into a scratch block and the others
    /// become β·C.
    @inline(__always)
    static func rowsOfC<S: TensorScalar>(
        transB: Bool, m: Int, n: Int, k: Int, alpha: S, packed: UnsafePointer<S>, runs: [Range<Int>], count: Int,
        b: UnsafePointer<S>, ldb: Int, beta: S, c: UnsafeMutablePointer<S>, ldc: Int,
        dense: Dense<S>
    ) {
        withUnsafeTemporaryAllocation(of: S.self, capacity: max(count * n, 1)) { block in
            let block = block.baseAddress!
            if count > 0 { dense(true, transB, count, n, k, alpha, packed, count, b, ldb, 0, block, n) }
            // Row i of C comes from row rowOfBlock[i] of the block, or is β·C (-1).
            var rowOfBlock = [Int](repeating: -1, count: m)
            var q = 0
            for run in runs {
                for i in run {
                    rowOfBlock[i] = q
                    q += 1
                }
            }
            rowOfBlock.withUnsafeBufferPointer { rowOfBlock in
                ComputeThreads.forEachRange(of: m, elements: m * n, alignment: 1) { rowsOfPart in
                    for i in rowsOfPart {
                        let row = c + i * ldc
                        guard rowOfBlock[i] >= 0 else {
                            scaleRows(row, 1, n, ldc, by: beta)
                            continue
                        }
                        let computed = block + rowOfBlock[i] * n
                        if beta == 0 {
                            row.update(from: computed, count: n)
                        } else {
                            for j in 0..<n { row[j] = computed[j] + beta * row[j] }
                        }
                    }
                }
            }
        }
    }

    /// The rows `runs` of `b` (leading dimension ld) one after another in `packed` (n columns),
    /// split across ``ComputeThreads``.
    @inline(__always)
    static func copyRows<S: TensorScalar>(
        of b: UnsafePointer<S>, ld: Int, _ runs: [Range<Int>], into packed: UnsafeMutablePointer<S>, _ n: Int
    ) {
        let rows = runs.flatMap { $0 }
        rows.withUnsafeBufferPointer { rows in
            ComputeThreads.forEachRange(of: rows.count, elements: rows.count * n, alignment: 1) { kept in
                for q in kept {
                    (packed + q * n).update(from: b + rows[q] * ld, count: n)
                }
            }
        }
    }

    /// β·C over `rows` rows (zeros, without reading C, for β = 0).
    @inline(__always)
    static func scaleRows<S: TensorScalar>(_ c: UnsafeMutablePointer<S>, _ rows: Int, _ n: Int, _ ldc: Int, by beta: S)
    {
        for i in 0..<rows {
            let row = c + i * ldc
            if beta == 0 {
                row.update(repeating: 0, count: n)
            } else {
                for j in 0..<n { row[j] *= beta }
            }
        }
    }
}
