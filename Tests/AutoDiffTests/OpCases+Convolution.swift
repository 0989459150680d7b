import AutoDiff
import GradCheck

/// `f(inputs)`'s gradients with respect to every input, recorded (`createGraph`), folded into one
/// scalar, so checking it checks the rules of the backward pass (the convolution's adjoints).
@Sendable func gradientsFolded<S: TensorScalar>(_ f: @escaping @Sendable ([Tensor<S>]) -> Tensor<S>)
    -> @Sendable ([Tensor<S>]) -> Tensor<S>
{
    { xs in
        let tracked = xs.map { $0.requiresGrad ? $0 : $0.requiringGrad() }
        let grads = gradients(of: f(tracked), wrt: tracked, createGraph: true)
        return grads.map { ($0 * $0.tanh()).sum() }.reduce(Tensor<S>(0, on: xs[0].device)) { $0 + $1 }
    }
}

extension OpCases {
    /// Convolutions across stride, padding ("same" and asymmetric), dilation and groups
    /// (depthwise included), with and without bias, 1-D and 2-D; pooling with padding, dilation
    /// and ceil mode; adaptive pooling with uneven windows; constant padding.
    static func convolution<S: TensorScalar>(_: S.Type = S.self) -> [OpCase<S>] {
        [
            OpCase("conv2d bias", [[2, 3, 5, 5], [4, 3, 3, 3], [4]]) {
                Tensor.conv2d($0[0], weight: $0[1], bias: $0[2])
            },
            // One input channel with stride 1: the CPU's direct kernels, with padding cut on
            // one side and wider than the kernel's reach on the other.
            OpCase("conv2d one input channel, asymmetric padding", [[2, 1, 5, 6], [3, 1, 2, 3], [3]]) {
                Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], padding: .explicit(before: [1, 3], after: [2, 0]))
            },
            OpCase("conv2d one input channel, no bias", [[3, 1, 4, 4], [2, 1, 3, 3]]) {
                Tensor.conv2d($0[0], weight: $0[1], padding: 1)
            },
            OpCase("conv2d stride 2 padding 1", [[1, 2, 6, 7], [3, 2, 3, 3]]) {
                Tensor.conv2d($0[0], weight: $0[1], stride: 2, padding: 1)
            },
            OpCase("conv2d stride [2, 1] dilation [2, 1] padding [1, 2]", [[2, 2, 7, 6], [2, 2, 3, 2], [2]]) {
                Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], stride: [2, 1], padding: [1, 2], dilation: [2, 1])
            },
            OpCase("conv2d groups 2", [[2, 4, 5, 5], [6, 2, 3, 3], [6]]) {
                Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], padding: 1, groups: 2)
            },
            OpCase("conv2d depthwise stride 2", [[1, 3, 6, 6], [6, 1, 3, 3]]) {
                Tensor.conv2d($0[0], weight: $0[1], stride: 2, padding: 1, groups: 3)
            },
            OpCase("conv2d same, even kernel, dilation [1, 2]", [[1, 2, 5, 6], [2, 2, 2, 4]]) {
                Tensor.conv2d($0[0], weight: $0[1], padding: .same, dilation: [1, 2])
            },
            OpCase("conv2d asymmetric padding", [[1, 2, 4, 5], [3, 2, 2, 3]]) {
                Tensor.conv2d($0[0], weight: $0[1], padding: .explicit(before: [0, 2], after: [1, 0]))
            },
            OpCase("conv2d 1×1", [[2, 4, 3, 3], [5, 4, 1, 1], [5]]) {
                Tensor.conv2d($0[0], weight: $0[1], bias: $0[2])
            },
            OpCase("conv1d stride 2 padding 1 dilation 2", [[2, 3, 9], [4, 3, 3], [4]]) {
                Tensor.conv1d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1, dilation: 2)
            },
            OpCase("conv1d same groups 3", [[2, 3, 7], [3, 1, 4]]) {
                Tensor.conv1d($0[0], weight: $0[1], padding: .same, groups: 3)
            },
            OpCase(
                "conv2d gradients' derivatives", [[1, 2, 5, 5], [3, 2, 3, 3]],
                gradientsFolded { Tensor.conv2d($0[0], weight: $0[1], stride: 2, padding: 1).squared().sum() }),
            OpCase(
                "conv2d groups gradients' derivatives", [[1, 4, 4, 5], [4, 2, 2, 3], [4]],
                gradientsFolded {
                    Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], padding: .same, dilation: [2, 1], groups: 2)
                        .tanh().sum()
                }),
            OpCase("maxPool2d 2", [[2, 3, 4, 6]]) { $0[0].maxPool2d(kernelSize: 2) },
            OpCase("maxPool2d 3 stride 2 padding 1", [[1, 2, 7, 7]]) {
                $0[0].maxPool2d(kernelSize: 3, stride: 2, padding: 1)
            },
            OpCase("maxPool2d dilation 2 ceil mode", [[1, 2, 8, 7]]) {
                $0[0].maxPool2d(kernelSize: [2, 3], stride: 2, padding: [1, 0], dilation: 2, ceilMode: true)
            },
            OpCase("maxPool1d 3 stride 2 padding 1", [[2, 3, 9]]) {
                $0[0].maxPool1d(kernelSize: 3, stride: 2, padding: 1)
            },
            OpCase("avgPool2d 3 stride 2 padding 1 ceil mode", [[1, 2, 6, 7]]) {
                $0[0].avgPool2d(kernelSize: 3, stride: 2, padding: 1, ceilMode: true)
            },
            OpCase("avgPool2d without padding in the count", [[2, 2, 5, 5]]) {
                $0[0].avgPool2d(kernelSize: [2, 3], stride: [1, 2], padding: 1, countIncludePad: false)
            },
            OpCase("avgPool1d 2", [[2, 3, 8]]) { $0[0].avgPool1d(kernelSize: 2) },
            OpCase("adaptiveAvgPool2d 7×5 → 3×2", [[2, 3, 7, 5]]) { $0[0].adaptiveAvgPool2d(outputSize: [3, 2]) },
            OpCase("adaptiveAvgPool2d global", [[2, 3, 4, 5]]) { $0[0].adaptiveAvgPool2d(outputSize: 1) },
            OpCase("adaptiveAvgPool1d 10 → 4", [[2, 2, 10]]) { $0[0].adaptiveAvgPool1d(outputSize: 4) },
            OpCase("padded value 0.5", [[2, 3, 4]]) { $0[0].padded([(1, 2), (0, 3)], value: 0.5) },
            OpCase("padded with cropping", [[2, 3, 4]]) { $0[0].padded([(-1, 2)]) },
        ]
    }
}
