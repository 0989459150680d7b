extension Tensor {
    /// Backpropagates from this tensor: `.grad` of every leaf it depends on gains
    /// `∂(seed · self)/∂leaf` (for a scalar loss and no seed, `∂self/∂leaf`).
    ///
    /// - Parameters:
    ///   - seed: the gradient of some scalar with respect to `self`; required unless `self` has
    ///     one element.
    ///   - retainGraph: keep the saved values so a second backward can run through the same graph
    ///     (defaults to `createGraph`). Without it, the tape's memory is released as the sweep
    ///     passes each node.
    ///   - createGraph: record the backward pass itself, so the gradients can be differentiated
    ///     again (Hessian-vector products, gradient penalties).
    ///
    /// Gradients **accumulate** into `.grad`; reset them with ``zeroGrad()``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(seed: Tensor? = nil, retainGraph: Bool? = nil, createGraph: Bool = false) {
        guard let node else {
            tensorFailure(
                "backward: the tensor does not require gradients (no input was created with requiringGrad(), or it was computed under withoutGrad)"
            )
        }
        let seed = seed ?? Tensor.defaultSeed(for: self, op: "backward")
        _ = Engine.run(
            root: node, seed: seed, targets: [], retainGraph: retainGraph ?? createGraph,
            createGraph: createGraph)
    }

    static func defaultSeed(for output: Tensor, op: String) -> Tensor {
        guard output.count == 1 else {
            tensorFailure(
                "\(op): the output has shape \(output.shape), not a scalar: pass a seed gradient of that shape"
            )
        }
        return Tensor(shape: output.shape, storage: Tensor.filled(1, with: 1, on: output.device))
    }
}

/// The gradients of `output` with respect to each tensor of `inputs`, returned fresh: no `.grad`
/// is read or written.
///
/// `inputs` may be leaves or intermediate results. An input that `output` does not depend on
/// gets a gradient of zeros.
///
/// - Parameters:
///   - output: the tensor differentiated (a scalar unless `seed` is given).
///   - inputs: the tensors differentiated with respect to; each must require gradients.
///   - seed: as in ``Tensor/backward(seed:retainGraph:createGraph:)``.
///   - retainGraph: as in ``Tensor/backward(seed:retainGraph:createGraph:)``: keep the tape for
///     another backward pass (by default only when `createGraph` is set).
///   - createGraph: record the backward pass, so the returned gradients are differentiable.
/// - Returns: one gradient per input, shaped like that input.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func gradients<Scalar>(
    of output: Tensor<Scalar>, wrt inputs: [Tensor<Scalar>], seed: Tensor<Scalar>? = nil,
    retainGraph: Bool? = nil, createGraph: Bool = false
) -> [Tensor<Scalar>] {
    guard let root = output.node else {
        tensorFailure("gradients(of:wrt:): the output does not require gradients")
    }
    let targets = inputs.enumerated().map { index, input -> GradNode<Scalar> in
        guard let node = input.node else {
            tensorFailure(
                "gradients(of:wrt:): input \(index) (shape \(input.shape)) does not require gradients"
            )
        }
        return node
    }
    let seed = seed ?? Tensor.defaultSeed(for: output, op: "gradients(of:wrt:)")
    let found = Engine.run(
        root: root, seed: seed, targets: targets, retainGraph: retainGraph ?? createGraph,
        createGraph: createGraph)
    return zip(found, inputs).map { grad, input in grad ?? Tensor.zeros(input.shape, on: input.device) }
}

/// The reverse sweep.
enum Engine {
    /// Runs one backward pass from `root`. Leaves gain their gradients in `.grad` unless
    /// `targets` is non-empty, in which case the gradients of the targets are returned instead.
    static func run<Scalar>(
        root: GradNode<Scalar>, seed: Tensor<Scalar>, targets: [GradNode<Scalar>],
        retainGraph: Bool, createGraph: Bool
    ) -> [Tensor<Scalar>?] {
        guard seed.shape == root.shape else {
            tensorFailure("backward: the seed has shape \(seed.shape) but the output has shape \(root.shape)")
        }
        let order = tape(from: root)
        let functional = !targets.isEmpty
        let targetStamp = visitCounter.wrappingAdd(1, ordering: .relaxed).newValue
        for target in targets { target.visitStamp = targetStamp }

        let state = ThreadState.current
        let savedMode = state.gradEnabled
        state.gradEnabled = createGraph
        defer { state.gradEnabled = savedMode }
        // Ops run by the rules are checked as the backward pass of the node that ran them, not
        // as forward ops of their own.
        let anomaly = state.anomalyDetection
        state.anomalyDetection = false
        defer { state.anomalyDetection = anomaly }

        // Only the functional form keeps gradients of targets; backward() allocates nothing here.
        var kept: [ObjectIdentifier: Tensor<Scalar>]? = functional ? [:] : nil
        root.pending = createGraph ? seed : seed.detached()

        // Leaves with hooks are finished (hooks, then .grad) as soon as their last use in this
        // pass has sent its gradient, not at the end of the sweep where leaves sit: count their
        // uses first. A use whose rule sends nothing leaves the leaf to its place in the sweep.
        let earlyLeaves = !functional && leafHookCount.load(ordering: .relaxed) > 0
        if earlyLeaves {
            for node in order where node.isLeaf { node.usesPending = 0 }
            for node in order {
                node.forEachInput { input in
                    guard input.isLeaf else { return }
                    let leaf = unsafeDowncast(input, to: GradNode<Scalar>.self)
                    if leaf.hasLeafHooks { leaf.usesPending += 1 }
                }
            }
        }

        /// Adds one input's gradient into its pending sum, undoing broadcasting first: the one
        /// place broadcasting is undone, for every op.
        @inline(__always)
        // The gradient is consumed (moved, not copied: a copy of a tensor is three retains).
        func accumulate(_ input: NodeBase?, _ gradient: consuming Tensor<Scalar>?, from node: GradNode<Scalar>) {
            guard let input = GradNode<Scalar>.typed(input), var gradient = gradient.take() else { return }
            if gradient.shape != input.shape { gradient = gradient.sumToShape(input.shape) }
            if _slowPath(anomaly) {
                gradient.checkFinite(node.op ?? .custom, direction: .backward, callSite: node.callSite)
            }
            if var existing = input.pending.take() {
                existing.accumulate(gradient)
                input.pending = consume existing
            } else {
                input.pending = consume gradient
            }
            if _slowPath(earlyLeaves) && input.usesPending > 0 {
                input.usesPending -= 1
                if input.usesPending == 0, let complete = input.pending.take() { input.finishGradient(complete) }
            }
        }

        // One reverse sweep in creation order: every node is complete before it is visited,
        // because all its consumers were created after it.
        for node in order {
            guard var upstream = node.pending.take() else { continue }
            // (Post-accumulate hooks count as leaf hooks, so earlyLeaves is set when any exist.)
            if _slowPath(earlyLeaves) && node.isLeaf && !node.postAccumulateHooks.isEmpty {
                node.finishGradient(upstream)
                continue
            }
            if _slowPath(!node.hooks.isEmpty) { upstream = node.runHooks(upstream) }
            if functional && node.visitStamp == targetStamp { kept![ObjectIdentifier(node)] = upstream }
            if !functional && (node.isLeaf || node.retainsGrad) { node.accumulateGrad(upstream) }
            // Without retainGraph the rule is moved out of the node (it is dropped after this
            // visit anyway), which saves a retain and a release of its captures per node.
            guard let pullback = retainGraph ? node.pullback : node.pullback.take() else { continue }
            switch pullback {
            case .unary(let rule):
                accumulate(node.first, rule(upstream, node), from: node)
            case .binary(let rule):
                let a = node.first
                let b = node.second
                let (ga, gb) = rule(upstream, node, a != nil, b != nil)
                accumulate(a, ga, from: node)
                accumulate(b, gb, from: node)
            case .nary(let rule):
                let grads = rule(upstream, node)
                for (input, gradient) in zip(node.inputs, grads) { accumulate(input, gradient, from: node) }
            }
            if !retainGraph { node.release() }
        }
        guard let kept else { return [] }
        return targets.map { kept[ObjectIdentifier($0)] }
    }

    /// The nodes reachable from `root`, latest first: the part of the tape this pass sweeps.
    /// Iterative, so a graph of any depth fits on the stack.
    static func tape<Scalar>(from root: GradNode<Scalar>) -> [GradNode<Scalar>] {
        let stamp = visitCounter.wrappingAdd(1, ordering: .relaxed).newValue
        // Room for a small graph up front: growing from empty reallocated both arrays about six
        // times on every backward pass of a 30-op graph.
        var order: [GradNode<Scalar>] = []
        order.reserveCapacity(64)
        var stack: [NodeBase] = []
        stack.reserveCapacity(32)
        stack.append(root)
        root.visitStamp = stamp
        while let node = stack.popLast() {
            if node.released {
                tensorFailure(
                    "backward: the graph through '\(node.op?.rawValue ?? "leaf")' was already released by an earlier backward; pass retainGraph: true to the first call to backpropagate through it twice"
                )
            }
            order.append(unsafeDowncast(node, to: GradNode<Scalar>.self))
            node.forEachInput { input in
                if input.visitStamp != stamp {
                    input.visitStamp = stamp
                    stack.append(input)
                }
            }
        }
        order.sort { $0.id > $1.id }
        return order
    }
}

extension Tensor {
    /// `self ← self + gradient`, for sums of gradients: in place when nothing else holds this
    /// tensor's buffer and neither tensor is on the tape (a backward pass that is not recorded;
    /// the buffer is the pass's own partial sum), else as the recorded op `self + gradient`.
    /// In place saves a buffer, its allocation and a tensor for every gradient a node receives
    /// after its first.
    @inline(__always)
    mutating func accumulate(_ gradient: Tensor) {
        if node == nil && gradient.node == nil && shape == gradient.shape
            && storage.backend === gradient.storage.backend && isKnownUniquelyReferenced(&storage)
        {
            backend.binary(.add, storage, shape, gradient.storage, gradient.shape, into: storage, shape: shape)
        } else {
            self = self + gradient
        }
    }

    /// The ops recorded on the tape that produced this tensor, latest first (empty for a leaf or
    /// a constant). For inspecting a graph, and for tests that check which primitives a
    /// function exercised.
    public var recordedOps: [OpKind] {
        guard let node else { return [] }
        return Engine.tape(from: node).compactMap(\.op)
    }
}
