// How ops reach their tensors' backend: allocate the result on the inputs' device, check that
// the inputs share it, and make one kernel call. Shapes are worked out here; the loops are the
// backend's (Sources/AutoDiff/Backends/).

extension Tensor {
    /// `f(self)` elementwise into a new tensor.
    @inline(__always)
    func mapped(_ op: UnaryKernel) -> Tensor {
        let out = newBuffer(count)
        backend.unary(op, storage, into: out)
        return Tensor(shape: shape, storage: out)
    }

    /// `f(a, b)` elementwise with NumPy broadcasting.
    @inline(__always)
    static func zipped(_ a: Tensor, _ b: Tensor, _ op: BinaryKernel, name: @autoclosure () -> String) -> Tensor {
        a.checkSameDevice(b, name())
        let shape = a.shape == b.shape ? a.shape : ShapeMath.broadcast(a.shape, b.shape, op: name())
        let out = a.newBuffer(ShapeMath.count(shape))
        a.backend.binary(op, a.storage, a.shape, b.storage, b.shape, into: out, shape: shape)
        return Tensor(shape: shape, storage: out)
    }

    /// Reduces `axes` (sorted, distinct) with `op`; the result keeps the reduced axes as 1.
    func reducedKeepingDims(_ op: ReductionKernel, axes: [Int]) -> Tensor {
        let outShape = ShapeMath.reduced(shape, axes: axes, keepDims: true)
        let out = newBuffer(ShapeMath.count(outShape))
        backend.reduce(op, storage, shape: shape, axes: axes, into: out)
        return Tensor(shape: outShape, storage: out)
    }

    /// A contiguous copy of this tensor read through strides (permute, expand, slice):
    /// `out[i₀,…] = self[offset + Σ iₖ·strides[k]]`.
    func gathered(shape outShape: [Int], strides: [Int], offset: Int = 0) -> Tensor {
        let out = newBuffer(ShapeMath.count(outShape))
        backend.copy(StridedView(storage, offset: offset, strides: strides), into: out, shape: outShape)
        return Tensor(shape: outShape, storage: out)
    }
}
