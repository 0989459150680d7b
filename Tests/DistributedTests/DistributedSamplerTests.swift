import AutoDiff
import Distributed
import Testing

@Suite("DistributedSampler")
struct DistributedSamplerTests {
    @Test(
        "the ranks' slices of each batch, in rank order, are the single-process batch",
        arguments: [(10, 4, 2), (10, 3, 3), (7, 7, 2), (5, 2, 4), (100, 64, 2)])
    func slicesMakeTheSingleProcessBatches(samples: Int, batch: Int, ranks: Int) {
        var single = RandomGenerator(seed: 7)
        let order = single.permutation(samples)
        let expected = stride(from: 0, to: samples, by: batch).map { Array(order[$0..<min($0 + batch, samples)]) }
        let perRank = (0..<ranks).map { rank in
            var generator = RandomGenerator(seed: 7)
            let sampler = DistributedSampler(sampleCount: samples, batchSize: batch, rank: rank, worldSize: ranks)
            let shards = sampler.epoch(shuffledBy: &generator)
            // Every rank's generator ends where the single process's does.
            #expect(
                generator.permutation(3)
                    == {
                        var g = single
                        return g.permutation(3)
                    }())
            #expect(shards.count == sampler.batchCount)
            return shards
        }
        for (index, batchIndices) in expected.enumerated() {
            let shards = perRank.map { $0[index] }
            #expect(shards.flatMap(\.indices) == batchIndices)
            #expect(shards.allSatisfy { $0.globalCount == batchIndices.count })
            #expect(abs(shards.map(\.share).reduce(0, +) - 1) < 1e-12)
            let sizes = shards.map(\.indices.count)
            #expect(sizes.max()! - sizes.min()! <= 1)
        }
    }

    @Test("a batch smaller than the world leaves some ranks an empty slice with share 0")
    func emptySlices() {
        let sampler = DistributedSampler(sampleCount: 1, batchSize: 8, rank: 0, worldSize: 2)
        let shard = sampler.epoch(order: [0])[0]
        #expect(shard.indices.isEmpty && shard.globalCount == 1 && shard.share == 0)
        let other = DistributedSampler(sampleCount: 1, batchSize: 8, rank: 1, worldSize: 2).epoch(order: [0])[0]
        #expect(other.indices == [0] && other.share == 1)
    }
}
