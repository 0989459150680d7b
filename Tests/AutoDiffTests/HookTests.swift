import AutoDiff
import Foundation
import GradCheck
import Testing

/// `retainGrad()` and gradient hooks on tensors, as PyTorch's `retain_grad` and `register_hook`.
@Suite("Retained gradients and gradient hooks")
struct HookTests {
    /// A two-layer network with its intermediates: `z = x·W₁`, `h = tanh(z)`, `loss = Σ (h·W₂)²`.
    struct Network {
        let x = Tensor<Double>(shape: [4, 3], scalars: (0..<12).map { Double($0) / 10 - 0.5 })
        let w1 = GradCheck.input([3, 5], seed: 1).requiringGrad()
        let w2 = GradCheck.input([5, 2], seed: 2).requiringGrad()

        func forward(_ observe: (_ z: Tensor<Double>, _ h: Tensor<Double>) -> Void = { _, _ in }) -> Tensor<Double> {
            let z = x.matmul(w1)
            let h = z.tanh()
            observe(z, h)
            return h.matmul(w2).squared().sum()
        }
    }

    @Test("a leaf's hooks run as soon as its gradient is complete, before earlier layers are differentiated")
    func leafHooksRunEarly() {
        let net = Network()
        let expected = gradients(of: net.forward(), wrt: [net.w1, net.w2])
        var events: [String] = []
        let handles = [
            net.w1.registerHook { _ in
                events.append("w1")
                return nil
            },
            net.w2.registerHook { g in
                // .grad is filled right after the hooks, at the same early point.
                events.append(net.w2.grad == nil ? "w2" : "w2 after .grad")
                return nil
            },
        ]
        defer { for handle in handles { handle.remove() } }
        let loss = net.forward { z, _ in
            z.registerHook { _ in
                events.append("z")
                return nil
            }
        }
        loss.backward()
        // w2's last use is the last layer: its hook precedes the sweep through z; w1's follows it.
        #expect(events == ["w2", "z", "w1"])
        #expect(net.w1.grad?.scalars == expected[0].scalars)
        #expect(net.w2.grad?.scalars == expected[1].scalars)
    }

    @Test("post-accumulate hooks see the new .grad at once, accumulated, before earlier layers are differentiated")
    func postAccumulateHooks() {
        let net = Network()
        let expected = gradients(of: net.forward(), wrt: [net.w1, net.w2])
        var events: [String] = []
        var seen: [[Double]] = []
        let handles = [
            net.w2.registerPostAccumulateGradHook { grad in
                events.append("w2 .grad")
                seen.append(grad.scalars)
            },
            net.w2.registerHook { g in
                events.append("w2 hook")
                return g * 3
            },
        ]
        defer { for handle in handles { handle.remove() } }
        for pass in 1...2 {
            let loss = net.forward { z, _ in
                z.registerHook { _ in
                    events.append("z")
                    return nil
                }
            }
            loss.backward()
            // .grad accumulates across passes: the hook sees 3g, then 6g.
            #expect(seen.last == expected[1].scalars.map { Double(3 * pass) * $0 })
        }
        #expect(events == ["w2 hook", "w2 .grad", "z", "w2 hook", "w2 .grad", "z"])
    }

    @Test("a leaf used several times is finished once, with the sum of every use's gradient")
    func leafUsedTwiceFinishesOnce() {
        let w = Tensor<Double>(shape: [3], scalars: [0.5, -1, 2]).requiringGrad()
        let x = Tensor<Double>(shape: [3], scalars: [1, 2, 3])
        var seen: [[Double]] = []
        let handle = w.registerHook { g in
            seen.append(g.scalars)
            return nil
        }
        defer { handle.remove() }
        ((x * w).sum() + (w * w).sum() + w.exp().sum()).backward()
        let expected = zip([1.0, 2, 3], [0.5, -1, 2]).map { $0 + 2 * $1 + Foundation.exp($1) }
        #expect(seen.count == 1)
        #expect(zip(seen[0], expected).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(zip(w.grad!.scalars, expected).allSatisfy { abs($0 - $1) < 1e-12 })
    }

    @Test("retainGrad fills an intermediate's .grad with the gradient gradients(of:wrt:) gives")
    func retainGradMatchesFunctionalGradient() {
        let net = Network()
        var zh: (Tensor<Double>, Tensor<Double>)!
        let loss = net.forward { z, h in
            z.retainGrad()
            h.retainGrad()
            zh = (z, h)
        }
        let expected = gradients(of: loss, wrt: [zh.0, zh.1], retainGraph: true)
        loss.backward()
        #expect(zh.0.retainsGrad && zh.1.retainsGrad)
        #expect(zh.0.grad?.scalars == expected[0].scalars)
        #expect(zh.1.grad?.scalars == expected[1].scalars)
        // Without retainGrad an intermediate keeps nothing; leaves keep theirs as always.
        var plain: Tensor<Double>!
        let other = net.forward { _, h in plain = h }
        other.backward()
        #expect(plain.grad == nil && !plain.retainsGrad)
        #expect(net.w1.retainsGrad && net.w1.grad != nil)
    }

    @Test("a retained gradient accumulates across backward passes until zeroGrad")
    func retainedGradientAccumulates() {
        let x = Tensor<Double>([1, 2, 3]).requiringGrad()
        let y = x * x
        y.retainGrad()
        let loss = (y * 3).sum()
        loss.backward(retainGraph: true)
        loss.backward()
        #expect(y.grad?.scalars == [6, 6, 6])
        y.zeroGrad()
        #expect(y.grad == nil)
    }

    @Test("a hook sees the whole gradient once, after every use of the tensor has added to it")
    func hookSeesAccumulatedGradient() {
        let x = Tensor<Double>([1, 2]).requiringGrad()
        let y = x * 2
        var seen: [[Double]] = []
        y.registerHook { g in
            seen.append(g.scalars)
            return nil
        }
        (y * y + y * 3).sum().backward()
        #expect(seen == [[7, 11]])  // ∂/∂y (y² + 3y) = 2y + 3 at y = (2, 4)
        #expect(x.grad?.scalars == [14, 22])
    }

    /// Every gradient of the loss passes through `h`, so a hook scaling `∂L/∂h` by c must give
    /// the gradient of `c·L`, which GradCheck proves against finite differences; a hook that
    /// only observes must leave GradCheck's verdict on `L` itself unchanged.
    @Test("hooks that scale or observe a gradient agree with finite differences of c·L and of L")
    func hooksAgainstFiniteDifferences() {
        let c = 0.25
        let inputs = [GradCheck.input([4, 3], seed: 5), GradCheck.input([3, 5], seed: 6)]
        func loss(_ xs: [Tensor<Double>], hook: ((Tensor<Double>) -> Tensor<Double>?)?) -> Tensor<Double> {
            let h = xs[0].matmul(xs[1]).tanh()
            if let hook, h.requiresGrad { h.registerHook(hook) }
            return h.sin().sum()
        }
        var observed = 0
        let observing = GradCheck.check(
            {
                loss(
                    $0,
                    hook: { _ in
                        observed += 1
                        return nil
                    })
            }, at: inputs)
        #expect(observing.passed, "\(observing)")
        #expect(observed > 0)

        let scaledLoss = GradCheck.check({ loss($0, hook: nil) * c }, at: inputs)
        #expect(scaledLoss.passed, "\(scaledLoss)")
        let tracked = inputs.map { $0.requiringGrad() }
        let hooked = gradients(of: loss(tracked, hook: { $0 * c }), wrt: tracked)
        let fresh = inputs.map { $0.requiringGrad() }
        let proven = gradients(of: loss(fresh, hook: nil) * c, wrt: fresh)
        for (a, b) in zip(hooked, proven) {
            let worst = zip(a.scalars, b.scalars).map { Swift.abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-12)
        }
    }

    @Test("hooks on a leaf change what reaches .grad; hooks run in order; remove() stops a hook")
    func leafHooksOrderAndRemoval() {
        let x = Tensor<Double>([1, 2]).requiringGrad()
        let doubling = x.registerHook { $0 * 2 }
        x.registerHook { $0 + 1 }
        (x * 3).sum().backward()
        #expect(x.grad?.scalars == [7, 7])  // (3·2) + 1
        x.zeroGrad()
        doubling.remove()
        doubling.remove()
        (x * 3).sum().backward()
        #expect(x.grad?.scalars == [4, 4])
    }

    @Test("a hook's replacement is differentiated again under createGraph")
    func hookUnderCreateGraph() {
        let x = Tensor<Double>([0.5, -1.5]).requiringGrad()
        let y = x * x * x
        y.registerHook { g in g * 3 }
        let g = gradients(of: y.sum(), wrt: [x], createGraph: true)[0]  // 3·3x²
        #expect(g.scalars == [2.25, 20.25])
        let second = gradients(of: g.sum(), wrt: [x])[0]  // 18x
        #expect(second.scalars == [9, -27])
    }
}
