import AutoDiff
import Testing

@Suite("README example")
struct ReadmeExampleTests {
    @Test("the README's two-layer network trains with plain SGD steps")
    func readmeExample() {
        var generator = RandomGenerator(seed: 0)
        let x = Tensor<Float>.randomNormal([64, 2], generator: &generator)
        let y = x.slice(alongAxis: 1, 0..<1) .> 0

        var w1 = (Tensor<Float>.randomNormal([2, 16], generator: &generator) * 0.5).requiringGrad()
        var b1 = Tensor<Float>.zeros([16]).requiringGrad()
        var w2 = (Tensor<Float>.randomNormal([16, 1], generator: &generator) * 0.5).requiringGrad()
        var b2 = Tensor<Float>.zeros([1]).requiringGrad()

        var losses: [Float] = []
        for _ in 0..<300 {
            let logits = (x.matmul(w1) + b1).relu().matmul(w2) + b2
            let loss = (logits.softplus() - logits * y).mean()
            loss.backward()
            let lr: Float = 0.5
            withoutGrad {
                w1 -= w1.grad! * lr
                b1 -= b1.grad! * lr
                w2 -= w2.grad! * lr
                b2 -= b2.grad! * lr
            }
            for p in [w1, b1, w2, b2] { p.zeroGrad() }
            losses.append(loss.item)
        }
        // Parameters stay leaves through the in-place updates.
        #expect(w1.requiresGrad && w1.isLeaf)
        #expect(losses.last! < losses.first! * 0.2)
        let logits = withoutGrad { (x.matmul(w1) + b1).relu().matmul(w2) + b2 }
        let accuracy = ((logits .> 0) .== y).mean().item
        #expect(accuracy >= 0.95)
    }

    @Test("in-place updates under withoutGrad keep values saved on a living tape intact")
    func inPlaceUpdateIsCopyOnWrite() {
        var w = Tensor<Double>([2]).requiringGrad()
        let y = (w * w).sum()  // saves w's value (2) for the backward pass
        withoutGrad { w -= 1 }
        #expect(w.scalars == [1])
        y.backward()
        #expect(w.grad?.scalars == [4])  // 2·w at the time of the forward pass
    }

    @Test("the README's devices example: an op on the reference backend, and a gradient back to the CPU")
    func devicesExample() {
        let a = Tensor<Float>.ones([2, 3], on: .reference)
        let b = Tensor<Float>([1, 2, 3]).to(.reference)
        let product = (a * b).sum()
        #expect(product.device == .reference)
        #expect(product.item == 12)
        let x = Tensor<Float>([1, 2, 3]).requiringGrad()
        x.to(.reference).squared().sum().backward()
        #expect(x.grad?.device == .cpu)
        #expect(x.grad?.scalars == [2, 4, 6])
    }

    @Test("the README's inspecting-gradients example: a retained gradient and a clipping hook")
    func inspectingGradientsExample() {
        var generator = RandomGenerator(seed: 0)
        let x = Tensor<Float>.randomNormal([64, 2], generator: &generator)
        let w1 = (Tensor<Float>.randomNormal([2, 16], generator: &generator) * 0.5).requiringGrad()
        let b1 = Tensor<Float>.zeros([16]).requiringGrad()
        let w2 = (Tensor<Float>.randomNormal([16, 1], generator: &generator) * 0.5).requiringGrad()
        let b2 = Tensor<Float>.zeros([1]).requiringGrad()

        let z = x.matmul(w1) + b1
        z.retainGrad()
        let a = z.relu()
        var unclipped: Tensor<Float>?
        a.registerHook { g in
            unclipped = g
            return nil
        }
        let clip = a.registerHook { g in g.clamped(min: -0.01, max: 0.01) }
        let loss = (a.matmul(w2) + b2).squared().mean()
        loss.backward()
        #expect(z.grad!.shape == [64, 16])
        // z's gradient is relu′(z) times the clipped gradient of a, not the unclipped one.
        let expected = Tensor.where(z .> 0, unclipped!.clamped(min: -0.01, max: 0.01), Tensor(0))
        #expect(z.grad!.scalars == expected.scalars)
        #expect(unclipped!.scalars.contains { Swift.abs($0) > 0.01 })
        clip.remove()
    }
}
