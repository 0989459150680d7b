// Optimizer updates: one step of SGD, Adagrad, RMSprop or Adam, element by element, in place.

extension ReferenceBackend {
    public func update(_ rule: UpdateKernel, weights: Buffer, gradient: Buffer, state: [Buffer]) {
        switch weights.dtype {
        case .float32: update(rule, weights: weights, gradient: gradient, state: state, Float.self)
        case .float64: update(rule, weights: weights, gradient: gradient, state: state, Double.self)
        case .uint8, .int64: Self.unsupported("update", weights.dtype)
        }
    }

    /// For each `i`, in `S` with the rule's constants rounded to `S`, the step ``UpdateKernel``
    /// documents; the state buffers are updated in place and their new values used.
    private func update<S: TensorScalar>(
        _ rule: UpdateKernel, weights: Buffer, gradient: Buffer, state: [Buffer], _: S.Type
    ) {
        let (n, w, g) = (weights.count, Self.elements(weights, S.self), Self.elements(gradient, S.self))
        let state = state.map { Self.elements($0, S.self) }
        switch rule {
        case .sgd(let lr, let decay, let momentum, let nesterov):
            let (lr, decay) = (S(lr), S(decay))
            if momentum == 0 {
                // w ← w·decay − lr·g
                for i in 0..<n { w[i] = w[i] * decay - lr * g[i] }
                return
            }
            // b ← μ·b + g; w ← w·decay − lr·(g + μ·b) (Nesterov) or w·decay − lr·b
            let (b, momentum) = (state[0], S(momentum))
            for i in 0..<n {
                b[i] = momentum * b[i] + g[i]
                w[i] = w[i] * decay - lr * (nesterov ? g[i] + momentum * b[i] : b[i])
            }
        case .adagrad(let lr, let decay, let epsilon):
            // s ← s + g²; w ← w·decay − lr·g/(√s + ε)
            let (s, lr, decay, epsilon) = (state[0], S(lr), S(decay), S(epsilon))
            for i in 0..<n {
                s[i] = s[i] + g[i] * g[i]
                w[i] = w[i] * decay - lr * g[i] / (s[i].squareRoot() + epsilon)
            }
        case .rmsprop(let lr, let decay, let rho, let epsilon):
            // a ← ρ·a + (1 − ρ)·g²; w ← w·decay − lr·g/(√a + ε)
            let (a, lr, decay, rho, epsilon) = (state[0], S(lr), S(decay), S(rho), S(epsilon))
            for i in 0..<n {
                a[i] = rho * a[i] + (1 - rho) * g[i] * g[i]
                w[i] = w[i] * decay - lr * g[i] / (a[i].squareRoot() + epsilon)
            }
        case .adam(let lr, let decay, let beta1, let beta2, let c1, let c2, let epsilon, let amsgrad):
            // m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; v̂ ← max(v̂, v) (AMSGrad) or v;
            // w ← w·decay − lr·(m·c₁)/(√(v̂·c₂) + ε)
            let (m, v, vMax) = (state[0], state[1], amsgrad ? state[2] : nil)
            let (lr, decay, beta1, beta2) = (S(lr), S(decay), S(beta1), S(beta2))
            let (c1, c2, epsilon) = (S(c1), S(c2), S(epsilon))
            for i in 0..<n {
                m[i] = beta1 * m[i] + (1 - beta1) * g[i]
                v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
                var vHat = v[i]
                if let vMax {
                    vMax[i] = vMax[i] > v[i] ? vMax[i] : v[i]
                    vHat = vMax[i]
                }
                w[i] = w[i] * decay - lr * (m[i] * c1) / ((vHat * c2).squareRoot() + epsilon)
            }
        }
    }
}
