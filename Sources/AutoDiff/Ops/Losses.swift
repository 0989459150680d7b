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
        let total = z.backend.sigmoidCrossEntropy(z.storage, targets: y.storage, sigmoid: sigmoid)
        return Tensor(Scalar(total / Double(n)), on: z.device).recorded(.sigmoidCrossEntropy, z, y) {
            .binary { g, _, wz, wy in
                let scale = g / Scalar(n)
                var gz: Tensor? = nil
                if wz {
                    if GradMode.isEnabled {
                        gz = (z.sigmoid() - y) * scale
                    } else {
                        let out = z.newBuffer(n)
                        z.backend.sigmoidCrossEntropyGradient(
                            sigmoid: sigmoid!, targets: y.storage, scale: Double(scale.item), into: out)
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
        let probabilities = willRecord(z) ? z.newBuffer(rows * classes) : nil
        let total = z.backend.softmaxCrossEntropy(
            z.storage, labels: labels, rows: rows, classes: classes, probabilities: probabilities)
        return Tensor(Scalar(total / Double(rows)), on: z.device).recorded(.softmaxCrossEntropy, z) {
            .unary { g, _ in
                let scale = g / Scalar(rows)
                if GradMode.isEnabled {
                    return (z.softmax(alongAxis: 1) - Tensor.oneHot(labels, classes: classes, on: z.device)) * scale
                }
                let out = z.newBuffer(rows * classes)
                z.backend.softmaxCrossEntropyGradient(
                    probabilities: probabilities!, labels: labels, rows: rows, classes: classes,
                    scale: Double(scale.item), into: out)
                return Tensor(shape: z.shape, storage: out)
            }
        }
    }
}
