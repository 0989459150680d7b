import AutoDiff

// The optimizers' inner loops: one pass over a parameter, its gradient and its state. They are
// generic functions with `@_specialize` for Float and Double, so a caller in another module
// (whose generic code runs unspecialised) still gets a loop compiled for its precision.

/// `w ← w·(1 − lr·λ)` fused in front of every update (decoupled weight decay).
@inline(__always)
func decayFactor<S: TensorScalar>(_ lr: Double, _ weightDecay: Double) -> S { S(1 - lr * weightDecay) }

@_specialize(where S == Float)
@_specialize(where S == Double)
func sgdKernel<S: TensorScalar>(
    _ w: UnsafeMutablePointer<S>, _ g: UnsafePointer<S>, _ buf: UnsafeMutablePointer<S>, _ n: Int,
    lr: S, decay: S, momentum: S, nesterov: Bool
) {
    if momentum == 0 {
        for i in 0..<n { w[i] = w[i] * decay - lr * g[i] }
    } else if nesterov {
        for i in 0..<n {
            let b = momentum * buf[i] + g[i]
            buf[i] = b
            w[i] = w[i] * decay - lr * (g[i] + momentum * b)
        }
    } else {
        for i in 0..<n {
            let b = momentum * buf[i] + g[i]
            buf[i] = b
            w[i] = w[i] * decay - lr * b
        }
    }
}

@_specialize(where S == Float)
@_specialize(where S == Double)
func adagradKernel<S: TensorScalar>(
    _ w: UnsafeMutablePointer<S>, _ g: UnsafePointer<S>, _ sum: UnsafeMutablePointer<S>, _ n: Int,
    lr: S, decay: S, epsilon: S
) {
    for i in 0..<n {
        let s = sum[i] + g[i] * g[i]
        sum[i] = s
        w[i] = w[i] * decay - lr * g[i] / (s.squareRoot() + epsilon)
    }
}

@_specialize(where S == Float)
@_specialize(where S == Double)
func rmspropKernel<S: TensorScalar>(
    _ w: UnsafeMutablePointer<S>, _ g: UnsafePointer<S>, _ avg: UnsafeMutablePointer<S>, _ n: Int,
    lr: S, decay: S, rho: S, epsilon: S
) {
    let oneMinusRho = 1 - rho
    for i in 0..<n {
        let a = rho * avg[i] + oneMinusRho * g[i] * g[i]
        avg[i] = a
        w[i] = w[i] * decay - lr * g[i] / (a.squareRoot() + epsilon)
    }
}

/// Adam / AdamW / AMSGrad. `c1 = 1/(1 − β₁ᵗ)`, `c2 = 1/(1 − β₂ᵗ)` (bias corrections);
/// `vMax` is nil unless AMSGrad.
@_specialize(where S == Float)
@_specialize(where S == Double)
func adamKernel<S: TensorScalar>(
    _ w: UnsafeMutablePointer<S>, _ g: UnsafePointer<S>, _ m: UnsafeMutablePointer<S>,
    _ v: UnsafeMutablePointer<S>, _ vMax: UnsafeMutablePointer<S>?, _ n: Int,
    lr: S, decay: S, beta1: S, beta2: S, c1: S, c2: S, epsilon: S
) {
    let a1 = 1 - beta1, a2 = 1 - beta2
    if let vMax {
        for i in 0..<n {
            let gi = g[i]
            let mi = beta1 * m[i] + a1 * gi
            let vi = beta2 * v[i] + a2 * gi * gi
            let vm = Swift.max(vMax[i], vi)
            m[i] = mi
            v[i] = vi
            vMax[i] = vm
            w[i] = w[i] * decay - lr * (mi * c1) / ((vm * c2).squareRoot() + epsilon)
        }
    } else {
        for i in 0..<n {
            let gi = g[i]
            let mi = beta1 * m[i] + a1 * gi
            let vi = beta2 * v[i] + a2 * gi * gi
            m[i] = mi
            v[i] = vi
            w[i] = w[i] * decay - lr * (mi * c1) / ((vi * c2).squareRoot() + epsilon)
        }
    }
}
