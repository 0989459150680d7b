import RealModule

// Fused losses: binary cross-entropy on logits and softmax cross-entropy, each with the
// activation it computes on the way, and their gradients.

extension ReferenceBackend {
    public func sigmoidCrossEntropy(_ z: Buffer, targets y: Buffer, sigmoid: Buffer?, into loss: Buffer) {
        switch z.dtype {
        case .float32: sigmoidCrossEntropy(z, targets: y, sigmoid: sigmoid, into: loss, Float.self)
        case .float64: sigmoidCrossEntropy(z, targets: y, sigmoid: sigmoid, into: loss, Double.self)
        case .uint8, .int64: Self.unsupported("sigmoidCrossEntropy", z.dtype)
        }
    }

    /// `Σᵢ max(zᵢ, 0) + log(1 + e) − yᵢ·zᵢ` with `e = exp(−|zᵢ|)`, each term in `S`, summed in
    /// Double in order, divided by `n` in Double and rounded to `S` into `loss[0]`;
    /// `sigmoid[i] = 1/(1 + e)` where `zᵢ ≥ 0`, else `e/(1 + e)`.
    private func sigmoidCrossEntropy<S: TensorScalar>(
        _ z: Buffer, targets y: Buffer, sigmoid: Buffer?, into loss: Buffer, _: S.Type
    ) {
        let (n, z, y) = (z.count, Self.elements(z, S.self), Self.elements(y, S.self))
        let sigmoid = sigmoid.map { Self.elements($0, S.self) }
        var total = 0.0
        for i in 0..<n {
            let e = S.exp(-Swift.abs(z[i]))
            total += Double(Swift.max(z[i], 0) + S.log(onePlus: e) - y[i] * z[i])
            sigmoid?[i] = z[i] >= 0 ? 1 / (1 + e) : e / (1 + e)
        }
        Self.elements(loss, S.self)[0] = S(total / Double(n))
    }

    public func sigmoidCrossEntropyGradient(sigmoid: Buffer, targets y: Buffer, scale: Buffer, into out: Buffer) {
        switch sigmoid.dtype {
        case .float32: sigmoidCrossEntropyGradient(sigmoid: sigmoid, targets: y, scale: scale, into: out, Float.self)
        case .float64: sigmoidCrossEntropyGradient(sigmoid: sigmoid, targets: y, scale: scale, into: out, Double.self)
        case .uint8, .int64: Self.unsupported("sigmoidCrossEntropyGradient", sigmoid.dtype)
        }
    }

    /// `out[i] = (sigmoid[i] − y[i])·scale[0]`.
    private func sigmoidCrossEntropyGradient<S: TensorScalar>(
        sigmoid: Buffer, targets y: Buffer, scale: Buffer, into out: Buffer, _: S.Type
    ) {
        let (n, sigmoid, y) = (sigmoid.count, Self.elements(sigmoid, S.self), Self.elements(y, S.self))
        let out = Self.elements(out, S.self)
        let factor = Self.elements(scale, S.self)[0]
        for i in 0..<n { out[i] = (sigmoid[i] - y[i]) * factor }
    }

    public func softmaxCrossEntropy(
        _ z: Buffer, labels: Buffer, rows: Int, classes: Int, probabilities: Buffer?, into loss: Buffer
    ) -> Int? {
        if let bad = Self.firstOutOfRange(labels, classes) { return bad }
        let labels = Self.indices(labels)
        switch z.dtype {
        case .float32:
            softmaxCrossEntropy(
                z, labels: labels, rows: rows, classes: classes, probabilities: probabilities, into: loss, Float.self)
        case .float64:
            softmaxCrossEntropy(
                z, labels: labels, rows: rows, classes: classes, probabilities: probabilities, into: loss, Double.self)
        case .uint8, .int64: Self.unsupported("softmaxCrossEntropy", z.dtype)
        }
        return nil
    }

    /// For each row `r`: `m` = the row's maximum (NaN if any is NaN; 0 when it is −∞),
    /// `eⱼ = exp(z[r, j] − m)`, `s = Σⱼ eⱼ` in `S`; the loss `Σᵣ log(s) + m − z[r, labels[r]]`,
    /// each row's term in `S`, summed in Double in order, divided by `rows` in Double and
    /// rounded to `S` into `loss[0]`; `probabilities[r, j] = eⱼ/s`.
    private func softmaxCrossEntropy<S: TensorScalar>(
        _ z: Buffer, labels: UnsafePointer<Int>, rows: Int, classes: Int, probabilities: Buffer?, into loss: Buffer,
        _: S.Type
    ) {
        let z = Self.elements(z, S.self)
        let probabilities = probabilities.map { Self.elements($0, S.self) }
        var total = 0.0
        for r in 0..<rows {
            var m = -S.infinity
            for j in 0..<classes { m = Self.fold(.max, m, z[r * classes + j]) }
            if m == -S.infinity { m = 0 }
            let e = (0..<classes).map { j in S.exp(z[r * classes + j] - m) }
            var s: S = 0
            for j in 0..<classes { s += e[j] }
            for j in 0..<classes { probabilities?[r * classes + j] = e[j] / s }
            total += Double(S.log(s) + m - z[r * classes + labels[r]])
        }
        Self.elements(loss, S.self)[0] = S(total / Double(rows))
    }

    public func softmaxCrossEntropyGradient(
        probabilities: Buffer, labels: Buffer, rows: Int, classes: Int, scale: Buffer, into out: Buffer
    ) -> Int? {
        if let bad = Self.firstOutOfRange(labels, classes) { return bad }
        let labels = Self.indices(labels)
        switch probabilities.dtype {
        case .float32:
            softmaxCrossEntropyGradient(
                probabilities: probabilities, labels: labels, rows: rows, classes: classes, scale: scale, into: out,
                Float.self)
        case .float64:
            softmaxCrossEntropyGradient(
                probabilities: probabilities, labels: labels, rows: rows, classes: classes, scale: scale, into: out,
                Double.self)
        case .uint8, .int64: Self.unsupported("softmaxCrossEntropyGradient", probabilities.dtype)
        }
        return nil
    }

    /// `out[r, j] = (probabilities[r, j] − (j == labels[r] ? 1 : 0))·scale[0]`.
    private func softmaxCrossEntropyGradient<S: TensorScalar>(
        probabilities: Buffer, labels: UnsafePointer<Int>, rows: Int, classes: Int, scale: Buffer, into out: Buffer,
        _: S.Type
    ) {
        let (p, out) = (Self.elements(probabilities, S.self), Self.elements(out, S.self))
        let factor = Self.elements(scale, S.self)[0]
        for r in 0..<rows {
            for j in 0..<classes {
                let target: S = j == labels[r] ? 1 : 0
                out[r * classes + j] = (p[r * classes + j] - target) * factor
            }
        }
    }
}
