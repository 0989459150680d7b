// Elementwise ops and their derivative rules: one place to read every rule of the family.
//
// Notation in the rules: `g` is the gradient of the loss with respect to the op's output `y`;
// each rule returns the gradient with respect to each input, shaped like `y` (the engine sums it
// back to the input's own shape when the input was broadcast). Masks (`sign`, `positive`, …) are
// constants: they carry no gradient, so the second derivative of relu or abs is zero away from
// the kink, as it should be.

extension Tensor {
    // MARK: Two tensors, NumPy broadcasting

    /// Runs a binary kernel and records it with `rule`. The rule closure is only created when a
    /// node is recorded (the builder is non-escaping), so untracked ops allocate nothing for it.
    @inline(__always)
    static func binaryOp(
        _ a: Tensor, _ b: Tensor, _ kernel: BinaryKernel, _ op: OpKind, savingOutput: Bool = false,
        _ rule: () -> Pullback<Scalar>
    ) -> Tensor {
        zipped(a, b, kernel, name: op.rawValue).recorded(op, a, b, savingOutput: savingOutput, rule)
    }

    /// `a + b`, broadcasting.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        binaryOp(a, b, .add, .add) { .binary { g, _, wa, wb in (wa ? g : nil, wb ? g : nil) } }
    }

    /// `a − b`, broadcasting.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        binaryOp(a, b, .subtract, .subtract) { .binary { g, _, wa, wb in (wa ? g : nil, wb ? -g : nil) } }
    }

    /// `a ⊙ b` (elementwise), broadcasting. ∂/∂a = g⊙b, ∂/∂b = g⊙a.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        binaryOp(a, b, .multiply, .multiply) {
            .binary { g, _, wa, wb in
                (wa ? g * b : nil, wb ? g * a : nil)
            }
        }
    }

    /// `a / b` (elementwise), broadcasting. ∂/∂a = g/b, ∂/∂b = −g·a/b².
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        binaryOp(a, b, .divide, .divide) {
            .binary { g, _, wa, wb in
                (wa ? g / b : nil, wb ? -(g * a) / (b * b) : nil)
            }
        }
    }

    /// `aᵇ` elementwise, broadcasting. ∂/∂a = g·b·aᵇ⁻¹, ∂/∂b = g·aᵇ·ln a (defined for a > 0).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func pow(_ a: Tensor, _ b: Tensor) -> Tensor {
        binaryOp(a, b, .power, .power, savingOutput: true) {
            .binary { g, node, wa, wb in
                (wa ? g * b * Tensor.pow(a, b - 1) : nil, wb ? g * node.output * a.log() : nil)
            }
        }
    }

    /// The larger of `a` and `b` elementwise. A tie sends half the gradient to each side.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor {
        binaryOp(a, b, .maximum, .maximum) {
            .binary { g, _, wa, wb in
                let toA = zipped(a, b, .greaterMask, name: "maximum")
                return (wa ? g * toA : nil, wb ? g * (1 - toA) : nil)
            }
        }
    }

    /// The smaller of `a` and `b` elementwise. A tie sends half the gradient to each side.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func minimum(_ a: Tensor, _ b: Tensor) -> Tensor {
        binaryOp(a, b, .minimum, .minimum) {
            .binary { g, _, wa, wb in
                let toA = zipped(b, a, .greaterMask, name: "minimum")
                return (wa ? g * toA : nil, wb ? g * (1 - toA) : nil)
            }
        }
    }

    /// `mask ? a : b` elementwise, broadcasting all three. The mask (nonzero means true) is not
    /// differentiated; the gradient flows to `a` where the mask holds and to `b` elsewhere.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func `where`(_ mask: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let name = "where"
        mask.checkSameDevice(a, name)
        a.checkSameDevice(b, name)
        let shape = ShapeMath.broadcast(mask.shape, ShapeMath.broadcast(a.shape, b.shape, op: name), op: name)
        let out = a.newBuffer(ShapeMath.count(shape))
        a.backend.select(
            mask.storage, mask.shape, a.storage, a.shape, b.storage, b.shape, into: out, shape: shape)
        let constantMask = mask.detached()
        return Tensor(shape: shape, storage: out).recorded(.select, a, b) {
            .binary { g, _, wa, wb in
                let keep = Tensor.zipped(constantMask, Tensor(0, on: constantMask.device), .notEqual, name: name)
                return (wa ? g * keep : nil, wb ? g * (1 - keep) : nil)
            }
        }
    }

    // MARK: A tensor and a Swift scalar

    /// Runs a unary kernel and records it with `rule` (built only when recorded).
    @inline(__always)
    func unaryOp(
        _ kernel: UnaryKernel, _ op: OpKind, savingOutput: Bool = false, _ rule: () -> Pullback<Scalar>
    ) -> Tensor {
        mapped(kernel).recorded(op, self, savingOutput: savingOutput, rule)
    }

    /// `a + c`: the scalar added to every element. ∂/∂a = g.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func + (a: Tensor, c: Scalar) -> Tensor {
        a.unaryOp(.addScalar(Double(c)), .addScalar) { .unary { g, _ in g } }
    }
    /// `c + a`: the scalar added to every element. ∂/∂a = g.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func + (c: Scalar, a: Tensor) -> Tensor { a + c }
    /// `a − c`: the scalar subtracted from every element. ∂/∂a = g.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func - (a: Tensor, c: Scalar) -> Tensor { a + (-c) }
    /// `c − a` elementwise. ∂/∂a = −g.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func - (c: Scalar, a: Tensor) -> Tensor { -a + c }

    /// `c·a`. ∂/∂a = c·g.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func * (a: Tensor, c: Scalar) -> Tensor {
        a.unaryOp(.multiplyScalar(Double(c)), .multiplyScalar) { .unary { g, _ in g * c } }
    }
    /// `c·a`. ∂/∂a = c·g.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func * (c: Scalar, a: Tensor) -> Tensor { a * c }
    /// `a / c`, computed as `a·(1/c)`. ∂/∂a = g/c.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func / (a: Tensor, c: Scalar) -> Tensor { a * (1 / c) }
    /// `c / a` elementwise, computed as `c·a⁻¹`. ∂/∂a = −c·g/a².
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func / (c: Scalar, a: Tensor) -> Tensor { a.pow(-1) * c }

    // Compound assignment. Under `withoutGrad`, on a leaf that requires gradients, it updates
    // the values in place and keeps the leaf (as `w -= lr * w.grad` does in PyTorch's no_grad):
    // that is how a parameter is updated. Everywhere else `a op= b` is `a = a op b`.
    /// `a = a + b`, broadcasting `b`; in place on a leaf parameter under ``withoutGrad(_:)`` (see above).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func += (a: inout Tensor, b: Tensor) { a.assignResult(a + b, op: "+=") }
    /// `a = a − b`, broadcasting `b`; in place on a leaf parameter under ``withoutGrad(_:)``:
    /// the plain gradient-descent step `w -= w.grad! * lr`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func -= (a: inout Tensor, b: Tensor) { a.assignResult(a - b, op: "-=") }
    /// `a = a ⊙ b`, broadcasting `b`; in place on a leaf parameter under ``withoutGrad(_:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func *= (a: inout Tensor, b: Tensor) { a.assignResult(a * b, op: "*=") }
    /// `a = a / b`, broadcasting `b`; in place on a leaf parameter under ``withoutGrad(_:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func /= (a: inout Tensor, b: Tensor) { a.assignResult(a / b, op: "/=") }
    /// `a = a + c`; in place on a leaf parameter under ``withoutGrad(_:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func += (a: inout Tensor, c: Scalar) { a.assignResult(a + c, op: "+=") }
    /// `a = a − c`; in place on a leaf parameter under ``withoutGrad(_:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func -= (a: inout Tensor, c: Scalar) { a.assignResult(a - c, op: "-=") }
    /// `a = c·a`; in place on a leaf parameter under ``withoutGrad(_:)`` (weight decay by hand).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func *= (a: inout Tensor, c: Scalar) { a.assignResult(a * c, op: "*=") }
    /// `a = a / c`; in place on a leaf parameter under ``withoutGrad(_:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func /= (a: inout Tensor, c: Scalar) { a.assignResult(a / c, op: "/=") }

    /// Writes `source`'s elements into this tensor's own memory, as PyTorch's `copy_`: state
    /// updated this way (a running mean, a counter) keeps its buffer, so a captured step that
    /// updates it replays onto the same memory. The memory is copied first if another tensor
    /// shares it (copy-on-write). Not recorded on the tape; `source` must have this shape.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func copyElements(from source: Tensor) {
        guard source.shape == shape else {
            tensorFailure("copyElements: the source has shape \(source.shape) but the tensor has shape \(shape)")
        }
        checkSameDevice(source, "copyElements")
        makeUnique()
        backend.convert(source.storage, into: storage)
    }

    mutating func assignResult(_ result: Tensor, op: String) {
        guard let node, node.isLeaf, !ThreadState.current.gradEnabled else {
            self = result
            return
        }
        guard result.shape == shape else {
            tensorFailure(
                "\(op): the result has shape \(result.shape) but the parameter being updated has shape \(shape)")
        }
        // Copy-on-write keeps any saved value on a still-living tape intact.
        checkSameDevice(result, op)
        makeUnique()
        backend.convert(result.storage, into: storage)
    }

    /// `xᵖ` elementwise. ∂/∂x = g·p·xᵖ⁻¹.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func pow(_ p: Scalar) -> Tensor {
        let x = self
        return unaryOp(.powerScalar(Double(p)), .powerScalar) {
            .unary { g, _ in
                p == 2 ? g * x * 2 : g * (x.pow(p - 1) * p)
            }
        }
    }

    /// `x²` elementwise.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func squared() -> Tensor { pow(2) }

    // MARK: Unary

    /// `−x`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static prefix func - (x: Tensor) -> Tensor { x.unaryOp(.negate, .negate) { .unary { g, _ in -g } } }

    /// `eˣ`. ∂/∂x = g·y (the saved output).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func exp() -> Tensor { unaryOp(.exp, .exp, savingOutput: true) { .unary { g, node in g * node.output } } }

    /// `ln x`. ∂/∂x = g/x.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func log() -> Tensor {
        let x = self
        return unaryOp(.log, .log) { .unary { g, _ in g / x } }
    }

    /// `√x`. ∂/∂x = g/(2y).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func sqrt() -> Tensor {
        unaryOp(.sqrt, .sqrt, savingOutput: true) { .unary { g, node in g / (node.output * 2) } }
    }

    /// `|x|`. ∂/∂x = g·sign(x) (0 at x = 0).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func abs() -> Tensor {
        let x = self
        return unaryOp(.abs, .abs) { .unary { g, _ in g * x.detached().mapped(.sign) } }
    }

    /// `sin x`. ∂/∂x = g·cos x.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func sin() -> Tensor {
        let x = self
        return unaryOp(.sin, .sin) { .unary { g, _ in g * x.cos() } }
    }

    /// `cos x`. ∂/∂x = −g·sin x.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func cos() -> Tensor {
        let x = self
        return unaryOp(.cos, .cos) { .unary { g, _ in -(g * x.sin()) } }
    }

    /// `tanh x`. ∂/∂x = g·(1 − y²), one fused kernel on the saved output.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func tanh() -> Tensor {
        unaryOp(.tanh, .tanh, savingOutput: true) { .unary { g, node in Tensor.tanhBackward(g, node.output) } }
    }

    /// The logistic function `1/(1 + e⁻ˣ)`, computed without overflow for any x.
    /// ∂/∂x = g·y·(1 − y), one fused kernel on the saved output.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func sigmoid() -> Tensor {
        unaryOp(.sigmoid, .sigmoid, savingOutput: true) { .unary { g, node in Tensor.sigmoidBackward(g, node.output) } }
    }

    /// `max(x, 0)`. ∂/∂x = g where x > 0, else 0 (0 at the kink), one fused kernel.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func relu() -> Tensor {
        let x = self.detached()
        return unaryOp(.relu, .relu) { .unary { g, _ in Tensor.reluBackward(g, x) } }
    }

    /// `x` where x > 0, else `slope·x`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func leakyRelu(slope: Scalar = 0.01) -> Tensor {
        let x = self.detached()
        return unaryOp(.leakyRelu(Double(slope)), .leakyRelu) {
            .unary { g, _ in g * x.mapped(.leakyReluSlope(Double(slope))) }
        }
    }

    /// `ln(1 + eˣ)`, computed as `max(x, 0) + ln(1 + e^{−|x|})` so it never overflows.
    /// ∂/∂x = g·σ(x).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func softplus() -> Tensor {
        let x = self
        return unaryOp(.softplus, .softplus) { .unary { g, _ in g * x.sigmoid() } }
    }

    /// `x` limited to `[lo, hi]`. ∂/∂x = g inside the interval (ends included), else 0.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func clamped(min lo: Scalar, max hi: Scalar) -> Tensor {
        guard lo <= hi else { tensorFailure("clamp: min \(lo) is greater than max \(hi)") }
        let x = self.detached()
        return unaryOp(.clamp(Double(lo), Double(hi)), .clamp) {
            .unary { g, _ in g * x.mapped(.inside(Double(lo), Double(hi))) }
        }
    }

    // MARK: Fused backward kernels (differentiable, for second derivatives)

    /// `g·(1 − y²)`: tanh's VJP. ∂/∂g = h·(1 − y²), ∂/∂y = −2·h·g·y.
    static func tanhBackward(_ g: Tensor, _ y: Tensor) -> Tensor {
        binaryOp(g, y, .tanhBackward, .tanhBackward) {
            .binary { h, _, wg, wy in
                (wg ? tanhBackward(h, y) : nil, wy ? h * g * y * -2 : nil)
            }
        }
    }

    /// `g·y·(1 − y)`: sigmoid's VJP. ∂/∂g = h·y·(1 − y), ∂/∂y = h·g·(1 − 2y).
    static func sigmoidBackward(_ g: Tensor, _ y: Tensor) -> Tensor {
        binaryOp(g, y, .sigmoidBackward, .sigmoidBackward) {
            .binary { h, _, wg, wy in
                (wg ? sigmoidBackward(h, y) : nil, wy ? h * g * (1 - y * 2) : nil)
            }
        }
    }

    /// `g` where `x > 0`, else 0: relu's VJP. ∂/∂g = the same mask; `x` only selects (constant).
    static func reluBackward(_ g: Tensor, _ x: Tensor) -> Tensor {
        binaryOp(g, x, .reluBackward, .reluBackward) {
            .binary { h, _, wg, _ in (wg ? reluBackward(h, x) : nil, nil) }
        }
    }

    // MARK: Comparisons (not differentiable: masks of 0 and 1)

    /// `1` where `a < b`, else `0`, broadcasting. A mask: not differentiable (no gradient flows).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func .< (a: Tensor, b: Tensor) -> Tensor { zipped(a.detached(), b.detached(), .less, name: "<") }
    /// `1` where `a ≤ b`, else `0`, broadcasting. A mask: not differentiable.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func .<= (a: Tensor, b: Tensor) -> Tensor {
        zipped(a.detached(), b.detached(), .lessEqual, name: "<=")
    }
    /// `1` where `a > b`, else `0`, broadcasting. A mask: not differentiable.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func .> (a: Tensor, b: Tensor) -> Tensor { zipped(a.detached(), b.detached(), .greater, name: ">") }
    /// `1` where `a ≥ b`, else `0`, broadcasting. A mask: not differentiable.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func .>= (a: Tensor, b: Tensor) -> Tensor {
        zipped(a.detached(), b.detached(), .greaterEqual, name: ">=")
    }
    /// `1` where `a = b`, else `0`, broadcasting. A mask: not differentiable; `(predicted .== labels).mean()` is an accuracy.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func .== (a: Tensor, b: Tensor) -> Tensor { zipped(a.detached(), b.detached(), .equal, name: "==") }
    /// `1` where `a ≠ b`, else `0`, broadcasting. A mask: not differentiable.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func .!= (a: Tensor, b: Tensor) -> Tensor {
        zipped(a.detached(), b.detached(), .notEqual, name: "!=")
    }
    /// `1` where `a < c`, else `0`. A mask: not differentiable.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func .< (a: Tensor, c: Scalar) -> Tensor { a.detached().mapped(.lessThanScalar(Double(c))) }
    /// `1` where `a > c`, else `0`. A mask: not differentiable; `x .> 0` labels points by sign.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func .> (a: Tensor, c: Scalar) -> Tensor { a.detached().mapped(.greaterThanScalar(Double(c))) }
    /// `1` where `a = c`, else `0`. A mask: not differentiable.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func .== (a: Tensor, c: Scalar) -> Tensor { a.detached().mapped(.equalToScalar(Double(c))) }
}

/// `aᵇ` elementwise with broadcasting (see ``Tensor/pow(_:_:)``).
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func pow<Scalar>(_ a: Tensor<Scalar>, _ b: Tensor<Scalar>) -> Tensor<Scalar> { Tensor.pow(a, b) }
/// `xᵖ` elementwise.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func pow<Scalar>(_ x: Tensor<Scalar>, _ p: Scalar) -> Tensor<Scalar> { x.pow(p) }
/// `eˣ` elementwise, as a free function (``Tensor/exp()``). ∂/∂x = g·eˣ.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func exp<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> { x.exp() }
/// `ln x` elementwise, as a free function (``Tensor/log()``). ∂/∂x = g/x.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func log<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> { x.log() }
/// `√x` elementwise, as a free function (``Tensor/sqrt()``). ∂/∂x = g/(2√x).
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func sqrt<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> { x.sqrt() }
/// `|x|` elementwise, as a free function (``Tensor/abs()``). ∂/∂x = g·sign(x) (0 at x = 0).
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func abs<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> { x.abs() }
/// `sin x` elementwise, as a free function (``Tensor/sin()``). ∂/∂x = g·cos x.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func sin<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> { x.sin() }
/// `cos x` elementwise, as a free function (``Tensor/cos()``). ∂/∂x = −g·sin x.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func cos<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> { x.cos() }
/// `tanh x` elementwise, as a free function (``Tensor/tanh()``). ∂/∂x = g·(1 − tanh²x).
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func tanh<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> { x.tanh() }
/// `max(a, b)` elementwise with broadcasting (``Tensor/maximum(_:_:)``): the gradient goes to
/// the larger input, half to each on a tie.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func maximum<Scalar>(_ a: Tensor<Scalar>, _ b: Tensor<Scalar>) -> Tensor<Scalar> { Tensor.maximum(a, b) }
/// `min(a, b)` elementwise with broadcasting (``Tensor/minimum(_:_:)``): the gradient goes to
/// the smaller input, half to each on a tie.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func minimum<Scalar>(_ a: Tensor<Scalar>, _ b: Tensor<Scalar>) -> Tensor<Scalar> { Tensor.minimum(a, b) }

// MARK: Dropout

extension Tensor {
    /// Inverted dropout: each element kept with probability `1 − rate` and scaled by
    /// `1/(1 − rate)`, else 0, in one pass. The decisions are those of
    /// ``randomBernoulli(_:probability:value:generator:on:)`` from the same generator state, so
    /// `x.dropout(rate: p, generator: &g)` equals `x * .randomBernoulli(x.shape, probability: 1 − p,
    /// value: 1/(1 − p), generator: &g)`; the mask is kept as one byte per element for the
    /// backward pass. ∂/∂x = g ⊙ mask·scale (the same masking, so it has derivatives too).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func dropout(rate: Double, generator: inout RandomGenerator) -> Tensor {
        guard rate >= 0 && rate < 1 else { tensorFailure("dropout: rate \(rate) is outside [0, 1)") }
        if rate == 0 { return self }
        let scale = 1 / (1 - Scalar(rate))
        let out = newBuffer(count)
        let keep = backend.allocate(count, .uint8)
        backend.dropout(
            storage, into: out, keep: keep, probability: 1 - rate, scale: Double(scale), generator: &generator)
        return Tensor(shape: shape, storage: out).recorded(.dropout, self) {
            .unary { g, _ in g.masked(by: keep, scale: scale) }
        }
    }

    /// Dropout drawing from `generator`, a cell a captured step keeps, so that each replay draws
    /// fresh values continuing the eager stream (see ``dropout(rate:generator:)-(_,RandomGenerator)``).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func dropout(rate: Double, generator: RandomGeneratorCell) -> Tensor {
        Capture.using(generator) { dropout(rate: rate, generator: &generator.generator) }
    }

    /// `self ⊙ keep·scale`: dropout with a given mask (its backward pass).
    func masked(by keep: Buffer, scale: Scalar) -> Tensor {
        let out = newBuffer(count)
        backend.maskedScale(storage, keep: keep, scale: Double(scale), into: out)
        return Tensor(shape: shape, storage: out).recorded(.dropout, self) {
            .unary { g, _ in g.masked(by: keep, scale: scale) }
        }
    }
}
