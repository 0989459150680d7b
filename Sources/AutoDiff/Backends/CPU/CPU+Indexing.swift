// Indexing kernels on the CPU: whole slices picked by index (split across ComputeThreads),
// elements gathered along an axis, and the scatter-adds that are their adjoints.

extension CPUBackend {
    public func indexSelect(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: Buffer, into out: Buffer) -> Int?
    {
        captureKernel {
            .indexed(
                .select, x: $0.read(x), outer: outer, length: length, inner: inner, indices: $0.read(indices),
                out: $0.write(out))
        }
        if let bad = CPULoops.firstOutOfRange(indices, length) { return bad }
        switch x.dtype {
        case .float32: f32.indexSelect(x, outer, length, inner, indices.host(Int.self), indices.count, out)
        case .float64: f64.indexSelect(x, outer, length, inner, indices.host(Int.self), indices.count, out)
        case .uint8, .int64: unsupported(x.dtype, "indexSelect")
        }
        return nil
    }

    public func indexAdd(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: Buffer, into out: Buffer) -> Int? {
        captureKernel {
            .indexed(
                .add, x: $0.read(x), outer: outer, length: length, inner: inner, indices: $0.read(indices),
                out: $0.readWrite(out))
        }
        if let bad = CPULoops.firstOutOfRange(indices, length) { return bad }
        switch x.dtype {
        case .float32: f32.indexAdd(x, outer, length, inner, indices.host(Int.self), indices.count, out)
        case .float64: f64.indexAdd(x, outer, length, inner, indices.host(Int.self), indices.count, out)
        case .uint8, .int64: unsupported(x.dtype, "indexAdd")
        }
        return nil
    }

    public func gather(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: Buffer, into out: Buffer) -> Int? {
        captureKernel {
            .indexed(
                .gather, x: $0.read(x), outer: outer, length: length, inner: inner, indices: $0.read(indices),
                out: $0.write(out))
        }
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
        captureKernel {
            .indexed(
                .scatterAdd, x: $0.read(x), outer: outer, length: length, inner: inner, indices: $0.read(indices),
                out: $0.readWrite(out))
        }
        precondition(indices.dtype == .int64, "cpu: indices must be an I64 buffer, not \(indices.dtype)")
        if length == 0 { return indices.count > 0 ? 0 : nil }
        // The indices are checked inside the loop, without a branch (max pooling's backward pass
        // reads one per output element: a separate pass would read them twice); the position of
        // the first bad one is looked up only when there is one.
        let anyOutOfRange: Bool
        switch x.dtype {
        case .float32:
            anyOutOfRange = f32.scatterAdd(x, outer, length, inner, indices.host(Int.self), indices.count, out)
        case .float64:
            anyOutOfRange = f64.scatterAdd(x, outer, length, inner, indices.host(Int.self), indices.count, out)
        case .uint8, .int64: unsupported(x.dtype, "scatterAdd")
        }
        return anyOutOfRange ? CPULoops.firstOutOfRange(indices, length) : nil
    }
}

extension CPULoops {
    /// Whether each of the `count` indices is in `0...last`, in one pass without a branch per
    /// index: `i | (last − i)` is negative exactly when `i < 0` or `i > last`, so the OR of those
    /// says it. When `last` fits in 31 bits each index is checked as two 32-bit halves (low half
    /// against `last`, high half against 0), twice as many lanes per vector instruction.
    @inline(__always)
    static func allInRange(_ indices: UnsafePointer<Int>, _ count: Int, last: Int) -> Bool {
        let raw = UnsafeRawPointer(indices)
        var e = 0
        var signs = 0
        if last <= Int(Int32.max) {
            // Little-endian: the low half of each index comes first.
            let lasts = SIMD16<Int32>(
                Int32(last), 0, Int32(last), 0, Int32(last), 0, Int32(last), 0, Int32(last), 0, Int32(last), 0,
                Int32(last), 0, Int32(last), 0)
            var lanes = SIMD16<Int32>(repeating: 0)
            while e + 8 <= count {
                let v = raw.loadUnaligned(fromByteOffset: e * MemoryLayout<Int>.stride, as: SIMD16<Int32>.self)
                lanes |= v | (lasts &- v)
                e += 8
            }
            for lane in 0..<16 { signs |= Int(lanes[lane]) }
        } else {
            let lasts = SIMD8<Int>(repeating: last)
            var lanes = SIMD8<Int>(repeating: 0)
            while e + 8 <= count {
                let v = raw.loadUnaligned(fromByteOffset: e * MemoryLayout<Int>.stride, as: SIMD8<Int>.self)
                lanes |= v | (lasts &- v)
                e += 8
            }
            for lane in 0..<8 { signs |= lanes[lane] }
        }
        while e < count {
            signs |= indices[e] | (last &- indices[e])
            e += 1
        }
        return signs >= 0
    }

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
    /// Each slice's indices are checked just before its sums, while they are in cache, in a loop
    /// the compiler vectorizes; a slice holding an index out of range is left at zero. Returns
    /// whether there was one.
    func scatterAdd(
        _ x: Buffer, _ outer: Int, _ n: Int, _ inner: Int, _ idx: UnsafePointer<Int>, _ count: Int, _ out: Buffer
    ) -> Bool {
        let (px, po, last) = (p(x), p(out), n - 1)
        let k = count / Swift.max(outer * inner, 1)
        let parts = ComputeThreads.parts(elements: out.count + count)
        return withUnsafeTemporaryAllocation(of: Bool.self, capacity: parts) { badParts in
            let badParts = badParts.baseAddress!
            ComputeThreads.forEachPart(parts) { part in
                var bad = false
                for o in ComputeThreads.range(of: part, parts, in: outer, alignment: 1) {
                    // Each slice zeroed just before its sums, while it is in cache (max pooling's
                    // backward pass: a plane at a time, not the whole gradient first).
                    CPULoops.fill(po + o * n * inner, 0, n * inner)
                    let (chosen, source) = (idx + o * k * inner, px + o * k * inner)
                    if !CPULoops.allInRange(chosen, k * inner, last: last) {
                        bad = true
                        continue
                    }
                    if inner == 1 {
                        let row = po + o * n
                        for j in 0..<k { row[chosen[j]] += source[j] }
                        continue
                    }
                    for j in 0..<k {
                        for i in 0..<inner {
                            let e = j * inner + i
                            po[(o * n + chosen[e]) * inner + i] += source[e]
                        }
                    }
                }
                badParts[part] = bad
            }
            return (0..<parts).contains { badParts[$0] }
        }
    }
}
