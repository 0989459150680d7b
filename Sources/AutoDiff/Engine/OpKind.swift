/// Every primitive operation the engine records: the one list of differentiable ops.
///
/// Everything else (mean, softmax, logSumExp, losses, layers) is composed from these and needs no
/// rule of its own. The test suite fails when a case here has no finite-difference check, so a
/// new primitive cannot land without one.
public enum OpKind: String, CaseIterable, Sendable {
    // Elementwise, two tensors with broadcasting (Ops/Elementwise.swift).
    /// `a + b`.
    case add
    /// `a − b`.
    case subtract
    /// `a ⊙ b`, elementwise.
    case multiply
    /// `a / b`, elementwise.
    case divide
    /// `aᵇ`, elementwise (``Tensor/pow(_:_:)``).
    case power
    /// `max(a, b)`, elementwise (``Tensor/maximum(_:_:)``).
    case maximum
    /// `min(a, b)`, elementwise (``Tensor/minimum(_:_:)``).
    case minimum
    /// `mask ? a : b`, elementwise (``Tensor/where(_:_:_:)``).
    case select

    // Elementwise with a Swift scalar (Ops/Elementwise.swift).
    /// `a + c` for a scalar `c` (also `a − c`).
    case addScalar
    /// `c·a` for a scalar `c` (also `a / c`).
    case multiplyScalar
    /// `xᵖ` for a scalar `p` (``Tensor/pow(_:)``, ``Tensor/squared()``).
    case powerScalar

    // Elementwise unary (Ops/Elementwise.swift).
    /// `−x`.
    case negate
    /// `eˣ` (``Tensor/exp()``).
    case exp
    /// `ln x` (``Tensor/log()``).
    case log
    /// `√x` (``Tensor/sqrt()``).
    case sqrt
    /// `|x|` (``Tensor/abs()``).
    case abs
    /// `sin x` (``Tensor/sin()``).
    case sin
    /// `cos x` (``Tensor/cos()``).
    case cos
    /// `tanh x` (``Tensor/tanh()``).
    case tanh
    /// `σ(x) = 1/(1 + e⁻ˣ)` (``Tensor/sigmoid()``).
    case sigmoid
    /// `max(x, 0)` (``Tensor/relu()``).
    case relu
    /// `x` where `x > 0`, else `slope·x` (``Tensor/leakyRelu(slope:)``).
    case leakyRelu
    /// `ln(1 + eˣ)`, computed stably (``Tensor/softplus()``).
    case softplus
    /// `x` limited to `[min, max]` (``Tensor/clamped(min:max:)``).
    case clamp

    // Fused backward kernels that are themselves differentiable, for second derivatives.
    /// `g·(1 − y²)`: tanh's VJP from its output `y`.
    case tanhBackward
    /// `g·y·(1 − y)`: sigmoid's VJP from its output `y`.
    case sigmoidBackward
    /// `g` where `x > 0`, else 0: relu's VJP.
    case reluBackward

    // Activations as single kernels, and their fused differentiable backward kernels
    // (Ops/Activations.swift).
    /// `x·Φ(x)`, exact or tanh-approximated (``Tensor/gelu(approximate:)``).
    case gelu
    /// `x·σ(x)` (``Tensor/silu()``).
    case silu
    /// `x` for `x > 0`, else `α·(eˣ − 1)` (``Tensor/elu(alpha:)``).
    case elu
    /// `g·GELU′(x)`: GELU's VJP.
    case geluBackward
    /// `g·SiLU′(x)`: SiLU's VJP.
    case siluBackward
    /// `g·ELU′(x)`: ELU's VJP.
    case eluBackward

    // Normalization over groups of elements, the affine part fused (Ops/Normalization.swift).
    /// `(x − μ)/√(σ² + ε)` per group, then an optional per-group scale and shift (BatchNorm,
    /// LayerNorm, GroupNorm).
    case normalize
    /// `(x − μ)/√(σ² + ε)·weight + bias` per row, the affine map per column fused
    /// (``Tensor/layerNorm(normalizedShape:weight:bias:epsilon:)`` with a weight or a bias).
    case layerNorm

    // Attention, forward and backward fused (Ops/Attention.swift).
    /// `softmax(scale·Q·Kᵀ + mask)·V` over the last two axes, causal or with an additive mask
    /// (``Tensor/scaledDotProductAttention(query:key:value:mask:causal:scale:)``).
    case scaledDotProductAttention

    // Reductions (Ops/Reduction.swift).
    /// `Σ x` over some or all axes (``Tensor/sum(alongAxes:keepDims:)``).
    case sum
    /// The largest element over some or all axes (``Tensor/max(alongAxes:keepDims:)``).
    case max
    /// The smallest element over some or all axes (``Tensor/min(alongAxes:keepDims:)``).
    case min
    /// `ln Σ eˣ` over some or all axes, in one stable kernel (``Tensor/logSumExp(alongAxes:keepDims:)``).
    case logSumExp

    // Linear algebra (Ops/Matmul.swift).
    /// A matrix product, either side optionally transposed (``Tensor/matmul(_:transposeSelf:transposeOther:)``).
    case matmul
    /// `x·W + b` in one kernel (``Tensor/linear(_:weight:bias:)``).
    case linear

    // Convolution and its two adjoints, each differentiated by the other two (Ops/Convolution.swift);
    // max pooling, whose rule is a scatter-add (Ops/Pooling.swift; average, adaptive and padding
    // compose recorded ops).
    /// A 2-D convolution (cross-correlation) with stride, padding, dilation and groups (``Tensor/conv2d(_:weight:bias:stride:padding:dilation:groups:)``).
    case conv2d
    /// A convolution's gradient with respect to its input (a transposed convolution).
    case conv2dInputGradient
    /// A convolution's gradient with respect to its weight.
    case conv2dWeightGradient
    /// The largest element of each pooling window (``Tensor/maxPool2d(kernelSize:stride:padding:dilation:ceilMode:)``).
    case maxPool2d

    // Inverted dropout with its mask kept as bytes (Ops/Elementwise.swift).
    /// Inverted dropout (``Tensor/dropout(rate:generator:)-(_,RandomGenerator)``).
    case dropout

    // Losses fused into one op each (Ops/Losses.swift).
    /// Binary cross-entropy on logits (``Tensor/sigmoidCrossEntropy(logits:targets:)``).
    case sigmoidCrossEntropy
    /// Softmax cross-entropy on logits and class labels (``Tensor/softmaxCrossEntropy(logits:labels:)-(_,IndexTensor)``).
    case softmaxCrossEntropy

    // Shape and indexing (Ops/ShapeOps.swift).
    /// The same elements in another shape (``Tensor/reshaped(_:)``).
    case reshape
    /// Axes reordered (``Tensor/permuted(_:)``).
    case permute
    /// Size-1 axes repeated to a larger shape (``Tensor/expanded(to:)``).
    case expand
    /// A rectangular part (``Tensor/slice(_:)``).
    case slice
    /// A slice's gradient: `g` placed into zeros of the input's shape.
    case sliceBackward
    /// Tensors joined along an axis (``Tensor/concat(_:alongAxis:)``).
    case concat
    /// One element per row picked along an axis (``Tensor/gather(alongAxis:indices:)-(_,IndexTensor)``).
    case gather
    /// A gather's gradient: values added into zeros at the gathered positions.
    case scatterAdd
    /// Whole slices picked along an axis, repeats allowed (``Tensor/indexSelect(alongAxis:indices:)-(_,IndexTensor)``).
    case indexSelect
    /// An index select's gradient: slices added into zeros at their indices.
    case indexAdd

    // A copy to another device (Tensor.swift, `to(_:)`).
    /// A copy to another device (``Tensor/to(_:)``).
    case transfer

    // A user-defined op (Engine/CustomOp.swift).
    /// An op defined with ``Tensor/customOp(name:inputs:forward:vjp:)``.
    case custom
}
