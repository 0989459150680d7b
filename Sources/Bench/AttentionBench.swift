import AutoDiff

/// One way of computing attention timed (the `attention` workload).
struct AttentionTiming: Encodable {
    var name: String
    /// Milliseconds per call: the forward pass alone (nothing recorded), and the forward pass
    /// recorded plus the backward pass to the query, key and value.
    var forwardMs: Double
    var forwardBackwardMs: Double
}

extension Workload {
    /// Causal self-attention at the gpt-words shapes (64 sequences, 4 heads, 16 positions, head
    /// width 16, as `torch_models.py gpt-words`), in Float: the fused `scaledDotProductAttention`
    /// against the composed `softmax(QKᵀ/√d + causal mask)·V` (`attentionWeights` then `matmul`),
    /// each the best of five rounds of 200 calls. The metric is the fused op's forward plus
    /// backward in milliseconds; `seconds` is that times two blocks and 2000 steps, the attention's
    /// share of `bench gpt-words`.
    func attention() -> Report {
        var generator = RandomGenerator(seed: 0)
        let shape = [64, 4, 16, 16]
        let inputs = (0..<3).map { _ in Tensor<Float>.randomNormal(shape, generator: &generator) }
        let tracked = inputs.map { $0.requiringGrad() }
        let upstream = Tensor<Float>.randomNormal(shape, generator: &generator)
        let ways: [(String, ([Tensor<Float>]) -> Tensor<Float>)] = [
            (
                "fused scaledDotProductAttention",
                {
                    Tensor.scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], causal: true)
                }
            ),
            (
                "composed softmax(QKᵀ·s + mask)·V",
                {
                    Tensor.attentionWeights(query: $0[0], key: $0[1], causal: true).matmul($0[2])
                }
            ),
        ]
        func best(_ body: () -> Void) -> Double {
            for _ in 0..<20 { body() }
            let repeats = 200
            var fastest = Double.infinity
            for _ in 0..<5 { fastest = min(fastest, timed { for _ in 0..<repeats { body() } } / Double(repeats)) }
            return fastest * 1e3
        }
        let timings = ways.map { name, f in
            AttentionTiming(
                name: name, forwardMs: best { _ = withoutGrad { f(inputs) } },
                forwardBackwardMs: best { _ = gradients(of: f(tracked), wrt: tracked, seed: upstream) })
        }
        let fused = timings[0].forwardBackwardMs
        var report = Report(
            workload: rawValue, seconds: fused / 1e3 * 2 * 2000, stepsPerSecond: 1e3 / fused,
            metricName: "fused_forward_backward_ms", metric: fused)
        report.attention = timings
        return report
    }
}
