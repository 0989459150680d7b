extension Tensor {
    /// One optimizer step in place: `self` (the weights), `state` (the rule's buffers, in the
    /// order ``UpdateKernel`` documents, each shaped like `self`) and `gradient` go to the
    /// device's fused update kernel, which reads and writes each element once. Nothing is
    /// recorded; a shared buffer is copied first, so values saved on a living tape stay intact.
    ///
    /// Optimizers (NN) call this with the rule and constants of their step:
    ///
    /// ```swift
    /// withoutGrad {
    ///     weights.update(.sgd(lr: 0.1, decay: 1, momentum: 0.9, nesterov: false),
    ///                    gradient: weights.grad!, state: &momentumBuffer)
    /// }
    /// ```
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func update(_ rule: UpdateKernel, gradient: Tensor, state: inout [Tensor]) {
        guard gradient.shape == shape, state.allSatisfy({ $0.shape == shape }) else {
            tensorFailure(
                "update: weights \(shape), gradient \(gradient.shape) and state \(state.map(\.shape)) must have one shape"
            )
        }
        checkSameDevice(gradient, "update")
        makeUnique()
        if state.isEmpty {
            // Plain SGD: no state, and no array of buffers to build.
            backend.update(rule, weights: storage, gradient: gradient.storage, state: [])
            return
        }
        var buffers: [Buffer] = []
        buffers.reserveCapacity(state.count)
        for i in state.indices {
            checkSameDevice(state[i], "update")
            state[i].makeUnique()
            buffers.append(state[i].storage)
        }
        backend.update(rule, weights: storage, gradient: gradient.storage, state: buffers)
    }

    /// ``update(_:gradient:state:)`` with the rule read from `rule`, a cell a captured step
    /// reads again at every replay (an optimizer recomputes it each step).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func update(_ rule: UpdateRuleCell, gradient: Tensor, state: inout [Tensor]) {
        Capture.using(rule) { update(rule.rule, gradient: gradient, state: &state) }
    }
}
