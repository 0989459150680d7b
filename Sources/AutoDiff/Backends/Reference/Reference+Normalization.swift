// Normalization: per-group mean and biased variance, the normalized (and scaled, shifted)
// output, and its backward pass. Sums are taken in Double, two passes for the variance.

extension ReferenceBackend {
    public func normalize(
        _ x: Buffer, outer: Int, groups: Int, inner: Int, epsilon: Double, scale: Buffer?, shift: Buffer?,
        into out: Buffer, mean: Buffer, rstd: Buffer
    ) {
        switch x.dtype {
        case .float32:
            normalize(x, outer, groups, inner, epsilon, scale, shift, out, mean, rstd, Float.self)
        case .float64:
            normalize(x, outer, groups, inner, epsilon, scale, shift, out, mean, rstd, Double.self)
        case .uint8, .int64: Self.unsupported("normalize", x.dtype)
        }
    }

    /// For each group `c`: `μ = Σ x/n`, `σ² = Σ (x − μ)²/n` over `x[o, c, i]` (in Double), then
    /// `out = (x − μ)·rstd·scale[c] + shift[c]` in `S` with `μ` and `rstd = 1/√(σ² + ε)` rounded
    /// to `S`.
    private func normalize<S: TensorScalar>(
        _ x: Buffer, _ outer: Int, _ groups: Int, _ inner: Int, _ epsilon: Double, _ scale: Buffer?,
        _ shift: Buffer?, _ out: Buffer, _ mean: Buffer, _ rstd: Buffer, _: S.Type
    ) {
        let (x, out) = (Self.elements(x, S.self), Self.elements(out, S.self))
        let (meanOut, rstdOut) = (Self.elements(mean, S.self), Self.elements(rstd, S.self))
        let scale = scale.map { Self.elements($0, S.self) }
        let shift = shift.map { Self.elements($0, S.self) }
        let n = outer * inner
        func index(_ o: Int, _ c: Int, _ i: Int) -> Int { (o * groups + c) * inner + i }
        for c in 0..<groups {
            var sum = 0.0
            for o in 0..<outer { for i in 0..<inner { sum += Double(x[index(o, c, i)]) } }
            let mu = n > 0 ? sum / Double(n) : 0
            var squares = 0.0
            for o in 0..<outer {
                for i in 0..<inner {
                    let d = Double(x[index(o, c, i)]) - mu
                    squares += d * d
                }
            }
            let variance = n > 0 ? squares / Double(n) : 0
            let (m, r) = (S(mu), S(1 / (variance + epsilon).squareRoot()))
            meanOut[c] = m
            rstdOut[c] = r
            let (w, b) = (scale?[c] ?? 1, shift?[c] ?? 0)
            for o in 0..<outer {
                for i in 0..<inner {
                    let k = index(o, c, i)
                    out[k] = (x[k] - m) * r * w + b
                }
            }
        }
    }

    public func normalizeBackward(
        _ g: Buffer, _ x: Buffer, mean: Buffer, rstd: Buffer, scale: Buffer?, outer: Int, groups: Int, inner: Int,
        into dx: Buffer, sumG: Buffer, sumGXhat: Buffer
    ) {
        switch x.dtype {
        case .float32:
            normalizeBackward(g, x, mean, rstd, scale, outer, groups, inner, dx, sumG, sumGXhat, Float.self)
        case .float64:
            normalizeBackward(g, x, mean, rstd, scale, outer, groups, inner, dx, sumG, sumGXhat, Double.self)
        case .uint8, .int64: Self.unsupported("normalizeBackward", x.dtype)
        }
    }

    /// For each group `c`, with `x̂ = (x − μ)·rstd`: `Σ g` and `Σ g·x̂` in Double, then
    /// `dx = scale[c]·rstd·(g − Σg/n − x̂·Σgx̂/n)`.
    private func normalizeBackward<S: TensorScalar>(
        _ g: Buffer, _ x: Buffer, _ mean: Buffer, _ rstd: Buffer, _ scale: Buffer?, _ outer: Int, _ groups: Int,
        _ inner: Int, _ dx: Buffer, _ sumG: Buffer, _ sumGXhat: Buffer, _: S.Type
    ) {
        let (g, x, dx) = (Self.elements(g, S.self), Self.elements(x, S.self), Self.elements(dx, S.self))
        let (mean, rstd) = (Self.elements(mean, S.self), Self.elements(rstd, S.self))
        let (sumGOut, sumGXhatOut) = (Self.elements(sumG, S.self), Self.elements(sumGXhat, S.self))
        let scale = scale.map { Self.elements($0, S.self) }
        let n = outer * inner
        func index(_ o: Int, _ c: Int, _ i: Int) -> Int { (o * groups + c) * inner + i }
        for c in 0..<groups {
            let (m, r) = (mean[c], rstd[c])
            var (sg, sgx) = (0.0, 0.0)
            for o in 0..<outer {
                for i in 0..<inner {
                    let k = index(o, c, i)
                    sg += Double(g[k])
                    sgx += Double(g[k]) * Double((x[k] - m) * r)
                }
            }
            sumGOut[c] = S(sg)
            sumGXhatOut[c] = S(sgx)
            let meanG = n > 0 ? S(sg / Double(n)) : 0
            let meanGXhat = n > 0 ? S(sgx / Double(n)) : 0
            let factor = (scale?[c] ?? 1) * r
            for o in 0..<outer {
                for i in 0..<inner {
                    let k = index(o, c, i)
                    dx[k] = factor * (g[k] - meanG - (x[k] - m) * r * meanGXhat)
                }
            }
        }
    }
}
