import Foundation
import Testing

@testable import AutoDiff

@Suite("The tape")
struct EngineTests {
    @Test("backward accumulates into .grad until it is reset")
    func gradAccumulates() {
        let x = Tensor<Double>([1, 2, 3]).requiringGrad()
        (x * x).sum().backward()
        #expect(x.grad?.scalars == [2, 4, 6])
        (x * 3).sum().backward()
        #expect(x.grad?.scalars == [5, 7, 9])
        x.zeroGrad()
        #expect(x.grad == nil)
        (x * 3).sum().backward()
        #expect(x.grad?.scalars == [3, 3, 3])
    }

    @Test("gradients(of:wrt:) returns fresh gradients and leaves .grad alone")
    func functionalGradients() {
        let x = Tensor<Double>([1, 2]).requiringGrad()
        let y = Tensor<Double>([3, 4]).requiringGrad()
        let hidden = x * y
        let loss = (hidden * hidden).sum()
        let g = gradients(of: loss, wrt: [x, y, hidden], retainGraph: true)
        #expect(g[0].scalars == [18, 64])  // 2x·y²
        #expect(g[1].scalars == [6, 32])  // 2x²·y
        #expect(g[2].scalars == [6, 16])  // 2·hidden
        #expect(x.grad == nil && y.grad == nil)
        let again = gradients(of: loss, wrt: [x])
        #expect(again[0].scalars == g[0].scalars)
    }

    @Test("an input the output does not depend on gets zeros")
    func unrelatedInputGetsZeros() {
        let x = Tensor<Double>([1, 2]).requiringGrad()
        let unrelated = Tensor<Double>.ones([2, 2]).requiringGrad()
        let g = gradients(of: x.sum(), wrt: [unrelated])
        #expect(g[0].shape == [2, 2] && g[0].scalars == [0, 0, 0, 0])
    }

    @Test("a seed gives vector-Jacobian products of non-scalar outputs")
    func seededBackward() {
        let x = Tensor<Double>([1, 2, 3]).requiringGrad()
        (x * x).backward(seed: Tensor([1, 0, -1]))
        #expect(x.grad?.scalars == [2, 0, -6])
    }

    @Test("no-grad scopes record nothing; detached cuts the tape")
    func noGradAndDetached() {
        let x = Tensor<Double>([1, 2]).requiringGrad()
        let y = withoutGrad { x * 2 }
        #expect(!y.requiresGrad)
        #expect(!x.detached().requiresGrad)
        let z = x * x.detached()
        z.sum().backward()
        #expect(x.grad?.scalars == [1, 2])
        #expect(GradMode.isEnabled)
        withoutGrad {
            #expect(!GradMode.isEnabled)
            withGrad { #expect(GradMode.isEnabled) }
        }
    }

    @Test("operations on constants record nothing")
    func constantsAreNotRecorded() {
        let a = Tensor<Double>([1, 2])
        let b = Tensor<Double>([3, 4])
        let c = (a * b).exp().sum()
        #expect(!c.requiresGrad)
        #expect(c.recordedOps.isEmpty)
    }

    @Test("retainGraph allows a second backward through the same graph")
    func retainGraph() {
        let x = Tensor<Double>([2]).requiringGrad()
        let y = (x * x * x).sum()
        y.backward(retainGraph: true)
        y.backward()
        #expect(x.grad?.scalars == [24])
    }

    @Test("the backward sweep follows creation order on a diamond graph")
    func diamond() {
        // y = a·b where a = x², b = x³ share x: dy/dx = 5x⁴.
        let x = Tensor<Double>([2]).requiringGrad()
        let a = x * x
        let b = a * x
        let y = (a * b).sum()
        y.backward()
        #expect(x.grad?.scalars == [80])
    }

    @Test("a chain of 100,000 ops backpropagates, and the tape is freed by backward")
    func longChainAndRelease() {
        let x = Tensor<Double>([1]).requiringGrad()
        weak var interior: GradNode<Double>?
        var c = x
        for i in 0..<100_000 {
            c = c * 1.0001
            if i == 10 { interior = c.node }
        }
        let loss = c.sum()
        #expect(interior != nil)
        #expect(loss.recordedOps.count == 100_001)
        loss.backward()
        // d/dx of x·1.0001^100000 = 1.0001^100000 ≈ e^9.9995.
        let expected = Foundation.pow(1.0001, 100_000.0)
        #expect(abs(x.grad!.item - expected) / expected < 1e-9)
        // The output is still alive, but the tape behind it has been released.
        #expect(interior == nil)
    }

    @Test("dropping an unused 100,000-op graph frees it without deep recursion")
    func longChainDropped() {
        weak var interior: GradNode<Double>?
        do {
            let x = Tensor<Double>([1]).requiringGrad()
            var c = x
            for i in 0..<100_000 {
                c = (c * 1.0001).tanh()
                if i == 5 { interior = c.node }
            }
            #expect(interior != nil)
        }
        #expect(interior == nil)
    }

    @Test("resident memory stays flat over repeated forward and backward passes")
    func memoryIsFlat() async {
        // In a child process, so that tests running in parallel do not disturb the measurement.
        await #expect(processExitsWith: .success) {
            var generator = RandomGenerator(seed: 1)
            let w = Tensor<Float>.randomNormal([256, 256], generator: &generator).requiringGrad()
            let x = Tensor<Float>.randomNormal([128, 256], generator: &generator)
            func step() {
                let loss = x.matmul(w).tanh().matmul(w, transposeOther: true).squared().mean()
                loss.backward()
                w.zeroGrad()
            }
            for _ in 0..<20 { step() }
            let before = residentBytes()
            for _ in 0..<300 { step() }
            // 300 steps allocate ~300 MB in all; keeping even one 128 KB buffer per step would show.
            if residentBytes() - before > 8 << 20 { exit(1) }
        }
    }

    @Test("a custom op's VJP is used by backward")
    func customOp() {
        let x = Tensor<Double>([1, -2]).requiringGrad()
        let y = Tensor.customOp(
            name: "double", inputs: [x], forward: { $0[0] * 2 }, vjp: { g, _, _ in [g * 2] })
        y.sum().backward()
        #expect(y.scalars == [2, -4])
        #expect(x.grad?.scalars == [2, 2])
    }

    @Test("createGraph on backward makes .grad differentiable")
    func createGraphOnBackward() {
        let x = Tensor<Double>([3]).requiringGrad()
        (x * x * x).sum().backward(createGraph: true)
        let g = x.grad!
        #expect(g.requiresGrad)
        let second = gradients(of: g.sum(), wrt: [x])[0]
        #expect(second.scalars == [18])  // d²/dx² x³ = 6x
        x.zeroGrad()
    }
}

/// The process's resident set size, from /proc/self/statm.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}
