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

    /// The maximum along one axis: `max(alongAxes: [axis], keepDims:)`; ties split the gradient.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func max(alongAxis axis: Int, keepDims: Bool = false) -> Tensor {
        max(alongAxes: [axis], keepDims: keepDims)
    }
    /// The minimum along one axis: `min(alongAxes: [axis], keepDims:)`; ties split the gradient.
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

    /// `log Σ exp(x)` over `axes` (all axes when `nil`), one kernel computing it stably as
    /// `m + log Σ exp(x − m)` with `m` each slice's maximum, so any magnitude gives a finite
    /// result (and a slice of −∞ gives −∞). ∂/∂x = g·exp(x − y) = g·softmax(x), from the saved
    /// output `y`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func logSumExp(alongAxes axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let axes = ShapeMath.axes(axes, rank: rank, op: "logSumExp")
        guard axes.allSatisfy({ shape[$0] > 0 }) else {
            tensorFailure("logSumExp: cannot reduce an empty axis of shape \(shape)")
        }
        let keptShape = ShapeMath.reduced(shape, axes: axes, keepDims: true)
        let reduced = axes.filter { shape[$0] != 1 }
        if let first = reduced.first, let last = reduced.last,
            !(first...last).allSatisfy({ reduced.contains($0) || shape[$0] == 1 })
        {
            // The kernel reduces one block of adjacent axes: move the reduced axes last.
            let order = (0..<rank).filter { !axes.contains($0) } + axes
            let moved = permuted(order).logSumExp(alongAxes: Array((rank - axes.count)..<rank), keepDims: true)
            return moved.reshaped(keepDims ? keptShape : ShapeMath.reduced(shape, axes: axes, keepDims: false))
        }
        let outer = reduced.first.map { shape[..<$0].reduce(1, *) } ?? count
        let length = reduced.first.map { shape[$0...reduced.last!].reduce(1, *) } ?? 1
        let out = newBuffer(ShapeMath.count(keptShape))
        backend.logSumExp(
            storage, outer: outer, length: length, inner: ShapeMath.count(keptShape) / Swift.max(outer, 1), into: out)
        let x = self
        let resultShape = keepDims ? keptShape : ShapeMath.reduced(shape, axes: axes, keepDims: false)
        return Tensor(shape: resultShape, storage: out).recorded(.logSumExp, self, savingOutput: true) {
            .unary { g, node in (x - node.output.reshaped(keptShape)).exp() * g.reshaped(keptShape) }
        }
    }

    /// `log softmax(x)` along `axis`: `x − logSumExp(x)`, stable for any magnitude.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func logSoftmax(alongAxis axis: Int = -1) -> Tensor {
        self - logSumExp(alongAxes: [axis], keepDims: true)
    }

    /// `softmax(x)ᵢ = e^{xᵢ} / Σⱼ e^{xⱼ}` along `axis`, computed as `e^{x−m} / Σ e^{x−m}` with
    /// `m` the (constant) maximum, so it never overflows and rows of equal logits are exact.
    /// A row that is entirely `−∞` (every position masked) gives zeros and passes no gradient,
    /// where the plain formula would give `0/0` (PyTorch gives NaN there).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func softmax(alongAxis axis: Int = -1) -> Tensor {
        let rowMaximum = detached().max(alongAxes: [axis], keepDims: true)
        // A fully masked row is shifted by 0 instead of −∞ (so e = 0, not NaN), and its sum of 0
        // is divided as 1.
        let zero = Tensor(0, on: device)
        let m = Tensor.where(rowMaximum .== -Scalar.infinity, zero, rowMaximum)
        let e = (self - m).exp()
        let total = e.sum(alongAxes: [axis], keepDims: true)
        return e / (total + (total.detached() .== 0))
    }

    // MARK: Not differentiable

    /// The index of the largest element along `axis` (the first one on ties; a NaN only when it
    /// comes first), as an integer tensor of the input's shape without `axis`, computed on the
    /// tensor's device (PyTorch `argmax(dim)`). Not differentiable.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func argmax(alongAxis axis: Int = -1) -> IndexTensor { argExtremum(axis, .max) }
    /// The index of the smallest element along `axis` (the first one on ties), as
    /// ``argmax(alongAxis:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func argmin(alongAxis axis: Int = -1) -> IndexTensor { argExtremum(axis, .min) }

    private func argExtremum(_ axis: Int, _ op: ReductionKernel) -> IndexTensor {
        let axis = ShapeMath.axis(axis, rank: rank, op: op == .max ? "argmax" : "argmin")
        let n = shape[axis]
        guard n > 0 else {
            tensorFailure("\(op == .max ? "argmax" : "argmin"): axis \(axis) of shape \(shape) is empty")
        }
        let inner = shape[(axis + 1)...].reduce(1, *)
        let outer = shape[..<axis].reduce(1, *)
        let out = backend.allocate(outer * inner, .int64)
        backend.argReduce(op, storage, outer: outer, length: n, inner: inner, into: out)
        var outShape = shape
        outShape.remove(at: axis)
        return IndexTensor(shape: outShape, storage: out)
    }
}
