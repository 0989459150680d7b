import AutoDiff

// The optimizers' inner loops are AutoDiff's fused update kernels (`UpdateKernel`), reached
// through the element type's kernels so they run specialised for its precision even from the
// unspecialised generic code of an optimizer class.

/// `1 − lr·λ`: the decoupled weight-decay factor applied to the weight before every update.
@inline(__always)
func decayFactor<S: TensorScalar>(_ lr: Double, _ weightDecay: Double) -> S { S(1 - lr * weightDecay) }

/// Runs one fused update of `weights` with `gradient` and the rule's state buffers.
@inline(__always)
func applyUpdate<S: TensorScalar>(
    _ rule: UpdateKernel<S>, _ weights: UnsafeMutableBufferPointer<S>, _ gradient: UnsafeBufferPointer<S>,
    _ state: [UnsafeMutablePointer<S>]
) {
    state.withUnsafeBufferPointer { buffers in
        S.update(rule, weights.baseAddress!, gradient.baseAddress!, buffers, weights.count)
    }
}
