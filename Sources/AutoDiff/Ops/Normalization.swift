// Normalization ops: batch, layer and group normalization, all on one primitive that normalizes
// groups of elements (`x` seen as `[outer, groups, inner]`, statistics per group over its
// `outer·inner` elements) with an optional per-group scale and shift fused in.
//
// The rule, for y = x̂·w + b with x̂ = (x − μ)·rstd over a group of n elements:
//   ∂b = Σ g,  ∂w = Σ g·x̂,  ∂x = w·rstd·(g − mean(g) − x̂·mean(g·x̂)).
// Without recording (an ordinary backward pass) that is one fused kernel; while recording
// (`createGraph`) it is the same formula as tensor expressions, so it has derivatives itself.

extension Tensor {
    /// The normalization primitive: `x` (any shape with `outer·groups·inner` elements) seen as
    /// `[outer, groups, inner]`, each group normalized over its `n = outer·inner` elements:
    ///
    ///     μ_c = mean(x[:, c, :]),  σ²_c = mean((x[:, c, :] − μ_c)²)  (biased),
    ///     rstd_c = 1/√(σ²_c + ε),  y[o, c, i] = (x[o, c, i] − μ_c)·rstd_c·scale[c] + shift[c]
    ///
    /// Returns `y` (of `x`'s shape) and the constants `μ` and `rstd` (`[groups]`).
    static func normalized(
        _ x: Tensor, outer: Int, groups: Int, inner: Int, scale: Tensor?, shift: Tensor?, epsilon: Double
    ) -> (output: Tensor, mean: Tensor, rstd: Tensor) {
        for parameter in [scale, shift].compactMap({ $0 }) { x.checkSameDevice(parameter, "normalize") }
        let out = x.newBuffer(x.count)
        let (mean, rstd) = (x.newBuffer(groups), x.newBuffer(groups))
        x.backend.normalize(
            x.storage, outer: outer, groups: groups, inner: inner, epsilon: epsilon, scale: scale?.storage,
            shift: shift?.storage, into: out, mean: mean, rstd: rstd)
        let meanTensor = Tensor(shape: [groups], storage: mean)
        let rstdTensor = Tensor(shape: [groups], storage: rstd)
        let inputs = [x] + [scale, shift].compactMap { $0 }
        let output = Tensor(shape: x.shape, storage: out).recorded(.normalize, inputs) {
            .nary { g, _ in
                let wanted = (
                    x: x.requiresGrad, scale: scale?.requiresGrad ?? false, shift: shift?.requiresGrad ?? false
                )
                let grads: (dx: Tensor?, dScale: Tensor?, dShift: Tensor?)
                if ThreadState.current.gradEnabled {
                    grads = normalizedBackwardRecorded(
                        g, x, outer: outer, groups: groups, inner: inner, scale: scale, epsilon: epsilon, wanted: wanted
                    )
                } else {
                    grads = normalizedBackwardFused(
                        g, x, outer: outer, groups: groups, inner: inner, scale: scale, mean: mean, rstd: rstd)
                }
                var result: [Tensor?] = [wanted.x ? grads.dx : nil]
                if scale != nil { result.append(wanted.scale ? grads.dScale : nil) }
                if shift != nil { result.append(wanted.shift ? grads.dShift : nil) }
                return result
            }
        }
        return (output, meanTensor, rstdTensor)
    }

    /// The rule in one kernel call (not recorded): `∂x`, and `Σ g·x̂`, `Σ g` for the scale and
    /// shift.
    private static func normalizedBackwardFused(
        _ g: Tensor, _ x: Tensor, outer: Int, groups: Int, inner: Int, scale: Tensor?, mean: Buffer, rstd: Buffer
    ) -> (dx: Tensor?, dScale: Tensor?, dShift: Tensor?) {
        x.checkSameDevice(g, "normalize")
        let dx = x.newBuffer(x.count)
        let (sumG, sumGXhat) = (x.newBuffer(groups), x.newBuffer(groups))
        x.backend.normalizeBackward(
            g.storage, x.storage, mean: mean, rstd: rstd, scale: scale?.storage, outer: outer, groups: groups,
            inner: inner, into: dx, sumG: sumG, sumGXhat: sumGXhat)
        return (
            Tensor(shape: x.shape, storage: dx), Tensor(shape: [groups], storage: sumGXhat),
            Tensor(shape: [groups], storage: sumG)
        )
    }

    /// The rule as tensor expressions (recorded, so differentiable again): the statistics are
    /// recomputed from `x` by differentiable ops, since they depend on `x`.
    private static func normalizedBackwardRecorded(
        _ g: Tensor, _ x: Tensor, outer: Int, groups: Int, inner: Int, scale: Tensor?, epsilon: Double,
        wanted: (x: Bool, scale: Bool, shift: Bool)
    ) -> (dx: Tensor?, dScale: Tensor?, dShift: Tensor?) {
        let grouped = [outer, groups, inner]
        let axes = [0, 2]
        let x3 = x.reshaped(grouped)
        let g3 = g.reshaped(grouped)
        let deviation = x3 - x3.mean(alongAxes: axes, keepDims: true)
        let rstd = ((deviation * deviation).mean(alongAxes: axes, keepDims: true) + Scalar(epsilon)).pow(-0.5)
        let xhat = deviation * rstd
        var dx: Tensor? = nil
        if wanted.x {
            let gw = scale.map { g3 * $0.reshaped([1, groups, 1]) } ?? g3
            let centered = gw - gw.mean(alongAxes: axes, keepDims: true)
            dx = (rstd * (centered - xhat * (gw * xhat).mean(alongAxes: axes, keepDims: true))).reshaped(x.shape)
        }
        let dScale = wanted.scale ? (g3 * xhat).sum(alongAxes: axes) : nil
        let dShift = wanted.shift ? g3.sum(alongAxes: axes) : nil
        return (dx, dScale, dShift)
    }
}

/// The output of ``Tensor/batchNorm(weight:bias:epsilon:)`` and the batch statistics that
/// running averages are made of.
public struct BatchNormResult<Scalar: TensorScalar> {
    /// The normalized (and scaled, shifted) input, recorded on the tape.
    public let output: Tensor<Scalar>
    /// The per-channel batch mean, `[C]` (a constant).
    public let mean: Tensor<Scalar>
    /// The per-channel biased batch variance `Σ(x − μ)²/n`, `[C]` (a constant).
    public let variance: Tensor<Scalar>
    /// The number of elements each channel's statistics were taken over (`N·H·W…`), for the
    /// unbiased variance `variance·n/(n − 1)`.
    public let countPerChannel: Int
}

extension Tensor {
    /// Batch normalization with the batch's statistics (training mode), for `x` of shape
    /// `[N, C]` or `[N, C, d₁, …]` (channels on axis 1):
    ///
    ///     μ_c = mean of x[:, c, …],  σ²_c = mean of (x[:, c, …] − μ_c)²  (biased)
    ///     y = (x − μ_c)/√(σ²_c + ε)·weight[c] + bias[c]
    ///
    /// in one fused kernel (the affine part included), and its backward pass in one more
    /// (`∂x = w·rstd·(g − mean(g) − x̂·mean(g·x̂))`, `∂w = Σ g·x̂`, `∂b = Σ g`); second derivatives
    /// work. `weight` and `bias` are `[C]` or `nil` (no scale, no shift). Returns the output and
    /// the batch mean and biased variance for running averages.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func batchNorm(weight: Tensor? = nil, bias: Tensor? = nil, epsilon: Double = 1e-5) -> BatchNormResult<Scalar>
    {
        let channels = checkBatchNormShapes(weight: weight, bias: bias, epsilon: epsilon)
        let (outer, inner) = (shape[0], shape[2...].reduce(1, *))
        guard outer * inner > 1 else {
            tensorFailure(
                "batchNorm: input \(shape) has \(outer * inner) value per channel; batch statistics need more than 1")
        }
        let (output, mean, rstd) = Tensor.normalized(
            self, outer: outer, groups: channels, inner: inner, scale: weight, shift: bias, epsilon: epsilon)
        // σ² from rstd = 1/√(σ² + ε), computed once per channel.
        let variance = ((rstd * rstd).pow(-1) - Scalar(epsilon)).mapped(.clamp(0, .infinity))
        return BatchNormResult(output: output, mean: mean, variance: variance, countPerChannel: outer * inner)
    }

    /// Batch normalization with given statistics (evaluation mode): `y = (x − mean[c])/√(variance[c] + ε)·weight[c] + bias[c]`
    /// for `x` of shape `[N, C, …]`, as a per-channel scale and shift (two broadcast ops).
    /// `mean` and `variance` are `[C]` (e.g. running averages, which are constants); the
    /// gradient reaches every input that requires it.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func batchNorm(
        mean: Tensor, variance: Tensor, weight: Tensor? = nil, bias: Tensor? = nil, epsilon: Double = 1e-5
    ) -> Tensor {
        let channels = checkBatchNormShapes(weight: weight, bias: bias, epsilon: epsilon)
        for (name, t) in [("mean", mean), ("variance", variance)] where t.shape != [channels] {
            tensorFailure("batchNorm: \(name) has shape \(t.shape), expected [\(channels)] for input \(shape)")
        }
        let perChannel = [channels] + Array(repeating: 1, count: rank - 2)
        let rstd = (variance + Scalar(epsilon)).pow(-0.5)
        var scale = rstd
        if let weight { scale = scale * weight }
        var shift = -(mean * scale)
        if let bias { shift = shift + bias }
        return self * scale.reshaped(perChannel) + shift.reshaped(perChannel)
    }

    /// Checks a batch-norm input (`[N, C, …]`), its parameters (`[C]`) and `ε` (≥ 0); returns `C`.
    private func checkBatchNormShapes(weight: Tensor?, bias: Tensor?, epsilon: Double) -> Int {
        guard rank >= 2 else { tensorFailure("batchNorm: input \(shape) needs at least 2 axes ([N, C, …])") }
        let channels = shape[1]
        for (name, t) in [("weight", weight), ("bias", bias)] {
            if let t, t.shape != [channels] {
                tensorFailure("batchNorm: \(name) has shape \(t.shape), expected [\(channels)] for input \(shape)")
            }
        }
        guard epsilon >= 0, epsilon.isFinite else { tensorFailure("batchNorm: epsilon \(epsilon) must be ≥ 0") }
        return channels
    }

    /// Layer normalization over the trailing axes `normalizedShape` (which `x`'s shape must end
    /// with), each slice of those axes normalized on its own:
    ///
    ///     y = (x − μ)/√(σ² + ε) ⊙ weight + bias
    ///
    /// with `μ`, `σ²` the mean and biased variance of the slice, and `weight`, `bias` of shape
    /// `normalizedShape` (or `nil`) applied elementwise. One fused kernel normalizes and applies
    /// the affine part (``Backend/layerNorm(_:rows:width:epsilon:weight:bias:into:mean:rstd:)``),
    /// and one computes the backward pass, `∂weight` and `∂bias` included. Second derivatives
    /// work.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func layerNorm(
        normalizedShape: [Int], weight: Tensor? = nil, bias: Tensor? = nil, epsilon: Double = 1e-5
    ) -> Tensor {
        guard !normalizedShape.isEmpty, normalizedShape.count <= rank,
            Array(shape.suffix(normalizedShape.count)) == normalizedShape
        else {
            tensorFailure("layerNorm: input \(shape) does not end with the normalized shape \(normalizedShape)")
        }
        for (name, t) in [("weight", weight), ("bias", bias)] {
            if let t, t.shape != normalizedShape {
                tensorFailure(
                    "layerNorm: \(name) has shape \(t.shape), expected the normalized shape \(normalizedShape)")
            }
        }
        guard epsilon >= 0, epsilon.isFinite else { tensorFailure("layerNorm: epsilon \(epsilon) must be ≥ 0") }
        let inner = normalizedShape.reduce(1, *)
        let rows = inner > 0 ? count / inner : 0
        guard weight != nil || bias != nil else {
            return Tensor.normalized(
                self, outer: 1, groups: rows, inner: inner, scale: nil, shift: nil, epsilon: epsilon
            )
            .output
        }
        return Tensor.layerNormalized(self, rows: rows, width: inner, weight: weight, bias: bias, epsilon: epsilon)
    }

    /// Layer normalization with its per-column affine map in one kernel, forward and backward
    /// (``Backend/layerNorm(_:rows:width:epsilon:weight:bias:into:mean:rstd:)``): `x` seen as
    /// `[rows, width]`, `y = x̂·weight + bias` with `x̂ = (x − μ_r)·rstd_r`. The rule, with
    /// `gw = g·weight`: `∂x = rstd·(gw − mean(gw) − x̂·mean(gw·x̂))` along each row,
    /// `∂weight = Σ_r g·x̂`, `∂bias = Σ_r g`; one fused kernel when not recording, the same formula
    /// as tensor expressions when recording (`createGraph`).
    static func layerNormalized(
        _ x: Tensor, rows: Int, width: Int, weight: Tensor?, bias: Tensor?, epsilon: Double
    ) -> Tensor {
        for parameter in [weight, bias].compactMap({ $0 }) { x.checkSameDevice(parameter, "layerNorm") }
        let out = x.newBuffer(x.count)
        let (mean, rstd) = (x.newBuffer(rows), x.newBuffer(rows))
        x.backend.layerNorm(
            x.storage, rows: rows, width: width, epsilon: epsilon, weight: weight?.storage, bias: bias?.storage,
            into: out, mean: mean, rstd: rstd)
        let inputs = [x] + [weight, bias].compactMap { $0 }
        let parameterShape = (weight ?? bias)?.shape ?? [width]
        return Tensor(shape: x.shape, storage: out).recorded(.layerNorm, inputs) {
            .nary { g, _ in
                let wanted = (
                    x: x.requiresGrad, weight: weight?.requiresGrad ?? false, bias: bias?.requiresGrad ?? false
                )
                var (dx, dWeight, dBias): (Tensor?, Tensor?, Tensor?)
                if ThreadState.current.gradEnabled {
                    (dx, dWeight, dBias) = layerNormBackwardRecorded(
                        g, x, rows: rows, width: width, weight: weight, parameterShape: parameterShape,
                        epsilon: epsilon, wanted: wanted)
                } else {
                    x.checkSameDevice(g, "layerNorm")
                    let dxBuffer = x.newBuffer(x.count)
                    let weightGradient = wanted.weight ? x.newBuffer(width) : nil
                    let biasGradient = wanted.bias ? x.newBuffer(width) : nil
                    x.backend.layerNormBackward(
                        g.storage, x.storage, mean: mean, rstd: rstd, weight: weight?.storage, rows: rows, width: width,
                        into: dxBuffer, weightGradient: weightGradient, biasGradient: biasGradient)
                    dx = wanted.x ? Tensor(shape: x.shape, storage: dxBuffer) : nil
                    dWeight = weightGradient.map { Tensor(shape: parameterShape, storage: $0) }
                    dBias = biasGradient.map { Tensor(shape: parameterShape, storage: $0) }
                }
                var result: [Tensor?] = [dx]
                if weight != nil { result.append(dWeight) }
                if bias != nil { result.append(dBias) }
                return result
            }
        }
    }

    /// The layer-norm rule as tensor expressions (recorded, so differentiable again): the
    /// statistics are recomputed from `x` by differentiable ops, since they depend on `x`.
    private static func layerNormBackwardRecorded(
        _ g: Tensor, _ x: Tensor, rows: Int, width: Int, weight: Tensor?, parameterShape: [Int], epsilon: Double,
        wanted: (x: Bool, weight: Bool, bias: Bool)
    ) -> (dx: Tensor?, dWeight: Tensor?, dBias: Tensor?) {
        let (x2, g2) = (x.reshaped([rows, width]), g.reshaped([rows, width]))
        let deviation = x2 - x2.mean(alongAxes: [1], keepDims: true)
        let rstd = ((deviation * deviation).mean(alongAxes: [1], keepDims: true) + Scalar(epsilon)).pow(-0.5)
        let xhat = deviation * rstd
        var dx: Tensor? = nil
        if wanted.x {
            let gw = weight.map { g2 * $0.reshaped([width]) } ?? g2
            let centered = gw - gw.mean(alongAxes: [1], keepDims: true)
            dx = (rstd * (centered - xhat * (gw * xhat).mean(alongAxes: [1], keepDims: true))).reshaped(x.shape)
        }
        let dWeight = wanted.weight ? (g2 * xhat).sum(alongAxes: [0]).reshaped(parameterShape) : nil
        let dBias = wanted.bias ? g2.sum(alongAxes: [0]).reshaped(parameterShape) : nil
        return (dx, dWeight, dBias)
    }

    /// Group normalization of `x` `[N, C, …]`: the `C` channels cut into `groups` groups of
    /// `C/groups` consecutive channels, each group of each sample normalized over its channels
    /// and spatial positions, then a per-channel scale and shift:
    ///
    ///     y[n, c, …] = (x[n, c, …] − μ_{n,g})/√(σ²_{n,g} + ε)·weight[c] + bias[c]
    ///
    /// `weight`, `bias` are `[C]` or `nil`. `groups = 1` is LayerNorm over `(C, …)` with
    /// per-channel affine; `groups = C` is instance normalization. Second derivatives work.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func groupNorm(groups: Int, weight: Tensor? = nil, bias: Tensor? = nil, epsilon: Double = 1e-5) -> Tensor {
        guard rank >= 2 else { tensorFailure("groupNorm: input \(shape) needs at least 2 axes ([N, C, …])") }
        let channels = shape[1]
        guard groups > 0, channels % groups == 0 else {
            tensorFailure("groupNorm: \(channels) channels of input \(shape) cannot be cut into \(groups) groups")
        }
        for (name, t) in [("weight", weight), ("bias", bias)] {
            if let t, t.shape != [channels] {
                tensorFailure("groupNorm: \(name) has shape \(t.shape), expected [\(channels)] for input \(shape)")
            }
        }
        guard epsilon >= 0, epsilon.isFinite else { tensorFailure("groupNorm: epsilon \(epsilon) must be ≥ 0") }
        let inner = (channels / groups) * shape[2...].reduce(1, *)
        var y = Tensor.normalized(
            self, outer: 1, groups: shape[0] * groups, inner: inner, scale: nil, shift: nil, epsilon: epsilon
        ).output
        let perChannel = [channels] + Array(repeating: 1, count: rank - 2)
        if let weight { y = y * weight.reshaped(perChannel) }
        if let bias { y = y + bias.reshaped(perChannel) }
        return y
    }
}
