import Testing

@testable import Distributed

@Suite("Shared-memory gradient exchange")
struct SharedMemoryExchangeTests {
    @Test(
        "each bucket splits into consecutive runs of whole cache lines, one per rank, covering it once",
        arguments: [(1, 1), (15, 2), (16, 2), (17, 2), (1000, 3), (401_408, 2), (33, 4), (5, 8), (0, 2)])
    func slicesCoverTheBucket(count: Int, ranks: Int) {
        let slices = (0..<ranks).map { SharedMemoryExchange<Float>.slice(of: count, owner: $0, ranks: ranks) }
        #expect(slices.first?.lowerBound == 0)
        #expect(slices.last?.upperBound == count)
        for (previous, next) in zip(slices, slices.dropFirst()) { #expect(previous.upperBound == next.lowerBound) }
        // Every slice but the one holding the bucket's end starts and ends on a 64-byte line.
        for slice in slices where slice.upperBound < count { #expect(slice.count % 16 == 0) }
        for slice in slices { #expect(slice.lowerBound % 16 == 0 || slice.isEmpty) }
        let doubles = (0..<ranks).map { SharedMemoryExchange<Double>.slice(of: count, owner: $0, ranks: ranks) }
        for slice in doubles where slice.upperBound < count { #expect(slice.count % 8 == 0) }
        #expect(doubles.map(\.count).reduce(0, +) == count)
    }

    @Test("sums add the ranks' values in rank order, vectors and tail alike", arguments: [1, 2, 3, 5])
    func sumsInRankOrder(ranks: Int) {
        // 37 elements: two 16-wide vectors and a tail of 5. Values whose sum depends on the
        // order: 1e8 + 1 − 1e8 is 0 in Float added left to right, 1 added right to left.
        let count = 37
        let sources = (0..<ranks).map { rank in
            (0..<count).map { i -> Float in
                switch rank {
                case 0: 1e8
                case 1: Float(i % 3)
                case 2: -1e8
                default: Float(rank) * 0.25 + Float(i)
                }
            }
        }
        let output = Self.sum(sources)
        for i in 0..<count {
            var expected: Float = sources[0][i]
            for rank in 1..<ranks { expected += sources[rank][i] }
            #expect(output[i].bitPattern == expected.bitPattern, "element \(i)")
        }
        let doubles = (0..<ranks).map { rank in (0..<11).map { Double(rank * 100 + $0) } }
        let expected: [Double] = (0..<11).map { i in
            var total = 0.0
            for rank in 0..<ranks { total += Double(rank * 100 + i) }
            return total
        }
        #expect(Self.sum(doubles) == expected)
    }

    /// `sumInOrder` of `sources` (equal lengths), through memory of its own.
    static func sum<T: BinaryFloatingPoint>(_ sources: [[T]]) -> [T] {
        let count = sources[0].count
        let inputs = sources.map { source in
            let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: count)
            _ = buffer.initialize(from: source)
            return buffer
        }
        defer { for input in inputs { input.deallocate() } }
        let output = UnsafeMutableBufferPointer<T>.allocate(capacity: count)
        defer { output.deallocate() }
        sumInOrder(
            inputs.map { (UnsafeRawPointer($0.baseAddress!), 1.0) }, into: UnsafeMutableRawPointer(output.baseAddress!),
            count: count, dtype: T.self == Float.self ? .float32 : .float64)
        return Array(output)
    }

    @Test("a machine is this kernel's boot seen through this process's IPC, mount and network namespaces")
    func machineIdentity() throws {
        let identity = Communicator.machineIdentity()
        #expect(identity == Communicator.machineIdentity())
        let boot = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
        if let boot {
            let parts = identity.split(separator: " ").map(String.init)
            #expect(parts.first == boot.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(parts.dropFirst().map { $0.prefix(while: { $0 != ":" }) } == ["ipc", "mnt", "net"])
        } else {
            #expect(!identity.isEmpty)
        }
    }

    @Test("a scaled copy multiplies every element, vectors and tail alike")
    func scaledCopies() {
        let source = (0..<37).map { Float($0) - 3.5 }
        var destination = [Float](repeating: .nan, count: 37)
        source.withUnsafeBytes { input in
            destination.withUnsafeMutableBytes {
                scaledCopy(from: input.baseAddress!, to: $0.baseAddress!, count: 37, by: 0.375, dtype: .float32)
            }
        }
        #expect(destination == source.map { 0.375 * $0 })
    }
}
