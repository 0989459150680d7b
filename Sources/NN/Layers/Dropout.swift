import AutoDiff

/// Inverted dropout: in training, each element is kept with probability `1 − rate` and scaled by
/// `1/(1 − rate)`, so the expected output equals the input and evaluation needs no rescale; in
/// evaluation mode it is the identity.
///
///     y = x ⊙ m,   mᵢ = 1/(1 − p) with probability 1 − p, else 0
///
/// The mask comes from the layer's own seeded ``generator`` (saved by checkpoints), so a seed
/// fixes every mask of a run. ∂y/∂x = m (the mask is a constant of the tape).
public final class Dropout<Scalar: TensorScalar>: Layer {
    /// The probability `p` of dropping an element, in `[0, 1)`.
    public let rate: Scalar
    /// The source of the masks.
    public var generator: RandomGenerator {
        get { generatorCell.generator }
        set { generatorCell.generator = newValue }
    }

    /// The generator, kept by reference so a captured step's replays continue its stream.
    let generatorCell: RandomGeneratorCell
    /// Whether the layer drops (set by ``Layer/train()`` / ``Layer/eval()``; on at creation).
    public var isTraining = true

    /// Dropout with probability `rate` in `[0, 1)`, its masks drawn from a generator seeded with
    /// `seed`.
    public init(rate: Scalar, seed: UInt64) {
        guard rate >= 0 && rate < 1 else { tensorFailure("Dropout: rate \(rate) is outside [0, 1)") }
        self.rate = rate
        generatorCell = RandomGeneratorCell(RandomGenerator(seed: seed))
    }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        guard isTraining, rate > 0 else { return input }
        // One pass with a byte mask; the same result as apply(input, mask: mask(…)).
        return input.dropout(rate: Double(rate), generator: generatorCell)
    }

    public func setTrainingMode(_ training: Bool) { isTraining = training }

    public var ownGenerators: [(name: String, get: () -> RandomGenerator, set: (RandomGenerator) -> Void)] {
        [("generator", { self.generator }, { self.generator = $0 })]
    }

    /// A mask of `shape`: `1/(1 − rate)` with probability `1 − rate`, else 0, drawn from the
    /// layer's generator (AutoDiff's `Tensor.randomBernoulli(_:probability:value:generator:on:)`).
    public static func mask(_ shape: [Int], rate: Scalar, generator: inout RandomGenerator) -> Tensor<Scalar> {
        Tensor<Scalar>.randomBernoulli(
            shape, probability: 1 - Double(rate), value: 1 / (1 - rate), generator: &generator)
    }

    /// `input ⊙ mask`: dropout with a given mask (what ``forward(_:)`` does in training; also the
    /// way to check its gradient with the mask held fixed).
    public static func apply(_ input: Tensor<Scalar>, mask: Tensor<Scalar>) -> Tensor<Scalar> {
        guard mask.shape == input.shape else {
            tensorFailure("Dropout: mask of shape \(mask.shape) does not match the input \(input.shape)")
        }
        return input * mask
    }
}
