// The fused classification losses on the CPU: Float through glibc's vector exp and log (C),
// Double through the Swift loops.

extension CPUBackend {
    public func sigmoidCrossEntropy(_ z: Buffer, targets y: Buffer, sigmoid: Buffer?) -> Double {
        captureHostResult("sigmoidCrossEntropy (its total)")
        return switch z.dtype {
        case .float32: f32.sigmoidCrossEntropy(z, y, sigmoid)
        case .float64: f64.sigmoidCrossEntropy(z, y, sigmoid)
        case .uint8: unsupported(z.dtype, "sigmoidCrossEntropy")
        }
    }

    public func sigmoidCrossEntropyGradient(sigmoid: Buffer, targets y: Buffer, scale: Double, into out: Buffer) {
        captureKernel { .sigmoidCrossEntropyGradient(sigmoid: $0.read(sigmoid), targets: $0.read(y), scale: scale, out: $0.write(out)) }
        switch out.dtype {
        case .float32: f32.sigmoidCrossEntropyGradient(sigmoid, y, scale, out)
        case .float64: f64.sigmoidCrossEntropyGradient(sigmoid, y, scale, out)
        case .uint8: unsupported(out.dtype, "sigmoidCrossEntropyGradient")
        }
    }

    public func softmaxCrossEntropy(_ z: Buffer, labels: [Int], rows: Int, classes: Int, probabilities: Buffer?)
        -> Double
    {
        captureHostResult("softmaxCrossEntropy (its total)")
        return switch z.dtype {
        case .float32: f32.softmaxCrossEntropy(z, labels, rows, classes, probabilities)
        case .float64: f64.softmaxCrossEntropy(z, labels, rows, classes, probabilities)
        case .uint8: unsupported(z.dtype, "softmaxCrossEntropy")
        }
    }

    public func softmaxCrossEntropyGradient(
        probabilities: Buffer, labels: [Int], rows: Int, classes: Int, scale: Double, into out: Buffer
    ) {
        captureKernel { .softmaxCrossEntropyGradient(probabilities: $0.read(probabilities), labels: labels, rows: rows, classes: classes, scale: scale, out: $0.write(out)) }
        switch out.dtype {
        case .float32: f32.softmaxCrossEntropyGradient(probabilities, labels, rows, classes, scale, out)
        case .float64: f64.softmaxCrossEntropyGradient(probabilities, labels, rows, classes, scale, out)
        case .uint8: unsupported(out.dtype, "softmaxCrossEntropyGradient")
        }
    }
}

extension CPUKernels {
    func sigmoidCrossEntropy(_ z: Buffer, _ y: Buffer, _ sigmoid: Buffer?) -> Double {
        sigmoidCrossEntropyLoop(p(z), p(y), z.count, sigmoid.map(p))
    }

    func sigmoidCrossEntropyGradient(_ sigmoid: Buffer, _ y: Buffer, _ scale: Double, _ out: Buffer) {
        CPULoops.sigmoidCrossEntropyGradient(p(sigmoid), p(y), out.count, scale: S(scale), into: p(out))
    }

    /// Rows split across cores when there are enough of them (an exponential and a logarithm
    /// per element: weighted as four elements of plain work); the parts' sums are added in part
    /// order.
    func softmaxCrossEntropy(_ z: Buffer, _ labels: [Int], _ rows: Int, _ classes: Int, _ probabilities: Buffer?)
        -> Double
    {
        let parts = ComputeThreads.parts(elements: 4 * rows * classes)
        let (logits, kept) = (p(z), probabilities.map(p))
        return labels.withUnsafeBufferPointer { labels in
            withUnsafeTemporaryAllocation(of: Double.self, capacity: parts) { sums in
                let sums = sums.baseAddress!
                ComputeThreads.forEachPart(parts) { part in
                    let r = ComputeThreads.range(of: part, parts, in: rows, alignment: 1)
                    let offset = r.lowerBound * classes
                    sums[part] = softmaxCrossEntropyLoop(
                        logits + offset, labels.baseAddress! + r.lowerBound, r.count, classes, kept.map { $0 + offset })
                }
                return (0..<parts).reduce(0.0) { $0 + sums[$1] }
            }
        }
    }

    func softmaxCrossEntropyGradient(
        _ probabilities: Buffer, _ labels: [Int], _ rows: Int, _ classes: Int, _ scale: Double, _ out: Buffer
    ) {
        labels.withUnsafeBufferPointer {
            CPULoops.softmaxCrossEntropyGradient(
                p(probabilities), labels: $0.baseAddress!, rows: rows, classes: classes, scale: S(scale), into: p(out))
        }
    }
}
