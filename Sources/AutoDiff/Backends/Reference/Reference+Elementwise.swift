import RealModule

// Elementwise kernels: fill, unary and binary functions, select.

extension ReferenceBackend {
    public func fill(_ out: Buffer, with value: Double) {
        switch out.dtype {
        case .float32: fill(out, with: value, Float.self)
        case .float64: fill(out, with: value, Double.self)
        case .uint8: fillMask(out, with: value)
        case .int64:
            let (n, out) = (out.count, Self.indices(out))
            for i in 0..<n { out[i] = Int(value) }
        }
    }

    /// `out[i] = UInt8(value)` for a mask (`value` a whole number in 0...255).
    private func fillMask(_ out: Buffer, with value: Double) {
        let (n, out) = (out.count, Self.mask(out))
        for i in 0..<n { out[i] = UInt8(value) }
    }

    /// `out[i] = S(value)`.
    private func fill<S: TensorScalar>(_ out: Buffer, with value: Double, _: S.Type) {
        let (n, out) = (out.count, Self.elements(out, S.self))
        for i in 0..<n { out[i] = S(value) }
    }

    public func unary(_ op: UnaryKernel, _ x: Buffer, into out: Buffer) {
        switch x.dtype {
        case .float32: unary(op, x, into: out, Float.self)
        case .float64: unary(op, x, into: out, Double.self)
        case .uint8, .int64: Self.unsupported("unary", x.dtype)
        }
    }

    /// `out[i] = f(x[i])` with `f` the code's function in `S`.
    private func unary<S: TensorScalar>(_ op: UnaryKernel, _ x: Buffer, into out: Buffer, _: S.Type) {
        precondition(x.count == out.count, "reference: unary of \(x.count) elements into \(out.count)")
        let f = Self.function(op, S.self)
        let (n, x, out) = (x.count, Self.elements(x, S.self), Self.elements(out, S.self))
        for i in 0..<n { out[i] = f(x[i]) }
    }

    /// The function a unary kernel code computes, in `S`.
    static func function<S: TensorScalar>(_ op: UnaryKernel, _: S.Type) -> (S) -> S {
        switch op {
        case .negate: return { x in -x }
        case .exp: return { x in S.exp(x) }
        case .log: return { x in S.log(x) }
        case .sqrt: return { x in x.squareRoot() }
        case .abs: return { x in Swift.abs(x) }
        case .sin: return { x in S.sin(x) }
        case .cos: return { x in S.cos(x) }
        case .tanh: return { x in S.tanh(x) }
        case .sigmoid: return { x in sigmoid(x) }
        case .relu: return { x in x > 0 ? x : 0 }  // NaN → 0
        case .softplus: return { x in Swift.max(x, 0) + S.log(onePlus: S.exp(-Swift.abs(x))) }
        case .sign: return { x in x > 0 ? 1 : (x < 0 ? -1 : 0) }
        case .positive: return { x in x > 0 ? 1 : 0 }
        case .addScalar(let c): return { x in x + S(c) }
        case .multiplyScalar(let c): return { x in x * S(c) }
        case .powerScalar(let p):
            // A square is the correctly rounded x·x.
            return S(p) == 2 ? { x in x * x } : { x in power(x, S(p)) }
        case .leakyRelu(let slope): return { x in x > 0 ? x : S(slope) * x }
        case .leakyReluSlope(let slope): return { x in x > 0 ? 1 : S(slope) }
        case .clamp(let lo, let hi): return { x in Swift.min(Swift.max(x, S(lo)), S(hi)) }
        case .gelu: return { x in x * normalCDF(x) }
        case .geluTanh: return { x in x * (1 + S.tanh(geluTanhArgument(x))) / 2 }
        case .silu: return { x in x * sigmoid(x) }
        case .elu(let alpha): return { x in x > 0 ? x : S(alpha) * S.expMinusOne(x) }
        case .inside(let lo, let hi): return { x in x >= S(lo) && x <= S(hi) ? 1 : 0 }
        case .greaterThanScalar(let c): return { x in x > S(c) ? 1 : 0 }
        case .lessThanScalar(let c): return { x in x < S(c) ? 1 : 0 }
        case .equalToScalar(let c): return { x in x == S(c) ? 1 : 0 }
        }
    }

    /// `σ(x) = 1/(1 + e^{−x})` for `x ≥ 0` and `eˣ/(1 + eˣ)` below, so neither branch overflows.
    static func sigmoid<S: TensorScalar>(_ x: S) -> S {
        if x >= 0 { return 1 / (1 + S.exp(-x)) }
        let e = S.exp(x)
        return e / (1 + e)
    }

    /// `Φ(x) = ½·(1 + erf(x/√2))`, the standard normal distribution function.
    static func normalCDF<S: TensorScalar>(_ x: S) -> S { (1 + S.erf(x * S(0.7071067811865476))) / 2 }

    /// `φ(x) = e^{−x²/2}/√(2π)`, the standard normal density.
    static func normalDensity<S: TensorScalar>(_ x: S) -> S { S.exp(-x * x / 2) * S(0.3989422804014327) }

    /// `u = √(2/π)·(x + 0.044715·x³)`, the argument of the tanh GELU's tanh.
    static func geluTanhArgument<S: TensorScalar>(_ x: S) -> S { S(0.7978845608028654) * (x + S(0.044715) * x * x * x) }

    /// The tanh GELU's derivative `½·(1 + t) + ½·x·(1 − t²)·u′` (`t = tanh(u)`, `u′ = du/dx`).
    static func geluTanhDerivative<S: TensorScalar>(_ x: S) -> S {
        let t = S.tanh(geluTanhArgument(x))
        let du = S(0.7978845608028654) * (1 + 3 * S(0.044715) * x * x)
        return (1 + t) / 2 + x * (1 - t * t) * du / 2
    }

    /// `xʸ`: for an integral `y` (`y == y.rounded()`, `|y| < 2²⁴`) `S.pow(x, Int(y))`, defined for
    /// negative `x` too; otherwise the real power `S.pow(x, y)` (NaN for negative `x`).
    static func power<S: TensorScalar>(_ x: S, _ y: S) -> S {
        if y == y.rounded() && Swift.abs(y) < 16_777_216 { return S.pow(x, Int(y)) }
        return S.pow(x, y)
    }

    public func binary(
        _ op: BinaryKernel, _ a: Buffer, _ aShape: [Int], _ b: Buffer, _ bShape: [Int], into out: Buffer, shape: [Int]
    ) {
        switch a.dtype {
        case .float32: binary(op, a, aShape, b, bShape, into: out, shape: shape, Float.self)
        case .float64: binary(op, a, aShape, b, bShape, into: out, shape: shape, Double.self)
        case .uint8, .int64: Self.unsupported("binary", a.dtype)
        }
    }

    /// `out[index] = f(a[index], b[index])` for every multi-index of `shape`, `a` and `b` read
    /// through their broadcast strides.
    private func binary<S: TensorScalar>(
        _ op: BinaryKernel, _ a: Buffer, _ aShape: [Int], _ b: Buffer, _ bShape: [Int], into out: Buffer,
        shape: [Int], _: S.Type
    ) {
        let f = Self.function(op, S.self)
        let (a, b, out) = (Self.elements(a, S.self), Self.elements(b, S.self), Self.elements(out, S.self))
        let (sa, sb) = (Self.broadcastStrides(aShape, to: shape), Self.broadcastStrides(bShape, to: shape))
        var i = 0
        Self.forEachIndex(shape) { index in
            out[i] = f(a[Self.flatIndex(index, sa)], b[Self.flatIndex(index, sb)])
            i += 1
        }
    }

    /// The function a binary kernel code computes, in `S`.
    static func function<S: TensorScalar>(_ op: BinaryKernel, _: S.Type) -> (S, S) -> S {
        switch op {
        case .add: return { a, b in a + b }
        case .subtract: return { a, b in a - b }
        case .multiply: return { a, b in a * b }
        case .divide: return { a, b in a / b }
        case .power: return { a, b in power(a, b) }
        case .maximum: return { a, b in a >= b ? a : b }
        case .minimum: return { a, b in a <= b ? a : b }
        case .greaterMask: return { a, b in a > b ? 1 : (a == b ? 0.5 : 0) }
        case .tanhBackward: return { g, y in g * (1 - y * y) }
        case .sigmoidBackward: return { g, y in g * y * (1 - y) }
        case .reluBackward: return { g, x in x > 0 ? g : 0 }
        case .geluBackward: return { g, x in g * (normalCDF(x) + x * normalDensity(x)) }
        case .geluTanhBackward: return { g, x in g * geluTanhDerivative(x) }
        case .siluBackward:
            return { g, x in
                let s = sigmoid(x)
                return g * s * (1 + x * (1 - s))
            }
        case .eluBackward(let alpha): return { g, x in x > 0 ? g : g * S(alpha) * S.exp(x) }
        case .less: return { a, b in a < b ? 1 : 0 }
        case .lessEqual: return { a, b in a <= b ? 1 : 0 }
        case .greater: return { a, b in a > b ? 1 : 0 }
        case .greaterEqual: return { a, b in a >= b ? 1 : 0 }
        case .equal: return { a, b in a == b ? 1 : 0 }
        case .notEqual: return { a, b in a != b ? 1 : 0 }
        }
    }

    public func select(
        _ mask: Buffer, _ maskShape: [Int], _ a: Buffer, _ aShape: [Int], _ b: Buffer, _ bShape: [Int],
        into out: Buffer, shape: [Int]
    ) {
        switch a.dtype {
        case .float32: select(mask, maskShape, a, aShape, b, bShape, into: out, shape: shape, Float.self)
        case .float64: select(mask, maskShape, a, aShape, b, bShape, into: out, shape: shape, Double.self)
        case .uint8, .int64: Self.unsupported("select", a.dtype)
        }
    }

    /// `out[index] = mask[index] ≠ 0 ? a[index] : b[index]` for every multi-index of `shape`, all
    /// three read through their broadcast strides.
    private func select<S: TensorScalar>(
        _ mask: Buffer, _ maskShape: [Int], _ a: Buffer, _ aShape: [Int], _ b: Buffer, _ bShape: [Int],
        into out: Buffer, shape: [Int], _: S.Type
    ) {
        let (mask, a, b) = (Self.elements(mask, S.self), Self.elements(a, S.self), Self.elements(b, S.self))
        let out = Self.elements(out, S.self)
        let sm = Self.broadcastStrides(maskShape, to: shape)
        let (sa, sb) = (Self.broadcastStrides(aShape, to: shape), Self.broadcastStrides(bShape, to: shape))
        var i = 0
        Self.forEachIndex(shape) { index in
            out[i] = mask[Self.flatIndex(index, sm)] != 0 ? a[Self.flatIndex(index, sa)] : b[Self.flatIndex(index, sb)]
            i += 1
        }
    }
}
