import AutoDiff

// Losses, each composed from tape ops (no hand-written gradient). Every loss is a mean: over
// samples, and over outputs where a sample has several (the book's `np.mean(sample_losses)`
// after a per-sample mean over outputs).

/// The clip range of probabilities in the cross-entropies on probabilities, as in the book.
public let probabilityClip = 1e-7

/// `p` clipped to `[1e-7, 1 − 1e-7]` in value, with the gradient passed straight through, so the
/// loss's gradient is its formula evaluated at the clipped value, as in the book's backward pass
/// (`np.clip(dvalues, 1e-7, 1 - 1e-7)` before dividing). A plain `clamped` would instead zero the
/// gradient of a saturated prediction and stop learning there.
func clippedProbabilities<Scalar: TensorScalar>(_ p: Tensor<Scalar>) -> Tensor<Scalar> {
    let eps = Scalar(probabilityClip)
    let raw = p.detached()
    return p + (raw.clamped(min: eps, max: 1 - eps) - raw)
}

private func checkSameShape<Scalar>(_ a: Tensor<Scalar>, _ b: Tensor<Scalar>, _ name: String) {
    guard a.shape == b.shape else {
        tensorFailure("\(name): predictions of shape \(a.shape) and targets of shape \(b.shape) differ")
    }
}

/// Mean squared error `mean((ŷ − y)²)` over every element.
public func meanSquaredError<Scalar>(predictions: Tensor<Scalar>, targets: Tensor<Scalar>) -> Tensor<Scalar> {
    checkSameShape(predictions, targets, "meanSquaredError")
    return (predictions - targets).squared().mean()
}

/// Mean absolute error `mean(|ŷ − y|)` over every element (gradient 0 where ŷ = y).
public func meanAbsoluteError<Scalar>(predictions: Tensor<Scalar>, targets: Tensor<Scalar>) -> Tensor<Scalar> {
    checkSameShape(predictions, targets, "meanAbsoluteError")
    return (predictions - targets).abs().mean()
}

/// Binary cross-entropy on probabilities, the book's `Loss_BinaryCrossentropy`:
///
///     L = −mean(y·log p̃ + (1 − y)·log(1 − p̃)),   p̃ = clip(p, 1e-7, 1 − 1e-7)
///
/// averaged over samples and outputs. The clip applies to the value and the gradient
/// (∂L/∂p = −(y/p̃ − (1 − y)/(1 − p̃))/n, the book's formula), so a saturated sigmoid gives a
/// finite loss and still learns. Prefer ``binaryCrossEntropy(logits:targets:)`` when the
/// model's last layer would be a sigmoid.
public func binaryCrossEntropy<Scalar>(probabilities: Tensor<Scalar>, targets: Tensor<Scalar>) -> Tensor<Scalar> {
    checkSameShape(probabilities, targets, "binaryCrossEntropy")
    let p = clippedProbabilities(probabilities)
    return -(targets * p.log() + (1 - targets) * (1 - p).log()).mean()
}

/// Binary cross-entropy on logits `z` (before the sigmoid), stable for any `z`:
///
///     L = mean(softplus(z) − y·z),   softplus(z) = max(z, 0) + log(1 + e^{−|z|})
///
/// which equals `−y·log σ(z) − (1 − y)·log(1 − σ(z))` without evaluating either log of a
/// probability, so no clipping is needed. ∂L/∂z = (σ(z) − y)/n.
public func binaryCrossEntropy<Scalar>(logits: Tensor<Scalar>, targets: Tensor<Scalar>) -> Tensor<Scalar> {
    checkSameShape(logits, targets, "binaryCrossEntropy(logits:)")
    return Tensor.sigmoidCrossEntropy(logits: logits, targets: targets)
}

private func checkLabels<Scalar>(_ x: Tensor<Scalar>, _ labels: [Int], _ name: String) {
    guard x.rank == 2, x.shape[0] == labels.count else {
        tensorFailure("\(name): expected [N, classes] with N = \(labels.count) labels, got shape \(x.shape)")
    }
}

private func checkOneHot<Scalar>(_ x: Tensor<Scalar>, _ targets: Tensor<Scalar>, _ name: String) {
    guard x.rank == 2, targets.shape == x.shape else {
        tensorFailure(
            "\(name): expected [N, classes] predictions and one-hot targets of the same shape, got \(x.shape) and \(targets.shape)"
        )
    }
}

/// Categorical cross-entropy on probabilities (e.g. a ``Softmax`` output), the book's
/// `Loss_CategoricalCrossentropy`: `L = −mean_i log p̃[i, yᵢ]` with `p̃` clipped to
/// `[1e-7, 1 − 1e-7]` (value and gradient, as in ``binaryCrossEntropy(probabilities:targets:)``).
public func categoricalCrossEntropy<Scalar>(probabilities: Tensor<Scalar>, labels: [Int]) -> Tensor<Scalar> {
    checkLabels(probabilities, labels, "categoricalCrossEntropy")
    return -clippedProbabilities(probabilities).gather(alongAxis: 1, indices: labels).log().mean()
}

/// Categorical cross-entropy on probabilities with one-hot (or soft) targets:
/// `L = −mean_i Σ_c y[i, c]·log p̃[i, c]`.
public func categoricalCrossEntropy<Scalar>(probabilities: Tensor<Scalar>, targets: Tensor<Scalar>) -> Tensor<Scalar> {
    checkOneHot(probabilities, targets, "categoricalCrossEntropy")
    return -(targets * clippedProbabilities(probabilities).log()).sum(alongAxis: 1).mean()
}

/// Softmax cross-entropy on logits with integer labels, fused and stable:
///
///     L = −mean_i logSoftmax(z)[i, yᵢ],   logSoftmax(z) = z − logSumExp(z)
///
/// `logSumExp` subtracts the row maximum, so any logits give a finite loss. ∂L/∂z =
/// (softmax(z) − onehot(y))/N, the book's combined softmax/cross-entropy backward, each in one
/// pass (AutoDiff's fused `Tensor.softmaxCrossEntropy(logits:labels:)`).
public func softmaxCrossEntropy<Scalar>(logits: Tensor<Scalar>, labels: [Int]) -> Tensor<Scalar> {
    checkLabels(logits, labels, "softmaxCrossEntropy")
    return Tensor.softmaxCrossEntropy(logits: logits, labels: labels)
}

/// Softmax cross-entropy over logits `[…, classes]` (`[batch, time, classes]` for a sequence
/// model) with one label per position, as PyTorch's `F.cross_entropy(..., ignore_index:,
/// label_smoothing:)`: positions labelled `ignoreIndex` count neither in the loss nor in the mean,
/// and with smoothing ε each kept position's loss is `(1 − ε)·(−log p[label]) + ε·mean_c(−log p[c])`
/// (AutoDiff's `Tensor.softmaxCrossEntropy(logits:labels:ignoreIndex:labelSmoothing:)`).
public func softmaxCrossEntropy<Scalar>(
    logits: Tensor<Scalar>, labels: [Int], ignoreIndex: Int?, labelSmoothing: Double = 0
) -> Tensor<Scalar> {
    Tensor.softmaxCrossEntropy(logits: logits, labels: labels, ignoreIndex: ignoreIndex, labelSmoothing: labelSmoothing)
}

/// Softmax cross-entropy on logits with one-hot (or soft) targets:
/// `L = −mean_i Σ_c y[i, c]·logSoftmax(z)[i, c]`.
public func softmaxCrossEntropy<Scalar>(logits: Tensor<Scalar>, targets: Tensor<Scalar>) -> Tensor<Scalar> {
    checkOneHot(logits, targets, "softmaxCrossEntropy")
    return -(targets * logits.logSoftmax(alongAxis: 1)).sum(alongAxis: 1).mean()
}

/// Softmax cross-entropy with labels in an integer tensor on the logits' device (`[N]`, or any
/// shape of `N` elements), as ``softmaxCrossEntropy(logits:labels:)-(_,[Int])``: the labels never
/// pass through the host.
public func softmaxCrossEntropy<Scalar>(logits: Tensor<Scalar>, labels: IndexTensor) -> Tensor<Scalar> {
    guard logits.rank == 2, logits.shape[0] == labels.count else {
        tensorFailure(
            "softmaxCrossEntropy: expected [N, classes] with N = \(labels.count) labels, got shape \(logits.shape)")
    }
    return Tensor.softmaxCrossEntropy(logits: logits, labels: labels.reshaped([labels.count]))
}

/// Softmax cross-entropy with labels held as a tensor of class indices (`[N]` or `[N, 1]`, as
/// ``Dataset`` stores them). The labels become integers by a kernel on their device, which also
/// checks that each is a whole number (one line naming the first that is not); the loss kernel
/// checks their range. Nothing passes through the host.
public func softmaxCrossEntropy<Scalar>(logits: Tensor<Scalar>, labels: Tensor<Scalar>) -> Tensor<Scalar> {
    softmaxCrossEntropy(logits: logits, labels: IndexTensor(labels: labels, op: "softmaxCrossEntropy"))
}

/// Class indices from a tensor of integral values (`[N]` or `[N, 1]`); a value that is not a whole
/// number (2.5, NaN, ±∞) is a programming error reported with its index. Readers of label files
/// check them first (``loadMNIST(images:labels:classes:as:)``).
public func classIndices<Scalar>(_ labels: Tensor<Scalar>) -> [Int] {
    labels.withUnsafeBufferPointer { values in
        values.indices.map { index in
            guard let label = Int(exactly: values[index]) else {
                tensorFailure("classIndices: label \(values[index]) at index \(index) is not a whole number")
            }
            return label
        }
    }
}
