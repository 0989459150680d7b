// Matrix products and their derivative rules. Transposes are flags passed to the backend's
// product, never copies: the rule for C = op(A)·op(B) is itself a product with flags.

extension Tensor {
    /// The matrix product `op(self) · op(other)` with `torch.matmul` semantics, where `op`
    /// transposes the last two axes when its flag is set (folded into the product kernel, no
    /// copy).
    ///
    /// - 2-D × 2-D: `[m, k] × [k, n] → [m, n]`.
    /// - Batches (rank ≥ 3 on either side): the leading axes are batch axes, broadcast against
    ///   each other as NumPy does (`[1, 4, 3] × [2, 3, 5] → [2, 4, 5]`, `[2, 1, 4, 3] × [3, 3, 5]
    ///   → [2, 3, 4, 5]`); a matrix (2-D) is shared by every batch entry. When only the left
    ///   side has batch axes, the batch is folded into its rows: one large product.
    /// - A vector on either side (1-D) is a row (left) or a column (right) and its axis is
    ///   dropped from the result, as in NumPy.
    ///
    /// Rules (for `C = A·B`): ∂A = G·Bᵀ, ∂B = Aᵀ·G; the transposed cases swap operands and flags.
    /// A broadcast batch operand is expanded first, so its gradient is summed back by the engine.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        let a = self
        let b = other
        switch (a.rank, b.rank) {
        case (0, _), (_, 0):
            break
        case (1, 1):
            guard !transposeSelf && !transposeOther else { break }
            return a.reshaped([1, a.count]).matmul(b.reshaped([b.count, 1])).reshaped([])
        case (1, _):
            guard !transposeSelf else { break }
            let r = a.reshaped([1, a.count]).matmul(b, transposeOther: transposeOther)
            return r.squeezed(axis: -2)
        case (_, 1):
            guard !transposeOther else { break }
            let r = a.matmul(b.reshaped([b.count, 1]), transposeSelf: transposeSelf)
            return r.squeezed(axis: -1)
        case (2, 2):
            return Tensor.gemm(a, b, transposeSelf, transposeOther)
        case (3, 3) where a.shape[0] == b.shape[0]:
            return Tensor.gemm(a, b, transposeSelf, transposeOther)
        default:
            return Tensor.batchedMatmul(a, b, transposeSelf, transposeOther)
        }
        tensorFailure(
            "matmul: \(Tensor.describe(a.shape, transposeSelf)) × \(Tensor.describe(b.shape, transposeOther)): expected tensors of rank ≥ 1, and no transpose of a vector"
        )
    }

    /// Operands of rank ≥ 2 with batch axes on at least one side: the batch axes broadcast, then
    /// one batched product (or, with batch axes only on the left, one product with the batch
    /// folded into the rows).
    private static func batchedMatmul(_ a: Tensor, _ b: Tensor, _ ta: Bool, _ tb: Bool) -> Tensor {
        let (aBatch, bBatch) = (Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)))
        let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = ta ? (ac, ar) : (ar, ac)
        let (k2, n) = tb ? (bc, br) : (br, bc)
        let shapes = "\(describe(a.shape, ta)) × \(describe(b.shape, tb))"
        guard k == k2 else { tensorFailure("matmul: \(shapes): inner dimensions \(k) and \(k2) differ") }
        let rank = Swift.max(aBatch.count, bBatch.count)
        var batch = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - aBatch.count ? 1 : aBatch[i - (rank - aBatch.count)]
            let db = i < rank - bBatch.count ? 1 : bBatch[i - (rank - bBatch.count)]
            guard da == db || da == 1 || db == 1 else {
                tensorFailure("matmul: \(shapes): batch dimensions \(aBatch) and \(bBatch) cannot broadcast")
            }
            batch[i] = da == 1 ? db : da
        }
        let count = batch.reduce(1, *)
        if bBatch.allSatisfy({ $0 == 1 }) && aBatch == batch && !ta {
            // Fold the batch into the rows: one large product instead of many small ones.
            let r = gemm(a.reshaped([count * m, k]), b.reshaped([br, bc]), false, tb)
            return r.reshaped(batch + [m, n])
        }
        let a3 = a.expanded(to: batch + [ar, ac]).reshaped([count, ar, ac])
        let b3 = b.expanded(to: batch + [br, bc]).reshaped([count, br, bc])
        return gemm(a3, b3, ta, tb).reshaped(batch + [m, n])
    }

    private static func describe(_ shape: [Int], _ transposed: Bool) -> String {
        transposed ? "\(shape)ᵀ" : "\(shape)"
    }

    /// The primitive: 2-D × 2-D, or 3-D × 3-D with equal batch sizes.
    static func gemm(_ a: Tensor, _ b: Tensor, _ ta: Bool, _ tb: Bool) -> Tensor {
        let batched = a.rank == 3
        let batch = batched ? a.shape[0] : 1
        let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = ta ? (ac, ar) : (ar, ac)
        let (k2, n) = tb ? (bc, br) : (br, bc)
        guard k == k2 else {
            tensorFailure(
                "matmul: \(describe(a.shape, ta)) × \(describe(b.shape, tb)): inner dimensions \(k) and \(k2) differ")
        }
        if batched && b.shape[0] != batch {
            tensorFailure(
                "matmul: \(describe(a.shape, ta)) × \(describe(b.shape, tb)): batch sizes \(batch) and \(b.shape[0]) differ"
            )
        }
        a.checkSameDevice(b, "matmul")
        let outShape = batched ? [batch, m, n] : [m, n]
        let out = a.newBuffer(batch * m * n)
        a.backend.matmul(
            a.storage, b.storage, into: out, batch: batch, m: m, n: n, k: k, transposeA: ta, transposeB: tb)
        return Tensor(shape: outShape, storage: out).recorded(.matmul, a, b) {
            .binary { g, _, wa, wb in
                var ga: Tensor? = nil
                var gb: Tensor? = nil
                if wa {
                    switch (ta, tb) {
                    case (false, false): ga = gemm(g, b, false, true)  // G·Bᵀ
                    case (false, true): ga = gemm(g, b, false, false)  // G·B
                    case (true, false): ga = gemm(b, g, false, true)  // B·Gᵀ
                    case (true, true): ga = gemm(b, g, true, true)  // Bᵀ·Gᵀ
                    }
                }
                if wb {
                    switch (ta, tb) {
                    case (false, false): gb = gemm(a, g, true, false)  // Aᵀ·G
                    case (false, true): gb = gemm(g, a, true, false)  // Gᵀ·A
                    case (true, false): gb = gemm(a, g, false, false)  // A·G
                    case (true, true): gb = gemm(g, a, true, true)  // Gᵀ·Aᵀ
                    }
                }
                return (ga, gb)
            }
        }
    }
}

extension Tensor {
    /// `x·W + b` for a batch of rows `x` `[n, in]`, weights `W` `[in, out]` and bias `b` `[out]`:
    /// a linear layer in one op, so a backend can add the bias as the product is stored (the
    /// CPU's thin products) or prefill it for the product to accumulate onto. Rules: ∂x = G·Wᵀ, ∂W = xᵀ·G, ∂b = Σ over rows of G (summed by the
    /// engine).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor) -> Tensor {
        guard x.rank == 2, weight.rank == 2, bias.shape == [weight.shape.last!] || bias.rank == 0 else {
            tensorFailure(
                "linear: input \(x.shape), weight \(weight.shape) and bias \(bias.shape) do not fit (need [n, in], [in, out], [out])"
            )
        }
        let (n, k, out) = (x.shape[0], x.shape[1], weight.shape[1])
        guard weight.shape[0] == k else {
            tensorFailure("linear: \(x.shape) × \(weight.shape): inner dimensions \(k) and \(weight.shape[0]) differ")
        }
        x.checkSameDevice(weight, "linear")
        x.checkSameDevice(bias, "linear")
        let storage = x.newBuffer(n * out)
        x.backend.linear(x.storage, weight: weight.storage, bias: bias.storage, into: storage, m: n, n: out, k: k)
        return Tensor(shape: [n, out], storage: storage).recorded(.linear, [x, weight, bias]) {
            .nary { g, _ in
                [
                    x.requiresGrad ? gemm(g, weight, false, true) : nil,
                    weight.requiresGrad ? gemm(x, g, true, false) : nil,
                    bias.requiresGrad ? g : nil,
                ]
            }
        }
    }
}

/// The matrix product `a · b` (see ``Tensor/matmul(_:transposeSelf:transposeOther:)``).
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func matmul<Scalar>(_ a: Tensor<Scalar>, _ b: Tensor<Scalar>) -> Tensor<Scalar> { a.matmul(b) }
