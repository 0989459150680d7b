// Shape and indexing ops and their derivative rules. Each rule is the op's adjoint: reshape's is
// a reshape back, permute's the inverse permutation, slice's a pad with zeros, gather's a
// scatter-add, and expand's the identity (the engine sums the gradient back to the input's shape).

extension Tensor {
    /// Same storage, another shape with the same count; records nothing.
    @inline(__always)
    func reshapedStorage(_ newShape: [Int]) -> Tensor { Tensor(shape: newShape, storage: storage) }

    /// The same elements in another shape with the same number of elements (one dimension may be
    /// `-1`, inferred). No copy. ∂/∂x = g reshaped back.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func reshaped(_ newShape: [Int]) -> Tensor {
        let target = ShapeMath.reshaped(shape, count: count, to: newShape)
        if target == shape { return self }
        let inputShape = shape
        return reshapedStorage(target).recorded(.reshape, self) {
            .unary { g, _ in g.reshaped(inputShape) }
        }
    }

    /// Flattens to one dimension.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func flattened() -> Tensor { reshaped([count]) }

    /// Inserts an axis of size 1 at `axis` (which may be `rank`, or negative).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func unsqueezed(axis: Int) -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        guard a >= 0 && a <= rank else {
            tensorFailure("unsqueeze: axis \(axis) is out of range for a tensor of rank \(rank)")
        }
        var s = shape
        s.insert(1, at: a)
        return reshaped(s)
    }

    /// Removes the axis `axis`, which must have size 1; with no axis, every axis of size 1.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func squeezed(axis: Int? = nil) -> Tensor {
        guard let axis else { return reshaped(shape.filter { $0 != 1 }) }
        let a = ShapeMath.axis(axis, rank: rank, op: "squeeze")
        guard shape[a] == 1 else {
            tensorFailure("squeeze: axis \(axis) of shape \(shape) has size \(shape[a]), not 1")
        }
        var s = shape
        s.remove(at: a)
        return reshaped(s)
    }

    /// Reorders the axes: result axis `i` is input axis `axes[i]`. Copies into row-major order.
    /// ∂/∂x = g permuted by the inverse permutation.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func permuted(_ axes: [Int]) -> Tensor {
        let normalised = axes.map { ShapeMath.axis($0, rank: rank, op: "permute") }
        guard normalised.count == rank, Set(normalised).count == rank else {
            tensorFailure("permute: \(axes) is not a permutation of the \(rank) axes of \(shape)")
        }
        if normalised == Array(0..<rank) { return self }
        let strides = ShapeMath.strides(shape)
        let out = gathered(shape: normalised.map { shape[$0] }, strides: normalised.map { strides[$0] })
        var inverse = [Int](repeating: 0, count: rank)
        for (i, a) in normalised.enumerated() { inverse[a] = i }
        return out.recorded(.permute, self) { .unary { g, _ in g.permuted(inverse) } }
    }

    /// Swaps the last two axes (a matrix transpose; batched for rank 3).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func transposed() -> Tensor {
        guard rank >= 2 else { tensorFailure("transpose: needs rank ≥ 2, got shape \(shape)") }
        var axes = Array(0..<rank)
        axes.swapAt(rank - 1, rank - 2)
        return permuted(axes)
    }

    /// Repeats the tensor along broadcast dimensions to `newShape` (NumPy `broadcast_to`).
    /// ∂/∂x = g summed back to the input's shape (done by the engine).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func expanded(to newShape: [Int]) -> Tensor {
        guard ShapeMath.broadcast(shape, newShape, op: "expand") == newShape else {
            tensorFailure("expand: shape \(shape) cannot be broadcast to \(newShape)")
        }
        if newShape == shape { return self }
        return gathered(shape: newShape, strides: ShapeMath.broadcastStrides(shape, to: newShape))
            .recorded(.expand, self) { .unary { g, _ in g } }
    }

    /// The same as ``expanded(to:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func broadcast(to newShape: [Int]) -> Tensor { expanded(to: newShape) }

    /// Sums a gradient of a broadcast shape back to `target`: the one place broadcasting is
    /// undone.
    func sumToShape(_ target: [Int]) -> Tensor {
        let lead = rank - target.count
        guard lead >= 0 else { tensorFailure("internal: cannot sum \(shape) to \(target)") }
        var axes = Array(0..<lead)
        for i in lead..<rank where target[i - lead] != shape[i] {
            guard target[i - lead] == 1 else { tensorFailure("internal: cannot sum \(shape) to \(target)") }
            axes.append(i)
        }
        return sum(alongAxes: axes, keepDims: true).reshaped(target)
    }

    // MARK: Slicing

    /// The sub-tensor selected by one range per leading axis (later axes are kept whole).
    /// ∂/∂x = g placed in a tensor of zeros at the same position.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func slice(_ ranges: [Range<Int>]) -> Tensor {
        guard ranges.count <= rank else {
            tensorFailure("slice: \(ranges.count) ranges for a tensor of shape \(shape)")
        }
        for (i, r) in ranges.enumerated() where r.lowerBound < 0 || r.upperBound > shape[i] {
            tensorFailure("slice: range \(r) is out of bounds for axis \(i) of shape \(shape)")
        }
        let ranges = ranges + shape[ranges.count...].map { 0..<$0 }
        let strides = ShapeMath.strides(shape)
        let offset = zip(ranges, strides).reduce(0) { $0 + $1.0.lowerBound * $1.1 }
        let outShape = ranges.map(\.count)
        let inputShape = shape
        return gathered(shape: outShape, strides: strides, offset: offset).recorded(.slice, self) {
            .unary { g, _ in g.padded(into: inputShape, at: ranges) }
        }
    }

    /// `x[0..<2, 1..<3]`: the rectangular part ``slice(_:)`` gives, one range per leading axis.
    /// ∂/∂x = g placed into zeros of x's shape.
    public subscript(_ ranges: Range<Int>...) -> Tensor { slice(ranges) }

    /// Rows `range` along `axis`, all other axes whole.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func slice(alongAxis axis: Int, _ range: Range<Int>) -> Tensor {
        let a = ShapeMath.axis(axis, rank: rank, op: "slice")
        return slice(shape[..<a].map { 0..<$0 } + [range])
    }

    /// The adjoint of slicing: `self` placed at `ranges` inside zeros of `shape`.
    /// ∂/∂self = the same slice of the upstream gradient.
    func padded(into fullShape: [Int], at ranges: [Range<Int>]) -> Tensor {
        let out = Tensor.filled(ShapeMath.count(fullShape), with: 0, on: device)
        let strides = ShapeMath.strides(fullShape)
        let offset = zip(ranges, strides).reduce(0) { $0 + $1.0.lowerBound * $1.1 }
        backend.copy(storage, into: StridedView(out, offset: offset, strides: strides), shape: shape)
        return Tensor(shape: fullShape, storage: out).recorded(.sliceBackward, self) {
            .unary { h, _ in h.slice(ranges) }
        }
    }

    // MARK: Joining

    /// Joins tensors along an existing axis; all other dimensions must agree.
    /// ∂/∂xᵢ = the slice of g that xᵢ occupies.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func concat(_ tensors: [Tensor], alongAxis axis: Int = 0) -> Tensor {
        guard let first = tensors.first else { tensorFailure("concat: no tensors given") }
        let a = ShapeMath.axis(axis, rank: first.rank, op: "concat")
        for t in tensors
        where t.rank != first.rank || t.shape[..<a] != first.shape[..<a]
            || t.shape[(a + 1)...] != first.shape[(a + 1)...]
        {
            tensorFailure("concat: shapes \(tensors.map(\.shape)) differ outside axis \(axis)")
        }
        var outShape = first.shape
        outShape[a] = tensors.reduce(0) { $0 + $1.shape[a] }
        let out = first.newBuffer(ShapeMath.count(outShape))
        let outStrides = ShapeMath.strides(outShape)
        var start = 0
        var bounds: [Range<Int>] = []
        for t in tensors {
            first.checkSameDevice(t, "concat")
            first.backend.copy(
                t.storage, into: StridedView(out, offset: start * outStrides[a], strides: outStrides), shape: t.shape)
            bounds.append(start..<(start + t.shape[a]))
            start += t.shape[a]
        }
        return Tensor(shape: outShape, storage: out).recorded(.concat, tensors) {
            .nary { g, _ in bounds.map { g.slice(alongAxis: a, $0) } }
        }
    }

    /// Joins tensors of equal shape along a new axis.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func stack(_ tensors: [Tensor], alongAxis axis: Int = 0) -> Tensor {
        guard let first = tensors.first else { tensorFailure("stack: no tensors given") }
        for t in tensors where t.shape != first.shape {
            tensorFailure("stack: shapes \(tensors.map(\.shape)) differ")
        }
        return concat(tensors.map { $0.unsqueezed(axis: axis) }, alongAxis: axis)
    }

    // MARK: Gather and scatter

    /// Whole slices along `axis`, picked by index (PyTorch `index_select`): the result has the
    /// input's shape with `shape[axis] = indices.count`, and slice `j` of it is slice
    /// `indices[j]` of the input. Indices may repeat (a batch drawn with replacement, an
    /// embedding lookup). ∂/∂x = g's slices added back at their indices (`indexAdded(into:alongAxis:indices:)`).
    ///
    /// Slices are copied whole (on the CPU, split across ``ComputeThreads`` when large). A
    /// convenience for ``indexSelect(alongAxis:indices:)-(_,IndexTensor)`` with indices from the host.
    ///
    /// ```swift
    /// let batch = images.indexSelect(alongAxis: 0, indices: [17, 3, 42])   // [60000, 784] → [3, 784]
    /// ```
    public func indexSelect(alongAxis axis: Int, indices: [Int]) -> Tensor {
        indexSelect(alongAxis: axis, indices: IndexTensor(indices, on: device))
    }

    /// Whole slices along `axis` picked by the elements of `indices` (any shape, read in
    /// row-major order), as ``indexSelect(alongAxis:indices:)-(_,[Int])``; the kernel checks the
    /// indices as it reads them, so they never pass through the host.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func indexSelect(alongAxis axis: Int, indices: IndexTensor) -> Tensor {
        let a = ShapeMath.axis(axis, rank: rank, op: "indexSelect")
        return selectedSlices(a, indices) { position in
            tensorFailure(
                "indexSelect: index \(indices.element(at: position)) is out of range for axis \(axis) of size \(shape[a]) (shape \(shape))"
            )
        }
    }

    /// ``indexSelect(alongAxis:indices:)-(_,IndexTensor)`` along the resolved axis `a`, calling
    /// `outOfRange` with the position of the first index outside the axis.
    func selectedSlices(_ a: Int, _ indices: IndexTensor, outOfRange: (Int) -> Never) -> Tensor {
        indices.checkDevice(self, "indexSelect")
        let n = shape[a]
        let outer = shape[..<a].reduce(1, *)
        let inner = shape[(a + 1)...].reduce(1, *)
        let k = indices.count
        var outShape = shape
        outShape[a] = k
        let out = newBuffer(outer * k * inner)
        if let position = backend.indexSelect(
            storage, outer: outer, length: n, inner: inner, indices: indices.storage, into: out)
        {
            outOfRange(position)
        }
        let inputShape = shape
        return Tensor(shape: outShape, storage: out).recorded(.indexSelect, self) {
            .unary { g, _ in g.indexAdded(into: inputShape, alongAxis: a, indices: indices) }
        }
    }

    /// The adjoint of ``indexSelect(alongAxis:indices:)-(_,IndexTensor)``: zeros of `fullShape` with slice `j`
    /// of `self` added at slice `indices[j]` (repeated indices add up). ∂/∂self = the upstream
    /// gradient's slices at `indices`. The indices were checked by the forward op.
    func indexAdded(into fullShape: [Int], alongAxis a: Int, indices: IndexTensor) -> Tensor {
        let outer = fullShape[..<a].reduce(1, *)
        let inner = fullShape[(a + 1)...].reduce(1, *)
        let out = newBuffer(ShapeMath.count(fullShape))
        backend.indexAdd(storage, outer: outer, length: fullShape[a], inner: inner, indices: indices.storage, into: out)
        return Tensor(shape: fullShape, storage: out).recorded(.indexAdd, self) {
            .unary { h, _ in h.indexSelect(alongAxis: a, indices: indices) }
        }
    }

    /// Picks elements along `axis` by index (PyTorch `gather`): with `k` indices per position,
    /// the result has the input's shape with `shape[axis] = k`, and
    /// `out[…, j, …] = x[…, indices[…, j, …], …]`. `indices` is in row-major order of the result.
    /// ∂/∂x = g scattered (added) back to the picked positions. A convenience for
    /// ``gather(alongAxis:indices:)-(_,IndexTensor)`` with indices from the host.
    ///
    /// ```swift
    /// let scores = logits.gather(alongAxis: 1, indices: labels)   // [N, C] → [N, 1]
    /// ```
    public func gather(alongAxis axis: Int, indices: [Int]) -> Tensor {
        let a = ShapeMath.axis(axis, rank: rank, op: "gather")
        let outer = shape[..<a].reduce(1, *)
        let inner = shape[(a + 1)...].reduce(1, *)
        guard outer * inner > 0, indices.count % (outer * inner) == 0 else {
            tensorFailure(
                "gather: \(indices.count) indices do not fill the other axes of shape \(shape) (a multiple of \(outer * inner) is needed)"
            )
        }
        var indexShape = shape
        indexShape[a] = indices.count / (outer * inner)
        return gather(alongAxis: axis, indices: IndexTensor(indices, shape: indexShape, on: device))
    }

    /// Picks elements along `axis` by index (PyTorch `gather`, `take_along_dim`): `indices` has
    /// the input's shape except along `axis`, where it has any length `k`, and
    /// `out[…, j, …] = x[…, indices[…, j, …], …]` has the indices' shape. ∂/∂x = g scattered
    /// (added) back to the picked positions. The kernel checks the indices as it reads them.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func gather(alongAxis axis: Int, indices: IndexTensor) -> Tensor {
        let a = ShapeMath.axis(axis, rank: rank, op: "gather")
        return gathered(a, indices) { position in
            tensorFailure(
                "gather: index \(indices.element(at: position)) is out of range for axis \(axis) of size \(shape[a]) (shape \(shape))"
            )
        }
    }

    /// ``gather(alongAxis:indices:)-(_,IndexTensor)`` along the resolved axis `a`, calling
    /// `outOfRange` with the position of the first index outside the axis.
    func gathered(_ a: Int, _ indices: IndexTensor, outOfRange: (Int) -> Never) -> Tensor {
        indices.checkDevice(self, "gather")
        guard indices.rank == rank,
            indices.shape.indices.allSatisfy({ $0 == a || indices.shape[$0] == shape[$0] })
        else {
            tensorFailure("gather: indices of shape \(indices.shape) do not match shape \(shape) outside axis \(a)")
        }
        let outer = shape[..<a].reduce(1, *)
        let inner = shape[(a + 1)...].reduce(1, *)
        let n = shape[a]
        let out = newBuffer(indices.count)
        if let position = backend.gather(
            storage, outer: outer, length: n, inner: inner, indices: indices.storage, into: out)
        {
            outOfRange(position)
        }
        let inputShape = shape
        return Tensor(shape: indices.shape, storage: out).recorded(.gather, self) {
            .unary { g, _ in g.scatterAdded(into: inputShape, alongAxis: a, indices: indices) }
        }
    }

    /// The adjoint of ``gather(alongAxis:indices:)-(_,IndexTensor)``: zeros of `fullShape` with
    /// `self` added at the indexed positions. ∂/∂self = gather of the upstream gradient. The
    /// indices were checked by the forward op (or written by max pooling's kernel).
    func scatterAdded(into fullShape: [Int], alongAxis a: Int, indices: IndexTensor) -> Tensor {
        let outer = fullShape[..<a].reduce(1, *)
        let inner = fullShape[(a + 1)...].reduce(1, *)
        let out = newBuffer(ShapeMath.count(fullShape))
        backend.scatterAdd(
            storage, outer: outer, length: fullShape[a], inner: inner, indices: indices.storage, into: out)
        return Tensor(shape: fullShape, storage: out).recorded(.scatterAdd, self) {
            .unary { h, _ in h.gather(alongAxis: a, indices: indices) }
        }
    }

    /// Rows of zeros with a one at each label: `[labels.count, classes]` (not differentiable).
    public static func oneHot(_ labels: [Int], classes: Int, on device: Device = .cpu) -> Tensor {
        oneHot(IndexTensor(labels, on: device), classes: classes)
    }
}
