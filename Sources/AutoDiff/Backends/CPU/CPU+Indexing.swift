// Indexing kernels on the CPU: whole slices picked by index (split across ComputeThreads),
// elements gathered along an axis, and the scatter-adds that are their adjoints.

extension CPUBackend {
    public func indexSelect(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: Buffer, into out: Buffer) -> Int?
    {
        if let bad = CPULoops.firstOutOfRange(indices, length) { return bad }
        switch x.dtype {
        case .float32: f32.indexSelect(x, outer, length, inner, indices.host(Int.self), indices.count, out)
        case .float64: f64.indexSelect(x, outer, length, inner, indices.host(Int.self), indices.count, out)
        case .uint8, .int64: unsupported(x.dtype, "indexSelect")
        }
        return nil
    }

    public func indexAdd(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: Buffer, into out: Buffer) -> Int? {
        if let bad = CPULoops.firstOutOfRange(indices, length) { return bad }
        switch x.dtype {
        case .float32: f32.indexAdd(x, outer, length, inner, indices.host(Int.self), indices.count, out)
        case .float64: f64.indexAdd(x, outer, length, inner, indices.host(Int.self), indices.count, out)
        case .uint8, .int64: unsupported(x.dtype, "indexAdd")
        }
        return nil
    }

    public func gather(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: Buffer, into out: Buffer) -> Int? {
        if let bad = CPULoops.firstOutOfRange(indices, length) { return bad }
        switch x.dtype {
        case .float32: f32.gather(x, outer, length, inner, indices.host(Int.self), indices.count, out)
        case .float64: f64.gather(x, outer, length, inner, indices.host(Int.self), indices.count, out)
        case .uint8, .int64: unsupported(x.dtype, "gather")
        }
        return nil
    }

    public func scatterAdd(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: Buffer, into out: Buffer) -> Int?
    {
        precondition(indices.dtype == .int64, "cpu: indices must be an I64 buffer, not \(indices.dtype)")
        // The indices are checked inside the loop (max pooling's backward pass reads one per
        // output element: a separate pass would read them twice).
        switch x.dtype {
        case .float32: return f32.scatterAdd(x, outer, length, inner, indices.host(Int.self), indices.count, out)
        case .float64: return f64.scatterAdd(x, outer, length, inner, indices.host(Int.self), indices.count, out)
        case .uint8, .int64: unsupported(x.dtype, "scatterAdd")
        }
    }
}

extension CPULoops {
    /// The position of the first element of the `int64` buffer `indices` outside `0..<length`.
    static func firstOutOfRange(_ indices: Buffer, _ length: Int) -> Int? {
        precondition(indices.dtype == .int64, "cpu: indices must be an I64 buffer, not \(indices.dtype)")
        let (idx, bound) = (indices.host(Int.self), UInt(length))
        // One unsigned comparison catches negative indices too.
        for j in 0..<indices.count where UInt(bitPattern: idx[j]) >= bound { return j }
        return nil
    }
}

extension CPUKernels {
    /// Whole slices copied, split across ``ComputeThreads`` when large.
    func indexSelect(
        _ x: Buffer, _ outer: Int, _ n: Int, _ inner: Int, _ idx: UnsafePointer<Int>, _ k: Int, _ out: Buffer
    ) {
        let (px, po) = (p(x), p(out))
        ComputeThreads.forEachRange(of: outer * k, elements: outer * k * inner, alignment: 1) { slices in
            for slice in slices {
                let (o, j) = slice.quotientAndRemainder(dividingBy: k)
                (po + slice * inner).update(from: px + (o * n + idx[j]) * inner, count: inner)
            }
        }
    }

    func indexAdd(
        _ x: Buffer, _ outer: Int, _ n: Int, _ inner: Int, _ idx: UnsafePointer<Int>, _ k: Int, _ out: Buffer
    ) {
        let (px, po) = (p(x), p(out))
        CPULoops.fill(po, 0, out.count)
        for o in 0..<outer {
            for j in 0..<k {
                CPULoops.accumulate(.sum, px + (o * k + j) * inner, 1, into: po + (o * n + idx[j]) * inner, inner)
            }
        }
    }

    func gather(
        _ x: Buffer, _ outer: Int, _ n: Int, _ inner: Int, _ idx: UnsafePointer<Int>, _ count: Int, _ out: Buffer
    ) {
        let (px, po) = (p(x), p(out))
        let k = count / Swift.max(outer * inner, 1)
        for o in 0..<outer {
            for j in 0..<k {
                for i in 0..<inner {
                    let e = (o * k + j) * inner + i
                    po[e] = px[(o * n + idx[e]) * inner + i]
                }
            }
        }
    }

    /// Split across ``ComputeThreads`` by outer slices when large (each slice of `out` is written
    /// by one part only, so the result does not depend on the split): max pooling's backward pass.
    /// An index out of range is skipped; each part notes its first, and the earliest is returned.
    func scatterAdd(
        _ x: Buffer, _ outer: Int, _ n: Int, _ inner: Int, _ idx: UnsafePointer<Int>, _ count: Int, _ out: Buffer
    ) -> Int? {
        let (px, po, bound) = (p(x), p(out), UInt(n))
        let k = count / Swift.max(outer * inner, 1)
        let parts = ComputeThreads.parts(elements: out.count + count)
        let firstBad = withUnsafeTemporaryAllocation(of: Int.self, capacity: parts) { firsts in
            let firsts = firsts.baseAddress!
            ComputeThreads.forEachPart(parts) { part in
                var first = Int.max
                for o in ComputeThreads.range(of: part, parts, in: outer, alignment: 1) {
                    // Each slice zeroed just before its sums, while it is in cache (max pooling's
                    // backward pass: a plane at a time, not the whole gradient first).
                    CPULoops.fill(po + o * n * inner, 0, n * inner)
                    if inner == 1 {
                        let (row, source, chosen) = (po + o * n, px + o * k, idx + o * k)
                        for j in 0..<k {
                            let index = chosen[j]
                            if UInt(bitPattern: index) < bound {
                                row[index] += source[j]
                            } else {
                                first = Swift.min(first, o * k + j)
                            }
                        }
                        continue
                    }
                    for j in 0..<k {
                        for i in 0..<inner {
                            let e = (o * k + j) * inner + i
                            let index = idx[e]
                            // One unsigned comparison catches negative indices too.
                            guard UInt(bitPattern: index) < bound else {
                                first = Swift.min(first, e)
                                continue
                            }
                            po[(o * n + index) * inner + i] += px[e]
                        }
                    }
                }
                firsts[part] = first
            }
            return (0..<parts).reduce(Int.max) { Swift.min($0, firsts[$1]) }
        }
        return firstBad == Int.max ? nil : firstBad
    }
}
