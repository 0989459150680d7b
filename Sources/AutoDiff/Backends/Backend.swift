// The seam between ops and kernels. Ops (Sources/AutoDiff/Ops/) know shapes and derivative
// rules; every number they need computed is one call on the backend that owns their tensors'
// buffers, named by what it computes. Buffers cross the seam as handles (``Buffer``) and the
// element type as a value (``DType``), so a backend dispatches on the type once, inside, and a
// device whose memory the host cannot address implements the same calls.
//
// Two backends implement it: `Backends/CPU/` (the fast one: C kernels, OpenBLAS, the thread
// pool) and `Backends/Reference/` (plain loops, the specification the CPU backend is tested
// against). docs/ARCHITECTURE.md walks through both.

/// The element type of a buffer.
public enum DType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// `Float` (4 bytes) and `Double` (8 bytes): the element types of tensors.
    case float32, float64
    /// Bytes, for masks (dropout's kept elements).
    case uint8
    /// 64-bit signed integers (Swift's `Int` on the 64-bit platforms the library runs on):
    /// indices, class labels and argmax results (``IndexTensor``), PyTorch's default index type.
    case int64

    /// The size of one element in bytes.
    @inline(__always)
    public var byteCount: Int {
        switch self {
        case .float32: 4
        case .float64, .int64: 8
        case .uint8: 1
        }
    }

    /// The name safetensors and descriptions use (`F32`, `F64`, `U8`, `I64`).
    public var name: String {
        switch self {
        case .float32: "F32"
        case .float64: "F64"
        case .uint8: "U8"
        case .int64: "I64"
        }
    }

    public var description: String { name }
}

/// What a buffer records about itself: its length, element type and owner.
public struct BufferHeader {
    /// The number of elements.
    public let count: Int
    /// The element type.
    public let dtype: DType
    /// The device whose backend allocated the buffer and computes on it.
    public let device: Device
    /// A device backend's own allocation when the memory is not host memory (`nil` for the CPU
    /// and reference backends, whose elements follow the header).
    public let deviceMemory: AnyObject?
    /// Whether a captured step records or replays this buffer: its release is then reported to
    /// the capture (`Engine/Capture/`), which must not use it afterwards.
    var isWatchedByCapture = false
}

/// The memory of one tensor, owned by a backend: the handle every kernel call takes.
///
/// Host backends keep the elements right after the header, in the same allocation (one
/// `malloc` per tensor); ``hostAddress`` points at them. A device with its own memory allocates
/// a buffer with no host elements and keeps its allocation in ``BufferHeader/deviceMemory``.
public final class Buffer: ManagedBuffer<BufferHeader, UInt64> {
    /// A buffer of `count` elements of `dtype` in host memory, uninitialized, owned by `device`.
    @inline(__always)
    public static func allocateHost(_ count: Int, _ dtype: DType, device: Device) -> Buffer {
        let buffer = allocateUntracked(count, dtype, device: device)
        if _slowPath(activeCaptureRecorders.load(ordering: .relaxed) != 0) {
            ThreadState.current.recorder?.noteBorn(buffer)
        }
        return buffer
    }

    /// Host memory for `count` elements, not reported to a capture recording on this thread
    /// (the capture's own copies).
    @inline(__always)
    static func allocateUntracked(_ count: Int, _ dtype: DType, device: Device) -> Buffer {
        let words = (count * dtype.byteCount + 7) >> 3
        let buffer = Buffer.create(minimumCapacity: Swift.max(words, 1)) { _ in
            BufferHeader(count: count, dtype: dtype, device: device, deviceMemory: nil)
        }
        return unsafeDowncast(buffer, to: Buffer.self)
    }

    deinit {
        if _slowPath(isWatchedByCapture) { captureBufferWillBeFreed(self) }
    }

    /// Whether a capture records or replays this buffer.
    var isWatchedByCapture: Bool {
        @inline(__always) get { withUnsafeMutablePointerToHeader { $0.pointee.isWatchedByCapture } }
        set { withUnsafeMutablePointerToHeader { $0.pointee.isWatchedByCapture = newValue } }
    }

    /// A buffer whose elements live in a device's own memory (`memory`), with no host copy.
    public static func allocateOnDevice(_ count: Int, _ dtype: DType, device: Device, memory: AnyObject) -> Buffer {
        let buffer = Buffer.create(minimumCapacity: 0) { _ in
            BufferHeader(count: count, dtype: dtype, device: device, deviceMemory: memory)
        }
        return unsafeDowncast(buffer, to: Buffer.self)
    }

    /// The number of elements.
    @inline(__always) public var count: Int { withUnsafeMutablePointerToHeader { $0.pointee.count } }
    /// The element type.
    @inline(__always) public var dtype: DType { withUnsafeMutablePointerToHeader { $0.pointee.dtype } }
    /// The device that owns the buffer.
    @inline(__always) public var device: Device { withUnsafeMutablePointerToHeader { $0.pointee.device } }
    /// The backend that computes on the buffer.
    @inline(__always) public var backend: any Backend { withUnsafeMutablePointerToHeader { $0.pointee.device.backend } }
    /// Whether the elements are host memory (no ``BufferHeader/deviceMemory``).
    @inline(__always)
    public var isHostMemory: Bool { withUnsafeMutablePointerToHeader { $0.pointee.deviceMemory == nil } }

    /// The first element in host memory. Only for host backends (``isHostMemory``); valid while
    /// the buffer is alive.
    @inline(__always)
    public var hostAddress: UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(withUnsafeMutablePointerToElements { $0 })
    }

    /// The elements in host memory as `T`, which must be the buffer's element type.
    @inline(__always)
    public func host<T>(_: T.Type) -> UnsafeMutablePointer<T> {
        hostAddress.assumingMemoryBound(to: T.self)
    }
}

/// Where a tensor's buffer lives and which backend computes on it.
///
/// Ops run on the device of their inputs; an op whose inputs are on different devices stops
/// with a message naming both. ``Tensor/to(_:)`` copies a tensor to another device.
public struct Device: Hashable, @unchecked Sendable, CustomStringConvertible {
    /// Backends are created once and never freed (a device is a process-wide constant), so the
    /// reference is not counted: a tensor's device costs no retain or release.
    public unowned(unsafe) let backend: any Backend

    /// The device of `backend`, which must live as long as the process (a `static let`).
    public init(_ backend: any Backend) { self.backend = backend }

    /// The host CPU: vectorized C kernels, OpenBLAS and a thread pool (`Backends/CPU/`).
    public static let cpu = Device(CPUBackend.shared)
    /// Plain Swift loops on one thread, written to be read as the specification of each kernel
    /// (`Backends/Reference/`). The test suite runs every op here and on ``cpu`` and compares.
    public static let reference = Device(ReferenceBackend.shared)

    public static func == (a: Device, b: Device) -> Bool { a.backend === b.backend }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(backend)) }
    public var description: String { backend.name }
}

/// A view of a buffer through strides: element `(i₀, i₁, …)` of the view's shape is element
/// `offset + Σₖ iₖ·strides[k]` of the buffer. A stride of 0 repeats an element along that axis.
public struct StridedView {
    /// The buffer viewed.
    public let buffer: Buffer
    /// The element of the buffer at index `(0, 0, …)` of the view.
    public let offset: Int
    /// Per axis of the view, how many elements of the buffer one step along it moves.
    public let strides: [Int]

    /// A view of `buffer` starting at element `offset` and stepping by `strides`.
    public init(_ buffer: Buffer, offset: Int = 0, strides: [Int]) {
        self.buffer = buffer
        self.offset = offset
        self.strides = strides
    }
}

/// The kernels of one device: everything ops need computed, named by what it computes.
///
/// Buffers are handles; the element type is the buffers' ``DType`` (every floating-point buffer
/// of one call has the same type). Outputs are distinct from inputs unless a kernel says
/// otherwise, and are allocated by the caller through ``allocate(_:_:)``. Shapes are row-major
/// and contiguous unless a ``StridedView`` says otherwise. "Broadcast" means NumPy's rule: shapes
/// aligned at the right, a dimension of 1 (or a missing one) repeated.
///
/// Each requirement documents its result exactly; `Backends/Reference/` is that documentation
/// written as plain loops, and the test suite holds every backend to it.
public protocol Backend: AnyObject, Sendable {
    /// The device's name in messages (`cpu`, `reference`).
    var name: String { get }

    // MARK: Memory

    /// Uninitialized memory for `count` elements of `dtype`.
    func allocate(_ count: Int, _ dtype: DType) -> Buffer
    /// `buffer` ← the bytes at `source` (`buffer.count · dtype.byteCount` of them).
    func copy(fromHost source: UnsafeRawPointer, into buffer: Buffer)
    /// The bytes of `buffer` → `destination`.
    func copy(_ buffer: Buffer, toHost destination: UnsafeMutableRawPointer)

    // MARK: Elementwise

    /// `out[i] = value` for every element (truncated toward zero for `int64`, which the value
    /// must fit).
    func fill(_ out: Buffer, with value: Double)
    /// `out[i] = f(x[i])` (same count).
    func unary(_ op: UnaryKernel, _ x: Buffer, into out: Buffer)
    /// `out = f(a, b)` elementwise, `a` (of `aShape`) and `b` (of `bShape`) broadcast to
    /// `shape`, the shape of `out`. `out` may be `a` itself when `aShape == shape` (each element
    /// is read before it is written): backward sums gradients in place this way.
    func binary(
        _ op: BinaryKernel, _ a: Buffer, _ aShape: [Int], _ b: Buffer, _ bShape: [Int], into out: Buffer, shape: [Int])
    /// `out = mask ≠ 0 ? a : b` elementwise, all three broadcast to `shape`.
    func select(
        _ mask: Buffer, _ maskShape: [Int], _ a: Buffer, _ aShape: [Int], _ b: Buffer, _ bShape: [Int],
        into out: Buffer, shape: [Int])
    /// `out` (contiguous, of `shape`) ← the elements of `source` read through its strides:
    /// permutations, broadcasts and slices.
    func copy(_ source: StridedView, into out: Buffer, shape: [Int])
    /// The elements of `source` (contiguous, of `shape`) → `destination` through its strides
    /// (other elements of the destination buffer are left as they are): a slice's adjoint,
    /// joining tensors, an in-place update.
    func copy(_ source: Buffer, into destination: StridedView, shape: [Int])
    /// `out[i] = x[i]` converted to `out`'s element type: between floats and from `int64` to a
    /// float, the nearest value; from a float to `int64`, truncated toward zero (PyTorch's
    /// `.long()`), with NaN, ±∞ and values outside `int64`'s range giving `Int64.min`; between
    /// equal types, a copy. Returns, for a float → `int64` conversion, the position of the first
    /// element that is not a whole number representable in `int64` (NaN, ±∞, a fraction, too
    /// large), else `nil`: class labels held as floats are checked in the same pass.
    @discardableResult
    func convert(_ x: Buffer, into out: Buffer) -> Int?

    // MARK: Reductions

    /// `out` (of `shape` with `axes` set to 1) ← `op` over the `axes` of `x` (of `shape`);
    /// `axes` sorted and distinct. Sums of nothing are 0, max/min of nothing −∞/+∞; a NaN
    /// anywhere in a max/min makes it NaN.
    func reduce(_ op: ReductionKernel, _ x: Buffer, shape: [Int], axes: [Int], into out: Buffer)
    /// `out[o, i] = log Σₖ exp(x[o, k, i])` for `x` seen as `[outer, length, inner]`, computed
    /// as `m + log Σₖ exp(x − m)` with `m` the slice's maximum, or 0 when that is ±∞ (so a slice
    /// of −∞ gives −∞ and one holding +∞ gives +∞, not NaN); NaN if the slice holds one;
    /// `length ≥ 1`.
    func logSumExp(_ x: Buffer, outer: Int, length: Int, inner: Int, into out: Buffer)
    /// For `x` seen as `[outer, length, inner]` (`length ≥ 1`), the index `k` of the largest
    /// (`.max`) or smallest (`.min`) `x[o, k, i]` for each `(o, i)`: the elements are compared
    /// with `>` (`<`) against the best so far, starting from `k = 0`, so the first of equal
    /// elements wins and a NaN is chosen only when it comes first. `out` is an `int64` buffer of
    /// `outer·inner` elements: `out[o·inner + i] = k`.
    func argReduce(_ op: ReductionKernel, _ x: Buffer, outer: Int, length: Int, inner: Int, into out: Buffer)
    /// The index of the first element that is NaN or ±∞, if any.
    func firstNonFinite(_ x: Buffer) -> Int?

    // MARK: Products

    /// For each of `batch` contiguous blocks, `c ← op(a)·op(b)` with `op(a)` `m × k`, `op(b)`
    /// `k × n` and `c` `m × n`; `op` transposes a block (stored `k × m`, `n × k`) when its flag
    /// is set. `c` is all zeros when `k` is 0.
    func matmul(
        _ a: Buffer, _ b: Buffer, into c: Buffer, batch: Int, m: Int, n: Int, k: Int, transposeA: Bool,
        transposeB: Bool)
    /// `out ← x·W + 1·bᵀ` for `x` `m × k`, `W` `k × n`, and a bias of `n` elements or one
    /// (broadcast to every element).
    func linear(_ x: Buffer, weight: Buffer, bias: Buffer, into out: Buffer, m: Int, n: Int, k: Int)

    // MARK: Fused products (a captured step's rewrites, Engine/Capture/CapturePlan.swift)

    /// `out ← relu(x·W + 1·bᵀ)`: ``linear(_:weight:bias:into:m:n:k:)`` then
    /// ``unary(_:_:into:)`` with ``UnaryKernel/relu`` on its result, with the same bits.
    func linearReLU(_ x: Buffer, weight: Buffer, bias: Buffer, into out: Buffer, m: Int, n: Int, k: Int)
    /// `c ← op(a)·op(b)` where `keep > 0`, else 0 (`keep` `m × n`, as `c`): a one-block
    /// ``matmul(_:_:into:batch:m:n:k:transposeA:transposeB:)`` then ``binary(_:_:_:_:_:into:shape:)``
    /// with ``BinaryKernel/reluBackward`` of the product and `keep`, with the same bits.
    func matmulReLUBackward(
        _ a: Buffer, _ b: Buffer, keep: Buffer, into c: Buffer, m: Int, n: Int, k: Int, transposeA: Bool,
        transposeB: Bool)
    /// `c ← op(a)·op(b)·(dropoutKeep ≠ 0 ? scale : 0)`, then 0 where `reluKeep ≤ 0` when given:
    /// a one-block ``matmul(_:_:into:batch:m:n:k:transposeA:transposeB:)``, then dropout's
    /// backward ``maskedScale(_:keep:scale:into:)`` (`dropoutKeep` a `uint8` mask of `m × n`),
    /// then ``binary(_:_:_:_:_:into:shape:)`` with ``BinaryKernel/reluBackward``, with the same bits.
    func matmulDropoutBackward(
        _ a: Buffer, _ b: Buffer, dropoutKeep: Buffer, scale: Double, reluKeep: Buffer?, into c: Buffer, m: Int, n: Int,
        k: Int, transposeA: Bool, transposeB: Bool)
    /// A linear layer's weight and bias gradients from its input `x` (`k × m`) and the gradient
    /// of its output `g` (`k × n`): `c ← xᵀ·g` and `columnSums[j] ← Σₚ g[p, j]`, with the bits of
    /// ``matmul(_:_:into:batch:m:n:k:transposeA:transposeB:)`` (A transposed) and
    /// ``reduce(_:_:shape:axes:into:)`` summing `g` (shape `[k, n]`) over axis 0.
    func matmulColumnSums(_ x: Buffer, _ g: Buffer, into c: Buffer, columnSums: Buffer, m: Int, n: Int, k: Int)

    // MARK: Indexing

    // Indices are `int64` buffers. A kernel given indices checks them as it reads them: it
    // returns the position (in the index buffer) of the first index outside `0..<length`, having
    // written nothing outside `out` (whose contents are then unspecified), or `nil` when every
    // index is in range. Ops turn the position into their one-line error; no separate pass on the
    // host reads the indices.

    /// `x` seen as `[outer, length, inner]`: `out[o, j, i] = x[o, indices[j], i]` (`out` is
    /// `[outer, indices.count, inner]`).
    @discardableResult
    func indexSelect(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: Buffer, into out: Buffer) -> Int?
    /// The adjoint of ``indexSelect(_:outer:length:inner:indices:into:)``: `out` (`[outer,
    /// length, inner]`) ← 0, then `out[o, indices[j], i] += x[o, j, i]` for every `j` in order.
    @discardableResult
    func indexAdd(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: Buffer, into out: Buffer) -> Int?
    /// `x` seen as `[outer, length, inner]`, `out` and `indices` as `[outer, k, inner]`:
    /// `out[o, j, i] = x[o, indices[o, j, i], i]`.
    @discardableResult
    func gather(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: Buffer, into out: Buffer) -> Int?
    /// The adjoint of ``gather(_:outer:length:inner:indices:into:)``: `out` (`[outer, length,
    /// inner]`) ← 0, then `out[o, indices[o, j, i], i] += x[o, j, i]` in row-major order of `x`.
    @discardableResult
    func scatterAdd(_ x: Buffer, outer: Int, length: Int, inner: Int, indices: Buffer, into out: Buffer) -> Int?

    // MARK: Convolution and pooling

    /// A 2-D convolution (cross-correlation, as PyTorch's `conv2d`) in NCHW layout, with the
    /// sizes of `geometry` (`g`): `input` `[N, Cin, H, W]`, `weight` `[Cout, Cin/groups, kH, kW]`,
    /// `bias` `[Cout]` or `nil`, `out` `[N, Cout, oH, oW]`, where output channel `co` belongs to
    /// group `gi = co / (Cout/groups)` and reads input channels `gi·Cin/groups + c`:
    ///
    /// `out[n, co, i, j] = bias[co] + Σ_{c, p, q} input[n, gi·Cin/groups + c, i·sH − padTop + p·dH,
    /// j·sW − padLeft + q·dW] · weight[co, c, p, q]`, the input read as 0 outside `H × W`.
    /// Terms are added in the order `c`, `p`, `q` (any order on a fast backend).
    func convolution2d(
        _ input: Buffer, weight: Buffer, bias: Buffer?, into out: Buffer, _ geometry: Convolution2DGeometry)
    /// The adjoint of ``convolution2d(_:weight:bias:into:_:)`` with respect to its input (a
    /// transposed convolution): `gradInput` (`[N, Cin, H, W]`) ← 0, then for every term of the
    /// forward sum that reads an input element inside `H × W`,
    /// `gradInput[n, gi·Cin/groups + c, i·sH − padTop + p·dH, j·sW − padLeft + q·dW] +=
    /// gradOut[n, co, i, j] · weight[co, c, p, q]`.
    func convolution2dInputGradient(
        _ gradOut: Buffer, weight: Buffer, into gradInput: Buffer, _ geometry: Convolution2DGeometry)
    /// The adjoint of ``convolution2d(_:weight:bias:into:_:)`` with respect to its weight:
    /// `gradWeight[co, c, p, q] = Σ_{n, i, j} gradOut[n, co, i, j] · input[n, gi·Cin/groups + c,
    /// i·sH − padTop + p·dH, j·sW − padLeft + q·dW]` (input 0 outside `H × W`), `gradWeight`
    /// `[Cout, Cin/groups, kH, kW]`.
    func convolution2dWeightGradient(
        _ input: Buffer, gradOut: Buffer, into gradWeight: Buffer, _ geometry: Convolution2DGeometry)
    /// Max pooling over the `N·C` planes of `input` (`[N, C, H, W]`, with `C` the geometry's
    /// input and output channels) into `out` (`[N, C, oH, oW]`), windows placed as the kernel's:
    /// the window of `out[p, i, j]` is the elements `(i·sH − padTop + a·dH, j·sW − padLeft + b·dW)`
    /// for `a < kH`, `b < kW` that lie inside `H × W` (padding is −∞, never chosen). Walking the
    /// window in row-major order from value −∞ and the window's first inside element, an element
    /// replaces the best so far when it is greater or NaN (PyTorch's rule: the first of equal
    /// maxima wins, a NaN propagates). `indices` (an `int64` buffer shaped as `out`) receives,
    /// for each output element, the chosen element's index `row·W + column` within its plane
    /// (what the backward pass's ``scatterAdd(_:outer:length:inner:indices:into:)`` reads).
    /// Every window must hold at least one inside element.
    func maxPool2d(_ input: Buffer, into out: Buffer, indices: Buffer, _ geometry: Convolution2DGeometry)

    // MARK: Randomness

    /// `out[i] = value` with probability `probability`, else 0. Every backend makes the same
    /// decisions from the same generator state (``ReferenceBackend`` spells the stream out):
    /// with `t = ⌈probability·2³²⌉`, nothing is drawn when `t ≤ 0` (all 0) or `t ≥ 2³²` (all
    /// kept); otherwise the elements are cut into blocks of 16,384, the generator gives 16 words
    /// per block (all blocks' words drawn first, in block order) seeding four xoshiro256** lanes,
    /// and each step of the four lanes decides eight elements, kept where a 32-bit half of a
    /// lane's output is below `t`.
    func bernoulli(_ out: Buffer, probability: Double, value: Double, generator: inout RandomGenerator)
    /// Inverted dropout with the decisions of ``bernoulli(_:probability:value:generator:)``:
    /// `out[i] = x[i]·(kept ? scale : 0)` (so NaN and ±∞ stay visible where dropped, as with a
    /// multiplied mask) and `keep[i]` (a `uint8` buffer) = 1 where kept, else 0.
    func dropout(
        _ x: Buffer, into out: Buffer, keep: Buffer, probability: Double, scale: Double,
        generator: inout RandomGenerator)
    /// `out[i] = x[i]·(keep[i] ≠ 0 ? scale : 0)`: dropout's backward pass.
    func maskedScale(_ x: Buffer, keep: Buffer, scale: Double, into out: Buffer)

    // MARK: Fused losses

    /// The mean `(1/n) Σᵢ softplus(zᵢ) − yᵢ·zᵢ` over the `n` elements, with `softplus(z) =
    /// max(z, 0) + log(1 + e^{−|z|})`, summed and divided in Double and rounded once into
    /// `loss` (one element of `z`'s type; NaN when `n = 0`); `sigmoid[i] = σ(zᵢ)` when given.
    func sigmoidCrossEntropy(_ z: Buffer, targets y: Buffer, sigmoid: Buffer?, into loss: Buffer)
    /// `out[i] = (sigmoid[i] − y[i])·scale[0]`, `scale` one element of the same type (the
    /// upstream gradient over the count: it stays in a buffer, so a captured step replays it).
    func sigmoidCrossEntropyGradient(sigmoid: Buffer, targets y: Buffer, scale: Buffer, into out: Buffer)
    /// The mean `(1/rows) Σᵢ logSumExp(zᵢ) − zᵢ[labels[i]]` over the rows of `z` (`[rows,
    /// classes]`), summed and divided in Double and rounded once into `loss` (one element of
    /// `z`'s type); `probabilities[i, j] = softmax(zᵢ)ⱼ` when given. `labels` is an `int64` buffer
    /// of `rows` elements; returns the position of the first label outside `0..<classes` (then
    /// nothing is written), else `nil`.
    @discardableResult
    func softmaxCrossEntropy(
        _ z: Buffer, labels: Buffer, rows: Int, classes: Int, probabilities: Buffer?, into loss: Buffer
    ) -> Int?
    /// `out[i, j] = (probabilities[i, j] − [j = labels[i]])·scale[0]` (`scale` one element); returns the position of the
    /// first label outside `0..<classes` (then `out` is unspecified), else `nil`.
    @discardableResult
    func softmaxCrossEntropyGradient(
        probabilities: Buffer, labels: Buffer, rows: Int, classes: Int, scale: Buffer, into out: Buffer
    ) -> Int?

    // MARK: Normalization

    /// Normalizes `x` seen as `[outer, groups, inner]` per group `c`, over its
    /// `n = outer·inner` elements `x[o, c, i]`: `μ_c` = their mean, `σ²_c` = their biased
    /// variance `Σ(x − μ_c)²/n`, `rstd_c = 1/√(σ²_c + epsilon)`, and
    /// `out[o, c, i] = (x[o, c, i] − μ_c)·rstd_c·scale[c] + shift[c]` (scale 1 and shift 0 when
    /// not given). `mean` and `rstd` (`groups` elements each) receive `μ` and `rstd`. A group
    /// with `n = 0` has mean 0 and variance 0. BatchNorm over NCHW is `[N, C, H·W]`;
    /// LayerNorm and GroupNorm are `[1, rows, rowLength]`.
    func normalize(
        _ x: Buffer, outer: Int, groups: Int, inner: Int, epsilon: Double, scale: Buffer?, shift: Buffer?,
        into out: Buffer, mean: Buffer, rstd: Buffer)
    /// The backward pass of ``normalize(_:outer:groups:inner:epsilon:scale:shift:into:mean:rstd:)``
    /// for the upstream gradient `g` of `out` (same layout), from the input `x` and the saved
    /// `mean` and `rstd`: with `x̂ = (x − μ_c)·rstd_c`, per group `sumG[c] = Σ g` and
    /// `sumGXhat[c] = Σ g·x̂` (the gradients of `shift` and `scale`), and
    /// `dx = scale[c]·rstd_c·(g − sumG[c]/n − x̂·sumGXhat[c]/n)` (scale 1 when not given).
    func normalizeBackward(
        _ g: Buffer, _ x: Buffer, mean: Buffer, rstd: Buffer, scale: Buffer?, outer: Int, groups: Int, inner: Int,
        into dx: Buffer, sumG: Buffer, sumGXhat: Buffer)
    /// Layer normalization of `rows` rows of `width` elements with a per-column affine map:
    /// per row `r`, `μ_r` and `σ²_r` (biased) as ``normalize(_:outer:groups:inner:epsilon:scale:shift:into:mean:rstd:)``
    /// computes them, `rstd_r = 1/√(σ²_r + epsilon)`, and
    /// `out[r, j] = (x[r, j] − μ_r)·rstd_r·weight[j] + bias[j]` (weight 1 and bias 0 when not
    /// given); `mean` and `rstd` (`rows` elements each) receive `μ` and `rstd`. The default runs
    /// `normalize` and the two broadcast ops one after the other (the specification of the
    /// fused kernel).
    func layerNorm(
        _ x: Buffer, rows: Int, width: Int, epsilon: Double, weight: Buffer?, bias: Buffer?, into out: Buffer,
        mean: Buffer, rstd: Buffer)
    /// The backward pass of ``layerNorm(_:rows:width:epsilon:weight:bias:into:mean:rstd:)`` for
    /// the upstream gradient `g` of `out`, from `x` and the saved `mean` and `rstd`: with
    /// `x̂ = (x − μ_r)·rstd_r` and `gw = g·weight[j]` (`g` without a weight),
    /// `dx = rstd_r·(gw − Σⱼ gw/width − x̂·Σⱼ gw·x̂/width)`,
    /// `weightGradient[j] = Σ_r g·x̂` and `biasGradient[j] = Σ_r g` (each computed only when
    /// given). The default runs the unfused kernels one after the other.
    func layerNormBackward(
        _ g: Buffer, _ x: Buffer, mean: Buffer, rstd: Buffer, weight: Buffer?, rows: Int, width: Int,
        into dx: Buffer, weightGradient: Buffer?, biasGradient: Buffer?)

    // MARK: Attention

    /// Scaled dot-product attention over the `g.batch` independent heads of `query`
    /// (`[batch, Tq, D]`), `key` (`[batch, Tk, D]`) and `value` (`[batch, Tk, Dv]`), with the sizes
    /// and options of `g` (``AttentionGeometry``), each operand's rows where `g.query`, `g.key`,
    /// `g.value` and `g.output` say (contiguous by default; strided for
    /// ``AttentionGeometry/packedSelfAttention(entries:heads:length:width:scale:causal:)``, where
    /// the three inputs are one buffer); `logSumExp` and `probabilities` are always contiguous.
    /// For head `b` and query row `i`, over the key
    /// positions `j` it may see (all `j < Tk`, or `j ≤ i` when `g.causal`):
    ///
    ///     s[j] = g.scale·Σ_d query[b, i, d]·key[b, j, d] + mask[b′, i, j]
    ///     m = max_j s[j],  l = Σ_j exp(s[j] − m)
    ///     out[b, i, :] = Σ_j exp(s[j] − m)/l · value[b, j, :],  logSumExp[b, i] = m + log l
    ///
    /// where `mask` (additive, `nil` for none) is `[1, Tq, Tk]` shared by every head when
    /// `g.sharedMask`, else `[batch, Tq, Tk]` (`b′ = b`). A row with no position, or whose
    /// scores are all −∞, gives `out = 0` and `logSumExp = −∞` (not NaN). When `probabilities`
    /// (`[batch, Tq, Tk]`) is given it receives `p[b, i, j] = exp(s[j] − m)/l` (0 where `j` is
    /// not seen, and across a row with no position), for the backward pass to read instead of
    /// recomputing them from `logSumExp`.
    func attention(
        _ query: Buffer, _ key: Buffer, _ value: Buffer, mask: Buffer?, _ g: AttentionGeometry, into out: Buffer,
        logSumExp: Buffer, probabilities: Buffer?)
    /// The backward pass of ``attention(_:_:_:mask:_:into:logSumExp:probabilities:)`` for the
    /// upstream gradient `gradOut` of `out` (`[batch, Tq, Dv]`), from the inputs, the forward's
    /// `out`, `logSumExp` and, when the forward kept them, `probabilities`. With
    /// `p[i, j] = exp(s[i, j] − logSumExp[i])` (0 where `j` is not seen or the row's
    /// log-sum-exp is −∞; read from `probabilities` when given) and
    /// `δ[i] = Σ_e gradOut[i, e]·out[i, e]`:
    ///
    ///     gradValue[j, :] = Σ_i p[i, j]·gradOut[i, :]
    ///     ds[i, j] = p[i, j]·(Σ_e gradOut[i, e]·value[j, e] − δ[i])
    ///     gradQuery[i, :] = g.scale·Σ_j ds[i, j]·key[j, :],  gradKey[j, :] = g.scale·Σ_i ds[i, j]·query[i, :]
    ///
    /// per head (the mask is a constant: it gets no gradient). `gradOut` has the layout of `out`,
    /// and each input's gradient that of the input; only the gradients' rows are written (with a
    /// packed geometry the three are one buffer, which they fill together).
    func attentionBackward(
        _ gradOut: Buffer, _ query: Buffer, _ key: Buffer, _ value: Buffer, mask: Buffer?, output: Buffer,
        logSumExp: Buffer, probabilities: Buffer?, _ g: AttentionGeometry, gradQuery: Buffer, gradKey: Buffer,
        gradValue: Buffer)

    // MARK: Optimizer updates

    /// One optimizer step, in place, on `weights` with `gradient` and the rule's `state`
    /// buffers (in the order ``UpdateKernel`` documents).
    func update(_ rule: UpdateKernel, weights: Buffer, gradient: Buffer, state: [Buffer])
}

extension Backend {
    /// The two kernels one after the other (the specification of the fusion).
    public func linearReLU(_ x: Buffer, weight: Buffer, bias: Buffer, into out: Buffer, m: Int, n: Int, k: Int) {
        linear(x, weight: weight, bias: bias, into: out, m: m, n: n, k: k)
        unary(.relu, out, into: out)
    }

    /// The two kernels one after the other (the specification of the fusion).
    public func matmulReLUBackward(
        _ a: Buffer, _ b: Buffer, keep: Buffer, into c: Buffer, m: Int, n: Int, k: Int, transposeA: Bool,
        transposeB: Bool
    ) {
        matmul(a, b, into: c, batch: 1, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB)
        binary(.reluBackward, c, [m, n], keep, [m, n], into: c, shape: [m, n])
    }

    /// The kernels one after the other (the specification of the fusion).
    public func matmulDropoutBackward(
        _ a: Buffer, _ b: Buffer, dropoutKeep: Buffer, scale: Double, reluKeep: Buffer?, into c: Buffer, m: Int, n: Int,
        k: Int, transposeA: Bool, transposeB: Bool
    ) {
        matmul(a, b, into: c, batch: 1, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB)
        maskedScale(c, keep: dropoutKeep, scale: scale, into: c)
        if let reluKeep { binary(.reluBackward, c, [m, n], reluKeep, [m, n], into: c, shape: [m, n]) }
    }

    /// The unfused kernels one after the other (the specification of the fusion):
    /// `normalize`, then `· weight` and `+ bias`.
    public func layerNorm(
        _ x: Buffer, rows: Int, width: Int, epsilon: Double, weight: Buffer?, bias: Buffer?, into out: Buffer,
        mean: Buffer, rstd: Buffer
    ) {
        composedLayerNorm(
            x, rows: rows, width: width, epsilon: epsilon, weight: weight, bias: bias, into: out, mean: mean, rstd: rstd
        )
    }

    /// The unfused kernels one after the other (the specification of the fusion): the column
    /// sums, `g·weight`, then `normalizeBackward`.
    public func layerNormBackward(
        _ g: Buffer, _ x: Buffer, mean: Buffer, rstd: Buffer, weight: Buffer?, rows: Int, width: Int,
        into dx: Buffer, weightGradient: Buffer?, biasGradient: Buffer?
    ) {
        composedLayerNormBackward(
            g, x, mean: mean, rstd: rstd, weight: weight, rows: rows, width: width, into: dx,
            weightGradient: weightGradient, biasGradient: biasGradient)
    }

    /// ``layerNorm(_:rows:width:epsilon:weight:bias:into:mean:rstd:)`` as `normalize` over
    /// `[1, rows, width]`, then `· weight` and `+ bias` broadcast along the rows, in place.
    func composedLayerNorm(
        _ x: Buffer, rows: Int, width: Int, epsilon: Double, weight: Buffer?, bias: Buffer?, into out: Buffer,
        mean: Buffer, rstd: Buffer
    ) {
        normalize(
            x, outer: 1, groups: rows, inner: width, epsilon: epsilon, scale: nil, shift: nil, into: out, mean: mean,
            rstd: rstd)
        if let weight { binary(.multiply, out, [rows, width], weight, [width], into: out, shape: [rows, width]) }
        if let bias { binary(.add, out, [rows, width], bias, [width], into: out, shape: [rows, width]) }
    }

    /// ``layerNormBackward(_:_:mean:rstd:weight:rows:width:into:weightGradient:biasGradient:)``
    /// as unfused kernels: `Σ_r g`; `x̂` from the saved statistics, `Σ_r g·x̂`; `g·weight`, then
    /// `normalizeBackward` of it.
    func composedLayerNormBackward(
        _ g: Buffer, _ x: Buffer, mean: Buffer, rstd: Buffer, weight: Buffer?, rows: Int, width: Int,
        into dx: Buffer, weightGradient: Buffer?, biasGradient: Buffer?
    ) {
        let (matrix, column) = ([rows, width], [rows, 1])
        if let biasGradient { reduce(.sum, g, shape: matrix, axes: [0], into: biasGradient) }
        if let weightGradient {
            let product = allocate(rows * width, x.dtype)
            binary(.subtract, x, matrix, mean, column, into: product, shape: matrix)
            binary(.multiply, product, matrix, rstd, column, into: product, shape: matrix)
            binary(.multiply, product, matrix, g, matrix, into: product, shape: matrix)
            reduce(.sum, product, shape: matrix, axes: [0], into: weightGradient)
        }
        var scaled = g
        if let weight {
            scaled = allocate(rows * width, x.dtype)
            binary(.multiply, g, matrix, weight, [width], into: scaled, shape: matrix)
        }
        let (sumG, sumGXhat) = (allocate(rows, x.dtype), allocate(rows, x.dtype))
        normalizeBackward(
            scaled, x, mean: mean, rstd: rstd, scale: nil, outer: 1, groups: rows, inner: width, into: dx, sumG: sumG,
            sumGXhat: sumGXhat)
    }

    /// The two kernels one after the other (the specification of the fusion).
    public func matmulColumnSums(_ x: Buffer, _ g: Buffer, into c: Buffer, columnSums: Buffer, m: Int, n: Int, k: Int) {
        matmul(x, g, into: c, batch: 1, m: m, n: n, k: k, transposeA: true, transposeB: false)
        reduce(.sum, g, shape: [k, n], axes: [0], into: columnSums)
    }
}

// MARK: Kernel codes

/// Elementwise functions of one tensor (``Backend/unary(_:_:into:)``). Constants are Doubles,
/// rounded to the buffer's element type by the backend.
public enum UnaryKernel: Sendable, Equatable {
    /// `−x`, `eˣ`, `ln x`, `√x`, `|x|`, `sin x`, `cos x`, `tanh x`.
    case negate, exp, log, sqrt, abs, sin, cos, tanh
    /// `1/(1 + e^{−x})`, computed without overflow for any x.
    case sigmoid
    /// `x` where `x > 0`, else 0 (NaN gives 0).
    case relu
    /// `max(x, 0) + log(1 + e^{−|x|})`.
    case softplus
    /// `sign(x)`: −1, 0 or 1.
    case sign
    /// `1` where `x > 0`, else `0` (relu's derivative).
    case positive
    /// `x + c`.
    case addScalar(Double)
    /// `c·x`.
    case multiplyScalar(Double)
    /// `xᵖ`: `x·x` for `p = 2`, `pow(x, n)` with an integer `n` for any other integral `p` (so
    /// negative `x` is defined), else the real `pow(x, p)`.
    case powerScalar(Double)
    /// `x` where `x > 0`, else `slope·x`.
    case leakyRelu(Double)
    /// `1` where `x > 0`, else the slope (leakyRelu's derivative).
    case leakyReluSlope(Double)
    /// `min(max(x, lo), hi)`.
    case clamp(Double, Double)
    /// GELU, exact: `x·Φ(x) = ½·x·(1 + erf(x/√2))`.
    case gelu
    /// GELU, tanh approximation: `½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    case geluTanh
    /// SiLU (swish): `x·σ(x)`.
    case silu
    /// ELU: `x` where `x > 0`, else `α·(eˣ − 1)` (computed as `α·expm1(x)`).
    case elu(Double)
    /// `1` where `lo ≤ x ≤ hi`, else `0` (clamp's derivative).
    case inside(Double, Double)
    /// `1` where `x > c`, else `0`.
    case greaterThanScalar(Double)
    /// `1` where `x < c`, else `0`.
    case lessThanScalar(Double)
    /// `1` where `x = c`, else `0`.
    case equalToScalar(Double)
}

/// Elementwise functions of two tensors (``Backend/binary(_:_:_:_:_:into:shape:)``).
public enum BinaryKernel: Sendable, Equatable {
    /// `a + b`, `a − b`, `a·b`, `a / b`.
    case add, subtract, multiply, divide
    /// `aᵇ`: `pow(a, n)` with an integer `n` where `b` is integral (so negative `a` is
    /// defined), else the real `pow(a, b)`.
    case power
    /// `a ≥ b ? a : b` (`a ≤ b ? a : b`): `a` on ties, `b` when either is NaN.
    case maximum, minimum
    /// `1` where `a > b`, `½` where `a == b`, else `0` (maximum's derivative for `a`).
    case greaterMask
    /// `g·(1 − y²)` with `a = g`, `b = y`: tanh's derivative.
    case tanhBackward
    /// `g·y·(1 − y)` with `a = g`, `b = y`: sigmoid's derivative.
    case sigmoidBackward
    /// `g` where `x > 0`, else `0`, with `a = g`, `b = x`: relu's derivative in one pass.
    case reluBackward
    /// `g·(Φ(x) + x·φ(x))` with `a = g`, `b = x`, `φ` the standard normal density: exact GELU's
    /// derivative.
    case geluBackward
    /// `g·(½·(1 + t) + ½·x·(1 − t²)·u′)` with `a = g`, `b = x`, `t = tanh(u)`,
    /// `u = √(2/π)·(x + 0.044715·x³)`, `u′ = √(2/π)·(1 + 3·0.044715·x²)`: the tanh GELU's
    /// derivative.
    case geluTanhBackward
    /// `g·σ(x)·(1 + x·(1 − σ(x)))` with `a = g`, `b = x`: SiLU's derivative.
    case siluBackward
    /// `g` where `x > 0`, else `g·α·eˣ`, with `a = g`, `b = x`: ELU's derivative.
    case eluBackward(Double)
    /// Comparisons giving 1 or 0.
    case less, lessEqual, greater, greaterEqual, equal, notEqual
}

/// Reductions (``Backend/reduce(_:_:shape:axes:into:)``).
public enum ReductionKernel: Sendable, Equatable {
    /// The sum, the largest and the smallest element of each reduced group (NaN propagates
    /// through `max` and `min`).
    case sum, max, min
}

/// One optimizer step over a parameter `w`, its gradient `g` and its state, fused into one
/// pass (``Backend/update(_:weights:gradient:state:)``). The optimizers in NN choose the rule
/// and its constants; `decay` is the decoupled weight-decay factor `1 − lr·λ`, applied to the
/// weight first.
public enum UpdateKernel: Sendable, Equatable {
    /// `b ← μ·b + g; w ← w·decay − lr·(g + μ·b)` (Nesterov) or `− lr·b`; plain SGD,
    /// `w ← w·decay − lr·g`, when `μ = 0` (then no state). State: the momentum buffer `b`.
    case sgd(lr: Double, decay: Double, momentum: Double, nesterov: Bool)
    /// `s ← s + g²; w ← w·decay − lr·g/(√s + ε)`. State: the running sum `s`.
    case adagrad(lr: Double, decay: Double, epsilon: Double)
    /// `a ← ρ·a + (1 − ρ)·g²; w ← w·decay − lr·g/(√a + ε)`. State: the running average `a`.
    case rmsprop(lr: Double, decay: Double, rho: Double, epsilon: Double)
    /// `m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; w ← w·decay − lr·(m·c₁)/(√(v̂·c₂) + ε)`,
    /// where `c₁`, `c₂` are the bias corrections `1/(1 − βᵗ)` and `v̂ = v`, or for AMSGrad
    /// `v̂ ← max(v̂, v)`. State: `m`, `v` (and `v̂` for AMSGrad).
    case adam(
        lr: Double, decay: Double, beta1: Double, beta2: Double, c1: Double, c2: Double, epsilon: Double,
        amsgrad: Bool)
}

// MARK: Convolution and pooling sizes

/// The sizes of one 2-D convolution in NCHW layout, shared by its forward kernel and its two
/// adjoints (``Backend/convolution2d(_:weight:bias:into:_:)``), and of a pooling's windows
/// (``Backend/maxPool2d(_:into:indices:_:)``, which uses neither the output channels nor the groups). Padding is given for the top
/// and left edges; the bottom and right padding follow from the output size (an output row `i`
/// reads input rows `i·sH − padTop + p·dH`, and rows outside the input read 0).
public struct Convolution2DGeometry: Sendable, Equatable, CustomStringConvertible {
    /// Images in the batch (N).
    public var batch: Int
    /// Input channels (Cin), a multiple of ``groups``.
    public var inputChannels: Int
    /// Output channels (Cout), a multiple of ``groups``.
    public var outputChannels: Int
    /// Channel groups: output channel `co` sees only the input channels of its group.
    public var groups: Int
    /// Input height and width (H, W).
    public var inputHeight: Int, inputWidth: Int
    /// Output height and width (oH, oW).
    public var outputHeight: Int, outputWidth: Int
    /// Kernel height and width (kH, kW).
    public var kernelHeight: Int, kernelWidth: Int
    /// Steps between neighbouring windows (sH, sW).
    public var strideHeight: Int, strideWidth: Int
    /// Zeros before the first input row and column.
    public var paddingTop: Int, paddingLeft: Int
    /// Steps between neighbouring kernel taps (dH, dW).
    public var dilationHeight: Int, dilationWidth: Int

    /// Collects the sizes; nothing is checked here (the ops check their arguments).
    public init(
        batch: Int, inputChannels: Int, outputChannels: Int, groups: Int, inputHeight: Int, inputWidth: Int,
        outputHeight: Int, outputWidth: Int, kernelHeight: Int, kernelWidth: Int, strideHeight: Int,
        strideWidth: Int, paddingTop: Int, paddingLeft: Int, dilationHeight: Int, dilationWidth: Int
    ) {
        self.batch = batch
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.groups = groups
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.outputHeight = outputHeight
        self.outputWidth = outputWidth
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.paddingTop = paddingTop
        self.paddingLeft = paddingLeft
        self.dilationHeight = dilationHeight
        self.dilationWidth = dilationWidth
    }

    /// Input channels per group (Cin/groups), the weight's second dimension.
    public var groupInputChannels: Int { inputChannels / groups }
    /// Output channels per group (Cout/groups).
    public var groupOutputChannels: Int { outputChannels / groups }
    /// The planes a pooling treats independently (N·Cin).
    public var planes: Int { batch * inputChannels }

    /// Every size, for messages.
    public var description: String {
        "N \(batch), Cin \(inputChannels) → Cout \(outputChannels), groups \(groups), \(inputHeight)×\(inputWidth) → \(outputHeight)×\(outputWidth), kernel \(kernelHeight)×\(kernelWidth), stride \(strideHeight)×\(strideWidth), padding \(paddingTop)×\(paddingLeft), dilation \(dilationHeight)×\(dilationWidth)"
    }
}

// MARK: Attention sizes

/// The sizes and options of one scaled dot-product attention
/// (``Backend/attention(_:_:_:mask:_:into:logSumExp:probabilities:)`` and its backward pass): `batch`
/// independent heads, each attending from `queryLength` query rows to `keyLength` key rows.
public struct AttentionGeometry: Sendable, Equatable, CustomStringConvertible {
    /// Independent heads (the product of the batch and head axes).
    public var batch: Int
    /// Query rows per head (Tq).
    public var queryLength: Int
    /// Key and value rows per head (Tk).
    public var keyLength: Int
    /// The width of a query and key row (D).
    public var headDim: Int
    /// The width of a value row (Dv), also the output's.
    public var valueDim: Int
    /// The factor on `q·k` (usually `1/√D`).
    public var scale: Double
    /// Whether query row `i` sees only the key rows `j ≤ i`.
    public var causal: Bool
    /// Whether the additive mask, if any, is one `[Tq, Tk]` matrix for every head (else one per head).
    public var sharedMask: Bool
    /// Heads per batch entry, for the operand layouts: head `b` is head `b % heads` of entry
    /// `b / heads`. 1 when every operand is contiguous.
    public var heads: Int
    /// Where the rows of `query` and of its gradient lie in their buffers.
    public var query: AttentionOperandLayout
    /// Where the rows of `key` and of its gradient lie.
    public var key: AttentionOperandLayout
    /// Where the rows of `value` and of its gradient lie.
    public var value: AttentionOperandLayout
    /// Where the rows of `out` and of the upstream gradient lie.
    public var output: AttentionOperandLayout

    /// Collects the sizes; nothing is checked here (the op checks its arguments). Every operand
    /// is contiguous: query `[batch, Tq, D]`, key `[batch, Tk, D]`, value `[batch, Tk, Dv]`,
    /// out `[batch, Tq, Dv]`.
    public init(
        batch: Int, queryLength: Int, keyLength: Int, headDim: Int, valueDim: Int, scale: Double, causal: Bool,
        sharedMask: Bool
    ) {
        self.batch = batch
        self.queryLength = queryLength
        self.keyLength = keyLength
        self.headDim = headDim
        self.valueDim = valueDim
        self.scale = scale
        self.causal = causal
        self.sharedMask = sharedMask
        heads = 1
        query = .contiguous(rows: queryLength, width: headDim)
        key = .contiguous(rows: keyLength, width: headDim)
        value = .contiguous(rows: keyLength, width: valueDim)
        output = .contiguous(rows: queryLength, width: valueDim)
    }

    /// Self-attention over one packed projection, as GPT-2's `c_attn` makes it: `qkv` is
    /// `[entries, length, 3·heads·width]` with the queries, keys and values side by side in each
    /// row (`q = qkv[…, 0..<C]`, `k = qkv[…, C..<2C]`, `v = qkv[…, 2C..<3C]`, `C = heads·width`)
    /// and head `h` their columns `h·width..<(h+1)·width`; `out` is `[entries, length, C]`,
    /// the heads merged in the same order. The three operands and their gradients share one
    /// buffer each, at offsets 0, C and 2C.
    public static func packedSelfAttention(
        entries: Int, heads: Int, length: Int, width: Int, scale: Double, causal: Bool
    ) -> AttentionGeometry {
        var g = AttentionGeometry(
            batch: entries * heads, queryLength: length, keyLength: length, headDim: width, valueDim: width,
            scale: scale, causal: causal, sharedMask: true)
        let channels = heads * width
        func operand(_ part: Int) -> AttentionOperandLayout {
            AttentionOperandLayout(
                offset: part * channels, batchStride: length * 3 * channels, headStride: width,
                rowStride: 3 * channels)
        }
        g.heads = heads
        (g.query, g.key, g.value) = (operand(0), operand(1), operand(2))
        g.output = AttentionOperandLayout(
            offset: 0, batchStride: length * channels, headStride: width, rowStride: channels)
        return g
    }

    /// Whether every operand is contiguous (`[batch, rows, width]`, no offset).
    public var isContiguous: Bool {
        heads == 1 && query == .contiguous(rows: queryLength, width: headDim)
            && key == .contiguous(rows: keyLength, width: headDim)
            && value == .contiguous(rows: keyLength, width: valueDim)
            && output == .contiguous(rows: queryLength, width: valueDim)
    }

    /// How many key rows query row `i` sees.
    @inline(__always)
    public func visibleKeys(row i: Int) -> Int { causal ? Swift.min(i + 1, keyLength) : keyLength }

    /// Every size and option, for messages.
    public var description: String {
        "heads \(batch), Tq \(queryLength), Tk \(keyLength), D \(headDim), Dv \(valueDim), scale \(scale)"
            + (causal ? ", causal" : "") + (sharedMask ? ", shared mask" : "")
            + (isContiguous ? "" : ", \(heads) heads per entry, strided")
    }
}

/// Where one attention operand's rows lie in its buffer (``AttentionGeometry``): element `e` of
/// row `i` of head `b` is at
///
///     offset + (b / heads)·batchStride + (b % heads)·headStride + i·rowStride + e
///
/// with `heads` the geometry's heads per batch entry. Rows are contiguous; everything else may
/// be strided, so a kernel can read heads where a projection left them and write heads where the
/// next product wants them.
public struct AttentionOperandLayout: Sendable, Equatable {
    /// The element where head 0's row 0 starts.
    public var offset: Int
    /// Elements from one batch entry's heads to the next's.
    public var batchStride: Int
    /// Elements from one head of an entry to the next.
    public var headStride: Int
    /// Elements from one row of a head to the next.
    public var rowStride: Int

    /// Collects the strides.
    public init(offset: Int, batchStride: Int, headStride: Int, rowStride: Int) {
        self.offset = offset
        self.batchStride = batchStride
        self.headStride = headStride
        self.rowStride = rowStride
    }

    /// `[batch, rows, width]`, contiguous from element 0.
    public static func contiguous(rows: Int, width: Int) -> AttentionOperandLayout {
        AttentionOperandLayout(offset: 0, batchStride: rows * width, headStride: 0, rowStride: width)
    }

    /// The element where row 0 of head `b` starts, with `heads` heads per batch entry.
    @inline(__always)
    public func start(head b: Int, heads: Int) -> Int {
        offset + (b / heads) * batchStride + (b % heads) * headStride
    }
}

// MARK: Host memory

/// The memory half of ``Backend`` for backends whose buffers are host memory: allocation with
/// the elements after the header, and copies that are `memcpy`.
public protocol HostMemoryBackend: Backend {}

extension HostMemoryBackend {
    @inline(__always)
    public func allocate(_ count: Int, _ dtype: DType) -> Buffer {
        Buffer.allocateHost(count, dtype, device: Device(self))
    }

    public func copy(fromHost source: UnsafeRawPointer, into buffer: Buffer) {
        CaptureRecorder.current?.noteHostWrite(buffer)
        buffer.hostAddress.copyMemory(from: source, byteCount: buffer.count * buffer.dtype.byteCount)
    }

    public func copy(_ buffer: Buffer, toHost destination: UnsafeMutableRawPointer) {
        CaptureRecorder.current?.noteHostRead(buffer)
        destination.copyMemory(from: buffer.hostAddress, byteCount: buffer.count * buffer.dtype.byteCount)
    }
}
