import AutoDiff

/// RMSprop (Hinton 2012): a per-element rate from a moving average of squared gradients.
///
///     a ← ρ·a + (1 − ρ)·g²      (a starts at 0)
///     w ← w − lr_t·g / (√a + ε)
///
/// ε sits outside the square root, in both the book and PyTorch. Defaults are PyTorch's
/// (`learningRate = 0.01`, `rho = 0.99`, `epsilon = 1e-8`; its `alpha` is this `rho`); the book's
/// `Optimizer_RMSprop` uses lr 0.001, ρ 0.9, ε 1e-7: pass them to reproduce its numbers.
/// PyTorch's momentum and centered variants are not provided.
public final class RMSprop<Scalar: TensorScalar>: Optimizer<Scalar> {
    /// The decay ρ of the moving average of squared gradients.
    public let rho: Double
    /// Added to `√a` in the denominator.
    public let epsilon: Double

    /// An optimizer of `parameters` (their order fixes the order of the state buffers).
    public init(
        parameters: [Parameter<Scalar>], learningRate: Double = 0.01, rho: Double = 0.99, epsilon: Double = 1e-8,
        schedule: LearningRateSchedule = .constant, weightDecay: Double = 0
    ) {
        self.rho = rho
        self.epsilon = epsilon
        super.init(
            parameters: parameters, learningRate: learningRate, schedule: schedule, weightDecay: weightDecay,
            slots: ["squareAverage"])
    }

    /// An optimizer of every parameter of `model`.
    public convenience init(
        for model: some Layer<Scalar>, learningRate: Double = 0.01, rho: Double = 0.99, epsilon: Double = 1e-8,
        schedule: LearningRateSchedule = .constant, weightDecay: Double = 0
    ) {
        self.init(
            parameters: model.parameters, learningRate: learningRate, rho: rho, epsilon: epsilon, schedule: schedule,
            weightDecay: weightDecay)
    }

    public override func updateRule(learningRate lr: Double) -> UpdateKernel {
        .rmsprop(lr: lr, decay: decayFactor(lr), rho: rho, epsilon: epsilon)
    }
}
