// The fused classification losses on the CPU: Float through glibc's vector exp and log (C),
// Double through the Swift loops.

extension CPUBackend {
    public func sigmoidCrossEntropy(_ z: Buffer, targets y: Buffer, sigmoid: Buffer?, into loss: Buffer) {
        captureKernel {
            .sigmoidCrossEntropy(
                z: $0.read(z), targets: $0.read(y), sigmoid: sigmoid.map($0.write), loss: $0.write(loss))
        }
        switch z.dtype {
        case .float32: f32.sigmoidCrossEntropy(z, y, sigmoid, loss)
        case .float64: f64.sigmoidCrossEntropy(z, y, sigmoid, loss)
        case .uint8, .int64: unsupported(z.dtype, "sigmoidCrossEntropy")
        }
    }

    public func sigmoidCrossEntropyGradient(sigmoid: Buffer, targets y: Buffer, scale: Buffer, into out: Buffer) {
        captureKernel {
            .sigmoidCrossEntropyGradient(
                sigmoid: $0.read(sigmoid), targets: $0.read(y), scale: $0.read(scale), out: $0.write(out))
        }
        switch out.dtype {
        case .float32: f32.sigmoidCrossEntropyGradient(sigmoid, y, scale, out)
        case .float64: f64.sigmoidCrossEntropyGradient(sigmoid, y, scale, out)
        case .uint8, .int64: unsupported(out.dtype, "sigmoidCrossEntropyGradient")
        }
    }

    public func softmaxCrossEntropy(
        _ z: Buffer, labels: Buffer, rows: Int, classes: Int, probabilities: Buffer?, into loss: Buffer
    ) -> Int? {
        captureKernel {
            .softmaxCrossEntropy(
                z: $0.read(z), labels: $0.read(labels), rows: rows, classes: classes,
                probabilities: probabilities.map($0.write), loss: $0.write(loss))
        }
        if let bad = CPULoops.firstOutOfRange(labels, classes) { return bad }
        let labels = labels.host(Int.self)
        switch z.dtype {
        case .float32: f32.softmaxCrossEntropy(z, labels, rows, classes, probabilities, loss)
        case .float64: f64.softmaxCrossEntropy(z, labels, rows, classes, probabilities, loss)
        case .uint8, .int64: unsupported(z.dtype, "softmaxCrossEntropy")
        }
        return nil
    }

    public func softmaxCrossEntropyGradient(
        probabilities: Buffer, labels: Buffer, rows: Int, classes: Int, scale: Buffer, into out: Buffer
    ) -> Int? {
        captureKernel {
            .softmaxCrossEntropyGradient(
                probabilities: $0.read(probabilities), labels: $0.read(labels), rows: rows, classes: classes,
                scale: $0.read(scale), out: $0.write(out))
        }
        if let bad = CPULoops.firstOutOfRange(labels, classes) { return bad }
        let labels = labels.host(Int.self)
        switch out.dtype {
        case .float32: f32.softmaxCrossEntropyGradient(probabilities, labels, rows, classes, scale, out)
        case .float64: f64.softmaxCrossEntropyGradient(probabilities, labels, rows, classes, scale, out)
        case .uint8, .int64: unsupported(out.dtype, "softmaxCrossEntropyGradient")
        }
        return nil
    }
}

extension CPUKernels {
    func sigmoidCrossEntropy(_ z: Buffer, _ y: Buffer, _ sigmoid: Buffer?, _ loss: Buffer) {
        p(loss)[0] = S(sigmoidCrossEntropyLoop(p(z), p(y), z.count, sigmoid.map(p)) / Double(z.count))
    }

    func sigmoidCrossEntropyGradient(_ sigmoid: Buffer, _ y: Buffer, _ scale: Buffer, _ out: Buffer) {
        CPULoops.sigmoidCrossEntropyGradient(p(sigmoid), p(y), out.count, scale: p(scale)[0], into: p(out))
    }

    /// Rows split across cores when there are enough of them (an exponential and a logarithm
    /// per element: weighted as four elements of plain work); the parts' sums are added in part
    /// order.
    func softmaxCrossEntropy(
        _ z: Buffer, _ labels: UnsafePointer<Int>, _ rows: Int, _ classes: Int, _ probabilities: Buffer?,
        _ loss: Buffer
    ) {
        let parts = ComputeThreads.parts(elements: 4 * rows * classes)
        let (logits, kept) = (p(z), probabilities.map(p))
        let total = withUnsafeTemporaryAllocation(of: Double.self, capacity: parts) { sums in
            let sums = sums.baseAddress!
            ComputeThreads.forEachPart(parts) { part in
                let r = ComputeThreads.range(of: part, parts, in: rows, alignment: 1)
                let offset = r.lowerBound * classes
                sums[part] = softmaxCrossEntropyLoop(
                    logits + offset, labels + r.lowerBound, r.count, classes, kept.map { $0 + offset })
            }
            return (0..<parts).reduce(0.0) { $0 + sums[$1] }
        }
        p(loss)[0] = S(total / Double(rows))
    }

    func softmaxCrossEntropyGradient(
        _ probabilities: Buffer, _ labels: UnsafePointer<Int>, _ rows: Int, _ classes: Int, _ scale: Buffer,
        _ out: Buffer
    ) {
        CPULoops.softmaxCrossEntropyGradient(
            p(probabilities), labels: labels, rows: rows, classes: classes, scale: p(scale)[0], into: p(out))
    }
}
