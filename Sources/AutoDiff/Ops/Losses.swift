// The two classification losses as single ops: forward in one pass, and backward in one pass
// (the textbook σ(z) − y and softmax(z) − onehot(y)) instead of the half-dozen elementwise ops and
// reductions of their compositions. When the backward pass is itself recorded (createGraph),
// the rules fall back to those compositions, so second derivatives still come from the tape.

extension Tensor {
    /// Binary cross-entropy on logits, averaged over all elements, stable for any `z`:
    ///
    ///     L = (1/n) Σᵢ softplus(zᵢ) − yᵢ·zᵢ,   softplus(z) = max(z, 0) + ln(1 + e^{−|z|})
    ///
    /// which equals `−y·ln σ(z) − (1 − y)·ln(1 − σ(z))` without taking the log of a probability.
    /// ∂L/∂z = g·(σ(z) − y)/n, ∂L/∂y = −g·z/n. `targets` has the shape of `logits`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func sigmoidCrossEntropy(logits z: Tensor, targets y: Tensor) -> Tensor {
        guard z.shape == y.shape else {
            tensorFailure("sigmoidCrossEntropy: logits \(z.shape) and targets \(y.shape) differ in shape")
        }
        let n = z.count
        // σ(z) is kept for the backward pass when there will be one (it costs an exponential
        // per element to recompute).
        let sigmoid = willRecord(z, y) ? TensorStorage<Scalar>.allocate(n) : nil
        let total = Scalar.sigmoidCrossEntropy(z.storage.base, y.storage.base, n, sigmoid: sigmoid?.base)
        withExtendedLifetime((z.storage, y.storage)) {}
        return Tensor(Scalar(total / Double(n))).recorded(.sigmoidCrossEntropy, z, y) {
            .binary { g, _, wz, wy in
                let scale = g / Scalar(n)
                var gz: Tensor? = nil
                if wz {
                    if GradMode.isEnabled {
                        gz = (z.sigmoid() - y) * scale
                    } else {
                        let out = TensorStorage<Scalar>.allocate(n)
                        Scalar.sigmoidCrossEntropyGradient(
                            sigmoid!.base, y.storage.base, n, scale: scale.item, into: out.base)
                        withExtendedLifetime((sigmoid, y.storage)) {}
                        gz = Tensor(shape: z.shape, storage: out)
                    }
                }
                return (gz, wy ? -z * scale : nil)
            }
        }
    }

    /// Softmax cross-entropy on logits `[N, C]` with integer labels, averaged over the rows:
    ///
    ///     L = (1/N) Σᵢ logSumExp(zᵢ) − zᵢ[yᵢ]
    ///     logSumExp(z) = m + ln Σⱼ e^{zⱼ − m},   m = maxⱼ zⱼ
    ///
    /// so any logits give a finite loss. ∂L/∂z = g·(softmax(z) − onehot(y))/N.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func softmaxCrossEntropy(logits z: Tensor, labels: [Int]) -> Tensor {
        guard z.rank == 2, z.shape[0] == labels.count else {
            tensorFailure(
                "softmaxCrossEntropy: expected logits [N, classes] with N = \(labels.count) labels, got shape \(z.shape)"
            )
        }
        let (rows, classes) = (z.shape[0], z.shape[1])
        if let bad = labels.first(where: { $0 < 0 || $0 >= classes }) {
            tensorFailure("softmaxCrossEntropy: label \(bad) is out of range for \(classes) classes")
        }
        // The softmax is kept for the backward pass when there will be one.
        let probabilities = willRecord(z) ? TensorStorage<Scalar>.allocate(rows * classes) : nil
        // Rows split across cores when there are enough of them (an exponential and a
        // logarithm per element: weighted as four elements of plain work); the parts' sums are
        // added in part order.
        let parts = ComputeThreads.parts(elements: 4 * rows * classes)
        let total = labels.withUnsafeBufferPointer { labels in
            withUnsafeTemporaryAllocation(of: Double.self, capacity: parts) { sums in
                let (logits, kept, sums) = (z.storage.base, probabilities?.base, sums.baseAddress!)
                ComputeThreads.forEachPart(parts) { part in
                    let r = ComputeThreads.range(of: part, parts, in: rows, alignment: 1)
                    let offset = r.lowerBound * classes
                    sums[part] = Scalar.softmaxCrossEntropy(
                        logits + offset, labels: labels.baseAddress! + r.lowerBound, rows: r.count, classes: classes,
                        probabilities: kept.map { $0 + offset })
                }
                return (0..<parts).reduce(0.0) { $0 + sums[$1] }
            }
        }
        withExtendedLifetime(z.storage) {}
        return Tensor(Scalar(total / Double(rows))).recorded(.softmaxCrossEntropy, z) {
            .unary { g, _ in
                let scale = g / Scalar(rows)
                if GradMode.isEnabled {
                    return (z.softmax(alongAxis: 1) - Tensor.oneHot(labels, classes: classes)) * scale
                }
                let out = TensorStorage<Scalar>.allocate(rows * classes)
                labels.withUnsafeBufferPointer {
                    Scalar.softmaxCrossEntropyGradient(
                        probabilities!.base, labels: $0.baseAddress!, rows: rows, classes: classes, scale: scale.item,
                        into: out.base)
                }
                withExtendedLifetime(probabilities) {}
                return Tensor(shape: z.shape, storage: out)
            }
        }
    }
}
