import AutoDiff

/// Stops with one line naming `layer` and `option` unless `sizes` holds one value or one per
/// spatial axis (`axes`), each at least `minimum`.
func checkSpatialSizes(_ sizes: SpatialSizes, axes: Int, minimum: Int, layer: String, option: String) {
    guard sizes.values.count == 1 || sizes.values.count == axes else {
        tensorFailure("\(layer): \(option) \(sizes) needs 1 or \(axes) values")
    }
    if let bad = sizes.values.first(where: { $0 < minimum }) {
        tensorFailure("\(layer): \(option) \(sizes) has \(bad); every value must be at least \(minimum)")
    }
}

/// PyTorch's default initialization of a convolution (kaiming-uniform with a = √5): weight and
/// bias both uniform in `±1/√fanIn`, `fanIn = inChannels/groups · kernel elements`.
func pytorchConvolutionParameters<Scalar: TensorScalar>(
    _ weightShape: [Int], bias: Bool, generator: inout RandomGenerator
) -> (weight: Tensor<Scalar>, bias: Tensor<Scalar>?) {
    let fanIn = weightShape.dropFirst().reduce(1, *)
    let bound = Scalar(1 / Double(fanIn).squareRoot())
    let weight = Tensor<Scalar>.randomUniform(weightShape, low: -bound, high: bound, generator: &generator)
    let b = bias ? Tensor<Scalar>.randomUniform([weightShape[0]], low: -bound, high: bound, generator: &generator) : nil
    return (weight, b)
}

/// Checks a convolution layer's options and weight shape: one line naming the layer otherwise.
func checkConvolutionOptions(
    layer: String, axes: Int, inChannels: Int, outChannels: Int, kernel: [Int], stride: SpatialSizes,
    padding: ConvolutionPadding, dilation: SpatialSizes, groups: Int
) {
    guard inChannels > 0, outChannels > 0 else {
        tensorFailure("\(layer): channels must be positive, got \(inChannels) → \(outChannels)")
    }
    guard groups >= 1, inChannels % groups == 0, outChannels % groups == 0 else {
        tensorFailure(
            "\(layer): groups \(groups) must divide both \(inChannels) input and \(outChannels) output channels")
    }
    if let bad = kernel.first(where: { $0 < 1 }) {
        tensorFailure("\(layer): kernelSize \(kernel) has \(bad); every value must be at least 1")
    }
    checkSpatialSizes(stride, axes: axes, minimum: 1, layer: layer, option: "stride")
    checkSpatialSizes(dilation, axes: axes, minimum: 1, layer: layer, option: "dilation")
    switch padding {
    case .same:
        if stride.values.contains(where: { $0 != 1 }) {
            tensorFailure("\(layer): padding \"same\" needs stride 1, got stride \(stride) (as PyTorch)")
        }
    case .explicit(let before, let after):
        checkSpatialSizes(before, axes: axes, minimum: 0, layer: layer, option: "padding")
        checkSpatialSizes(after, axes: axes, minimum: 0, layer: layer, option: "padding")
    }
}

/// A 2-D convolution layer (PyTorch's `nn.Conv2d`): `[N, inChannels, H, W] → [N, outChannels,
/// oH, oW]` through `Tensor.conv2d(_:weight:bias:stride:padding:dilation:groups:)`.
///
/// Parameters `weight` `[outChannels, inChannels/groups, kH, kW]` and `bias` `[outChannels]`
/// (when `bias` is true), named and laid out as PyTorch's, initialized as PyTorch's: uniform in
/// `±1/√fanIn` with `fanIn = inChannels/groups · kH · kW` (kaiming-uniform with a = √5).
public final class Conv2d<Scalar: TensorScalar>: Layer {
    /// The kernels, `[outChannels, inChannels/groups, kH, kW]`, named `weight`.
    public let weight: Parameter<Scalar>
    /// One value per output channel, named `bias`; `nil` for a layer without bias.
    public let bias: Parameter<Scalar>?
    /// Steps between windows (height, width; one value for both).
    public let stride: SpatialSizes
    /// Zeros around the input, or `"same"`.
    public let padding: ConvolutionPadding
    /// Steps between kernel taps.
    public let dilation: SpatialSizes
    /// Channel groups (`inChannels` for a depthwise convolution).
    public let groups: Int

    /// A layer with PyTorch's default initialization drawn from `generator`.
    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: SpatialSizes, stride: SpatialSizes = 1,
        padding: ConvolutionPadding = 0, dilation: SpatialSizes = 1, groups: Int = 1, bias: Bool = true,
        generator: inout RandomGenerator
    ) {
        checkSpatialSizes(kernelSize, axes: 2, minimum: 1, layer: "Conv2d", option: "kernelSize")
        let kernel = kernelSize.values.count == 1 ? [kernelSize.values[0], kernelSize.values[0]] : kernelSize.values
        checkConvolutionOptions(
            layer: "Conv2d", axes: 2, inChannels: inChannels, outChannels: outChannels, kernel: kernel,
            stride: stride, padding: padding, dilation: dilation, groups: groups)
        let initial: (weight: Tensor<Scalar>, bias: Tensor<Scalar>?) = pytorchConvolutionParameters(
            [outChannels, inChannels / groups] + kernel, bias: bias, generator: &generator)
        weight = Parameter(initial.weight, role: .weight)
        self.bias = initial.bias.map { Parameter($0, role: .bias) }
        (self.stride, self.padding, self.dilation, self.groups) = (stride, padding, dilation, groups)
    }

    /// A layer with the given weight `[out, in/groups, kH, kW]` and optional bias `[out]` (copied
    /// into new leaves).
    public init(
        weight: Tensor<Scalar>, bias: Tensor<Scalar>?, stride: SpatialSizes = 1, padding: ConvolutionPadding = 0,
        dilation: SpatialSizes = 1, groups: Int = 1
    ) {
        guard weight.rank == 4, bias.map({ $0.shape == [weight.shape[0]] }) ?? true else {
            tensorFailure(
                "Conv2d: weight \(weight.shape) and bias \(bias?.shape ?? []) do not fit (need [out, in/groups, kH, kW] and [out])"
            )
        }
        checkConvolutionOptions(
            layer: "Conv2d", axes: 2, inChannels: weight.shape[1] * groups, outChannels: weight.shape[0],
            kernel: Array(weight.shape[2...]), stride: stride, padding: padding, dilation: dilation, groups: groups)
        self.weight = Parameter(weight, role: .weight)
        self.bias = bias.map { Parameter($0, role: .bias) }
        (self.stride, self.padding, self.dilation, self.groups) = (stride, padding, dilation, groups)
    }

    /// Input channels (`weight.shape[1] · groups`).
    public var inChannels: Int { weight.shape[1] * groups }
    /// Output channels.
    public var outChannels: Int { weight.shape[0] }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        Tensor.conv2d(
            input, weight: weight.value, bias: bias?.value, stride: stride, padding: padding, dilation: dilation,
            groups: groups)
    }

    public var ownParameters: [(name: String, parameter: Parameter<Scalar>)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }
}

/// A 1-D convolution layer (PyTorch's `nn.Conv1d`): `[N, inChannels, L] → [N, outChannels, oL]`
/// through `Tensor.conv1d(_:weight:bias:stride:padding:dilation:groups:)`; `weight`
/// `[outChannels, inChannels/groups, kernelSize]`, `bias` `[outChannels]`, initialized as
/// ``Conv2d``.
public final class Conv1d<Scalar: TensorScalar>: Layer {
    /// The kernels, `[outChannels, inChannels/groups, k]`, named `weight`.
    public let weight: Parameter<Scalar>
    /// One value per output channel, named `bias`; `nil` for a layer without bias.
    public let bias: Parameter<Scalar>?
    /// Step between windows.
    public let stride: Int
    /// Zeros around the input, or `"same"`.
    public let padding: ConvolutionPadding
    /// Step between kernel taps.
    public let dilation: Int
    /// Channel groups.
    public let groups: Int

    /// A layer with PyTorch's default initialization drawn from `generator`.
    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: ConvolutionPadding = 0,
        dilation: Int = 1, groups: Int = 1, bias: Bool = true, generator: inout RandomGenerator
    ) {
        checkConvolutionOptions(
            layer: "Conv1d", axes: 1, inChannels: inChannels, outChannels: outChannels, kernel: [kernelSize],
            stride: SpatialSizes([stride]), padding: padding, dilation: SpatialSizes([dilation]), groups: groups)
        let initial: (weight: Tensor<Scalar>, bias: Tensor<Scalar>?) = pytorchConvolutionParameters(
            [outChannels, inChannels / groups, kernelSize], bias: bias, generator: &generator)
        weight = Parameter(initial.weight, role: .weight)
        self.bias = initial.bias.map { Parameter($0, role: .bias) }
        (self.stride, self.padding, self.dilation, self.groups) = (stride, padding, dilation, groups)
    }

    /// A layer with the given weight `[out, in/groups, k]` and optional bias `[out]` (copied into
    /// new leaves).
    public init(
        weight: Tensor<Scalar>, bias: Tensor<Scalar>?, stride: Int = 1, padding: ConvolutionPadding = 0,
        dilation: Int = 1, groups: Int = 1
    ) {
        guard weight.rank == 3, bias.map({ $0.shape == [weight.shape[0]] }) ?? true else {
            tensorFailure(
                "Conv1d: weight \(weight.shape) and bias \(bias?.shape ?? []) do not fit (need [out, in/groups, k] and [out])"
            )
        }
        checkConvolutionOptions(
            layer: "Conv1d", axes: 1, inChannels: weight.shape[1] * groups, outChannels: weight.shape[0],
            kernel: [weight.shape[2]], stride: SpatialSizes([stride]), padding: padding,
            dilation: SpatialSizes([dilation]), groups: groups)
        self.weight = Parameter(weight, role: .weight)
        self.bias = bias.map { Parameter($0, role: .bias) }
        (self.stride, self.padding, self.dilation, self.groups) = (stride, padding, dilation, groups)
    }

    /// Input channels (`weight.shape[1] · groups`).
    public var inChannels: Int { weight.shape[1] * groups }
    /// Output channels.
    public var outChannels: Int { weight.shape[0] }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        Tensor.conv1d(
            input, weight: weight.value, bias: bias?.value, stride: SpatialSizes([stride]), padding: padding,
            dilation: SpatialSizes([dilation]), groups: groups)
    }

    public var ownParameters: [(name: String, parameter: Parameter<Scalar>)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }
}
