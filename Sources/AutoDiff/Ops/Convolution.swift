// Convolutions (NCHW and NCL, as PyTorch) and their derivative rules. One op and two adjoints
// share a geometry and close under differentiation: the convolution's input gradient is a
// transposed convolution of the upstream gradient with the weight, its weight gradient a
// correlation of the input with the upstream gradient, and each of those two is, in turn,
// differentiated by the other two, so gradients of gradients work to any order.

/// One number per spatial axis of a convolution or pooling option (height then width for 2-D);
/// a single number applies to every axis, as PyTorch's `int | tuple` arguments.
///
/// ```swift
/// Tensor.conv2d(x, weight: w, stride: 2, dilation: [1, 2])
/// ```
public struct SpatialSizes: Sendable, Equatable, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral,
    CustomStringConvertible
{
    /// One value per spatial axis, or one value for all of them.
    public var values: [Int]

    /// The given values: one for every axis, or one per axis.
    public init(_ values: [Int]) { self.values = values }
    /// The same value for every axis (`stride: 2`).
    public init(integerLiteral value: Int) { values = [value] }
    /// One value per axis (`stride: [2, 1]`).
    public init(arrayLiteral elements: Int...) { values = elements }

    /// The one value, or the list of them.
    public var description: String { values.count == 1 ? "\(values[0])" : "\(values)" }

    /// The values for `axes` spatial axes, or a one-line failure naming `op` and `option` when
    /// there are neither one nor `axes` of them or one is below `minimum`.
    func resolved(_ axes: Int, op: String, option: String, minimum: Int) -> [Int] {
        guard values.count == 1 || values.count == axes else {
            tensorFailure("\(op): \(option) \(self) needs 1 or \(axes) values")
        }
        if let bad = values.first(where: { $0 < minimum }) {
            tensorFailure("\(op): \(option) \(self) has \(bad); every value must be at least \(minimum)")
        }
        return values.count == 1 ? Array(repeating: values[0], count: axes) : values
    }
}

/// Zeros around a convolution's input: a number of zeros on each side of each spatial axis, or
/// PyTorch's `"same"`.
public enum ConvolutionPadding: Sendable, Equatable, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral {
    /// `before[i]` zeros before and `after[i]` after spatial axis `i` (one value: every axis).
    case explicit(before: SpatialSizes, after: SpatialSizes)
    /// The output has the input's size (stride 1 only): `d·(k − 1)` zeros per axis, half of them
    /// (rounded down) before and the rest after, as PyTorch's `padding="same"`.
    case same

    /// `n` zeros on both sides of every spatial axis (PyTorch's `padding=n`).
    public init(integerLiteral n: Int) { self = .explicit(before: SpatialSizes([n]), after: SpatialSizes([n])) }
    /// `sizes[i]` zeros on both sides of spatial axis `i` (PyTorch's `padding=(pH, pW)`).
    public init(arrayLiteral sizes: Int...) {
        self = .explicit(before: SpatialSizes(sizes), after: SpatialSizes(sizes))
    }
    /// No padding (PyTorch's `padding="valid"`).
    public static let valid = ConvolutionPadding.explicit(before: 0, after: 0)
}

extension Tensor {
    /// A 2-D convolution (cross-correlation, as `torch.nn.functional.conv2d`): `input`
    /// `[N, Cin, H, W]`, `weight` `[Cout, Cin/groups, kH, kW]`, optional `bias` `[Cout]`, result
    /// `[N, Cout, oH, oW]` with
    ///
    /// `out[n, co, i, j] = bias[co] + Σ_{c, p, q} x[n, g·Cin/groups + c, i·sH − padTop + p·dH,
    /// j·sW − padLeft + q·dW] · weight[co, c, p, q]` (`g` the group of `co`, `x` zero outside),
    ///
    /// `oH = ⌊(H + padTop + padBottom − dH·(kH − 1) − 1)/sH⌋ + 1` (likewise `oW`). `groups = Cin`
    /// with `Cout = k·Cin` is a depthwise convolution.
    ///
    /// Rules: ∂input = the transposed convolution of G with the weight, ∂weight = the correlation
    /// of the input with G summed over the batch, ∂bias = G summed over N, oH, oW; the first two
    /// are recorded ops, differentiable again.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func conv2d(
        _ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: SpatialSizes = 1,
        padding: ConvolutionPadding = 0, dilation: SpatialSizes = 1, groups: Int = 1
    ) -> Tensor {
        convolution(
            input, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups,
            spatialAxes: 2, op: "conv2d")
    }

    /// A 1-D convolution (as `torch.nn.functional.conv1d`): `input` `[N, Cin, L]`, `weight`
    /// `[Cout, Cin/groups, k]`, optional `bias` `[Cout]`, result `[N, Cout, oL]`; the 2-D
    /// convolution with a height of 1 (see ``conv2d(_:weight:bias:stride:padding:dilation:groups:)``).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func conv1d(
        _ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: SpatialSizes = 1,
        padding: ConvolutionPadding = 0, dilation: SpatialSizes = 1, groups: Int = 1
    ) -> Tensor {
        convolution(
            input, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups,
            spatialAxes: 1, op: "conv1d")
    }

    /// Checks a convolution's arguments (one-line failures naming `op`), works out its geometry
    /// and runs it on 2-D planes (1-D inputs get a height of 1).
    static func convolution(
        _ input: Tensor, weight: Tensor, bias: Tensor?, stride: SpatialSizes, padding: ConvolutionPadding,
        dilation: SpatialSizes, groups: Int, spatialAxes: Int, op: String
    ) -> Tensor {
        let rank = spatialAxes + 2
        let layout = spatialAxes == 2 ? "[N, C, H, W]" : "[N, C, L]"
        guard input.rank == rank else { tensorFailure("\(op): input \(input.shape) must be \(layout)") }
        guard weight.rank == rank else {
            tensorFailure("\(op): weight \(weight.shape) must have rank \(rank) ([Cout, Cin/groups, kernel…])")
        }
        let (batch, inChannels, outChannels) = (input.shape[0], input.shape[1], weight.shape[0])
        guard groups >= 1 else { tensorFailure("\(op): groups \(groups) must be at least 1") }
        guard inChannels % groups == 0, outChannels % groups == 0 else {
            tensorFailure(
                "\(op): \(inChannels) input and \(outChannels) output channels are not both divisible by groups \(groups)"
            )
        }
        guard weight.shape[1] == inChannels / groups else {
            tensorFailure(
                "\(op): weight \(weight.shape) needs \(inChannels / groups) input channels per group (input \(input.shape), groups \(groups))"
            )
        }
        if let bias, bias.shape != [outChannels] {
            tensorFailure("\(op): bias \(bias.shape) must be [\(outChannels)] (one per output channel)")
        }
        input.checkSameDevice(weight, op)
        if let bias { input.checkSameDevice(bias, op) }
        let strides = stride.resolved(spatialAxes, op: op, option: "stride", minimum: 1)
        let dilations = dilation.resolved(spatialAxes, op: op, option: "dilation", minimum: 1)
        let kernel = Array(weight.shape[2...])
        let size = Array(input.shape[2...])
        let before: [Int]
        let after: [Int]
        switch padding {
        case .same:
            if strides.contains(where: { $0 != 1 }) {
                tensorFailure("\(op): padding \"same\" needs stride 1, got stride \(stride) (as PyTorch)")
            }
            let total = (0..<spatialAxes).map { dilations[$0] * (kernel[$0] - 1) }
            before = total.map { $0 / 2 }
            after = zip(total, before).map { $0 - $1 }
        case .explicit(let b, let a):
            before = b.resolved(spatialAxes, op: op, option: "padding", minimum: 0)
            after = a.resolved(spatialAxes, op: op, option: "padding", minimum: 0)
        }
        var outSize = [Int]()
        for axis in 0..<spatialAxes {
            let span = dilations[axis] * (kernel[axis] - 1) + 1
            let padded = size[axis] + before[axis] + after[axis]
            guard kernel[axis] >= 1, padded >= span else {
                tensorFailure(
                    "\(op): kernel \(kernel) with dilation \(dilation) spans more than the padded input \(size) (padding \(before) before, \(after) after)"
                )
            }
            outSize.append((padded - span) / strides[axis] + 1)
        }
        // 1-D is 2-D with a height of 1: kernel height 1, no padding, stride and dilation 1.
        func plane(_ values: [Int], _ one: Int) -> [Int] { spatialAxes == 2 ? values : [one] + values }
        let (s, d, k, hw, o, pb) = (
            plane(strides, 1), plane(dilations, 1), plane(kernel, 1), plane(size, 1), plane(outSize, 1),
            plane(before, 0)
        )
        let geometry = Convolution2DGeometry(
            batch: batch, inputChannels: inChannels, outputChannels: outChannels, groups: groups, inputHeight: hw[0],
            inputWidth: hw[1], outputHeight: o[0], outputWidth: o[1], kernelHeight: k[0], kernelWidth: k[1],
            strideHeight: s[0], strideWidth: s[1], paddingTop: pb[0], paddingLeft: pb[1], dilationHeight: d[0],
            dilationWidth: d[1])
        if spatialAxes == 2 { return convolution(input, weight, bias, geometry) }
        let planeInput = input.reshaped([batch, inChannels, 1, size[0]])
        let planeWeight = weight.reshaped([outChannels, inChannels / groups, 1, kernel[0]])
        return convolution(planeInput, planeWeight, bias, geometry).reshaped([batch, outChannels, outSize[0]])
    }

    /// The convolution of checked 4-D operands with `geometry` (``Backend/convolution2d(_:weight:bias:into:_:)``),
    /// recorded as ``OpKind/conv2d``.
    static func convolution(_ x: Tensor, _ weight: Tensor, _ bias: Tensor?, _ g: Convolution2DGeometry) -> Tensor {
        let out = x.newBuffer(g.batch * g.outputChannels * g.outputHeight * g.outputWidth)
        x.backend.convolution2d(x.storage, weight: weight.storage, bias: bias?.storage, into: out, g)
        let result = Tensor(shape: [g.batch, g.outputChannels, g.outputHeight, g.outputWidth], storage: out)
        return result.recorded(.conv2d, bias.map { [x, weight, $0] } ?? [x, weight]) {
            .nary { gy, _ in
                [
                    x.requiresGrad ? convolutionInputGradient(gy, weight, g) : nil,
                    weight.requiresGrad ? convolutionWeightGradient(x, gy, g) : nil,
                    bias.map { $0.requiresGrad ? gy.sum(alongAxes: [0, 2, 3]) : nil } ?? nil,
                ]
            }
        }
    }

    /// The convolution's adjoint for its input, a transposed convolution of `gradOut`
    /// (`[N, Cout, oH, oW]`) with `weight`: `[N, Cin, H, W]`
    /// (``Backend/convolution2dInputGradient(_:weight:into:_:)``). It is linear in both
    /// operands: for an upstream H, ∂gradOut = conv(H, weight) and ∂weight = the weight gradient
    /// of input H against `gradOut`.
    static func convolutionInputGradient(_ gradOut: Tensor, _ weight: Tensor, _ g: Convolution2DGeometry) -> Tensor {
        let out = gradOut.newBuffer(g.batch * g.inputChannels * g.inputHeight * g.inputWidth)
        gradOut.backend.convolution2dInputGradient(gradOut.storage, weight: weight.storage, into: out, g)
        let result = Tensor(shape: [g.batch, g.inputChannels, g.inputHeight, g.inputWidth], storage: out)
        return result.recorded(.conv2dInputGradient, gradOut, weight) {
            .binary { h, _, wantGradOut, wantWeight in
                (
                    wantGradOut ? convolution(h, weight, nil, g) : nil,
                    wantWeight ? convolutionWeightGradient(h, gradOut, g) : nil
                )
            }
        }
    }

    /// The convolution's adjoint for its weight: the correlation of `input` with `gradOut`
    /// summed over the batch, `[Cout, Cin/groups, kH, kW]`
    /// (``Backend/convolution2dWeightGradient(_:gradOut:into:_:)``). For an upstream H,
    /// ∂input = the input gradient of `gradOut` through weight H, ∂gradOut = conv(input, H).
    static func convolutionWeightGradient(_ input: Tensor, _ gradOut: Tensor, _ g: Convolution2DGeometry) -> Tensor {
        let shape = [g.outputChannels, g.groupInputChannels, g.kernelHeight, g.kernelWidth]
        let out = input.newBuffer(ShapeMath.count(shape))
        input.backend.convolution2dWeightGradient(input.storage, gradOut: gradOut.storage, into: out, g)
        return Tensor(shape: shape, storage: out).recorded(.conv2dWeightGradient, input, gradOut) {
            .binary { h, _, wantInput, wantGradOut in
                (
                    wantInput ? convolutionInputGradient(gradOut, h, g) : nil,
                    wantGradOut ? convolution(input, h, nil, g) : nil
                )
            }
        }
    }
}
