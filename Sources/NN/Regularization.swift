import AutoDiff

/// L1 and L2 penalties, composed from tape ops so their gradients need no rule.
public enum Regularization {
    /// `λ·Σ|x|`; `nil` when `λ = 0`. ∂/∂x = λ·sign(x).
    public static func l1<Scalar: TensorScalar>(_ x: Tensor<Scalar>, _ lambda: Scalar) -> Tensor<Scalar>? {
        lambda == 0 ? nil : x.abs().sum() * lambda
    }

    /// `λ·Σx²` (the book's form, without ½); `nil` when `λ = 0`. ∂/∂x = 2λ·x.
    public static func l2<Scalar: TensorScalar>(_ x: Tensor<Scalar>, _ lambda: Scalar) -> Tensor<Scalar>? {
        lambda == 0 ? nil : x.squared().sum() * lambda
    }
}
