import AutoDiff
import CKernels
import COpenBLAS
import Foundation

/// One float product shape timed through OpenBLAS and through the packed AVX-512 kernel, at one
/// and two threads (the `gemm` workload).
struct GemmTiming: Encodable {
    var name: String
    var m: Int, n: Int, k: Int
    var transA: Bool, transB: Bool
    /// 2·m·n·k / time, in GFLOP/s: OpenBLAS `sgemm` (single-threaded calls, C cut into one block
    /// of rows or columns per thread, as the library called it before), and `ad_gemm_f32_avx512`.
    var blasGFLOPS1: Double, packedGFLOPS1: Double
    var blasGFLOPS2: Double, packedGFLOPS2: Double
    var maxAbsoluteDifference: Double
}

extension Workload {
    /// The float products that went to OpenBLAS in mnist-b128, mnist-seed004 and gpt-words (after
    /// zero skipping, the first layer's k is the batch's nonzero pixel columns: about 520 of 784 in
    /// a batch of 128, 630 in a batch of 1000) and a large square one, each through OpenBLAS and
    /// through the packed kernel at one and two threads; the metric is the geometric mean of the
    /// packed kernel's speed over OpenBLAS's at two threads. Needs AVX-512.
    func gemm() throws -> Report {
        guard ad_cpu_isa() >= AD_ISA_AVX512 else {
            throw BenchError("gemm: this CPU lacks AVX-512, which the packed kernel needs")
        }
        let shapes: [(String, Bool, Bool, Int, Int, Int)] = [
            ("mnist-b128 layer 1 forward [128,520]·[520,512]", false, false, 128, 512, 520),
            ("mnist-b128 ∂W1 = Xᵀ·G [520,128]ᵀ·[128,512]", true, false, 520, 512, 128),
            ("mnist-b128 layer 2 forward [128,512]·[512,128]", false, false, 128, 128, 512),
            ("mnist-b128 ∂H1 = G·W2ᵀ [128,128]·[512,128]ᵀ", false, true, 128, 512, 128),
            ("mnist-b128 ∂W2 = H1ᵀ·G [128,512]ᵀ·[128,128]", true, false, 512, 128, 128),
            ("mnist-seed004 layer 1 forward [1000,630]·[630,512]", false, false, 1000, 512, 630),
            ("mnist-seed004 ∂W1 = Xᵀ·G [1000,630]ᵀ·[1000,512]", true, false, 630, 512, 1000),
            ("mnist-seed004 layer 2 forward [1000,512]·[512,128]", false, false, 1000, 128, 512),
            ("mnist-seed004 ∂H1 = G·W2ᵀ [1000,128]·[512,128]ᵀ", false, true, 1000, 512, 128),
            ("mnist-seed004 ∂W2 = H1ᵀ·G [1000,512]ᵀ·[1000,128]", true, false, 512, 128, 1000),
            ("mnist-seed004 ∂W3 = H2ᵀ·G [1000,128]ᵀ·[1000,64]", true, false, 128, 64, 1000),
            ("gpt-words ∂W_qkv = Xᵀ·G [1024,64]ᵀ·[1024,192]", true, false, 64, 192, 1024),
            ("gpt-words ∂W_out = Aᵀ·G [1024,64]ᵀ·[1024,64]", true, false, 64, 64, 1024),
            ("gpt-words ∂W_up = Xᵀ·G [1024,64]ᵀ·[1024,256]", true, false, 64, 256, 1024),
            ("gpt-words ∂W_down = Hᵀ·G [1024,256]ᵀ·[1024,64]", true, false, 256, 64, 1024),
            ("gpt-words ∂W_head = Xᵀ·G [1024,64]ᵀ·[1024,30]", true, false, 64, 30, 1024),
            ("square [1024,1024]·[1024,1024]", false, false, 1024, 1024, 1024),
        ]
        var generator = RandomGenerator(seed: 0)
        var timings: [GemmTiming] = []
        for (name, ta, tb, m, n, k) in shapes {
            let a = (0..<(m * k)).map { _ in Float(generator.nextUniform() - 0.5) }
            let b = (0..<(k * n)).map { _ in Float(generator.nextUniform() - 0.5) }
            var viaBLAS = [Float](repeating: 0, count: m * n)
            var viaPacked = viaBLAS
            let (lda, ldb) = (ta ? m : k, tb ? k : n)
            let repeats = max(10, 400_000_000 / (m * n * k))
            func blas(threads: Int) {
                viaBLAS.withUnsafeMutableBufferPointer { c in
                    blasInBlocks(
                        transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c.baseAddress!,
                        threads: threads)
                }
            }
            func packed(threads: Int) {
                ad_gemm_f32_avx512(ta ? 1 : 0, tb ? 1 : 0, m, n, k, 1, a, lda, b, ldb, 0, &viaPacked, n, threads)
            }
            var gflops: [Double] = []
            for threads in [1, 2] {
                ComputeThreads.set(threads)
                blas(threads: threads)
                packed(threads: threads)
                // The better of three timed rounds each, alternating, so that neither side gets
                // the quieter moment.
                var (bestBLAS, bestPacked) = (Double.infinity, Double.infinity)
                for _ in 0..<3 {
                    bestBLAS = min(bestBLAS, timed { for _ in 0..<repeats { blas(threads: threads) } })
                    bestPacked = min(bestPacked, timed { for _ in 0..<repeats { packed(threads: threads) } })
                }
                let flops = 2 * Double(m * n * k) * Double(repeats)
                gflops += [flops / bestBLAS / 1e9, flops / bestPacked / 1e9]
            }
            let difference = zip(viaBLAS, viaPacked).map { Double(abs($0 - $1)) }.max() ?? 0
            timings.append(
                GemmTiming(
                    name: name, m: m, n: n, k: k, transA: ta, transB: tb, blasGFLOPS1: gflops[0],
                    packedGFLOPS1: gflops[1], blasGFLOPS2: gflops[2], packedGFLOPS2: gflops[3],
                    maxAbsoluteDifference: difference))
        }
        let logMean = timings.map { Foundation.log($0.packedGFLOPS2 / $0.blasGFLOPS2) }.reduce(0, +)
        var report = Report(
            workload: rawValue, seconds: 0, metricName: "packed_over_blas_2_threads_geometric_mean",
            metric: Foundation.exp(logMean / Double(timings.count)))
        report.gemm = timings
        return report
    }

    /// C ← op(A)·op(B) through single-threaded OpenBLAS calls, one per block of C's longer side
    /// (rows or columns, at multiples of 16), the blocks run on ``ComputeThreads``' pool.
    private func blasInBlocks(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
        ldb: Int, c: UnsafeMutablePointer<Float>, threads: Int
    ) {
        struct Job {
            var transA: Bool, transB: Bool, m: Int, n: Int, k: Int
            var a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>
            var parts: Int
        }
        var job = Job(
            transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, parts: threads)
        withUnsafeMutablePointer(to: &job) { pointer in
            ad_pool_run(
                threads,
                { context, part in
                    let job = context!.assumingMemoryBound(to: Job.self).pointee
                    let byRows = job.m >= job.n
                    let extent = byRows ? job.m : job.n
                    func boundary(_ p: Int) -> Int {
                        p >= job.parts ? extent : min(extent, p * extent / job.parts / 16 * 16)
                    }
                    let (start, end) = (boundary(part), boundary(part + 1))
                    guard start < end else { return }
                    let (rows, columns) = byRows ? (end - start, job.n) : (job.m, end - start)
                    let a = byRows ? job.a + (job.transA ? start : start * job.lda) : job.a
                    let b = byRows ? job.b : job.b + (job.transB ? start * job.ldb : start)
                    let c = job.c + (byRows ? start * job.n : start)
                    cblas_sgemm(
                        CblasRowMajor, job.transA ? CblasTrans : CblasNoTrans, job.transB ? CblasTrans : CblasNoTrans,
                        blasint(rows), blasint(columns), blasint(job.k), 1, a, blasint(job.lda), b, blasint(job.ldb), 0,
                        c, blasint(job.n))
                }, pointer)
        }
    }
}
