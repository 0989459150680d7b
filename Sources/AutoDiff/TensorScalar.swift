import RealModule

/// The element types a ``Tensor`` can hold: `Float` (the default for models) and `Double`
/// (what GradCheck computes in).
///
/// The protocol only names the element type's ``DType``: kernels are reached through the
/// tensor's device (``Backend``), which dispatches on the type, so nothing outside the backends
/// depends on which of the two it is.
public protocol TensorScalar: Real, BinaryFloatingPoint, Sendable
where Self.RawSignificand: FixedWidthInteger {
    /// The type as backends see it.
    static var dtype: DType { get }
}

extension TensorScalar {
    /// The name of the type as safetensors and descriptions spell it (`F32`, `F64`).
    public static var dtypeName: String { dtype.name }
}

extension Float: TensorScalar {
    public static var dtype: DType { .float32 }
}

extension Double: TensorScalar {
    public static var dtype: DType { .float64 }
}
