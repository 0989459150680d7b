import CKernels
import COpenBLAS

/// The CPU backend's kernels for one element type: each ``Backend`` requirement on host
/// pointers, with the C kernels of that type (`Sources/CKernels`, compiled for AVX2+FMA and the
/// baseline) and OpenBLAS. ``CPUBackend`` holds one for `Float` and one for `Double` and picks
/// by the buffers' ``DType``, so everything here is specialised for its type.
///
/// Large kernels are split across ``ComputeThreads``; how a kernel is split depends only on the
/// sizes and the thread count, so results are reproducible for a given thread count.
///
/// `@unchecked Sendable`: an immutable table of C and BLAS functions.
struct CPUKernels<S: TensorScalar>: @unchecked Sendable {
    // The C and BLAS functions of this element type.
    let thinGemm: Products.ThinKernel<S>
    let thinGemmFused: Products.FusedThinKernel<S>
    let blasGemm: Products.BLASKernel<S>
    /// The library's own packed AVX-512 product (`ad_gemm_f32_avx512`) where this CPU runs it and
    /// the type has one (Float); nil sends dense products to ``blasGemm``.
    let packedGemm: Products.PackedKernel<S>?
    let zeroSkipping: ZeroSkipping.Kernels<S>
    let bernoulliLanes: CPULoops.BernoulliKernel<S>
    let maskedScaleLoop: (UnsafeMutablePointer<S>, UnsafePointer<S>, UnsafePointer<UInt8>, Int, S) -> Void
    let adam: CPULoops.AdamKernel<S>
    let sum3D: (UnsafePointer<S>, Int, Int, Int, UnsafeMutablePointer<S>) -> Void
    let sigmoidCrossEntropyLoop: (UnsafePointer<S>, UnsafePointer<S>, Int, UnsafeMutablePointer<S>?) -> Double
    let softmaxCrossEntropyLoop: (UnsafePointer<S>, UnsafePointer<Int>, Int, Int, UnsafeMutablePointer<S>?) -> Double
    /// 2×2 max pooling with stride 2 (`ad_max_pool_2x2_*`): x, planes, h, w, oh, ow, y, index.
    let maxPool2x2:
        (UnsafePointer<S>, Int, Int, Int, Int, Int, UnsafeMutablePointer<S>, UnsafeMutablePointer<Int>) -> Void
    /// A one-input-channel convolution, stride 1, no dilation (`ad_conv_one_channel_*`): x, images,
    /// h, w, weight, bias, cout, kh, kw, padTop, padLeft, oh, ow, y.
    let convolutionOneChannel:
        (
            UnsafePointer<S>, Int, Int, Int, UnsafePointer<S>, UnsafePointer<S>?, Int, Int, Int, Int, Int, Int, Int,
            UnsafeMutablePointer<S>
        ) -> Void
    /// Its weight gradient, added to gw (`ad_conv_one_channel_weight_gradient_*`): x, images, h,
    /// w, gy, cout, kh, kw, padTop, padLeft, oh, ow, gw.
    let convolutionOneChannelWeightGradient:
        (
            UnsafePointer<S>, Int, Int, Int, UnsafePointer<S>, Int, Int, Int, Int, Int, Int, Int,
            UnsafeMutablePointer<S>
        ) -> Void

    @inline(__always) func p(_ b: Buffer) -> UnsafeMutablePointer<S> { b.host(S.self) }
}

extension CPUKernels<Float> {
    static let float = CPUKernels(
        thinGemm: ad_thin_gemm_f32, thinGemmFused: ad_thin_gemm_fused_f32, blasGemm: cblas_sgemm,
        packedGemm: ad_cpu_isa() >= AD_ISA_AVX512 ? ad_gemm_f32_avx512 : nil,
        zeroSkipping: ZeroSkipping.Kernels(
            scan: { ad_nonzero_columns_f32($0, $1, $2, $3, $4.assumingMemoryBound(to: UInt32.self), $5) },
            gather: ad_gather_runs_f32),
        bernoulliLanes: ad_bernoulli_f32, maskedScaleLoop: ad_masked_scale_f32, adam: ad_adam_f32,
        sum3D: ad_sum3d_f32,
        // glibc's vector exp and log (libmvec) eight at a time on AVX2 machines.
        sigmoidCrossEntropyLoop: ad_sigmoid_cross_entropy_f32,
        softmaxCrossEntropyLoop: ad_softmax_cross_entropy_f32, maxPool2x2: ad_max_pool_2x2_f32,
        convolutionOneChannel: ad_conv_one_channel_f32,
        convolutionOneChannelWeightGradient: ad_conv_one_channel_weight_gradient_f32)
}

extension CPUKernels<Double> {
    static let double = CPUKernels(
        thinGemm: ad_thin_gemm_f64, thinGemmFused: ad_thin_gemm_fused_f64, blasGemm: cblas_dgemm, packedGemm: nil,
        zeroSkipping: ZeroSkipping.Kernels(
            scan: { ad_nonzero_columns_f64($0, $1, $2, $3, $4.assumingMemoryBound(to: UInt64.self), $5) },
            gather: ad_gather_runs_f64),
        bernoulliLanes: ad_bernoulli_f64, maskedScaleLoop: ad_masked_scale_f64, adam: ad_adam_f64,
        sum3D: ad_sum3d_f64,
        // Double losses are rare (GradCheck): the Swift loops.
        sigmoidCrossEntropyLoop: { CPULoops.sigmoidCrossEntropy($0, $1, $2, sigmoid: $3) },
        softmaxCrossEntropyLoop: {
            CPULoops.softmaxCrossEntropy($0, labels: $1, rows: $2, classes: $3, probabilities: $4)
        }, maxPool2x2: ad_max_pool_2x2_f64, convolutionOneChannel: ad_conv_one_channel_f64,
        convolutionOneChannelWeightGradient: ad_conv_one_channel_weight_gradient_f64)
}
