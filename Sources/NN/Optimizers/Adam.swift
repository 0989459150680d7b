import AutoDiff
import RealModule

/// Adam (Kingma & Ba 2015), with the AMSGrad variant and decoupled weight decay (AdamW).
///
///     m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²          (both start at 0)
///     m̂ = m/(1 − β₁ᵗ),  v̂ = v/(1 − β₂ᵗ)                          (t = 1 on the first update)
///     AMSGrad: v̄ ← max(v̄, v), v̂ = v̄/(1 − β₂ᵗ)
///     w ← w·(1 − lr_t·λ) − lr_t·m̂ / (√v̂ + ε)
///
/// ε sits outside the square root, after bias correction: the book and PyTorch agree (the
/// paper's "ε̂" variant, which folds the correction into the rate, is not used). The book's
/// AMSGrad is absent; this one is PyTorch's (max of the raw `v`, then corrected).
///
/// Defaults follow PyTorch (`learningRate = 0.001`, β = (0.9, 0.999), `epsilon = 1e-8`); the
/// book's `Optimizer_Adam` uses `epsilon = 1e-7` — pass it to reproduce the book's numbers.
/// The book's `decay` is `schedule: .inverseTimeDecay(decay)`.
public class Adam<Scalar: TensorScalar>: Optimizer<Scalar> {
    /// The decay β₁ of the first-moment average.
    public let beta1: Double
    /// The decay β₂ of the second-moment average.
    public let beta2: Double
    /// Added to `√v̂` in the denominator.
    public let epsilon: Double
    /// Whether the AMSGrad maximum of `v` is used.
    public let amsgrad: Bool

    /// An optimizer of `parameters` (their order fixes the order of the state buffers).
    public init(
        parameters: [Parameter<Scalar>], learningRate: Double = 0.001, beta1: Double = 0.9, beta2: Double = 0.999,
        epsilon: Double = 1e-8, amsgrad: Bool = false, schedule: LearningRateSchedule = .constant,
        weightDecay: Double = 0
    ) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        super.init(
            parameters: parameters, learningRate: learningRate, schedule: schedule, weightDecay: weightDecay,
            slots: amsgrad ? ["m", "v", "vMax"] : ["m", "v"])
    }

    /// An optimizer of every parameter of `model`.
    public convenience init(
        for model: some Layer<Scalar>, learningRate: Double = 0.001, beta1: Double = 0.9, beta2: Double = 0.999,
        epsilon: Double = 1e-8, amsgrad: Bool = false, schedule: LearningRateSchedule = .constant,
        weightDecay: Double = 0
    ) {
        self.init(
            parameters: model.parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            amsgrad: amsgrad, schedule: schedule, weightDecay: weightDecay)
    }

    public override func updateRule(learningRate lr: Double) -> UpdateKernel {
        let t = Double(stepCount + 1)
        return .adam(
            lr: lr, decay: decayFactor(lr), beta1: beta1, beta2: beta2, c1: 1 / (1 - Double.pow(beta1, t)),
            c2: 1 / (1 - Double.pow(beta2, t)), epsilon: epsilon, amsgrad: amsgrad)
    }
}

/// Adam with decoupled weight decay (Loshchilov & Hutter 2019): `w ← w·(1 − lr_t·λ)` before the
/// Adam step. Default `weightDecay = 0.01` and the other defaults as PyTorch's `AdamW`.
public final class AdamW<Scalar: TensorScalar>: Adam<Scalar> {
    /// An AdamW optimizer of `parameters`.
    public override init(
        parameters: [Parameter<Scalar>], learningRate: Double = 0.001, beta1: Double = 0.9, beta2: Double = 0.999,
        epsilon: Double = 1e-8, amsgrad: Bool = false, schedule: LearningRateSchedule = .constant,
        weightDecay: Double = 0.01
    ) {
        super.init(
            parameters: parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            amsgrad: amsgrad, schedule: schedule, weightDecay: weightDecay)
    }

    /// An AdamW optimizer of every parameter of `model` (weight decay 0.01 by default, as
    /// PyTorch's `AdamW`).
    public convenience init(
        for model: some Layer<Scalar>, learningRate: Double = 0.001, beta1: Double = 0.9, beta2: Double = 0.999,
        epsilon: Double = 1e-8, amsgrad: Bool = false, schedule: LearningRateSchedule = .constant,
        weightDecay: Double = 0.01
    ) {
        self.init(
            parameters: model.parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            amsgrad: amsgrad, schedule: schedule, weightDecay: weightDecay)
    }
}
