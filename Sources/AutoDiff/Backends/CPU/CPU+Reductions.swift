// Reductions on the CPU: sums (through the vectorised C loop), maxima and minima over any
// axes, logSumExp, arg-extrema, and the finiteness scan of anomaly mode.

extension CPUBackend {
    public func reduce(_ op: ReductionKernel, _ x: Buffer, shape: [Int], axes: [Int], into out: Buffer) {
        captureKernel { .reduce(op, x: $0.read(x), shape: shape, axes: axes, out: $0.write(out)) }
        switch x.dtype {
        case .float32: f32.reduce(op, x, shape, axes, out)
        case .float64: f64.reduce(op, x, shape, axes, out)
        case .uint8, .int64: unsupported(x.dtype, "reduce")
        }
    }

    public func logSumExp(_ x: Buffer, outer: Int, length: Int, inner: Int, into out: Buffer) {
        captureKernel { .logSumExp(x: $0.read(x), outer: outer, length: length, inner: inner, out: $0.write(out)) }
        switch x.dtype {
        case .float32: f32.logSumExp(x, outer, length, inner, out)
        case .float64: f64.logSumExp(x, outer, length, inner, out)
        case .uint8, .int64: unsupported(x.dtype, "logSumExp")
        }
    }

    public func argReduce(_ op: ReductionKernel, _ x: Buffer, outer: Int, length: Int, inner: Int, into out: Buffer) {
        captureKernel { .argReduce(op, x: $0.read(x), outer: outer, length: length, inner: inner, out: $0.write(out)) }
        precondition(out.dtype == .int64, "cpu: argReduce writes an I64 buffer, not \(out.dtype)")
        switch x.dtype {
        case .float32: f32.argReduce(op, x, outer, length, inner, out)
        case .float64: f64.argReduce(op, x, outer, length, inner, out)
        case .uint8, .int64: unsupported(x.dtype, "argReduce")
        }
    }

    public func firstNonFinite(_ x: Buffer) -> Int? {
        captureHostResult("firstNonFinite (anomaly detection)")
        return switch x.dtype {
        case .float32: f32.firstNonFinite(x)
        case .float64: f64.firstNonFinite(x)
        case .uint8, .int64: nil
        }
    }
}

extension CPUKernels {
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
        } else if let (outer, middle, inner) = Self.keptBlock(shape, reduced: reduced) {
            // Everything but one block of axes reduced (a convolution's bias gradient, [N, C, H, W]
            // to [C]): each element of the result sums its `outer` runs of `inner` in order, the
            // results split across the threads. Walking the rows instead was one call per row of
            // W elements, on one thread (3 % of cnn-mnist).
            ComputeThreads.forEachRange(of: middle, elements: x.count, alignment: 1) { r in
                for c in r {
                    for o in 0..<outer { reduce3D(op, px + (o * middle + c) * inner, 1, inner, 1, into: po + c) }
                }
            }
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

    /// `shape` as `[outer, middle, inner]` when the axes not in `reduced` (ignoring those of size
    /// 1) are one contiguous block, the middle, and every other axis is reduced; else nil.
    static func keptBlock(_ shape: [Int], reduced: [Int]) -> (outer: Int, middle: Int, inner: Int)? {
        let kept = shape.indices.filter { !reduced.contains($0) && shape[$0] != 1 }
        guard let first = kept.first, let last = kept.last, (first...last).allSatisfy({ !reduced.contains($0) })
        else { return nil }
        return (shape[..<first].reduce(1, *), shape[first...last].reduce(1, *), shape[(last + 1)...].reduce(1, *))
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
                reduce3D(
                    op, x + r.lowerBound * length * inner, r.count, length, inner, into: acc + r.lowerBound * inner)
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
            logSumExp(px + r.lowerBound * length * inner, r.count, length, inner, into: po + r.lowerBound * inner)
        }
    }

    func argReduce(_ op: ReductionKernel, _ x: Buffer, _ outer: Int, _ length: Int, _ inner: Int, _ out: Buffer) {
        CPULoops.argReduce(op, p(x), outer, length, inner, into: out.host(Int.self))
    }

    func firstNonFinite(_ x: Buffer) -> Int? {
        let px = p(x)
        return (0..<x.count).first { !px[$0].isFinite }
    }

    /// `acc[o, i] = log Σₖ exp(x[o, k, i])` for `x` seen as `[outer, length, inner]`: each slice
    /// shifted by its maximum (0 when that is ±∞), its exponentials summed, one logarithm.
    func logSumExp(
        _ x: UnsafePointer<S>, _ outer: Int, _ length: Int, _ inner: Int, into acc: UnsafeMutablePointer<S>
    ) {
        withUnsafeTemporaryAllocation(of: S.self, capacity: 2 * inner) { scratch in
            let (shift, sums) = (scratch.baseAddress!, scratch.baseAddress! + inner)
            for o in 0..<outer {
                let block = x + o * length * inner
                CPULoops.fill(shift, -S.infinity, inner)
                for k in 0..<length { CPULoops.accumulate(.max, block + k * inner, 1, into: shift, inner) }
                for i in 0..<inner where shift[i].isInfinite { shift[i] = 0 }
                CPULoops.fill(sums, 0, inner)
                for k in 0..<length {
                    let row = block + k * inner
                    for i in 0..<inner { sums[i] += S.exp(row[i] - shift[i]) }
                }
                for i in 0..<inner { acc[o * inner + i] = S.log(sums[i]) + shift[i] }
            }
        }
    }
}
