import CKernels
import Foundation
import Testing

@testable import AutoDiff

/// Every C kernel on every instruction set this CPU runs (`ad_kernel_variants`: the baseline,
/// AVX2 + FMA, AVX-512), against each other and against references.
///
/// What is compared how:
/// - AVX2 against AVX-512: bitwise. Both contract a·b + c into FMAs in the same places and none
///   of the kernels reassociates a sum by vector width (the float products sum each element of C
///   over p in order; their dot products are eight lanes wide in both), so wider vectors change
///   nothing but speed One exception: float products with β ≠ 0, whose last n mod 16 columns
///   may differ by a rounding (``thinProducts(transposes:)``).
/// - the baseline against AVX2: within a few float roundings, since the baseline has no FMA
///   (integer kernels, copies and comparisons: exactly).
/// - products also against a Double triple loop, within 1e-6·√k.
@Suite("Instruction sets")
struct InstructionSetTests {
    /// The kernel tables this machine can run, with their names, baseline first.
    static let variants: [(String, ad_kernel_variants)] = [
        ("baseline", AD_ISA_BASELINE), ("AVX2", AD_ISA_AVX2), ("AVX-512", AD_ISA_AVX512),
    ].compactMap { name, isa in ad_kernel_variants(Int32(isa)).map { (name, $0.pointee) } }

    /// The set the hand-dispatched kernels pick on this machine, and each one it can run.
    static let runnableSets = (0...Int(ad_cpu_isa())).map { Int32($0) }

    @Test("the machine's instruction sets all have tables, and the best one is what the CPU reports")
    func tables() {
        #expect(Self.variants.count == Int(ad_cpu_isa()) + 1 || Self.variants.count == 1)
        #expect(ad_kernel_variants(Int32(AD_ISA_AVX512) + 1) == nil)
        #expect(ad_kernel_variants(-1) == nil)
    }

    /// Shapes reaching every loop of thin_gemm.inc for both vector widths: tiles of 2W, W and 8
    /// columns and the scalar columns (n = 8…15, 16…31, 33, 64, 70), rows of 2W, W and 8 with A
    /// transposed (m = 8, 24, 40, 1000), dot products with k below, at and above 8, 16.
    static let thinShapes: [(Int, Int, Int)] = [
        (1, 1, 1), (3, 1, 5), (7, 13, 5), (9, 5, 3), (33, 3, 64), (2, 64, 300), (300, 64, 2), (19, 8, 8),
        (8, 1, 1000), (1000, 1, 8), (4, 600, 40), (600, 7, 17), (5, 9, 2000), (40, 2, 9), (24, 7, 16), (13, 31, 3),
        (6, 70, 5), (1000, 8, 2), (8, 8, 1000), (17, 33, 7), (3000, 3, 64), (64, 3, 1000), (2, 64, 3000),
    ]

    @Test(
        "float and double thin products agree across instruction sets and with a Double reference",
        arguments: [(false, false), (false, true), (true, false), (true, true)])
    func thinProducts(transposes: (Bool, Bool)) {
        let (transA, transB) = transposes
        var generator = RandomGenerator(seed: 11)
        for (m, n, k) in Self.thinShapes {
            let (aRows, aCols) = transA ? (k, m) : (m, k)
            let (bRows, bCols) = transB ? (n, k) : (k, n)
            let (lda, ldb, ldc) = (aCols + 1, bCols + 3, n + 2)
            let a = (0..<(aRows * lda)).map { _ in generator.nextUniform() - 0.5 }
            let b = (0..<(bRows * ldb)).map { _ in generator.nextUniform() - 0.5 }
            let bias = (0..<n).map { _ in generator.nextUniform() - 0.5 }
            let c0 = (0..<(m * ldc)).map { _ in generator.nextUniform() - 0.5 }
            let (fa, fb, fbias, fc0) = (
                a.map { Float($0) }, b.map { Float($0) }, bias.map { Float($0) }, c0.map { Float($0) }
            )
            for (alpha, beta, withBias) in [(1.0, 0.0, false), (1.0, 0.0, true), (0.5, 2.0, true), (-1.5, 1.0, false)] {
                var reference = c0
                for i in 0..<m {
                    for j in 0..<n {
                        var s = 0.0
                        for p in 0..<k {
                            s += (transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j])
                        }
                        reference[i * ldc + j] = alpha * s + beta * c0[i * ldc + j] + (withBias ? bias[j] : 0)
                    }
                }
                var floats: [[Float]] = []
                var doubles: [[Double]] = []
                for (_, table) in Self.variants {
                    // β = 0 must not read C: NaN there would otherwise poison the result.
                    var float = beta == 0 ? fc0.map { _ in Float.nan } : fc0
                    var double = beta == 0 ? c0.map { _ in Double.nan } : c0
                    fbias.withUnsafeBufferPointer { fbias in
                        table.thin_gemm_f32(
                            transA ? 1 : 0, transB ? 1 : 0, m, n, k, Float(alpha), fa, lda, fb, ldb, Float(beta),
                            withBias ? fbias.baseAddress : nil, &float, ldc)
                    }
                    bias.withUnsafeBufferPointer { bias in
                        table.thin_gemm_f64(
                            transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta,
                            withBias ? bias.baseAddress : nil, &double, ldc)
                    }
                    floats.append(float)
                    doubles.append(double)
                }
                let label = "\(m)×\(n)×\(k) α \(alpha) β \(beta) bias \(withBias)"
                for (v, (name, _)) in Self.variants.enumerated() {
                    var worstFloat = 0.0
                    var worstDouble = 0.0
                    for i in 0..<m {
                        for j in 0..<n {
                            let e = i * ldc + j
                            worstFloat = max(worstFloat, abs(Double(floats[v][e]) - reference[e]))
                            worstDouble = max(worstDouble, abs(doubles[v][e] - reference[e]))
                        }
                        for j in n..<ldc where beta == 0 { #expect(floats[v][i * ldc + j].isNaN, "\(name) \(label)") }
                    }
                    #expect(worstFloat <= 1e-6 * Double(k).squareRoot() * 4, "f32 \(name) \(label)")
                    #expect(worstDouble <= 1e-12 * Double(k), "f64 \(name) \(label)")
                }
                if Self.variants.count == 3 {
                    // With β ≠ 0 the masked last columns of the sixteen-wide product add β·C
                    // as a vector FMA where the eight-wide clone's scalar columns contract
                    // α·s + β·C the other way round: a rounding apart.
                    let bound: Float = beta == 0 ? 0 : 2 * Float.ulpOfOne
                    #expect(
                        zip(floats[1], floats[2]).allSatisfy {
                            $0.isNaN && $1.isNaN || abs($0 - $1) <= bound * max(1, abs($0))
                        }, "f32 AVX2 = AVX-512 \(label)")
                    #expect(
                        zip(doubles[1], doubles[2]).allSatisfy { $0.isNaN && $1.isNaN || $0 == $1 },
                        "f64 AVX2 = AVX-512 \(label)")
                }
            }
        }
    }

    /// The MNIST models' products that the AVX-512 float loops take from BLAS (op(B) in L1), and
    /// some that stay with BLAS, through ``Products`` as the backend runs them (threads included),
    /// against a Double triple loop, in every transpose combination, with α, β and a bias.
    @Test(
        "products the AVX-512 loops take from BLAS match a reference",
        arguments: [(false, false), (false, true), (true, false), (true, true)])
    func sixteenWideProducts(transposes: (Bool, Bool)) {
        let (transA, transB) = transposes
        let shapes = [
            (128, 10, 64), (64, 10, 128), (128, 64, 10), (128, 64, 128), (128, 128, 64), (1000, 64, 128),
            (1000, 10, 64), (9, 9, 9), (37, 127, 129), (130, 200, 100),
        ]
        #expect(Products.handles(Float.self, m: 128, n: 10, k: 64) == Products.sixteenWide)
        #expect(!Products.handles(Double.self, m: 128, n: 10, k: 64))
        #expect(!Products.handles(Float.self, m: 128, n: 512, k: 784))
        var generator = RandomGenerator(seed: 23)
        for (m, n, k) in shapes {
            let (aRows, aCols) = transA ? (k, m) : (m, k)
            let (bRows, bCols) = transB ? (n, k) : (k, n)
            let (lda, ldb, ldc) = (aCols, bCols, n)
            let a = (0..<(aRows * lda)).map { _ in Float(generator.nextUniform() - 0.5) }
            let b = (0..<(bRows * ldb)).map { _ in Float(generator.nextUniform() - 0.5) }
            let c0 = (0..<(m * ldc)).map { _ in Float(generator.nextUniform() - 0.5) }
            let bias = (0..<n).map { _ in Float(generator.nextUniform() - 0.5) }
            func reference(_ alpha: Double, _ beta: Double, _ withBias: Bool) -> [Double] {
                var out = c0.map(Double.init)
                for i in 0..<m {
                    for j in 0..<n {
                        var s = 0.0
                        for p in 0..<k {
                            s +=
                                Double(transA ? a[p * lda + i] : a[i * lda + p])
                                * Double(transB ? b[j * ldb + p] : b[p * ldb + j])
                        }
                        out[i * ldc + j] = alpha * s + beta * out[i * ldc + j] + (withBias ? Double(bias[j]) : 0)
                    }
                }
                return out
            }
            let tolerance = 4e-6 * Double(k).squareRoot()
            for (alpha, beta) in [(1.0, 0.0), (0.5, 2.0)] {
                var c = c0
                Products.gemm(
                    transA: transA, transB: transB, m: m, n: n, k: k, alpha: Float(alpha), a: a, lda: lda, b: b,
                    ldb: ldb, beta: Float(beta), c: &c, ldc: ldc, kernels: CPUKernels<Float>.float)
                let worst = zip(c, reference(alpha, beta, false)).map { abs(Double($0) - $1) }.max() ?? 0
                #expect(worst <= tolerance, "gemm \(m)×\(n)×\(k) α \(alpha) β \(beta)")
            }
            if !transA && !transB {
                var out = [Float](repeating: .nan, count: m * n)
                Products.linear(
                    m: m, n: n, k: k, x: a, weight: b, bias: bias, biasCount: n, out: &out,
                    kernels: CPUKernels<Float>.float)
                let expected = reference(1, 0, true)
                let worst = zip(out, expected).map { abs(Double($0) - $1) }.max() ?? 0
                #expect(worst <= tolerance, "linear \(m)×\(n)×\(k)")
            }
        }
    }

    /// `run(table)` on every table; its outputs (as Doubles) compared: AVX2 with AVX-512 bitwise,
    /// the baseline with AVX2 within `tolerance` (relative to max(1, |x|)).
    func agree(_ name: String, tolerance: Double, _ run: (ad_kernel_variants) -> [Double]) {
        let outputs = Self.variants.map { run($0.1) }
        guard outputs.count > 1 else { return }
        for v in 1..<outputs.count {
            #expect(outputs[v].count == outputs[0].count, "\(name)")
            let limit = v == 1 ? tolerance : 0
            var worst = 0.0
            var nanMismatch = false
            for (x, y) in zip(outputs[v - 1], outputs[v]) {
                if x.isNaN || y.isNaN {
                    nanMismatch = nanMismatch || x.isNaN != y.isNaN
                } else if x != y {
                    worst = max(worst, abs(x - y) / max(1, abs(x)))
                }
            }
            #expect(!nanMismatch, "\(name): NaN in one variant only (\(Self.variants[v - 1].0), \(Self.variants[v].0))")
            #expect(
                worst <= limit, "\(name): \(Self.variants[v - 1].0) against \(Self.variants[v].0) differ by \(worst)")
        }
    }

    static func uniform(_ count: Int, seed: UInt64, scale: Double = 1) -> [Float] {
        var generator = RandomGenerator(seed: seed)
        return (0..<count).map { _ in Float((generator.nextUniform() - 0.5) * 2 * scale) }
    }

    @Test("elementwise, update and reduction kernels agree across instruction sets")
    func elementwise() {
        let n = 1037  // a tail after every vector width
        let x = Self.uniform(n, seed: 1, scale: 4)
        let g = Self.uniform(n, seed: 2)
        let keep = (0..<n).map { UInt8($0 % 3 == 0 ? 0 : 1) }
        agree("masked scale f32", tolerance: 0) { t in
            var y = [Float](repeating: 0, count: n)
            t.masked_scale_f32(&y, x, keep, n, 1.25)
            return y.map(Double.init)
        }
        agree("masked scale f64", tolerance: 0) { t in
            var y = [Double](repeating: 0, count: n)
            t.masked_scale_f64(&y, x.map(Double.init), keep, n, 1.25)
            return y
        }
        for (f32, label) in [(true, "f32"), (false, "f64")] {
            for amsgrad in [false, true] {
                agree("Adam \(label) amsgrad \(amsgrad)", tolerance: 1e-6) { t in
                    var w = x.map(Double.init)
                    var m = g.map { Double($0) / 10 }
                    var v = g.map { Double($0 * $0) }
                    var vmax = v.map { $0 * 1.5 }
                    let gd = g.map(Double.init)
                    if f32 {
                        var (wf, mf, vf, vmf) = (
                            w.map { Float($0) }, m.map { Float($0) }, v.map { Float($0) }, vmax.map { Float($0) }
                        )
                        for _ in 0..<3 {
                            vmf.withUnsafeMutableBufferPointer { vmf in
                                t.adam_f32(
                                    &wf, g, &mf, &vf, amsgrad ? vmf.baseAddress : nil, n, 1e-3, 0.999, 0.9, 0.999, 10,
                                    1000, 1e-8)
                            }
                        }
                        return (wf + mf + vf + vmf).map(Double.init)
                    }
                    for _ in 0..<3 {
                        vmax.withUnsafeMutableBufferPointer { vmax in
                            t.adam_f64(
                                &w, gd, &m, &v, amsgrad ? vmax.baseAddress : nil, n, 1e-3, 0.999, 0.9, 0.999, 10, 1000,
                                1e-8)
                        }
                    }
                    return w + m + v + vmax
                }
            }
        }
        for (outer, length, inner) in [(1, 3000, 64), (3, 17, 1), (2, 6, 9), (4, 33, 70)] {
            let values = Self.uniform(outer * length * inner, seed: 3)
            agree("sum3d f32 \(outer)×\(length)×\(inner)", tolerance: 0) { t in
                var acc = [Float](repeating: 0.5, count: outer * inner)
                t.sum3d_f32(values, outer, length, inner, &acc)
                return acc.map(Double.init)
            }
            agree("sum3d f64 \(outer)×\(length)×\(inner)", tolerance: 0) { t in
                var acc = [Double](repeating: 0.5, count: outer * inner)
                t.sum3d_f64(values.map(Double.init), outer, length, inner, &acc)
                return acc
            }
        }
        for kind in [AD_GELU, AD_GELU_TANH, AD_SILU, AD_ELU] {
            agree("activation \(kind)", tolerance: 1e-6) { t in
                var y = [Float](repeating: 0, count: n)
                t.activation_f32(Int32(kind), x, &y, n, 0.7)
                return y.map(Double.init)
            }
            agree("activation backward \(kind)", tolerance: 1e-6) { t in
                var y = [Float](repeating: 0, count: n)
                t.activation_backward_f32(Int32(kind), g, x, &y, n, 0.7)
                return y.map(Double.init)
            }
        }
    }

    @Test("random masks, zero-column scans and gathers are identical on every instruction set")
    func integerKernels() {
        let n = 1037
        let x = Self.uniform(n, seed: 4)
        for f32 in [true, false] {
            agree("bernoulli f32 \(f32)", tolerance: 0) { t in
                var lanes = (0..<16).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 &+ 1 }
                var keep = [UInt8](repeating: 9, count: n)
                if f32 {
                    var y = [Float](repeating: 0, count: n)
                    t.bernoulli_f32(&y, x, &keep, n, 0x9000_0000, 2, &lanes)
                    return y.map(Double.init) + keep.map(Double.init) + lanes.map(Double.init)
                }
                var y = [Double](repeating: 0, count: n)
                t.bernoulli_f64(&y, x.map(Double.init), &keep, n, 0x9000_0000, 2, &lanes)
                return y + keep.map(Double.init) + lanes.map(Double.init)
            }
        }
        let (rows, columns) = (70, 41)
        var a = Self.uniform(rows * columns, seed: 5)
        for r in 0..<rows {
            for c in 0..<columns where c % 3 == 0 || c % 7 == 1 { a[r * columns + c] = c == 21 ? -0.0 : 0 }
        }
        a[40 * columns + 3] = .nan
        agree("nonzero columns", tolerance: 0) { t in
            var seen = [UInt32](repeating: 0, count: columns)
            var seen64 = [UInt64](repeating: 0, count: columns)
            let count = t.nonzero_columns_f32(a, rows, columns, columns, &seen, 100)
            let count64 = t.nonzero_columns_f64(a.map(Double.init), rows, columns, columns, &seen64, 100)
            return [Double(count), Double(count64)] + seen.map { $0 == 0 ? 0 : 1 } + seen64.map { $0 == 0 ? 0 : 1 }
        }
        let runs = [0, 5, 9, 20, 33, 3, 40, 1]
        agree("gather runs", tolerance: 0) { t in
            var packed = [Float](repeating: 0, count: rows * 29)
            var packed64 = [Double](repeating: 0, count: rows * 29)
            t.gather_runs_f32(a, rows, columns, runs, 4, &packed, 29)
            t.gather_runs_f64(a.map(Double.init), rows, columns, runs, 4, &packed64, 29)
            return packed.map(Double.init) + packed64
        }
        agree("max pool 2×2", tolerance: 0) { t in
            var y = [Float](repeating: 0, count: 3 * 5 * 6)
            var y64 = [Double](repeating: 0, count: 3 * 5 * 6)
            var index = [Int](repeating: 0, count: 3 * 5 * 6)
            var index64 = index
            t.max_pool_2x2_f32(a, 3, 10, 13, 5, 6, &y, &index)
            t.max_pool_2x2_f64(a.map(Double.init), 3, 10, 13, 5, 6, &y64, &index64)
            return y.map(Double.init) + y64 + index.map(Double.init) + index64.map(Double.init)
        }
    }

    @Test("normalization, one-channel convolutions and Winograd transforms agree across instruction sets")
    func imageKernels() {
        let (outer, groups, inner) = (3, 5, 67)
        let x = Self.uniform(outer * groups * inner, seed: 6, scale: 3)
        let g = Self.uniform(outer * groups * inner, seed: 7)
        let scale = Self.uniform(groups, seed: 8)
        let shift = Self.uniform(groups, seed: 9)
        agree("normalize", tolerance: 1e-5) { t in
            var out = [Float](repeating: 0, count: x.count)
            var mean = [Float](repeating: 0, count: groups)
            var rstd = mean
            var dx = out
            var sumG = mean
            var sumGX = mean
            t.normalize_f32(x, outer, groups, inner, 0, groups, 1e-5, scale, shift, &out, &mean, &rstd)
            t.normalize_backward_f32(g, x, mean, rstd, scale, outer, groups, inner, 0, groups, &dx, &sumG, &sumGX)
            return (out + mean + rstd + dx + sumG + sumGX).map(Double.init)
        }
        // Rows of 67 elements: eight-lane blocks and a tail; the affine map per column.
        let (rows, width) = (outer * groups, inner)
        let weightRow = Self.uniform(width, seed: 15)
        let biasRow = Self.uniform(width, seed: 16)
        agree("layer norm", tolerance: 1e-5) { t in
            var out = [Float](repeating: 0, count: x.count)
            var mean = [Float](repeating: 0, count: rows)
            var rstd = mean
            var dx = out
            var weightSums = [Float](repeating: .nan, count: width)
            var biasSums = weightSums
            t.layer_norm_f32(x, width, 0, rows, 1e-5, weightRow, biasRow, &out, &mean, &rstd)
            t.layer_norm_backward_f32(g, x, mean, rstd, weightRow, width, 0, rows, &dx, &weightSums, &biasSums)
            return (out + mean + rstd + dx + weightSums + biasSums).map(Double.init)
        }
        let (images, h, w, cout, kernel) = (2, 11, 13, 4, 3)
        let image = Self.uniform(images * h * w, seed: 10)
        let weight = Self.uniform(cout * kernel * kernel, seed: 11)
        let bias = Self.uniform(cout, seed: 12)
        agree("one-channel convolution", tolerance: 1e-5) { t in
            var y = [Float](repeating: 0, count: images * cout * h * w)
            t.conv_one_channel_f32(image, images, h, w, weight, bias, cout, kernel, kernel, 1, 1, h, w, &y)
            var gw = [Float](repeating: 0, count: cout * kernel * kernel)
            t.conv_one_channel_weight_gradient_f32(image, images, h, w, y, cout, kernel, kernel, 1, 1, h, w, &gw)
            return (y + gw).map(Double.init)
        }
        let (channels, tilesH, tilesW) = (3, 6, 7)
        let tiles = images * tilesH * tilesW
        let ldv = tiles + 7
        let kernels = Self.uniform(cout * channels * 9, seed: 13)
        let planes = Self.uniform(images * channels * h * w, seed: 14)
        agree("Winograd transforms", tolerance: 1e-5) { t in
            var u = [Float](repeating: 0, count: 16 * cout * channels)
            t.winograd_kernel_f32(kernels, cout, channels, 0, &u)
            var v = [Float](repeating: 0, count: 16 * channels * ldv)
            t.winograd_input_f32(planes, images, channels, h, w, 1, 1, tilesH, tilesW, &v, ldv)
            var y = [Float](repeating: 0, count: images * channels * h * w)
            t.winograd_output_f32(v, ldv, images, channels, tilesH, tilesW, bias, h, w, &y)
            return (u + v + y).map(Double.init)
        }
    }
}
