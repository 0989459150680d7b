import CKernels

// Normalization on the CPU: Float through the vectorised C kernels (Sources/CKernels/normalize.c),
// Double through the Swift loops below (GradCheck's type, where speed matters less). Groups are
// independent, so large work is split across ComputeThreads by groups, each group whole in one
// part: the results do not depend on the thread count.

extension CPUBackend {
    public func normalize(
        _ x: Buffer, outer: Int, groups: Int, inner: Int, epsilon: Double, scale: Buffer?, shift: Buffer?,
        into out: Buffer, mean: Buffer, rstd: Buffer
    ) {
        captureKernel {
            .normalize(
                x: $0.read(x), outer: outer, groups: groups, inner: inner, epsilon: epsilon, scale: scale.map($0.read),
                shift: shift.map($0.read), out: $0.write(out), mean: $0.write(mean), rstd: $0.write(rstd))
        }
        switch x.dtype {
        case .float32:
            let (px, po, pm, pr) = (
                x.host(Float.self), out.host(Float.self), mean.host(Float.self), rstd.host(Float.self)
            )
            let (ps, pb) = (scale?.host(Float.self), shift?.host(Float.self))
            Self.forEachGroupRange(groups, elements: x.count) { r in
                ad_normalize_f32(
                    px, outer, groups, inner, r.lowerBound, r.upperBound, epsilon, ps, pb, po, pm, pr)
            }
        case .float64:
            let (px, po, pm, pr) = (
                x.host(Double.self), out.host(Double.self), mean.host(Double.self), rstd.host(Double.self)
            )
            let (ps, pb) = (scale?.host(Double.self), shift?.host(Double.self))
            Self.forEachGroupRange(groups, elements: x.count) { r in
                CPULoops.normalize(px, outer, groups, inner, r, epsilon, ps, pb, po, pm, pr)
            }
        case .uint8, .int64: unsupported(x.dtype, "normalize")
        }
    }

    public func normalizeBackward(
        _ g: Buffer, _ x: Buffer, mean: Buffer, rstd: Buffer, scale: Buffer?, outer: Int, groups: Int, inner: Int,
        into dx: Buffer, sumG: Buffer, sumGXhat: Buffer
    ) {
        captureKernel {
            .normalizeBackward(
                g: $0.read(g), x: $0.read(x), mean: $0.read(mean), rstd: $0.read(rstd), scale: scale.map($0.read),
                outer: outer, groups: groups, inner: inner, dx: $0.write(dx), sumG: $0.write(sumG),
                sumGXhat: $0.write(sumGXhat))
        }
        switch x.dtype {
        case .float32:
            let (pg, px, pd) = (g.host(Float.self), x.host(Float.self), dx.host(Float.self))
            let (pm, pr, ps) = (mean.host(Float.self), rstd.host(Float.self), scale?.host(Float.self))
            let (sg, sgx) = (sumG.host(Float.self), sumGXhat.host(Float.self))
            Self.forEachGroupRange(groups, elements: 2 * x.count) { r in
                ad_normalize_backward_f32(
                    pg, px, pm, pr, ps, outer, groups, inner, r.lowerBound, r.upperBound, pd, sg, sgx)
            }
        case .float64:
            let (pg, px, pd) = (g.host(Double.self), x.host(Double.self), dx.host(Double.self))
            let (pm, pr, ps) = (mean.host(Double.self), rstd.host(Double.self), scale?.host(Double.self))
            let (sg, sgx) = (sumG.host(Double.self), sumGXhat.host(Double.self))
            Self.forEachGroupRange(groups, elements: 2 * x.count) { r in
                CPULoops.normalizeBackward(pg, px, pm, pr, ps, outer, groups, inner, r, pd, sg, sgx)
            }
        case .uint8, .int64: unsupported(x.dtype, "normalizeBackward")
        }
    }

    /// `0..<groups` cut into one range of whole groups per part.
    private static func forEachGroupRange(_ groups: Int, elements: Int, _ body: (Range<Int>) -> Void) {
        ComputeThreads.forEachRange(of: groups, elements: elements, alignment: 1, body)
    }
}

extension CPULoops {
    /// ``CPUBackend/normalize(_:outer:groups:inner:epsilon:scale:shift:into:mean:rstd:)`` for the
    /// groups in `range`: the mean, then the squared deviations from it, summed in `Double`.
    static func normalize<S: TensorScalar>(
        _ x: UnsafePointer<S>, _ outer: Int, _ groups: Int, _ inner: Int, _ range: Range<Int>, _ epsilon: Double,
        _ scale: UnsafePointer<S>?, _ shift: UnsafePointer<S>?, _ out: UnsafeMutablePointer<S>,
        _ mean: UnsafeMutablePointer<S>, _ rstd: UnsafeMutablePointer<S>
    ) {
        let n = outer * inner
        for c in range {
            var sum = 0.0
            for o in 0..<outer {
                let row = x + (o * groups + c) * inner
                for i in 0..<inner { sum += Double(row[i]) }
            }
            let mu = n > 0 ? sum / Double(n) : 0
            var squares = 0.0
            for o in 0..<outer {
                let row = x + (o * groups + c) * inner
                for i in 0..<inner {
                    let d = Double(row[i]) - mu
                    squares += d * d
                }
            }
            let (m, r) = (S(mu), S(1 / ((n > 0 ? squares / Double(n) : 0) + epsilon).squareRoot()))
            mean[c] = m
            rstd[c] = r
            let a = r * (scale?[c] ?? 1)
            let b = (shift?[c] ?? 0) - m * a
            for o in 0..<outer {
                let at = (o * groups + c) * inner
                for i in 0..<inner { out[at + i] = x[at + i] * a + b }
            }
        }
    }

    /// ``CPUBackend/normalizeBackward(_:_:mean:rstd:scale:outer:groups:inner:into:sumG:sumGXhat:)``
    /// for the groups in `range`.
    static func normalizeBackward<S: TensorScalar>(
        _ g: UnsafePointer<S>, _ x: UnsafePointer<S>, _ mean: UnsafePointer<S>, _ rstd: UnsafePointer<S>,
        _ scale: UnsafePointer<S>?, _ outer: Int, _ groups: Int, _ inner: Int, _ range: Range<Int>,
        _ dx: UnsafeMutablePointer<S>, _ sumG: UnsafeMutablePointer<S>, _ sumGXhat: UnsafeMutablePointer<S>
    ) {
        let n = outer * inner
        for c in range {
            let (m, r) = (mean[c], rstd[c])
            var (sg, sgx) = (0.0, 0.0)
            for o in 0..<outer {
                let at = (o * groups + c) * inner
                for i in 0..<inner {
                    sg += Double(g[at + i])
                    sgx += Double(g[at + i]) * Double(x[at + i] - m)
                }
            }
            sgx *= Double(r)
            sumG[c] = S(sg)
            sumGXhat[c] = S(sgx)
            let meanG = n > 0 ? S(sg / Double(n)) : 0
            let meanGXhat = n > 0 ? S(sgx / Double(n)) : 0
            let a = (scale?[c] ?? 1) * r
            for o in 0..<outer {
                let at = (o * groups + c) * inner
                for i in 0..<inner { dx[at + i] = a * (g[at + i] - meanG - (x[at + i] - m) * r * meanGXhat) }
            }
        }
    }
}
