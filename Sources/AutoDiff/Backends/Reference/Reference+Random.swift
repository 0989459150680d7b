// Randomness: the Bernoulli decision stream every backend reproduces bit for bit, and the
// kernels that use it (bernoulli, dropout) or replay its mask (maskedScale).

extension ReferenceBackend {
    /// Elements per independently seeded block of the decision stream.
    public static let bernoulliBlock = 1 << 14

    /// Whether each of `n` elements is kept with probability `probability`: the stream of
    /// decisions ``Backend/bernoulli(_:probability:value:generator:)`` documents.
    ///
    /// With `t = ⌈probability·2³²⌉`: when `t ≤ 0` nothing is kept and when `t ≥ 2³²` everything
    /// is, and nothing is drawn. Otherwise the elements are cut into blocks of
    /// ``bernoulliBlock``; `generator` gives 16 words for every block, all blocks' words first,
    /// in block order. Block words `w` seed four xoshiro256** lanes, lane `l` with the state
    /// `(w[l], w[4 + l], w[8 + l], w[12 + l])` (`w[l] = 1` when those four are all 0). Each step
    /// runs every lane once (``RandomGenerator/next()``) and decides the block's next eight
    /// elements: element `2l` by the low 32 bits of lane `l`'s output and `2l + 1` by its high
    /// 32 bits, kept where that 32-bit number is below `t`.
    public static func bernoulliDecisions(_ n: Int, probability: Double, generator: inout RandomGenerator) -> [Bool] {
        let t = (probability * 0x1p32).rounded(.up)
        if t <= 0 || t >= 0x1p32 { return [Bool](repeating: t > 0, count: n) }
        let threshold = UInt32(t)
        let blocks = (n + bernoulliBlock - 1) / bernoulliBlock
        var words: [UInt64] = []
        for _ in 0..<(16 * blocks) { words.append(generator.next()) }
        var kept: [Bool] = []
        for block in 0..<blocks {
            var w = Array(words[(16 * block)..<(16 * block + 16)])
            for l in 0..<4 where w[l] == 0 && w[4 + l] == 0 && w[8 + l] == 0 && w[12 + l] == 0 { w[l] = 1 }
            var lanes = (0..<4).map { l in RandomGenerator(state: [w[l], w[4 + l], w[8 + l], w[12 + l]]) }
            let end = Swift.min((block + 1) * bernoulliBlock, n)
            while kept.count < end {
                var draws: [UInt32] = []
                for l in 0..<4 {
                    let output = lanes[l].next()
                    draws.append(UInt32(truncatingIfNeeded: output))
                    draws.append(UInt32(truncatingIfNeeded: output >> 32))
                }
                for draw in draws where kept.count < end { kept.append(draw < threshold) }
            }
        }
        return kept
    }

    public func bernoulli(_ out: Buffer, probability: Double, value: Double, generator: inout RandomGenerator) {
        switch out.dtype {
        case .float32: bernoulli(out, probability: probability, value: value, generator: &generator, Float.self)
        case .float64: bernoulli(out, probability: probability, value: value, generator: &generator, Double.self)
        case .uint8, .int64: Self.unsupported("bernoulli", out.dtype)
        }
    }

    /// `out[i] = kept[i] ? S(value) : 0` with the decisions of ``bernoulliDecisions(_:probability:generator:)``.
    private func bernoulli<S: TensorScalar>(
        _ out: Buffer, probability: Double, value: Double, generator: inout RandomGenerator, _: S.Type
    ) {
        let kept = Self.bernoulliDecisions(out.count, probability: probability, generator: &generator)
        let out = Self.elements(out, S.self)
        for i in 0..<kept.count { out[i] = kept[i] ? S(value) : 0 }
    }

    public func dropout(
        _ x: Buffer, into out: Buffer, keep: Buffer, probability: Double, scale: Double,
        generator: inout RandomGenerator
    ) {
        switch x.dtype {
        case .float32:
            dropout(x, into: out, keep: keep, probability: probability, scale: scale, generator: &generator, Float.self)
        case .float64:
            dropout(
                x, into: out, keep: keep, probability: probability, scale: scale, generator: &generator, Double.self)
        case .uint8, .int64: Self.unsupported("dropout", x.dtype)
        }
    }

    /// `out[i] = x[i]·(kept[i] ? S(scale) : 0)` (a product, so NaN and ±∞ stay NaN where dropped)
    /// and `keep[i] = kept[i] ? 1 : 0`, with the decisions of ``bernoulliDecisions(_:probability:generator:)``.
    private func dropout<S: TensorScalar>(
        _ x: Buffer, into out: Buffer, keep: Buffer, probability: Double, scale: Double,
        generator: inout RandomGenerator, _: S.Type
    ) {
        let kept = Self.bernoulliDecisions(x.count, probability: probability, generator: &generator)
        let (x, out, keep) = (Self.elements(x, S.self), Self.elements(out, S.self), Self.mask(keep))
        for i in 0..<kept.count {
            out[i] = x[i] * (kept[i] ? S(scale) : 0)
            keep[i] = kept[i] ? 1 : 0
        }
    }

    public func maskedScale(_ x: Buffer, keep: Buffer, scale: Double, into out: Buffer) {
        switch x.dtype {
        case .float32: maskedScale(x, keep: keep, scale: scale, into: out, Float.self)
        case .float64: maskedScale(x, keep: keep, scale: scale, into: out, Double.self)
        case .uint8, .int64: Self.unsupported("maskedScale", x.dtype)
        }
    }

    /// `out[i] = x[i]·(keep[i] ≠ 0 ? S(scale) : 0)`.
    private func maskedScale<S: TensorScalar>(_ x: Buffer, keep: Buffer, scale: Double, into out: Buffer, _: S.Type) {
        let (n, x, keep, out) = (x.count, Self.elements(x, S.self), Self.mask(keep), Self.elements(out, S.self))
        for i in 0..<n { out[i] = x[i] * (keep[i] != 0 ? S(scale) : 0) }
    }
}
