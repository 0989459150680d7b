import AutoDiff

extension OpCases {
    /// The sequence-model ops: embedding lookups over index tensors of several ranks (repeated
    /// indices add up), masked fills with broadcast masks, triangles above and below several
    /// diagonals, softmax over causally and fully masked rows, split and chunk, and cross-entropy
    /// over `[batch, time, classes]` with ignored positions and label smoothing.
    static func sequence<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        /// A constant 0/1 mask on `device` with ones at `filled` (row-major positions).
        @Sendable func mask(_ shape: [Int], _ filled: Set<Int>, on device: Device) -> Tensor<S> {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { filled.contains($0) ? 1 : 0 }, on: device)
        }
        return [
            OpCase("embedding [2, 3] indices", [[5, 3]]) {
                Tensor.embedding(indices: [1, 4, 1, 0, 2, 4], indexShape: [2, 3], weight: $0[0])
            },
            OpCase("embedding [4] indices", [[3, 2]]) {
                Tensor.embedding(indices: [2, 2, 0, 2], indexShape: [4], weight: $0[0]).squared()
            },
            OpCase("embedding scalar index", [[3, 4]]) {
                Tensor.embedding(indices: [1], indexShape: [], weight: $0[0])
            },
            OpCase("maskedFill, mask of the same shape", [[3, 4]]) {
                $0[0].maskedFill(mask: mask([3, 4], [0, 5, 6, 11], on: $0[0].device), value: -2) * $0[0]
            },
            OpCase("maskedFill, mask [3, 1] broadcast", [[2, 3, 4]]) {
                $0[0].maskedFill(mask: mask([3, 1], [1], on: $0[0].device), value: 0.5).exp()
            },
            OpCase("maskedFill, mask [4] broadcast", [[3, 4]]) {
                $0[0].maskedFill(mask: mask([4], [0, 3], on: $0[0].device), value: 7)
            },
            OpCase("tril", [[4, 3]]) { $0[0].tril() },
            OpCase("tril diagonal -1, batched", [[2, 3, 4]]) { $0[0].tril(diagonal: -1) },
            OpCase("triu diagonal 1, batched", [[2, 4, 4]]) { $0[0].triu(diagonal: 1) },
            OpCase("triu diagonal -2", [[3, 5]]) { $0[0].triu(diagonal: -2) },
            OpCase("softmax of causally masked scores", [[2, 4, 4]]) {
                ($0[0] + Tensor<S>.causalMask(size: 4, on: $0[0].device)).softmax(alongAxis: -1)
            },
            OpCase("softmax with a fully masked row", [[3, 4]]) {
                $0[0].maskedFill(mask: mask([3, 1], [1], on: $0[0].device), value: -S.infinity).softmax(alongAxis: 1)
            },
            OpCase(
                "softmax with a fully masked row, derivative", [[3, 4]],
                firstDerivative {
                    let masked = $0.maskedFill(mask: mask([3, 1], [1], on: $0.device), value: -S.infinity)
                    return (masked.softmax(alongAxis: 1) * $0).sum()
                }),
            OpCase(
                "maskedFill derivative", [[3, 4]],
                firstDerivative { $0.maskedFill(mask: mask([4], [1], on: $0.device), value: 3).squared().sum() }),
            OpCase("split sizes [1, 3, 0, 2] along axis 1", [[2, 6]]) { xs in
                let pieces = xs[0].split(sizes: [1, 3, 0, 2], alongAxis: 1)
                return Tensor.concat([pieces[3] * 2, pieces[0].exp(), pieces[1]], alongAxis: 1)
            },
            OpCase("chunk 3 of 7 along the last axis", [[2, 7]]) { xs in
                let pieces = xs[0].chunk(3, alongAxis: -1)
                return Tensor.concat([pieces[2], pieces[0] * 3], alongAxis: 1) + pieces[1].sum()
            },
            OpCase("cross-entropy [2, 3, 4], ignoreIndex", [[2, 3, 4]]) {
                Tensor.softmaxCrossEntropy(logits: $0[0], labels: [1, 3, -100, 0, -100, 2], ignoreIndex: -100)
            },
            OpCase("cross-entropy [2, 3, 4], ignoreIndex 0, labelSmoothing 0.2", [[2, 3, 4]]) {
                Tensor.softmaxCrossEntropy(
                    logits: $0[0] * 3, labels: [1, 3, 0, 0, 2, 2], ignoreIndex: 0, labelSmoothing: 0.2)
            },
            OpCase(
                "cross-entropy [2, 3, 4], labelSmoothing 0.1, derivative", [[2, 3, 4]],
                firstDerivative {
                    Tensor.softmaxCrossEntropy(
                        logits: $0, labels: [1, 3, 2, 0, 1, 2], ignoreIndex: nil, labelSmoothing: 0.1)
                }),
        ]
    }
}
