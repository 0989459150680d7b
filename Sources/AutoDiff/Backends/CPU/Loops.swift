import CKernels
import RealModule

/// The CPU backend's loops over host pointers, generic over the element type and specialised
/// for `Float` and `Double` where ``CPUKernels`` calls them.
///
/// Each function switches on the kernel code once, outside its loop, so every loop body is a
/// straight-line expression the compiler can vectorise.
enum CPULoops {
    @inline(__always)
    static func unary<S: TensorScalar>(
        _ op: UnaryKernel, _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, _ n: Int
    ) {
        if S.self == Float.self, let (kind, alpha) = vectorActivation(op) {
            ad_activation_f32(kind, UnsafePointer(OpaquePointer(x)), UnsafeMutablePointer(OpaquePointer(y)), n, alpha)
            return
        }
        if S.self == Float.self, let kind = vectorTranscendental(op) {
            ad_transcendental_f32(kind, UnsafePointer(OpaquePointer(x)), UnsafeMutablePointer(OpaquePointer(y)), n)
            return
        }
        @inline(__always) func map(_ f: (S) -> S) {
            for i in 0..<n { y[i] = f(x[i]) }
        }
        switch op {
        case .negate: map { -$0 }
        case .exp: map { S.exp($0) }
        case .log: map { S.log($0) }
        case .sqrt: map { $0.squareRoot() }
        case .abs: map { Swift.abs($0) }
        case .sin: map { S.sin($0) }
        case .cos: map { S.cos($0) }
        case .tanh: map { S.tanh($0) }
        case .sigmoid: map { stableSigmoid($0) }
        case .relu: map { $0 > 0 ? $0 : 0 }
        case .softplus: map { Swift.max($0, 0) + S.log(onePlus: S.exp(-Swift.abs($0))) }
        case .sign: map { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }
        case .positive: map { $0 > 0 ? 1 : 0 }
        case .addScalar(let c):
            let c = S(c)
            map { $0 + c }
        case .multiplyScalar(let c):
            let c = S(c)
            map { $0 * c }
        case .powerScalar(let p):
            let p = S(p)
            if p == 2 {
                map { $0 * $0 }
            } else if let n = integerExponent(p) {
                map { S.pow($0, n) }
            } else {
                map { S.pow($0, p) }
            }
        case .leakyRelu(let a):
            let a = S(a)
            map { $0 > 0 ? $0 : a * $0 }
        case .leakyReluSlope(let a):
            let a = S(a)
            map { $0 > 0 ? 1 : a }
        case .clamp(let lo, let hi):
            let (lo, hi) = (S(lo), S(hi))
            map { Swift.min(Swift.max($0, lo), hi) }
        case .inside(let lo, let hi):
            let (lo, hi) = (S(lo), S(hi))
            map { $0 >= lo && $0 <= hi ? 1 : 0 }
        case .gelu:
            let invSqrt2 = S(0.7071067811865476)
            map { $0 * (1 + S.erf($0 * invSqrt2)) / 2 }
        case .geluTanh:
            let (c, a) = (S(0.7978845608028654), S(0.044715))
            map { x in x * (1 + S.tanh(c * (x + a * x * x * x))) / 2 }
        case .silu: map { $0 * stableSigmoid($0) }
        case .elu(let alpha):
            let alpha = S(alpha)
            map { $0 > 0 ? $0 : alpha * S.expMinusOne($0) }
        case .greaterThanScalar(let c):
            let c = S(c)
            map { $0 > c ? 1 : 0 }
        case .lessThanScalar(let c):
            let c = S(c)
            map { $0 < c ? 1 : 0 }
        case .equalToScalar(let c):
            let c = S(c)
            map { $0 == c ? 1 : 0 }
        }
    }

    /// The C kernel (Sources/CKernels/activations.c) of an activation that has one, with its α:
    /// eight floats at a time through a vectorised exponential, where libm's erff, tanhf and
    /// expf would be called one element at a time.
    @inline(__always)
    static func vectorActivation(_ op: UnaryKernel) -> (Int32, Float)? {
        switch op {
        case .gelu: (Int32(AD_GELU), 0)
        case .geluTanh: (Int32(AD_GELU_TANH), 0)
        case .silu: (Int32(AD_SILU), 0)
        case .elu(let alpha): (Int32(AD_ELU), Float(alpha))
        default: nil
        }
    }

    /// The C kernel (Sources/CKernels/transcendental.c) of a unary function that libmvec
    /// vectorises: sixteen floats at a time on AVX-512 where libm's expf and tanhf take one.
    @inline(__always)
    static func vectorTranscendental(_ op: UnaryKernel) -> Int32? {
        switch op {
        case .exp: Int32(AD_MATH_EXP)
        case .tanh: Int32(AD_MATH_TANH)
        case .sigmoid: Int32(AD_MATH_SIGMOID)
        default: nil
        }
    }

    /// The C kernel of an activation's backward pass (`g·f′(x)`), as ``vectorActivation(_:)``.
    @inline(__always)
    static func vectorActivationBackward(_ op: BinaryKernel) -> (Int32, Float)? {
        switch op {
        case .geluBackward: (Int32(AD_GELU), 0)
        case .geluTanhBackward: (Int32(AD_GELU_TANH), 0)
        case .siluBackward: (Int32(AD_SILU), 0)
        case .eluBackward(let alpha): (Int32(AD_ELU), Float(alpha))
        default: nil
        }
    }

    /// An integral exponent as an `Int`: `xⁿ` is then defined for negative `x` too (the real
    /// `pow(x, y) = e^{y·ln x}` is NaN there).
    @inline(__always)
    static func integerExponent<S: TensorScalar>(_ y: S) -> Int? {
        y == y.rounded() && Swift.abs(y) < 16_777_216 ? Int(y) : nil
    }

    /// `1/(1+e^{-x})` for `x ≥ 0` and `e^x/(1+e^x)` below, so neither branch overflows.
    @inline(__always)
    static func stableSigmoid<S: TensorScalar>(_ x: S) -> S {
        if x >= 0 {
            return 1 / (1 + S.exp(-x))
        }
        let e = S.exp(x)
        return e / (1 + e)
    }

    /// `out[i] = f(a[i·sa], b[i·sb])`; a stride of 0 broadcasts one element.
    @inline(__always)
    static func binary<S: TensorScalar>(
        _ op: BinaryKernel, _ a: UnsafePointer<S>, _ sa: Int, _ b: UnsafePointer<S>, _ sb: Int,
        _ out: UnsafeMutablePointer<S>, _ n: Int
    ) {
        if S.self == Float.self, sa == 1, sb == 1, let (kind, alpha) = vectorActivationBackward(op) {
            ad_activation_backward_f32(
                kind, UnsafePointer(OpaquePointer(a)), UnsafePointer(OpaquePointer(b)),
                UnsafeMutablePointer(OpaquePointer(out)), n, alpha)
            return
        }
        @inline(__always) func zip(_ f: (S, S) -> S) {
            if sa == 1 && sb == 1 {
                for i in 0..<n { out[i] = f(a[i], b[i]) }
            } else if sa == 1 && sb == 0 {
                let c = b[0]
                for i in 0..<n { out[i] = f(a[i], c) }
            } else if sa == 0 && sb == 1 {
                let c = a[0]
                for i in 0..<n { out[i] = f(c, b[i]) }
            } else {
                for i in 0..<n { out[i] = f(a[i * sa], b[i * sb]) }
            }
        }
        switch op {
        case .add: zip(+)
        case .subtract: zip(-)
        case .multiply: zip(*)
        case .divide: zip(/)
        case .power: zip { x, y in integerExponent(y).map { S.pow(x, $0) } ?? S.pow(x, y) }
        case .maximum: zip { $0 >= $1 ? $0 : $1 }
        case .minimum: zip { $0 <= $1 ? $0 : $1 }
        case .greaterMask: zip { $0 > $1 ? 1 : ($0 == $1 ? 0.5 : 0) }
        case .tanhBackward: zip { g, y in g * (1 - y * y) }
        case .sigmoidBackward: zip { g, y in g * y * (1 - y) }
        case .reluBackward: zip { g, x in x > 0 ? g : 0 }
        case .geluBackward:
            let (invSqrt2, invSqrt2Pi) = (S(0.7071067811865476), S(0.3989422804014327))
            zip { g, x in
                let cdf: S = (1 + S.erf(x * invSqrt2)) / 2
                let density: S = S.exp(-x * x / 2) * invSqrt2Pi
                return g * (cdf + x * density)
            }
        case .geluTanhBackward:
            let (c, a) = (S(0.7978845608028654), S(0.044715))
            zip { g, x in
                let x2: S = x * x
                let t: S = S.tanh(c * (x + a * x2 * x))
                let du: S = c * (1 + 3 * a * x2)
                let slope: S = (1 + t) / 2 + x * (1 - t * t) * du / 2
                return g * slope
            }
        case .siluBackward:
            zip { g, x in
                let s = stableSigmoid(x)
                return g * s * (1 + x * (1 - s))
            }
        case .eluBackward(let alpha):
            let alpha = S(alpha)
            zip { g, x in x > 0 ? g : g * alpha * S.exp(x) }
        case .less: zip { $0 < $1 ? 1 : 0 }
        case .lessEqual: zip { $0 <= $1 ? 1 : 0 }
        case .greater: zip { $0 > $1 ? 1 : 0 }
        case .greaterEqual: zip { $0 >= $1 ? 1 : 0 }
        case .equal: zip { $0 == $1 ? 1 : 0 }
        case .notEqual: zip { $0 != $1 ? 1 : 0 }
        }
    }

    /// `out[r, c] = f(a[r·ra + c·ca], b[r·rb + c·cb])` for a `rows × cols` result stored
    /// contiguously: every 2-D broadcast (row vector, column vector, scalar, same shape) in one
    /// call.
    @inline(__always)
    static func binary2D<S: TensorScalar>(
        _ op: BinaryKernel, _ a: UnsafePointer<S>, _ ra: Int, _ ca: Int, _ b: UnsafePointer<S>, _ rb: Int,
        _ cb: Int, _ out: UnsafeMutablePointer<S>, _ rows: Int, _ cols: Int
    ) {
        for r in 0..<rows {
            binary(op, a + r * ra, ca, b + r * rb, cb, out + r * cols, cols)
        }
    }

    /// Reduces the middle axis of `x` seen as `[outer, length, inner]` into `acc` of
    /// `[outer, inner]` (which holds the running values): every reduction over a contiguous
    /// block of axes in one call.
    @inline(__always)
    static func reduce3D<S: TensorScalar>(
        _ op: ReductionKernel, _ x: UnsafePointer<S>, _ outer: Int, _ length: Int, _ inner: Int,
        into acc: UnsafeMutablePointer<S>
    ) {
        for o in 0..<outer {
            let block = x + o * length * inner
            if inner == 1 {
                reduce(op, block, 1, length, into: acc + o)
            } else {
                for k in 0..<length {
                    accumulate(op, block + k * inner, 1, into: acc + o * inner, inner)
                }
            }
        }
    }

    /// Adam's loop for one element type (CKernels' `ad_adam_*`: vectorised square roots and
    /// divisions, which bound it): w, g, m, v, v̂ (AMSGrad, else nil), n, lr, decay, β₁, β₂, c₁, c₂, ε.
    typealias AdamKernel<S> = (
        UnsafeMutablePointer<S>, UnsafePointer<S>, UnsafeMutablePointer<S>, UnsafeMutablePointer<S>,
        UnsafeMutablePointer<S>?, Int, S, S, S, S, S, S, S
    ) -> Void

    /// One fused optimizer step (see ``UpdateKernel``); `state` holds the rule's state buffers in
    /// its documented order. Every element's update is independent of the others, so a large
    /// parameter is split across ``ComputeThreads`` with the same result.
    @inline(__always)
    static func update<S: TensorScalar>(
        _ rule: UpdateKernel, _ w: UnsafeMutablePointer<S>, _ g: UnsafePointer<S>,
        _ state: [UnsafeMutablePointer<S>], _ n: Int, adam: AdamKernel<S>
    ) {
        ComputeThreads.forEachRange(of: n) { r in update(rule, w, g, { state[$0] }, r, adam: adam) }
    }

    /// ``update(_:_:_:_:_:adam:)`` with the state as the buffers themselves, as the backend
    /// receives them: no array of pointers is built for each parameter on every step.
    @inline(__always)
    static func update<S: TensorScalar>(
        _ rule: UpdateKernel, _ w: UnsafeMutablePointer<S>, _ g: UnsafePointer<S>,
        _ state: [Buffer], _ n: Int, adam: AdamKernel<S>
    ) {
        ComputeThreads.forEachRange(of: n) { r in update(rule, w, g, { state[$0].host(S.self) }, r, adam: adam) }
    }

    /// ``update(_:_:_:_:_:adam:)`` over the elements in `range`; `stateBuffer(k)` is the first element
    /// of the rule's state buffer `k`.
    @inline(__always)
    static func update<S: TensorScalar>(
        _ rule: UpdateKernel, _ w: UnsafeMutablePointer<S>, _ g: UnsafePointer<S>,
        _ stateBuffer: (Int) -> UnsafeMutablePointer<S>, _ range: Range<Int>, adam: AdamKernel<S>
    ) {
        let (w, g, n, start) = (w + range.lowerBound, g + range.lowerBound, range.count, range.lowerBound)
        func state(_ index: Int) -> UnsafeMutablePointer<S> { stateBuffer(index) + start }
        switch rule {
        case .sgd(let lr, let decay, let momentum, let nesterov):
            let (lr, decay, momentum) = (S(lr), S(decay), S(momentum))
            if momentum == 0 {
                for i in 0..<n { w[i] = w[i] * decay - lr * g[i] }
            } else {
                let buf = state(0)
                if nesterov {
                    for i in 0..<n {
                        let b = momentum * buf[i] + g[i]
                        buf[i] = b
                        w[i] = w[i] * decay - lr * (g[i] + momentum * b)
                    }
                } else {
                    for i in 0..<n {
                        let b = momentum * buf[i] + g[i]
                        buf[i] = b
                        w[i] = w[i] * decay - lr * b
                    }
                }
            }
        case .adagrad(let lr, let decay, let epsilon):
            let (lr, decay, epsilon) = (S(lr), S(decay), S(epsilon))
            let sum = state(0)
            for i in 0..<n {
                let s = sum[i] + g[i] * g[i]
                sum[i] = s
                w[i] = w[i] * decay - lr * g[i] / (s.squareRoot() + epsilon)
            }
        case .rmsprop(let lr, let decay, let rho, let epsilon):
            let (lr, decay, rho, epsilon) = (S(lr), S(decay), S(rho), S(epsilon))
            let avg = state(0)
            let oneMinusRho = 1 - rho
            for i in 0..<n {
                let a = rho * avg[i] + oneMinusRho * g[i] * g[i]
                avg[i] = a
                w[i] = w[i] * decay - lr * g[i] / (a.squareRoot() + epsilon)
            }
        case .adam(let lr, let decay, let beta1, let beta2, let c1, let c2, let epsilon, let amsgrad):
            adam(
                w, g, state(0), state(1), amsgrad ? state(2) : nil, n, S(lr), S(decay), S(beta1), S(beta2), S(c1),
                S(c2), S(epsilon))
        }
    }

    /// `out[i] = mask[i·sm] != 0 ? a[i·sa] : b[i·sb]`.
    @inline(__always)
    static func select<S: TensorScalar>(
        _ mask: UnsafePointer<S>, _ sm: Int, _ a: UnsafePointer<S>, _ sa: Int,
        _ b: UnsafePointer<S>, _ sb: Int, _ out: UnsafeMutablePointer<S>, _ n: Int
    ) {
        for i in 0..<n { out[i] = mask[i * sm] != 0 ? a[i * sa] : b[i * sb] }
    }

    /// `acc[0] = op(acc[0], x[0], x[s], …, x[(n−1)·s])`.
    @inline(__always)
    static func reduce<S: TensorScalar>(
        _ op: ReductionKernel, _ x: UnsafePointer<S>, _ s: Int, _ n: Int, into acc: UnsafeMutablePointer<S>
    ) {
        var r = acc[0]
        switch op {
        case .sum:
            if s == 1 {
                // Four partial sums: vectorisable, and less rounding error on long rows.
                var p0: S = 0
                var p1: S = 0
                var p2: S = 0
                var p3: S = 0
                var i = 0
                while i + 4 <= n {
                    p0 += x[i]
                    p1 += x[i + 1]
                    p2 += x[i + 2]
                    p3 += x[i + 3]
                    i += 4
                }
                while i < n {
                    p0 += x[i]
                    i += 1
                }
                r += (p0 + p1) + (p2 + p3)
            } else {
                for i in 0..<n { r += x[i * s] }
            }
        case .max:
            for i in 0..<n {
                let v = x[i * s]
                if v > r || v.isNaN { r = v }
            }
        case .min:
            for i in 0..<n {
                let v = x[i * s]
                if v < r || v.isNaN { r = v }
            }
        }
        acc[0] = r
    }

    /// `acc[i] = op(acc[i], x[i·s])` for `i < n`: one row folded into a row of results.
    @inline(__always)
    static func accumulate<S: TensorScalar>(
        _ op: ReductionKernel, _ x: UnsafePointer<S>, _ s: Int, into acc: UnsafeMutablePointer<S>, _ n: Int
    ) {
        switch op {
        case .sum:
            if s == 1 {
                for i in 0..<n { acc[i] += x[i] }
            } else {
                for i in 0..<n { acc[i] += x[i * s] }
            }
        case .max:
            for i in 0..<n {
                let v = x[i * s]
                if v > acc[i] || v.isNaN { acc[i] = v }
            }
        case .min:
            for i in 0..<n {
                let v = x[i * s]
                if v < acc[i] || v.isNaN { acc[i] = v }
            }
        }
    }

    /// The value a reduction starts from: 0, −∞ or +∞.
    @inline(__always)
    static func identity<S: TensorScalar>(_ op: ReductionKernel, _: S.Type) -> S {
        switch op {
        case .sum: 0
        case .max: -.infinity
        case .min: .infinity
        }
    }

    /// The index along the middle axis of `x` (`[outer, length, inner]`) of the largest (`.max`)
    /// or smallest (`.min`) element, the first on ties.
    static func argReduce<S: TensorScalar>(
        _ op: ReductionKernel, _ x: UnsafePointer<S>, _ outer: Int, _ length: Int, _ inner: Int,
        into result: UnsafeMutablePointer<Int>
    ) {
        for o in 0..<outer {
            for i in 0..<inner {
                var best = 0
                var bestValue = x[o * length * inner + i]
                for k in 1..<Swift.max(length, 1) {
                    let v = x[(o * length + k) * inner + i]
                    if op == .max ? v > bestValue : v < bestValue {
                        best = k
                        bestValue = v
                    }
                }
                result[o * inner + i] = best
            }
        }
    }

    /// `y[i] = x[i]` truncated toward zero, `Int.min` where that is not an `Int` (NaN, ±∞, too
    /// large); returns the position of the first element that is not a whole `Int`.
    static func truncate<S: TensorScalar>(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<Int>, _ n: Int) -> Int? {
        var firstInexact: Int? = nil
        for i in 0..<n {
            let v = x[i]
            // −2⁶³ is an Int; 2⁶³ is not (both exact in Float and Double).
            if v >= -0x1p63 && v < 0x1p63 {
                let t = Int(v)
                y[i] = t
                if firstInexact == nil && S(t) != v { firstInexact = i }
            } else {
                y[i] = Int.min
                if firstInexact == nil { firstInexact = i }
            }
        }
        return firstInexact
    }

    /// `y[i] = x[i]` rounded to the nearest float.
    static func convert<B: TensorScalar>(_ x: UnsafePointer<Int>, _ y: UnsafeMutablePointer<B>, _ n: Int) {
        for i in 0..<n { y[i] = B(x[i]) }
    }

    /// `y[i] = x[i]` rounded to the other precision.
    static func convert<A: TensorScalar, B: TensorScalar>(_ x: UnsafePointer<A>, _ y: UnsafeMutablePointer<B>, _ n: Int)
    {
        for i in 0..<n { y[i] = B(x[i]) }
    }

    /// `y[i·sy] = x[i·sx]`.
    @inline(__always)
    static func copy<S: TensorScalar>(
        _ x: UnsafePointer<S>, _ sx: Int, _ y: UnsafeMutablePointer<S>, _ sy: Int, _ n: Int
    ) {
        if sx == 1 && sy == 1 {
            y.update(from: x, count: n)
        } else {
            for i in 0..<n { y[i * sy] = x[i * sx] }
        }
    }

    /// The element type's vectorised Bernoulli kernel (CKernels' `ad_bernoulli_*`):
    /// y, x (nil: none), keep (nil: none), n, threshold, value, the 16 words of lane state.
    typealias BernoulliKernel<S> = (
        UnsafeMutablePointer<S>, UnsafePointer<S>?, UnsafeMutablePointer<UInt8>?, Int, UInt32, S,
        UnsafeMutablePointer<UInt64>
    ) -> Void

    /// `y[i] = value` with probability `probability`, else 0 — times `x[i]` when `x` is given
    /// (dropout), recording each decision in `keep` when given — through `draw`: four
    /// xoshiro256** lanes seeded with 16 words from `generator` are stepped together, each step
    /// deciding eight elements with a 32-bit uniform each (which resolves a probability to 2⁻³²).
    /// A serial generator is the bottleneck otherwise: one 64-bit draw per two elements, a chain
    /// the CPU cannot overlap.
    ///
    /// Every ``bernoulliBlock`` elements get their own 16 words, drawn from `generator` in block
    /// order before any block runs, so blocks can be split across ``ComputeThreads`` and the
    /// mask is the same for any thread count.
    @inline(__always)
    static func bernoulli<S: TensorScalar>(
        _ y: UnsafeMutablePointer<S>, times x: UnsafePointer<S>?, keep: UnsafeMutablePointer<UInt8>?, _ n: Int,
        probability: Double, value: S, generator: inout RandomGenerator, draw: BernoulliKernel<S>
    ) {
        // u < p  ⟺  k < ⌈p·2³²⌉ for the 32-bit integer k = u·2³².
        let threshold = (probability * 0x1p32).rounded(.up)
        if threshold >= 0x1p32 || threshold <= 0 {  // p > 1 − 2⁻³² (always kept) or p = 0
            let kept = threshold > 0
            for i in 0..<n {
                let v = kept ? value : 0
                y[i] = x.map { $0[i] * v } ?? v
                keep?[i] = kept ? 1 : 0
            }
            return
        }
        let blocks = (n + bernoulliBlock - 1) / bernoulliBlock
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 16 * blocks) { lanes in
            let lanes = lanes.baseAddress!
            for i in 0..<(16 * blocks) { lanes[i] = generator.next() }
            for block in 0..<blocks {
                // xoshiro's state must not be all zero; four zero draws in a row do not happen
                // in practice, but a lane that had them would emit only zeros.
                let words = lanes + 16 * block
                for lane in 0..<4 where (0..<4).allSatisfy({ words[lane + 4 * $0] == 0 }) { words[lane] = 1 }
            }
            ComputeThreads.forEachRange(of: blocks, elements: n, alignment: 1) { blocksOfPart in
                for block in blocksOfPart {
                    let start = block * bernoulliBlock
                    draw(
                        y + start, x.map { $0 + start }, keep.map { $0 + start }, min(bernoulliBlock, n - start),
                        UInt32(threshold), value, lanes + 16 * block)
                }
            }
        }
    }

    /// Elements per independently seeded run of ``bernoulli(_:times:keep:_:probability:value:generator:draw:)``
    /// (a multiple of the eight a vector step decides).
    static let bernoulliBlock = 1 << 14

    /// Every row of `y` (`[rows, columns]`) ← the `count` values at `x` (`columns` of them, or one
    /// broadcast): the first row, then doubling copies of the rows filled so far (log₂ rows
    /// large copies rather than one small copy per row).
    @inline(__always)
    static func fillRows<S: TensorScalar>(
        _ y: UnsafeMutablePointer<S>, with x: UnsafePointer<S>, _ count: Int, rows: Int, columns: Int
    ) {
        let total = rows * columns
        if count == 1 { return fill(y, x[0], total) }
        guard rows > 0 else { return }
        y.update(from: x, count: columns)
        var filled = columns
        while filled < total {
            let chunk = Swift.min(filled, total - filled)
            (y + filled).update(from: y, count: chunk)
            filled += chunk
        }
    }

    @inline(__always)
    static func fill<S: TensorScalar>(_ y: UnsafeMutablePointer<S>, _ value: S, _ n: Int) {
        for i in 0..<n { y[i] = value }
    }

    // MARK: Fused losses

    /// `Σᵢ softplus(zᵢ) − yᵢ·zᵢ` with softplus(z) = max(z, 0) + ln(1 + e^{−|z|}); with the same
    /// exponential, σ(zᵢ) into `sigmoid` when given (1/(1 + e) or e/(1 + e) by sign: no overflow).
    @inline(__always)
    static func sigmoidCrossEntropy<S: TensorScalar>(
        _ z: UnsafePointer<S>, _ y: UnsafePointer<S>, _ n: Int, sigmoid: UnsafeMutablePointer<S>?
    ) -> Double {
        var total = 0.0
        for i in 0..<n {
            let zi = z[i]
            let e = S.exp(-Swift.abs(zi))
            total += Double(Swift.max(zi, 0) + S.log(onePlus: e) - y[i] * zi)
            if let sigmoid { sigmoid[i] = zi >= 0 ? 1 / (1 + e) : e / (1 + e) }
        }
        return total
    }

    /// `out[i] = (sigmoid[i] − yᵢ)·scale`.
    @inline(__always)
    static func sigmoidCrossEntropyGradient<S: TensorScalar>(
        _ sigmoid: UnsafePointer<S>, _ y: UnsafePointer<S>, _ n: Int, scale: S, into out: UnsafeMutablePointer<S>
    ) {
        for i in 0..<n { out[i] = (sigmoid[i] - y[i]) * scale }
    }

    /// The largest element of a row (NaN if any is NaN); 0 for a row of −∞, so that the shifted
    /// exponentials stay defined and the row's logSumExp is −∞.
    @inline(__always)
    static func rowShift<S: TensorScalar>(_ row: UnsafePointer<S>, _ classes: Int) -> S {
        var m = -S.infinity
        for j in 0..<classes where row[j] > m || row[j].isNaN { m = row[j] }
        return m == -S.infinity ? 0 : m
    }

    /// Softmax cross-entropy summed over rows; the softmax into `probabilities` when given.
    @inline(__always)
    static func softmaxCrossEntropy<S: TensorScalar>(
        _ z: UnsafePointer<S>, labels: UnsafePointer<Int>, rows: Int, classes: Int,
        probabilities: UnsafeMutablePointer<S>?
    ) -> Double {
        var total = 0.0
        for i in 0..<rows {
            let row = z + i * classes
            let m = rowShift(row, classes)
            var s: S = 0
            if let p = probabilities.map({ $0 + i * classes }) {
                // The exponentials are stored, then scaled: each is computed once.
                for j in 0..<classes {
                    p[j] = S.exp(row[j] - m)
                    s += p[j]
                }
                for j in 0..<classes { p[j] /= s }
            } else {
                for j in 0..<classes { s += S.exp(row[j] - m) }
            }
            total += Double(S.log(s) + m - row[labels[i]])
        }
        return total
    }

    /// `out[i, j] = (probabilities[i, j] − [j = labelᵢ])·scale`.
    @inline(__always)
    static func softmaxCrossEntropyGradient<S: TensorScalar>(
        _ probabilities: UnsafePointer<S>, labels: UnsafePointer<Int>, rows: Int, classes: Int, scale: S,
        into out: UnsafeMutablePointer<S>
    ) {
        for e in 0..<(rows * classes) { out[e] = probabilities[e] * scale }
        for i in 0..<rows { out[i * classes + labels[i]] -= scale }
    }
}
