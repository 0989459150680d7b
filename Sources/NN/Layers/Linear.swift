import AutoDiff

/// A fully connected layer: `y = x·W + b` with `W` of shape `[inputSize, outputSize]` (the book's
/// layout, so no transpose in the forward pass) and `b` of shape `[outputSize]`, broadcast over
/// the rows of `x` (`[N, inputSize] → [N, outputSize]`).
///
/// Its penalties are the book's `weight_regularizer_l1/l2` and `bias_regularizer_l1/l2`:
///
///     R = λ₁ᵂ·Σ|W| + λ₂ᵂ·ΣW² + λ₁ᵇ·Σ|b| + λ₂ᵇ·Σb²
///
/// (no ½ on the L2 term, as in the book), returned by ``ownRegularizationLoss()`` and summed over
/// the model by ``Layer/regularizationLoss()``; their gradients come from the tape.
public final class Linear<Scalar: TensorScalar>: Layer {
    /// `W`, shape `[inputSize, outputSize]`, named `weight`.
    public let weight: Parameter<Scalar>
    /// `b`, shape `[outputSize]`, named `bias`.
    public let bias: Parameter<Scalar>
    /// λ₁ᵂ, the L1 penalty on the weights (the book's `weight_regularizer_l1`).
    public var weightL1: Scalar
    /// λ₂ᵂ, the L2 penalty on the weights (`weight_regularizer_l2`).
    public var weightL2: Scalar
    /// λ₁ᵇ, the L1 penalty on the biases (`bias_regularizer_l1`).
    public var biasL1: Scalar
    /// λ₂ᵇ, the L2 penalty on the biases (`bias_regularizer_l2`).
    public var biasL2: Scalar

    /// A layer with weights drawn by `weightInitializer` (Xavier uniform by default; the book
    /// uses ``Initializer/tutorialNormal``) and biases by `biasInitializer` (zeros).
    public init(
        _ inputSize: Int, _ outputSize: Int,
        weightInitializer: Initializer = .xavierUniform, biasInitializer: Initializer = .zeros,
        weightL1: Scalar = 0, weightL2: Scalar = 0, biasL1: Scalar = 0, biasL2: Scalar = 0,
        generator: inout RandomGenerator
    ) {
        guard inputSize > 0, outputSize > 0 else {
            tensorFailure("Linear: sizes must be positive, got \(inputSize) → \(outputSize)")
        }
        weight = Parameter(weightInitializer.make([inputSize, outputSize], generator: &generator), role: .weight)
        bias = Parameter(biasInitializer.make([outputSize], generator: &generator), role: .bias)
        self.weightL1 = weightL1
        self.weightL2 = weightL2
        self.biasL1 = biasL1
        self.biasL2 = biasL2
    }

    /// A layer with the given weight `[in, out]` and bias `[out]` (copied into new leaves).
    public init(weight: Tensor<Scalar>, bias: Tensor<Scalar>) {
        guard weight.rank == 2, bias.shape == [weight.shape[1]] else {
            tensorFailure("Linear: weight \(weight.shape) and bias \(bias.shape) do not fit (need [in, out] and [out])")
        }
        self.weight = Parameter(weight, role: .weight)
        self.bias = Parameter(bias, role: .bias)
        weightL1 = 0; weightL2 = 0; biasL1 = 0; biasL2 = 0
    }

    /// The width of the input.
    public var inputSize: Int { weight.shape[0] }
    /// The width of the output.
    public var outputSize: Int { weight.shape[1] }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        guard input.shape.last == inputSize else {
            tensorFailure("Linear: input of shape \(input.shape) does not end in the layer's input size \(inputSize)")
        }
        if input.rank == 2 { return Tensor.linear(input, weight: weight.value, bias: bias.value) }
        return input.matmul(weight.value) + bias.value
    }

    public var ownParameters: [(name: String, parameter: Parameter<Scalar>)] {
        [("weight", weight), ("bias", bias)]
    }

    public func ownRegularizationLoss() -> Tensor<Scalar>? {
        let terms = [
            Regularization.l1(weight.value, weightL1), Regularization.l2(weight.value, weightL2),
            Regularization.l1(bias.value, biasL1), Regularization.l2(bias.value, biasL2),
        ].compactMap { $0 }
        return terms.isEmpty ? nil : terms.dropFirst().reduce(terms[0], +)
    }
}

/// Dense is the book's name for ``Linear``.
public typealias Dense<Scalar: TensorScalar> = Linear<Scalar>
