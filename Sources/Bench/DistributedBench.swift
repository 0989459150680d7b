import AutoDiff
import Distributed
import Foundation
import NN
import Synchronization

/// What a distributed run adds to a workload's report: the ranks, the gradient exchange's cost
/// per step and how much of it backward hid.
struct ExchangeTiming: Encodable {
    var ranks: Int
    /// How the gradients travelled (`DistributedDataParallel.transport`): `mpi` or
    /// `shared-memory`.
    var transport: String
    /// The whole exchange of one step on its own, as `finishGradientSynchronization()` does it
    /// when the hooks did nothing (copies in, the transport, copies out; the median of 30,
    /// `DistributedDataParallel.timeBlockingExchange`).
    var blockingExchangeMillisecondsPerStep: Double
    /// Bytes of gradients in each bucket, in the order they are reduced.
    var bucketBytes: [Int]
    /// An all-reduce of every bucket, one after another, each waited for (yielding, as the
    /// training's wait does), timed on its own after training (the median of 30): what the
    /// exchange costs when nothing overlaps it.
    var allReduceMillisecondsPerStep: Double
    /// Time a step waited at its end for all-reduces still in flight: the part not hidden.
    var waitMillisecondsPerStep: Double
    /// Time a step spent on the exchange in all: copies into and out of the buckets, starting
    /// and progressing all-reduces, and the wait.
    var exchangeMillisecondsPerStep: Double
    /// `1 − wait / blockingExchange` (at least 0): the share of the exchange's own time that
    /// the ranks did not spend waiting at the end of the step.
    var hiddenShare: Double
    /// The rest of backward after the first bucket started, per step: the time it can hide.
    var overlapWindowMillisecondsPerStep: Double
    /// Each bucket alone, waited for (median of 30), in milliseconds.
    var bucketAllReduceMilliseconds: [Double]
    /// Buckets whose all-reduce started from a hook during backward, per step.
    var bucketsStartedDuringBackwardPerStep: Double
}

extension Workload {
    /// `bench --blocking-exchange`: all-reduce every bucket at the end of backward instead of
    /// overlapping (``DistributedDataParallel/overlapsBackward``).
    static let blockingExchange = Atomic<Bool>(false)

    /// `bench --transport`: how gradients travel between ranks.
    static let transport = Mutex<GradientTransport>(.automatic)

    /// `bench --sync-batch-norm`: BatchNorm with the global batch's statistics.
    static let syncBatchNorm = Atomic<Bool>(false)

    /// Whether `bench --distributed` joined an MPI job.
    static let distributed = Atomic<Bool>(false)

    /// The job `bench --distributed` runs in, when it does.
    static var communicator: Communicator? {
        distributed.load(ordering: .acquiring) ? try? Communicator.world() : nil
    }

    /// An MNIST workload trained data-parallel: each rank takes its slice of every global batch
    /// of `batchSize` (``DistributedSampler``, shuffled with seed 1 as the single-process
    /// workload), gradients exchanged by ``DistributedDataParallel``.
    func distributedMNIST(
        name: String, model: Sequential<Float>, optimizer: Optimizer<Float>, data: MNISTData,
        input: @escaping (Tensor<Float>) -> Tensor<Float>, epochs: Int, batchSize: Int, communicator: Communicator,
        captured: Bool
    ) throws -> Report {
        let parallel = try DistributedDataParallel(
            model: model, communicator: communicator, transport: Workload.transport.withLock { $0 },
            synchronizesBatchNorm: Workload.syncBatchNorm.load(ordering: .relaxed))
        parallel.overlapsBackward = !Workload.blockingExchange.load(ordering: .relaxed)
        let sampler = DistributedSampler(
            sampleCount: data.train.count, batchSize: batchSize, rank: communicator.rank,
            worldSize: communicator.size)
        var failure: Error?
        let step = CapturedStep(enabled: captured) {
            (features: Tensor<Float>, labels: Tensor<Float>) -> Tensor<Float> in
            let value = softmaxCrossEntropy(logits: model(input(features)), labels: labels)
            optimizer.zeroGrad()
            value.backward()
            do { try parallel.finishGradientSynchronization() } catch { failure = failure ?? error }
            optimizer.step()
            return value
        }
        var shuffle = RandomGenerator(seed: 1)
        var steps = 0
        model.train()
        let seconds = try timedThrowing {
            for _ in 0..<epochs {
                for shard in sampler.epoch(shuffledBy: &shuffle) {
                    let batch = data.train.rows(shard.indices)
                    parallel.gradientWeight = shard.share
                    _ = step(batch.features, batch.labels)
                    if let failure { throw failure }
                    try parallel.throwIfFailed()
                    steps += 1
                }
            }
        }
        let statistics = parallel.statistics
        let parameters = model.parameters
        let bucketCounts = parallel.buckets.map { $0.reduce(0) { $0 + parameters[$1].value.count } }
        let allReduce = try blockingAllReduceSeconds(counts: bucketCounts, communicator: communicator)
        let blockingExchange = try parallel.timeBlockingExchange()
        let perStep = { (total: Double) in total / Double(max(statistics.steps, 1)) }
        var report = Report(
            workload: name, seconds: seconds, stepsPerSecond: Double(steps) / seconds,
            metricName: "test_accuracy", metric: testAccuracy(model, data, input), data: data.source
        ).describing(step)
        report.exchange = ExchangeTiming(
            ranks: communicator.size, transport: parallel.transport.rawValue,
            blockingExchangeMillisecondsPerStep: blockingExchange * 1000,
            bucketBytes: bucketCounts.map { $0 * MemoryLayout<Float>.stride },
            allReduceMillisecondsPerStep: allReduce * 1000,
            waitMillisecondsPerStep: perStep(statistics.waitSeconds) * 1000,
            exchangeMillisecondsPerStep: perStep(statistics.exchangeSeconds) * 1000,
            hiddenShare: max(0, 1 - perStep(statistics.waitSeconds) / blockingExchange),
            overlapWindowMillisecondsPerStep: perStep(statistics.overlapWindowSeconds) * 1000,
            bucketAllReduceMilliseconds: try bucketCounts.map {
                try blockingAllReduceSeconds(counts: [$0], communicator: communicator) * 1000
            },
            bucketsStartedDuringBackwardPerStep: perStep(Double(statistics.bucketsStartedDuringBackward)))
        return report
    }

    /// The median over 30 rounds of one all-reduce of each of `counts` Floats in turn, each
    /// waited for before the next starts.
    func blockingAllReduceSeconds(counts: [Int], communicator: Communicator) throws -> Double {
        let buffers = counts.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: $0) }
        defer { for buffer in buffers { buffer.deallocate() } }
        for buffer in buffers { buffer.initialize(repeating: 1) }
        var rounds: [Double] = []
        for round in 0..<33 {
            try communicator.barrier()
            let start = Date()
            for buffer in buffers { try communicator.startAllReduce(buffer, .sum).waitYielding() }
            if round >= 3 { rounds.append(Date().timeIntervalSince(start)) }
        }
        return rounds.sorted()[rounds.count / 2]
    }

    /// Wall-clock seconds of `body`, which may throw.
    func timedThrowing(_ body: () throws -> Void) throws -> Double {
        let start = Date()
        try body()
        return Date().timeIntervalSince(start)
    }
}
