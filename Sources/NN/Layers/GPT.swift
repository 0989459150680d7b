import AutoDiff

/// A decoder-only character-level transformer, as `torch_models.py gpt-words`'s `GPT` (and
/// nanoGPT's, with its parameter names): for tokens `x` `[B, T]` (`T ≤ contextLength`),
///
///     h = wte[x] + wpe[0..<T]                          [B, T, d]
///     h = block_i(h)   for i in 0..<blocks             pre-LayerNorm, causal
///     logits = ln_f(h)·W_head + b_head                 [B, T, vocabularySize]
///
/// The output head is a ``Linear`` of its own (not tied to the token table), with a bias, as the
/// peer's `nn.Linear(width, vocab)`. Every table and linear layer is drawn as PyTorch draws it
/// (`N(0, 1)` for the embeddings, `U(±1/√fanIn)` for the linear layers); LayerNorms start at
/// weight 1, bias 0.
///
/// ```swift
/// let model = GPT<Float>(vocabularySize: 30, contextLength: 16, generator: &generator)
/// let logits = model(tokens)      // tokens: IndexTensor [64, 16] → [64, 16, 30]
/// ```
public final class GPT<Scalar: TensorScalar>: Layer {
    /// The token table `[vocabularySize, d]`, named `transformer.wte`.
    public let tokenEmbedding: Embedding<Scalar>
    /// The position table `[contextLength, d]`, named `transformer.wpe`.
    public let positionalEmbedding: PositionalEmbedding<Scalar>
    /// The blocks, named `transformer.h.0`, `transformer.h.1`, ….
    public let blocks: [TransformerBlock<Scalar>]
    /// The LayerNorm after the last block, named `transformer.ln_f`.
    public let finalNorm: LayerNorm<Scalar>
    /// The output head `[d] → [vocabularySize]`, named `lm_head`.
    public let head: Linear<Scalar>
    /// The number of heads of each block's attention.
    public let heads: Int

    /// A model over `vocabularySize` tokens with positions up to `contextLength`, `blocks`
    /// blocks of width `embedDim` with `heads` heads each, drawn from `generator`.
    public init(
        vocabularySize: Int, contextLength: Int, embedDim: Int = 64, heads: Int = 4, blocks: Int = 2,
        generator: inout RandomGenerator
    ) {
        guard vocabularySize > 0, contextLength > 0, blocks > 0 else {
            tensorFailure(
                "GPT: vocabulary \(vocabularySize), context \(contextLength) and blocks \(blocks) must be positive")
        }
        tokenEmbedding = Embedding(vocabularySize, embedDim, generator: &generator)
        positionalEmbedding = PositionalEmbedding(
            contextLength: contextLength, embedDim: embedDim, generator: &generator)
        self.blocks = (0..<blocks).map { _ in
            TransformerBlock(embedDim: embedDim, heads: heads, generator: &generator)
        }
        finalNorm = LayerNorm([embedDim])
        let bound = Initializer.uniform(bound: 1 / Double(embedDim).squareRoot())
        head = Linear(
            embedDim, vocabularySize, weightInitializer: bound, biasInitializer: bound, generator: &generator)
        self.heads = heads
    }

    /// The number of tokens.
    public var vocabularySize: Int { tokenEmbedding.numEmbeddings }
    /// The longest sequence the model takes.
    public var contextLength: Int { positionalEmbedding.contextLength }
    /// The width of the residual stream.
    public var embedDim: Int { tokenEmbedding.embeddingDim }

    /// The logits `[B, T, vocabularySize]` of the next token at every position of `tokens`
    /// (`[B, T]`, `T ≤ contextLength`).
    public func callAsFunction(_ tokens: IndexTensor) -> Tensor<Scalar> {
        guard tokens.rank == 2, tokens.shape[1] >= 1, tokens.shape[1] <= contextLength else {
            tensorFailure("GPT: tokens \(tokens.shape) must be [batch, time] with 1 ≤ time ≤ \(contextLength)")
        }
        var x = positionalEmbedding.forward(tokenEmbedding(tokens))
        for block in blocks { x = block.forward(x) }
        let normalized = finalNorm.forward(x)
        let (batch, time) = (tokens.shape[0], tokens.shape[1])
        return head.forward(normalized.reshaped([batch * time, embedDim])).reshaped([batch, time, vocabularySize])
    }

    /// ``callAsFunction(_:)-(IndexTensor)`` for tokens held as whole numbers in a float tensor.
    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        self(IndexTensor(labels: input, op: "GPT"))
    }

    /// The mean cross-entropy (nats per token) of the next-token logits of `inputs` (`[B, T]`)
    /// against `targets` (`[B, T]`): `−(1/BT) Σ_{b,t} log softmax(logits[b, t])[targets[b, t]]`.
    public func loss(_ inputs: IndexTensor, _ targets: IndexTensor) -> Tensor<Scalar> {
        Tensor.softmaxCrossEntropy(
            logits: self(inputs).reshaped([targets.count, vocabularySize]), labels: targets.reshaped([targets.count]))
    }

    /// The mean of ``loss(_:_:)`` over `batches`, in evaluation mode and without a tape (the
    /// peer's held-out loss: the mean of the batches' means).
    public func meanLoss(over batches: [(inputs: IndexTensor, targets: IndexTensor)]) -> Double {
        eval()
        return withoutGrad {
            batches.reduce(0.0) { $0 + Double(loss($1.inputs, $1.targets).item) } / Double(max(batches.count, 1))
        }
    }

    /// Continues `prompt` (token indices, at least one) by up to `maxNewTokens` tokens, each
    /// drawn by ``sampleToken(logits:temperature:topK:generator:)`` from the last position's
    /// logits given the last `contextLength` tokens, stopping after `stop` when given; returns
    /// the new tokens (including `stop`). Runs without a tape, in evaluation mode.
    public func generate(
        prompt: [Int], maxNewTokens: Int, temperature: Double = 1, topK: Int? = nil, stop: Int? = nil,
        generator: inout RandomGenerator
    ) -> [Int] {
        guard !prompt.isEmpty else { tensorFailure("GPT.generate: the prompt is empty") }
        eval()
        var tokens = prompt
        var produced: [Int] = []
        withoutGrad {
            while produced.count < maxNewTokens {
                let window = Array(tokens.suffix(contextLength))
                let logits = self(IndexTensor(window, shape: [1, window.count]))
                let last = Array(logits.scalars.suffix(vocabularySize))
                let next = sampleToken(logits: last, temperature: temperature, topK: topK, generator: &generator)
                tokens.append(next)
                produced.append(next)
                if next == stop { break }
            }
        }
        return produced
    }

    public var children: [(name: String, layer: any Layer<Scalar>)] {
        [("transformer.wte", tokenEmbedding), ("transformer.wpe", positionalEmbedding)]
            + blocks.enumerated().map { ("transformer.h.\($0)", $1 as any Layer<Scalar>) }
            + [("transformer.ln_f", finalNorm), ("lm_head", head)]
    }
}
