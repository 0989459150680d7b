import RealModule

/// A seedable pseudo-random generator (xoshiro256**, seeded through SplitMix64) whose stream is
/// the same on every run and every machine: a seed fixes every number drawn from it.
///
/// It is a value: copying it forks the stream, and its ``state`` can be saved in a checkpoint and
/// restored to continue exactly where it stopped.
public struct RandomGenerator: RandomNumberGenerator, Sendable, Hashable, Codable {
    /// The four words of xoshiro256** state.
    public var state: [UInt64]

    /// A generator whose stream is determined by `seed`.
    public init(seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = [splitMix(), splitMix(), splitMix(), splitMix()]
    }

    /// Restores a generator from a saved ``state``.
    public init(state: [UInt64]) {
        precondition(
            state.count == 4 && state.contains { $0 != 0 }, "RandomGenerator: state must be 4 words, not all zero")
        self.state = state
    }

    public mutating func next() -> UInt64 {
        let result = rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = rotl(state[3], 45)
        return result
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// A uniform double in `[0, 1)` with 53 random bits.
    public mutating func nextUniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// A standard normal double (Box–Muller on two uniforms; one draw uses exactly two words).
    public mutating func nextNormal() -> Double {
        let u1 = 1 - nextUniform()  // in (0, 1]: log is finite
        let u2 = nextUniform()
        return (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * .pi * u2)
    }

    /// A uniformly random permutation of `0..<n` (Fisher–Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        guard n > 1 else { return p }
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            p.swapAt(i, j)
        }
        return p
    }
}
