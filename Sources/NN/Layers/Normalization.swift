import AutoDiff

/// Batch normalization over channel axis 1, PyTorch's `BatchNorm1d`/`BatchNorm2d` (use those two
/// subclasses, which check the input's rank):
///
///     y = (x − μ_c)/√(σ²_c + ε)·weight[c] + bias[c]
///
/// In training mode `μ` and `σ²` are the batch's per-channel mean and biased variance over every
/// axis but 1, and (with `trackRunningStats`) the running averages are updated, outside the
/// tape, with PyTorch's convention:
///
///     running_mean ← (1 − m)·running_mean + m·μ
///     running_var  ← (1 − m)·running_var  + m·σ²·n/(n − 1)     (the unbiased variance)
///
/// (`m` = `momentum`, or `1/num_batches_tracked` — a cumulative average — when it is `nil`). In
/// evaluation mode the running averages are used instead (without `trackRunningStats`, the
/// batch statistics always). `weight` starts at 1 and `bias` at 0 (`affine`); the buffers
/// `running_mean` (0), `running_var` (1) and `num_batches_tracked` (0, a scalar) are saved and
/// loaded with the model.
///
/// With a ``statisticsReducer`` (PyTorch's `SyncBatchNorm`; `Distributed` installs one) training
/// mode takes `μ` and `σ²` over the whole global batch of a data-parallel job, every process's
/// slice together, and the running averages follow them:
///
///     n = Σ_r n_r,  μ = Σ_r Σ x / n,  σ² = Σ_r Σ (x − μ)² / n
///
/// (`Σ_r` summed across processes by the reducer, whose gradient flows back across them too).
public class BatchNormLayer<Scalar: TensorScalar>: Layer {
    /// The number of channels `C`.
    public let numFeatures: Int
    /// `ε`, added to the variance.
    public let eps: Double
    /// The weight of a new batch in the running averages, or `nil` for a cumulative average.
    public let momentum: Double?
    /// `γ` (`weight`, `[C]`, starting at 1), when affine.
    public let weight: Parameter<Scalar>?
    /// `β` (`bias`, `[C]`, starting at 0), when affine.
    public let bias: Parameter<Scalar>?
    /// The running mean (`running_mean`, `[C]`), when tracking running statistics.
    public let runningMean: LayerBuffer<Scalar>?
    /// The running unbiased variance (`running_var`, `[C]`), when tracking running statistics.
    public let runningVar: LayerBuffer<Scalar>?
    /// The number of training batches seen (`num_batches_tracked`, a scalar), when tracking.
    public let numBatchesTracked: LayerBuffer<Scalar>?
    /// Whether the layer normalizes with batch statistics (set by ``Layer/train()`` and
    /// ``Layer/eval()``; on at creation).
    public var isTraining = true
    /// Sums the batch statistics across the processes of a data-parallel job, so that training
    /// normalizes with the global batch's (`nil`: this process's batch alone, the default).
    public var statisticsReducer: (any BatchStatisticsReducer<Scalar>)?

    private let name: String
    private let ranks: [Int]

    init(
        name: String, ranks: [Int], numFeatures: Int, eps: Double, momentum: Double?, affine: Bool,
        trackRunningStats: Bool
    ) {
        guard numFeatures > 0 else { tensorFailure("\(name): numFeatures must be positive, got \(numFeatures)") }
        guard eps >= 0, eps.isFinite else { tensorFailure("\(name): eps \(eps) must be ≥ 0") }
        if let momentum, !(momentum >= 0 && momentum <= 1) {
            tensorFailure("\(name): momentum \(momentum) is outside [0, 1]")
        }
        self.name = name
        self.ranks = ranks
        self.numFeatures = numFeatures
        self.eps = eps
        self.momentum = momentum
        weight = affine ? Parameter(.ones([numFeatures]), role: .weight) : nil
        bias = affine ? Parameter(.zeros([numFeatures]), role: .bias) : nil
        runningMean = trackRunningStats ? LayerBuffer(.zeros([numFeatures])) : nil
        runningVar = trackRunningStats ? LayerBuffer(.ones([numFeatures])) : nil
        numBatchesTracked = trackRunningStats ? LayerBuffer(.zeros([])) : nil
    }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        guard ranks.contains(input.rank), input.shape[1] == numFeatures else {
            let expected = ranks.map { ["[N, C]", "[N, C, L]", "[N, C, H, W]"][$0 - 2] }.joined(separator: " or ")
            tensorFailure("\(name): input \(input.shape) is not \(expected) with C = \(numFeatures)")
        }
        if !isTraining, let runningMean, let runningVar {
            return input.batchNorm(
                mean: runningMean.value, variance: runningVar.value, weight: weight?.value, bias: bias?.value,
                epsilon: eps)
        }
        // Only training synchronizes, as in PyTorch: evaluation without running statistics uses
        // this process's batch, and ranks may evaluate different numbers of batches.
        if isTraining, let statisticsReducer { return synchronizedForward(input, statisticsReducer) }
        let result = input.batchNorm(weight: weight?.value, bias: bias?.value, epsilon: eps)
        updateRunningStatistics(mean: result.mean) { m, device in
            let n = Scalar(result.countPerChannel)
            return result.variance.to(device) * (m * n / (n - 1))
        }
        return result.output
    }

    /// Training mode with the global batch's statistics, as tensor ops around the reducer's two
    /// sums (the count is summed with the first, so no process needs the others' counts):
    /// `μ` from `Σ x` and `n`, then `σ²` from `Σ (x − μ)²` about the global `μ`, the two passes
    /// the fused kernel makes.
    private func synchronizedForward(
        _ input: Tensor<Scalar>, _ reducer: any BatchStatisticsReducer<Scalar>
    ) -> Tensor<Scalar> {
        let axes = [0] + Array(2..<input.rank)
        let perChannel = [1, numFeatures] + Array(repeating: 1, count: input.rank - 2)
        let localCount = Tensor<Scalar>(shape: [1], scalars: [Scalar(input.count / numFeatures)], on: input.device)
        let sums = reducer.sumOverProcesses(Tensor.concat([input.sum(alongAxes: axes), localCount]))
        let count = sums[numFeatures..<numFeatures + 1]
        let mean = sums[0..<numFeatures] / count
        let centered = input - mean.reshaped(perChannel)
        let variance = reducer.sumOverProcesses((centered * centered).sum(alongAxes: axes)) / count
        var scale = (variance + Scalar(eps)).pow(-0.5)
        if let weight { scale = scale * weight.value }
        var output = centered * scale.reshaped(perChannel)
        if let bias { output = output + bias.value.reshaped(perChannel) }
        updateRunningStatistics(mean: mean.detached()) { m, device in
            (variance * (count / (count - 1))).to(device) * m
        }
        return output
    }

    /// The running averages' update after a training batch whose mean is `mean` (a constant);
    /// `weightedVariance(m, device)` is the batch's unbiased variance times the new batch's
    /// weight `m`, on the running averages' device (it runs without recording).
    private func updateRunningStatistics(
        mean: Tensor<Scalar>, weightedVariance: (Scalar, Device) -> Tensor<Scalar>
    ) {
        guard isTraining, let runningMean, let runningVar, let numBatchesTracked else { return }
        withoutGrad {
            // Updated in place (copyElements): a captured training step replays these
            // updates onto the same buffers.
            numBatchesTracked.value.copyElements(from: numBatchesTracked.value + 1)
            let m = Scalar(momentum ?? 1 / Double(numBatchesTracked.value.item))
            let device = runningMean.value.device
            runningMean.value.copyElements(from: runningMean.value * (1 - m) + mean.to(device) * m)
            runningVar.value.copyElements(from: runningVar.value * (1 - m) + weightedVariance(m, device))
        }
    }

    public var ownParameters: [(name: String, parameter: Parameter<Scalar>)] {
        [weight.map { ("weight", $0) }, bias.map { ("bias", $0) }].compactMap { $0 }
    }

    public var ownBuffers: [(name: String, buffer: LayerBuffer<Scalar>)] {
        [
            runningMean.map { ("running_mean", $0) }, runningVar.map { ("running_var", $0) },
            numBatchesTracked.map { ("num_batches_tracked", $0) },
        ].compactMap { $0 }
    }

    public func setTrainingMode(_ training: Bool) { isTraining = training }
}

/// Batch normalization of `[N, C]` or `[N, C, L]` inputs (PyTorch's `BatchNorm1d`): statistics
/// per channel over `N` (and `L`). See ``BatchNormLayer``.
public final class BatchNorm1d<Scalar: TensorScalar>: BatchNormLayer<Scalar> {
    /// A layer for `numFeatures` channels, with PyTorch's defaults.
    public init(
        numFeatures: Int, eps: Double = 1e-5, momentum: Double? = 0.1, affine: Bool = true,
        trackRunningStats: Bool = true
    ) {
        super.init(
            name: "BatchNorm1d", ranks: [2, 3], numFeatures: numFeatures, eps: eps, momentum: momentum, affine: affine,
            trackRunningStats: trackRunningStats)
    }
}

/// Batch normalization of `[N, C, H, W]` inputs (PyTorch's `BatchNorm2d`): statistics per
/// channel over `N`, `H` and `W`. See ``BatchNormLayer``.
public final class BatchNorm2d<Scalar: TensorScalar>: BatchNormLayer<Scalar> {
    /// A layer for `numFeatures` channels, with PyTorch's defaults.
    public init(
        numFeatures: Int, eps: Double = 1e-5, momentum: Double? = 0.1, affine: Bool = true,
        trackRunningStats: Bool = true
    ) {
        super.init(
            name: "BatchNorm2d", ranks: [4], numFeatures: numFeatures, eps: eps, momentum: momentum, affine: affine,
            trackRunningStats: trackRunningStats)
    }
}

/// Layer normalization over the trailing axes `normalizedShape` (PyTorch's `LayerNorm`): each
/// slice normalized by its own mean and biased variance, then an elementwise affine map,
///
///     y = (x − μ)/√(σ² + ε) ⊙ weight + bias
///
/// with `weight` (1) and `bias` (0) of shape `normalizedShape` when `elementwiseAffine`.
public final class LayerNorm<Scalar: TensorScalar>: Layer {
    /// The trailing shape normalized over.
    public let normalizedShape: [Int]
    /// `ε`, added to the variance.
    public let eps: Double
    /// `weight`, of `normalizedShape`, when affine.
    public let weight: Parameter<Scalar>?
    /// `bias`, of `normalizedShape`, when affine.
    public let bias: Parameter<Scalar>?

    /// A layer normalizing over `normalizedShape`, with PyTorch's defaults.
    public init(_ normalizedShape: [Int], eps: Double = 1e-5, elementwiseAffine: Bool = true) {
        guard !normalizedShape.isEmpty, normalizedShape.allSatisfy({ $0 > 0 }) else {
            tensorFailure("LayerNorm: normalizedShape \(normalizedShape) must be nonempty with positive sizes")
        }
        guard eps >= 0, eps.isFinite else { tensorFailure("LayerNorm: eps \(eps) must be ≥ 0") }
        self.normalizedShape = normalizedShape
        self.eps = eps
        weight = elementwiseAffine ? Parameter(.ones(normalizedShape), role: .weight) : nil
        bias = elementwiseAffine ? Parameter(.zeros(normalizedShape), role: .bias) : nil
    }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        input.layerNorm(normalizedShape: normalizedShape, weight: weight?.value, bias: bias?.value, epsilon: eps)
    }

    public var ownParameters: [(name: String, parameter: Parameter<Scalar>)] {
        [weight.map { ("weight", $0) }, bias.map { ("bias", $0) }].compactMap { $0 }
    }
}

/// Group normalization (PyTorch's `GroupNorm`): the `numChannels` channels of `[N, C, …]` cut
/// into `numGroups` groups, each group of each sample normalized over its channels and
/// positions, then a per-channel affine map with `weight` (1) and `bias` (0) of `[C]`.
public final class GroupNorm<Scalar: TensorScalar>: Layer {
    /// The number of groups; it divides ``numChannels``.
    public let numGroups: Int
    /// The number of channels `C`.
    public let numChannels: Int
    /// `ε`, added to the variance.
    public let eps: Double
    /// `weight`, `[C]`, when affine.
    public let weight: Parameter<Scalar>?
    /// `bias`, `[C]`, when affine.
    public let bias: Parameter<Scalar>?

    /// A layer of `numGroups` groups over `numChannels` channels, with PyTorch's defaults.
    public init(numGroups: Int, numChannels: Int, eps: Double = 1e-5, affine: Bool = true) {
        guard numGroups > 0, numChannels > 0, numChannels % numGroups == 0 else {
            tensorFailure("GroupNorm: \(numChannels) channels cannot be cut into \(numGroups) groups")
        }
        guard eps >= 0, eps.isFinite else { tensorFailure("GroupNorm: eps \(eps) must be ≥ 0") }
        self.numGroups = numGroups
        self.numChannels = numChannels
        self.eps = eps
        weight = affine ? Parameter(.ones([numChannels]), role: .weight) : nil
        bias = affine ? Parameter(.zeros([numChannels]), role: .bias) : nil
    }

    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        guard input.rank >= 2, input.shape[1] == numChannels else {
            tensorFailure("GroupNorm: input \(input.shape) is not [N, C, …] with C = \(numChannels)")
        }
        return input.groupNorm(groups: numGroups, weight: weight?.value, bias: bias?.value, epsilon: eps)
    }

    public var ownParameters: [(name: String, parameter: Parameter<Scalar>)] {
        [weight.map { ("weight", $0) }, bias.map { ("bias", $0) }].compactMap { $0 }
    }
}

/// Sums a BatchNorm layer's per-channel statistics over the processes of a data-parallel job
/// (``BatchNormLayer/statisticsReducer``): `Distributed`'s `DistributedDataParallel` installs
/// one on every BatchNorm layer when asked to synchronize them (PyTorch's `SyncBatchNorm`).
public protocol BatchStatisticsReducer<Scalar>: AnyObject {
    /// The element type of the statistics.
    associatedtype Scalar: TensorScalar

    /// `Σ_r local_r` over the processes, the same on every process, recorded as an op whose
    /// gradient for `local` is the processes' upstream gradients summed the same way (each
    /// weighted as the process's loss is), so backward differentiates the global batch's loss.
    /// Every process must call it at the same point of its step with the same shape.
    func sumOverProcesses(_ local: Tensor<Scalar>) -> Tensor<Scalar>
}
