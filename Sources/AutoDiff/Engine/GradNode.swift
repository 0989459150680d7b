import Runtime
import Synchronization

/// Creation counter: a node's id orders it on the tape (a later op has a larger id), so a
/// backward pass is one sweep in decreasing id order.
let nodeCounter = Atomic<UInt64>(0)
/// One stamp per backward pass, to mark the nodes it visits without a hash set.
let visitCounter = Atomic<UInt64>(0)

/// A captured backtrace, for anomaly reports.
final class CallSite {
    let backtrace: Backtrace
    init(_ backtrace: Backtrace) { self.backtrace = backtrace }
}

/// How an op turns the gradient of its output into gradients of its inputs (its VJP).
///
/// Rules are written with differentiable tensor ops, so running them while recording
/// (`createGraph: true`) builds the graph of the backward pass itself. Each returns gradients
/// shaped like the op's *output*; the engine sums them back to each input's shape.
enum Pullback<Scalar: TensorScalar> {
    /// One input: `(upstream, node) -> gradient of the input`.
    case unary((Tensor<Scalar>, GradNode<Scalar>) -> Tensor<Scalar>)
    /// Two inputs; the flags say which gradients are wanted (the other input may be constant).
    case binary(
        (Tensor<Scalar>, GradNode<Scalar>, Bool, Bool) -> (Tensor<Scalar>?, Tensor<Scalar>?))
    /// Any number of inputs (concat, custom ops).
    case nary((Tensor<Scalar>, GradNode<Scalar>) -> [Tensor<Scalar>?])
}

/// The part of a tape entry that does not depend on the element type: identity, creation order,
/// edges to the inputs, and the iterative teardown of long chains.
///
/// It is not generic on purpose: a generic class's `deinit` always runs unspecialised, and
/// keeping the edges here keeps that path free of runtime generic-metadata lookups.
public class NodeBase {
    let id: UInt64
    let op: OpKind?
    let shape: [Int]
    /// Nodes of the inputs, `nil` for constant inputs: the first two inline (every unary and
    /// binary op, without an array allocation per node), the rest of an n-ary op's in `more`.
    var first: NodeBase?
    var second: NodeBase?
    var more: [NodeBase?] = []
    let inputCount: Int
    var visitStamp: UInt64 = 0
    var released = false
    /// Where user code created this op (anomaly mode only).
    var callSite: CallSite?

    init(op: OpKind?, shape: [Int], first: NodeBase?, second: NodeBase?, arity: Int) {
        id = nodeCounter.wrappingAdd(1, ordering: .relaxed).newValue
        self.op = op
        self.shape = shape
        self.first = first
        self.second = second
        inputCount = arity
    }

    var isLeaf: Bool { op == nil }

    /// All input nodes in order (allocates; for n-ary ops and inspection).
    var inputs: [NodeBase?] {
        switch inputCount {
        case 0: []
        case 1: [first]
        case 2: [first, second]
        default: [first, second] + more
        }
    }

    /// Calls `body` for each input that requires gradients.
    @inline(__always)
    final func forEachInput(_ body: (NodeBase) -> Void) {
        if let first { body(first) }
        if let second { body(second) }
        if !more.isEmpty { for case let input? in more { body(input) } }
    }

    /// Drops the edges to the inputs and the saved values that point at them.
    final func unlink() {
        first = nil
        second = nil
        if !more.isEmpty { more = [] }
        dropSavedState()
    }

    /// Releases the rule and saved values (overridden by the typed node).
    func dropSavedState() {}

    /// Releases what backward no longer needs: what a pass without `retainGraph` does.
    final func release() {
        unlink()
        released = true
    }

    // Dropping the last reference to a long chain would otherwise release it recursively, one
    // stack frame per node; unlink it iteratively instead. The rule is dropped with the edges
    // because it captures the same inputs.
    deinit {
        guard first != nil || second != nil || !more.isEmpty else { return }
        var stack: [NodeBase] = []
        forEachInput { stack.append($0) }
        unlink()
        while var next = stack.popLast() {
            if isKnownUniquelyReferenced(&next) {
                next.forEachInput { stack.append($0) }
                next.unlink()
            }
        }
    }
}

/// One entry of the tape: the op that produced a tensor, its inputs' nodes, and its VJP.
/// Leaves (tensors created with `requiresGrad`) have no pullback and own the `.grad` buffer.
public final class GradNode<Scalar: TensorScalar>: NodeBase {
    var pullback: Pullback<Scalar>?
    /// The op's own output value, for rules written in terms of it (exp, tanh, sigmoid, sqrt).
    var savedOutput: Buffer?
    /// A leaf's accumulated gradient (or a retained intermediate's, see ``Tensor/retainGrad()``).
    var grad: Tensor<Scalar>?
    /// The gradient being accumulated during a backward pass.
    var pending: Tensor<Scalar>?
    /// Whether backward accumulates this non-leaf's gradient into ``grad``.
    var retainsGrad = false
    /// Gradient hooks in registration order (``Tensor/registerHook(_:)``), each with its id.
    var hooks: [(id: Int, hook: (Tensor<Scalar>) -> Tensor<Scalar>?)] = []
    /// Hooks run after a leaf's ``grad`` has been updated
    /// (``Tensor/registerPostAccumulateGradHook(_:)``), in registration order, each with its id.
    var postAccumulateHooks: [(id: Int, hook: (Tensor<Scalar>) -> Void)] = []
    /// For a leaf with hooks, during a backward pass: the uses of it whose gradients have not
    /// arrived yet (`Engine.run` finishes the leaf early when this reaches zero).
    var usesPending = 0

    /// Whether backward must finish this leaf as soon as its gradient is complete: it has hooks.
    var hasLeafHooks: Bool { !hooks.isEmpty || !postAccumulateHooks.isEmpty }

    /// A leaf's (or retained intermediate's) gradient of this pass is complete: runs its
    /// hooks, adds the result to ``grad`` and runs the post-accumulate hooks on the new ``grad``.
    @inline(__always)
    func finishGradient(_ gradient: Tensor<Scalar>) {
        accumulateGrad(hooks.isEmpty ? gradient : runHooks(gradient))
        if _slowPath(!postAccumulateHooks.isEmpty), let grad {
            for (_, hook) in postAccumulateHooks { hook(grad) }
        }
    }

    /// A leaf.
    init(leafShape shape: [Int]) {
        super.init(op: nil, shape: shape, first: nil, second: nil, arity: 0)
    }

    init(op: OpKind, shape: [Int], first: GradNode?, second: GradNode?, pullback: Pullback<Scalar>, arity: Int) {
        self.pullback = pullback
        super.init(op: op, shape: shape, first: first, second: second, arity: arity)
    }

    convenience init(op: OpKind, shape: [Int], inputs: [GradNode?], pullback: Pullback<Scalar>) {
        self.init(
            op: op, shape: shape, first: inputs.first ?? nil, second: inputs.count > 1 ? inputs[1] : nil,
            pullback: pullback, arity: inputs.count)
        if inputs.count > 2 { more = inputs[2...].map { $0 } }
    }

    override func dropSavedState() {
        pullback = nil
        savedOutput = nil
    }

    /// `gradient` after every hook, in registration order: each sees the previous one's result
    /// and may replace it with a gradient of the same shape.
    func runHooks(_ gradient: Tensor<Scalar>) -> Tensor<Scalar> {
        var gradient = gradient
        for (_, hook) in hooks {
            guard let replaced = hook(gradient) else { continue }
            guard replaced.shape == shape else {
                tensorFailure(
                    "gradient hook: returned a gradient of shape \(replaced.shape) for a tensor of shape \(shape)")
            }
            gradient = replaced
        }
        return gradient
    }

    /// Adds `gradient` to ``grad``.
    func accumulateGrad(_ gradient: Tensor<Scalar>) {
        if var existing = grad.take() {
            existing.accumulate(gradient)
            grad = existing
        } else if var kept = retiredGrad.take(), gradient.node == nil, kept.count == gradient.count,
            isKnownUniquelyReferenced(&kept)
        {
            // The gradient goes into the buffer a captured step uses, so the step's plans keep
            // finding it there.
            gradient.backend.convert(gradient.storage, into: kept)
            grad = Tensor(shape: gradient.shape, storage: kept)
        } else {
            grad = gradient
        }
    }

    /// A gradient buffer cleared by ``zeroGrad()`` but kept for the next gradient, because a
    /// captured step's plan uses it in place (Engine/Capture/).
    var retiredGrad: Buffer?

    /// Clears ``grad``; a buffer a captured step uses is kept to receive the next gradient.
    func zeroGrad() {
        guard let old = grad.take() else { return }
        if old.node == nil && (old.storage.isWatchedByCapture || Capture.isRecording) { retiredGrad = old.storage }
    }

    /// The typed node of an input (every input of a `GradNode<Scalar>` has the same element type).
    @inline(__always)
    static func typed(_ node: NodeBase?) -> GradNode? {
        guard let node else { return nil }
        return unsafeDowncast(node, to: GradNode.self)
    }

    /// The op's output as a tensor still attached to this node, so a rule that uses it is
    /// differentiable again.
    var output: Tensor<Scalar> {
        guard let savedOutput else {
            tensorFailure("internal: \(op?.rawValue ?? "leaf") did not save its output")
        }
        return Tensor(shape: shape, storage: savedOutput, node: self)
    }
}
