import CKernels
import COpenBLAS
import Synchronization

/// The threads that large kernels are split across: one pool (`Sources/CKernels/pool.c`) for
/// matrix products and elementwise work alike.
///
/// A kernel is cut into at most ``count`` parts; the calling thread runs part 0 and each other
/// part runs on whichever thread claims it first (a worker, or the caller once its own part is
/// done), so a thread the system has not scheduled holds nothing up. How a kernel is cut depends
/// only on ``count`` and the sizes, never on timing or on which thread runs a part, so a run is
/// reproducible for a given thread count (reductions split across parts add their partial
/// results in part order).
///
/// OpenBLAS itself runs single-threaded: a large product is cut into blocks of C, one per
/// thread, each one single-threaded OpenBLAS call. Its own worker threads would otherwise spin
/// beside the pool's after every product.
///
/// Thread-safe: the process-wide count is an atomic that every kernel reads (a relaxed load, as
/// cheap as a plain one), written together with the pool's width under a lock, so ``set(_:)``
/// from one thread while others run kernels is no data race.
public enum ComputeThreads {
    /// The process-wide count; 0 until the first ``count`` or ``set(_:)``.
    private static let configured = Atomic<Int>(0)
    /// Held while the count, OpenBLAS's threads and the pool's width change together.
    private static let configuring = Mutex(())

    /// Products with fewer multiply-adds than this run on one thread.
    public static let parallelThreshold = 4 << 20

    /// Elementwise kernels over fewer elements than this run on one thread: below it, the
    /// hand-off to another core costs more than the second core saves.
    public static let elementThreshold = 1 << 15

    /// Rows (or columns) of a product's C are split at multiples of this, so every block keeps
    /// OpenBLAS's register tiles whole.
    static let blockAlignment = 16

    /// The most threads a kernel may use: the calling thread's ``withCount(_:_:)`` when inside
    /// one, else the process-wide setting. Until ``set(_:)`` is called that is the number of cores
    /// the process may use (its CPU affinity mask, bounded by its cgroup's CPU quota), or
    /// `OPENBLAS_NUM_THREADS` when that is smaller.
    public static var count: Int {
        let scoped = ThreadState.current.computeThreads
        if scoped > 0 { return scoped }
        let current = configured.load(ordering: .relaxed)
        return current > 0 ? current : configureDefault()
    }

    /// Runs `body` with kernels started from this thread cut for `n` threads (at least 1),
    /// whatever the process-wide ``set(_:)``. Results are those of a process set to `n` threads
    /// (a kernel's parts depend only on the count); parts beyond the pool's width run on the
    /// calling thread.
    @discardableResult
    public static func withCount<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
        let state = ThreadState.current
        let saved = state.computeThreads
        state.computeThreads = max(1, n)
        defer { state.computeThreads = saved }
        return try body()
    }

    /// Sets the most threads a kernel may use (at least 1).
    public static func set(_ n: Int) {
        configure(n)
    }

    private static func configure(_ n: Int) {
        configuring.withLock { _ in apply(max(1, n)) }
    }

    /// The default count, set by the first thread that asks (the others wait for it and read it).
    private static func configureDefault() -> Int {
        configuring.withLock { _ in
            let current = configured.load(ordering: .relaxed)
            if current > 0 { return current }
            let n = max(1, min(Int(openblas_get_num_threads()), Int(ad_available_cpus())))
            apply(n)
            return n
        }
    }

    /// Sets OpenBLAS to one thread, the pool's width, then the count (the caller holds the lock).
    private static func apply(_ n: Int) {
        openblas_set_num_threads(1)
        ad_pool_set_width(Int32(min(n, 64)))
        configured.store(n, ordering: .relaxed)
    }

    /// How many parts to cut `elements` of elementwise work into.
    @inline(__always)
    static func parts(elements: Int) -> Int {
        elements >= elementThreshold ? min(count, elements / (elementThreshold / 2)) : 1
    }

    /// Runs `body(part)` for every part in `0..<parts` (see ``ComputeThreads``) and returns when
    /// all have finished.
    @inline(__always)
    static func forEachPart(_ parts: Int, _ body: (Int) -> Void) {
        guard parts > 1 else {
            body(0)
            return
        }
        withoutActuallyEscaping(body) { body in
            var body = body
            withUnsafeMutablePointer(to: &body) { pointer in
                ad_pool_run(
                    parts,
                    { context, part in context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(part) },
                    pointer)
            }
        }
    }

    /// Runs `body` over `0..<count` cut into one range per part, as many parts as
    /// ``parts(elements:)`` gives for `elements` of work (`count` unless given) and split as
    /// ``range(of:_:in:alignment:)`` does; empty ranges are skipped. For kernels whose parts are
    /// independent: a part's result goes to its own range of the output.
    @inline(__always)
    static func forEachRange(
        of count: Int, elements: Int? = nil, alignment: Int = 16, _ body: (Range<Int>) -> Void
    ) {
        let parts = parts(elements: elements ?? count)
        forEachPart(parts) { part in
            let r = range(of: part, parts, in: count, alignment: alignment)
            if !r.isEmpty { body(r) }
        }
    }

    /// The range of `0..<count` that part `part` of `parts` covers: the parts as equal as they
    /// can be with every boundary at a multiple of `alignment` (whole SIMD vectors, cache lines
    /// or register tiles). 1000 rows in two parts at 16 are 496 + 504, not 512 + 488: the
    /// kernel waits for its longest part.
    @inline(__always)
    static func range(of part: Int, _ parts: Int, in count: Int, alignment: Int = 16) -> Range<Int> {
        func boundary(_ p: Int) -> Int {
            p >= parts ? count : min(count, (p * count + parts * alignment / 2) / (parts * alignment) * alignment)
        }
        return boundary(part)..<boundary(part + 1)
    }

    @inline(__always)
    static func transpose(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

    /// Runs `block` over C (`m × n`, row-major, `ldc`) cut into one block per thread when the
    /// product has at least ``parallelThreshold`` multiply-adds, else as one block.
    /// `block(a, b, c, rows, columns)` gets the operands moved to its block: a block of rows of C
    /// reads the same rows of op(A) and all of op(B); a block of columns reads all of op(A) and
    /// the same columns of op(B). C is cut along its longer side.
    @inline(__always)
    static func inBlocks<S>(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<S>, lda: Int, b: UnsafePointer<S>,
        ldb: Int, c: UnsafeMutablePointer<S>, ldc: Int,
        _ block: (UnsafePointer<S>, UnsafePointer<S>, UnsafeMutablePointer<S>, Int, Int) -> Void
    ) {
        let byRows = m >= n
        let extent = byRows ? m : n
        let parts = m * n * k >= parallelThreshold ? min(count, extent / blockAlignment) : 1
        guard parts > 1 else {
            block(a, b, c, m, n)
            return
        }
        forEachPart(parts) { part in
            let span = range(of: part, parts, in: extent, alignment: blockAlignment)
            guard !span.isEmpty else { return }
            let start = span.lowerBound
            if byRows {
                block(a + (transA ? start : start * lda), b, c + start * ldc, span.count, n)
            } else {
                block(a, b + (transB ? start * ldb : start), c + start, m, span.count)
            }
        }
    }

    /// The β to pass to BLAS for `C ← α·op(A)·op(B) + β·C`: for β = 0, C is zeroed here and 1 is
    /// returned. OpenBLAS clears C for β = 0 with a plain loop (`sgemm_beta`, 3.3% of an
    /// mnist-seed004 run's samples); memset does the same several times faster, and
    /// accumulating onto zeros gives the same C.
    @inline(__always)
    static func clearedForAccumulation<S: TensorScalar>(
        _ c: UnsafeMutablePointer<S>, _ m: Int, _ n: Int, _ ldc: Int, _ beta: S
    ) -> S {
        guard beta == 0 else { return beta }
        let size = MemoryLayout<S>.stride
        ad_zero_rows(c, m, n * size, ldc * size)
        return 1
    }
}
