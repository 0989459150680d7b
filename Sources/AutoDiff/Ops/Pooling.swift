// Pooling (NCHW and NCL, with PyTorch's options and output sizes) and constant padding. Max
// pooling is one kernel that also returns where each maximum was, so its rule is a scatter-add
// of the gradient to those places (whose own rule is a gather). Average pooling is a convolution
// of each plane with a window of ones, divided by the window sizes; adaptive average pooling is
// two products with averaging matrices; constant padding is the adjoint of a slice plus a
// constant border. Those three record only existing ops.

extension Tensor {
    /// Max pooling over windows of `kernelSize` (as `torch.nn.functional.max_pool2d`): input
    /// `[N, C, H, W]`, result `[N, C, oH, oW]`, each element the largest of its window; padding
    /// counts as −∞. `stride` defaults to the kernel size; `padding` is at most half the
    /// (dilated) kernel; `ceilMode` rounds the output size up (a last window must still start
    /// inside the input or its left padding). `oH = ⌊(H + 2·pH − dH·(kH − 1) − 1)/sH⌋ + 1`.
    ///
    /// Rule: the gradient of each output goes to the element its maximum came from, the first
    /// of equal maxima in row-major window order (PyTorch's choice).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func maxPool2d(
        kernelSize: SpatialSizes, stride: SpatialSizes? = nil, padding: SpatialSizes = 0, dilation: SpatialSizes = 1,
        ceilMode: Bool = false
    ) -> Tensor {
        maxPool(kernelSize, stride, padding, dilation, ceilMode, spatialAxes: 2, op: "maxPool2d")
    }

    /// Max pooling over `[N, C, L]` (as `torch.nn.functional.max_pool1d`); see
    /// ``maxPool2d(kernelSize:stride:padding:dilation:ceilMode:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func maxPool1d(
        kernelSize: Int, stride: Int? = nil, padding: Int = 0, dilation: Int = 1, ceilMode: Bool = false
    ) -> Tensor {
        maxPool(
            SpatialSizes([kernelSize]), stride.map { SpatialSizes([$0]) }, SpatialSizes([padding]),
            SpatialSizes([dilation]), ceilMode, spatialAxes: 1, op: "maxPool1d")
    }

    /// Average pooling over windows of `kernelSize` (as `torch.nn.functional.avg_pool2d`):
    /// input `[N, C, H, W]`, result `[N, C, oH, oW]`, each element the sum of its window divided
    /// by the window's size counted with its padding (`countIncludePad`, PyTorch's default; the
    /// window is cut at the padded edge in ceil mode) or by its elements inside the input.
    /// Options as ``maxPool2d(kernelSize:stride:padding:dilation:ceilMode:)`` (no dilation).
    ///
    /// Rule: each output's gradient spread evenly over its window (a transposed convolution).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func avgPool2d(
        kernelSize: SpatialSizes, stride: SpatialSizes? = nil, padding: SpatialSizes = 0, ceilMode: Bool = false,
        countIncludePad: Bool = true
    ) -> Tensor {
        avgPool(kernelSize, stride, padding, ceilMode, countIncludePad, spatialAxes: 2, op: "avgPool2d")
    }

    /// Average pooling over `[N, C, L]` (as `torch.nn.functional.avg_pool1d`); see
    /// ``avgPool2d(kernelSize:stride:padding:ceilMode:countIncludePad:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func avgPool1d(
        kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true
    ) -> Tensor {
        avgPool(
            SpatialSizes([kernelSize]), stride.map { SpatialSizes([$0]) }, SpatialSizes([padding]), ceilMode,
            countIncludePad, spatialAxes: 1, op: "avgPool1d")
    }

    /// Adaptive average pooling to `outputSize` (as `torch.nn.functional.adaptive_avg_pool2d`):
    /// input `[N, C, H, W]`, result `[N, C, oH, oW]`; output row `i` averages input rows
    /// `⌊i·H/oH⌋ ..< ⌈(i + 1)·H/oH⌉` (likewise columns), so windows may overlap and differ in
    /// size. An output size of 1 is global average pooling.
    ///
    /// Computed as `A_H · X · A_Wᵀ` with averaging matrices (`A[i, r] = 1/len(window i)` for `r`
    /// in window `i`); the rule is that of the two products.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func adaptiveAvgPool2d(outputSize: SpatialSizes) -> Tensor {
        guard rank == 4 else { tensorFailure("adaptiveAvgPool2d: input \(shape) must be [N, C, H, W]") }
        let sizes = outputSize.resolved(2, op: "adaptiveAvgPool2d", option: "outputSize", minimum: 1)
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        guard h >= 1, w >= 1 else { tensorFailure("adaptiveAvgPool2d: input \(shape) has an empty plane") }
        let columnsAveraged = reshaped([n * c * h, w]).matmul(
            Tensor.averagingMatrix(from: w, to: sizes[1], on: device), transposeOther: true)
        let rows = Tensor.averagingMatrix(from: h, to: sizes[0], on: device)
        return rows.matmul(columnsAveraged.reshaped([n * c, h, sizes[1]])).reshaped([n, c, sizes[0], sizes[1]])
    }

    /// Adaptive average pooling of `[N, C, L]` to `outputSize` (as
    /// `torch.nn.functional.adaptive_avg_pool1d`); see ``adaptiveAvgPool2d(outputSize:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func adaptiveAvgPool1d(outputSize: Int) -> Tensor {
        guard rank == 3 else { tensorFailure("adaptiveAvgPool1d: input \(shape) must be [N, C, L]") }
        guard outputSize >= 1 else { tensorFailure("adaptiveAvgPool1d: outputSize \(outputSize) must be at least 1") }
        guard shape[2] >= 1 else { tensorFailure("adaptiveAvgPool1d: input \(shape) is empty along L") }
        let (n, c, l) = (shape[0], shape[1], shape[2])
        return reshaped([n * c, l]).matmul(
            Tensor.averagingMatrix(from: l, to: outputSize, on: device), transposeOther: true
        ).reshaped([n, c, outputSize])
    }

    /// `[outputs, inputs]`: row `i` holds `1/len` on PyTorch's adaptive window
    /// `⌊i·inputs/outputs⌋ ..< ⌈(i + 1)·inputs/outputs⌉` and 0 elsewhere.
    static func averagingMatrix(from inputs: Int, to outputs: Int, on device: Device) -> Tensor {
        var scalars = [Scalar](repeating: 0, count: outputs * inputs)
        for i in 0..<outputs {
            let start = i * inputs / outputs
            let end = ((i + 1) * inputs + outputs - 1) / outputs
            for r in start..<end { scalars[i * inputs + r] = 1 / Scalar(end - start) }
        }
        return Tensor(shape: [outputs, inputs], scalars: scalars, on: device)
    }

    /// Pads the last `pads.count` axes with `value` (as `torch.nn.functional.pad` in constant
    /// mode): `pads[i] = (before, after)` elements are added before and after axis
    /// `rank − pads.count + i`, in axis order (PyTorch lists the last axis first). A negative
    /// amount removes that many elements instead.
    ///
    /// Rule: ∂x = the slice of G where `x` sits (the border's value is a constant).
    ///
    /// ```swift
    /// let framed = images.padded([(1, 1), (2, 2)], value: 0)   // [N, C, 28, 28] → [N, C, 30, 32]
    /// ```
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func padded(_ pads: [(before: Int, after: Int)], value: Scalar = 0) -> Tensor {
        guard pads.count <= rank else {
            tensorFailure("pad: \(pads.count) (before, after) pairs for a tensor of rank \(rank) (shape \(shape))")
        }
        let lead = rank - pads.count
        // Negative amounts crop first.
        var keep = shape.map { 0..<$0 }
        for (i, pad) in pads.enumerated() {
            let (start, end) = (Swift.max(0, -pad.before), shape[lead + i] - Swift.max(0, -pad.after))
            guard start <= end else {
                let described = pads.map { "(\($0.before), \($0.after))" }.joined(separator: ", ")
                tensorFailure("pad: padding [\(described)] crops axis \(lead + i) of shape \(shape) below zero")
            }
            keep[lead + i] = start..<end
        }
        let cropped = keep.map(\.count) == shape ? self : slice(keep)
        var fullShape = cropped.shape
        var place = cropped.shape.map { 0..<$0 }
        for (i, pad) in pads.enumerated() {
            let (before, after) = (Swift.max(0, pad.before), Swift.max(0, pad.after))
            fullShape[lead + i] += before + after
            place[lead + i] = before..<(before + cropped.shape[lead + i])
        }
        if fullShape == cropped.shape { return cropped }
        let placed = cropped.padded(into: fullShape, at: place)
        guard value != 0 else { return placed }
        // Selected rather than added, so that a border of ±∞ or NaN leaves the inside as it is.
        let inside = Tensor.ones(cropped.shape, on: device).padded(into: fullShape, at: place) .> 0.5
        return Tensor.where(inside, placed, Tensor.full(fullShape, value, on: device))
    }

    // MARK: Shared by the pooling ops

    /// A pooling's window sizes for `spatialAxes` axes: kernel, stride, padding, dilation and the
    /// output size (PyTorch's `pooling_output_shape`), each checked with one-line failures.
    private func poolingWindows(
        _ kernelSize: SpatialSizes, _ stride: SpatialSizes?, _ padding: SpatialSizes, _ dilation: SpatialSizes,
        _ ceilMode: Bool, spatialAxes: Int, op: String
    ) -> (kernel: [Int], stride: [Int], padding: [Int], dilation: [Int], output: [Int]) {
        let layout = spatialAxes == 2 ? "[N, C, H, W]" : "[N, C, L]"
        guard rank == spatialAxes + 2 else { tensorFailure("\(op): input \(shape) must be \(layout)") }
        let kernel = kernelSize.resolved(spatialAxes, op: op, option: "kernelSize", minimum: 1)
        let strides = (stride ?? kernelSize).resolved(spatialAxes, op: op, option: "stride", minimum: 1)
        let pads = padding.resolved(spatialAxes, op: op, option: "padding", minimum: 0)
        let dilations = dilation.resolved(spatialAxes, op: op, option: "dilation", minimum: 1)
        var output = [Int]()
        for axis in 0..<spatialAxes {
            let span = dilations[axis] * (kernel[axis] - 1) + 1
            guard pads[axis] <= span / 2 else {
                tensorFailure(
                    "\(op): padding \(padding) is more than half the kernel \(kernelSize) (dilation \(dilation))")
            }
            let size = shape[2 + axis]
            let room = size + 2 * pads[axis] - span
            guard room >= 0 else {
                tensorFailure(
                    "\(op): kernel \(kernelSize) (dilation \(dilation)) is larger than the padded input \(shape)")
            }
            var count = (ceilMode ? (room + strides[axis] - 1) / strides[axis] : room / strides[axis]) + 1
            // In ceil mode the last window must start inside the input or its left padding.
            if ceilMode && (count - 1) * strides[axis] >= size + pads[axis] { count -= 1 }
            output.append(count)
        }
        return (kernel, strides, pads, dilations, output)
    }

    private func maxPool(
        _ kernelSize: SpatialSizes, _ stride: SpatialSizes?, _ padding: SpatialSizes, _ dilation: SpatialSizes,
        _ ceilMode: Bool, spatialAxes: Int, op: String
    ) -> Tensor {
        let windows = poolingWindows(kernelSize, stride, padding, dilation, ceilMode, spatialAxes: spatialAxes, op: op)
        func plane(_ values: [Int], _ one: Int) -> [Int] { spatialAxes == 2 ? values : [one] + values }
        let (k, s, p, d, o) = (
            plane(windows.kernel, 1), plane(windows.stride, 1), plane(windows.padding, 0), plane(windows.dilation, 1),
            plane(windows.output, 1)
        )
        let size = plane(Array(shape[2...]), 1)
        let planes = shape[0] * shape[1]
        let geometry = Convolution2DGeometry(
            batch: shape[0], inputChannels: shape[1], outputChannels: shape[1], groups: shape[1],
            inputHeight: size[0], inputWidth: size[1], outputHeight: o[0], outputWidth: o[1], kernelHeight: k[0],
            kernelWidth: k[1], strideHeight: s[0], strideWidth: s[1], paddingTop: p[0], paddingLeft: p[1],
            dilationHeight: d[0], dilationWidth: d[1])
        let out = newBuffer(planes * o[0] * o[1])
        let chosen = backend.allocate(planes * o[0] * o[1], .int64)
        backend.maxPool2d(storage, into: out, indices: chosen, geometry)
        let indices = IndexTensor(shape: [planes, o[0] * o[1]], storage: chosen)
        let inputShape = shape
        let outShape = Array(shape[..<2]) + windows.output
        return Tensor(shape: outShape, storage: out).recorded(.maxPool2d, self) {
            .unary { g, _ in
                g.reshaped([planes, o[0] * o[1]]).scatterAdded(
                    into: [planes, size[0] * size[1]], alongAxis: 1, indices: indices
                ).reshaped(inputShape)
            }
        }
    }

    private func avgPool(
        _ kernelSize: SpatialSizes, _ stride: SpatialSizes?, _ padding: SpatialSizes, _ ceilMode: Bool,
        _ countIncludePad: Bool, spatialAxes: Int, op: String
    ) -> Tensor {
        let windows = poolingWindows(kernelSize, stride, padding, 1, ceilMode, spatialAxes: spatialAxes, op: op)
        func plane(_ values: [Int], _ one: Int) -> [Int] { spatialAxes == 2 ? values : [one] + values }
        let (k, s, p, o) = (
            plane(windows.kernel, 1), plane(windows.stride, 1), plane(windows.padding, 0), plane(windows.output, 1)
        )
        let size = plane(Array(shape[2...]), 1)
        let planes = shape[0] * shape[1]
        // Each plane summed over its windows: a one-channel convolution with a kernel of ones.
        let geometry = Convolution2DGeometry(
            batch: planes, inputChannels: 1, outputChannels: 1, groups: 1, inputHeight: size[0], inputWidth: size[1],
            outputHeight: o[0], outputWidth: o[1], kernelHeight: k[0], kernelWidth: k[1], strideHeight: s[0],
            strideWidth: s[1], paddingTop: p[0], paddingLeft: p[1], dilationHeight: 1, dilationWidth: 1)
        let sums = Tensor.convolution(
            reshaped([planes, 1, size[0], size[1]]), Tensor.ones([1, 1, k[0], k[1]], on: device), nil, geometry)
        // PyTorch's divisors: the window cut at the padded edge, or only its inside elements.
        var reciprocals = [Scalar]()
        reciprocals.reserveCapacity(o[0] * o[1])
        func extent(_ i: Int, _ axis: Int) -> (padded: Int, inside: Int) {
            let start = i * s[axis] - p[axis]
            let end = Swift.min(start + k[axis], size[axis] + p[axis])
            return (end - start, Swift.min(end, size[axis]) - Swift.max(start, 0))
        }
        for i in 0..<o[0] {
            for j in 0..<o[1] {
                let (rows, columns) = (extent(i, 0), extent(j, 1))
                let count = countIncludePad ? rows.padded * columns.padded : rows.inside * columns.inside
                reciprocals.append(1 / Scalar(count))
            }
        }
        let scale = Tensor(shape: [o[0], o[1]], scalars: reciprocals, on: device)
        return (sums * scale).reshaped(Array(shape[..<2]) + windows.output)
    }
}
