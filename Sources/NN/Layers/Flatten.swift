import AutoDiff

/// Merges the axes `startDim...endDim` into one (PyTorch's `nn.Flatten`; by default every axis
/// but the batch axis: `[N, C, H, W] → [N, C·H·W]`). A reshape: no copy.
public final class Flatten<Scalar: TensorScalar>: Layer {
    /// The first axis merged (negative counts from the end).
    public let startDim: Int
    /// The last axis merged (negative counts from the end).
    public let endDim: Int

    /// A layer merging axes `startDim` through `endDim` (by default all but the first).
    public init(startDim: Int = 1, endDim: Int = -1) {
        self.startDim = startDim
        self.endDim = endDim
    }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        input.flattened(from: startDim, through: endDim)
    }
}
