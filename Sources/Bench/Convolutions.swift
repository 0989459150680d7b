import AutoDiff
import Foundation

/// One convolution layer's kernels timed at a batch (the `conv` workload).
struct ConvolutionTiming: Encodable {
    var name: String
    var input: [Int], weight: [Int]
    /// Milliseconds per call: the forward convolution (with bias), the weight and bias gradient,
    /// the input gradient (0 when the layer's input needs none), and a 2×2 max pool of the output.
    var forwardMs: Double
    var weightGradientMs: Double
    var inputGradientMs: Double
    var maxPoolMs: Double
    /// Its backward pass (the gradient scattered to each window's maximum).
    var maxPoolBackwardMs: Double
}

extension Workload {
    /// The two convolutions of the CNN (conv 1→16 3×3 pad 1 on 28×28, conv 16→32 3×3
    /// pad 1 on 14×14) at batch 128: forward, weight gradient and input gradient (only the second
    /// layer's input needs one), each the best of five rounds; `seconds` is their sum per training
    /// step times the 469 steps of an MNIST epoch, the convolutions' share of `bench cnn-mnist`.
    func convolutions() -> Report {
        let batch = 128
        let layers: [(String, [Int], [Int], Bool)] = [
            ("conv1 1→16 3×3 pad 1, 28×28", [batch, 1, 28, 28], [16, 1, 3, 3], false),
            ("conv2 16→32 3×3 pad 1, 14×14", [batch, 16, 14, 14], [32, 16, 3, 3], true),
        ]
        var generator = RandomGenerator(seed: 0)
        var timings: [ConvolutionTiming] = []
        for (name, inputShape, weightShape, needsInputGradient) in layers {
            let x = Tensor<Float>.randomNormal(inputShape, generator: &generator)
            let w = Tensor<Float>.randomNormal(weightShape, generator: &generator) * 0.1
            let b = Tensor<Float>.zeros([weightShape[0]])
            // One graph per gradient, so each backward pass runs only the kernel being timed.
            let (trackedWeight, trackedBias) = (w.requiringGrad(), b.requiringGrad())
            let forWeight = Tensor.conv2d(x, weight: trackedWeight, bias: trackedBias, padding: 1)
            let trackedInput = x.requiringGrad()
            let forInput = Tensor.conv2d(trackedInput, weight: w, bias: b, padding: 1)
            let upstream = Tensor<Float>.randomNormal(forWeight.shape, generator: &generator)
            func best(_ body: () -> Void) -> Double {
                body()
                let repeats = 10
                var fastest = Double.infinity
                for _ in 0..<5 { fastest = min(fastest, timed { for _ in 0..<repeats { body() } } / Double(repeats)) }
                return fastest * 1e3
            }
            let forward = best { _ = withoutGrad { Tensor.conv2d(x, weight: w, bias: b, padding: 1) } }
            let weightGradient = best {
                _ = gradients(of: forWeight, wrt: [trackedWeight, trackedBias], seed: upstream, retainGraph: true)
            }
            let inputGradient =
                needsInputGradient
                ? best { _ = gradients(of: forInput, wrt: [trackedInput], seed: upstream, retainGraph: true) } : 0
            let pooled = forWeight.detached()
            let maxPool = best { _ = withoutGrad { pooled.maxPool2d(kernelSize: 2) } }
            let trackedPooled = pooled.requiringGrad()
            let maxima = trackedPooled.maxPool2d(kernelSize: 2)
            let poolUpstream = Tensor<Float>.randomNormal(maxima.shape, generator: &generator)
            let maxPoolBackward = best {
                _ = gradients(of: maxima, wrt: [trackedPooled], seed: poolUpstream, retainGraph: true)
            }
            timings.append(
                ConvolutionTiming(
                    name: name, input: inputShape, weight: weightShape, forwardMs: forward,
                    weightGradientMs: weightGradient, inputGradientMs: inputGradient, maxPoolMs: maxPool,
                    maxPoolBackwardMs: maxPoolBackward))
        }
        let perStep = timings.map { $0.forwardMs + $0.weightGradientMs + $0.inputGradientMs }.reduce(0, +) / 1e3
        var report = Report(
            workload: rawValue, seconds: perStep * 469, stepsPerSecond: 1 / perStep,
            metricName: "convolution_seconds_per_epoch", metric: perStep * 469)
        report.convolutions = timings
        return report
    }
}
