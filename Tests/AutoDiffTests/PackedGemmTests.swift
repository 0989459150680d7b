import CKernels
import Foundation
import Testing

@testable import AutoDiff

/// The packed AVX-512 float product (`ad_gemm_f32_avx512`, Sources/CKernels/gemm_avx512.c)
/// against a Double reference, directly and through the public `matmul` and `linear` ops.
///
/// Tolerance: the rigorous bound for a float dot product of k terms, with α and β applied,
/// |C − C_exact| ≤ γ_{k+2}·(|α|·Σₚ|a_ip·b_pj| + |β·c_ij|), γ_n = n·u/(1 − n·u), u = 2⁻²⁴. It
/// holds whatever the summation order (the kernel sums over blocks of 256 terms, BLAS otherwise),
/// so it cannot fail on a correct kernel, while a wrong term, a wrong edge or a skipped block is
/// off by the size of one product term (≈ 0.1 here), orders of magnitude above it.
@Suite(
    "Packed AVX-512 products",
    .enabled(if: ad_cpu_isa() >= AD_ISA_AVX512, "this CPU lacks AVX-512: the packed product is never called"))
struct PackedGemmTests {
    static let tile = (rows: Int(AD_GEMM_TILE_ROWS), columns: Int(AD_GEMM_TILE_COLUMNS))
    static let depth = Int(AD_GEMM_DEPTH_BLOCK)

    /// (m, n, k): 1, the tile's rows and columns ± 1, the depth block ± 1, a block of 168 rows of
    /// A + 5, and primes, so every edge mask, zero-padded panel and partial block runs.
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (tile.rows - 1, tile.columns + 1, 7), (tile.rows, tile.columns, depth),
        (tile.rows + 1, tile.columns - 1, depth + 1), (29, 65, depth - 1), (173, 97, 300), (1, 257, 13),
        (257, 1, 97), (12 * tile.rows + 5, 40, 2 * depth + 1),
    ]

    static let transposeCombinations = [(false, false), (false, true), (true, false), (true, true)]

    /// The error bound of the suite's comment: γ_{k+2}·magnitude.
    static func bound(k: Int, magnitude: Double) -> Double {
        let nu = Double(k + 2) * 0x1p-24
        return nu / (1 - nu) * magnitude
    }

    /// One product's operands, stored with padded leading dimensions, and its exact parts.
    struct Case {
        let m: Int, n: Int, k: Int, transA: Bool, transB: Bool
        let lda: Int, ldb: Int, ldc: Int
        let a: [Float], b: [Float], c: [Float]
        /// Σₚ a_ip·b_pj and Σₚ |a_ip·b_pj| in Double, row-major m × n.
        let sums: [Double], magnitudes: [Double]

        init(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, generator: inout RandomGenerator) {
            (self.m, self.n, self.k, self.transA, self.transB) = (m, n, k, transA, transB)
            let (aRows, aColumns) = transA ? (k, m) : (m, k)
            let (bRows, bColumns) = transB ? (n, k) : (k, n)
            (lda, ldb, ldc) = (aColumns + 3, bColumns + 1, n + 5)
            a = (0..<(aRows * lda)).map { _ in Float(generator.nextUniform() - 0.5) }
            b = (0..<(bRows * ldb)).map { _ in Float(generator.nextUniform() - 0.5) }
            c = (0..<(m * ldc)).map { _ in Float(generator.nextUniform() - 0.5) }
            var sums = [Double](repeating: 0, count: m * n)
            var magnitudes = sums
            for i in 0..<m {
                for j in 0..<n {
                    for p in 0..<k {
                        let x = Double(transA ? a[p * lda + i] : a[i * lda + p])
                        let y = Double(transB ? b[j * ldb + p] : b[p * ldb + j])
                        sums[i * n + j] += x * y
                        magnitudes[i * n + j] += abs(x * y)
                    }
                }
            }
            (self.sums, self.magnitudes) = (sums, magnitudes)
        }

        /// C after the kernel with this α, β, split into `parts`; C starts as NaN when β = 0.
        func run(alpha: Float, beta: Float, parts: Int) -> [Float] {
            var out = beta == 0 ? [Float](repeating: .nan, count: c.count) : c
            out.withUnsafeMutableBufferPointer { out in
                ad_gemm_f32_avx512(
                    transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, out.baseAddress!, ldc, parts)
            }
            return out
        }

        /// Expects `out` within the bound of α·op(A)·op(B) + β·C, and the padding past n untouched.
        func check(_ out: [Float], alpha: Float, beta: Float, _ label: String) {
            var failures = 0
            for i in 0..<m {
                for j in 0..<ldc {
                    let got = out[i * ldc + j]
                    if j >= n {
                        let before = beta == 0 ? Float.nan : c[i * ldc + j]
                        if !(got == before || (got.isNaN && before.isNaN)) { failures += 1 }
                        continue
                    }
                    let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                    let exact = Double(alpha) * sums[i * n + j] + old
                    let tolerance = PackedGemmTests.bound(
                        k: k, magnitude: abs(Double(alpha)) * magnitudes[i * n + j] + abs(old))
                    if !(abs(Double(got) - exact) <= tolerance) { failures += 1 }
                }
            }
            #expect(failures == 0, "\(label): \(failures) wrong elements")
        }
    }

    @Test(
        "the kernel matches a Double reference on edge sizes, every α, β and transpose",
        arguments: transposeCombinations)
    func kernel(transposes: (Bool, Bool)) {
        var generator = RandomGenerator(seed: 23)
        for (m, n, k) in Self.shapes {
            let product = Case(
                m: m, n: n, k: k, transA: transposes.0, transB: transposes.1, generator: &generator)
            for alpha: Float in [1, -0.75] {
                for beta: Float in [0, 1, 0.5] {
                    let label = "m \(m) n \(n) k \(k) trans \(transposes) α \(alpha) β \(beta)"
                    let single = product.run(alpha: alpha, beta: beta, parts: 1)
                    product.check(single, alpha: alpha, beta: beta, label)
                    // The split changes which thread computes a tile, never its sums.
                    for parts in [2, 3] {
                        let split = product.run(alpha: alpha, beta: beta, parts: parts)
                        #expect(
                            split.map(\.bitPattern) == single.map(\.bitPattern), "\(label): \(parts) parts differ")
                    }
                }
            }
        }
    }

    @Test("with no terms (k = 0) C becomes β·C, and zeros over NaN for β = 0")
    func emptyInnerSum() {
        var generator = RandomGenerator(seed: 5)
        let product = Case(m: 17, n: 35, k: 0, transA: false, transB: true, generator: &generator)
        for beta: Float in [0, 1, 0.5] {
            let out = product.run(alpha: 2, beta: beta, parts: 2)
            product.check(out, alpha: 2, beta: beta, "k = 0, β \(beta)")
            if beta == 0 { #expect(!out.enumerated().contains { $0.offset % product.ldc < 17 && $0.element.isNaN }) }
        }
    }

    @Test("Float products without a thin side take the packed kernel, Double products OpenBLAS")
    func dispatch() {
        #expect(CPUKernels<Float>.float.packedGemm != nil)
        #expect(CPUKernels<Double>.double.packedGemm == nil)
        #expect(!Products.handles(Float.self, m: 128, n: 512, k: 520))
    }

    /// `matmul` in Float against the same values in Double, on shapes too wide for the thin
    /// loops, at 1 and 2 threads (bitwise equal), in every transpose combination.
    @Test(
        "matmul through the packed kernel matches Double and does not depend on the thread count",
        arguments: transposeCombinations)
    func matmulOp(transposes: (Bool, Bool)) {
        let (transA, transB) = transposes
        let (m, n, k) = (130, 200, 301)
        #expect(!Products.handles(Float.self, m: m, n: n, k: k))
        var generator = RandomGenerator(seed: 31)
        let a = Tensor<Double>.randomNormal(transA ? [k, m] : [m, k], generator: &generator)
        let b = Tensor<Double>.randomNormal(transB ? [n, k] : [k, n], generator: &generator)
        let (fa, fb) = (
            Tensor<Float>(shape: a.shape, scalars: a.scalars.map { Float($0) }),
            Tensor<Float>(shape: b.shape, scalars: b.scalars.map { Float($0) })
        )
        // The Double operands are the Float ones exactly, so only the Float product rounds.
        let (da, db) = (
            Tensor<Double>(shape: a.shape, scalars: fa.scalars.map { Double($0) }),
            Tensor<Double>(shape: b.shape, scalars: fb.scalars.map { Double($0) })
        )
        let exact = da.matmul(db, transposeSelf: transA, transposeOther: transB).scalars
        let magnitudes = abs(da).matmul(abs(db), transposeSelf: transA, transposeOther: transB).scalars
        let one = ComputeThreads.withCount(1) { fa.matmul(fb, transposeSelf: transA, transposeOther: transB) }
        let two = ComputeThreads.withCount(2) { fa.matmul(fb, transposeSelf: transA, transposeOther: transB) }
        #expect(one.shape == [m, n])
        #expect(one.scalars.map(\.bitPattern) == two.scalars.map(\.bitPattern))
        // Double's product rounds too, by far less than the float bound.
        let wrong = zip(one.scalars, zip(exact, magnitudes)).filter { got, reference in
            !(abs(Double(got) - reference.0) <= Self.bound(k: k, magnitude: reference.1) * 1.01)
        }
        #expect(wrong.isEmpty, "\(wrong.count) wrong elements")
    }

    /// `linear` with a third of the input's columns zero: zero skipping leaves them out and hands
    /// the packed kernel the rest (β = 1 onto the prefilled bias).
    @Test("linear with zero-skipped input columns through the packed kernel matches Double")
    func linearOp() {
        let (rows, inputs, outputs) = (256, 300, 70)
        #expect(rows * inputs * outputs >= ZeroSkipping.minimumSize)
        var generator = RandomGenerator(seed: 37)
        var x = Tensor<Double>.randomNormal([rows, inputs], generator: &generator).scalars
        for i in 0..<rows {
            for j in stride(from: 0, to: inputs, by: 3) { x[i * inputs + j] = 0 }
        }
        let w = Tensor<Double>.randomNormal([inputs, outputs], generator: &generator).scalars
        let bias = Tensor<Double>.randomNormal([outputs], generator: &generator).scalars
        func float(_ v: [Double], _ shape: [Int]) -> Tensor<Float> {
            Tensor(shape: shape, scalars: v.map { Float($0) })
        }
        func double(_ t: Tensor<Float>) -> Tensor<Double> {
            Tensor(shape: t.shape, scalars: t.scalars.map { Double($0) })
        }
        let (fx, fw, fb) = (float(x, [rows, inputs]), float(w, [inputs, outputs]), float(bias, [outputs]))
        let out = Tensor.linear(fx, weight: fw, bias: fb)
        let exact = Tensor.linear(double(fx), weight: double(fw), bias: double(fb)).scalars
        let magnitudes = (abs(double(fx)).matmul(abs(double(fw))) + abs(double(fb))).scalars
        let wrong = zip(out.scalars, zip(exact, magnitudes)).filter { got, reference in
            !(abs(Double(got) - reference.0) <= Self.bound(k: inputs + 1, magnitude: reference.1) * 1.01)
        }
        #expect(out.shape == [rows, outputs])
        #expect(wrong.isEmpty, "\(wrong.count) wrong elements")
    }
}
