// Copies: strided reads and writes (permutations, broadcasts, slices, joins) and conversions
// between element types. They move elements without arithmetic, so they also take `uint8` masks.

extension ReferenceBackend {
    public func copy(_ source: StridedView, into out: Buffer, shape: [Int]) {
        precondition(source.buffer.dtype == out.dtype, "reference: copy of \(source.buffer.dtype) into \(out.dtype)")
        switch out.dtype {
        case .float32: copy(source, into: out, shape: shape, Float.self)
        case .float64: copy(source, into: out, shape: shape, Double.self)
        case .uint8: copy(source, into: out, shape: shape, UInt8.self)
        case .int64: copy(source, into: out, shape: shape, Int.self)
        }
    }

    /// `out[i] = source[offset + Σₖ indexₖ·strides[k]]` with `index` the `i`-th multi-index of
    /// `shape` in row-major order.
    private func copy<T>(_ source: StridedView, into out: Buffer, shape: [Int], _: T.Type) {
        let (x, out) = (source.buffer.host(T.self), out.host(T.self))
        var i = 0
        Self.forEachIndex(shape) { index in
            out[i] = x[Self.flatIndex(index, source.strides, offset: source.offset)]
            i += 1
        }
    }

    public func copy(_ source: Buffer, into destination: StridedView, shape: [Int]) {
        precondition(
            source.dtype == destination.buffer.dtype,
            "reference: copy of \(source.dtype) into \(destination.buffer.dtype)")
        switch source.dtype {
        case .float32: copy(source, into: destination, shape: shape, Float.self)
        case .float64: copy(source, into: destination, shape: shape, Double.self)
        case .uint8: copy(source, into: destination, shape: shape, UInt8.self)
        case .int64: copy(source, into: destination, shape: shape, Int.self)
        }
    }

    /// `destination[offset + Σₖ indexₖ·strides[k]] = source[i]` with `index` the `i`-th
    /// multi-index of `shape` in row-major order; other elements of the destination are kept.
    private func copy<T>(_ source: Buffer, into destination: StridedView, shape: [Int], _: T.Type) {
        let (x, out) = (source.host(T.self), destination.buffer.host(T.self))
        var i = 0
        Self.forEachIndex(shape) { index in
            out[Self.flatIndex(index, destination.strides, offset: destination.offset)] = x[i]
            i += 1
        }
    }

    public func convert(_ x: Buffer, into out: Buffer) -> Int? {
        switch (x.dtype, out.dtype) {
        case (.float32, .float32): convert(x, into: out, Float.self, Float.self)
        case (.float32, .float64): convert(x, into: out, Float.self, Double.self)
        case (.float64, .float32): convert(x, into: out, Double.self, Float.self)
        case (.float64, .float64): convert(x, into: out, Double.self, Double.self)
        case (.float32, .int64): return truncate(x, into: out, Float.self)
        case (.float64, .int64): return truncate(x, into: out, Double.self)
        case (.int64, .float32): convert(indices: x, into: out, Float.self)
        case (.int64, .float64): convert(indices: x, into: out, Double.self)
        case (.uint8, .uint8), (.int64, .int64): copy(StridedView(x, strides: [1]), into: out, shape: [x.count])
        default: preconditionFailure("reference: no conversion from \(x.dtype) to \(out.dtype)")
        }
        return nil
    }

    /// `out[i] = Int(x[i])` (toward zero) where `x[i]` is in `[−2⁶³, 2⁶³)`, else `Int.min`;
    /// returns the first `i` where `x[i]` is not a whole number in that range.
    private func truncate<S: TensorScalar>(_ x: Buffer, into out: Buffer, _: S.Type) -> Int? {
        precondition(x.count == out.count, "reference: convert of \(x.count) elements into \(out.count)")
        let (n, x, out) = (x.count, Self.elements(x, S.self), Self.indices(out))
        var firstInexact: Int? = nil
        for i in 0..<n {
            let representable = x[i] >= -0x1p63 && x[i] < 0x1p63
            out[i] = representable ? Int(x[i]) : Int.min
            if firstInexact == nil && !(representable && x[i].rounded(.towardZero) == x[i]) { firstInexact = i }
        }
        return firstInexact
    }

    /// `out[i] = T(x[i])`: the nearest `T` to the integer.
    private func convert<T: TensorScalar>(indices x: Buffer, into out: Buffer, _: T.Type) {
        precondition(x.count == out.count, "reference: convert of \(x.count) elements into \(out.count)")
        let (n, x, out) = (x.count, Self.indices(x), Self.elements(out, T.self))
        for i in 0..<n { out[i] = T(x[i]) }
    }

    /// `out[i] = T(x[i])`: the nearest `T` (exact when `T` is as wide as `S`).
    private func convert<S: TensorScalar, T: TensorScalar>(_ x: Buffer, into out: Buffer, _: S.Type, _: T.Type) {
        precondition(x.count == out.count, "reference: convert of \(x.count) elements into \(out.count)")
        let (n, x, out) = (x.count, Self.elements(x, S.self), Self.elements(out, T.self))
        for i in 0..<n { out[i] = T(x[i]) }
    }
}
