import Testing

@testable import AutoDiff

/// The CPU's Winograd F(2×2, 3×3) path (forward and input gradient) against the reference
/// backend: the CNN's second convolution, odd sizes (partial tiles), padding 0, 1 and uneven, and
/// channel counts that are not multiples of a vector, and several blocks of images a thread, at 1
/// and 3 threads.
@Suite("Winograd convolutions on the CPU against the reference backend")
struct WinogradTests {
    static let cases: [OpCase<Float>] = [
        OpCase("CNN conv 16 → 32, 14×14, padding 1", [[4, 16, 14, 14], [32, 16, 3, 3], [32]]) {
            Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], padding: 1)
        },
        OpCase("8 → 24, 7×7, padding 1", [[3, 8, 7, 7], [24, 8, 3, 3], [24]]) {
            Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], padding: 1)
        },
        OpCase("24 → 8, 15×9, padding 0", [[3, 24, 15, 9], [8, 24, 3, 3]]) {
            Tensor.conv2d($0[0], weight: $0[1], padding: 0)
        },
        OpCase("8 → 8, 7×7, padding 0", [[3, 8, 7, 7], [8, 8, 3, 3], [8]]) {
            Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], padding: 0)
        },
        // 40 tiles an image: blocks of 25 images, so one thread works through three.
        OpCase("8 → 8, 15×9, padding 1, 60 images", [[60, 8, 15, 9], [8, 8, 3, 3], [8]]) {
            Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], padding: 1)
        },
        // Rows of 19 tiles: three vectors of 8 a row, the last one partial.
        OpCase("8 → 16, 5×37, padding 1", [[2, 8, 5, 37], [16, 8, 3, 3], [16]]) {
            Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], padding: 1)
        },
        OpCase("24 → 24, 15×9, padding 1 before and 0 after", [[3, 24, 15, 9], [24, 24, 3, 3], [24]]) {
            Tensor.conv2d(
                $0[0], weight: $0[1], bias: $0[2],
                padding: .explicit(before: SpatialSizes([1, 0]), after: SpatialSizes([0, 1])))
        },
    ]

    @Test("values and gradients agree within 1e-5 of their magnitude", arguments: cases)
    func agrees(_ op: OpCase<Float>) {
        for threads in [1, 3] {
            ComputeThreads.withCount(threads) {
                BackendCrossCheckTests.crossCheck(op, tolerance: 1e-5, "\(threads) threads")
            }
        }
    }

    @Test("the path is taken for exactly its case")
    func takenForItsCase() {
        func geometry(
            channels: Int = 16, outputChannels: Int = 32, size: Int = 14, kernel: Int = 3, stride: Int = 1,
            padding: Int = 1, groups: Int = 1
        ) -> Convolution2DGeometry {
            let out = (size + 2 * padding - kernel) / stride + 1
            return Convolution2DGeometry(
                batch: 2, inputChannels: channels, outputChannels: outputChannels, groups: groups, inputHeight: size,
                inputWidth: size, outputHeight: out, outputWidth: out, kernelHeight: kernel, kernelWidth: kernel,
                strideHeight: stride, strideWidth: stride, paddingTop: padding, paddingLeft: padding,
                dilationHeight: 1, dilationWidth: 1)
        }
        #expect(CPUKernels<Float>.isWinograd(geometry()))
        #expect(CPUKernels<Float>.isWinograd(geometry(padding: 0)))
        #expect(!CPUKernels<Double>.isWinograd(geometry()))
        #expect(!CPUKernels<Float>.isWinograd(geometry(channels: 1, outputChannels: 16)))
        #expect(!CPUKernels<Float>.isWinograd(geometry(stride: 2)))
        #expect(!CPUKernels<Float>.isWinograd(geometry(padding: 2)))
        #expect(!CPUKernels<Float>.isWinograd(geometry(kernel: 5)))
        #expect(!CPUKernels<Float>.isWinograd(geometry(groups: 2)))
    }
}
