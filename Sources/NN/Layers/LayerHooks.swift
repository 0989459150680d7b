import AutoDiff
import Synchronization

// Forward and backward hooks on layers, as PyTorch's `Module.register_forward_pre_hook`,
// `register_forward_hook` and `register_full_backward_hook`. They run when a layer is called
// (`layer(x)`, which containers such as `Sequential` use), not when `forward` is called directly.
// Layers are protocol types with no room for stored hooks, so hooks live in one registry keyed by
// the layer object; a layer with no hooks costs one atomic load per call.

/// A registered layer hook; ``remove()`` unregisters it.
public final class LayerHookHandle: Sendable {
    private let layer: ObjectIdentifier
    private let id: Int

    fileprivate init(layer: ObjectIdentifier, id: Int) {
        self.layer = layer
        self.id = id
    }

    /// Unregisters the hook (later calls do nothing).
    public func remove() { LayerHooks.remove(id, from: layer) }
}

/// The hooks of every layer that has some.
enum LayerHooks {
    enum Kind { case forwardPre, forward, backward }

    /// One layer's hooks, type-erased (each is the closure its registration built for the
    /// layer's element type).
    struct Entry {
        weak var layer: AnyObject?
        var hooks: [(id: Int, kind: Kind, hook: Any)] = []
    }

    // Read and written only inside `lock.withLock`. Not a `Mutex<[ObjectIdentifier: Entry]>`:
    // the hooks are the caller's non-Sendable closures, which the region checker will not let
    // into a mutex's `sending` state; they run on the thread that calls the layer, as PyTorch's do.
    nonisolated(unsafe) private static var entries: [ObjectIdentifier: Entry] = [:]
    private static let lock = Mutex(())
    /// How many hooks are registered across all layers: the fast path when 0.
    private static let registered = Atomic<Int>(0)
    private static let nextID = Atomic<Int>(0)

    static var isEmpty: Bool { registered.load(ordering: .relaxed) == 0 }

    static func add(_ hook: Any, _ kind: Kind, to layer: AnyObject) -> LayerHookHandle {
        let key = ObjectIdentifier(layer)
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        lock.withLock { _ in
            // An entry whose layer is gone belongs to a dead object at the same address.
            if entries[key]?.layer !== layer {
                if let stale = entries[key] { registered.subtract(stale.hooks.count, ordering: .relaxed) }
                entries[key] = Entry(layer: layer)
            }
            entries[key]!.hooks.append((id, kind, hook))
            registered.add(1, ordering: .relaxed)
        }
        return LayerHookHandle(layer: key, id: id)
    }

    static func remove(_ id: Int, from key: ObjectIdentifier) {
        lock.withLock { _ in
            guard let index = entries[key]?.hooks.firstIndex(where: { $0.id == id }) else { return }
            entries[key]!.hooks.remove(at: index)
            registered.subtract(1, ordering: .relaxed)
            if entries[key]!.hooks.isEmpty { entries[key] = nil }
        }
    }

    /// The hooks of `kind` registered on `layer`, in registration order.
    static func hooks<T>(_ kind: Kind, of layer: AnyObject, as _: T.Type) -> [T] {
        var found: [Any] = []
        lock.withLock { _ in
            guard let entry = entries[ObjectIdentifier(layer)], entry.layer === layer else { return }
            found = entry.hooks.filter { $0.kind == kind }.map(\.hook)
        }
        return found.compactMap { $0 as? T }
    }
}

/// What the two identity ops a backward hook puts around a layer call share: the gradient of
/// the output, captured first, for the hooks that run with the gradient of the input.
private final class GradientOfOutput<Scalar: TensorScalar> {
    var value: Tensor<Scalar>?
}

extension Layer {
    /// Registers `hook`, called with the input before every call of this layer; returning a
    /// tensor replaces the input (PyTorch's `register_forward_pre_hook`).
    @discardableResult
    public func registerForwardPreHook(_ hook: @escaping (Self, _ input: Tensor<Scalar>) -> Tensor<Scalar>?)
        -> LayerHookHandle
    {
        let erased: (Tensor<Scalar>) -> Tensor<Scalar>? = { [unowned self] in hook(self, $0) }
        return LayerHooks.add(erased, .forwardPre, to: self)
    }

    /// Registers `hook`, called with the input and the output after every call of this layer;
    /// returning a tensor replaces the output (PyTorch's `register_forward_hook`).
    @discardableResult
    public func registerForwardHook(
        _ hook: @escaping (Self, _ input: Tensor<Scalar>, _ output: Tensor<Scalar>) -> Tensor<Scalar>?
    ) -> LayerHookHandle {
        let erased: (Tensor<Scalar>, Tensor<Scalar>) -> Tensor<Scalar>? = { [unowned self] in hook(self, $0, $1) }
        return LayerHooks.add(erased, .forward, to: self)
    }

    /// Registers `hook`, called during backward with `∂loss/∂input` (`nil` when the input needs
    /// no gradient, as a batch of data) and `∂loss/∂output` of a call of this layer; returning a
    /// tensor replaces the input's gradient for everything before the layer (PyTorch's
    /// `register_full_backward_hook`). Each call of the layer records two identity ops around
    /// it (`OpKind.custom`) to catch both gradients.
    @discardableResult
    public func registerBackwardHook(
        _ hook:
            @escaping (Self, _ gradientOfInput: Tensor<Scalar>?, _ gradientOfOutput: Tensor<Scalar>) ->
            Tensor<Scalar>?
    ) -> LayerHookHandle {
        let erased: (Tensor<Scalar>?, Tensor<Scalar>) -> Tensor<Scalar>? = { [unowned self] in hook(self, $0, $1) }
        return LayerHooks.add(erased, .backward, to: self)
    }

    /// `forward(input)`, with this layer's hooks (if any) around it.
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        if LayerHooks.isEmpty { return forward(input) }
        return forwardWithHooks(input)
    }

    private func forwardWithHooks(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        typealias Pre = (Tensor<Scalar>) -> Tensor<Scalar>?
        typealias Post = (Tensor<Scalar>, Tensor<Scalar>) -> Tensor<Scalar>?
        typealias Backward = (Tensor<Scalar>?, Tensor<Scalar>) -> Tensor<Scalar>?
        var x = input
        for hook in LayerHooks.hooks(.forwardPre, of: self, as: Pre.self) { x = hook(x) ?? x }
        let backwardHooks = LayerHooks.hooks(.backward, of: self, as: Backward.self)
        let gradientOfOutput = GradientOfOutput<Scalar>()
        /// Each backward hook in turn, every one seeing the input gradient the previous returned.
        func runBackwardHooks(_ gradientOfInput: Tensor<Scalar>?) -> Tensor<Scalar>? {
            var current = gradientOfInput
            for hook in backwardHooks {
                if let replaced = hook(current, gradientOfOutput.value!) { current = replaced }
            }
            return current
        }
        let inputTracked = x.requiresGrad && GradMode.isEnabled
        var layerInput = x
        if !backwardHooks.isEmpty && inputTracked {
            layerInput = Tensor.customOp(
                name: "backward hook (input)", inputs: [x], forward: { $0[0] },
                vjp: { g, _, _ in [runBackwardHooks(g)] })
        }
        var output = forward(layerInput)
        for hook in LayerHooks.hooks(.forward, of: self, as: Post.self) { output = hook(x, output) ?? output }
        if !backwardHooks.isEmpty && output.requiresGrad {
            output = Tensor.customOp(
                name: "backward hook (output)", inputs: [output], forward: { $0[0] },
                vjp: { g, _, _ in
                    gradientOfOutput.value = g
                    // No gradient will reach the input: the hooks run now, with none.
                    if !inputTracked { _ = runBackwardHooks(nil) }
                    return [g]
                })
        }
        return output
    }
}
