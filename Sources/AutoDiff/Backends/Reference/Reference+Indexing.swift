// Indexing: whole slices picked by index (indexSelect) and single elements picked by index
// (gather), each with its adjoint, which adds back into zeros.

extension ReferenceBackend {
    public func indexSelect(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: [Int], into out: Buffer) {
        switch x.dtype {
        case .float32:
            indexSelect(x, outer: outer, length: length, inner: inner, indices: indices, into: out, Float.self)
        case .float64:
            indexSelect(x, outer: outer, length: length, inner: inner, indices: indices, into: out, Double.self)
        case .uint8: Self.unsupported("indexSelect", x.dtype)
        }
    }

    /// `out[o, j, i] = x[o, indices[j], i]` with `x` `[outer, length, inner]` and `out`
    /// `[outer, indices.count, inner]`.
    private func indexSelect<S: TensorScalar>(
        _ x: Buffer, outer: Int, length: Int, inner: Int, indices: [Int], into out: Buffer, _: S.Type
    ) {
        Self.checkIndices(indices, length, "indexSelect")
        let (x, out, k) = (Self.elements(x, S.self), Self.elements(out, S.self), indices.count)
        for o in 0..<outer {
            for j in 0..<k {
                for i in 0..<inner { out[(o * k + j) * inner + i] = x[(o * length + indices[j]) * inner + i] }
            }
        }
    }

    public func indexAdd(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: [Int], into out: Buffer) {
        switch x.dtype {
        case .float32: indexAdd(x, outer: outer, length: length, inner: inner, indices: indices, into: out, Float.self)
        case .float64: indexAdd(x, outer: outer, length: length, inner: inner, indices: indices, into: out, Double.self)
        case .uint8: Self.unsupported("indexAdd", x.dtype)
        }
    }

    /// `out` (`[outer, length, inner]`) ← 0, then `out[o, indices[j], i] += x[o, j, i]` for
    /// `o`, `j`, `i` in row-major order (repeated indices add up).
    private func indexAdd<S: TensorScalar>(
        _ x: Buffer, outer: Int, length: Int, inner: Int, indices: [Int], into out: Buffer, _: S.Type
    ) {
        Self.checkIndices(indices, length, "indexAdd")
        let (x, out, k) = (Self.elements(x, S.self), Self.elements(out, S.self), indices.count)
        for e in 0..<(outer * length * inner) { out[e] = 0 }
        for o in 0..<outer {
            for j in 0..<k {
                for i in 0..<inner { out[(o * length + indices[j]) * inner + i] += x[(o * k + j) * inner + i] }
            }
        }
    }

    public func gather(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: [Int], into out: Buffer) {
        switch x.dtype {
        case .float32: gather(x, outer: outer, length: length, inner: inner, indices: indices, into: out, Float.self)
        case .float64: gather(x, outer: outer, length: length, inner: inner, indices: indices, into: out, Double.self)
        case .uint8: Self.unsupported("gather", x.dtype)
        }
    }

    /// `out[o, j, i] = x[o, indices[o, j, i], i]` with `x` `[outer, length, inner]` and `out`,
    /// `indices` `[outer, k, inner]`.
    private func gather<S: TensorScalar>(
        _ x: Buffer, outer: Int, length: Int, inner: Int, indices: [Int], into out: Buffer, _: S.Type
    ) {
        Self.checkIndices(indices, length, "gather")
        let (x, out, k) = (
            Self.elements(x, S.self), Self.elements(out, S.self), Self.perPosition(indices, outer, inner)
        )
        for o in 0..<outer {
            for j in 0..<k {
                for i in 0..<inner {
                    let e = (o * k + j) * inner + i
                    out[e] = x[(o * length + indices[e]) * inner + i]
                }
            }
        }
    }

    public func scatterAdd(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: [Int], into out: Buffer) {
        switch x.dtype {
        case .float32:
            scatterAdd(x, outer: outer, length: length, inner: inner, indices: indices, into: out, Float.self)
        case .float64:
            scatterAdd(x, outer: outer, length: length, inner: inner, indices: indices, into: out, Double.self)
        case .uint8: Self.unsupported("scatterAdd", x.dtype)
        }
    }

    /// `out` (`[outer, length, inner]`) ← 0, then `out[o, indices[o, j, i], i] += x[o, j, i]` in
    /// row-major order of `x` (`[outer, k, inner]`, like `indices`).
    private func scatterAdd<S: TensorScalar>(
        _ x: Buffer, outer: Int, length: Int, inner: Int, indices: [Int], into out: Buffer, _: S.Type
    ) {
        Self.checkIndices(indices, length, "scatterAdd")
        let (x, out, k) = (
            Self.elements(x, S.self), Self.elements(out, S.self), Self.perPosition(indices, outer, inner)
        )
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

    /// Stops unless every index is in `0..<length`.
    static func checkIndices(_ indices: [Int], _ length: Int, _ kernel: String) {
        for index in indices {
            precondition(index >= 0 && index < length, "reference: \(kernel) index \(index) is not in 0..<\(length)")
        }
    }

    /// `k`, the number of indices per `(o, i)` position of gather and scatterAdd.
    static func perPosition(_ indices: [Int], _ outer: Int, _ inner: Int) -> Int {
        if outer * inner == 0 { return 0 }
        precondition(
            indices.count % (outer * inner) == 0, "reference: \(indices.count) indices for \(outer * inner) positions")
        return indices.count / (outer * inner)
    }
}
