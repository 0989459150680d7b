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

    public func layerNorm(
        _ x: Buffer, rows: Int, width: Int, epsilon: Double, weight: Buffer?, bias: Buffer?, into out: Buffer,
        mean: Buffer, rstd: Buffer
    ) {
        guard x.dtype == .float32 else {
            // Double (GradCheck's type): the unfused kernels, each recorded by a capture itself.
            guard x.dtype == .float64 else { unsupported(x.dtype, "layerNorm") }
            composedLayerNorm(
                x, rows: rows, width: width, epsilon: epsilon, weight: weight, bias: bias, into: out, mean: mean,
                rstd: rstd)
            return
        }
        captureKernel {
            .layerNorm(
                x: $0.read(x), rows: rows, width: width, epsilon: epsilon, weight: weight.map($0.read),
                bias: bias.map($0.read), out: $0.write(out), mean: $0.write(mean), rstd: $0.write(rstd))
        }
        let (px, po, pm, pr) = (x.host(Float.self), out.host(Float.self), mean.host(Float.self), rstd.host(Float.self))
        let (pw, pb) = (weight?.host(Float.self), bias?.host(Float.self))
        Self.forEachGroupRange(rows, elements: x.count) { r in
            ad_layer_norm_f32(px, width, r.lowerBound, r.upperBound, epsilon, pw, pb, po, pm, pr)
        }
    }

    /// Rows per block of the layer-norm backward pass's column sums: each block's sums are its
    /// own, added block after block at the end, so the gradients of the weight and the bias do
    /// not depend on how the blocks are shared among the threads.
    static let layerNormRowsPerBlock = 64

    public func layerNormBackward(
        _ g: Buffer, _ x: Buffer, mean: Buffer, rstd: Buffer, weight: Buffer?, rows: Int, width: Int,
        into dx: Buffer, weightGradient: Buffer?, biasGradient: Buffer?
    ) {
        guard x.dtype == .float32 else {
            guard x.dtype == .float64 else { unsupported(x.dtype, "layerNormBackward") }
            composedLayerNormBackward(
                g, x, mean: mean, rstd: rstd, weight: weight, rows: rows, width: width, into: dx,
                weightGradient: weightGradient, biasGradient: biasGradient)
            return
        }
        captureKernel {
            .layerNormBackward(
                g: $0.read(g), x: $0.read(x), mean: $0.read(mean), rstd: $0.read(rstd), weight: weight.map($0.read),
                rows: rows, width: width, dx: $0.write(dx), weightGradient: weightGradient.map($0.write),
                biasGradient: biasGradient.map($0.write))
        }
        let (pg, px, pd) = (g.host(Float.self), x.host(Float.self), dx.host(Float.self))
        let (pm, pr, pw) = (mean.host(Float.self), rstd.host(Float.self), weight?.host(Float.self))
        let blockRows = Self.layerNormRowsPerBlock
        let blocks = (rows + blockRows - 1) / blockRows
        let sums = (weightGradient != nil ? 1 : 0) + (biasGradient != nil ? 1 : 0)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: Swift.max(sums * blocks * width, 1)) { scratch in
            let weightSums = weightGradient != nil ? scratch.baseAddress! : nil
            let biasSums = biasGradient != nil ? scratch.baseAddress! + (sums - 1) * blocks * width : nil
            ComputeThreads.forEachRange(of: blocks, elements: 3 * x.count, alignment: 1) { range in
                for block in range {
                    ad_layer_norm_backward_f32(
                        pg, px, pm, pr, pw, width, block * blockRows, Swift.min(rows, (block + 1) * blockRows), pd,
                        weightSums.map { $0 + block * width }, biasSums.map { $0 + block * width })
                }
            }
            // The blocks' sums added in block order (no array of the two pairs: this runs every step).
            func addBlocks(_ sums: UnsafeMutablePointer<Float>?, into gradient: Buffer?) {
                guard let sums, let gradient else { return }
                let out = gradient.host(Float.self)
                for j in 0..<width {
                    var total = 0.0
                    for block in 0..<blocks { total += Double(sums[block * width + j]) }
                    out[j] = Float(total)
                }
            }
            addBlocks(weightSums, into: weightGradient)
            addBlocks(biasSums, into: biasGradient)
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
