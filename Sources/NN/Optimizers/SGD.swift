import AutoDiff

/// Stochastic gradient descent with optional momentum and Nesterov momentum.
///
///     b ← μ·b + g                      (momentum buffer, starts at 0)
///     d = g + μ·b  (Nesterov)  or  b   (classic)  or  g  (μ = 0)
///     w ← w − lr_t·d
///
/// This is PyTorch's form (no dampening). The book writes momentum as `u ← μ·u − lr_t·g`,
/// `w ← w + u`; the two agree exactly while the learning rate is constant. With a decaying rate
/// they differ slightly (PyTorch scales the whole buffer by today's rate, the book only today's
/// gradient); this follows PyTorch so that a schedule changes every step the same way.
///
/// Defaults are PyTorch's: `learningRate = 0.001`, momentum 0 (the book's `Optimizer_SGD`
/// defaults to lr 1: pass it to reproduce its numbers); pass `schedule: .inverseTimeDecay(decay)`
/// for the book's `decay`.
public final class SGD<Scalar: TensorScalar>: Optimizer<Scalar> {
    /// The momentum μ (0 = plain SGD).
    public let momentum: Double
    /// Whether the Nesterov form `g + μ·b` is used.
    public let nesterov: Bool

    /// An optimizer of `parameters` (their order fixes the order of the state buffers).
    public init(
        parameters: [Parameter<Scalar>], learningRate: Double = 0.001, momentum: Double = 0, nesterov: Bool = false,
        schedule: LearningRateSchedule = .constant, weightDecay: Double = 0
    ) {
        guard !nesterov || momentum > 0 else { tensorFailure("SGD: Nesterov momentum needs momentum > 0") }
        self.momentum = momentum
        self.nesterov = nesterov
        super.init(
            parameters: parameters, learningRate: learningRate, schedule: schedule, weightDecay: weightDecay,
            slots: momentum == 0 ? [] : ["momentum"])
    }

    /// An optimizer of every parameter of `model`.
    public convenience init(
        for model: some Layer<Scalar>, learningRate: Double = 0.001, momentum: Double = 0, nesterov: Bool = false,
        schedule: LearningRateSchedule = .constant, weightDecay: Double = 0
    ) {
        self.init(
            parameters: model.parameters, learningRate: learningRate, momentum: momentum, nesterov: nesterov,
            schedule: schedule, weightDecay: weightDecay)
    }

    public override func updateRule(learningRate lr: Double) -> UpdateKernel {
        .sgd(lr: lr, decay: decayFactor(lr), momentum: momentum, nesterov: nesterov)
    }
}
