/// Every primitive operation the engine records: the one list of differentiable ops.
///
/// Everything else (mean, softmax, logSumExp, losses, layers) is composed from these and needs no
/// rule of its own. The test suite fails when a case here has no finite-difference check, so a
/// new primitive cannot land without one.
public enum OpKind: String, CaseIterable, Sendable {
    // Elementwise, two tensors with broadcasting (Ops/Elementwise.swift).
    case add, subtract, multiply, divide, power, maximum, minimum, select
    // Elementwise with a Swift scalar (Ops/Elementwise.swift).
    case addScalar, multiplyScalar, powerScalar
    // Elementwise unary (Ops/Elementwise.swift).
    case negate, exp, log, sqrt, abs, sin, cos, tanh, sigmoid, relu, leakyRelu, softplus, clamp
    // Fused backward kernels that are themselves differentiable, for second derivatives.
    case tanhBackward, sigmoidBackward, reluBackward
    // Activations as single kernels, and their fused differentiable backward kernels
    // (Ops/Activations.swift).
    case gelu, silu, elu, geluBackward, siluBackward, eluBackward
    // Normalization over groups of elements, the affine part fused (Ops/Normalization.swift).
    case normalize
    // Reductions (Ops/Reduction.swift).
    case sum, max, min, logSumExp
    // Linear algebra (Ops/Matmul.swift).
    case matmul, linear
    // Convolution and its two adjoints, each differentiated by the other two (Ops/Convolution.swift);
    // max pooling, whose rule is a scatter-add (Ops/Pooling.swift; average, adaptive and padding
    // compose recorded ops).
    case conv2d, conv2dInputGradient, conv2dWeightGradient, maxPool2d
    // Inverted dropout with its mask kept as bytes (Ops/Elementwise.swift).
    case dropout
    // Losses fused into one op each (Ops/Losses.swift).
    case sigmoidCrossEntropy, softmaxCrossEntropy
    // Shape and indexing (Ops/ShapeOps.swift).
    case reshape, permute, expand, slice, sliceBackward, concat, gather, scatterAdd, indexSelect, indexAdd
    // A copy to another device (Tensor.swift, `to(_:)`).
    case transfer
    // A user-defined op (Engine/CustomOp.swift).
    case custom
}
