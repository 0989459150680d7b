// Convolution and pooling: the 2-D convolution's sum written out once per kernel (forward, its
// adjoint for the input, its adjoint for the weight) and max pooling's window walk. Each loop
// visits the terms of the forward sum in the same order, so the three read as one definition.

extension ReferenceBackend {
    public func convolution2d(
        _ input: Buffer, weight: Buffer, bias: Buffer?, into out: Buffer, _ geometry: Convolution2DGeometry
    ) {
        switch input.dtype {
        case .float32: convolution2d(input, weight, bias, out, geometry, Float.self)
        case .float64: convolution2d(input, weight, bias, out, geometry, Double.self)
        case .uint8, .int64: Self.unsupported("convolution2d", input.dtype)
        }
    }

    public func convolution2dInputGradient(
        _ gradOut: Buffer, weight: Buffer, into gradInput: Buffer, _ geometry: Convolution2DGeometry
    ) {
        switch gradOut.dtype {
        case .float32: convolution2dInputGradient(gradOut, weight, gradInput, geometry, Float.self)
        case .float64: convolution2dInputGradient(gradOut, weight, gradInput, geometry, Double.self)
        case .uint8, .int64: Self.unsupported("convolution2dInputGradient", gradOut.dtype)
        }
    }

    public func convolution2dWeightGradient(
        _ input: Buffer, gradOut: Buffer, into gradWeight: Buffer, _ geometry: Convolution2DGeometry
    ) {
        switch input.dtype {
        case .float32: convolution2dWeightGradient(input, gradOut, gradWeight, geometry, Float.self)
        case .float64: convolution2dWeightGradient(input, gradOut, gradWeight, geometry, Double.self)
        case .uint8, .int64: Self.unsupported("convolution2dWeightGradient", input.dtype)
        }
    }

    public func maxPool2d(_ input: Buffer, into out: Buffer, indices: Buffer, _ geometry: Convolution2DGeometry) {
        switch input.dtype {
        case .float32: maxPool2d(input, out, Self.indices(indices), geometry, Float.self)
        case .float64: maxPool2d(input, out, Self.indices(indices), geometry, Double.self)
        case .uint8, .int64: Self.unsupported("maxPool2d", input.dtype)
        }
    }

    /// Calls `term(n, co, i, j, inputIndex, weightIndex)` for every term of the convolution's sum
    /// whose input element lies inside the image, in the order `n`, `co`, `i`, `j`, `c`, `p`, `q`.
    /// `inputIndex` and `weightIndex` are flat row-major indices into `[N, Cin, H, W]` and
    /// `[Cout, Cin/groups, kH, kW]`; `outputIndex` into `[N, Cout, oH, oW]`.
    private static func forEachTerm(
        _ g: Convolution2DGeometry, _ term: (_ outputIndex: Int, _ inputIndex: Int, _ weightIndex: Int) -> Void
    ) {
        precondition(
            g.groups > 0 && g.inputChannels % g.groups == 0 && g.outputChannels % g.groups == 0,
            "reference: convolution2d with \(g.inputChannels) → \(g.outputChannels) channels in \(g.groups) groups")
        let (cinG, coutG) = (g.groupInputChannels, g.groupOutputChannels)
        for n in 0..<g.batch {
            for co in 0..<g.outputChannels {
                let group = co / coutG
                for i in 0..<g.outputHeight {
                    for j in 0..<g.outputWidth {
                        let outputIndex = ((n * g.outputChannels + co) * g.outputHeight + i) * g.outputWidth + j
                        for c in 0..<cinG {
                            let channel = group * cinG + c
                            for p in 0..<g.kernelHeight {
                                let row = i * g.strideHeight - g.paddingTop + p * g.dilationHeight
                                guard row >= 0 && row < g.inputHeight else { continue }
                                for q in 0..<g.kernelWidth {
                                    let column = j * g.strideWidth - g.paddingLeft + q * g.dilationWidth
                                    guard column >= 0 && column < g.inputWidth else { continue }
                                    let inputIndex =
                                        ((n * g.inputChannels + channel) * g.inputHeight + row) * g.inputWidth + column
                                    let weightIndex = ((co * cinG + c) * g.kernelHeight + p) * g.kernelWidth + q
                                    term(outputIndex, inputIndex, weightIndex)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private func convolution2d<S: TensorScalar>(
        _ input: Buffer, _ weight: Buffer, _ bias: Buffer?, _ out: Buffer, _ g: Convolution2DGeometry, _: S.Type
    ) {
        let (x, w, y) = (Self.elements(input, S.self), Self.elements(weight, S.self), Self.elements(out, S.self))
        let b = bias.map { Self.elements($0, S.self) }
        let plane = g.outputHeight * g.outputWidth
        for e in 0..<(g.batch * g.outputChannels * plane) {
            y[e] = b.map { $0[(e / plane) % g.outputChannels] } ?? 0
        }
        Self.forEachTerm(g) { o, i, k in y[o] += x[i] * w[k] }
    }

    private func convolution2dInputGradient<S: TensorScalar>(
        _ gradOut: Buffer, _ weight: Buffer, _ gradInput: Buffer, _ g: Convolution2DGeometry, _: S.Type
    ) {
        let (gy, w, gx) = (
            Self.elements(gradOut, S.self), Self.elements(weight, S.self), Self.elements(gradInput, S.self)
        )
        for e in 0..<(g.batch * g.inputChannels * g.inputHeight * g.inputWidth) { gx[e] = 0 }
        Self.forEachTerm(g) { o, i, k in gx[i] += gy[o] * w[k] }
    }

    private func convolution2dWeightGradient<S: TensorScalar>(
        _ input: Buffer, _ gradOut: Buffer, _ gradWeight: Buffer, _ g: Convolution2DGeometry, _: S.Type
    ) {
        let (x, gy, gw) = (
            Self.elements(input, S.self), Self.elements(gradOut, S.self), Self.elements(gradWeight, S.self)
        )
        for e in 0..<(g.outputChannels * g.groupInputChannels * g.kernelHeight * g.kernelWidth) { gw[e] = 0 }
        Self.forEachTerm(g) { o, i, k in gw[k] += gy[o] * x[i] }
    }

    private func maxPool2d<S: TensorScalar>(
        _ input: Buffer, _ out: Buffer, _ indices: UnsafeMutablePointer<Int>, _ g: Convolution2DGeometry, _: S.Type
    ) {
        let (x, y) = (Self.elements(input, S.self), Self.elements(out, S.self))
        let plane = g.inputHeight * g.inputWidth
        var e = 0
        for p in 0..<g.planes {
            for i in 0..<g.outputHeight {
                for j in 0..<g.outputWidth {
                    var best = -S.infinity
                    var chosen = -1
                    for a in 0..<g.kernelHeight {
                        let row = i * g.strideHeight - g.paddingTop + a * g.dilationHeight
                        guard row >= 0 && row < g.inputHeight else { continue }
                        for b in 0..<g.kernelWidth {
                            let column = j * g.strideWidth - g.paddingLeft + b * g.dilationWidth
                            guard column >= 0 && column < g.inputWidth else { continue }
                            let index = row * g.inputWidth + column
                            if chosen < 0 { chosen = index }
                            let value = x[p * plane + index]
                            if value > best || value.isNaN {
                                best = value
                                chosen = index
                            }
                        }
                    }
                    precondition(chosen >= 0, "reference: maxPool2d window (\(i), \(j)) holds no input element")
                    y[e] = best
                    indices[e] = chosen
                    e += 1
                }
            }
        }
    }
}
