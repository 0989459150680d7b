import AutoDiff
import Testing

/// Backward sums a node's gradients in place when nothing else holds the partial sum's buffer.
/// These cases share buffers on purpose: an in-place sum that wrote a shared buffer would change
/// a value someone else still reads.
@Suite("Gradient sums in place")
struct AccumulationTests {
    @Test("a gradient held by the caller is not changed by the next backward")
    func heldGradientIsUnchanged() {
        let w = Tensor<Float>([1, 2, 3]).requiringGrad()
        (w * w).sum().backward()
        let first = w.grad!
        #expect(first.scalars == [2, 4, 6])
        (w * w).sum().backward()
        #expect(first.scalars == [2, 4, 6])
        #expect(w.grad!.scalars == [4, 8, 12])
    }

    @Test("a leaf's gradient accumulates over passes when nothing else holds it")
    func unheldGradientAccumulates() {
        let w = Tensor<Double>([0.5, -1]).requiringGrad()
        for _ in 0..<3 { (w * 4).sum().backward() }
        #expect(w.grad!.scalars == [12, 12])
    }

    @Test("one upstream gradient sent to both inputs of an add is summed into one without changing the other")
    func sharedUpstream() {
        let x = Tensor<Float>([1, -2, 3]).requiringGrad()
        let u = x * 2
        let w = x * 5
        let t = u + w
        // s's rule gives one buffer to t and to u; t's rule passes it on to u again and to w.
        // Summed in place into u, it would reach w doubled (x.grad 14 instead of 9).
        (t + u).sum().backward()
        #expect(x.grad!.scalars == [9, 9, 9])
    }

    @Test("a leaf reached along many paths sums every one of them")
    func manyPaths() {
        let a = Tensor<Float>(shape: [2, 2], scalars: [0.1, 0.2, 0.3, 0.4]).requiringGrad()
        let b = Tensor<Float>(shape: [2, 2], scalars: [1, -1, 2, -2]).requiringGrad()
        var c = a
        for _ in 0..<5 { c = c * b + a }
        c.sum().backward()
        // c₅ = a·(b⁵ + b⁴ + b³ + b² + b + 1), so ∂/∂a = Σₖ bᵏ and ∂/∂b = a·Σₖ k·bᵏ⁻¹.
        func power(_ v: Float, _ k: Int) -> Float { (0..<k).reduce(1) { product, _ in product * v } }
        let bs: [Float] = [1, -1, 2, -2]
        let aGrad = bs.map { v in (0...5).reduce(Float(0)) { $0 + power(v, $1) } }
        let bGrad = zip([Float](arrayLiteral: 0.1, 0.2, 0.3, 0.4), bs).map { av, v in
            av * (1...5).reduce(Float(0)) { $0 + Float($1) * power(v, $1 - 1) }
        }
        for (got, want) in zip(a.grad!.scalars, aGrad) { #expect(abs(got - want) <= 1e-4 * max(1, abs(want))) }
        for (got, want) in zip(b.grad!.scalars, bGrad) { #expect(abs(got - want) <= 1e-4 * max(1, abs(want))) }
    }

    @Test("with createGraph the sums are recorded and differentiate again")
    func recordedSums() {
        let x = Tensor<Double>([2, -3]).requiringGrad()
        // y = x³ reached along three paths: ∂y/∂x = 3x², ∂²y/∂x² = 6x.
        let y = (x * x * x).sum()
        let first = gradients(of: y, wrt: [x], createGraph: true)[0]
        #expect(first.scalars == [12, 27])
        let second = gradients(of: first.sum(), wrt: [x])[0]
        #expect(second.scalars == [12, -18])
    }
}
