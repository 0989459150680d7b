// Scaled dot-product attention as one recorded op: a fused kernel for the forward pass that
// keeps the output and each row's log-sum-exp, and a fused kernel for the backward pass that
// recomputes the probabilities from them (FlashAttention's idea) — or, for short key sequences,
// reads the probabilities the forward pass kept, which measured faster at T = 16 (BENCHMARKS.md).
//
// The rule, for O = P·V with P = softmax(S), S = s·Q·Kᵀ + M, per head:
//   ∂V = Pᵀ·G,  ∂S = P ⊙ (G·Vᵀ − rowsum(G ⊙ O)),  ∂Q = s·∂S·K,  ∂K = s·∂Sᵀ·Q.
// Without recording (an ordinary backward pass) that is one `attentionBackward` kernel call;
// while recording (`createGraph`) it is the same formula as tensor expressions on the composed
// probabilities, so it has derivatives of its own.

extension Tensor {
    /// Scaled dot-product attention, as PyTorch's `F.scaled_dot_product_attention`: for `query`
    /// `[…, Tq, D]`, `key` `[…, Tk, D]` and `value` `[…, Tk, Dv]` with the same leading
    /// (batch and head) axes,
    ///
    ///     out = softmax(scale·query·keyᵀ + mask) · value      ([…, Tq, Dv])
    ///
    /// with the softmax along the key axis, `scale` `1/√D` unless given, `mask` an additive
    /// float mask that broadcasts to `[…, Tq, Tk]` (0 to keep, −∞ to hide; a constant: it must
    /// not require a gradient), and, when `causal`, query row `i` seeing only the key rows
    /// `j ≤ i` (PyTorch's `is_causal`, aligned at the top left; it may be combined with a mask).
    /// A row that sees no key, or whose scores are all −∞, gives zeros, not NaN.
    ///
    /// One recorded op with fused kernels: the forward pass keeps the output and each query
    /// row's log-sum-exp, from which the backward kernel recomputes the probabilities; only when
    /// a gradient will be needed and there are at most ``attentionProbabilitiesKeptUpToKeys``
    /// keys does it keep the `[Tq, Tk]` probabilities too, for the backward pass to read.
    /// Gradients reach `query`, `key` and `value`; second derivatives work.
    /// Dropout on the attention weights is not part of the op: see
    /// ``attentionWeights(query:key:mask:causal:scale:)`` for the composed weights.
    ///
    /// ```swift
    /// let y = Tensor.scaledDotProductAttention(query: q, key: k, value: v, causal: true)   // [B, H, T, Dv]
    /// ```
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func scaledDotProductAttention(
        query: Tensor, key: Tensor, value: Tensor, mask: Tensor? = nil, causal: Bool = false, scale: Double? = nil
    ) -> Tensor {
        let sizes = checkAttention(query: query, key: key, value: value, mask: mask, scale: scale)
        if let mask, mask.requiresGrad {
            tensorFailure(
                "scaledDotProductAttention: the mask \(mask.shape) requires a gradient, but the fused op treats it as a constant; pass mask.detached(), or use attentionWeights(query:key:mask:causal:scale:).matmul(value) for a learned mask"
            )
        }
        let (leading, tq, tk, dv) = (sizes.leading, sizes.queryLength, sizes.keyLength, sizes.valueDim)
        let heads = ShapeMath.count(leading)
        let (maskBuffer, sharedMask) = attentionMaskBuffer(mask, leading: leading, tq: tq, tk: tk)
        let geometry = AttentionGeometry(
            batch: heads, queryLength: tq, keyLength: tk, headDim: sizes.headDim, valueDim: dv,
            scale: sizes.scale, causal: causal, sharedMask: sharedMask)
        let out = query.newBuffer(heads * tq * dv)
        let logSumExp = query.newBuffer(heads * tq)
        let recording =
            ThreadState.current.gradEnabled && (query.requiresGrad || key.requiresGrad || value.requiresGrad)
        let probabilities =
            recording && tk <= attentionProbabilitiesKeptUpToKeys ? query.newBuffer(heads * tq * tk) : nil
        query.backend.attention(
            query.storage, key.storage, value.storage, mask: maskBuffer, geometry, into: out, logSumExp: logSumExp,
            probabilities: probabilities)
        let constantMask = mask?.detached()
        return Tensor(shape: leading + [tq, dv], storage: out).recorded(
            .scaledDotProductAttention, [query, key, value]
        ) {
            .nary { g, _ in
                let wanted = [query.requiresGrad, key.requiresGrad, value.requiresGrad]
                let grads: [Tensor]
                if ThreadState.current.gradEnabled {
                    grads = attentionBackwardRecorded(
                        g, query, key, value, mask: constantMask, causal: causal, scale: sizes.scale)
                } else {
                    query.checkSameDevice(g, "scaledDotProductAttention")
                    let (dq, dk, dvalue) = (
                        query.newBuffer(query.count), query.newBuffer(key.count), query.newBuffer(value.count)
                    )
                    query.backend.attentionBackward(
                        g.storage, query.storage, key.storage, value.storage, mask: maskBuffer, output: out,
                        logSumExp: logSumExp, probabilities: probabilities, geometry, gradQuery: dq, gradKey: dk,
                        gradValue: dvalue)
                    grads = [
                        Tensor(shape: query.shape, storage: dq), Tensor(shape: key.shape, storage: dk),
                        Tensor(shape: value.shape, storage: dvalue),
                    ]
                }
                return zip(grads, wanted).map { $1 ? $0 : nil }
            }
        }
    }

    /// Multi-head self-attention over one packed projection, as GPT-2's attention computes it
    /// from its `c_attn` output: `packedQueryKeyValue` is `[N, T, 3·C]` with `C = heads·W`, each
    /// row the queries, keys and values side by side (`q = x[…, 0..<C]`, `k = x[…, C..<2C]`,
    /// `v = x[…, 2C..<3C]`) and head `h` their columns `h·W..<(h+1)·W`. With `q_h`, `k_h`, `v_h`
    /// the heads' `[N, T, W]` slices,
    ///
    ///     out[…, h·W..<(h+1)·W] = softmax(scale·q_h·k_hᵀ (+ causal mask)) · v_h      ([N, T, C])
    ///
    /// — ``scaledDotProductAttention(query:key:value:mask:causal:scale:)`` on
    /// `x.reshaped([N, T, 3, heads, W]).permuted([2, 0, 3, 1, 4])`'s three slices, with the result's
    /// heads merged back (`permuted([0, 2, 1, 3]).reshaped([N, T, C])`), but without those copies:
    /// the fused kernels read each head where the projection left it and write the output, and
    /// the backward pass the packed gradient, where the next product wants them. `scale` is
    /// `1/√W` unless given. Gradients flow to `packedQueryKeyValue`; second derivatives work.
    ///
    /// ```swift
    /// let qkv = x.matmul(wAttn) + bAttn                                   // [N, T, 3C]
    /// let y = Tensor.scaledDotProductAttention(packedQueryKeyValue: qkv, heads: 4, causal: true)   // [N, T, C]
    /// ```
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func scaledDotProductAttention(
        packedQueryKeyValue qkv: Tensor, heads: Int, causal: Bool = false, scale: Double? = nil
    ) -> Tensor {
        let op = "scaledDotProductAttention(packedQueryKeyValue:)"
        guard heads > 0 else { tensorFailure("\(op): heads is \(heads); it must be at least 1") }
        guard qkv.rank == 3, qkv.shape[2] > 0, qkv.shape[2] % (3 * heads) == 0 else {
            tensorFailure(
                "\(op): packed input \(qkv.shape) must be [batch, time, 3·heads·width] with \(heads) heads and width ≥ 1"
            )
        }
        let (entries, length, channels) = (qkv.shape[0], qkv.shape[1], qkv.shape[2] / 3)
        let width = channels / heads
        let factor = scale ?? 1 / Double(width).squareRoot()
        guard factor.isFinite else { tensorFailure("\(op): scale \(factor) is not finite") }
        let geometry = AttentionGeometry.packedSelfAttention(
            entries: entries, heads: heads, length: length, width: width, scale: factor, causal: causal)
        let out = qkv.newBuffer(entries * length * channels)
        let logSumExp = qkv.newBuffer(entries * heads * length)
        let recording = ThreadState.current.gradEnabled && qkv.requiresGrad
        let probabilities =
            recording && length <= attentionProbabilitiesKeptUpToKeys
            ? qkv.newBuffer(entries * heads * length * length) : nil
        let x = qkv.storage
        qkv.backend.attention(
            x, x, x, mask: nil, geometry, into: out, logSumExp: logSumExp, probabilities: probabilities)
        return Tensor(shape: [entries, length, channels], storage: out).recorded(.scaledDotProductAttention, [qkv]) {
            .nary { g, _ in
                if ThreadState.current.gradEnabled {
                    // Second derivatives: the split heads and the rule as recorded expressions.
                    let split = qkv.reshaped([entries, length, 3, heads, width]).permuted([2, 0, 3, 1, 4])
                    let (q, k, v) = (
                        split[0..<1].squeezed(axis: 0), split[1..<2].squeezed(axis: 0), split[2..<3].squeezed(axis: 0)
                    )
                    let gradOut = g.reshaped([entries, length, heads, width]).permuted([0, 2, 1, 3])
                    let grads = attentionBackwardRecorded(gradOut, q, k, v, mask: nil, causal: causal, scale: factor)
                    return [Tensor.stack(grads).permuted([1, 3, 0, 2, 4]).reshaped(qkv.shape)]
                }
                qkv.checkSameDevice(g, op)
                let grad = qkv.newBuffer(qkv.count)
                qkv.backend.attentionBackward(
                    g.storage, x, x, x, mask: nil, output: out, logSumExp: logSumExp, probabilities: probabilities,
                    geometry, gradQuery: grad, gradKey: grad, gradValue: grad)
                return [Tensor(shape: qkv.shape, storage: grad)]
            }
        }
    }

    /// The longest key sequence for which ``scaledDotProductAttention(query:key:value:mask:causal:scale:)``
    /// keeps its `[Tq, Tk]` probabilities for the backward pass instead of recomputing them. At
    /// the gpt-words shapes (16 keys) keeping them made forward plus backward about 20 % faster
    /// (BENCHMARKS.md); beyond this many keys the backward pass recomputes them, so the memory a
    /// step keeps grows as `Tq` per head rather than `Tq·Tk`. The limit itself was not tuned.
    public static var attentionProbabilitiesKeptUpToKeys: Int { 64 }

    /// The attention weights `softmax(scale·query·keyᵀ + mask)` along the key axis
    /// (`[…, Tq, Tk]`, causal positions `j > i` hidden when `causal`), composed from recorded
    /// ops: what ``scaledDotProductAttention(query:key:value:mask:causal:scale:)`` multiplies
    /// `value` by, for when the weights themselves are wanted (dropout on them, inspection). A
    /// row that sees no key is all zeros. Arguments as for that op, except that the mask may
    /// require a gradient here (a learned additive bias).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func attentionWeights(
        query: Tensor, key: Tensor, mask: Tensor? = nil, causal: Bool = false, scale: Double? = nil
    ) -> Tensor {
        let sizes = checkAttention(query: query, key: key, value: nil, mask: mask, scale: scale)
        var scores = query.matmul(key, transposeOther: true) * Scalar(sizes.scale)
        if let mask { scores = scores + mask }
        if causal {
            let (tq, tk) = (sizes.queryLength, sizes.keyLength)
            let later = Tensor.ones([tq, tk], on: query.device).triu(diagonal: 1)
            scores = scores.maskedFill(mask: later, value: -Scalar.infinity)
        }
        return scores.softmax(alongAxis: -1)
    }

    /// The rule as tensor expressions on the composed weights (recorded, so differentiable
    /// again): `[∂Q, ∂K, ∂V]`.
    private static func attentionBackwardRecorded(
        _ g: Tensor, _ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor?, causal: Bool, scale: Double
    ) -> [Tensor] {
        let p = attentionWeights(query: q, key: k, mask: mask, causal: causal, scale: scale)
        let dp = g.matmul(v, transposeOther: true)
        let ds = p * (dp - (dp * p).sum(alongAxes: [-1], keepDims: true)) * Scalar(scale)
        return [ds.matmul(k), ds.matmul(q, transposeSelf: true), p.matmul(g, transposeSelf: true)]
    }

    /// The mask as the kernel reads it: `nil`, one `[Tq, Tk]` matrix for every head (`true`) when
    /// the mask does not vary along the leading axes, else one per head (`false`); broadcast and
    /// made contiguous when it is not already in that layout.
    private static func attentionMaskBuffer(_ mask: Tensor?, leading: [Int], tq: Int, tk: Int) -> (Buffer?, Bool) {
        guard let mask else { return (nil, true) }
        let full = leading + [tq, tk]
        let aligned = [Int](repeating: 1, count: full.count - mask.rank) + mask.shape
        if aligned.dropLast(2).allSatisfy({ $0 == 1 }) {
            let matrix = mask.reshaped(Array(aligned.suffix(2)))
            return (
                matrix.shape == [tq, tk] ? matrix.storage : matrix.detached().expanded(to: [tq, tk]).storage, true
            )
        }
        if mask.shape == full { return (mask.storage, false) }
        return (mask.detached().expanded(to: full).storage, false)
    }

    /// Checks the shapes, devices and options of an attention; returns the sizes.
    private static func checkAttention(
        query: Tensor, key: Tensor, value: Tensor?, mask: Tensor?, scale: Double?
    ) -> (leading: [Int], queryLength: Int, keyLength: Int, headDim: Int, valueDim: Int, scale: Double) {
        let op = "scaledDotProductAttention"
        let shapes =
            "query \(query.shape), key \(key.shape)" + (value.map { ", value \($0.shape)" } ?? "")
        guard query.rank >= 2, key.rank == query.rank, value.map({ $0.rank == query.rank }) ?? true else {
            tensorFailure("\(op): \(shapes): expected tensors of one rank ≥ 2 ([…, T, D])")
        }
        let leading = Array(query.shape.dropLast(2))
        guard Array(key.shape.dropLast(2)) == leading, value.map({ Array($0.shape.dropLast(2)) == leading }) ?? true
        else {
            tensorFailure("\(op): \(shapes): the leading (batch and head) axes differ")
        }
        let (tq, d) = (query.shape[query.rank - 2], query.shape[query.rank - 1])
        let tk = key.shape[key.rank - 2]
        guard key.shape.last == d, d > 0 else {
            tensorFailure("\(op): \(shapes): query and key rows must have the same nonzero width")
        }
        if let value, value.shape[value.rank - 2] != tk {
            tensorFailure("\(op): \(shapes): key and value must have the same number of rows")
        }
        query.checkSameDevice(key, op)
        if let value { query.checkSameDevice(value, op) }
        if let mask {
            let full = leading + [tq, tk]
            let broadcasts =
                mask.rank <= full.count
                && zip(mask.shape.reversed(), full.reversed()).allSatisfy { $0 == 1 || $0 == $1 }
            guard broadcasts else {
                tensorFailure("\(op): mask of shape \(mask.shape) does not broadcast to the scores' shape \(full)")
            }
            query.checkSameDevice(mask, op)
        }
        let factor = scale ?? 1 / Double(d).squareRoot()
        guard factor.isFinite else { tensorFailure("\(op): scale \(factor) is not finite") }
        return (leading, tq, tk, d, value?.shape.last ?? d, factor)
    }
}
