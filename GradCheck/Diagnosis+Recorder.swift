import AutoDiff

extension GradCheck {
    /// An elementwise activation whose derivative a hand-written backward pass must get right.
    public enum Activation: String, Codable, Sendable, CaseIterable {
        /// `σ(x) = 1/(1 + e⁻ˣ)` (σ′ = σ(1 − σ)), `max(x, 0)` (relu′ = [x > 0]), `tanh x`
        /// (tanh′ = 1 − tanh²).
        case sigmoid, relu, tanh

        /// `act(x)`.
        public func callAsFunction(_ x: Tensor<Double>) -> Tensor<Double> {
            switch self {
            case .sigmoid: x.sigmoid()
            case .relu: x.relu()
            case .tanh: x.tanh()
            }
        }

        /// `act′(x)`, the derivative evaluated at its input: σ(x)(1 − σ(x)), [x > 0], 1 − tanh²(x).
        func derivative(atInput x: Tensor<Double>) -> Tensor<Double> {
            derivative(fromOutput: self(x))
        }

        /// The derivative written in terms of the output `y = act(x)`: y(1 − y), [y > 0], 1 − y².
        /// Handed the pre-activation instead of `y`, this is the classic `x·(1 − x)` mistake.
        func derivative(fromOutput y: Tensor<Double>) -> Tensor<Double> {
            switch self {
            case .sigmoid: y * (1 - y)
            case .relu: y .> 0
            case .tanh: 1 - y * y
            }
        }

        /// How the derivative is usually written in terms of the output, for messages.
        var outputForm: String {
            switch self {
            case .sigmoid: "x·(1−x)"
            case .relu: "[x > 0]"
            case .tanh: "1−x²"
            }
        }

        /// The derivative's name in messages: σ′, relu′, tanh′.
        var derivativeName: String {
            switch self {
            case .sigmoid: "σ′"
            case .relu: "relu′"
            case .tanh: "tanh′"
            }
        }
    }

    /// Handed to the function under ``GradCheck/diagnose(_:at:handWritten:batchSize:tolerance:relationTolerance:)-(_,_,[String:Tensor<Double>],_,_,_)``:
    /// gives the named inputs and records named intermediates, so their tape gradients can be
    /// compared with hand-written ones.
    ///
    /// ```swift
    /// let diagnosis = GradCheck.diagnose({ r in
    ///     let z1 = r.record("z1", r["x"].matmul(r["W1"]) + r["b1"])
    ///     let a1 = r.activate("z1", z1, .sigmoid, as: "a1")
    ///     let z2 = r.record("z2", a1.matmul(r["W2"]) + r["b2"])
    ///     let p = r.activate("z2", z2, .sigmoid, as: "p")
    ///     return ((p - y).squared() * 0.5).sum()
    /// }, at: [("x", x), ("W1", w1), ("b1", b1), ("W2", w2), ("b2", b2)],
    ///    handWritten: ["z2": dz2, "W2": dW2, "b2": db2, "z1": dz1, "W1": dW1, "b1": db1])
    /// ```
    ///
    /// The order in which names first appear here (an input read, a tensor recorded) is the
    /// forward order; the diagnosis reports in the reverse, backward order.
    public final class Recorder {
        let inputs: [String: Tensor<Double>]
        /// Names in order of first appearance in the forward pass.
        private(set) var order: [String] = []
        private(set) var recorded: [String: Tensor<Double>] = [:]
        /// Pre-activation name → its activation and the name of its output.
        private(set) var activations: [String: (activation: Activation, output: String)] = [:]
        /// Named additive terms of the loss, in the order recorded.
        private(set) var terms: [(name: String, value: Tensor<Double>)] = []

        init(inputs: [String: Tensor<Double>]) {
            self.inputs = inputs
        }

        /// The named input (tracked by the tape). Its first read places it in the forward order.
        public subscript(_ name: String) -> Tensor<Double> {
            guard let input = inputs[name] else {
                fatalError("GradCheck.diagnose: no input named '\(name)'; inputs are \(inputs.keys.sorted())")
            }
            if !order.contains(name) { order.append(name) }
            return input
        }

        /// Records an intermediate tensor under `name` (e.g. a layer's pre-activation) and returns it.
        @discardableResult
        public func record(_ name: String, _ tensor: Tensor<Double>) -> Tensor<Double> {
            guard inputs[name] == nil, recorded[name] == nil else {
                fatalError("GradCheck.diagnose: the name '\(name)' is used twice")
            }
            recorded[name] = tensor
            order.append(name)
            return tensor
        }

        /// Applies `activation` to the pre-activation `z` (recorded under `name` unless it already
        /// is) and records the result under `output`, so the diagnosis can recognise a derivative
        /// evaluated at the wrong tensor. Returns `activation(z)`.
        public func activate(_ name: String, _ z: Tensor<Double>, _ activation: Activation, as output: String)
            -> Tensor<Double>
        {
            if recorded[name] == nil { record(name, z) }
            activations[name] = (activation, output)
            return record(output, activation(recorded[name]!))
        }

        /// Records a named additive term of the loss (a data term, a penalty) and returns it. With
        /// terms recorded, the diagnosis can recognise a hand-written gradient that leaves one out.
        @discardableResult
        public func term(_ name: String, _ value: Tensor<Double>) -> Tensor<Double> {
            terms.append((name, value))
            return value
        }

        /// The tensor behind a name, input or intermediate.
        func tensor(named name: String) -> Tensor<Double>? { recorded[name] ?? inputs[name] }
    }
}
