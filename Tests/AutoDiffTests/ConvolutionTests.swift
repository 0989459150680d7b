import AutoDiff
import GradCheck
import Testing

/// Convolution and pooling against values PyTorch computed (`scripts/fixtures/convolution_values.py`
/// prints them), on both devices.
@Suite("Convolution and pooling against PyTorch's values")
struct ConvolutionValueTests {
    static let devices: [Device] = [.cpu, .reference]

    func expectClose(_ a: [Double], _ b: [Double], _ what: String, tolerance: Double = 1e-12) {
        #expect(a.count == b.count, "\(what): \(a.count) values, expected \(b.count)")
        for (i, (x, y)) in zip(a, b).enumerated() where Swift.abs(x - y) > tolerance * Swift.max(1, Swift.abs(y)) {
            Issue.record("\(what) element \(i): \(x), PyTorch \(y)")
            return
        }
    }

    @Test("conv2d with stride 2, padding 1 and 2 groups, and its gradients", arguments: devices)
    func groupedConvolution(device: Device) {
        let x = Tensor<Double>(shape: [1, 2, 4, 4], scalars: (0..<32).map { Double($0) / 4 - 3 }, on: device)
            .requiringGrad()
        let w = Tensor<Double>(shape: [2, 1, 3, 3], scalars: (0..<18).map { Double($0) / 8 - 1 }, on: device)
            .requiringGrad()
        let b = Tensor<Double>([0.5, -0.25], on: device).requiringGrad()
        let y = Tensor.conv2d(x, weight: w, bias: b, stride: 2, padding: 1, groups: 2)
        #expect(y.shape == [1, 2, 2, 2])
        expectClose(y.scalars, [3.28125, 4.9375, 4.34375, 5.1875, 5.84375, 10.1875, 14.1875, 21.875], "y")
        let upstream = Tensor<Double>(shape: [1, 2, 2, 2], scalars: (0..<8).map { Double($0) - 3 }, on: device)
        (y * upstream).sum().backward()
        expectClose(
            x.grad!.scalars,
            [
                1.5, 2.375, 1.0, 0.75, 1.25, 1.25, 0.25, 0.0, 0.5, 0.375, 0.0, 0.0, 0.125, 0.0, 0.0, 0.0, 0.625, 1.75,
                1.25, 1.5, 1.75, 4.5, 3.0, 3.75, 1.875, 4.25, 2.5, 3.0, 3.0, 6.875, 4.0, 4.5,
            ], "∂x")
        expectClose(
            w.grad!.scalars,
            [0.0, 2.0, 1.75, 5.5, 15.0, 13.5, 3.5, 9.0, 7.5, 9.0, 16.0, 17.75, 15.5, 27.0, 29.5, 21.5, 37.0, 39.5], "∂w"
        )
        expectClose(b.grad!.scalars, [-6, 10], "∂b")
    }

    @Test("\"same\" padding with an even kernel puts the extra zero after", arguments: devices)
    func samePadding(device: Device) {
        let x = Tensor<Double>(shape: [1, 1, 3, 4], scalars: (0..<12).map(Double.init), on: device)
        let w = Tensor<Double>(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4], on: device)
        let y = Tensor.conv2d(x, weight: w, padding: .same)
        #expect(y.shape == [1, 1, 3, 4])
        expectClose(y.scalars, [34, 44, 54, 24, 74, 84, 94, 40, 26, 29, 32, 11], "y")
    }

    static let ties: [Double] = [1, 3, 3, 0, 3, 2, 1, 1, 0, 0, 5, 5, 0, 0, 5, 5]

    @Test("max pooling sends the gradient to the first of equal maxima", arguments: devices)
    func maxPoolTies(device: Device) {
        let x = Tensor<Double>(shape: [1, 1, 4, 4], scalars: Self.ties, on: device).requiringGrad()
        let y = x.maxPool2d(kernelSize: 2)
        expectClose(y.scalars, [3, 3, 0, 5], "y")
        y.backward(seed: Tensor<Double>(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4], on: device))
        expectClose(x.grad!.scalars, [0, 1, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0], "∂x")
    }

    @Test("max pooling's vector path keeps the first maximum and propagates NaN as the reference does")
    func maxPoolTiesAndNaNOnBothDevices() {
        // Small integers make ties common; every 37th element is NaN.
        let count = 2 * 3 * 6 * 40
        let scalars: [Float] = (0..<count).map { (e: Int) -> Float in
            e % 37 == 5 ? Float.nan : Float((e * 7919) % 5)
        }
        func run(_ device: Device) -> [[Double]] {
            let floats = Tensor<Float>(shape: [2, 3, 6, 40], scalars: scalars, on: device).requiringGrad()
            let y = floats.maxPool2d(kernelSize: 2)
            y.backward(seed: Tensor<Float>(shape: y.shape, scalars: (0..<y.count).map { Float($0) }, on: device))
            return [y.scalars.map(Double.init), floats.grad!.scalars.map(Double.init)]
        }
        let (cpu, reference) = (run(.cpu), run(.reference))
        for (a, b) in zip(cpu, reference) {
            #expect(zip(a, b).allSatisfy { $0.isNaN ? $1.isNaN : $0 == $1 })
        }
        #expect(cpu[0].contains { $0.isNaN })
    }

    @Test("max pooling with padding and ceil mode", arguments: devices)
    func maxPoolCeilMode(device: Device) {
        let x = Tensor<Double>(shape: [1, 1, 4, 4], scalars: Self.ties, on: device).requiringGrad()
        let y = x.maxPool2d(kernelSize: 3, stride: 2, padding: 1, ceilMode: true)
        #expect(y.shape == [1, 1, 3, 3])
        expectClose(y.scalars, [3, 3, 1, 3, 5, 5, 0, 5, 5], "y")
        y.sum().backward()
        expectClose(x.grad!.scalars, [0, 2, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1], "∂x")
    }

    @Test("average pooling in ceil mode, with and without the padding counted", arguments: devices)
    func avgPool(device: Device) {
        let x = Tensor<Double>(shape: [1, 1, 5, 6], scalars: (0..<30).map(Double.init), on: device)
        let included = x.avgPool2d(kernelSize: 3, stride: 2, padding: 1, ceilMode: true)
        #expect(included.shape == [1, 1, 3, 4])
        expectClose(
            included.scalars,
            [
                1.5555555555555556, 3.3333333333333335, 4.666666666666667, 2.6666666666666665, 8.333333333333334, 14,
                16, 8.5, 9.555555555555555, 15.333333333333334, 16.666666666666668, 8.666666666666666,
            ], "count_include_pad")
        let excluded = x.avgPool2d(kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false)
        expectClose(excluded.scalars, [3.5, 5, 7, 8, 12.5, 14, 16, 17, 21.5, 23, 25, 26], "not counted")
    }

    @Test("adaptive average pooling with uneven windows", arguments: devices)
    func adaptive(device: Device) {
        let x = Tensor<Double>(shape: [1, 1, 5, 6], scalars: (0..<30).map(Double.init), on: device)
        expectClose(
            x.adaptiveAvgPool2d(outputSize: [3, 4]).scalars,
            [3.5, 4.5, 6.5, 7.5, 12.5, 13.5, 15.5, 16.5, 21.5, 22.5, 24.5, 25.5], "2-D")
        let line = Tensor<Double>(shape: [1, 1, 10], scalars: (0..<10).map(Double.init), on: device)
        expectClose(line.adaptiveAvgPool1d(outputSize: 4).scalars, [1, 3, 6, 8], "1-D")
    }

    @Test("constant padding with a crop, as F.pad", arguments: devices)
    func constantPadding(device: Device) {
        let x = Tensor<Double>(shape: [2, 3], scalars: (0..<6).map(Double.init), on: device)
        // F.pad(x, (1, -1, 1, 0), value=9): last axis first there, axis order here.
        let y = x.padded([(1, 0), (1, -1)], value: 9)
        #expect(y.shape == [3, 3])
        expectClose(y.scalars, [9, 9, 9, 9, 0, 1, 9, 3, 4], "y")
        let framed = x.padded([(0, 1)], value: -.infinity)
        #expect(framed.scalars == [0, 1, 2, -.infinity, 3, 4, 5, -.infinity])
    }

    @Test("a 1×1 convolution is a product over channels")
    func pointwise() {
        let x = Tensor<Double>(converting: GradCheck.input([2, 3, 4, 5], seed: 3))
        let w = Tensor<Double>(converting: GradCheck.input([6, 3, 1, 1], seed: 4))
        let y = Tensor.conv2d(x, weight: w)
        let expected = w.reshaped([6, 3]).matmul(x.permuted([1, 0, 2, 3]).reshaped([3, 40])).reshaped([6, 2, 4, 5])
            .permuted([1, 0, 2, 3])
        expectClose(y.scalars, expected.scalars, "y", tolerance: 1e-14)
    }
}

/// The CPU's split across images (and its summed weight-gradient blocks) against the reference,
/// at 1 to 4 threads, with the benchmark model's shapes at a smaller batch.
@Suite("Large convolutions on the CPU against the reference backend")
struct LargeConvolutionTests {
    static func cases<S: TensorScalar>(_: S.Type) -> [OpCase<S>] {
        [
            OpCase("conv 16 → 32, 3×3, padding 1", [[8, 16, 14, 14], [32, 16, 3, 3], [32]]) {
                Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], padding: 1)
            },
            OpCase("conv 1 → 16, 3×3, padding 1", [[16, 1, 28, 28], [16, 1, 3, 3], [16]]) {
                Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], padding: 1)
            },
            OpCase("depthwise stride 2", [[8, 24, 16, 16], [48, 1, 3, 3]]) {
                Tensor.conv2d($0[0], weight: $0[1], stride: 2, padding: 1, groups: 24)
            },
            OpCase("max pool 2", [[16, 16, 28, 28]]) { $0[0].maxPool2d(kernelSize: 2) },
            // Rows of 7 windows (the model's second pool: the vector tail reading the next row,
            // copies for the last row pair) and of 9 from odd sizes (the overlapping last step).
            OpCase("max pool 2 of 14 × 14", [[8, 32, 14, 14]]) { $0[0].maxPool2d(kernelSize: 2) },
            OpCase("max pool 2 of 15 × 19", [[3, 5, 15, 19]]) { $0[0].maxPool2d(kernelSize: 2) },
        ]
    }

    @Test("Float, 1 to 4 threads", arguments: cases(Float.self))
    func float(_ op: OpCase<Float>) {
        for threads in 1...4 {
            ComputeThreads.withCount(threads) {
                BackendCrossCheckTests.crossCheck(op, tolerance: 2e-4, "\(threads) threads")
            }
        }
    }

    @Test("Double, 1 and 3 threads", arguments: cases(Double.self))
    func double(_ op: OpCase<Double>) {
        for threads in [1, 3] {
            ComputeThreads.withCount(threads) {
                BackendCrossCheckTests.crossCheck(op, tolerance: 1e-11, "\(threads) threads")
            }
        }
    }
}

/// Misuse of the convolution and pooling ops: one line naming the op and what is wrong.
enum ConvolutionMisuse: String, Codable, Sendable, CaseIterable {
    case inputRank, channels, groups, bias, sameWithStride, tooSmall, poolPadding, strideZero, padCrop

    var expectedLine: String {
        switch self {
        case .inputRank: "conv2d: input [3, 8, 8] must be [N, C, H, W]"
        case .channels: "conv2d: weight [4, 2, 3, 3] needs 3 input channels per group (input [1, 3, 8, 8], groups 1)"
        case .groups: "conv2d: 4 input and 6 output channels are not both divisible by groups 4"
        case .bias: "conv1d: bias [3] must be [4] (one per output channel)"
        case .sameWithStride: "conv2d: padding \"same\" needs stride 1, got stride 2 (as PyTorch)"
        case .tooSmall:
            "conv2d: kernel [5, 5] with dilation 1 spans more than the padded input [3, 3] (padding [0, 0] before, [0, 0] after)"
        case .poolPadding: "maxPool2d: padding 2 is more than half the kernel 3 (dilation 1)"
        case .strideZero: "avgPool2d: stride [1, 0] has 0; every value must be at least 1"
        case .padCrop: "pad: padding [(-2, -2)] crops axis 1 of shape [2, 3] below zero"
        }
    }

    func trigger() {
        let image = Tensor<Float>.ones([1, 3, 8, 8])
        switch self {
        case .inputRank: _ = Tensor.conv2d(Tensor<Float>.ones([3, 8, 8]), weight: .ones([4, 3, 3, 3]))
        case .channels: _ = Tensor.conv2d(image, weight: .ones([4, 2, 3, 3]))
        case .groups: _ = Tensor.conv2d(Tensor<Float>.ones([1, 4, 8, 8]), weight: .ones([6, 1, 3, 3]), groups: 4)
        case .bias: _ = Tensor.conv1d(Tensor<Float>.ones([2, 3, 9]), weight: .ones([4, 3, 3]), bias: .ones([3]))
        case .sameWithStride: _ = Tensor.conv2d(image, weight: .ones([4, 3, 3, 3]), stride: 2, padding: .same)
        case .tooSmall: _ = Tensor.conv2d(Tensor<Float>.ones([1, 3, 3, 3]), weight: .ones([4, 3, 5, 5]))
        case .poolPadding: _ = image.maxPool2d(kernelSize: 3, padding: 2)
        case .strideZero: _ = image.avgPool2d(kernelSize: 2, stride: [1, 0])
        case .padCrop: _ = Tensor<Float>.ones([2, 3]).padded([(-2, -2)])
        }
    }
}

@Suite("Convolution error messages")
struct ConvolutionErrorTests {
    @Test("misuse stops with one line naming the op and the problem", arguments: ConvolutionMisuse.allCases)
    func message(_ misuse: ConvolutionMisuse) async throws {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [misuse] in
            misuse.trigger()
        }
        let stderr = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        #expect(stderr.contains(misuse.expectedLine), "stderr was: \(stderr.prefix(600))")
    }
}
