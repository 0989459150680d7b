import Distributed
import Testing

@Suite("DistributedDataParallel buckets")
struct BucketTests {
    @Test("buckets take parameters in reverse order and close once they reach the capacity")
    func reverseOrderByCapacity() {
        // The mnist MLP 784-512-128-64-10: W1, b1, W2, b2, W3, b3, W4, b4.
        let counts = [784 * 512, 512, 512 * 128, 128, 128 * 64, 64, 64 * 10, 10]
        let buckets = DistributedDataParallel<Float>.assignBuckets(
            counts: counts, bytesPerElement: 4, capacityBytes: 256 * 1024)
        // The last three layers (291 KB) close a bucket before the first layer's 1.6 MB.
        #expect(buckets == [[7, 6, 5, 4, 3, 2], [1, 0]])
        #expect(buckets.flatMap { $0 }.sorted() == Array(counts.indices))
        #expect(
            DistributedDataParallel<Float>.assignBuckets(counts: counts, bytesPerElement: 4, capacityBytes: 1)
                == counts.indices.reversed().map { [$0] })
        #expect(
            DistributedDataParallel<Float>.assignBuckets(counts: counts, bytesPerElement: 4, capacityBytes: 1 << 30)
                == [Array(counts.indices.reversed())])
        #expect(DistributedDataParallel<Float>.assignBuckets(counts: [], bytesPerElement: 4, capacityBytes: 1).isEmpty)
    }
}
