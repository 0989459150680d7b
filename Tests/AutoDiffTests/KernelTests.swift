import CKernels
import Foundation
import Testing

@testable import AutoDiff

/// The hand-written kernels against plain references: thin matrix products against a Double
/// triple loop, in every transpose combination, with padded leading dimensions and α, β.
@Suite("Kernels")
struct KernelTests {
    /// (m, n, k): each has a side of at most 8, so ``Products`` takes it; together they reach
    /// every loop order (n ≥ 8 tiled or streamed, n < 8 with A transposed or not) and the tails.
    static let thinShapes: [(Int, Int, Int)] = [
        (1, 1, 1), (3, 1, 5), (7, 13, 5), (9, 5, 3), (33, 3, 64), (2, 64, 300), (300, 64, 2), (19, 8, 8),
        (8, 1, 1000), (1000, 1, 8), (4, 600, 40), (600, 7, 17), (5, 9, 2000),
    ]

    /// (m, n, k) that go to BLAS: no side thin enough for ``Products``, the last above
    /// ``ComputeThreads/parallelThreshold`` so that it runs threaded.
    static let blasShapes: [(Int, Int, Int)] = [(9, 9, 9), (20, 17, 33), (160, 180, 150)]

    static let transposeCombinations = [(false, false), (false, true), (true, false), (true, true)]

    @Test("thin matrix products match a reference in every transpose combination", arguments: transposeCombinations)
    func thinProducts(transposes: (Bool, Bool)) {
        checkProducts(Self.thinShapes, transposes: transposes, thin: true)
    }

    /// For β = 0 the library clears C itself and asks BLAS for β = 1
    /// (``ComputeThreads/clearedForAccumulation(_:_:_:_:_:)``), so the same rules must hold there.
    @Test(
        "BLAS matrix products match a reference, and β = 0 neither reads C nor writes its padding",
        arguments: transposeCombinations)
    func blasProducts(transposes: (Bool, Bool)) {
        checkProducts(Self.blasShapes, transposes: transposes, thin: false)
    }

    /// Products of `shapes` against a triple loop, with op(A)(i, p) = 0 where `zeroInA(i, p)`.
    func checkProducts(
        _ shapes: [(Int, Int, Int)], transposes: (Bool, Bool), thin: Bool,
        zeroInA: (Int, Int) -> Bool = { _, _ in false }
    ) {
        let (transA, transB) = transposes
        var generator = RandomGenerator(seed: 7)
        for (m, n, k) in shapes {
            #expect(Products.handles(m: m, n: n, k: k) == thin)
            // Leading dimensions with padding, so rows are not contiguous with each other.
            let (aRows, aCols) = transA ? (k, m) : (m, k)
            let (bRows, bCols) = transB ? (n, k) : (k, n)
            let (lda, ldb, ldc) = (aCols + 3, bCols + 1, n + 2)
            var a = (0..<(aRows * lda)).map { _ in generator.nextUniform() - 0.5 }
            for i in 0..<m {
                for p in 0..<k where zeroInA(i, p) { a[transA ? p * lda + i : i * lda + p] = 0 }
            }
            let b = (0..<(bRows * ldb)).map { _ in generator.nextUniform() - 0.5 }
            let c0 = (0..<(m * ldc)).map { _ in generator.nextUniform() - 0.5 }
            func aAt(_ i: Int, _ p: Int) -> Double { transA ? a[p * lda + i] : a[i * lda + p] }
            func bAt(_ p: Int, _ j: Int) -> Double { transB ? b[j * ldb + p] : b[p * ldb + j] }
            for (alpha, beta) in [(1.0, 0.0), (0.5, 2.0)] {
                var reference = c0
                for i in 0..<m {
                    for j in 0..<n {
                        var s = 0.0
                        for p in 0..<k { s += aAt(i, p) * bAt(p, j) }
                        reference[i * ldc + j] = alpha * s + beta * c0[i * ldc + j]
                    }
                }
                // β = 0 must not read C: NaN there would otherwise poison the result.
                var double = beta == 0 ? c0.map { _ in Double.nan } : c0
                var float = double.map { Float($0) }
                let (fa, fb) = (a.map { Float($0) }, b.map { Float($0) })
                CPUKernels<Double>.double.gemm(
                    transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                    beta: beta, c: &double, ldc: ldc)
                CPUKernels<Float>.float.gemm(
                    transA: transA, transB: transB, m: m, n: n, k: k, alpha: Float(alpha), a: fa, lda: lda, b: fb,
                    ldb: ldb, beta: Float(beta), c: &float, ldc: ldc)
                for i in 0..<m {
                    for j in 0..<n {
                        let e = i * ldc + j
                        let tolerance = 1e-6 * Double(k).squareRoot()
                        #expect(abs(double[e] - reference[e]) <= 1e-12 * Double(k), "f64 \(m)×\(n)×\(k) [\(i),\(j)]")
                        #expect(abs(Double(float[e]) - reference[e]) <= tolerance, "f32 \(m)×\(n)×\(k) [\(i),\(j)]")
                    }
                    // Padding between rows of C is never written.
                    for j in n..<ldc where beta == 0 { #expect(double[i * ldc + j].isNaN) }
                }
            }
        }
    }

    /// Large products whose op(A) has zero columns (A as stored: terms of the inner sum left
    /// out) or zero rows (A transposed: rows of C that are β·C), as a batch of images has blank
    /// pixels; all of them zero; and zeros scattered without whole columns (nothing skipped).
    @Test(
        "products without op(A)'s zero columns or rows match a reference, and β = 0 still writes only C",
        arguments: transposeCombinations)
    func zeroSkippingProducts(transposes: (Bool, Bool)) {
        let shapes = [(200, 100, 300), (96, 64, 700)]
        let (transA, _) = transposes
        // A stored with zero columns: inner terms p (not transposed) or rows of C i (transposed).
        checkProducts(shapes, transposes: transposes, thin: false) { i, p in (transA ? i : p) % 3 != 1 }
        checkProducts(shapes, transposes: transposes, thin: false) { i, p in (transA ? i : p) % 8 == 5 }
        // Runs of 20 nonzero columns in every 28, as the pixels of an image row.
        checkProducts(shapes, transposes: transposes, thin: false) { i, p in !(4..<24).contains((transA ? i : p) % 28) }
        checkProducts([(64, 64, 1100)], transposes: transposes, thin: false) { _, _ in true }
        checkProducts(shapes, transposes: transposes, thin: false) { i, p in (i + p) % 2 == 0 }
    }

    /// A NaN is not a zero: a column holding one is kept, so the NaN reaches its row of C (and,
    /// transposed, its column of the weight gradient).
    @Test("a NaN in an otherwise zero column of a zero-skipped product still propagates")
    func zeroSkippingKeepsNaN() {
        var generator = RandomGenerator(seed: 31)
        var x = (0..<(400 * 300)).map { i in i % 300 % 3 == 1 ? Float(generator.nextUniform()) : 0 }
        x[5 * 300 + 0] = .nan  // row 5, column 0 (a column of zeros otherwise)
        let input = Tensor<Float>(shape: [400, 300], scalars: x)
        let weight = Tensor<Float>.randomNormal([300, 64], generator: &generator)
        let output = input.matmul(weight).scalars
        for row in [4, 5, 6] {
            let nans = (0..<64).filter { output[row * 64 + $0].isNaN }.count
            #expect(nans == (row == 5 ? 64 : 0), "row \(row)")
        }
        let gradient = input.transposed().matmul(Tensor<Float>.ones([400, 64])).scalars  // [300, 64]
        #expect((0..<64).allSatisfy { gradient[$0].isNaN })
        #expect((0..<64).allSatisfy { !gradient[64 + $0].isNaN })
    }

    @Test(
        "sums over the middle axis add onto the running values, for every blocking remainder",
        arguments: [(1, 3000, 64), (3, 17, 1), (2, 5, 3), (4, 1, 7), (1, 9, 1), (5, 8, 1), (2, 6, 9)])
    func middleAxisSums(shape: (Int, Int, Int)) {
        let (outer, length, inner) = shape
        var generator = RandomGenerator(seed: 5)
        let x = (0..<(outer * length * inner)).map { _ in generator.nextUniform() - 0.5 }
        let start = (0..<(outer * inner)).map { _ in generator.nextUniform() }
        var reference = start
        for o in 0..<outer {
            for k in 0..<length {
                for j in 0..<inner { reference[o * inner + j] += x[(o * length + k) * inner + j] }
            }
        }
        var double = start
        CPUKernels<Double>.double.reduce3D(.sum, x, outer, length, inner, into: &double)
        var float = start.map { Float($0) }
        CPUKernels<Float>.float.reduce3D(.sum, x.map { Float($0) }, outer, length, inner, into: &float)
        for e in 0..<(outer * inner) {
            #expect(abs(double[e] - reference[e]) <= 1e-12 * Double(length), "f64 element \(e)")
            #expect(abs(Double(float[e]) - reference[e]) <= 1e-6 * Double(length), "f32 element \(e)")
        }
    }

    @Test(
        "linear adds the bias as the product is stored (thin) or prefilled (BLAS)",
        arguments: [(300, 2, 64), (97, 64, 3), (5, 3, 1), (64, 40, 33), (0, 3, 4), (6, 0, 5)])
    func linearBias(shape: (Int, Int, Int)) {
        let (rows, inputs, outputs) = shape
        var generator = RandomGenerator(seed: 9)
        let x = Tensor<Float>.randomNormal([rows, inputs], generator: &generator)
        let w = Tensor<Float>.randomNormal([inputs, outputs], generator: &generator)
        let b = Tensor<Float>.randomNormal([outputs], generator: &generator)
        let fused = Tensor.linear(x, weight: w, bias: b)
        let reference = x.matmul(w) + b
        #expect(fused.shape == reference.shape)
        for (u, v) in zip(fused.scalars, reference.scalars) { #expect(abs(u - v) <= 1e-5 * max(1, abs(v))) }
        let broadcastBias = Tensor.linear(x, weight: w, bias: Tensor<Float>(0.5))
        for (u, v) in zip(broadcastBias.scalars, (x.matmul(w) + 0.5).scalars) {
            #expect(abs(u - v) <= 1e-5 * max(1, abs(v)))
        }
    }

    @Test("products without a thin side still go to BLAS")
    func wideProductsUseBLAS() {
        #expect(!Products.handles(m: 128, n: 10, k: 64))
        #expect(!Products.handles(m: 3000, n: 64, k: 64))
        #expect(!Products.handles(m: 8, n: 4096, k: 4096))  // thin but large: multi-threaded BLAS
    }

    /// 37: not a multiple of the vector width, so the tail runs too; 100,003: split across
    /// ``ComputeThreads``, every part with its own slice of the three state buffers.
    @Test("Adam and AMSGrad steps match the scalar formulas", arguments: [37, 100_003])
    func adamKernel(n: Int) {
        for amsgrad in [false, true] {
            var generator = RandomGenerator(seed: 3)
            var w = (0..<n).map { _ in Float(generator.nextUniform() - 0.5) }
            let g = (0..<n).map { _ in Float(generator.nextUniform() - 0.5) }
            var m = (0..<n).map { _ in Float(generator.nextUniform() * 0.1) }
            var v = (0..<n).map { _ in Float(generator.nextUniform() * 0.1) }
            var vMax = v.map { $0 * 1.5 }
            let (lr, decay, b1, b2, c1, c2, eps): (Float, Float, Float, Float, Float, Float, Float) =
                (0.01, 0.999, 0.9, 0.999, 1 / (1 - 0.81), 1 / (1 - 0.998), 1e-8)
            var expected = w
            for i in 0..<n {
                let mi = b1 * m[i] + (1 - b1) * g[i]
                let vi = b2 * v[i] + (1 - b2) * g[i] * g[i]
                let vHat = amsgrad ? max(vMax[i], vi) : vi
                expected[i] = w[i] * decay - lr * (mi * c1) / ((vHat * c2).squareRoot() + eps)
            }
            w.withUnsafeMutableBufferPointer { wp in
                m.withUnsafeMutableBufferPointer { mp in
                    v.withUnsafeMutableBufferPointer { vp in
                        vMax.withUnsafeMutableBufferPointer { xp in
                            CPULoops.update(
                                .adam(
                                    lr: Double(lr), decay: Double(decay), beta1: Double(b1), beta2: Double(b2),
                                    c1: Double(c1), c2: Double(c2), epsilon: Double(eps), amsgrad: amsgrad),
                                wp.baseAddress!, g, [mp.baseAddress!, vp.baseAddress!, xp.baseAddress!], n,
                                adam: ad_adam_f32)
                        }
                    }
                }
            }
            for i in 0..<n { #expect(abs(w[i] - expected[i]) <= 1e-6, "amsgrad \(amsgrad), element \(i)") }
        }
    }
}

@Suite("Bernoulli lanes")
struct BernoulliLaneTests {
    @Test("every one of the eight positions per vector step keeps the requested fraction")
    func lanePositions() {
        var generator = RandomGenerator(seed: 11)
        let n = 80_000
        let mask = Tensor<Float>.randomBernoulli([n], probability: 0.3, generator: &generator).scalars
        for position in 0..<8 {
            let kept = stride(from: position, to: n, by: 8).filter { mask[$0] == 1 }.count
            // 10,000 draws per position: the standard deviation of the fraction is 0.0046.
            #expect(abs(Double(kept) / Double(n / 8) - 0.3) < 0.02, "position \(position)")
        }
        // Neighbouring elements are independent: P(both kept) ≈ 0.09.
        let pairs = (0..<(n - 1)).filter { mask[$0] == 1 && mask[$0 + 1] == 1 }.count
        #expect(abs(Double(pairs) / Double(n - 1) - 0.09) < 0.01)
    }
}

extension BernoulliLaneTests {
    /// A large mask is made of blocks seeded in order from the generator, so it is the same
    /// whether the blocks run on one thread or several: here, against the blocks drawn one call
    /// at a time.
    @Test("a mask split into blocks equals the blocks drawn one after another")
    func blocks() {
        let block = CPULoops.bernoulliBlock
        let n = 3 * block + 5
        #expect(ComputeThreads.count == 1 || ComputeThreads.parts(elements: n) > 1)
        var whole = RandomGenerator(seed: 23)
        var pieces = RandomGenerator(seed: 23)
        let mask = Tensor<Float>.randomBernoulli([n], probability: 0.7, generator: &whole).scalars
        var reference: [Float] = []
        for size in [block, block, block, 5] {
            reference += Tensor<Float>.randomBernoulli([size], probability: 0.7, generator: &pieces).scalars
        }
        #expect(mask == reference)
        #expect(whole == pieces)
    }
}

@Suite("Dropout")
struct DropoutTests {
    @Test(
        "dropout in one pass equals input × the Bernoulli mask from the same generator state",
        arguments: [0.1, 0.5, 0.9])
    func matchesMask(rate: Double) {
        var generator = RandomGenerator(seed: 21)
        let x = Tensor<Float>.randomNormal([37, 11], generator: &generator)  // 407: a partial last step
        var a = RandomGenerator(seed: 5)
        var b = RandomGenerator(seed: 5)
        let fused = x.dropout(rate: rate, generator: &a)
        let mask = Tensor<Float>.randomBernoulli(
            x.shape, probability: 1 - rate, value: 1 / (1 - Float(rate)), generator: &b)
        #expect(fused.scalars == (x * mask).scalars)
        #expect(a == b)
        // The gradient is the same mask applied to the upstream gradient.
        let input = x.requiringGrad()
        var c = RandomGenerator(seed: 5)
        input.dropout(rate: rate, generator: &c).sum().backward()
        #expect(input.grad!.scalars == mask.scalars)
    }

    @Test("rate 0 is the identity and NaN inputs stay NaN where dropped, as with a multiplied mask")
    func edges() {
        var generator = RandomGenerator(seed: 1)
        let x = Tensor<Float>([1, 2, 3])
        #expect(x.dropout(rate: 0, generator: &generator).scalars == [1, 2, 3])
        let nan = Tensor<Float>(shape: [64], scalars: Array(repeating: .nan, count: 64))
        let dropped = nan.dropout(rate: 0.5, generator: &generator).scalars
        #expect(dropped.allSatisfy { $0.isNaN })
    }
}

@Suite("Loss kernels in Float")
struct FloatLossKernelTests {
    @Test("binary cross-entropy on logits and its gradient match a Double reference, vector lanes and tail")
    func sigmoidCrossEntropy() {
        // 1003 logits: a vector body and a 3-element tail, from −40 to 40 and the extremes.
        var logits = (0..<1000).map { Float($0 - 500) * 0.08 }
        logits += [88, -88, 1e-30]
        let targets = logits.indices.map { Float($0 % 3) / 2 }
        let z = Tensor<Float>(shape: [logits.count], scalars: logits).requiringGrad()
        let loss = Tensor.sigmoidCrossEntropy(logits: z, targets: Tensor(shape: [targets.count], scalars: targets))
        loss.backward()
        let n = Double(logits.count)
        var reference = 0.0
        for (zi, yi) in zip(logits.map(Double.init), targets.map(Double.init)) {
            reference += Swift.max(zi, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(zi))) - yi * zi
        }
        #expect(abs(Double(loss.item) - reference / n) <= 1e-6 * reference / n)
        for (i, (zi, yi)) in zip(logits, targets).enumerated() {
            let sigmoid = 1 / (1 + Foundation.exp(-Double(zi)))
            let expected = (sigmoid - Double(yi)) / n
            #expect(abs(Double(z.grad!.scalars[i]) - expected) <= 1e-7 / n + 1e-6 * abs(expected), "element \(i)")
        }
        let nan = Tensor.sigmoidCrossEntropy(
            logits: Tensor<Float>(shape: [9], scalars: [0, 1, 2, 3, .nan, 5, 6, 7, 8]), targets: .zeros([9]))
        #expect(nan.item.isNaN)
    }

    /// The row maximum runs over eight lanes and a tail: a NaN in either makes the loss NaN, and
    /// the largest logit of a row with 70 classes (a transformer's characters) is found in both.
    @Test("softmax cross-entropy: a NaN logit in a row's lanes or its tail makes the loss NaN")
    func softmaxCrossEntropyNaN() {
        for position in [3, 66] {
            var logits = [Float](repeating: 0, count: 2 * 70)
            logits[70 + position] = .nan
            let loss = Tensor.softmaxCrossEntropy(logits: Tensor(shape: [2, 70], scalars: logits), labels: [0, 1])
            #expect(loss.item.isNaN, "NaN at column \(position)")
        }
        for position in [5, 68] {
            var logits = [Float](repeating: -3, count: 70)
            logits[position] = 90  // exp(90 − 0) overflows unless the row's maximum is found
            let loss = Tensor.softmaxCrossEntropy(logits: Tensor(shape: [1, 70], scalars: logits), labels: [position])
            #expect(abs(loss.item) < 1e-6, "the largest logit at column \(position)")
        }
    }

    @Test("softmax cross-entropy and its gradient match a Double reference", arguments: [(37, 10), (3000, 3), (5, 1)])
    func softmaxCrossEntropy(shape: (Int, Int)) {
        let (rows, classes) = shape
        var generator = RandomGenerator(seed: 13)
        var logits = (0..<(rows * classes)).map { _ in Float(generator.nextNormal() * 4) }
        logits[0] = 80  // large logits must not overflow
        if rows > 1 { logits[classes] = -80 }
        let labels = (0..<rows).map { $0 % classes }
        let z = Tensor<Float>(shape: [rows, classes], scalars: logits).requiringGrad()
        let loss = Tensor.softmaxCrossEntropy(logits: z, labels: labels)
        loss.backward()
        var reference = 0.0
        var gradient = [Double](repeating: 0, count: rows * classes)
        for i in 0..<rows {
            let row = logits[(i * classes)..<((i + 1) * classes)].map(Double.init)
            let m = row.max()!
            let s = row.map { Foundation.exp($0 - m) }.reduce(0, +)
            reference += Foundation.log(s) + m - row[labels[i]]
            for j in 0..<classes {
                gradient[i * classes + j] = (Foundation.exp(row[j] - m) / s - (j == labels[i] ? 1 : 0)) / Double(rows)
            }
        }
        reference /= Double(rows)
        #expect(abs(Double(loss.item) - reference) <= 1e-5 * Swift.max(1, abs(reference)))
        for (e, expected) in gradient.enumerated() {
            #expect(
                abs(Double(z.grad!.scalars[e]) - expected) <= 1e-6 / Double(rows) + 1e-5 * abs(expected), "element \(e)"
            )
        }
    }
}

/// The pool that large kernels are split across (``ComputeThreads``, `pool.c`), and the kernels
/// that use it, at sizes large enough to be split.
@Suite("Compute threads")
struct ComputeThreadTests {
    /// `hits[p]` after running a job of `parts` parts that each count themselves.
    static func partsRun(_ parts: Int, inside: (Int) -> Void = { _ in }) -> [Int] {
        var hits = [Int](repeating: 0, count: parts)
        hits.withUnsafeMutableBufferPointer { hits in
            ComputeThreads.forEachPart(parts) { part in
                hits[part] += 1
                inside(part)
            }
        }
        return hits
    }

    @Test("every part runs exactly once, also for jobs started inside a part and from many threads at once")
    func everyPartOnce() {
        let width = Int(ad_pool_width())
        for parts in 1...(width + 2) { #expect(Self.partsRun(parts) == Array(repeating: 1, count: parts)) }
        // A job started from inside a part runs its parts on that thread, one after another.
        var inner = [[Int]](repeating: [], count: width)
        inner.withUnsafeMutableBufferPointer { inner in
            let outer = Self.partsRun(width) { part in inner[part] = Self.partsRun(width) }
            #expect(outer == Array(repeating: 1, count: width))
        }
        #expect(inner == Array(repeating: Array(repeating: 1, count: width), count: width))
        // Submitters on other threads: each job still runs all its parts once.
        let submitters = 6
        // Each submitter writes only its own slot.
        nonisolated(unsafe) let failures = UnsafeMutableBufferPointer<Int>.allocate(capacity: submitters)
        defer { failures.deallocate() }
        failures.initialize(repeating: 0)
        DispatchQueue.concurrentPerform(iterations: submitters) { submitter in
            for _ in 0..<300 where Self.partsRun(width) != Array(repeating: 1, count: width) {
                failures[submitter] += 1
            }
        }
        #expect(Array(failures) == Array(repeating: 0, count: submitters))
    }

    /// `ComputeThreads.set` from some threads while others read the count and run split kernels:
    /// no data race (ThreadSanitizer runs this suite in CI) and every sum stays right. The value
    /// set is the one already in force, so tests running beside this one see no change.
    @Test("setting the thread count while other threads run kernels is race-free")
    func settingTheCountWhileKernelsRun() {
        let original = ComputeThreads.count
        nonisolated(unsafe) let wrongSums = UnsafeMutableBufferPointer<Int>.allocate(capacity: 4)
        defer { wrongSums.deallocate() }
        wrongSums.initialize(repeating: 0)
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            // Tensors are not Sendable: each thread makes its own.
            let x = Tensor<Double>.ones([4096, 16])
            for _ in 0..<50 {
                if thread % 2 == 0 {
                    ComputeThreads.set(original)
                } else if x.sum().item != 4096 * 16 || ComputeThreads.count != original {
                    wrongSums[thread] += 1
                }
            }
        }
        #expect(Array(wrongSums) == [0, 0, 0, 0])
    }

    /// A worker created by widening the pool must take part in a job submitted before it first
    /// runs (it once read the job counter only when it started, and the job waited forever).
    @Test("a widened pool runs a job submitted right after its new workers were created")
    func widening() {
        let width = Int(ad_pool_width())
        defer { ad_pool_set_width(Int32(ComputeThreads.count)) }
        for wider in (width + 1)...(width + 3) {
            ad_pool_set_width(Int32(wider))
            #expect(Self.partsRun(wider) == Array(repeating: 1, count: wider))
        }
    }

    /// More pool threads than cores: workers are often not running when a job starts, so the
    /// caller claims their parts; each part must still run exactly once, whoever claims it.
    @Test("with more threads than cores, every part of every job runs exactly once")
    func oversubscribed() {
        defer { ad_pool_set_width(Int32(ComputeThreads.count)) }
        let width = 3 * Int(ad_available_cpus()) + 2
        ad_pool_set_width(Int32(width))
        for job in 0..<2000 {
            let parts = 2 + job % (width - 1)
            let hits = Self.partsRun(parts)
            if hits != Array(repeating: 1, count: parts) {
                Issue.record("job \(job) with \(parts) parts ran them \(hits) times")
                return
            }
        }
    }

    /// (m, n, k) thin enough for ``Products`` and large enough to be split: by rows of C, by
    /// columns of C, and by the inner sum (twice, for both ways A can be laid out).
    static let splitShapes: [(Int, Int, Int)] = [(3000, 64, 2), (3, 3000, 64), (2, 64, 3000), (64, 3, 3000)]

    @Test("thin products split across threads match a reference", arguments: KernelTests.transposeCombinations)
    func splitThinProducts(transposes: (Bool, Bool)) {
        for (m, n, k) in Self.splitShapes {
            #expect(ComputeThreads.count == 1 || ComputeThreads.parts(elements: max(m * k, k * n, m * n)) > 1)
        }
        KernelTests().checkProducts(Self.splitShapes, transposes: transposes, thin: true)
    }

    @Test(
        "sums and maxima split across threads match a reference, along the long axis and across it",
        arguments: [([3000, 64], 0), ([3000, 64], 1), ([64, 3000], 1), ([64, 3000], 0)])
    func splitReductions(shape: [Int], axis: Int) {
        var generator = RandomGenerator(seed: 17)
        var values = (0..<(shape[0] * shape[1])).map { _ in generator.nextUniform() - 0.5 }
        values[values.count - 5] = .nan  // NaN in the last part must reach the maximum
        let x = Tensor<Double>(shape: shape, scalars: values)
        let kept = axis == 0 ? shape[1] : shape[0]
        let length = shape[axis]
        func at(_ i: Int, _ j: Int) -> Double { axis == 0 ? values[j * shape[1] + i] : values[i * shape[1] + j] }
        let (sums, maxima) = (x.sum(alongAxis: axis).scalars, x.max(alongAxis: axis).scalars)
        let floatSums = Tensor<Float>(shape: shape, scalars: values.map { Float($0) }).sum(alongAxis: axis).scalars
        for i in 0..<kept {
            let column = (0..<length).map { at(i, $0) }
            let sum = column.reduce(0, +)
            if sum.isNaN {
                #expect(sums[i].isNaN && maxima[i].isNaN && floatSums[i].isNaN, "NaN at \(i)")
                continue
            }
            #expect(abs(sums[i] - sum) <= 1e-12 * Double(length), "sum \(i)")
            #expect(abs(Double(floatSums[i]) - sum) <= 1e-5 * Double(length).squareRoot(), "f32 sum \(i)")
            #expect(maxima[i] == column.max()!, "max \(i)")
        }
    }

    @Test("indexSelect of a large batch, split across threads, copies the right slices", arguments: [0, 1])
    func splitIndexSelect(axis: Int) {
        var generator = RandomGenerator(seed: 29)
        let shape = axis == 0 ? [500, 97] : [3, 500, 41]
        let x = Tensor<Float>.randomNormal(shape, generator: &generator)
        let indices = (0..<700).map { ($0 * 7919) % 500 }  // repeats included
        let picked = x.indexSelect(alongAxis: axis, indices: indices)
        let (outer, inner) = axis == 0 ? (1, 97) : (3, 41)
        #expect(picked.shape == (axis == 0 ? [700, 97] : [3, 700, 41]))
        let (xs, ps) = (x.scalars, picked.scalars)
        var mismatches = 0
        for o in 0..<outer {
            for (j, index) in indices.enumerated() {
                for i in 0..<inner where ps[(o * 700 + j) * inner + i] != xs[(o * 500 + index) * inner + i] {
                    mismatches += 1
                }
            }
        }
        #expect(mismatches == 0)
    }

    @Test("elementwise kernels split across threads match one element at a time")
    func splitElementwise() {
        var generator = RandomGenerator(seed: 19)
        let n = 100_003  // parts end inside a vector step
        #expect(ComputeThreads.count == 1 || ComputeThreads.parts(elements: n) > 1)
        let a = Tensor<Float>.randomNormal([n], generator: &generator)
        let b = Tensor<Float>.randomNormal([n], generator: &generator)
        let (x, y) = (a.scalars, b.scalars)
        let (tanh, sum, product) = (a.tanh().scalars, (a + b).scalars, (a * b).scalars)
        for i in 0..<n {
            #expect(abs(Double(tanh[i]) - Foundation.tanh(Double(x[i]))) <= 1e-6, "tanh \(i)")
            #expect(sum[i] == x[i] + y[i], "sum \(i)")
            #expect(product[i] == x[i] * y[i], "product \(i)")
        }
        // Dropout's backward pass: the upstream gradient masked and scaled.
        let input = a.requiringGrad()
        var dropping = RandomGenerator(seed: 3)
        let dropped = input.dropout(rate: 0.25, generator: &dropping)
        (dropped * b).sum().backward()
        let kept = dropped.scalars.map { $0 != 0 }
        for i in 0..<n {
            #expect(input.grad!.scalars[i] == (kept[i] ? y[i] * (1 / 0.75) : 0), "dropout gradient \(i)")
        }
    }
}

@Suite("Index range checks")
struct IndexRangeTests {
    @Test(
        "allInRange agrees with a plain comparison for bounds in 31 bits (halves) and beyond (whole indices)",
        arguments: [0, 8, 783, Int(Int32.max), Int(Int32.max) + 1, Int.max - 1])
    func allInRange(_ last: Int) {
        let edges = [0, last, last &+ 1, -1, Int.min, Int.max, last / 2, 1 << 32, (1 << 32) + last % 7]
        for count in [0, 1, 7, 8, 9, 16, 21] {
            for position in 0..<Swift.max(count, 1) {
                for bad in edges {
                    var indices = (0..<count).map {
                        ($0 * 7919) % (last &+ 1 == Int.min ? Int.max : Swift.max(last &+ 1, 1))
                    }
                    if count > 0 { indices[position] = bad }
                    let expected = indices.allSatisfy { $0 >= 0 && $0 <= last }
                    let checked = indices.withUnsafeBufferPointer {
                        CPULoops.allInRange($0.baseAddress ?? UnsafePointer(bitPattern: 8)!, count, last: last)
                    }
                    #expect(checked == expected, "last \(last), count \(count), \(bad) at \(position)")
                }
            }
        }
    }
}
