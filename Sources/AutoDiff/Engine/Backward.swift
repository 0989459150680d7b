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
    public func backward(seed: Tensor? = nil, retainGraph: Bool? = nil, createGraph: Bool = false) {
        guard let node else {
            tensorFailure(
                "backward: the tensor does not require gradients (no input was created with requiringGrad(), or it was computed under withoutGrad)"
            )
        }
        let seed = seed ?? Tensor.defaultSeed(for: self, op: "backward")
        let pending = Engine.run(
            root: node, seed: seed, targets: [], retainGraph: retainGraph ?? createGraph,
            createGraph: createGraph)
        _ = pending
    }

    static func defaultSeed(for output: Tensor, op: String) -> Tensor {
        guard output.count == 1 else {
            tensorFailure(
                "\(op): the output has shape \(output.shape), not a scalar: pass a seed gradient of that shape"
            )
        }
        return Tensor(shape: output.shape, storage: .filled(1, with: 1))
    }
}

/// The gradients of `output` with respect to each tensor of `inputs`, returned fresh: no `.grad`
/// is read or written.
///
/// `inputs` may be leaves or intermediate results. An input that `output` does not depend on
/// gets a gradient of zeros.
///
/// - Parameters:
///   - seed: as in ``Tensor/backward(seed:retainGraph:createGraph:)``.
///   - createGraph: record the backward pass, so the returned gradients are differentiable.
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
    return zip(found, inputs).map { grad, input in grad ?? Tensor.zeros(input.shape) }
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

        var results = [Tensor<Scalar>?](repeating: nil, count: targets.count)
        var kept: [GradNode<Scalar>: Tensor<Scalar>] = [:]
        root.pending = createGraph ? seed : seed.detached()

        // One reverse sweep in creation order: every node is complete before it is visited,
        // because all its consumers were created after it.
        for node in order {
            guard let upstream = node.pending else { continue }
            node.pending = nil
            if node.visitStamp == targetStamp { kept[node] = upstream }
            guard let pullback = node.pullback else {
                if node.isLeaf && !functional {
                    node.grad = node.grad.map { $0 + upstream } ?? upstream
                }
                continue
            }
            let grads: [Tensor<Scalar>?]
            switch pullback {
            case .unary(let rule):
                grads = [rule(upstream, node)]
            case .binary(let rule):
                let (ga, gb) = rule(upstream, node, node.inputs[0] != nil, node.inputs[1] != nil)
                grads = [ga, gb]
            case .nary(let rule):
                grads = rule(upstream, node)
            }
            for (input, grad) in zip(node.inputs, grads) {
                guard let input, var grad else { continue }
                // Broadcasting is undone here, once, for every op.
                if grad.shape != input.shape { grad = grad.sumToShape(input.shape) }
                if _slowPath(anomaly) {
                    grad.checkFinite(node.op ?? .custom, direction: "backward", callSite: node.callSite)
                }
                input.pending = input.pending.map { $0 + grad } ?? grad
            }
            if !retainGraph { node.release() }
        }
        for (index, target) in targets.enumerated() {
            results[index] = kept[target]
        }
        return results
    }

    /// The nodes reachable from `root`, latest first: the part of the tape this pass sweeps.
    /// Iterative, so a graph of any depth fits on the stack.
    static func tape<Scalar>(from root: GradNode<Scalar>) -> [GradNode<Scalar>] {
        let stamp = visitCounter.wrappingAdd(1, ordering: .relaxed).newValue
        var order: [GradNode<Scalar>] = []
        var stack: [GradNode<Scalar>] = [root]
        root.visitStamp = stamp
        while let node = stack.popLast() {
            if node.released {
                tensorFailure(
                    "backward: the graph through '\(node.op?.rawValue ?? "leaf")' was already released by an earlier backward; pass retainGraph: true to the first call to backpropagate through it twice"
                )
            }
            order.append(node)
            for case let input? in node.inputs where input.visitStamp != stamp {
                input.visitStamp = stamp
                stack.append(input)
            }
        }
        order.sort { $0.id > $1.id }
        return order
    }
}

extension GradNode: Hashable {
    public static func == (a: GradNode, b: GradNode) -> Bool { a === b }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

extension Tensor {
    /// The ops recorded on the tape that produced this tensor, latest first (empty for a leaf or
    /// a constant). For inspecting a graph, and for tests that check which primitives a
    /// function exercised.
    public var recordedOps: [OpKind] {
        guard let node else { return [] }
        return Engine.tape(from: node).compactMap(\.op)
    }
}
