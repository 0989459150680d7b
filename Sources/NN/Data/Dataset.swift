import AutoDiff

/// Examples as two tensors whose first axis is the sample: `features` `[N, …]` and `labels`
/// `[N, …]` (class indices `[N]`, binary targets `[N, 1]`, one-hot `[N, C]`, regression targets).
///
/// ```swift
/// let (train, validation) = makeMoons(samples: 1000, noise: 0.2, seed: 0).split(validationFraction: 0.2, seed: 1)
/// var shuffler = RandomGenerator(seed: 2)
/// for batch in train.batches(size: 32, shuffledBy: &shuffler) {
///     let loss = binaryCrossEntropy(logits: model(batch.features), targets: batch.labels.reshaped([-1, 1]))
///     …
/// }
/// ```
public struct Dataset<Scalar: TensorScalar> {
    /// The inputs, one example per row of the leading axis (`[N, …]`).
    public var features: Tensor<Scalar>
    /// The targets, one per example (`[N]` class indices or `[N, …]` values).
    public var labels: Tensor<Scalar>

    /// Pairs `features` with `labels`; both must have the same number of examples (leading
    /// dimension), or it stops with a one-line error naming both shapes.
    public init(features: Tensor<Scalar>, labels: Tensor<Scalar>) {
        guard features.rank >= 1, labels.rank >= 1, features.shape[0] == labels.shape[0] else {
            tensorFailure(
                "Dataset: features of shape \(features.shape) and labels of shape \(labels.shape) have different numbers of samples"
            )
        }
        self.features = features.detached()
        self.labels = labels.detached()
    }

    /// The number of samples.
    public var count: Int { features.shape[0] }

    /// The samples at `indices`, in that order (a copy).
    public func rows(_ indices: [Int]) -> Dataset {
        Dataset(features: selectRows(features, indices), labels: selectRows(labels, indices))
    }

    /// The samples in `range`.
    public func rows(_ range: Range<Int>) -> Dataset { rows(Array(range)) }

    /// The samples in a random order drawn from `generator`.
    public func shuffled(using generator: inout RandomGenerator) -> Dataset {
        rows(generator.permutation(count))
    }

    /// A train/validation split: the samples are shuffled with `seed` (unless `seed` is nil, in
    /// which case the order is kept) and the last `⌊validationFraction·N⌉` (rounded) go to
    /// validation.
    public func split(validationFraction: Double, seed: UInt64? = nil) -> (train: Dataset, validation: Dataset) {
        guard validationFraction >= 0 && validationFraction <= 1 else {
            tensorFailure("Dataset.split: validationFraction \(validationFraction) is outside [0, 1]")
        }
        var order = Array(0..<count)
        if let seed {
            var g = RandomGenerator(seed: seed)
            order = g.permutation(count)
        }
        let nValidation = Int((validationFraction * Double(count)).rounded())
        let cut = count - nValidation
        return (rows(Array(order[..<cut])), rows(Array(order[cut...])))
    }

    /// Minibatches of `size` samples in order; the last batch holds the remainder (it is kept,
    /// not dropped).
    public func batches(size: Int) -> Batches<Scalar> {
        Batches(dataset: self, order: Array(0..<count), size: size)
    }

    /// Minibatches of `size` samples in an order drawn from `generator` (one permutation per
    /// call: call once per epoch); the last partial batch is kept.
    public func batches(size: Int, shuffledBy generator: inout RandomGenerator) -> Batches<Scalar> {
        Batches(dataset: self, order: generator.permutation(count), size: size)
    }
}

/// The minibatches of one epoch, materialised one at a time as they are iterated.
public struct Batches<Scalar: TensorScalar>: Sequence, IteratorProtocol {
    let dataset: Dataset<Scalar>
    let order: [Int]
    let size: Int
    var position = 0

    init(dataset: Dataset<Scalar>, order: [Int], size: Int) {
        guard size > 0 else { tensorFailure("Dataset.batches: size \(size) must be positive") }
        self.dataset = dataset
        self.order = order
        self.size = size
    }

    /// The number of batches: `⌈N / size⌉`.
    public var count: Int { (order.count + size - 1) / size }

    public mutating func next() -> Dataset<Scalar>? {
        guard position < order.count else { return nil }
        let end = Swift.min(position + size, order.count)
        defer { position = end }
        return dataset.rows(Array(order[position..<end]))
    }
}

/// Copies the rows (first-axis slices) `indices` of `x` into a new tensor
/// (``Tensor/indexSelect(alongAxis:indices:)-(_,[Int])``, split across cores for a large batch), with the
/// data set's own message for an index out of range.
func selectRows<Scalar>(_ x: Tensor<Scalar>, _ indices: [Int]) -> Tensor<Scalar> {
    let n = x.shape[0]
    if let bad = indices.first(where: { $0 < 0 || $0 >= n }) {
        tensorFailure("Dataset.rows: index \(bad) is outside 0..<\(n)")
    }
    return x.indexSelect(alongAxis: 0, indices: indices)
}
