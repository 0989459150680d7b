// The building blocks of sequence models: embedding lookup, masks (tril, triu, maskedFill),
// splitting along an axis, and cross-entropy over `[batch, time, classes]` with an ignore index
// and label smoothing. Each is composed from existing kernels (indexSelect/indexAdd, select,
// slices, logSumExp and the fused softmax cross-entropy), so none needs a kernel of its own.

extension Tensor {
    // MARK: Embedding

    /// Rows of `weight` looked up by integer index (PyTorch `F.embedding`): with `weight` of shape
    /// `[numEmbeddings, D]` and `indices` holding the elements of an index tensor of shape
    /// `indexShape` in row-major order, the result has shape `indexShape + [D]` and
    ///
    ///     out[i₁, …, iₖ, :] = weight[indices[i₁, …, iₖ], :]
    ///
    /// ∂L/∂weight[r, :] = Σ over the positions p with indices[p] = r of g[p, :] (a scatter-add,
    /// `indexAdd`), except the row `paddingIndex`, which receives no gradient (its value is still
    /// looked up, as in PyTorch).
    ///
    /// ```swift
    /// let vectors = Tensor.embedding(indices: tokens, indexShape: [batch, time], weight: table)   // [B, T, D]
    /// ```
    ///
    /// A convenience for ``embedding(indices:weight:paddingIndex:)`` with indices from the host.
    public static func embedding(
        indices: [Int], indexShape: [Int], weight: Tensor, paddingIndex: Int? = nil
    ) -> Tensor {
        guard indexShape.allSatisfy({ $0 >= 0 }), ShapeMath.count(indexShape) == indices.count else {
            tensorFailure("embedding: index shape \(indexShape) does not hold the \(indices.count) indices given")
        }
        return embedding(
            indices: IndexTensor(indices, shape: indexShape, on: weight.device), weight: weight,
            paddingIndex: paddingIndex)
    }

    /// Rows of `weight` (`[numEmbeddings, D]`) looked up by the integer tensor `indices`: the
    /// result has shape `indices.shape + [D]`, with the formula and gradient of
    /// ``embedding(indices:indexShape:weight:paddingIndex:)``. The kernel checks the indices as it
    /// reads them and the padding mask is computed on the device, so the indices never pass
    /// through the host.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func embedding(indices: IndexTensor, weight: Tensor, paddingIndex: Int? = nil) -> Tensor {
        guard weight.rank == 2 else {
            tensorFailure("embedding: weight must be [numEmbeddings, embeddingDim], got shape \(weight.shape)")
        }
        let (rows, width) = (weight.shape[0], weight.shape[1])
        if let paddingIndex, paddingIndex < 0 || paddingIndex >= rows {
            tensorFailure("embedding: paddingIndex \(paddingIndex) is out of range for \(rows) embeddings")
        }
        let looked = weight.selectedSlices(0, indices) { position in
            tensorFailure(
                "embedding: index \(indices.element(at: position)) at position \(position) is out of range for \(rows) embeddings (weight \(weight.shape))"
            )
        }
        var result = looked
        if let paddingIndex, looked.requiresGrad {
            // The padding positions read the same values through a detached copy, so their
            // upstream gradient stops here instead of reaching the padding row. (Compared as
            // Doubles: exact for any index a table can have.)
            let isPadding = Tensor<Double>(converting: indices.reshaped([indices.count, 1])) .== Double(paddingIndex)
            result = Tensor.where(Tensor(converting: isPadding), looked.detached(), looked)
        }
        return result.reshaped(indices.shape + [width])
    }

    // MARK: Masks

    /// `self` with `value` wherever `mask` is nonzero (PyTorch `masked_fill`). `mask` broadcasts
    /// to `self`'s shape and is not differentiated:
    ///
    ///     out = mask ? value : x,   ∂L/∂x = mask ? 0 : g
    ///
    /// The gradient at a filled position is exactly 0, even when the upstream gradient there is
    /// not finite (a fully masked softmax row), so nothing leaks into the other positions.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func maskedFill(mask: Tensor, value: Scalar) -> Tensor {
        let broadcasts =
            mask.rank <= rank && zip(mask.shape.reversed(), shape.reversed()).allSatisfy { $0 == 1 || $0 == $1 }
        guard broadcasts else {
            tensorFailure("maskedFill: mask of shape \(mask.shape) does not broadcast to the tensor's shape \(shape)")
        }
        checkSameDevice(mask, "maskedFill")
        let fill = Tensor(value, on: device)
        let out = newBuffer(count)
        backend.select(mask.storage, mask.shape, fill.storage, [], storage, shape, into: out, shape: shape)
        let constantMask = mask.detached()
        return Tensor(shape: shape, storage: out).recorded(.select, self) {
            .unary { g, _ in Tensor.where(constantMask, Tensor(0, on: g.device), g) }
        }
    }

    /// The lower triangle of the last two axes (PyTorch `tril`): element `[…, i, j]` is kept
    /// where `j − i ≤ diagonal` and is 0 elsewhere. `diagonal = 0` keeps the main diagonal, `−1`
    /// drops it, `1` keeps one more. ∂L/∂x = g on the kept elements, 0 elsewhere.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func tril(diagonal: Int = 0) -> Tensor {
        maskedFill(mask: triangleMask("tril") { i, j in j - i > diagonal }, value: 0)
    }

    /// The upper triangle of the last two axes (PyTorch `triu`): element `[…, i, j]` is kept
    /// where `j − i ≥ diagonal` and is 0 elsewhere. ∂L/∂x = g on the kept elements, 0 elsewhere.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func triu(diagonal: Int = 0) -> Tensor {
        maskedFill(mask: triangleMask("triu") { i, j in j - i < diagonal }, value: 0)
    }

    /// A `[rows, columns]` mask of the last two axes, 1 where `removed(i, j)`.
    private func triangleMask(_ op: String, _ removed: (Int, Int) -> Bool) -> Tensor {
        guard rank >= 2 else {
            tensorFailure("\(op): needs rank ≥ 2 (a matrix in the last two axes), got shape \(shape)")
        }
        let (rows, columns) = (shape[rank - 2], shape[rank - 1])
        var mask = [Scalar](repeating: 0, count: rows * columns)
        for i in 0..<rows {
            for j in 0..<columns where removed(i, j) { mask[i * columns + j] = 1 }
        }
        return Tensor(shape: [rows, columns], scalars: mask, on: device)
    }

    /// A `[size, size]` additive causal mask: 0 where `j ≤ i` (a position may attend to itself and
    /// earlier ones) and `−∞` above the diagonal. Add it to attention scores before the softmax.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func causalMask(size: Int, on device: Device = .cpu) -> Tensor {
        guard size >= 0 else { tensorFailure("causalMask: size \(size) is negative") }
        return Tensor.zeros([size, size], on: device).maskedFill(
            mask: Tensor.ones([size, size], on: device).triu(diagonal: 1), value: -Scalar.infinity)
    }

    // MARK: Splitting

    /// Consecutive pieces along `axis` of the given sizes, which must add up to the axis's length
    /// (PyTorch `split` with a list). Each piece is a slice: ∂L/∂x is the pieces' gradients placed
    /// back side by side (zeros for pieces that do not reach the loss).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func split(sizes: [Int], alongAxis axis: Int = 0) -> [Tensor] {
        let a = ShapeMath.axis(axis, rank: rank, op: "split")
        guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) == shape[a] else {
            tensorFailure(
                "split: sizes \(sizes) do not add up to \(shape[a]), the length of axis \(axis) of shape \(shape)")
        }
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return slice(alongAxis: a, start..<(start + size))
        }
    }

    /// `chunks` pieces along `axis` of `⌈length / chunks⌉` elements each, the last smaller when
    /// the length does not divide (PyTorch `chunk`; like it, fewer pieces come back when the
    /// length is too short for `chunks` nonempty ones). Differentiable as ``split(sizes:alongAxis:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func chunk(_ chunks: Int, alongAxis axis: Int = 0) -> [Tensor] {
        let a = ShapeMath.axis(axis, rank: rank, op: "chunk")
        guard chunks > 0 else { tensorFailure("chunk: the number of chunks must be positive, got \(chunks)") }
        let length = shape[a]
        let size = (length + chunks - 1) / chunks
        guard size > 0 else { return [self] }
        let sizes = stride(from: 0, to: length, by: size).map { Swift.min(size, length - $0) }
        return split(sizes: sizes, alongAxis: a)
    }

    // MARK: Cross-entropy over sequences

    /// Softmax cross-entropy over logits of any shape `[…, classes]` (`[batch, time, classes]` for
    /// a sequence model) with one integer label per position, in the row-major order of the
    /// leading axes, as PyTorch's `F.cross_entropy(logits.view(-1, C), labels.view(-1),
    /// ignore_index:, label_smoothing:)`:
    ///
    ///     K = { positions p with labels[p] ≠ ignoreIndex }
    ///     ℓ_p = −(1 − ε)·log softmax(z_p)[labels[p]] − ε·(1/C) Σ_c log softmax(z_p)[c]
    ///     L = (1/|K|) Σ_{p ∈ K} ℓ_p
    ///
    /// Ignored positions add neither to the sum nor to the count and get a zero gradient; when
    /// every position is ignored the loss is NaN, as PyTorch's. ∂L/∂z_p = ((1 − ε)·(softmax(z_p) −
    /// onehot(labels[p])) + ε·(softmax(z_p) − 1/C))/|K| for p ∈ K. With ε = 0 this is the fused
    /// ``softmaxCrossEntropy(logits:labels:)-(_,[Int])`` on the kept rows.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func softmaxCrossEntropy(
        logits z: Tensor, labels: [Int], ignoreIndex: Int? = nil, labelSmoothing ε: Double = 0
    ) -> Tensor {
        guard z.rank >= 1, let classes = z.shape.last, classes > 0, z.count / classes == labels.count else {
            tensorFailure(
                "softmaxCrossEntropy: expected logits [..., classes] with \(labels.count) positions for the \(labels.count) labels, got shape \(z.shape)"
            )
        }
        guard ε >= 0, ε <= 1 else {
            tensorFailure("softmaxCrossEntropy: labelSmoothing \(ε) is outside [0, 1]")
        }
        var kept: [Int] = []
        var keptLabels: [Int] = []
        kept.reserveCapacity(labels.count)
        keptLabels.reserveCapacity(labels.count)
        for (position, label) in labels.enumerated() where label != ignoreIndex {
            guard label >= 0, label < classes else {
                tensorFailure(
                    "softmaxCrossEntropy: label \(label) at position \(position) is out of range for \(classes) classes"
                        + (ignoreIndex.map { " (ignoreIndex \($0))" } ?? ""))
            }
            kept.append(position)
            keptLabels.append(label)
        }
        let rows = z.reshaped([labels.count, classes])
        guard !kept.isEmpty else { return rows.sum() * Scalar.nan }
        let keptRows = kept.count == labels.count ? rows : rows.indexSelect(alongAxis: 0, indices: kept)
        let crossEntropy = Tensor.softmaxCrossEntropy(logits: keptRows, labels: keptLabels)
        guard ε > 0 else { return crossEntropy }
        let uniform = -keptRows.logSoftmax(alongAxis: 1).mean()
        return crossEntropy * Scalar(1 - ε) + uniform * Scalar(ε)
    }

    /// ``softmaxCrossEntropy(logits:labels:ignoreIndex:labelSmoothing:)-(_,[Int],_,_)`` with the
    /// labels in an integer tensor on the logits' device (any shape; one label per position).
    /// The labels never pass through the host. Without an `ignoreIndex` the fused kernel checks
    /// them and writes the loss. With one, the loss is composed on the device: the kept positions
    /// as a mask `k_p = [labels[p] ≠ ignoreIndex]`, the ignored labels replaced by 0, and
    /// `L = Σ_p k_p·ℓ_p / Σ_p k_p` with `ℓ_p` from `logSoftmax` and a gather (so the kept count is
    /// a tensor too, and every position ignored gives 0/0 = NaN, as PyTorch's).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func softmaxCrossEntropy(
        logits z: Tensor, labels: IndexTensor, ignoreIndex: Int? = nil, labelSmoothing ε: Double = 0
    ) -> Tensor {
        let n = labels.count
        guard z.rank >= 1, let classes = z.shape.last, classes > 0, z.count / classes == n else {
            tensorFailure(
                "softmaxCrossEntropy: expected logits [..., classes] with \(n) positions for the \(n) labels, got shape \(z.shape)"
            )
        }
        guard ε >= 0, ε <= 1 else {
            tensorFailure("softmaxCrossEntropy: labelSmoothing \(ε) is outside [0, 1]")
        }
        let rows = z.reshaped([n, classes])
        func outOfRange(_ position: Int) -> Never {
            tensorFailure(
                "softmaxCrossEntropy: label \(labels.element(at: position)) at position \(position) is out of range for \(classes) classes"
                    + (ignoreIndex.map { " (ignoreIndex \($0))" } ?? ""))
        }
        if let ignoreIndex {
            // Integers compared and zeroed as Doubles: exact for any label a model can have.
            let asDoubles = Tensor<Double>(converting: labels.reshaped([n, 1]))
            let kept = 1 - (asDoubles .== Double(ignoreIndex))
            let keptLabels = IndexTensor(converting: asDoubles * kept)
            let keep = Tensor(converting: kept)
            let logProbabilities = rows.logSoftmax(alongAxis: 1)
            var perPosition = -logProbabilities.gathered(1, keptLabels, outOfRange: outOfRange)
            if ε > 0 {
                let uniform = -logProbabilities.mean(alongAxes: [1], keepDims: true)
                perPosition = perPosition * Scalar(1 - ε) + uniform * Scalar(ε)
            }
            // `where`, not a product: an ignored row's term may be infinite.
            return Tensor.where(keep, perPosition, Tensor(0, on: z.device)).sum() / keep.sum()
        }
        let crossEntropy = fusedSoftmaxCrossEntropy(rows, labels.reshaped([n]), outOfRange: outOfRange)
        guard ε > 0 else { return crossEntropy }
        let uniform = -rows.logSoftmax(alongAxis: 1).mean()
        return crossEntropy * Scalar(1 - ε) + uniform * Scalar(ε)
    }
}
