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
        z.checkSameDevice(y, "sigmoidCrossEntropy")
        let n = z.count
        // σ(z) is kept for the backward pass when there will be one (it costs an exponential
        // per element to recompute).
        let sigmoid = willRecord(z, y) ? z.newBuffer(n) : nil
        let loss = z.newBuffer(1)
        z.backend.sigmoidCrossEntropy(z.storage, targets: y.storage, sigmoid: sigmoid, into: loss)
        return Tensor(shape: [], storage: loss).recorded(.sigmoidCrossEntropy, z, y) {
            .binary { g, _, wz, wy in
                let scale = g / Scalar(n)
                var gz: Tensor? = nil
                if wz {
                    if GradMode.isEnabled {
                        gz = (z.sigmoid() - y) * scale
                    } else {
                        let out = z.newBuffer(n)
                        z.backend.sigmoidCrossEntropyGradient(
                            sigmoid: sigmoid!, targets: y.storage, scale: scale.storage, into: out)
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
    /// so any logits give a finite loss. ∂L/∂z = g·(softmax(z) − onehot(y))/N. A convenience for
    /// ``softmaxCrossEntropy(logits:labels:)-(_,IndexTensor)`` with labels from the host.
    public static func softmaxCrossEntropy(logits z: Tensor, labels: [Int]) -> Tensor {
        softmaxCrossEntropy(logits: z, labels: IndexTensor(labels, on: z.device))
    }

    /// Softmax cross-entropy on logits `[N, C]` with `N` integer labels on the logits' device, as
    /// ``softmaxCrossEntropy(logits:labels:)-(_,[Int])``: the loss is written by the kernel into the
    /// result's buffer and the labels are checked by the kernel, so nothing passes through the host.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func softmaxCrossEntropy(logits z: Tensor, labels: IndexTensor) -> Tensor {
        guard z.rank == 2, z.shape[0] == labels.count else {
            tensorFailure(
                "softmaxCrossEntropy: expected logits [N, classes] with N = \(labels.count) labels, got shape \(z.shape)"
            )
        }
        return fusedSoftmaxCrossEntropy(z, labels) { position in
            tensorFailure(
                "softmaxCrossEntropy: label \(labels.element(at: position)) is out of range for \(z.shape[1]) classes")
        }
    }

    /// The fused loss on `z` (`[rows, classes]`) and `rows` labels, calling `outOfRange` with the
    /// position of the first label outside `0..<classes`.
    static func fusedSoftmaxCrossEntropy(_ z: Tensor, _ labels: IndexTensor, outOfRange: (Int) -> Never) -> Tensor {
        labels.checkDevice(z, "softmaxCrossEntropy")
        let (rows, classes) = (z.shape[0], z.shape[1])
        // The softmax is kept for the backward pass when there will be one.
        let probabilities = willRecord(z) ? z.newBuffer(rows * classes) : nil
        let loss = z.newBuffer(1)
        if let position = z.backend.softmaxCrossEntropy(
            z.storage, labels: labels.storage, rows: rows, classes: classes, probabilities: probabilities, into: loss)
        {
            outOfRange(position)
        }
        return Tensor(shape: [], storage: loss).recorded(.softmaxCrossEntropy, z) {
            .unary { g, _ in
                let scale = g / Scalar(rows)
                if GradMode.isEnabled {
                    return (z.softmax(alongAxis: 1) - Tensor.oneHot(labels.reshaped([rows]), classes: classes)) * scale
                }
                let out = z.newBuffer(rows * classes)
                z.backend.softmaxCrossEntropyGradient(
                    probabilities: probabilities!, labels: labels.storage, rows: rows, classes: classes,
                    scale: scale.storage, into: out)
                return Tensor(shape: z.shape, storage: out)
            }
        }
    }
}
