import Runtime
import Synchronization

/// Creation counter: a node's id orders it on the tape (a later op has a larger id), so a
/// backward pass is one sweep in decreasing id order.
let nodeCounter = Atomic<UInt64>(0)
/// One stamp per backward pass, to mark the nodes it visits without a hash set.
let visitCounter = Atomic<UInt64>(0)

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

/// One entry of the tape: the op that produced a tensor, the nodes of its inputs, and its VJP.
/// Leaves (tensors created with `requiresGrad`) have no pullback and own the `.grad` buffer.
public final class GradNode<Scalar: TensorScalar> {
    let id: UInt64
    let op: OpKind?
    let shape: [Int]
    /// Nodes of the inputs, `nil` for constant inputs.
    var inputs: [GradNode?]
    var pullback: Pullback<Scalar>?
    /// The op's own output value, for rules written in terms of it (exp, tanh, sigmoid, sqrt).
    var savedOutput: TensorStorage<Scalar>?
    /// A leaf's accumulated gradient.
    var grad: Tensor<Scalar>?
    /// The gradient being accumulated during a backward pass.
    var pending: Tensor<Scalar>?
    var visitStamp: UInt64 = 0
    var released = false
    /// Where user code created this op (anomaly mode only).
    var callSite: Backtrace?

    var isLeaf: Bool { op == nil }

    /// A leaf.
    init(leafShape shape: [Int]) {
        id = nodeCounter.wrappingAdd(1, ordering: .relaxed).newValue
        op = nil
        self.shape = shape
        inputs = []
    }

    init(op: OpKind, shape: [Int], inputs: [GradNode?], pullback: Pullback<Scalar>) {
        id = nodeCounter.wrappingAdd(1, ordering: .relaxed).newValue
        self.op = op
        self.shape = shape
        self.inputs = inputs
        self.pullback = pullback
    }

    /// The op's output as a tensor still attached to this node, so a rule that uses it is
    /// differentiable again.
    var output: Tensor<Scalar> {
        guard let savedOutput else {
            tensorFailure("internal: \(op?.rawValue ?? "leaf") did not save its output")
        }
        return Tensor(shape: shape, storage: savedOutput, node: self)
    }

    /// Releases the saved values and input edges: what backward does without `retainGraph`.
    func release() {
        pullback = nil
        savedOutput = nil
        inputs = []
        released = true
    }

    // Dropping the last reference to a long chain would otherwise release it recursively, one
    // stack frame per node; unlink it iteratively instead.
    deinit {
        guard !inputs.isEmpty else { return }
        var stack: [GradNode] = inputs.compactMap { $0 }
        inputs = []
        pullback = nil
        while var next = stack.popLast() {
            if isKnownUniquelyReferenced(&next) {
                stack.append(contentsOf: next.inputs.lazy.compactMap { $0 })
                next.inputs = []
                next.pullback = nil
            }
        }
    }
}
