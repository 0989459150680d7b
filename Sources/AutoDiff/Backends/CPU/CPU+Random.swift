// Bernoulli masks and dropout on the CPU: four xoshiro256** lanes per vector step in C, one
// independently seeded block of 16,384 elements per part.

extension CPUBackend {
    public func bernoulli(_ out: Buffer, probability: Double, value: Double, generator: inout RandomGenerator) {
        captureKernel { r in
            r.generatorForNextKernel("bernoulli").map {
                .bernoulli(out: r.write(out), probability: probability, value: value, $0)
            }
        }
        switch out.dtype {
        case .float32: f32.bernoulli(out, probability, value, &generator)
        case .float64: f64.bernoulli(out, probability, value, &generator)
        case .uint8, .int64: unsupported(out.dtype, "bernoulli")
        }
    }

    public func dropout(
        _ x: Buffer, into out: Buffer, keep: Buffer, probability: Double, scale: Double,
        generator: inout RandomGenerator
    ) {
        captureKernel { r in
            r.generatorForNextKernel("dropout").map {
                .dropout(
                    x: r.read(x), out: r.write(out), keep: r.write(keep), probability: probability, scale: scale, $0)
            }
        }
        switch x.dtype {
        case .float32: f32.dropout(x, out, keep, probability, scale, &generator)
        case .float64: f64.dropout(x, out, keep, probability, scale, &generator)
        case .uint8, .int64: unsupported(x.dtype, "dropout")
        }
    }

    public func maskedScale(_ x: Buffer, keep: Buffer, scale: Double, into out: Buffer) {
        captureKernel { .maskedScale(x: $0.read(x), keep: $0.read(keep), scale: scale, out: $0.write(out)) }
        switch x.dtype {
        case .float32: f32.maskedScale(x, keep, scale, out)
        case .float64: f64.maskedScale(x, keep, scale, out)
        case .uint8, .int64: unsupported(x.dtype, "maskedScale")
        }
    }
}

extension CPUKernels {
    func bernoulli(_ out: Buffer, _ probability: Double, _ value: Double, _ generator: inout RandomGenerator) {
        CPULoops.bernoulli(
            p(out), times: nil, keep: nil, out.count, probability: probability, value: S(value), generator: &generator,
            draw: bernoulliLanes)
    }

    func dropout(
        _ x: Buffer, _ out: Buffer, _ keep: Buffer, _ probability: Double, _ scale: Double,
        _ generator: inout RandomGenerator
    ) {
        CPULoops.bernoulli(
            p(out), times: p(x), keep: keep.host(UInt8.self), x.count, probability: probability, value: S(scale),
            generator: &generator, draw: bernoulliLanes)
    }

    func maskedScale(_ x: Buffer, _ keep: Buffer, _ scale: Double, _ out: Buffer) {
        let (px, py, mask, scale) = (p(x), p(out), keep.host(UInt8.self), S(scale))
        ComputeThreads.forEachRange(of: x.count) { r in
            maskedScaleLoop(py + r.lowerBound, px + r.lowerBound, mask + r.lowerBound, r.count, scale)
        }
    }
}
