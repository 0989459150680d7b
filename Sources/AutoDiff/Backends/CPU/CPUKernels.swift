import CKernels
import COpenBLAS

/// The CPU backend's kernels for one element type: each ``Backend`` requirement on host
/// pointers, with the C kernels of that type (`Sources/CKernels`, compiled for AVX2+FMA and the
/// baseline) and OpenBLAS. ``CPUBackend`` holds one for `Float` and one for `Double` and picks
/// by the buffers' ``DType``, so everything here is specialised for its type.
///
/// Large kernels are split across ``ComputeThreads``; how a kernel is split depends only on the
/// sizes and the thread count, so results are reproducible for a given thread count.
///
/// `@unchecked Sendable`: an immutable table of C and BLAS functions.
struct CPUKernels<S: TensorScalar>: @unchecked Sendable {
    // The C and BLAS functions of this element type.
    let thinGemm: Products.ThinKernel<S>
    let blasGemm: Products.BLASKernel<S>
    let zeroSkipping: ZeroSkipping.Kernels<S>
    let bernoulliLanes: CPULoops.BernoulliKernel<S>
    let maskedScaleLoop: (UnsafeMutablePointer<S>, UnsafePointer<S>, UnsafePointer<UInt8>, Int, S) -> Void
    let adam: CPULoops.AdamKernel<S>
    let sum3D: (UnsafePointer<S>, Int, Int, Int, UnsafeMutablePointer<S>) -> Void
    let sigmoidCrossEntropyLoop: (UnsafePointer<S>, UnsafePointer<S>, Int, UnsafeMutablePointer<S>?) -> Double
    let softmaxCrossEntropyLoop: (UnsafePointer<S>, UnsafePointer<Int>, Int, Int, UnsafeMutablePointer<S>?) -> Double

    @inline(__always) func p(_ b: Buffer) -> UnsafeMutablePointer<S> { b.host(S.self) }

    // MARK: Elementwise

    func fill(_ out: Buffer, _ value: Double) { CPULoops.fill(p(out), S(value), out.count) }

    func unary(_ op: UnaryKernel, _ x: Buffer, _ out: Buffer) {
        let (px, py) = (p(x), p(out))
        ComputeThreads.forEachRange(of: x.count) { r in
            CPULoops.unary(op, px + r.lowerBound, py + r.lowerBound, r.count)
        }
    }

    /// Same shapes split across threads; a scalar on either side is a stride of 0; anything
    /// else is walked with merged dimensions, one 2-D kernel call per block.
    func binary(_ op: BinaryKernel, _ a: Buffer, _ aShape: [Int], _ b: Buffer, _ bShape: [Int], _ out: Buffer, _ shape: [Int]) {
        let (pa, pb, po, count) = (p(a), p(b), p(out), out.count)
        if aShape == bShape {
            ComputeThreads.forEachRange(of: count) { r in
                CPULoops.binary(op, pa + r.lowerBound, 1, pb + r.lowerBound, 1, po + r.lowerBound, r.count)
            }
        } else if b.count == 1 && aShape == shape {
            CPULoops.binary(op, pa, 1, pb, 0, po, count)
        } else if a.count == 1 && bShape == shape {
            CPULoops.binary(op, pa, 0, pb, 1, po, count)
        } else if count > 0 {
            let (dims, strides) = Layouts.coalesced(
                shape, [ShapeMath.broadcastStrides(aShape, to: shape), ShapeMath.broadcastStrides(bShape, to: shape)])
            let (sa, sb) = (strides[0], strides[1])
            switch dims.count {
            case 0:
                CPULoops.binary(op, pa, 0, pb, 0, po, 1)
            case 1:
                CPULoops.binary(op, pa, sa[0], pb, sb[0], po, dims[0])
            case 2:
                CPULoops.binary2D(op, pa, sa[0], sa[1], pb, sb[0], sb[1], po, dims[0], dims[1])
            default:
                // Walk the leading dimensions; each step is one 2-D kernel call.
                let rank = dims.count
                let (rows, cols) = (dims[rank - 2], dims[rank - 1])
                let outer = Array(dims[..<(rank - 2)]) + [1, 1]
                let outerStrides = [Array(sa[..<(rank - 2)]) + [0, 0], Array(sb[..<(rank - 2)]) + [0, 0]]
                Layouts.forEachRow(outer, outerStrides) { offsets, block in
                    CPULoops.binary2D(
                        op, pa + offsets[0], sa[rank - 2], sa[rank - 1], pb + offsets[1], sb[rank - 2], sb[rank - 1],
                        po + block * rows * cols, rows, cols)
                }
            }
        }
    }

    func select(
        _ mask: Buffer, _ maskShape: [Int], _ a: Buffer, _ aShape: [Int], _ b: Buffer, _ bShape: [Int],
        _ out: Buffer, _ shape: [Int]
    ) {
        let sm = ShapeMath.broadcastStrides(maskShape, to: shape)
        let sa = ShapeMath.broadcastStrides(aShape, to: shape)
        let sb = ShapeMath.broadcastStrides(bShape, to: shape)
        let inner = shape.last ?? 1
        let (pm, pa, pb, po) = (p(mask), p(a), p(b), p(out))
        Layouts.forEachRow(shape, [sm, sa, sb]) { o, row in
            CPULoops.select(
                pm + o[0], sm.last ?? 0, pa + o[1], sa.last ?? 0, pb + o[2], sb.last ?? 0, po + row * inner, inner)
        }
    }

    /// A contiguous copy of a strided view, one row at a time; a view of one repeated element
    /// (a reduction's gradient) is a fill.
    func copy(_ source: StridedView, _ out: Buffer, _ shape: [Int]) {
        let (px, po, n) = (p(source.buffer) + source.offset, p(out), out.count)
        let inner = shape.last ?? 1
        let innerStride = source.strides.last ?? 0
        if source.strides.allSatisfy({ $0 == 0 }) {
            if n > 0 { CPULoops.fill(po, px[0], n) }
        } else {
            Layouts.forEachRow(shape, [source.strides]) { offsets, row in
                CPULoops.copy(px + offsets[0], innerStride, po + row * inner, 1, inner)
            }
        }
    }

    func copy(_ source: Buffer, _ destination: StridedView, _ shape: [Int]) {
        let (px, po) = (p(source), p(destination.buffer) + destination.offset)
        let inner = shape.last ?? 1
        let innerStride = destination.strides.last ?? 0
        Layouts.forEachRow(shape, [destination.strides]) { offsets, row in
            CPULoops.copy(px + row * inner, 1, po + offsets[0], innerStride, inner)
        }
    }

    // MARK: Reductions

    func reduce(_ op: ReductionKernel, _ x: Buffer, _ shape: [Int], _ axes: [Int], _ out: Buffer) {
        let (px, po) = (p(x), p(out))
        CPULoops.fill(po, CPULoops.identity(op, S.self), out.count)
        // Axes of size 1 change nothing; a contiguous block of reduced axes is one
        // [outer, length, inner] kernel call.
        let reduced = axes.filter { shape[$0] != 1 }
        if x.count == 0 || reduced.isEmpty {
            if x.count > 0 { CPULoops.copy(px, 1, po, 1, x.count) }
        } else if let first = reduced.first, let last = reduced.last,
            (first...last).allSatisfy({ reduced.contains($0) || shape[$0] == 1 })
        {
            let outer = shape[..<first].reduce(1, *)
            let length = shape[first...last].reduce(1, *)
            let inner = shape[(last + 1)...].reduce(1, *)
            reduce3DInParts(op, px, outer, length, inner, into: po)
        } else {
            var outShape = shape
            for axis in axes { outShape[axis] = 1 }
            var so = ShapeMath.strides(outShape)
            for axis in axes { so[axis] = 0 }
            let sx = ShapeMath.strides(shape)
            let inner = shape.last ?? 1
            let lastReduced = axes.last == shape.count - 1
            Layouts.forEachRow(shape, [sx, so]) { offsets, _ in
                if lastReduced {
                    CPULoops.reduce(op, px + offsets[0], 1, inner, into: po + offsets[1])
                } else {
                    CPULoops.accumulate(op, px + offsets[0], 1, into: po + offsets[1], inner)
                }
            }
        }
    }

    /// `[outer, length, inner]` → `[outer, inner]`; sums through the vectorised C loop.
    @inline(__always)
    func reduce3D(
        _ op: ReductionKernel, _ x: UnsafePointer<S>, _ outer: Int, _ length: Int, _ inner: Int,
        into acc: UnsafeMutablePointer<S>
    ) {
        if op == .sum {
            sum3D(x, outer, length, inner, acc)
        } else {
            CPULoops.reduce3D(op, x, outer, length, inner, into: acc)
        }
    }

    /// ``reduce3D(_:_:_:_:_:into:)`` split across ``ComputeThreads`` when large: along `outer`
    /// when it is the longer axis (each part reduces its own rows), else along `length`, each
    /// part into its own block of partial results, which are then reduced into `acc` in part
    /// order by the same kernel (so NaN and signed-zero handling stay the kernel's).
    func reduce3DInParts(
        _ op: ReductionKernel, _ x: UnsafePointer<S>, _ outer: Int, _ length: Int, _ inner: Int,
        into acc: UnsafeMutablePointer<S>
    ) {
        let parts = ComputeThreads.parts(elements: outer * length * inner)
        if parts <= 1 {
            reduce3D(op, x, outer, length, inner, into: acc)
        } else if outer >= length {
            ComputeThreads.forEachRange(of: outer, elements: outer * length * inner, alignment: 1) { r in
                reduce3D(op, x + r.lowerBound * length * inner, r.count, length, inner, into: acc + r.lowerBound * inner)
            }
        } else {
            let block = outer * inner
            withUnsafeTemporaryAllocation(of: S.self, capacity: parts * block) { partials in
                let partials = partials.baseAddress!
                CPULoops.fill(partials, CPULoops.identity(op, S.self), parts * block)
                ComputeThreads.forEachPart(parts) { part in
                    let r = ComputeThreads.range(of: part, parts, in: length, alignment: 1)
                    guard !r.isEmpty else { return }
                    for o in 0..<outer {
                        reduce3D(
                            op, x + (o * length + r.lowerBound) * inner, 1, r.count, inner,
                            into: partials + part * block + o * inner)
                    }
                }
                reduce3D(op, partials, 1, parts, block, into: acc)
            }
        }
    }

    func logSumExp(_ x: Buffer, _ outer: Int, _ length: Int, _ inner: Int, _ out: Buffer) {
        let (px, po) = (p(x), p(out))
        ComputeThreads.forEachRange(of: outer, elements: 4 * outer * length * inner, alignment: 1) { r in
            CPULoops.logSumExp(px + r.lowerBound * length * inner, r.count, length, inner, into: po + r.lowerBound * inner)
        }
    }

    func argReduce(_ op: ReductionKernel, _ x: Buffer, _ outer: Int, _ length: Int, _ inner: Int) -> [Int] {
        CPULoops.argReduce(op, p(x), outer, length, inner)
    }

    func firstNonFinite(_ x: Buffer) -> Int? {
        let px = p(x)
        return (0..<x.count).first { !px[$0].isFinite }
    }

    // MARK: Products

    func matmul(_ a: Buffer, _ b: Buffer, _ c: Buffer, _ batch: Int, _ m: Int, _ n: Int, _ k: Int, _ ta: Bool, _ tb: Bool) {
        let (pa, pb, pc) = (p(a), p(b), p(c))
        if k == 0 {
            CPULoops.fill(pc, 0, batch * m * n)
            return
        }
        guard m > 0 && n > 0 else { return }
        for i in 0..<batch {
            gemm(
                transA: ta, transB: tb, m: m, n: n, k: k, alpha: 1, a: pa + i * m * k, lda: ta ? m : k,
                b: pb + i * k * n, ldb: tb ? k : n, beta: 0, c: pc + i * m * n, ldc: n)
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

    func linear(_ x: Buffer, _ weight: Buffer, _ bias: Buffer, _ out: Buffer, _ m: Int, _ n: Int, _ k: Int) {
        Products.linear(
            m: m, n: n, k: k, x: p(x), weight: p(weight), bias: p(bias), biasCount: bias.count, out: p(out),
            kernels: self)
    }

    // MARK: Indexing

    /// Whole slices copied, split across ``ComputeThreads`` when large.
    func indexSelect(_ x: Buffer, _ outer: Int, _ n: Int, _ inner: Int, _ indices: [Int], _ out: Buffer) {
        let (px, po, k) = (p(x), p(out), indices.count)
        indices.withUnsafeBufferPointer { idx in
            ComputeThreads.forEachRange(of: outer * k, elements: outer * k * inner, alignment: 1) { slices in
                for slice in slices {
                    let (o, j) = slice.quotientAndRemainder(dividingBy: k)
                    (po + slice * inner).update(from: px + (o * n + idx[j]) * inner, count: inner)
                }
            }
        }
    }

    func indexAdd(_ x: Buffer, _ outer: Int, _ n: Int, _ inner: Int, _ indices: [Int], _ out: Buffer) {
        let (px, po, k) = (p(x), p(out), indices.count)
        CPULoops.fill(po, 0, out.count)
        for o in 0..<outer {
            for (j, index) in indices.enumerated() {
                CPULoops.accumulate(.sum, px + (o * k + j) * inner, 1, into: po + (o * n + index) * inner, inner)
            }
        }
    }

    func gather(_ x: Buffer, _ outer: Int, _ n: Int, _ inner: Int, _ indices: [Int], _ out: Buffer) {
        let (px, po) = (p(x), p(out))
        let k = indices.count / Swift.max(outer * inner, 1)
        indices.withUnsafeBufferPointer { idx in
            for o in 0..<outer {
                for j in 0..<k {
                    for i in 0..<inner {
                        let e = (o * k + j) * inner + i
                        po[e] = px[(o * n + idx[e]) * inner + i]
                    }
                }
            }
        }
    }

    func scatterAdd(_ x: Buffer, _ outer: Int, _ n: Int, _ inner: Int, _ indices: [Int], _ out: Buffer) {
        let (px, po) = (p(x), p(out))
        CPULoops.fill(po, 0, out.count)
        let k = indices.count / Swift.max(outer * inner, 1)
        indices.withUnsafeBufferPointer { idx in
            for o in 0..<outer {
                for j in 0..<k {
                    for i in 0..<inner {
                        let e = (o * k + j) * inner + i
                        po[(o * n + idx[e]) * inner + i] += px[e]
                    }
                }
            }
        }
    }

    // MARK: Randomness

    func bernoulli(_ out: Buffer, _ probability: Double, _ value: Double, _ generator: inout RandomGenerator) {
        CPULoops.bernoulli(
            p(out), times: nil, keep: nil, out.count, probability: probability, value: S(value), generator: &generator,
            draw: bernoulliLanes)
    }

    func dropout(
        _ x: Buffer, _ out: Buffer, _ keep: Buffer, _ probability: Double, _ scale: Double,
        _ generator: inout RandomGenerator
    ) {
        CPULoops.bernoulli(
            p(out), times: p(x), keep: keep.host(UInt8.self), x.count, probability: probability, value: S(scale),
            generator: &generator, draw: bernoulliLanes)
    }

    func maskedScale(_ x: Buffer, _ keep: Buffer, _ scale: Double, _ out: Buffer) {
        let (px, py, mask, scale) = (p(x), p(out), keep.host(UInt8.self), S(scale))
        ComputeThreads.forEachRange(of: x.count) { r in
            maskedScaleLoop(py + r.lowerBound, px + r.lowerBound, mask + r.lowerBound, r.count, scale)
        }
    }

    // MARK: Fused losses

    func sigmoidCrossEntropy(_ z: Buffer, _ y: Buffer, _ sigmoid: Buffer?) -> Double {
        sigmoidCrossEntropyLoop(p(z), p(y), z.count, sigmoid.map(p))
    }

    func sigmoidCrossEntropyGradient(_ sigmoid: Buffer, _ y: Buffer, _ scale: Double, _ out: Buffer) {
        CPULoops.sigmoidCrossEntropyGradient(p(sigmoid), p(y), out.count, scale: S(scale), into: p(out))
    }

    /// Rows split across cores when there are enough of them (an exponential and a logarithm
    /// per element: weighted as four elements of plain work); the parts' sums are added in part
    /// order.
    func softmaxCrossEntropy(_ z: Buffer, _ labels: [Int], _ rows: Int, _ classes: Int, _ probabilities: Buffer?) -> Double {
        let parts = ComputeThreads.parts(elements: 4 * rows * classes)
        let (logits, kept) = (p(z), probabilities.map(p))
        return labels.withUnsafeBufferPointer { labels in
            withUnsafeTemporaryAllocation(of: Double.self, capacity: parts) { sums in
                let sums = sums.baseAddress!
                ComputeThreads.forEachPart(parts) { part in
                    let r = ComputeThreads.range(of: part, parts, in: rows, alignment: 1)
                    let offset = r.lowerBound * classes
                    sums[part] = softmaxCrossEntropyLoop(
                        logits + offset, labels.baseAddress! + r.lowerBound, r.count, classes, kept.map { $0 + offset })
                }
                return (0..<parts).reduce(0.0) { $0 + sums[$1] }
            }
        }
    }

    func softmaxCrossEntropyGradient(
        _ probabilities: Buffer, _ labels: [Int], _ rows: Int, _ classes: Int, _ scale: Double, _ out: Buffer
    ) {
        labels.withUnsafeBufferPointer {
            CPULoops.softmaxCrossEntropyGradient(
                p(probabilities), labels: $0.baseAddress!, rows: rows, classes: classes, scale: S(scale), into: p(out))
        }
    }

    // MARK: Optimizer updates

    func update(_ rule: UpdateKernel, _ weights: Buffer, _ gradient: Buffer, _ state: [Buffer]) {
        CPULoops.update(rule, p(weights), p(gradient), state.map(p), weights.count, adam: adam)
    }
}

extension CPUKernels<Float> {
    static let float = CPUKernels(
        thinGemm: ad_thin_gemm_f32, blasGemm: cblas_sgemm,
        zeroSkipping: ZeroSkipping.Kernels(
            scan: { ad_nonzero_columns_f32($0, $1, $2, $3, $4.assumingMemoryBound(to: UInt32.self), $5) },
            gather: ad_gather_runs_f32),
        bernoulliLanes: ad_bernoulli_f32, maskedScaleLoop: ad_masked_scale_f32, adam: ad_adam_f32,
        sum3D: ad_sum3d_f32,
        // glibc's vector exp and log (libmvec) eight at a time on AVX2 machines.
        sigmoidCrossEntropyLoop: ad_sigmoid_cross_entropy_f32,
        softmaxCrossEntropyLoop: ad_softmax_cross_entropy_f32)
}

extension CPUKernels<Double> {
    static let double = CPUKernels(
        thinGemm: ad_thin_gemm_f64, blasGemm: cblas_dgemm,
        zeroSkipping: ZeroSkipping.Kernels(
            scan: { ad_nonzero_columns_f64($0, $1, $2, $3, $4.assumingMemoryBound(to: UInt64.self), $5) },
            gather: ad_gather_runs_f64),
        bernoulliLanes: ad_bernoulli_f64, maskedScaleLoop: ad_masked_scale_f64, adam: ad_adam_f64,
        sum3D: ad_sum3d_f64,
        // Double losses are rare (GradCheck): the Swift loops.
        sigmoidCrossEntropyLoop: { CPULoops.sigmoidCrossEntropy($0, $1, $2, sigmoid: $3) },
        softmaxCrossEntropyLoop: {
            CPULoops.softmaxCrossEntropy($0, labels: $1, rows: $2, classes: $3, probabilities: $4)
        })
}
