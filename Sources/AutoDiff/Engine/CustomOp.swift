extension Tensor {
    /// Defines a differentiable op from a forward function and its vector-Jacobian product.
    ///
    /// `forward` computes the value from the inputs' values (it runs without recording).
    /// `vjp` receives the upstream gradient `g` (shaped like the output), the inputs and the
    /// output, and returns one gradient per input (shaped like that input, or like the output
    /// when the input was broadcast; `nil` for "no gradient"). Write the VJP with tensor ops and
    /// it is differentiable again; check it with GradCheck.
    ///
    /// ```swift
    /// // softsign(x) = x / (1 + |x|),  d/dx = 1 / (1 + |x|)²
    /// let y = Tensor.customOp(name: "softsign", inputs: [x],
    ///     forward: { xs in xs[0] / (xs[0].abs() + 1) },
    ///     vjp: { g, xs, _ in [g / (xs[0].abs() + 1).squared()] })
    /// ```
    public static func customOp(
        name: String, inputs: [Tensor],
        forward: ([Tensor]) -> Tensor,
        vjp: @escaping (_ upstream: Tensor, _ inputs: [Tensor], _ output: Tensor) -> [Tensor?]
    ) -> Tensor {
        let value = withoutGrad { forward(inputs.map { $0.detached() }) }
        let output = value.detached()
        return output.recorded(.custom, inputs, savingOutput: true) {
            .nary { g, node in
                let grads = vjp(g, inputs, node.output)
                guard grads.count == inputs.count else {
                    tensorFailure(
                        "custom op \(name): the VJP returned \(grads.count) gradients for \(inputs.count) inputs")
                }
                return grads
            }
        }
    }
}
