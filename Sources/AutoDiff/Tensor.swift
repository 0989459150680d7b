/// An N-dimensional, row-major array of `Float` or `Double` that records the operations applied
/// to it, so that gradients of any scalar expression come from ``backward(seed:retainGraph:createGraph:)``
/// or ``gradients(of:wrt:retainGraph:createGraph:)``.
///
/// Tensors are values: copying one is cheap (the buffer is shared) and writing to a copy copies
/// its buffer first. A tensor that ``requiresGrad`` carries a node on the tape; every op whose
/// inputs require gradients records a node with its vector-Jacobian product.
///
/// ```swift
/// var w = Tensor<Float>(shape: [2, 1], scalars: [0.5, -0.25]).requiringGrad()
/// let x = Tensor<Float>(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
/// let loss = (x.matmul(w) - 1).squared().mean()
/// loss.backward()
/// print(w.grad!)   // ∂loss/∂w, shape [2, 1]
/// ```
public struct Tensor<Scalar: TensorScalar> {
    /// The size of each dimension; `[]` for a scalar.
    public let shape: [Int]
    @usableFromInline var storage: TensorStorage<Scalar>
    /// The tape entry of this value, `nil` when it needs no gradient.
    @usableFromInline var node: GradNode<Scalar>?

    @inline(__always)
    init(shape: [Int], storage: TensorStorage<Scalar>, node: GradNode<Scalar>? = nil) {
        self.shape = shape
        self.storage = storage
        self.node = node
    }

    /// A tensor of the given shape holding `scalars` in row-major order.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public init(shape: [Int], scalars: [Scalar]) {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            tensorFailure("Tensor(shape:scalars:): shape \(shape) has a negative dimension")
        }
        guard ShapeMath.count(shape) == scalars.count else {
            tensorFailure(
                "Tensor(shape:scalars:): shape \(shape) holds \(ShapeMath.count(shape)) elements but \(scalars.count) were given"
            )
        }
        self.init(shape: shape, storage: scalars.withUnsafeBufferPointer { .copying($0) })
    }

    /// A tensor of the given shape whose elements `initializer` writes into the uninitialized
    /// storage, in row-major order, as `Array(unsafeUninitializedCapacity:initializingWith:)`
    /// does: no zero-fill first, for data paths that overwrite every element anyway (a decoder
    /// filling a tensor from a file). `initializer` must write every element; Float and Double
    /// need no deinitialization, so an element it skips holds an unspecified value, never a
    /// memory-safety hazard.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public init(
        shape: [Int], unsafeUninitializedScalarsWith initializer: (UnsafeMutableBufferPointer<Scalar>) throws -> Void
    ) rethrows {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            tensorFailure("Tensor(shape:unsafeUninitializedScalarsWith:): shape \(shape) has a negative dimension")
        }
        let count = ShapeMath.count(shape)
        let s = TensorStorage<Scalar>.allocate(count)
        try initializer(UnsafeMutableBufferPointer(start: s.base, count: count))
        self.init(shape: shape, storage: s)
    }

    /// A one-dimensional tensor.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public init(_ scalars: [Scalar]) { self.init(shape: [scalars.count], scalars: scalars) }

    /// A rank-0 tensor.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public init(_ scalar: Scalar) { self.init(shape: [], storage: .filled(1, with: scalar)) }

    /// A matrix from rows of equal length.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public init(rows: [[Scalar]]) {
        let width = rows.first?.count ?? 0
        guard rows.allSatisfy({ $0.count == width }) else {
            tensorFailure("Tensor(rows:): rows have different lengths \(rows.map(\.count))")
        }
        self.init(shape: [rows.count, width], scalars: rows.flatMap { $0 })
    }

    /// A tensor of integers converted to this type and multiplied by `scale`, written straight
    /// into the tensor's storage (no intermediate array): e.g. image bytes with `scale: 1/255`.
    @_specialize(where Scalar == Float, Source == UInt8)
    @_specialize(where Scalar == Double, Source == UInt8)
    public init<Source: BinaryInteger>(shape: [Int], integers: UnsafeBufferPointer<Source>, scale: Scalar = 1) {
        guard ShapeMath.count(shape) == integers.count else {
            tensorFailure(
                "Tensor(shape:integers:): shape \(shape) holds \(ShapeMath.count(shape)) elements but \(integers.count) were given"
            )
        }
        let s = TensorStorage<Scalar>.allocate(integers.count)
        let p = s.base
        for (i, value) in integers.enumerated() { p[i] = Scalar(value) * scale }
        self.init(shape: shape, storage: s)
    }

    /// A tensor with the values of `other` converted to this precision (not differentiable).
    public init<Other: TensorScalar>(converting other: Tensor<Other>) {
        let s = TensorStorage<Scalar>.allocate(other.count)
        let src = other.storage.base
        let dst = s.base
        for i in 0..<other.count { dst[i] = Scalar(src[i]) }
        self.init(shape: other.shape, storage: s)
    }

    /// The number of dimensions.
    public var rank: Int { shape.count }
    /// The number of elements.
    public var count: Int { storage.count }

    /// The elements in row-major order.
    public var scalars: [Scalar] {
        Array(UnsafeBufferPointer(start: storage.base, count: count))
    }

    /// The value of a one-element tensor.
    public var item: Scalar {
        guard count == 1 else {
            tensorFailure("item: the tensor has shape \(shape) (\(count) elements), not one element")
        }
        return storage.base[0]
    }

    /// The element at a multi-index (one index per dimension).
    public subscript(element indices: Int...) -> Scalar {
        get { storage.base[flatIndex(indices)] }
        set {
            makeUnique()
            storage.base[flatIndex(indices)] = newValue
        }
    }

    func flatIndex(_ indices: [Int]) -> Int {
        guard indices.count == rank else {
            tensorFailure("subscript: \(indices.count) indices for a tensor of shape \(shape)")
        }
        var flat = 0
        for (i, index) in indices.enumerated() {
            guard index >= 0 && index < shape[i] else {
                tensorFailure("subscript: index \(indices) is out of range for shape \(shape)")
            }
            flat = flat * shape[i] + index
        }
        return flat
    }

    /// Read-only access to the elements.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Scalar>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) {
            try body(UnsafeBufferPointer(start: storage.base, count: count))
        }
    }

    /// Writes the elements in place (copying the buffer first if it is shared). Writing does not
    /// record anything on the tape: use it under ``withoutGrad(_:)`` for updates of parameters.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Scalar>) throws -> R
    ) rethrows -> R {
        makeUnique()
        return try withExtendedLifetime(storage) {
            try body(UnsafeMutableBufferPointer(start: storage.base, count: count))
        }
    }

    @inline(__always)
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.clone() }
    }

    // MARK: Gradients

    /// Whether this tensor is tracked on the tape: a leaf created with ``requiringGrad()`` or the
    /// result of an op on such tensors (while recording).
    public var requiresGrad: Bool {
        get { node != nil }
        set {
            if newValue {
                if node == nil { node = GradNode(leafShape: shape) }
            } else {
                node = nil
            }
        }
    }

    /// This tensor as a new leaf that requires gradients.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func requiringGrad() -> Tensor {
        Tensor(shape: shape, storage: storage, node: GradNode(leafShape: shape))
    }

    /// The same values, cut from the tape: no gradient flows through the result.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// Whether this tensor is a leaf of the tape (requires gradients and was not computed by an
    /// op).
    public var isLeaf: Bool { node?.isLeaf ?? true }

    /// The gradient accumulated into this leaf by ``backward(seed:retainGraph:createGraph:)``.
    ///
    /// **It accumulates**, as in PyTorch: each backward adds to it. Call ``zeroGrad()`` (or set it
    /// to `nil`) between steps, or use ``gradients(of:wrt:retainGraph:createGraph:)`` which
    /// returns fresh gradients and leaves `.grad` alone. `nil` until a backward reaches the leaf.
    public var grad: Tensor? {
        get { node?.grad }
        nonmutating set {
            guard let node else {
                tensorFailure("grad: the tensor does not require gradients")
            }
            node.grad = newValue
        }
    }

    /// Clears the accumulated gradient of this leaf.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func zeroGrad() { node?.grad = nil }
}

extension Tensor: CustomStringConvertible {
    /// The shape, the element type and the values (elided past 6 per dimension).
    public var description: String {
        var text = "Tensor<\(Scalar.self)>(shape: \(shape)"
        if requiresGrad { text += ", requiresGrad" }
        text += ", "
        if rank == 0 {
            text += "\(storage.base[0])"
        } else {
            let strides = ShapeMath.strides(shape)
            func render(_ dim: Int, _ offset: Int) -> String {
                let n = shape[dim]
                let shown: [Int] = n > 6 ? Array(0..<3) + [-1] + Array((n - 3)..<n) : Array(0..<n)
                let parts = shown.map { i -> String in
                    if i < 0 { return "..." }
                    let o = offset + i * strides[dim]
                    return dim == rank - 1 ? "\(storage.base[o])" : render(dim + 1, o)
                }
                return "[" + parts.joined(separator: ", ") + "]"
            }
            text += count == 0 ? "[]" : render(0, 0)
        }
        return text + ")"
    }
}
