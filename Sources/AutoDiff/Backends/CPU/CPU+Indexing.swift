// Indexing kernels on the CPU: whole slices picked by index (split across ComputeThreads),
// elements gathered along an axis, and the scatter-adds that are their adjoints.

extension CPUBackend {
    public func indexSelect(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: [Int], into out: Buffer) {
        captureKernel { .indexSelect(x: $0.read(x), outer: outer, length: length, inner: inner, indices: indices, out: $0.write(out)) }
        switch x.dtype {
        case .float32: f32.indexSelect(x, outer, length, inner, indices, out)
        case .float64: f64.indexSelect(x, outer, length, inner, indices, out)
        case .uint8: unsupported(x.dtype, "indexSelect")
        }
    }

    public func indexAdd(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: [Int], into out: Buffer) {
        captureKernel { .indexAdd(x: $0.read(x), outer: outer, length: length, inner: inner, indices: indices, out: $0.readWrite(out)) }
        switch x.dtype {
        case .float32: f32.indexAdd(x, outer, length, inner, indices, out)
        case .float64: f64.indexAdd(x, outer, length, inner, indices, out)
        case .uint8: unsupported(x.dtype, "indexAdd")
        }
    }

    public func gather(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: [Int], into out: Buffer) {
        captureKernel { .gather(x: $0.read(x), outer: outer, length: length, inner: inner, indices: indices, out: $0.write(out)) }
        switch x.dtype {
        case .float32: f32.gather(x, outer, length, inner, indices, out)
        case .float64: f64.gather(x, outer, length, inner, indices, out)
        case .uint8: unsupported(x.dtype, "gather")
        }
    }

    public func scatterAdd(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: [Int], into out: Buffer) {
        captureKernel { .scatterAdd(x: $0.read(x), outer: outer, length: length, inner: inner, indices: indices, out: $0.readWrite(out)) }
        switch x.dtype {
        case .float32: f32.scatterAdd(x, outer, length, inner, indices, out)
        case .float64: f64.scatterAdd(x, outer, length, inner, indices, out)
        case .uint8: unsupported(x.dtype, "scatterAdd")
        }
    }
}

extension CPUKernels {
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

    /// Split across ``ComputeThreads`` by outer slices when large (each slice of `out` is written
    /// by one part only, so the result does not depend on the split): max pooling's backward pass.
    func scatterAdd(_ x: Buffer, _ outer: Int, _ n: Int, _ inner: Int, _ indices: [Int], _ out: Buffer) {
        let (px, po) = (p(x), p(out))
        let k = indices.count / Swift.max(outer * inner, 1)
        indices.withUnsafeBufferPointer { idx in
            ComputeThreads.forEachRange(of: outer, elements: out.count + indices.count, alignment: 1) { slices in
                for o in slices {
                    // Each slice zeroed just before its sums, while it is in cache (max pooling's
                    // backward pass: a plane at a time, not the whole gradient first).
                    CPULoops.fill(po + o * n * inner, 0, n * inner)
                    if inner == 1, let base = idx.baseAddress {
                        let (row, source, chosen) = (po + o * n, px + o * k, base + o * k)
                        for j in 0..<k { row[chosen[j]] += source[j] }
                        continue
                    }
                    for j in 0..<k {
                        for i in 0..<inner {
                            let e = (o * k + j) * inner + i
                            po[(o * n + idx[e]) * inner + i] += px[e]
                        }
                    }
                }
            }
        }
    }
}
