// Reductions and their derivative rules, and the stable compositions built on them
// (mean, logSumExp, softmax, logSoftmax), which need no rules of their own.

extension Tensor {
    /// Σ over `axes` (all axes when `nil`). ∂/∂x = g broadcast back over the summed axes.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func sum(alongAxes axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let axes = ShapeMath.axes(axes, rank: rank, op: "sum")
        let kept = reducedKeepingDims(.sum, axes: axes)
        let keptShape = kept.shape
        let inputShape = shape
        let result = keepDims ? kept : kept.reshapedStorage(ShapeMath.reduced(shape, axes: axes, keepDims: false))
        return result.recorded(.sum, self) {
            .unary { g, _ in g.reshaped(keptShape).expanded(to: inputShape) }
        }
    }

    /// Σ along one axis.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func sum(alongAxis axis: Int, keepDims: Bool = false) -> Tensor {
        sum(alongAxes: [axis], keepDims: keepDims)
    }

    /// The mean over `axes` (all axes when `nil`): the sum divided by the number of elements
    /// summed.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func mean(alongAxes axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let axes = ShapeMath.axes(axes, rank: rank, op: "mean")
        let n = axes.reduce(1) { $0 * shape[$1] }
        return sum(alongAxes: axes, keepDims: keepDims) * (1 / Scalar(n))
    }

    /// The mean along one axis.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func mean(alongAxis axis: Int, keepDims: Bool = false) -> Tensor {
        mean(alongAxes: [axis], keepDims: keepDims)
    }

    /// The maximum over `axes` (all when `nil`).
    ///
    /// **Ties**: when several elements share the maximum, the gradient is split equally among
    /// them (as `torch.amax` does), so the sum of the gradient is preserved.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func max(alongAxes axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        extremum(.max, .max, axes: axes, keepDims: keepDims)
    }

    /// The minimum over `axes` (all when `nil`); ties split the gradient equally.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func min(alongAxes axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        extremum(.min, .min, axes: axes, keepDims: keepDims)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func max(alongAxis axis: Int, keepDims: Bool = false) -> Tensor {
        max(alongAxes: [axis], keepDims: keepDims)
    }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func min(alongAxis axis: Int, keepDims: Bool = false) -> Tensor {
        min(alongAxes: [axis], keepDims: keepDims)
    }

    private func extremum(_ kernel: ReductionKernel, _ op: OpKind, axes: [Int]?, keepDims: Bool) -> Tensor {
        let axes = ShapeMath.axes(axes, rank: rank, op: op.rawValue)
        guard axes.allSatisfy({ shape[$0] > 0 }) else {
            tensorFailure("\(op.rawValue): cannot reduce an empty axis of shape \(shape)")
        }
        let kept = reducedKeepingDims(kernel, axes: axes)
        let keptShape = kept.shape
        let x = self.detached()
        let result = keepDims ? kept : kept.reshapedStorage(ShapeMath.reduced(shape, axes: axes, keepDims: false))
        return result.recorded(op, self) {
            .unary { g, _ in
                // A constant mask of the winners, each weighted 1/(number of winners).
                let winners = Tensor.zipped(x, kept, .equal, name: op.rawValue)
                let share = winners / winners.reducedKeepingDims(.sum, axes: axes)
                return g.reshaped(keptShape) * share
            }
        }
    }

    /// `log Σ exp(x)` over `axes`, computed stably as `m + log Σ exp(x − m)` with `m` the
    /// (constant) maximum. Its gradient is `softmax(x)·g`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func logSumExp(alongAxes axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let axes = ShapeMath.axes(axes, rank: rank, op: "logSumExp")
        var m = detached().max(alongAxes: axes, keepDims: true)
        // An all −∞ slice would give ∞ − ∞; shifting by 0 there keeps the result −∞.
        m = Tensor.where(m.mapped(.equalToScalar(-.infinity)), Tensor(0), m)
        let shifted = (self - m).exp().sum(alongAxes: axes, keepDims: true).log() + m
        return keepDims ? shifted : shifted.reshaped(ShapeMath.reduced(shape, axes: axes, keepDims: false))
    }

    /// `log softmax(x)` along `axis`: `x − logSumExp(x)`, stable for any magnitude.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func logSoftmax(alongAxis axis: Int = -1) -> Tensor {
        self - logSumExp(alongAxes: [axis], keepDims: true)
    }

    /// `softmax(x)ᵢ = e^{xᵢ} / Σⱼ e^{xⱼ}` along `axis`, computed as `e^{x−m} / Σ e^{x−m}` with
    /// `m` the (constant) maximum, so it never overflows and rows of equal logits are exact.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func softmax(alongAxis axis: Int = -1) -> Tensor {
        let m = detached().max(alongAxes: [axis], keepDims: true)
        let e = (self - m).exp()
        return e / e.sum(alongAxes: [axis], keepDims: true)
    }

    // MARK: Not differentiable

    /// The index of the largest element along `axis` (the first one on ties), as integers.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func argmax(alongAxis axis: Int = -1) -> [Int] { argExtremum(axis, >) }
    /// The index of the smallest element along `axis` (the first one on ties).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func argmin(alongAxis axis: Int = -1) -> [Int] { argExtremum(axis, <) }

    private func argExtremum(_ axis: Int, _ better: (Scalar, Scalar) -> Bool) -> [Int] {
        let axis = ShapeMath.axis(axis, rank: rank, op: "argmax")
        let n = shape[axis]
        guard n > 0 else { tensorFailure("argmax: axis \(axis) of shape \(shape) is empty") }
        let inner = shape[(axis + 1)...].reduce(1, *)
        let outer = shape[..<axis].reduce(1, *)
        var result = [Int](repeating: 0, count: outer * inner)
        let p = storage.base
        for o in 0..<outer {
            for i in 0..<inner {
                var best = 0
                var bestValue = p[o * n * inner + i]
                for k in 1..<n {
                    let v = p[(o * n + k) * inner + i]
                    if better(v, bestValue) {
                        best = k
                        bestValue = v
                    }
                }
                result[o * inner + i] = best
            }
        }
        return result
    }
}
