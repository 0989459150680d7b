import RealModule

// Reductions: sums, maxima and minima over axes, logSumExp, arg max/min, the finiteness scan.

extension ReferenceBackend {
    public func reduce(_ op: ReductionKernel, _ x: Buffer, shape: [Int], axes: [Int], into out: Buffer) {
        switch x.dtype {
        case .float32: reduce(op, x, shape: shape, axes: axes, into: out, Float.self)
        case .float64: reduce(op, x, shape: shape, axes: axes, into: out, Double.self)
        case .uint8, .int64: Self.unsupported("reduce", x.dtype)
        }
    }

    /// `out` (of `shape` with `axes` set to 1) ← the identity (0, −∞, +∞), then each element of
    /// `x`, in row-major order, folded into the output element it reduces to.
    private func reduce<S: TensorScalar>(
        _ op: ReductionKernel, _ x: Buffer, shape: [Int], axes: [Int], into out: Buffer, _: S.Type
    ) {
        let (x, out) = (Self.elements(x, S.self), Self.elements(out, S.self))
        var outShape = shape
        for axis in axes { outShape[axis] = 1 }
        var toOut = ShapeMath.strides(outShape)
        for axis in axes { toOut[axis] = 0 }
        for o in 0..<ShapeMath.count(outShape) { out[o] = Self.identity(op, S.self) }
        var i = 0
        Self.forEachIndex(shape) { index in
            let o = Self.flatIndex(index, toOut)
            out[o] = Self.fold(op, out[o], x[i])
            i += 1
        }
    }

    /// The value of a reduction over nothing: 0 for a sum, −∞ for a maximum, +∞ for a minimum.
    static func identity<S: TensorScalar>(_ op: ReductionKernel, _: S.Type) -> S {
        switch op {
        case .sum: 0
        case .max: -S.infinity
        case .min: S.infinity
        }
    }

    /// One step of a reduction: `r + v`; or `v` where it is larger (smaller) than `r` or NaN, so
    /// a NaN, once in, stays.
    static func fold<S: TensorScalar>(_ op: ReductionKernel, _ r: S, _ v: S) -> S {
        switch op {
        case .sum: r + v
        case .max: v > r || v.isNaN ? v : r
        case .min: v < r || v.isNaN ? v : r
        }
    }

    public func logSumExp(_ x: Buffer, outer: Int, length: Int, inner: Int, into out: Buffer) {
        switch x.dtype {
        case .float32: logSumExp(x, outer: outer, length: length, inner: inner, into: out, Float.self)
        case .float64: logSumExp(x, outer: outer, length: length, inner: inner, into: out, Double.self)
        case .uint8, .int64: Self.unsupported("logSumExp", x.dtype)
        }
    }

    /// `out[o, i] = m + log Σₖ exp(x[o, k, i] − m)` with `m` the maximum over `k` (NaN if any is
    /// NaN), or 0 when it is ±∞ (so a slice of −∞ gives −∞ and one holding +∞ gives +∞).
    private func logSumExp<S: TensorScalar>(
        _ x: Buffer, outer: Int, length: Int, inner: Int, into out: Buffer, _: S.Type
    ) {
        let (x, out) = (Self.elements(x, S.self), Self.elements(out, S.self))
        for o in 0..<outer {
            for i in 0..<inner {
                var m = -S.infinity
                for k in 0..<length { m = Self.fold(.max, m, x[(o * length + k) * inner + i]) }
                if m.isInfinite { m = 0 }
                var sum: S = 0
                for k in 0..<length { sum += S.exp(x[(o * length + k) * inner + i] - m) }
                out[o * inner + i] = m + S.log(sum)
            }
        }
    }

    public func argReduce(_ op: ReductionKernel, _ x: Buffer, outer: Int, length: Int, inner: Int, into out: Buffer) {
        let result = Self.indices(out)
        switch x.dtype {
        case .float32: argReduce(op, x, outer: outer, length: length, inner: inner, into: result, Float.self)
        case .float64: argReduce(op, x, outer: outer, length: length, inner: inner, into: result, Double.self)
        case .uint8, .int64: Self.unsupported("argReduce", x.dtype)
        }
    }

    /// `result[o·inner + i]` = the first `k` whose `x[o, k, i]` is larger (`.max`, `>`) or smaller
    /// (`.min`, `<`) than every earlier one, scanning from `k = 0`.
    private func argReduce<S: TensorScalar>(
        _ op: ReductionKernel, _ x: Buffer, outer: Int, length: Int, inner: Int,
        into result: UnsafeMutablePointer<Int>, _: S.Type
    ) {
        precondition(op != .sum && length >= 1, "reference: argReduce takes .max or .min over a nonempty axis")
        let x = Self.elements(x, S.self)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = 0
                for k in 1..<length {
                    let (v, bestValue) = (x[(o * length + k) * inner + i], x[(o * length + best) * inner + i])
                    if op == .max ? v > bestValue : v < bestValue { best = k }
                }
                result[o * inner + i] = best
            }
        }
    }

    public func firstNonFinite(_ x: Buffer) -> Int? {
        switch x.dtype {
        case .float32: firstNonFinite(x, Float.self)
        case .float64: firstNonFinite(x, Double.self)
        case .uint8, .int64: nil  // integers are always finite
        }
    }

    /// The first `i` where `x[i]` is NaN or ±∞.
    private func firstNonFinite<S: TensorScalar>(_ x: Buffer, _: S.Type) -> Int? {
        let (n, x) = (x.count, Self.elements(x, S.self))
        for i in 0..<n where !x[i].isFinite { return i }
        return nil
    }
}
