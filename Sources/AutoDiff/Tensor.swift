/// An N-dimensional, row-major array of `Float` or `Double` that records the operations applied
/// to it, so that gradients of any scalar expression come from ``backward(seed:retainGraph:createGraph:)``
/// or ``gradients(of:wrt:seed:retainGraph:createGraph:)``.
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
    /// The elements, in row-major order, in memory of the tensor's ``device``.
    @usableFromInline var storage: Buffer
    /// The tape entry of this value, `nil` when it needs no gradient.
    @usableFromInline var node: GradNode<Scalar>?

    @inline(__always)
    init(shape: [Int], storage: Buffer, node: GradNode<Scalar>? = nil) {
        self.shape = shape
        self.storage = storage
        self.node = node
    }

    /// A tensor of the given shape holding `scalars` in row-major order, on `device`.
    public init(shape: [Int], scalars: [Scalar], on device: Device = .cpu) {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            tensorFailure("Tensor(shape:scalars:): shape \(shape) has a negative dimension")
        }
        guard ShapeMath.count(shape) == scalars.count else {
            tensorFailure(
                "Tensor(shape:scalars:): shape \(shape) holds \(ShapeMath.count(shape)) elements but \(scalars.count) were given"
            )
        }
        let buffer = device.backend.allocate(scalars.count, Scalar.dtype)
        scalars.withUnsafeBytes { device.backend.copy(fromHost: $0.baseAddress!, into: buffer) }
        self.init(shape: shape, storage: buffer)
    }

    /// A tensor of the given shape whose elements `initializer` writes into uninitialized
    /// memory, in row-major order, as `Array(unsafeUninitializedCapacity:initializingWith:)`
    /// does: no zero-fill first, for data paths that overwrite every element anyway (a decoder
    /// filling a tensor from a file). `initializer` must write every element; Float and Double
    /// need no deinitialization, so an element it skips holds an unspecified value, never a
    /// memory-safety hazard. On a device with memory of its own, the elements are written to
    /// host memory first and then copied.
    public init(
        shape: [Int], on device: Device = .cpu,
        unsafeUninitializedScalarsWith initializer: (UnsafeMutableBufferPointer<Scalar>) throws -> Void
    ) rethrows {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            tensorFailure("Tensor(shape:unsafeUninitializedScalarsWith:): shape \(shape) has a negative dimension")
        }
        let buffer = device.backend.allocate(ShapeMath.count(shape), Scalar.dtype)
        try Tensor.writeHost(buffer, initializer)
        self.init(shape: shape, storage: buffer)
    }

    /// A one-dimensional tensor.
    public init(_ scalars: [Scalar], on device: Device = .cpu) {
        self.init(shape: [scalars.count], scalars: scalars, on: device)
    }

    /// A rank-0 tensor.
    public init(_ scalar: Scalar, on device: Device = .cpu) {
        self.init(shape: [], storage: Tensor.filled(1, with: scalar, on: device))
    }

    /// A matrix from rows of equal length.
    public init(rows: [[Scalar]], on device: Device = .cpu) {
        let width = rows.first?.count ?? 0
        guard rows.allSatisfy({ $0.count == width }) else {
            tensorFailure("Tensor(rows:): rows have different lengths \(rows.map(\.count))")
        }
        self.init(shape: [rows.count, width], scalars: rows.flatMap { $0 }, on: device)
    }

    /// A tensor of integers converted to this type and multiplied by `scale`, written straight
    /// into the tensor's memory on a host device (no intermediate array): e.g. image bytes with
    /// `scale: 1/255`.
    // Specialized for image bytes: unspecialized, each element's conversion looks up generic
    // metadata, and loading MNIST took about a second.
    @_specialize(where Scalar == Float, Source == UInt8)
    @_specialize(where Scalar == Double, Source == UInt8)
    public init<Source: BinaryInteger>(
        shape: [Int], integers: UnsafeBufferPointer<Source>, scale: Scalar = 1, on device: Device = .cpu
    ) {
        guard ShapeMath.count(shape) == integers.count else {
            tensorFailure(
                "Tensor(shape:integers:): shape \(shape) holds \(ShapeMath.count(shape)) elements but \(integers.count) were given"
            )
        }
        self.init(shape: shape, on: device) { out in
            for i in integers.indices { out[i] = Scalar(integers[i]) * scale }
        }
    }

    /// A tensor with the values of `other` converted to this precision, on the same device (not
    /// differentiable).
    public init<Other: TensorScalar>(converting other: Tensor<Other>) {
        let buffer = other.backend.allocate(other.count, Scalar.dtype)
        other.backend.convert(other.storage, into: buffer)
        self.init(shape: other.shape, storage: buffer)
    }

    /// The number of dimensions.
    public var rank: Int { shape.count }
    /// The number of elements.
    public var count: Int { storage.count }

    /// Where the tensor's elements live and which backend computes on them.
    public var device: Device { storage.device }
    @inline(__always) var backend: any Backend { storage.backend }

    /// The elements in row-major order.
    public var scalars: [Scalar] { withHostElements { Array($0) } }

    /// The value of a one-element tensor.
    public var item: Scalar {
        guard count == 1 else {
            tensorFailure("item: the tensor has shape \(shape) (\(count) elements), not one element")
        }
        return withHostElements { $0[0] }
    }

    /// The element at a multi-index (one index per dimension).
    public subscript(element indices: Int...) -> Scalar {
        get {
            let i = flatIndex(indices)
            return withHostElements { $0[i] }
        }
        set {
            let i = flatIndex(indices)
            withUnsafeMutableBufferPointer { $0[i] = newValue }
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

    /// Read-only access to the elements (on a device with memory of its own, to a host copy).
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Scalar>) throws -> R) rethrows -> R {
        try withHostElements(body)
    }

    /// Writes the elements in place (copying the buffer first if it is shared). Writing does not
    /// record anything on the tape: use it under ``withoutGrad(_:)`` for updates of parameters.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Scalar>) throws -> R
    ) rethrows -> R {
        makeUnique()
        var result: R?
        try Tensor.writeHost(storage, keepingContents: true) { result = try body($0) }
        return result!
    }

    /// This tensor on `device`: the same tensor when it is already there, else a copy.
    /// Differentiable: the gradient is copied back to this tensor's device.
    public func to(_ device: Device) -> Tensor {
        if device == self.device { return self }
        let buffer = device.backend.allocate(count, Scalar.dtype)
        if storage.isHostMemory {
            withExtendedLifetime(storage) { device.backend.copy(fromHost: storage.hostAddress, into: buffer) }
        } else {
            let host = scalars
            host.withUnsafeBytes { device.backend.copy(fromHost: $0.baseAddress!, into: buffer) }
        }
        let source = self.device
        return Tensor(shape: shape, storage: buffer).recorded(.transfer, self) { .unary { g, _ in g.to(source) } }
    }

    // MARK: Buffers

    /// New uninitialized memory on this tensor's device for `count` elements.
    @inline(__always)
    func newBuffer(_ count: Int) -> Buffer { storage.backend.allocate(count, Scalar.dtype) }

    /// New memory on `device` with every element `value`.
    @inline(__always)
    static func filled(_ count: Int, with value: Scalar, on device: Device) -> Buffer {
        let buffer = device.backend.allocate(count, Scalar.dtype)
        device.backend.fill(buffer, with: Double(value))
        return buffer
    }

    /// Stops naming `op` and both devices when `other` is not on this tensor's device.
    @inline(__always)
    func checkSameDevice(_ other: Tensor, _ op: @autoclosure () -> String) {
        if _slowPath(storage.backend !== other.storage.backend) {
            tensorFailure(
                "\(op()): tensors on different devices (\(device) and \(other.device)); move one with .to(_:)")
        }
    }

    /// Runs `body` on the elements in host memory: the buffer itself on host backends, a copy
    /// otherwise.
    func withHostElements<R>(_ body: (UnsafeBufferPointer<Scalar>) throws -> R) rethrows -> R {
        CaptureRecorder.current?.noteHostRead(storage)
        if storage.isHostMemory {
            return try withExtendedLifetime(storage) {
                try body(UnsafeBufferPointer(start: storage.host(Scalar.self), count: count))
            }
        }
        let copy = [Scalar](unsafeUninitializedCapacity: count) { elements, initialized in
            backend.copy(storage, toHost: elements.baseAddress!)
            initialized = count
        }
        return try copy.withUnsafeBufferPointer(body)
    }

    /// Lets `body` write the elements of `buffer` in host memory: directly on host backends,
    /// else into a host copy (holding the current contents when `keepingContents`) that is then
    /// copied to the device.
    static func writeHost(
        _ buffer: Buffer, keepingContents: Bool = false, _ body: (UnsafeMutableBufferPointer<Scalar>) throws -> Void
    ) rethrows {
        CaptureRecorder.current?.noteHostWrite(buffer)
        if buffer.isHostMemory {
            try withExtendedLifetime(buffer) {
                try body(UnsafeMutableBufferPointer(start: buffer.host(Scalar.self), count: buffer.count))
            }
            return
        }
        var host = [Scalar](repeating: 0, count: buffer.count)
        if keepingContents { host.withUnsafeMutableBytes { buffer.backend.copy(buffer, toHost: $0.baseAddress!) } }
        try host.withUnsafeMutableBufferPointer { try body($0) }
        host.withUnsafeBytes { buffer.backend.copy(fromHost: $0.baseAddress!, into: buffer) }
    }

    @inline(__always)
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            let copy = newBuffer(count)
            backend.convert(storage, into: copy)
            storage = copy
        }
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
    public func requiringGrad() -> Tensor {
        Tensor(shape: shape, storage: storage, node: GradNode(leafShape: shape))
    }

    /// The same values, cut from the tape: no gradient flows through the result.
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// Whether this tensor is a leaf of the tape (requires gradients and was not computed by an
    /// op).
    public var isLeaf: Bool { node?.isLeaf ?? true }

    /// The gradient accumulated into this leaf (or into an intermediate after ``retainGrad()``)
    /// by ``backward(seed:retainGraph:createGraph:)``.
    ///
    /// **It accumulates**, as in PyTorch: each backward adds to it. Call ``zeroGrad()`` (or set it
    /// to `nil`) between steps, or use ``gradients(of:wrt:seed:retainGraph:createGraph:)`` which
    /// returns fresh gradients and leaves `.grad` alone. `nil` until a backward reaches the leaf.
    public var grad: Tensor? {
        // Specialized: optimizers read every parameter's gradient each step, and the generic
        // getter looks up the node's metadata on every call.
        @_specialize(where Scalar == Float)
        @_specialize(where Scalar == Double)
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
    public func zeroGrad() { node?.zeroGrad() }
}

extension Tensor: CustomStringConvertible {
    /// The shape, the element type and the values (elided past 6 per dimension).
    public var description: String {
        var text = "Tensor<\(Scalar.self)>(shape: \(shape)"
        if requiresGrad { text += ", requiresGrad" }
        text += ", "
        let elements = scalars
        if rank == 0 {
            text += "\(elements[0])"
        } else {
            let strides = ShapeMath.strides(shape)
            func render(_ dim: Int, _ offset: Int) -> String {
                let n = shape[dim]
                let shown: [Int] = n > 6 ? Array(0..<3) + [-1] + Array((n - 3)..<n) : Array(0..<n)
                let parts = shown.map { i -> String in
                    if i < 0 { return "..." }
                    let o = offset + i * strides[dim]
                    return dim == rank - 1 ? "\(elements[o])" : render(dim + 1, o)
                }
                return "[" + parts.joined(separator: ", ") + "]"
            }
            text += count == 0 ? "[]" : render(0, 0)
        }
        return text + ")"
    }
}
