import AutoDiff
import NN

/// One rank's part of one global batch: the sample indices it trains on and the size of the
/// global batch they belong to.
public struct ShardedBatch: Equatable, Sendable {
    /// This rank's samples (indices into the data set), in the epoch's shuffled order.
    public let indices: [Int]
    /// How many samples the whole batch has, over all ranks.
    public let globalCount: Int

    /// This rank's share of the batch, `indices.count / globalCount`: the weight of its mean
    /// gradient in the batch's mean gradient (``DistributedDataParallel/gradientWeight``).
    public var share: Double { globalCount == 0 ? 0 : Double(indices.count) / Double(globalCount) }
}

/// Splits each epoch's shuffled order into global batches and gives a rank its slice of every
/// one (PyTorch's `DistributedSampler`, arranged so the ranks together see exactly the
/// single-process run's batches).
///
/// Every rank draws the same permutation from a generator with the same seed, cuts it into
/// global batches of ``batchSize`` (the last one holds the remainder), and takes the contiguous
/// slice `⌊b·r/p⌋ ..< ⌊b·(r+1)/p⌋` of each batch of `b` samples, `p` ranks, rank `r`: the
/// slices of a batch differ in size by at most one, and a rank's slice is empty only when the
/// batch has fewer samples than there are ranks. Weighting each rank's mean gradient by its
/// ``ShardedBatch/share`` gives the whole batch's mean gradient.
///
/// ```swift
/// let sampler = DistributedSampler(sampleCount: train.count, batchSize: 128, rank: world.rank, worldSize: world.size)
/// var shuffler = RandomGenerator(seed: seed)           // the same seed on every rank
/// for shard in sampler.epoch(shuffledBy: &shuffler) { … train.rows(shard.indices) … }
/// ```
public struct DistributedSampler: Sendable {
    /// Samples in the data set.
    public let sampleCount: Int
    /// Samples per global batch (over all ranks).
    public let batchSize: Int
    /// This process's rank.
    public let rank: Int
    /// The number of ranks.
    public let worldSize: Int

    /// A sampler for `rank` of `worldSize` over `sampleCount` samples in global batches of
    /// `batchSize`; stops with a one-line error when a count is out of range.
    public init(sampleCount: Int, batchSize: Int, rank: Int, worldSize: Int) {
        guard sampleCount >= 0, batchSize >= 1, worldSize >= 1, (0..<worldSize).contains(rank) else {
            tensorFailure(
                "DistributedSampler: sampleCount \(sampleCount) must be ≥ 0, batchSize \(batchSize) ≥ 1 and rank \(rank) in 0..<\(worldSize)"
            )
        }
        self.sampleCount = sampleCount
        self.batchSize = batchSize
        self.rank = rank
        self.worldSize = worldSize
    }

    /// Global batches per epoch, `⌈sampleCount / batchSize⌉`.
    public var batchCount: Int { (sampleCount + batchSize - 1) / batchSize }

    /// This rank's slices of one epoch's batches, in `order` (a permutation of the samples, the
    /// same on every rank).
    public func epoch(order: [Int]) -> [ShardedBatch] {
        guard order.count == sampleCount else {
            tensorFailure("DistributedSampler: an order of \(order.count) samples for a data set of \(sampleCount)")
        }
        return stride(from: 0, to: sampleCount, by: batchSize).map { start in
            let count = min(batchSize, sampleCount - start)
            let (lower, upper) = slice(ofBatchOf: count)
            return ShardedBatch(indices: Array(order[(start + lower)..<(start + upper)]), globalCount: count)
        }
    }

    /// This rank's slices of one epoch's batches in a fresh order drawn from `generator` (one
    /// permutation, as `Dataset.batches(size:shuffledBy:)` draws: the generator ends in the same
    /// state on every rank and in a single-process run).
    public func epoch(shuffledBy generator: inout RandomGenerator) -> [ShardedBatch] {
        epoch(order: generator.permutation(sampleCount))
    }

    /// The positions `lower ..< upper` within a batch of `count` samples that this rank takes.
    public func slice(ofBatchOf count: Int) -> (lower: Int, upper: Int) {
        (count * rank / worldSize, count * (rank + 1) / worldSize)
    }
}
