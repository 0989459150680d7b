import AutoDiff

/// Adagrad (Duchi et al. 2011): a per-element rate that shrinks with the sum of squared
/// gradients.
///
///     s ← s + g²
///     w ← w − lr_t·g / (√s + ε)
///
/// ε sits outside the square root, in both the book and PyTorch. Defaults are PyTorch's
/// (`learningRate = 0.01`, `epsilon = 1e-10`); the book's `Optimizer_Adagrad` uses lr 1 and
/// ε 1e-7: pass them to reproduce its numbers. PyTorch's own `lr_decay` is the book's `decay`:
/// pass `schedule: .inverseTimeDecay(decay)`.
public final class Adagrad<Scalar: TensorScalar>: Optimizer<Scalar> {
    /// Added to `√s` in the denominator.
    public let epsilon: Double

    /// An optimizer of `parameters` (their order fixes the order of the state buffers).
    public init(
        parameters: [Parameter<Scalar>], learningRate: Double = 0.01, epsilon: Double = 1e-10,
        schedule: LearningRateSchedule = .constant, weightDecay: Double = 0
    ) {
        self.epsilon = epsilon
        super.init(
            parameters: parameters, learningRate: learningRate, schedule: schedule, weightDecay: weightDecay,
            slots: ["sum"])
    }

    /// An optimizer of every parameter of `model`.
    public convenience init(
        for model: some Layer<Scalar>, learningRate: Double = 0.01, epsilon: Double = 1e-10,
        schedule: LearningRateSchedule = .constant, weightDecay: Double = 0
    ) {
        self.init(
            parameters: model.parameters, learningRate: learningRate, epsilon: epsilon, schedule: schedule,
            weightDecay: weightDecay)
    }

    public override func updateRule(learningRate lr: Double) -> UpdateKernel {
        .adagrad(lr: lr, decay: decayFactor(lr), epsilon: epsilon)
    }
}
