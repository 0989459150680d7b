import AutoDiff

extension OpCases {
    /// Scaled dot-product attention: plain, causal (square, more queries than keys, fewer),
    /// query and value widths that differ, an explicit scale, additive masks shared by every head,
    /// broadcast over the heads and given per head, a fully masked row, causal and a mask
    /// together, more keys than the forward pass keeps probabilities for, large scores, and
    /// second derivatives (the backward pass's own rule); and the packed self-attention (heads read
    /// from and written to strided rows), causal or not, its probabilities kept or recomputed.
    static func attention<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        /// A constant additive mask on `device`: −∞ at the row-major positions `hidden`, and a
        /// finite bias that varies with the position elsewhere.
        @Sendable func mask(_ shape: [Int], hidden: Set<Int>, on device: Device) -> Tensor<S> {
            let count = shape.reduce(1, *)
            let values = (0..<count).map { hidden.contains($0) ? -S.infinity : S(($0 * 7) % 5) * S(0.25) - S(0.5) }
            return Tensor(shape: shape, scalars: values, on: device)
        }
        @Sendable func attend(
            _ xs: [Tensor<S>], mask: Tensor<S>? = nil, causal: Bool = false, scale: Double? = nil
        ) -> Tensor<S> {
            Tensor.scaledDotProductAttention(
                query: xs[0], key: xs[1], value: xs[2], mask: mask, causal: causal, scale: scale)
        }
        return [
            OpCase("attention [2, 3, 4]", [[2, 3, 4], [2, 3, 4], [2, 3, 4]]) { attend($0) },
            OpCase("attention causal [1, 2, 4, 3]", [[1, 2, 4, 3], [1, 2, 4, 3], [1, 2, 4, 3]]) {
                attend($0, causal: true)
            },
            OpCase("attention Tq 3, Tk 5, D 4, Dv 2", [[2, 3, 4], [2, 5, 4], [2, 5, 2]]) { attend($0) },
            OpCase("attention causal, more queries than keys", [[1, 5, 3], [1, 3, 3], [1, 3, 2]]) {
                attend($0, causal: true)
            },
            OpCase("attention causal, fewer queries than keys", [[2, 2, 3], [2, 4, 3], [2, 4, 3]]) {
                attend($0, causal: true)
            },
            OpCase("attention scale 0.7, 2-D", [[3, 4], [5, 4], [5, 3]]) { attend($0, scale: 0.7) },
            OpCase("attention shared mask [Tq, Tk]", [[2, 2, 3, 4], [2, 2, 4, 4], [2, 2, 4, 3]]) {
                attend($0, mask: mask([3, 4], hidden: [1, 4, 11], on: $0[0].device))
            },
            OpCase("attention mask [B, 1, Tq, Tk] over the heads", [[2, 2, 3, 4], [2, 2, 3, 4], [2, 2, 3, 2]]) {
                attend($0, mask: mask([2, 1, 3, 3], hidden: [2, 9, 12], on: $0[0].device))
            },
            OpCase("attention mask per head", [[2, 3, 4], [2, 3, 4], [2, 3, 4]]) {
                attend($0, mask: mask([2, 3, 3], hidden: [0, 5, 13], on: $0[0].device))
            },
            OpCase("attention fully masked row", [[2, 3, 4], [2, 4, 4], [2, 4, 2]]) {
                attend($0, mask: mask([3, 4], hidden: [4, 5, 6, 7, 8], on: $0[0].device))
            },
            OpCase("attention causal and a mask", [[2, 4, 3], [2, 4, 3], [2, 4, 3]]) {
                attend($0, mask: mask([4, 4], hidden: [8], on: $0[0].device), causal: true)
            },
            OpCase(
                "attention 70 keys: probabilities recomputed by the backward pass",
                [[2, 3, 4], [2, 70, 4], [2, 70, 2]]
            ) {
                attend($0, mask: mask([3, 70], hidden: [5, 80, 150], on: $0[0].device))
            },
            OpCase("attention large scores", [[2, 3, 4], [2, 3, 4], [2, 3, 4]]) { xs in
                attend([xs[0] * 30, xs[1] * 30, xs[2]])
            },
            OpCase("packed attention causal, 2 heads of width 2", [[2, 3, 12]]) {
                Tensor.scaledDotProductAttention(packedQueryKeyValue: $0[0], heads: 2, causal: true)
            },
            OpCase("packed attention, 1 head of width 3, scale 0.8", [[1, 4, 9]]) {
                Tensor.scaledDotProductAttention(packedQueryKeyValue: $0[0], heads: 1, scale: 0.8)
            },
            OpCase("packed attention 70 positions: probabilities recomputed", [[1, 70, 6]]) {
                Tensor.scaledDotProductAttention(packedQueryKeyValue: $0[0], heads: 1, causal: true)
            },
            OpCase(
                "packed attention second order", [[2, 3, 12]],
                allFirstDerivatives { xs in
                    weighted(Tensor.scaledDotProductAttention(packedQueryKeyValue: xs[0], heads: 2, causal: true))
                        .tanh().sum()
                }),
            OpCase(
                "attention second order", [[2, 3, 4], [2, 3, 4], [2, 3, 2]],
                allFirstDerivatives { xs in
                    weighted(attend(xs, mask: mask([3, 3], hidden: [5], on: xs[0].device), causal: true)).tanh().sum()
                }),
        ]
    }
}
