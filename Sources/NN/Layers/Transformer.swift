import AutoDiff

// The layers of a decoder-only transformer, named as nanoGPT names them (model.py:
// CausalSelfAttention's c_attn and c_proj, MLP's c_fc and c_proj, Block's ln_1, attn, ln_2,
// mlp), so `pytorchStateDict()` and `loadPyTorchStateDict(from:)` speak nanoGPT's keys.

/// Multi-head self-attention as nanoGPT's `CausalSelfAttention`: one fused projection to
/// queries, keys and values (`c_attn`, `Linear(d, 3d)`), split into `heads` heads of width
/// `d/heads`, scaled dot-product attention per head, the heads joined and projected (`c_proj`,
/// `Linear(d, d)`), for `x` `[B, T, d]`:
///
///     q, k, v = split(x·W_attn + b_attn)          each [B, heads, T, d/heads]
///     y = softmax(q·kᵀ/√(d/heads) + causal mask)·v
///     out = join(y)·W_proj + b_proj               [B, T, d]
///
/// Attention runs as AutoDiff's fused `scaledDotProductAttention(packedQueryKeyValue:heads:causal:scale:)`,
/// which reads the heads from the projection's output and writes them joined, so neither the
/// split nor the join is a copy. With `dropout` > 0, in
/// training mode, dropout is applied to the attention weights (composed: the weights are formed
/// by `Tensor.attentionWeights`, dropped, then multiplied by `v`, since the fused op has no
/// dropout) and to the output (`resid_dropout`), each from its own seeded generator.
public final class MultiHeadAttention<Scalar: TensorScalar>: Layer {
    /// The query, key and value projection, `[d] → [3d]`, named `c_attn`.
    public let queryKeyValue: any Layer<Scalar>
    /// The output projection, `[d] → [d]`, named `c_proj`.
    public let outputProjection: any Layer<Scalar>
    /// Dropout on the attention weights (nanoGPT's `attn_dropout`).
    public let attentionDropout: Dropout<Scalar>
    /// Dropout on the output (nanoGPT's `resid_dropout`).
    public let outputDropout: Dropout<Scalar>
    /// The width `d` of the input and output.
    public let embedDim: Int
    /// The number of heads; each has width `d/heads`.
    public let heads: Int
    /// Whether position `t` attends only to positions `≤ t`.
    public let causal: Bool

    /// A layer of `heads` heads over width `embedDim` (a multiple of `heads`), causal by
    /// default, with dropout probability `dropout` on the attention weights and the output, and
    /// biases in both projections unless `bias` is false. Weights and biases are drawn as
    /// PyTorch's `nn.Linear` draws them (`U(±1/√fanIn)`); the dropout generators are seeded from
    /// `generator`.
    public init(
        embedDim: Int, heads: Int, causal: Bool = true, dropout: Scalar = 0, bias: Bool = true,
        generator: inout RandomGenerator
    ) {
        guard embedDim > 0, heads > 0, embedDim % heads == 0 else {
            tensorFailure("MultiHeadAttention: embedDim \(embedDim) must be a positive multiple of heads \(heads)")
        }
        guard dropout >= 0 && dropout < 1 else {
            tensorFailure("MultiHeadAttention: dropout \(dropout) is outside [0, 1)")
        }
        queryKeyValue = pytorchLinear(embedDim, 3 * embedDim, bias: bias, generator: &generator)
        outputProjection = pytorchLinear(embedDim, embedDim, bias: bias, generator: &generator)
        attentionDropout = Dropout(rate: dropout, seed: generator.next())
        outputDropout = Dropout(rate: dropout, seed: generator.next())
        self.embedDim = embedDim
        self.heads = heads
        self.causal = causal
    }

    /// `[B, T, d] → [B, T, d]`.
    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        guard input.rank == 3, input.shape[2] == embedDim else {
            tensorFailure("MultiHeadAttention: input \(input.shape) must be [batch, time, \(embedDim)]")
        }
        let (batch, time, width) = (input.shape[0], input.shape[1], embedDim / heads)
        let packed = rowwise(queryKeyValue, input)  // [B, T, 3d]
        let joined: Tensor<Scalar>
        if attentionDropout.isTraining && attentionDropout.rate > 0 {
            // Dropout on the weights needs them as a tensor: the heads split (one copy to
            // [3, B, heads, T, width], then q, k and v are its slices) and merged again.
            let qkv = packed.reshaped([batch, time, 3, heads, width]).permuted([2, 0, 3, 1, 4])
            let (q, k, v) = (qkv[0..<1].squeezed(axis: 0), qkv[1..<2].squeezed(axis: 0), qkv[2..<3].squeezed(axis: 0))
            let weights = Tensor.attentionWeights(query: q, key: k, causal: causal)
            let y = attentionDropout.forward(weights).matmul(v)
            joined = y.permuted([0, 2, 1, 3]).reshaped([batch, time, embedDim])
        } else {
            // The fused op reads the heads where the projection left them and writes them merged.
            joined = Tensor.scaledDotProductAttention(packedQueryKeyValue: packed, heads: heads, causal: causal)
        }
        return outputDropout.forward(rowwise(outputProjection, joined))
    }

    public var children: [(name: String, layer: any Layer<Scalar>)] {
        [
            ("c_attn", queryKeyValue), ("c_proj", outputProjection), ("attn_dropout", attentionDropout),
            ("resid_dropout", outputDropout),
        ]
    }
}

/// Learned absolute positions (nanoGPT's `wpe`): a table of `contextLength` vectors of width
/// `embedDim`, named `weight`, added to `[B, T, d]` inputs by position,
///
///     out[b, t, :] = x[b, t, :] + weight[t, :]     (T ≤ contextLength)
///
/// so its gradient is the upstream gradient summed over the batch, for the first `T` rows.
public final class PositionalEmbedding<Scalar: TensorScalar>: Layer {
    /// The table, `[contextLength, embedDim]`, named `weight`.
    public let weight: Parameter<Scalar>

    /// A table drawn by `initializer` (`N(0, 1)` by default, as PyTorch's `nn.Embedding`).
    public init(
        contextLength: Int, embedDim: Int, initializer: Initializer = .scaledNormal(1),
        generator: inout RandomGenerator
    ) {
        guard contextLength > 0, embedDim > 0 else {
            tensorFailure(
                "PositionalEmbedding: sizes must be positive, got context \(contextLength) and width \(embedDim)")
        }
        weight = Parameter(initializer.make([contextLength, embedDim], generator: &generator), role: .weight)
    }

    /// The longest sequence the table covers.
    public var contextLength: Int { weight.shape[0] }
    /// The width of each position's vector.
    public var embedDim: Int { weight.shape[1] }

    /// `x` (`[…, T, d]`) plus the first `T` positions' vectors.
    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        guard input.rank >= 2, input.shape.last == embedDim, input.shape[input.rank - 2] <= contextLength else {
            tensorFailure(
                "PositionalEmbedding: input \(input.shape) must be [..., T, \(embedDim)] with T ≤ the context length \(contextLength)"
            )
        }
        let time = input.shape[input.rank - 2]
        let positions = time == contextLength ? weight.value : weight.value[0..<time]
        return input + positions
    }

    public var ownParameters: [(name: String, parameter: Parameter<Scalar>)] { [("weight", weight)] }
}

/// A transformer's position-wise MLP, as nanoGPT's `MLP`: `Linear(d, 4d)` (`c_fc`), exact GELU,
/// `Linear(4d, d)` (`c_proj`), dropout, on the last axis of any input `[…, d]`.
public final class FeedForward<Scalar: TensorScalar>: Layer {
    /// The expansion, `[d] → [4d]`, named `c_fc`.
    public let expand: any Layer<Scalar>
    /// The projection back, `[4d] → [d]`, named `c_proj`.
    public let project: any Layer<Scalar>
    /// Dropout on the output.
    public let dropout: Dropout<Scalar>

    /// An MLP of width `embedDim` with a hidden width of `4·embedDim`, biases unless `bias` is
    /// false, drawn as PyTorch's `nn.Linear` draws them; the dropout generator seeded from
    /// `generator`.
    public init(embedDim: Int, dropout: Scalar = 0, bias: Bool = true, generator: inout RandomGenerator) {
        guard embedDim > 0 else { tensorFailure("FeedForward: embedDim \(embedDim) must be positive") }
        expand = pytorchLinear(embedDim, 4 * embedDim, bias: bias, generator: &generator)
        project = pytorchLinear(4 * embedDim, embedDim, bias: bias, generator: &generator)
        self.dropout = Dropout(rate: dropout, seed: generator.next())
    }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        dropout.forward(rowwise(project, rowwise(expand, input).gelu()))
    }

    public var children: [(name: String, layer: any Layer<Scalar>)] {
        [("c_fc", expand), ("c_proj", project), ("dropout", dropout)]
    }
}

/// A pre-LayerNorm transformer block, as nanoGPT's `Block`, for `x` `[B, T, d]`:
///
///     x = x + attn(ln_1(x))
///     x = x + mlp(ln_2(x))
///
/// with ``MultiHeadAttention`` (`attn`) and ``FeedForward`` (`mlp`), and LayerNorms `ln_1`,
/// `ln_2` over the last axis (with weight and bias).
public final class TransformerBlock<Scalar: TensorScalar>: Layer {
    /// The LayerNorm before attention, named `ln_1`.
    public let attentionNorm: LayerNorm<Scalar>
    /// The self-attention, named `attn`.
    public let attention: MultiHeadAttention<Scalar>
    /// The LayerNorm before the MLP, named `ln_2`.
    public let feedForwardNorm: LayerNorm<Scalar>
    /// The MLP, named `mlp`.
    public let feedForward: FeedForward<Scalar>

    /// A block of width `embedDim` with `heads` heads (causal by default), dropout `dropout` on
    /// the attention weights and both residual branches, and biases in the projections unless
    /// `bias` is false.
    public init(
        embedDim: Int, heads: Int, causal: Bool = true, dropout: Scalar = 0, bias: Bool = true,
        generator: inout RandomGenerator
    ) {
        attentionNorm = LayerNorm([embedDim])
        attention = MultiHeadAttention(
            embedDim: embedDim, heads: heads, causal: causal, dropout: dropout, bias: bias, generator: &generator)
        feedForwardNorm = LayerNorm([embedDim])
        feedForward = FeedForward(embedDim: embedDim, dropout: dropout, bias: bias, generator: &generator)
    }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let x = input + attention.forward(attentionNorm.forward(input))
        return x + feedForward.forward(feedForwardNorm.forward(x))
    }

    public var children: [(name: String, layer: any Layer<Scalar>)] {
        [("ln_1", attentionNorm), ("attn", attention), ("ln_2", feedForwardNorm), ("mlp", feedForward)]
    }
}

/// A linear layer without a bias, `y = x·W` (PyTorch's `nn.Linear(bias=False)`), `W` `[in, out]`
/// named `weight` (transposed in PyTorch's state_dict, as ``Linear``'s).
final class UnbiasedLinear<Scalar: TensorScalar>: Layer, PyTorchNaming {
    let weight: Parameter<Scalar>

    init(weight: Tensor<Scalar>) { self.weight = Parameter(weight, role: .weight) }

    func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        guard input.shape.last == weight.shape[0] else {
            tensorFailure(
                "Linear (no bias): input of shape \(input.shape) does not end in the layer's input size \(weight.shape[0])"
            )
        }
        return input.matmul(weight.value)
    }

    var ownParameters: [(name: String, parameter: Parameter<Scalar>)] { [("weight", weight)] }

    func pytorchLayout(of name: String) -> PyTorchLayout { .transposed }
}

/// `Linear(input, output)` drawn as PyTorch's `nn.Linear` (weight and bias `U(±1/√input)`), or
/// without a bias.
private func pytorchLinear<Scalar: TensorScalar>(
    _ input: Int, _ output: Int, bias: Bool, generator: inout RandomGenerator
) -> any Layer<Scalar> {
    let bound = Initializer.uniform(bound: 1 / Double(input).squareRoot())
    guard bias else { return UnbiasedLinear(weight: bound.make([input, output], generator: &generator)) }
    return Linear(input, output, weightInitializer: bound, biasInitializer: bound, generator: &generator)
}

/// `layer` applied to the rows of `x` (`[…, in]` → `[…, out]`): the leading axes folded into
/// one, so a ``Linear`` runs as one fused `x·W + b`.
private func rowwise<Scalar>(_ layer: any Layer<Scalar>, _ x: Tensor<Scalar>) -> Tensor<Scalar> {
    let y = layer.forward(x.reshaped([-1, x.shape.last!]))
    return y.reshaped(Array(x.shape.dropLast()) + [y.shape.last!])
}
