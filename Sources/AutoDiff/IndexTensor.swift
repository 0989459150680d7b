// Integer tensors: indices, class labels and argmax results held in `int64` buffers on a device,
// so that a step's indices go from kernel to kernel without passing through Swift arrays.

/// An N-dimensional, row-major array of 64-bit integers on a device (PyTorch's `torch.long`, the
/// default index type; safetensors `I64`): the indices of ``Tensor/indexSelect(alongAxis:indices:)-(_,IndexTensor)``,
/// ``Tensor/gather(alongAxis:indices:)-(_,IndexTensor)`` and ``Tensor/embedding(indices:weight:paddingIndex:)``,
/// the labels of ``Tensor/softmaxCrossEntropy(logits:labels:)-(_,IndexTensor)``, and the result
/// of ``Tensor/argmax(alongAxis:)``.
///
/// **No gradient flows through an integer tensor.** It is a type of its own with no tape entry:
/// it has no `requiringGrad()`, `grad` or `backward()`, so asking one for a gradient does not
/// compile. A float tensor built from one (``Tensor/init(converting:)-(IndexTensor)``,
/// ``Tensor/oneHot(_:classes:)``) is a constant.
///
/// ```swift
/// let labels = IndexTensor([2, 0, 1], shape: [3])
/// let loss = Tensor.softmaxCrossEntropy(logits: logits, labels: labels)
/// let predicted = logits.argmax(alongAxis: 1)   // an IndexTensor of shape [3]
/// ```
public struct IndexTensor: Equatable, ExpressibleByArrayLiteral, CustomStringConvertible {
    /// The size of each dimension; `[]` for a scalar.
    public let shape: [Int]
    /// The elements (`int64`), in row-major order, in memory of the tensor's ``device``.
    @usableFromInline let storage: Buffer

    init(shape: [Int], storage: Buffer) {
        precondition(storage.dtype == .int64, "IndexTensor: a \(storage.dtype) buffer")
        self.shape = shape
        self.storage = storage
    }

    /// Integers in row-major order with the given shape (`[values.count]` when not given), on
    /// `device`.
    public init(_ values: [Int], shape: [Int]? = nil, on device: Device = .cpu) {
        let shape = shape ?? [values.count]
        guard shape.allSatisfy({ $0 >= 0 }), ShapeMath.count(shape) == values.count else {
            tensorFailure(
                "IndexTensor: shape \(shape) holds \(ShapeMath.count(shape)) elements but \(values.count) were given")
        }
        let buffer = device.backend.allocate(values.count, .int64)
        values.withUnsafeBytes { bytes in
            if let base = bytes.baseAddress { device.backend.copy(fromHost: base, into: buffer) }
        }
        self.init(shape: shape, storage: buffer)
    }

    /// A one-dimensional integer tensor on the CPU.
    public init(arrayLiteral values: Int...) { self.init(values) }

    /// `[start, start + step, …]` up to but not including `end` (PyTorch `arange`), on `device`.
    public static func arange(from start: Int = 0, to end: Int, step: Int = 1, on device: Device = .cpu)
        -> IndexTensor
    {
        guard step != 0 else { tensorFailure("arange: step is 0") }
        return IndexTensor(Array(stride(from: start, to: end, by: step)), on: device)
    }

    /// Float values truncated toward zero (PyTorch's `.long()`), by a kernel on their device;
    /// NaN, ±∞ and values beyond `Int64`'s range become `Int64.min`.
    public init<Scalar: TensorScalar>(converting values: Tensor<Scalar>) {
        let buffer = values.storage.backend.allocate(values.count, .int64)
        values.storage.backend.convert(values.storage, into: buffer)
        self.init(shape: values.shape, storage: buffer)
    }

    /// Class labels held as floats (a ``Tensor`` of whole numbers, as data sets store them),
    /// converted by a kernel on their device that also checks them: a value that is not a whole
    /// number (2.5, NaN, ±∞) stops with one line naming `op`, the value and its position.
    public init<Scalar: TensorScalar>(labels values: Tensor<Scalar>, op: String) {
        let buffer = values.storage.backend.allocate(values.count, .int64)
        if let position = values.storage.backend.convert(values.storage, into: buffer) {
            let value = values.withUnsafeBufferPointer { $0[position] }
            tensorFailure("\(op): label \(value) at position \(position) is not a whole number")
        }
        self.init(shape: values.shape, storage: buffer)
    }

    /// The number of dimensions.
    public var rank: Int { shape.count }
    /// The number of elements.
    public var count: Int { storage.count }
    /// Where the elements live and which backend computes on them.
    public var device: Device { storage.device }

    /// The elements in row-major order, copied to the host.
    public var scalars: [Int] {
        [Int](unsafeUninitializedCapacity: count) { elements, initialized in
            if count > 0 { storage.backend.copy(storage, toHost: elements.baseAddress!) }
            initialized = count
        }
    }

    /// The value of a one-element integer tensor.
    public var item: Int {
        guard count == 1 else {
            tensorFailure("item: the integer tensor has shape \(shape) (\(count) elements), not one element")
        }
        return scalars[0]
    }

    /// This integer tensor on `device`: itself when it is already there, else a copy.
    public func to(_ device: Device) -> IndexTensor {
        if device == self.device { return self }
        return IndexTensor(scalars, shape: shape, on: device)
    }

    /// The same elements in another shape with the same number of elements (one dimension may be
    /// `-1`, inferred). No copy.
    public func reshaped(_ newShape: [Int]) -> IndexTensor {
        IndexTensor(shape: ShapeMath.reshaped(shape, count: count, to: newShape), storage: storage)
    }

    /// Equal shapes and elements (on any devices).
    public static func == (a: IndexTensor, b: IndexTensor) -> Bool {
        a.shape == b.shape && a.scalars == b.scalars
    }

    /// The shape and the values (elided past 12).
    public var description: String {
        let values = scalars
        let shown =
            values.count > 12
            ? values[..<6].map(String.init) + ["..."] + values[(values.count - 6)...].map(String.init)
            : values.map(String.init)
        return "IndexTensor(shape: \(shape), [\(shown.joined(separator: ", "))])"
    }

    /// The element `position` (row-major) as a host value: for error messages, after a kernel
    /// reported the position of a bad index.
    func element(at position: Int) -> Int {
        if storage.isHostMemory { return withExtendedLifetime(storage) { storage.host(Int.self)[position] } }
        return scalars[position]
    }

    /// Stops naming `op` and both devices when `tensor` is on another device.
    func checkDevice<Scalar>(_ tensor: Tensor<Scalar>, _ op: @autoclosure () -> String) {
        if _slowPath(storage.backend !== tensor.storage.backend) {
            tensorFailure(
                "\(op()): indices on \(device) and a tensor on \(tensor.device); move one with .to(_:)")
        }
    }
}

extension Tensor {
    /// The integers of `indices` as floats (the nearest value), by a kernel on their device. A
    /// constant: no gradient flows through integers.
    public init(converting indices: IndexTensor) {
        let buffer = indices.storage.backend.allocate(indices.count, Scalar.dtype)
        indices.storage.backend.convert(indices.storage, into: buffer)
        self.init(shape: indices.shape, storage: buffer)
    }

    /// Rows of zeros with a one at each label: `labels.shape + [classes]` (a constant), by a
    /// scatter into zeros on the labels' device. A label outside `0..<classes` stops with one line
    /// naming it and its position.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func oneHot(_ labels: IndexTensor, classes: Int) -> Tensor {
        let n = labels.count
        let ones = Tensor.ones([n, 1], on: labels.device)
        let out = ones.newBuffer(n * classes)
        if let row = labels.device.backend.scatterAdd(
            ones.storage, outer: n, length: classes, inner: 1, indices: labels.storage, into: out)
        {
            tensorFailure("oneHot: label \(labels.element(at: row)) at row \(row) is outside 0..<\(classes)")
        }
        return Tensor(shape: labels.shape + [classes], storage: out)
    }

    /// 1 where `a` and `b` hold the same integer, else 0 (`a`, `b` broadcast; a constant): e.g.
    /// the correct predictions `Tensor<Float>.equalMask(logits.argmax(alongAxis: 1), labels)`.
    /// The integers are compared as Doubles, exactly for magnitudes up to 2⁵³.
    public static func equalMask(_ a: IndexTensor, _ b: IndexTensor) -> Tensor {
        let mask = Tensor<Double>(converting: a) .== Tensor<Double>(converting: b)
        return Scalar.self == Double.self ? mask as! Tensor : Tensor(converting: mask)
    }
}
