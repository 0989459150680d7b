import AutoDiff
import Testing

@testable import NN

@Suite("Convolution and pooling layers")
struct ConvolutionLayerTests {
    @Test("Conv2d has PyTorch's parameter names, shapes and initialization bounds")
    func conv2dParameters() {
        var g = RandomGenerator(seed: 1)
        let conv = Conv2d<Float>(6, 8, kernelSize: [3, 2], groups: 2, generator: &g)
        #expect(conv.namedParameters.map(\.name) == ["weight", "bias"])
        #expect(conv.weight.shape == [8, 3, 3, 2])
        #expect(conv.bias?.shape == [8])
        // fan_in = 6/2 · 3 · 2 = 18: both tensors uniform in ±1/√18, and spread over that range.
        let bound = Float(1 / 18.0.squareRoot())
        for values in [conv.weight.value.scalars, conv.bias!.value.scalars] {
            #expect(values.allSatisfy { abs($0) <= bound })
        }
        let weights = conv.weight.value.scalars
        #expect(weights.max()! > bound * 0.8 && weights.min()! < -bound * 0.8)
        #expect(
            Conv2d<Float>(1, 4, kernelSize: 3, bias: false, generator: &g).namedParameters.map(\.name) == ["weight"])
    }

    @Test("Conv1d and Conv2d give PyTorch's output sizes, and gradients reach their parameters")
    func convolutionForward() {
        var g = RandomGenerator(seed: 2)
        let conv2 = Conv2d<Float>(3, 5, kernelSize: 3, stride: 2, padding: 1, generator: &g)
        let x = Tensor<Float>.randomNormal([2, 3, 9, 8], generator: &g)
        let y = conv2(x)
        #expect(y.shape == [2, 5, 5, 4])
        y.squared().sum().backward()
        #expect(conv2.weight.grad?.shape == [5, 3, 3, 3])
        #expect(conv2.bias?.grad?.shape == [5])
        let conv1 = Conv1d<Float>(4, 6, kernelSize: 4, padding: .same, dilation: 2, generator: &g)
        #expect(conv1.weight.shape == [6, 4, 4])
        #expect(conv1(Tensor<Float>.ones([3, 4, 11])).shape == [3, 6, 11])
    }

    @Test("A layer built from given tensors computes Tensor.conv2d with its options")
    func givenWeights() {
        var g = RandomGenerator(seed: 3)
        let w = Tensor<Double>.randomNormal([4, 1, 3, 3], generator: &g)
        let b = Tensor<Double>([1, 2, 3, 4])
        let x = Tensor<Double>.randomNormal([2, 2, 6, 6], generator: &g)
        let layer = Conv2d(weight: w, bias: b, stride: 2, padding: 1, groups: 2)
        #expect(layer.inChannels == 2 && layer.outChannels == 4)
        #expect(layer(x).scalars == Tensor.conv2d(x, weight: w, bias: b, stride: 2, padding: 1, groups: 2).scalars)
        let w1 = Tensor<Double>.randomNormal([3, 2, 3], generator: &g)
        let line = Tensor<Double>.randomNormal([2, 2, 7], generator: &g)
        let layer1 = Conv1d(weight: w1, bias: nil, stride: 2, padding: 1)
        #expect(layer1.namedParameters.map(\.name) == ["weight"])
        #expect(layer1(line).scalars == Tensor.conv1d(line, weight: w1, stride: 2, padding: 1).scalars)
    }

    @Test("Pooling layers give PyTorch's output sizes")
    func pooling() {
        let x = Tensor<Float>.ones([2, 3, 7, 9])
        #expect(MaxPool2d<Float>(kernelSize: 2)(x).shape == [2, 3, 3, 4])
        #expect(MaxPool2d<Float>(kernelSize: 2, ceilMode: true)(x).shape == [2, 3, 4, 5])
        #expect(MaxPool2d<Float>(kernelSize: 3, stride: 2, padding: 1)(x).shape == [2, 3, 4, 5])
        #expect(AvgPool2d<Float>(kernelSize: [3, 2], stride: 1)(x).shape == [2, 3, 5, 8])
        #expect(AdaptiveAvgPool2d<Float>(outputSize: 1)(x).shape == [2, 3, 1, 1])
        #expect(AdaptiveAvgPool2d<Float>(outputSize: [2, 4])(x).shape == [2, 3, 2, 4])
        let line = Tensor<Float>.ones([2, 3, 10])
        #expect(MaxPool1d<Float>(kernelSize: 3)(line).shape == [2, 3, 3])
        #expect(AvgPool1d<Float>(kernelSize: 4, stride: 2, padding: 2)(line).shape == [2, 3, 6])
        #expect(AdaptiveAvgPool1d<Float>(outputSize: 4)(line).shape == [2, 3, 4])
        // Averages of ones are ones, counted with padding only inside the padded window.
        #expect(AvgPool2d<Float>(kernelSize: 3, padding: 1, countIncludePad: false)(x).scalars.allSatisfy { $0 == 1 })
    }

    @Test("A small CNN trains: its loss falls on a fixed batch")
    func smallNetworkLearns() {
        var g = RandomGenerator(seed: 4)
        let conv1 = Conv2d<Float>(1, 4, kernelSize: 3, padding: 1, generator: &g)
        let conv2 = Conv2d<Float>(4, 8, kernelSize: 3, padding: 1, generator: &g)
        let head = Linear<Float>(8, 2, generator: &g)
        let model = Sequential<Float> {
            conv1
            ReLU()
            MaxPool2d(kernelSize: 2)
            conv2
            ReLU()
            AdaptiveAvgPool2d(outputSize: 1)
        }
        let x = Tensor<Float>.randomNormal([8, 1, 8, 8], generator: &g)
        let labels = (0..<8).map { $0 % 2 }
        let parameters = model.parameters + head.parameters
        let optimizer = Adam(parameters: parameters, learningRate: 0.02)
        func loss() -> Tensor<Float> {
            softmaxCrossEntropy(logits: head(model(x).reshaped([8, 8])), labels: labels)
        }
        let first = loss().item
        for _ in 0..<60 {
            optimizer.zeroGrad()
            loss().backward()
            optimizer.step()
        }
        #expect(
            model.namedParameters.map(\.name) == [
                "layers.0.weight", "layers.0.bias", "layers.3.weight", "layers.3.bias",
            ])
        #expect(loss().item < first * 0.5)
    }
}

/// Layer options that cannot work stop with one line naming the layer and the option.
enum ConvolutionLayerMisuse: String, Codable, Sendable, CaseIterable {
    case groups, sameStride, kernel, poolStride, adaptiveSize

    var expectedLine: String {
        switch self {
        case .groups: "Conv2d: groups 4 must divide both 6 input and 8 output channels"
        case .sameStride: "Conv1d: padding \"same\" needs stride 1, got stride 2 (as PyTorch)"
        case .kernel: "Conv2d: kernelSize [3, 0] has 0; every value must be at least 1"
        case .poolStride: "MaxPool2d: stride [2, 2, 2] needs 1 or 2 values"
        case .adaptiveSize: "AdaptiveAvgPool2d: outputSize 0 has 0; every value must be at least 1"
        }
    }

    func trigger() {
        var g = RandomGenerator(seed: 0)
        switch self {
        case .groups: _ = Conv2d<Float>(6, 8, kernelSize: 3, groups: 4, generator: &g)
        case .sameStride: _ = Conv1d<Float>(2, 2, kernelSize: 3, stride: 2, padding: .same, generator: &g)
        case .kernel: _ = Conv2d<Float>(1, 2, kernelSize: [3, 0], generator: &g)
        case .poolStride: _ = MaxPool2d<Float>(kernelSize: 2, stride: [2, 2, 2])
        case .adaptiveSize: _ = AdaptiveAvgPool2d<Float>(outputSize: 0)
        }
    }
}

@Suite("Convolution layer error messages")
struct ConvolutionLayerErrorTests {
    @Test("bad options stop with one line naming the layer", arguments: ConvolutionLayerMisuse.allCases)
    func message(_ misuse: ConvolutionLayerMisuse) async throws {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [misuse] in
            misuse.trigger()
        }
        let stderr = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        #expect(stderr.contains(misuse.expectedLine), "stderr was: \(stderr.prefix(600))")
    }
}
