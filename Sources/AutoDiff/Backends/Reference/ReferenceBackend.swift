// The reference backend: every requirement of ``Backend`` written as plain loops, the
// specification the other backends are tested against. The kernels are spread over one file per
// concept (Reference+Elementwise.swift, +Copies, +Reductions, +Products, +Indexing, +Random,
// +Losses, +Updates); this file holds the class and the index arithmetic they share.

/// Plain Swift loops on one thread, written to be read as the definition of each kernel.
///
/// Nothing here is optimized: no BLAS, no C, no SIMD, no threads, no special cases for speed.
/// Each requirement looks at its buffers' ``DType`` once and calls a generic loop over `S`
/// (`Float` or `Double`) that computes in `S`, so its rounding is that of the obvious loop in
/// that precision; the kernel codes' `Double` constants are rounded to `S` first (`S(value)`).
/// `uint8` buffers are dropout's masks; `int64` buffers are indices and labels. Memory is host memory (``HostMemoryBackend``).
public final class ReferenceBackend: HostMemoryBackend {
    /// The one instance: a device is a process-wide constant (``Device/reference``).
    public static let shared = ReferenceBackend()

    private init() {}

    public var name: String { "reference" }
}

// MARK: Shared helpers

extension ReferenceBackend {
    /// The elements of `buffer` as `S`, which must be the buffer's element type.
    static func elements<S: TensorScalar>(_ buffer: Buffer, _: S.Type) -> UnsafeMutablePointer<S> {
        precondition(buffer.dtype == S.dtype, "reference: a \(buffer.dtype) buffer where \(S.dtype) was expected")
        return buffer.host(S.self)
    }

    /// The elements of an `int64` buffer (indices, labels) as `Int`.
    static func indices(_ buffer: Buffer) -> UnsafeMutablePointer<Int> {
        precondition(buffer.dtype == .int64, "reference: a \(buffer.dtype) buffer where I64 indices were expected")
        return buffer.host(Int.self)
    }

    /// The position of the first of the `int64` `indices` outside `0..<length`: what every kernel
    /// given indices returns before computing anything.
    static func firstOutOfRange(_ indices: Buffer, _ length: Int) -> Int? {
        let values = Self.indices(indices)
        for j in 0..<indices.count where values[j] < 0 || values[j] >= length { return j }
        return nil
    }

    /// The bytes of a `uint8` mask buffer.
    static func mask(_ buffer: Buffer) -> UnsafeMutablePointer<UInt8> {
        precondition(buffer.dtype == .uint8, "reference: a \(buffer.dtype) buffer where a U8 mask was expected")
        return buffer.host(UInt8.self)
    }

    /// Stops: `kernel` computes on float32 and float64 buffers only.
    static func unsupported(_ kernel: String, _ dtype: DType) -> Never {
        preconditionFailure("reference: \(kernel) takes F32 or F64 buffers, not \(dtype)")
    }

    /// The strides that read a contiguous tensor of `inShape` as the broadcast `shape` (NumPy:
    /// shapes aligned at the right; a dimension of 1, or a missing one, has stride 0).
    static func broadcastStrides(_ inShape: [Int], to shape: [Int]) -> [Int] {
        let missing = shape.count - inShape.count
        precondition(
            missing >= 0 && inShape.indices.allSatisfy { inShape[$0] == shape[missing + $0] || inShape[$0] == 1 },
            "reference: shape \(inShape) does not broadcast to \(shape)")
        return ShapeMath.broadcastStrides(inShape, to: shape)
    }

    /// `body(index)` for every multi-index of `shape` in row-major order (an odometer: the last
    /// index moves fastest); once with `[]` for a scalar, never when an extent is 0.
    static func forEachIndex(_ shape: [Int], _ body: ([Int]) -> Void) {
        if shape.contains(0) { return }
        var index = [Int](repeating: 0, count: shape.count)
        while true {
            body(index)
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }

    /// `offset + Σₖ index[k]·strides[k]`: where a multi-index lands in a buffer.
    static func flatIndex(_ index: [Int], _ strides: [Int], offset: Int = 0) -> Int {
        var flat = offset
        for k in 0..<index.count { flat += index[k] * strides[k] }
        return flat
    }
}
