import AutoDiff
import CKernels
import COpenBLAS
import Foundation

/// One product shape timed both ways (the `thin-products` workload).
struct ProductTiming: Encodable {
    var name: String
    var m: Int, n: Int, k: Int
    var transA: Bool, transB: Bool
    var blasMicroseconds: Double
    var thinMicroseconds: Double
    /// The eight-wide AVX2 variant of the thin product (the library's before AVX-512), when the
    /// CPU has AVX2; `thinMicroseconds` is the variant the library uses on this CPU.
    var avx2Microseconds: Double?
    /// 2·m·n·k / time, for the variant used and for the AVX2 one.
    var thinGFLOPS: Double
    var avx2GFLOPS: Double?
    var maxAbsoluteDifference: Double
}

extension Workload {
    /// The spiral and moons models' matrix products (forward and both gradients) and the MNIST
    /// MLP's smaller ones, each timed through OpenBLAS `sgemm` on one thread, through CKernels'
    /// thin-product loops as the library calls them, and through their eight-wide AVX2 variant;
    /// the metric is the geometric mean of BLAS time / thin time.
    func thinProducts() -> Report {
        ComputeThreads.set(1)
        let shapes: [(String, Bool, Bool, Int, Int, Int)] = [
            ("spiral layer 1 forward [3000,2]·[2,64]", false, false, 3000, 64, 2),
            ("spiral ∂W1 = Xᵀ·G [2,3000]·[3000,64]", true, false, 2, 64, 3000),
            ("spiral layer 2 forward [3000,64]·[64,3]", false, false, 3000, 3, 64),
            ("spiral ∂H = G·W2ᵀ [3000,3]·[3,64]", false, true, 3000, 64, 3),
            ("spiral ∂W2 = Hᵀ·G [64,3000]·[3000,3]", true, false, 64, 3, 3000),
            ("moons layer 1 forward [1000,2]·[2,8]", false, false, 1000, 8, 2),
            ("moons layer 2 forward [1000,8]·[8,8]", false, false, 1000, 8, 8),
            ("moons layer 3 forward [1000,8]·[8,1]", false, false, 1000, 1, 8),
            ("moons ∂W2 = Hᵀ·G [8,1000]·[1000,8]", true, false, 8, 8, 1000),
            ("moons ∂H = G·W2ᵀ [1000,8]·[8,8]", false, true, 1000, 8, 8),
            ("moons ∂W3 = Hᵀ·G [8,1000]·[1000,1]", true, false, 8, 1, 1000),
            // The MNIST MLP's products whose op(B) fits in L1, which AVX-512 machines run through
            // the thin loops (Products.maxSixteenWideB) and others through BLAS.
            ("mnist-b128 layer 3 forward [128,128]·[128,64]", false, false, 128, 64, 128),
            ("mnist-b128 ∂W3 = H2ᵀ·G [128,128]·[128,64]", true, false, 128, 64, 128),
            ("mnist-b128 ∂H2 = G·W3ᵀ [128,64]·[64,128]", false, true, 128, 128, 64),
            ("mnist-b128 layer 4 forward [128,64]·[64,10]", false, false, 128, 10, 64),
            ("mnist-b128 ∂W4 = H3ᵀ·G [64,128]·[128,10]", true, false, 64, 10, 128),
            ("mnist-b128 ∂H3 = G·W4ᵀ [128,10]·[10,64]", false, true, 128, 64, 10),
            ("mnist-seed004 layer 4 forward [1000,64]·[64,10]", false, false, 1000, 10, 64),
            ("mnist-seed004 ∂W4 = H3ᵀ·G [64,1000]·[1000,10]", true, false, 64, 10, 1000),
        ]
        var generator = RandomGenerator(seed: 0)
        var timings: [ProductTiming] = []
        for (name, ta, tb, m, n, k) in shapes {
            let a = (0..<(m * k)).map { _ in Float(generator.nextUniform() - 0.5) }
            let b = (0..<(k * n)).map { _ in Float(generator.nextUniform() - 0.5) }
            var viaBLAS = [Float](repeating: 0, count: m * n)
            var viaThin = viaBLAS
            let (lda, ldb) = (ta ? m : k, tb ? k : n)
            let repeats = max(20, 40_000_000 / (m * n * k))
            func blas() {
                cblas_sgemm(
                    CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, blasint(m),
                    blasint(n), blasint(k), 1, a, blasint(lda), b, blasint(ldb), 0, &viaBLAS, blasint(n))
            }
            func thin() { ad_thin_gemm_f32(ta ? 1 : 0, tb ? 1 : 0, m, n, k, 1, a, lda, b, ldb, 0, nil, &viaThin, n) }
            let avx2 = ad_kernel_variants(Int32(AD_ISA_AVX2))?.pointee.thin_gemm_f32
            var viaAVX2 = viaBLAS
            func thinAVX2() { avx2?(ta ? 1 : 0, tb ? 1 : 0, m, n, k, 1, a, lda, b, ldb, 0, nil, &viaAVX2, n) }
            blas()
            thin()
            thinAVX2()
            // The better of three timed rounds each, alternating, so that neither side gets the
            // quieter moment.
            var (bestBLAS, bestThin, bestAVX2) = (Double.infinity, Double.infinity, Double.infinity)
            for _ in 0..<3 {
                bestBLAS = min(bestBLAS, timed { for _ in 0..<repeats { blas() } } / Double(repeats) * 1e6)
                bestThin = min(bestThin, timed { for _ in 0..<repeats { thin() } } / Double(repeats) * 1e6)
                if avx2 != nil {
                    bestAVX2 = min(bestAVX2, timed { for _ in 0..<repeats { thinAVX2() } } / Double(repeats) * 1e6)
                }
            }
            let difference = zip(viaBLAS, viaThin).map { Double(abs($0 - $1)) }.max() ?? 0
            let flops = 2 * Double(m * n * k)
            timings.append(
                ProductTiming(
                    name: name, m: m, n: n, k: k, transA: ta, transB: tb, blasMicroseconds: bestBLAS,
                    thinMicroseconds: bestThin, avx2Microseconds: avx2 == nil ? nil : bestAVX2,
                    thinGFLOPS: flops / bestThin / 1e3, avx2GFLOPS: avx2 == nil ? nil : flops / bestAVX2 / 1e3,
                    maxAbsoluteDifference: difference))
        }
        let logMean = timings.map { Foundation.log($0.blasMicroseconds / $0.thinMicroseconds) }.reduce(0, +)
        var report = Report(
            workload: rawValue, seconds: timings.map { $0.thinMicroseconds }.reduce(0, +) / 1e6,
            metricName: "blas_over_thin_geometric_mean", metric: Foundation.exp(logMean / Double(timings.count)))
        report.products = timings
        return report
    }
}
