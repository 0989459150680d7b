import AutoDiff

/// Checks a pooling layer's window options: one line naming the layer otherwise.
func checkPoolingOptions(
    layer: String, axes: Int, kernelSize: SpatialSizes, stride: SpatialSizes?, padding: SpatialSizes,
    dilation: SpatialSizes = 1
) {
    checkSpatialSizes(kernelSize, axes: axes, minimum: 1, layer: layer, option: "kernelSize")
    if let stride { checkSpatialSizes(stride, axes: axes, minimum: 1, layer: layer, option: "stride") }
    checkSpatialSizes(padding, axes: axes, minimum: 0, layer: layer, option: "padding")
    checkSpatialSizes(dilation, axes: axes, minimum: 1, layer: layer, option: "dilation")
}

/// Max pooling as a layer (PyTorch's `nn.MaxPool2d`): `[N, C, H, W] → [N, C, oH, oW]` through
/// `Tensor.maxPool2d(kernelSize:stride:padding:dilation:ceilMode:)`. `stride`
/// defaults to the kernel size.
public final class MaxPool2d<Scalar: TensorScalar>: Layer {
    /// Window size, stride (`nil`: the window size), padding (−∞), dilation.
    public let kernelSize: SpatialSizes, stride: SpatialSizes?, padding: SpatialSizes, dilation: SpatialSizes
    /// Whether the output size rounds up (a last, partial window), as PyTorch's `ceil_mode`.
    public let ceilMode: Bool

    /// A layer with these options (checked here, one line naming the option otherwise).
    public init(
        kernelSize: SpatialSizes, stride: SpatialSizes? = nil, padding: SpatialSizes = 0, dilation: SpatialSizes = 1,
        ceilMode: Bool = false
    ) {
        checkPoolingOptions(
            layer: "MaxPool2d", axes: 2, kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation)
        (self.kernelSize, self.stride, self.padding, self.dilation, self.ceilMode) = (
            kernelSize, stride, padding, dilation, ceilMode
        )
    }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        input.maxPool2d(
            kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation, ceilMode: ceilMode)
    }
}

/// Max pooling over `[N, C, L]` as a layer (PyTorch's `nn.MaxPool1d`).
public final class MaxPool1d<Scalar: TensorScalar>: Layer {
    /// Window size, stride (`nil`: the window size), padding (−∞), dilation.
    public let kernelSize: Int, stride: Int?, padding: Int, dilation: Int
    /// Whether the output size rounds up (a last, partial window), as PyTorch's `ceil_mode`.
    public let ceilMode: Bool

    /// A layer with these options (checked here, one line naming the option otherwise).
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, dilation: Int = 1, ceilMode: Bool = false) {
        checkPoolingOptions(
            layer: "MaxPool1d", axes: 1, kernelSize: SpatialSizes([kernelSize]),
            stride: stride.map { SpatialSizes([$0]) },
            padding: SpatialSizes([padding]), dilation: SpatialSizes([dilation]))
        (self.kernelSize, self.stride, self.padding, self.dilation, self.ceilMode) = (
            kernelSize, stride, padding, dilation, ceilMode
        )
    }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        input.maxPool1d(
            kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation, ceilMode: ceilMode)
    }
}

/// Average pooling as a layer (PyTorch's `nn.AvgPool2d`), through
/// `Tensor.avgPool2d(kernelSize:stride:padding:ceilMode:countIncludePad:)`.
public final class AvgPool2d<Scalar: TensorScalar>: Layer {
    /// Window size, stride (`nil`: the window size), padding (zeros).
    public let kernelSize: SpatialSizes, stride: SpatialSizes?, padding: SpatialSizes
    /// Ceil mode, and whether padding counts in the divisor (PyTorch's default, true).
    public let ceilMode: Bool, countIncludePad: Bool

    /// A layer with these options (checked here, one line naming the option otherwise).
    public init(
        kernelSize: SpatialSizes, stride: SpatialSizes? = nil, padding: SpatialSizes = 0, ceilMode: Bool = false,
        countIncludePad: Bool = true
    ) {
        checkPoolingOptions(layer: "AvgPool2d", axes: 2, kernelSize: kernelSize, stride: stride, padding: padding)
        (self.kernelSize, self.stride, self.padding, self.ceilMode, self.countIncludePad) = (
            kernelSize, stride, padding, ceilMode, countIncludePad
        )
    }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        input.avgPool2d(
            kernelSize: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode,
            countIncludePad: countIncludePad)
    }
}

/// Average pooling over `[N, C, L]` as a layer (PyTorch's `nn.AvgPool1d`).
public final class AvgPool1d<Scalar: TensorScalar>: Layer {
    /// Window size, stride (`nil`: the window size), padding (zeros).
    public let kernelSize: Int, stride: Int?, padding: Int
    /// Ceil mode, and whether padding counts in the divisor (PyTorch's default, true).
    public let ceilMode: Bool, countIncludePad: Bool

    /// A layer with these options (checked here, one line naming the option otherwise).
    public init(
        kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true
    ) {
        checkPoolingOptions(
            layer: "AvgPool1d", axes: 1, kernelSize: SpatialSizes([kernelSize]),
            stride: stride.map { SpatialSizes([$0]) },
            padding: SpatialSizes([padding]))
        (self.kernelSize, self.stride, self.padding, self.ceilMode, self.countIncludePad) = (
            kernelSize, stride, padding, ceilMode, countIncludePad
        )
    }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        input.avgPool1d(
            kernelSize: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode,
            countIncludePad: countIncludePad)
    }
}

/// Adaptive average pooling to a fixed output size as a layer (PyTorch's
/// `nn.AdaptiveAvgPool2d`); an output size of 1 is global average pooling.
public final class AdaptiveAvgPool2d<Scalar: TensorScalar>: Layer {
    /// The output's height and width (one value for both).
    public let outputSize: SpatialSizes

    /// A layer pooling to `outputSize` (each value at least 1).
    public init(outputSize: SpatialSizes) {
        checkSpatialSizes(outputSize, axes: 2, minimum: 1, layer: "AdaptiveAvgPool2d", option: "outputSize")
        self.outputSize = outputSize
    }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> { input.adaptiveAvgPool2d(outputSize: outputSize) }
}

/// Adaptive average pooling of `[N, C, L]` to a fixed length as a layer (PyTorch's
/// `nn.AdaptiveAvgPool1d`).
public final class AdaptiveAvgPool1d<Scalar: TensorScalar>: Layer {
    /// The output's length.
    public let outputSize: Int

    /// A layer pooling to `outputSize` (at least 1).
    public init(outputSize: Int) {
        guard outputSize >= 1 else { tensorFailure("AdaptiveAvgPool1d: outputSize \(outputSize) must be at least 1") }
        self.outputSize = outputSize
    }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> { input.adaptiveAvgPool1d(outputSize: outputSize) }
}
