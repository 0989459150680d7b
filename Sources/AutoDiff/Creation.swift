// Factory functions. Each creates its tensor on `device` (the CPU unless given). Random tensors
// draw from an explicit ``RandomGenerator``, so a seed fixes them on every run, machine and
// device.

extension Tensor {
    /// A tensor of the given shape with every element `value`.
    public static func full(_ shape: [Int], _ value: Scalar, on device: Device = .cpu) -> Tensor {
        guard shape.allSatisfy({ $0 >= 0 }) else { tensorFailure("full: shape \(shape) has a negative dimension") }
        return Tensor(shape: shape, storage: filled(ShapeMath.count(shape), with: value, on: device))
    }

    /// A tensor of `shape` filled with 0 on `device`: `full(shape, 0, on: device)`.
    public static func zeros(_ shape: [Int], on device: Device = .cpu) -> Tensor { full(shape, 0, on: device) }
    /// A tensor of `shape` filled with 1 on `device`: `full(shape, 1, on: device)`.
    public static func ones(_ shape: [Int], on device: Device = .cpu) -> Tensor { full(shape, 1, on: device) }
    /// Zeros of `t`'s shape, on `t`'s device (not recording, whatever `t` records).
    public static func zeros(like t: Tensor) -> Tensor { full(t.shape, 0, on: t.device) }
    /// Ones of `t`'s shape, on `t`'s device (not recording, whatever `t` records).
    public static func ones(like t: Tensor) -> Tensor { full(t.shape, 1, on: t.device) }

    /// `start, start + step, …` up to but excluding `end`.
    public static func arange(_ start: Scalar, _ end: Scalar, step: Scalar = 1, on device: Device = .cpu) -> Tensor {
        guard step != 0 else { tensorFailure("arange: step is 0") }
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor(shape: [n], scalars: (0..<n).map { start + Scalar($0) * step }, on: device)
    }

    /// `count` evenly spaced values from `start` to `end`, both included.
    public static func linspace(_ start: Scalar, _ end: Scalar, count: Int, on device: Device = .cpu) -> Tensor {
        guard count >= 0 else { tensorFailure("linspace: count \(count) is negative") }
        if count == 1 { return Tensor([start], on: device) }
        let step = (end - start) / Scalar(count - 1)
        return Tensor(
            shape: [count], scalars: (0..<count).map { $0 == count - 1 ? end : start + Scalar($0) * step }, on: device)
    }

    /// The `n × n` identity matrix.
    public static func eye(_ n: Int, on device: Device = .cpu) -> Tensor {
        var scalars = [Scalar](repeating: 0, count: n * n)
        for i in 0..<n { scalars[i * n + i] = 1 }
        return Tensor(shape: [n, n], scalars: scalars, on: device)
    }

    /// Uniform samples in `[low, high)`.
    public static func randomUniform(
        _ shape: [Int], low: Scalar = 0, high: Scalar = 1, generator: inout RandomGenerator, on device: Device = .cpu
    ) -> Tensor {
        let n = ShapeMath.count(shape)
        let span = Double(high - low)
        let lo = Double(low)
        var scalars = [Scalar]()
        scalars.reserveCapacity(n)
        for _ in 0..<n { scalars.append(Scalar(lo + span * generator.nextUniform())) }
        return Tensor(shape: shape, scalars: scalars, on: device)
    }

    /// Normal samples with the given mean and standard deviation.
    public static func randomNormal(
        _ shape: [Int], mean: Scalar = 0, standardDeviation: Scalar = 1, generator: inout RandomGenerator,
        on device: Device = .cpu
    ) -> Tensor {
        let n = ShapeMath.count(shape)
        let sd = Double(standardDeviation)
        let mu = Double(mean)
        var scalars = [Scalar]()
        scalars.reserveCapacity(n)
        for _ in 0..<n { scalars.append(Scalar(mu + sd * generator.nextNormal())) }
        return Tensor(shape: shape, scalars: scalars, on: device)
    }

    /// `value` with probability `probability`, else 0, elementwise: each element is decided by a
    /// 32-bit uniform from one of four xoshiro256** streams seeded by 16 draws from `generator`,
    /// so a seed gives the same mask on every machine. With
    /// `value = 1/(1 − p)` and `probability = 1 − p` it is an inverted-dropout mask.
    public static func randomBernoulli(
        _ shape: [Int], probability: Double, value: Scalar = 1, generator: inout RandomGenerator,
        on device: Device = .cpu
    ) -> Tensor {
        guard probability >= 0 && probability <= 1 else {
            tensorFailure("randomBernoulli: probability \(probability) is outside [0, 1]")
        }
        let out = device.backend.allocate(ShapeMath.count(shape), Scalar.dtype)
        device.backend.bernoulli(out, probability: probability, value: Double(value), generator: &generator)
        return Tensor(shape: shape, storage: out)
    }
}
