// Fused optimizer updates on the CPU: one pass over weights, gradient and state, split across
// ComputeThreads for large parameters (Adam in C).

extension CPUBackend {
    public func update(_ rule: UpdateKernel, weights: Buffer, gradient: Buffer, state: [Buffer]) {
        captureKernel { r in
            let w = r.readWrite(weights)
            let g = r.read(gradient)
            let s = state.map(r.readWrite)
            if let cell = r.pendingRule {
                r.pendingRule = nil
                return .dynamicUpdate(UpdateRuleReference(cell: cell), weights: w, gradient: g, state: s)
            }
            return .update(rule, weights: w, gradient: g, state: s)
        }
        switch weights.dtype {
        case .float32: f32.update(rule, weights, gradient, state)
        case .float64: f64.update(rule, weights, gradient, state)
        case .uint8, .int64: unsupported(weights.dtype, "update")
        }
    }
}

extension CPUKernels {
    func update(_ rule: UpdateKernel, _ weights: Buffer, _ gradient: Buffer, _ state: [Buffer]) {
        CPULoops.update(rule, p(weights), p(gradient), state, weights.count, adam: adam)
    }
}
