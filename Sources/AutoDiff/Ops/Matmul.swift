// Matrix products and their derivative rules. Transposes are flags passed to the backend's
// product, never copies: the rule for C = op(A)·op(B) is itself a product with flags.

extension Tensor {
    /// The matrix product `op(self) · op(other)`, where `op` transposes the last two axes when its
    /// flag is set (folded into the product kernel, no copy).
    ///
    /// - 2-D × 2-D: `[m, k] × [k, n] → [m, n]`.
    /// - 3-D × 3-D with the same batch: one product per batch entry.
    /// - 3-D × 2-D: the matrix is shared by every batch entry; 2-D × 3-D likewise.
    /// - A vector on either side (1-D) is a row (left) or a column (right) and its axis is dropped
    ///   from the result, as in NumPy.
    ///
    /// Rules (for `C = A·B`): ∂A = G·Bᵀ, ∂B = Aᵀ·G; the transposed cases swap operands and flags.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        let a = self
        let b = other
        switch (a.rank, b.rank) {
        case (1, 1):
            guard !transposeSelf && !transposeOther else { break }
            return a.reshaped([1, a.count]).matmul(b.reshaped([b.count, 1])).reshaped([])
        case (1, 2), (1, 3):
            guard !transposeSelf else { break }
            let r = a.reshaped([1, a.count]).matmul(b, transposeOther: transposeOther)
            return r.squeezed(axis: -2)
        case (2, 1), (3, 1):
            guard !transposeOther else { break }
            let r = a.matmul(b.reshaped([b.count, 1]), transposeSelf: transposeSelf)
            return r.squeezed(axis: -1)
        case (3, 2) where !transposeSelf:
            // Fold the batch into the rows: one large product instead of many small ones.
            let (batch, m, k) = (a.shape[0], a.shape[1], a.shape[2])
            let r = a.reshaped([batch * m, k]).matmul(b, transposeOther: transposeOther)
            return r.reshaped([batch, m, r.shape[1]])
        case (3, 2):
            return a.matmul(
                b.unsqueezed(axis: 0).expanded(to: [a.shape[0]] + b.shape), transposeSelf: true,
                transposeOther: transposeOther)
        case (2, 3):
            return a.unsqueezed(axis: 0).expanded(to: [b.shape[0]] + a.shape).matmul(
                b, transposeSelf: transposeSelf, transposeOther: transposeOther)
        case (2, 2), (3, 3):
            return Tensor.gemm(a, b, transposeSelf, transposeOther)
        default:
            break
        }
        tensorFailure(
            "matmul: \(Tensor.describe(a.shape, transposeSelf)) × \(Tensor.describe(b.shape, transposeOther)): expected matrices (2-D), batches of matrices (3-D) or vectors (1-D)"
        )
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
