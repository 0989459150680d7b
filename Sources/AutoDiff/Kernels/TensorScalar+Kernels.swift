import CKernels

/// Each element type's kernels: the CPU loops of `CPUKernels`, specialised for its precision.
extension Float {
    public static func unary(
        _ op: UnaryKernel<Float>, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        CPUKernels.unary(op, x, y, n)
    }
    public static func binary(
        _ op: BinaryKernel, _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
        _ out: UnsafeMutablePointer<Float>, _ n: Int
    ) { CPUKernels.binary(op, a, sa, b, sb, out, n) }
    public static func binary2D(
        _ op: BinaryKernel, _ a: UnsafePointer<Float>, _ ra: Int, _ ca: Int, _ b: UnsafePointer<Float>, _ rb: Int,
        _ cb: Int, _ out: UnsafeMutablePointer<Float>, _ rows: Int, _ cols: Int
    ) { CPUKernels.binary2D(op, a, ra, ca, b, rb, cb, out, rows, cols) }
    public static func reduce3D(
        _ op: ReductionKernel, _ x: UnsafePointer<Float>, _ outer: Int, _ length: Int, _ inner: Int,
        into acc: UnsafeMutablePointer<Float>
    ) {
        // Sums (bias gradients, the engine's un-broadcasting) run in the vectorised C loop.
        if op == .sum {
            ad_sum3d_f32(x, outer, length, inner, acc)
        } else {
            CPUKernels.reduce3D(op, x, outer, length, inner, into: acc)
        }
    }
    public static func select(
        _ mask: UnsafePointer<Float>, _ sm: Int, _ a: UnsafePointer<Float>, _ sa: Int,
        _ b: UnsafePointer<Float>, _ sb: Int, _ out: UnsafeMutablePointer<Float>, _ n: Int
    ) { CPUKernels.select(mask, sm, a, sa, b, sb, out, n) }
    public static func reduce(
        _ op: ReductionKernel, _ x: UnsafePointer<Float>, _ s: Int, _ n: Int, into acc: UnsafeMutablePointer<Float>
    ) { CPUKernels.reduce(op, x, s, n, into: acc) }
    public static func accumulate(
        _ op: ReductionKernel, _ x: UnsafePointer<Float>, _ s: Int, into acc: UnsafeMutablePointer<Float>, _ n: Int
    ) { CPUKernels.accumulate(op, x, s, into: acc, n) }
    public static func copy(_ x: UnsafePointer<Float>, _ sx: Int, _ y: UnsafeMutablePointer<Float>, _ sy: Int, _ n: Int)
    {
        CPUKernels.copy(x, sx, y, sy, n)
    }
    public static func bernoulli(
        _ y: UnsafeMutablePointer<Float>, _ n: Int, probability: Double, value: Float, generator: inout RandomGenerator
    ) {
        CPUKernels.bernoulli(
            y, times: nil, keep: nil, n, probability: probability, value: value, generator: &generator,
            draw: ad_bernoulli_f32)
    }
    public static func update(
        _ rule: UpdateKernel<Float>, _ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
        _ state: UnsafeBufferPointer<UnsafeMutablePointer<Float>>, _ n: Int
    ) { CPUKernels.update(rule, w, g, state, n, adam: ad_adam_f32) }
    public static func fill(_ y: UnsafeMutablePointer<Float>, _ value: Float, _ n: Int) { CPUKernels.fill(y, value, n) }
    public static func sigmoidCrossEntropy(
        _ z: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int, sigmoid: UnsafeMutablePointer<Float>?
    ) -> Double { ad_sigmoid_cross_entropy_f32(z, y, n, sigmoid) }
    public static func sigmoidCrossEntropyGradient(
        _ sigmoid: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int, scale: Float,
        into out: UnsafeMutablePointer<Float>
    ) { CPUKernels.sigmoidCrossEntropyGradient(sigmoid, y, n, scale: scale, into: out) }
    public static func softmaxCrossEntropy(
        _ z: UnsafePointer<Float>, labels: UnsafePointer<Int>, rows: Int, classes: Int,
        probabilities: UnsafeMutablePointer<Float>?
    ) -> Double { ad_softmax_cross_entropy_f32(z, labels, rows, classes, probabilities) }
    public static func softmaxCrossEntropyGradient(
        _ probabilities: UnsafePointer<Float>, labels: UnsafePointer<Int>, rows: Int, classes: Int, scale: Float,
        into out: UnsafeMutablePointer<Float>
    ) {
        CPUKernels.softmaxCrossEntropyGradient(
            probabilities, labels: labels, rows: rows, classes: classes, scale: scale, into: out)
    }
    public static func dropout(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, keep: UnsafeMutablePointer<UInt8>, _ n: Int,
        probability: Double, scale: Float, generator: inout RandomGenerator
    ) {
        CPUKernels.bernoulli(
            y, times: x, keep: keep, n, probability: probability, value: scale, generator: &generator,
            draw: ad_bernoulli_f32)
    }
    public static func maskedScale(
        _ x: UnsafePointer<Float>, keep: UnsafePointer<UInt8>, scale: Float, _ y: UnsafeMutablePointer<Float>, _ n: Int
    ) { ad_masked_scale_f32(y, x, keep, n, scale) }
}

extension Double {
    public static func unary(
        _ op: UnaryKernel<Double>, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ n: Int
    ) {
        CPUKernels.unary(op, x, y, n)
    }
    public static func binary(
        _ op: BinaryKernel, _ a: UnsafePointer<Double>, _ sa: Int, _ b: UnsafePointer<Double>, _ sb: Int,
        _ out: UnsafeMutablePointer<Double>, _ n: Int
    ) { CPUKernels.binary(op, a, sa, b, sb, out, n) }
    public static func binary2D(
        _ op: BinaryKernel, _ a: UnsafePointer<Double>, _ ra: Int, _ ca: Int, _ b: UnsafePointer<Double>, _ rb: Int,
        _ cb: Int, _ out: UnsafeMutablePointer<Double>, _ rows: Int, _ cols: Int
    ) { CPUKernels.binary2D(op, a, ra, ca, b, rb, cb, out, rows, cols) }
    public static func reduce3D(
        _ op: ReductionKernel, _ x: UnsafePointer<Double>, _ outer: Int, _ length: Int, _ inner: Int,
        into acc: UnsafeMutablePointer<Double>
    ) {
        // Sums (bias gradients, the engine's un-broadcasting) run in the vectorised C loop.
        if op == .sum {
            ad_sum3d_f64(x, outer, length, inner, acc)
        } else {
            CPUKernels.reduce3D(op, x, outer, length, inner, into: acc)
        }
    }
    public static func select(
        _ mask: UnsafePointer<Double>, _ sm: Int, _ a: UnsafePointer<Double>, _ sa: Int,
        _ b: UnsafePointer<Double>, _ sb: Int, _ out: UnsafeMutablePointer<Double>, _ n: Int
    ) { CPUKernels.select(mask, sm, a, sa, b, sb, out, n) }
    public static func reduce(
        _ op: ReductionKernel, _ x: UnsafePointer<Double>, _ s: Int, _ n: Int, into acc: UnsafeMutablePointer<Double>
    ) { CPUKernels.reduce(op, x, s, n, into: acc) }
    public static func accumulate(
        _ op: ReductionKernel, _ x: UnsafePointer<Double>, _ s: Int, into acc: UnsafeMutablePointer<Double>, _ n: Int
    ) { CPUKernels.accumulate(op, x, s, into: acc, n) }
    public static func copy(
        _ x: UnsafePointer<Double>, _ sx: Int, _ y: UnsafeMutablePointer<Double>, _ sy: Int, _ n: Int
    ) {
        CPUKernels.copy(x, sx, y, sy, n)
    }
    public static func bernoulli(
        _ y: UnsafeMutablePointer<Double>, _ n: Int, probability: Double, value: Double,
        generator: inout RandomGenerator
    ) {
        CPUKernels.bernoulli(
            y, times: nil, keep: nil, n, probability: probability, value: value, generator: &generator,
            draw: ad_bernoulli_f64)
    }
    public static func update(
        _ rule: UpdateKernel<Double>, _ w: UnsafeMutablePointer<Double>, _ g: UnsafePointer<Double>,
        _ state: UnsafeBufferPointer<UnsafeMutablePointer<Double>>, _ n: Int
    ) { CPUKernels.update(rule, w, g, state, n, adam: ad_adam_f64) }
    public static func fill(_ y: UnsafeMutablePointer<Double>, _ value: Double, _ n: Int) {
        CPUKernels.fill(y, value, n)
    }
    public static func sigmoidCrossEntropy(
        _ z: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ n: Int, sigmoid: UnsafeMutablePointer<Double>?
    ) -> Double { CPUKernels.sigmoidCrossEntropy(z, y, n, sigmoid: sigmoid) }
    public static func sigmoidCrossEntropyGradient(
        _ sigmoid: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ n: Int, scale: Double,
        into out: UnsafeMutablePointer<Double>
    ) { CPUKernels.sigmoidCrossEntropyGradient(sigmoid, y, n, scale: scale, into: out) }
    public static func softmaxCrossEntropy(
        _ z: UnsafePointer<Double>, labels: UnsafePointer<Int>, rows: Int, classes: Int,
        probabilities: UnsafeMutablePointer<Double>?
    ) -> Double {
        CPUKernels.softmaxCrossEntropy(z, labels: labels, rows: rows, classes: classes, probabilities: probabilities)
    }
    public static func softmaxCrossEntropyGradient(
        _ probabilities: UnsafePointer<Double>, labels: UnsafePointer<Int>, rows: Int, classes: Int, scale: Double,
        into out: UnsafeMutablePointer<Double>
    ) {
        CPUKernels.softmaxCrossEntropyGradient(
            probabilities, labels: labels, rows: rows, classes: classes, scale: scale, into: out)
    }
    public static func dropout(
        _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, keep: UnsafeMutablePointer<UInt8>, _ n: Int,
        probability: Double, scale: Double, generator: inout RandomGenerator
    ) {
        CPUKernels.bernoulli(
            y, times: x, keep: keep, n, probability: probability, value: scale, generator: &generator,
            draw: ad_bernoulli_f64)
    }
    public static func maskedScale(
        _ x: UnsafePointer<Double>, keep: UnsafePointer<UInt8>, scale: Double, _ y: UnsafeMutablePointer<Double>,
        _ n: Int
    ) { ad_masked_scale_f64(y, x, keep, n, scale) }
}
