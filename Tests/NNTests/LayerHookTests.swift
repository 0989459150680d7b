import AutoDiff
import NN
import Testing

/// Forward and backward hooks on layers, as PyTorch's module hooks.
@Suite("Layer hooks")
struct LayerHookTests {
    static func model() -> (Sequential<Double>, Linear<Double>, Linear<Double>) {
        var generator = RandomGenerator(seed: 3)
        let first = Linear<Double>(3, 4, generator: &generator)
        let second = Linear<Double>(4, 2, generator: &generator)
        return (Sequential<Double>([first, Tanh<Double>(), second]), first, second)
    }

    static var x: Tensor<Double> { Tensor(shape: [5, 3], scalars: (0..<15).map { Double($0) / 7 - 1 }) }

    @Test("forward pre-hooks and forward hooks see and may replace a sublayer's input and output")
    func forwardHooks() {
        let (model, first, second) = Self.model()
        var seenInput: [Int] = []
        var seenOutput: [Int] = []
        let pre = second.registerForwardPreHook { _, input in
            seenInput = input.shape
            return nil
        }
        let post = first.registerForwardHook { layer, input, output in
            #expect(layer === first)
            #expect(input.scalars == Self.x.scalars)
            seenOutput = output.shape
            return output * 0
        }
        let out = model(Self.x)
        #expect(seenInput == [5, 4] && seenOutput == [5, 4])
        // The first layer's output was replaced by zeros: tanh(0) = 0, so the output is the bias.
        let bias = second.bias.value.scalars
        #expect(out.scalars == (0..<5).flatMap { _ in bias })
        pre.remove()
        post.remove()
        seenInput = []
        #expect(model(Self.x).scalars != out.scalars)
        #expect(seenInput.isEmpty)
    }

    @Test("a backward hook gets ∂loss/∂input and ∂loss/∂output of its call, and may replace the input's")
    func backwardHook() {
        let (model, first, second) = Self.model()
        var captured: (input: Tensor<Double>?, output: Tensor<Double>)?
        second.registerBackwardHook { _, gradientOfInput, gradientOfOutput in
            captured = (gradientOfInput, gradientOfOutput)
            return nil
        }
        var secondInput: Tensor<Double>!
        var secondOutput: Tensor<Double>!
        second.registerForwardHook { _, input, output in
            secondInput = input
            secondOutput = output
            return nil
        }
        let loss = model(Self.x).squared().sum()
        let expected = gradients(of: loss, wrt: [secondInput, secondOutput], retainGraph: true)
        loss.backward()
        #expect(captured?.input?.scalars == expected[0].scalars)
        #expect(captured?.output.scalars == expected[1].scalars)

        // Replacing the input's gradient with zeros cuts every gradient before the layer.
        model.zeroGrad()
        second.registerBackwardHook { _, gradientOfInput, _ in gradientOfInput.map { $0 * 0 } }
        model(Self.x).squared().sum().backward()
        #expect(first.weight.grad?.scalars.allSatisfy { $0 == 0 } == true)
        #expect(second.weight.grad?.scalars.contains { $0 != 0 } == true)
    }

    @Test("on the first layer, whose input is data, a backward hook gets no input gradient")
    func backwardHookOnDataInput() {
        let (model, first, _) = Self.model()
        var calls: [Bool] = []
        first.registerBackwardHook { _, gradientOfInput, gradientOfOutput in
            calls.append(gradientOfInput == nil)
            #expect(gradientOfOutput.shape == [5, 4])
            return nil
        }
        model(Self.x).sum().backward()
        #expect(calls == [true])
    }

    @Test("hooks do not keep a layer alive, and a new layer does not inherit a dead one's hooks")
    func hooksDoNotLeak() {
        weak var released: Linear<Double>?
        var calls = 0
        do {
            var generator = RandomGenerator(seed: 1)
            let layer = Linear<Double>(3, 2, generator: &generator)
            layer.registerForwardHook { _, _, _ in
                calls += 1
                return nil
            }
            _ = layer(Self.x)
            released = layer
        }
        #expect(released == nil)
        for seed in 0..<20 {
            var generator = RandomGenerator(seed: UInt64(seed))
            _ = Linear<Double>(3, 2, generator: &generator)(Self.x)
        }
        #expect(calls == 1)
    }
}
