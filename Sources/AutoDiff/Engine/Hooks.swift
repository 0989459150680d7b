import Synchronization

/// Ids of gradient hooks, so a handle removes exactly the hook it registered.
private let hookCounter = Atomic<Int>(0)
/// Hooks registered on leaves and not removed: while there are none, a backward pass skips
/// counting the uses of its leaves (`Engine.run`).
let leafHookCount = Atomic<Int>(0)

/// A registered gradient hook (``Tensor/registerHook(_:)``). ``remove()`` unregisters it; the
/// hook stays registered when the handle is dropped, as in PyTorch.
public final class GradientHookHandle {
    private var remover: (() -> Void)?

    init(_ remover: @escaping () -> Void) { self.remover = remover }

    /// Unregisters the hook (once; later calls do nothing).
    public func remove() {
        remover?()
        remover = nil
    }
}

extension Tensor {
    /// Calls `hook` with `∂loss/∂self` each time a backward pass (``backward(seed:retainGraph:createGraph:)``
    /// or ``gradients(of:wrt:seed:retainGraph:createGraph:)``) has computed it in full, before
    /// it flows on to the inputs of the op that produced this tensor (or into `.grad`, for a
    /// leaf). Return `nil` to observe the gradient, or a tensor of the same shape to replace it:
    /// everything upstream then sees the replacement. Hooks run in registration order, each
    /// seeing the previous one's result (PyTorch's `Tensor.register_hook`).
    ///
    /// On a leaf (a parameter), the hooks run and `.grad` is accumulated as soon as the leaf's
    /// gradient is complete — once every op of the pass that uses it has sent its part — rather
    /// than at the leaf's place at the end of the sweep, as PyTorch runs a leaf's
    /// `AccumulateGrad` early: a hook can then start sending a layer's gradients while the
    /// layers before it are still being differentiated (`DistributedDataParallel`).
    ///
    /// The hook belongs to this value on the tape: copies of the tensor share it, and a later
    /// op's result does not. Under `createGraph: true` the gradient it receives is recorded, so
    /// a hook written with tensor ops is differentiated too.
    ///
    /// ```swift
    /// let h = (x.matmul(w1) + b1).relu()
    /// h.registerHook { g in print("‖∂L/∂h‖ =", g.squared().sum().item); return nil }  // observe
    /// h.registerHook { g in g.clamped(min: -1, max: 1) }                               // replace
    /// ```
    @discardableResult
    public func registerHook(_ hook: @escaping (Tensor) -> Tensor?) -> GradientHookHandle {
        guard let node else {
            tensorFailure("registerHook: the tensor does not require gradients, so no gradient reaches it")
        }
        let id = hookCounter.wrappingAdd(1, ordering: .relaxed).newValue
        node.hooks.append((id, hook))
        let onLeaf = node.isLeaf
        if onLeaf { leafHookCount.add(1, ordering: .relaxed) }
        return GradientHookHandle { [weak node] in
            if onLeaf { leafHookCount.subtract(1, ordering: .relaxed) }
            node?.hooks.removeAll { $0.id == id }
        }
    }

    /// Calls `hook` with this leaf's ``grad`` each time a backward pass
    /// (``backward(seed:retainGraph:createGraph:)``) has added its gradient to it — as soon as
    /// every op of the pass that uses the leaf has sent its part, after the leaf's
    /// ``registerHook(_:)`` hooks (PyTorch's `register_post_accumulate_grad_hook`). For work on
    /// the finished `.grad` while the rest of backward runs: `DistributedDataParallel` copies it
    /// into a bucket and starts the bucket's all-reduce. ``gradients(of:wrt:seed:retainGraph:createGraph:)``,
    /// which does not touch `.grad`, does not call it.
    ///
    /// Only leaves (parameters) have a `.grad` to finish; an intermediate stops with a one-line
    /// error.
    @discardableResult
    public func registerPostAccumulateGradHook(_ hook: @escaping (Tensor) -> Void) -> GradientHookHandle {
        guard let node, node.isLeaf else {
            tensorFailure(
                "registerPostAccumulateGradHook: the tensor is not a leaf that requires gradients (shape \(shape)); register it on a parameter"
            )
        }
        let id = hookCounter.wrappingAdd(1, ordering: .relaxed).newValue
        node.postAccumulateHooks.append((id, hook))
        leafHookCount.add(1, ordering: .relaxed)
        return GradientHookHandle { [weak node] in
            leafHookCount.subtract(1, ordering: .relaxed)
            node?.postAccumulateHooks.removeAll { $0.id == id }
        }
    }

    /// Keeps this intermediate result's gradient: each backward pass adds `∂loss/∂self` (after
    /// this tensor's hooks) into ``grad``, as it does for leaves (PyTorch's `retain_grad`). For
    /// inspecting a network's pre-activations and activations; a leaf keeps its gradient anyway.
    public func retainGrad() {
        guard let node else {
            tensorFailure("retainGrad: the tensor does not require gradients, so no gradient reaches it")
        }
        if !node.isLeaf { node.retainsGrad = true }
    }

    /// Whether backward fills ``grad``: a leaf, or an intermediate after ``retainGrad()``.
    public var retainsGrad: Bool { node.map { $0.isLeaf || $0.retainsGrad } ?? false }
}
