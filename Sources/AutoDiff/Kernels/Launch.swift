/// Shape-level drivers of the kernels: they walk broadcast and reduced shapes row by row and
/// call the element type's kernel once per contiguous run. Nothing here records on the tape.
extension Tensor {
    /// `Scalar.reduce3D` split across ``ComputeThreads`` when large: along `outer` when it is
    /// the longer axis (each part reduces its own rows), else along `length`, each part into its
    /// own block of partial results, which are then reduced into `acc` in part order by the same
    /// kernel (so NaN and signed-zero handling stay the kernel's).
    static func reduce3DInParts(
        _ op: ReductionKernel, _ x: UnsafePointer<Scalar>, _ outer: Int, _ length: Int, _ inner: Int,
        into acc: UnsafeMutablePointer<Scalar>
    ) {
        let parts = ComputeThreads.parts(elements: outer * length * inner)
        if parts <= 1 {
            Scalar.reduce3D(op, x, outer, length, inner, into: acc)
        } else if outer >= length {
            ComputeThreads.forEachRange(of: outer, elements: outer * length * inner, alignment: 1) { r in
                Scalar.reduce3D(
                    op, x + r.lowerBound * length * inner, r.count, length, inner, into: acc + r.lowerBound * inner)
            }
        } else {
            let block = outer * inner
            withUnsafeTemporaryAllocation(of: Scalar.self, capacity: parts * block) { partials in
                let partials = partials.baseAddress!
                Scalar.fill(partials, op.identity(Scalar.self), parts * block)
                ComputeThreads.forEachPart(parts) { part in
                    let r = ComputeThreads.range(of: part, parts, in: length, alignment: 1)
                    guard !r.isEmpty else { return }
                    for o in 0..<outer {
                        Scalar.reduce3D(
                            op, x + (o * length + r.lowerBound) * inner, 1, r.count, inner,
                            into: partials + part * block + o * inner)
                    }
                }
                Scalar.reduce3D(op, partials, 1, parts, block, into: acc)
            }
        }
    }

    /// `f(self)` elementwise into a new tensor.
    @inline(__always)
    func mapped(_ op: UnaryKernel<Scalar>) -> Tensor {
        let out = TensorStorage<Scalar>.allocate(count)
        let (x, y, count) = (storage.base, out.base, count)
        ComputeThreads.forEachRange(of: count) { r in Scalar.unary(op, x + r.lowerBound, y + r.lowerBound, r.count) }
        withExtendedLifetime(storage) {}
        return Tensor(shape: shape, storage: out)
    }

    /// Strides of a tensor of shape `shape` read as a tensor of the (broadcast) shape `out`: 0 on
    /// every broadcast dimension.
    static func broadcastStrides(_ shape: [Int], to out: [Int]) -> [Int] {
        let own = ShapeMath.strides(shape)
        let offset = out.count - shape.count
        return (0..<out.count).map { i in
            i < offset || shape[i - offset] == 1 ? 0 : own[i - offset]
        }
    }

    /// Walks every row (last dimension) of `shape`, giving the offsets of each operand whose
    /// strides (in elements) are listed.
    @inline(__always)
    static func forEachRow(
        _ shape: [Int], _ strides: [[Int]], _ body: (_ offsets: UnsafeMutablePointer<Int>, _ row: Int) -> Void
    ) {
        let rank = shape.count
        let rows = rank == 0 ? 1 : ShapeMath.count(shape) / Swift.max(shape[rank - 1], 1)
        guard ShapeMath.count(shape) > 0 else { return }
        let operands = strides.count
        withUnsafeTemporaryAllocation(of: Int.self, capacity: operands + Swift.max(rank, 1)) { scratch in
            let offsets = scratch.baseAddress!
            let index = offsets + operands
            for k in 0..<operands { offsets[k] = 0 }
            for d in 0..<Swift.max(rank, 1) { index[d] = 0 }
            for row in 0..<rows {
                body(offsets, row)
                // Odometer over every dimension but the last.
                var d = rank - 2
                while d >= 0 {
                    index[d] += 1
                    for k in 0..<operands { offsets[k] += strides[k][d] }
                    if index[d] < shape[d] { break }
                    for k in 0..<operands { offsets[k] -= strides[k][d] * shape[d] }
                    index[d] = 0
                    d -= 1
                }
            }
        }
    }

    /// Merges adjacent dimensions that every operand walks contiguously (or broadcasts
    /// together), so most broadcasts become one 2-D walk: `[N, C] + [C]` is rows × columns,
    /// `[B, N, C] + [C]` merges to `[B·N, C]`.
    static func coalesced(_ shape: [Int], _ strides: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
        var outShape: [Int] = []
        var outStrides: [[Int]] = Array(repeating: [], count: strides.count)
        for d in 0..<shape.count where shape[d] != 1 {
            if let last = outShape.last,
                strides.indices.allSatisfy({ k in outStrides[k].last! == strides[k][d] * shape[d] })
            {
                outShape[outShape.count - 1] = last * shape[d]
                for k in strides.indices { outStrides[k][outStrides[k].count - 1] = strides[k][d] }
            } else {
                outShape.append(shape[d])
                for k in strides.indices { outStrides[k].append(strides[k][d]) }
            }
        }
        return (outShape, outStrides)
    }

    /// `f(a, b)` elementwise with NumPy broadcasting.
    static func zipped(_ a: Tensor, _ b: Tensor, _ op: BinaryKernel, name: String) -> Tensor {
        if a.shape == b.shape {
            let out = TensorStorage<Scalar>.allocate(a.count)
            let (pa, pb, po, count) = (a.storage.base, b.storage.base, out.base, a.count)
            ComputeThreads.forEachRange(of: count) { r in
                Scalar.binary(op, pa + r.lowerBound, 1, pb + r.lowerBound, 1, po + r.lowerBound, r.count)
            }
            withExtendedLifetime((a.storage, b.storage)) {}
            return Tensor(shape: a.shape, storage: out)
        }
        let shape = ShapeMath.broadcast(a.shape, b.shape, op: name)
        let count = ShapeMath.count(shape)
        let out = TensorStorage<Scalar>.allocate(count)
        let pa = a.storage.base
        let pb = b.storage.base
        let po = out.base
        if b.count == 1 && shape == a.shape {
            Scalar.binary(op, pa, 1, pb, 0, po, count)
        } else if a.count == 1 && shape == b.shape {
            Scalar.binary(op, pa, 0, pb, 1, po, count)
        } else if count > 0 {
            let (dims, strides) = coalesced(
                shape, [broadcastStrides(a.shape, to: shape), broadcastStrides(b.shape, to: shape)])
            let sa = strides[0]
            let sb = strides[1]
            switch dims.count {
            case 0:
                Scalar.binary(op, pa, 0, pb, 0, po, 1)
            case 1:
                Scalar.binary(op, pa, sa[0], pb, sb[0], po, dims[0])
            case 2:
                Scalar.binary2D(op, pa, sa[0], sa[1], pb, sb[0], sb[1], po, dims[0], dims[1])
            default:
                // Walk the leading dimensions; each step is one 2-D kernel call.
                let rows = dims[dims.count - 2]
                let cols = dims[dims.count - 1]
                let outer = Array(dims[..<(dims.count - 2)]) + [1, 1]
                let outerStrides = [Array(sa[..<(dims.count - 2)]) + [0, 0], Array(sb[..<(dims.count - 2)]) + [0, 0]]
                forEachRow(outer, outerStrides) { offsets, block in
                    Scalar.binary2D(
                        op, pa + offsets[0], sa[dims.count - 2], sa[dims.count - 1], pb + offsets[1],
                        sb[dims.count - 2], sb[dims.count - 1], po + block * rows * cols, rows, cols)
                }
            }
        }
        withExtendedLifetime((a.storage, b.storage)) {}
        return Tensor(shape: shape, storage: out)
    }

    /// Reduces `axes` (sorted, distinct) with `op`; the result keeps the reduced axes as 1.
    func reducedKeepingDims(_ op: ReductionKernel, axes: [Int]) -> Tensor {
        let outShape = ShapeMath.reduced(shape, axes: axes, keepDims: true)
        let outCount = ShapeMath.count(outShape)
        let out = TensorStorage<Scalar>.allocate(outCount)
        Scalar.fill(out.base, op.identity(Scalar.self), outCount)
        let px = storage.base
        let po = out.base
        // Axes of size 1 change nothing; a contiguous block of reduced axes is one
        // [outer, length, inner] kernel call.
        let reduced = axes.filter { shape[$0] != 1 }
        if count == 0 || reduced.isEmpty {
            if count > 0 { Scalar.copy(px, 1, po, 1, count) }
        } else if let first = reduced.first, let last = reduced.last,
            last - first + 1 == reduced.count
                || zip(reduced, reduced.dropFirst()).allSatisfy({ pair in
                    (pair.0 + 1..<pair.1).allSatisfy { shape[$0] == 1 }
                })
        {
            let outer = shape[..<first].reduce(1, *)
            let length = shape[first...last].reduce(1, *)
            let inner = shape[(last + 1)...].reduce(1, *)
            Tensor.reduce3DInParts(op, px, outer, length, inner, into: po)
        } else {
            var so = ShapeMath.strides(outShape)
            for axis in axes { so[axis] = 0 }
            let sx = ShapeMath.strides(shape)
            let inner = shape.last ?? 1
            let lastReduced = axes.last == rank - 1
            Tensor.forEachRow(shape, [sx, so]) { offsets, _ in
                if lastReduced {
                    Scalar.reduce(op, px + offsets[0], 1, inner, into: po + offsets[1])
                } else {
                    Scalar.accumulate(op, px + offsets[0], 1, into: po + offsets[1], inner)
                }
            }
        }
        withExtendedLifetime(storage) {}
        return Tensor(shape: outShape, storage: out)
    }

    /// A contiguous copy of this tensor read through arbitrary strides (used by permute and
    /// expand): `out[i₀,…] = self[Σ iₖ·strides[k]]`.
    func gathered(shape outShape: [Int], strides: [Int], offset: Int = 0) -> Tensor {
        let n = ShapeMath.count(outShape)
        let out = TensorStorage<Scalar>.allocate(n)
        let px = storage.base + offset
        let po = out.base
        let inner = outShape.last ?? 1
        let innerStride = strides.last ?? 0
        if strides.allSatisfy({ $0 == 0 }) {
            // One element broadcast everywhere (a reduction's gradient): a fill, not a row walk.
            Scalar.fill(po, px[0], n)
        } else {
            Tensor.forEachRow(outShape, [strides]) { offsets, row in
                Scalar.copy(px + offsets[0], innerStride, po + row * inner, 1, inner)
            }
        }
        withExtendedLifetime(storage) {}
        return Tensor(shape: outShape, storage: out)
    }
}
