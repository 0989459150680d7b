import AutoDiff

extension OpCases {
    /// Ops taking integer tensors (``IndexTensor``) on the inputs' device: slices and elements
    /// picked by index along every axis, embedding lookups with a padding row, the fused
    /// cross-entropy with integer labels (with label smoothing), and integer tensors turned into
    /// constant float tensors.
    static func integers<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        [
            OpCase("indexSelect by an IndexTensor [2, 2] along axis 1", [[2, 4, 3]]) {
                $0[0].indexSelect(alongAxis: 1, indices: IndexTensor([3, 0, 3, 1], shape: [2, 2], on: $0[0].device))
                    .exp()
            },
            OpCase("gather by an IndexTensor along axis 0", [[3, 2]]) {
                $0[0].gather(
                    alongAxis: 0, indices: IndexTensor([2, 0, 1, 1, 0, 0, 2, 1], shape: [4, 2], on: $0[0].device)
                )
                .squared()
            },
            OpCase("gather by an IndexTensor along the last axis of [2, 3, 4]", [[2, 3, 4]]) {
                let picks = IndexTensor((0..<12).map { ($0 * 5 + 1) % 4 }, shape: [2, 3, 2], on: $0[0].device)
                return $0[0].gather(alongAxis: -1, indices: picks).tanh()
            },
            OpCase("embedding by an IndexTensor [2, 3], padding row 3 unused", [[5, 3]]) {
                let tokens = IndexTensor([1, 4, 1, 0, 4, 2], shape: [2, 3], on: $0[0].device)
                return Tensor.embedding(indices: tokens, weight: $0[0], paddingIndex: 3).squared()
            },
            OpCase("softmaxCrossEntropy with IndexTensor labels", [[5, 3]]) {
                Tensor.softmaxCrossEntropy(logits: $0[0], labels: IndexTensor([2, 0, 1, 1, 2], on: $0[0].device))
            },
            OpCase("cross-entropy [2, 3, 4], IndexTensor labels [2, 3], labelSmoothing 0.2", [[2, 3, 4]]) {
                Tensor.softmaxCrossEntropy(
                    logits: $0[0] * 3, labels: IndexTensor([1, 3, 0, 0, 2, 2], shape: [2, 3], on: $0[0].device),
                    labelSmoothing: 0.2)
            },
            OpCase("cross-entropy [2, 3, 4], IndexTensor labels, ignoreIndex -100", [[2, 3, 4]]) {
                Tensor.softmaxCrossEntropy(
                    logits: $0[0] * 2, labels: IndexTensor([1, -100, 3, 0, -100, 2], shape: [2, 3], on: $0[0].device),
                    ignoreIndex: -100)
            },
            OpCase("cross-entropy [3, 4], IndexTensor labels, ignoreIndex 0, labelSmoothing 0.3", [[3, 4]]) {
                Tensor.softmaxCrossEntropy(
                    logits: $0[0] * 3, labels: IndexTensor([0, 3, 2], on: $0[0].device), ignoreIndex: 0,
                    labelSmoothing: 0.3)
            },
            OpCase("x times Tensor(converting:) of integers and a one-hot", [[2, 3]]) { xs in
                let device = xs[0].device
                let weights = Tensor<S>(converting: IndexTensor([-2, 0, 5, 1, 3, -1], shape: [2, 3], on: device))
                let oneHot = Tensor<S>.oneHot(IndexTensor([2, 0], on: device), classes: 3)
                return xs[0] * weights + xs[0].exp() * oneHot
            },
        ]
    }
}
