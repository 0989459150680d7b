import AutoDiff

/// The shared machinery of every optimizer: the parameters in a fixed order, the step counter,
/// the learning-rate schedule, decoupled weight decay, per-parameter state buffers, and gradient
/// clipping.
///
/// A training step:
///
/// ```swift
/// let optimizer = Adam(for: model, learningRate: 0.05, schedule: .inverseTimeDecay(5e-5), epsilon: 1e-7)
/// optimizer.zeroGrad()
/// let dataLoss = softmaxCrossEntropy(logits: model(x), labels: y)
/// let regLoss = model.regularizationLoss()
/// (dataLoss + regLoss).backward()
/// optimizer.step()
/// ```
///
/// **Updates** run under `withoutGrad`, in place: each parameter's buffer (and its state
/// buffers) is read and written in one pass, and the parameter keeps its identity as a leaf of
/// the tape. Parameters whose gradient is `nil` (unused in the last backward) are skipped.
///
/// **Learning rate.** The update number `t` counts completed steps, starting at 0 (the book's
/// `iterations`); step `t` uses `learningRate · schedule.factor(t)` (``currentLearningRate``).
///
/// **Defaults are PyTorch's**, from every initializer, so a script ported from PyTorch runs the
/// same: ``SGD`` lr 0.001; ``Adagrad`` lr 0.01, ε 1e-10; ``RMSprop`` lr 0.01, ρ 0.99, ε 1e-8;
/// ``Adam`` and AMSGrad lr 0.001, β 0.9/0.999, ε 1e-8; ``AdamW`` the same with weight decay 0.01.
/// The book's values differ (SGD lr 1; Adagrad lr 1, ε 1e-7; RMSprop lr 0.001, ρ 0.9, ε 1e-7;
/// Adam ε 1e-7): pass them to reproduce its numbers, as the tutorial tests do.
/// Every optimizer places ε outside the square root (`g/(√v + ε)`), as both do. SGD momentum
/// follows PyTorch's buffer form (see ``SGD``).
///
/// **Weight decay** here is always *decoupled* (Loshchilov & Hutter): before the gradient
/// update, `w ← w − lr·λ·w`, the same as PyTorch's `AdamW`. Coupled L2 (a penalty added to the
/// loss) is what the layers' `weightL2` regularizers give, through the tape, as in the book.
open class Optimizer<Scalar: TensorScalar>: CaptureHostStep {
    /// The parameters updated, in a fixed order (state buffers are kept in the same order).
    public let parameters: [Parameter<Scalar>]
    /// The base learning rate, scaled by ``schedule``.
    public var learningRate: Double
    /// How the learning rate changes with the step number.
    public var schedule: LearningRateSchedule
    /// Decoupled weight decay λ (0 = off).
    public var weightDecay: Double
    /// The number of updates done (`t`).
    public internal(set) var stepCount: Int = 0

    /// Per-parameter state: `state[parameterIndex][slot]`, named by ``stateSlotNames``, each
    /// shaped like its parameter and on its device.
    var state: [[Tensor<Scalar>]] = []

    init(
        parameters: [Parameter<Scalar>], learningRate: Double, schedule: LearningRateSchedule, weightDecay: Double,
        slots: [String]
    ) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.schedule = schedule
        self.weightDecay = weightDecay
        stateSlotNames = slots
        state = parameters.map { p in slots.map { _ in Tensor.zeros(like: p.value) } }
    }

    /// The names of the per-parameter state buffers (`m`, `v`, …), as saved in checkpoints.
    public let stateSlotNames: [String]

    /// The learning rate the next ``step()`` uses: `learningRate · schedule.factor(stepCount)`.
    public var currentLearningRate: Double { learningRate * schedule.factor(step: stepCount) }

    /// Clears the gradients of the parameters (they accumulate across backward passes).
    public func zeroGrad() { clearGradients() }

    /// ``zeroGrad()``'s loop, specialized as ``applyUpdate(_:)`` is (it runs every step).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    final func clearGradients() { for p in parameters { p.zeroGrad() } }

    /// Applies one update to every parameter that has a gradient, then increments
    /// ``stepCount``.
    public func step() {
        rule.rule = updateRule(learningRate: currentLearningRate)
        // A captured step repeats the two host lines of this function (the rule above and the
        // step count below) before its update kernels, which read the rule from its cell.
        Capture.recordHostStep(self)
        applyUpdate(rule)
        stepCount += 1
    }

    /// Runs `rule` on every parameter that has a gradient, in place and without recording.
    ///
    /// Specialized for Float and Double: unspecialized, every parameter cost generic-metadata
    /// lookups (the enumeration, the arrays of tensors, the optional gradient), about 4K
    /// instructions to update a few floats. The state array is moved out for the loop, so each
    /// parameter's update writes it without an exclusivity check on the class's property.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    final func applyUpdate(_ rule: UpdateRuleCell) {
        var state = self.state
        self.state = []
        defer { self.state = state }
        withoutGrad {
            for index in parameters.indices {
                let parameter = parameters[index]
                guard let grad = parameter.grad else { continue }
                guard grad.shape == parameter.shape else {
                    tensorFailure(
                        "optimizer: gradient of shape \(grad.shape) for a parameter of shape \(parameter.shape)")
                }
                parameter.value.update(rule, gradient: grad, state: &state[index])
            }
        }
    }

    /// The rule of the current step, where a captured step's update kernels read it.
    let rule = UpdateRuleCell(.sgd(lr: 0, decay: 1, momentum: 0, nesterov: false))

    /// Repeats the host part of ``step()`` in a replayed captured step: this step's rule, then
    /// the step count.
    public func replayHostStep() {
        rule.rule = updateRule(learningRate: currentLearningRate)
        stepCount += 1
    }

    /// The fused update of the next step (number ``Optimizer/stepCount``) at learning rate
    /// `learningRate`, the same for every parameter: each optimizer's rule and constants.
    open func updateRule(learningRate: Double) -> UpdateKernel {
        fatalError("Optimizer.updateRule(learningRate:) must be overridden")
    }

    /// `1 − lr·λ`: the decoupled weight-decay factor applied to the weight before every update.
    func decayFactor(_ lr: Double) -> Double { 1 - lr * weightDecay }

    // MARK: State for checkpoints

    /// Every state buffer as a tensor named `slot.index` (e.g. `m.0`), in a fixed order.
    public var stateTensors: [(name: String, tensor: Tensor<Scalar>)] {
        var result: [(String, Tensor<Scalar>)] = []
        for (s, slot) in stateSlotNames.enumerated() {
            for (i, buffers) in state.enumerated() { result.append(("\(slot).\(i)", buffers[s])) }
        }
        return result
    }

    /// Restores the state buffers and the step count saved by ``stateTensors``. Every buffer must
    /// be present with its parameter's shape; nothing is changed when one is not.
    public func loadState(_ tensors: [String: Tensor<Scalar>], stepCount: Int) throws {
        var problems: [String] = []
        for slot in stateSlotNames {
            for (i, parameter) in parameters.enumerated() {
                let name = "\(slot).\(i)"
                guard let t = tensors[name] else {
                    problems.append("missing \(name)")
                    continue
                }
                if t.shape != parameter.shape {
                    problems.append("\(name) has shape \(t.shape), expected \(parameter.shape)")
                }
            }
        }
        let expected = Set(
            stateSlotNames.indices.flatMap { s in parameters.indices.map { "\(stateSlotNames[s]).\($0)" } })
        for name in tensors.keys.sorted() where !expected.contains(name) { problems.append("unexpected \(name)") }
        guard problems.isEmpty else { throw NNError.optimizerState(problems.joined(separator: ", ")) }
        for (s, slot) in stateSlotNames.enumerated() {
            for i in parameters.indices {
                state[i][s] = tensors["\(slot).\(i)"]!.detached().to(parameters[i].value.device)
            }
        }
        self.stepCount = stepCount
    }

    // MARK: Gradient clipping

    /// Scales every gradient by `maxNorm / (‖g‖ + 1e-6)` when the global norm
    /// `‖g‖ = √(Σ over all parameters of Σg²)` exceeds `maxNorm` (PyTorch's
    /// `clip_grad_norm_`). Returns the norm before clipping.
    @discardableResult
    public func clipGradients(maxNorm: Double) -> Double {
        clipGradientsByGlobalNorm(parameters, maxNorm: maxNorm)
    }
}

/// See ``Optimizer/clipGradients(maxNorm:)``.
@discardableResult
public func clipGradientsByGlobalNorm<Scalar>(_ parameters: [Parameter<Scalar>], maxNorm: Double) -> Double {
    withoutGrad {
        var total = 0.0
        for p in parameters { if let g = p.grad { total += Double((g * g).sum().item) } }
        let norm = total.squareRoot()
        let scale = maxNorm / (norm + 1e-6)
        if scale < 1 {
            for p in parameters { if let g = p.grad { p.value.grad = g * Scalar(scale) } }
        }
        return norm
    }
}
