// Indexing: whole slices picked by index (indexSelect) and single elements picked by index
// (gather), each with its adjoint, which adds back into zeros. Indices are `int64` buffers; each
// kernel first looks for an index out of range and returns its position without computing.

extension ReferenceBackend {
    public func indexSelect(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: Buffer, into out: Buffer) -> Int?
    {
        if let bad = Self.firstOutOfRange(indices, length) { return bad }
        let (idx, k) = (Self.indices(indices), indices.count)
        switch x.dtype {
        case .float32: indexSelect(x, outer: outer, length: length, inner: inner, idx, k, into: out, Float.self)
        case .float64: indexSelect(x, outer: outer, length: length, inner: inner, idx, k, into: out, Double.self)
        case .uint8, .int64: Self.unsupported("indexSelect", x.dtype)
        }
        return nil
    }

    /// `out[o, j, i] = x[o, indices[j], i]` with `x` `[outer, length, inner]` and `out`
    /// `[outer, k, inner]`.
    private func indexSelect<S: TensorScalar>(
        _ x: Buffer, outer: Int, length: Int, inner: Int, _ indices: UnsafePointer<Int>, _ k: Int, into out: Buffer,
        _: S.Type
    ) {
        let (x, out) = (Self.elements(x, S.self), Self.elements(out, S.self))
        for o in 0..<outer {
            for j in 0..<k {
                for i in 0..<inner { out[(o * k + j) * inner + i] = x[(o * length + indices[j]) * inner + i] }
            }
        }
    }

    public func indexAdd(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: Buffer, into out: Buffer) -> Int? {
        if let bad = Self.firstOutOfRange(indices, length) { return bad }
        let (idx, k) = (Self.indices(indices), indices.count)
        switch x.dtype {
        case .float32: indexAdd(x, outer: outer, length: length, inner: inner, idx, k, into: out, Float.self)
        case .float64: indexAdd(x, outer: outer, length: length, inner: inner, idx, k, into: out, Double.self)
        case .uint8, .int64: Self.unsupported("indexAdd", x.dtype)
        }
        return nil
    }

    /// `out` (`[outer, length, inner]`) ← 0, then `out[o, indices[j], i] += x[o, j, i]` for
    /// `o`, `j`, `i` in row-major order (repeated indices add up).
    private func indexAdd<S: TensorScalar>(
        _ x: Buffer, outer: Int, length: Int, inner: Int, _ indices: UnsafePointer<Int>, _ k: Int, into out: Buffer,
        _: S.Type
    ) {
        let (x, out) = (Self.elements(x, S.self), Self.elements(out, S.self))
        for e in 0..<(outer * length * inner) { out[e] = 0 }
        for o in 0..<outer {
            for j in 0..<k {
                for i in 0..<inner { out[(o * length + indices[j]) * inner + i] += x[(o * k + j) * inner + i] }
            }
        }
    }

    public func gather(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: Buffer, into out: Buffer) -> Int? {
        if let bad = Self.firstOutOfRange(indices, length) { return bad }
        let (idx, k) = (Self.indices(indices), Self.perPosition(indices.count, outer, inner))
        switch x.dtype {
        case .float32: gather(x, outer: outer, length: length, inner: inner, idx, k, into: out, Float.self)
        case .float64: gather(x, outer: outer, length: length, inner: inner, idx, k, into: out, Double.self)
        case .uint8, .int64: Self.unsupported("gather", x.dtype)
        }
        return nil
    }

    /// `out[o, j, i] = x[o, indices[o, j, i], i]` with `x` `[outer, length, inner]` and `out`,
    /// `indices` `[outer, k, inner]`.
    private func gather<S: TensorScalar>(
        _ x: Buffer, outer: Int, length: Int, inner: Int, _ indices: UnsafePointer<Int>, _ k: Int, into out: Buffer,
        _: S.Type
    ) {
        let (x, out) = (Self.elements(x, S.self), Self.elements(out, S.self))
        for o in 0..<outer {
            for j in 0..<k {
                for i in 0..<inner {
                    let e = (o * k + j) * inner + i
                    out[e] = x[(o * length + indices[e]) * inner + i]
                }
            }
        }
    }

    public func scatterAdd(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: Buffer, into out: Buffer) -> Int?
    {
        if let bad = Self.firstOutOfRange(indices, length) { return bad }
        let (idx, k) = (Self.indices(indices), Self.perPosition(indices.count, outer, inner))
        switch x.dtype {
        case .float32: scatterAdd(x, outer: outer, length: length, inner: inner, idx, k, into: out, Float.self)
        case .float64: scatterAdd(x, outer: outer, length: length, inner: inner, idx, k, into: out, Double.self)
        case .uint8, .int64: Self.unsupported("scatterAdd", x.dtype)
        }
        return nil
    }

    /// `out` (`[outer, length, inner]`) ← 0, then `out[o, indices[o, j, i], i] += x[o, j, i]` in
    /// row-major order of `x` (`[outer, k, inner]`, like `indices`).
    private func scatterAdd<S: TensorScalar>(
        _ x: Buffer, outer: Int, length: Int, inner: Int, _ indices: UnsafePointer<Int>, _ k: Int, into out: Buffer,
        _: S.Type
    ) {
        let (x, out) = (Self.elements(x, S.self), Self.elements(out, S.self))
        for e in 0..<(outer * length * inner) { out[e] = 0 }
        for o in 0..<outer {
            for j in 0..<k {
                for i in 0..<inner {
                    let e = (o * k + j) * inner + i
                    out[(o * length + indices[e]) * inner + i] += x[e]
                }
            }
        }
    }

    /// `k`, the number of indices per `(o, i)` position of gather and scatterAdd.
    static func perPosition(_ count: Int, _ outer: Int, _ inner: Int) -> Int {
        if outer * inner == 0 { return 0 }
        precondition(count % (outer * inner) == 0, "reference: \(count) indices for \(outer * inner) positions")
        return count / (outer * inner)
    }
}
