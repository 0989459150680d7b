import AutoDiff
import CMPI
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The gradient exchange of ranks that share one machine, through one shared-memory mapping
/// instead of MPI messages (``GradientTransport/sharedMemory``).
///
/// Every rank has a segment in the mapping, which every rank maps:
///
///     [ counters: per bucket, "arrived" and "reduced", each on its own cache line ]
///     [ gradients: the rank's weighted gradients, every bucket side by side (N elements) ]
///     [ results:   the sums this rank computed, at the same offsets (N elements) ]
///
/// A step, for bucket `b` of `n` elements split into `p` slices of whole cache lines:
/// 1. each rank writes `w_r · g_r` into its gradients, except its own slice, which stays in its
///    `.grad`, and stores the step number in its `arrived[b]` (a release store);
/// 2. once every rank's `arrived[b]` holds the step (acquire loads), rank `q` sums slice `q` of
///    `b` over the ranks, `Σ_r w_r g_r` added in rank order (its own part read from its
///    `.grad` and weighted then), into its results, and stores the step in its `reduced[b]`;
/// 3. once every rank's `reduced[b]` holds the step, every rank copies slice `q` from rank `q`'s
///    results.
///
/// Each element is summed by one rank, in rank order, so every rank gets the same bits. The
/// data moved per rank and step is `N(p − 1)/p` gradients in, `N/p` slices of `p` gradients
/// read and `N` results out, where a ring all-reduce through MPI's shared-memory buffers copies
/// every element into a message buffer and out again in both of its phases.
///
/// A job on several machines, each running the same number of ranks, adds a stage between 2 and
/// 3 (the hierarchical all-reduce of Horovod and NCCL): rank `q`'s sums of slice `q` are
/// all-reduced through MPI with rank `q` of every other machine (``across``), and only then
/// announced. Each machine moves `N/p` per rank over the network instead of `N`.
///
/// A rank never writes its gradients for step `s + 1` before every rank has summed step `s`
/// (it waits for every `reduced` at the end of step `s`), and never sums step `s + 1` before
/// every rank has read step `s`'s results (their `arrived` for `s + 1` comes after), so one set
/// of buffers serves every step.
final class SharedMemoryExchange<Scalar: TensorScalar> {
    /// This rank's position among the ranks on the machine, and their number.
    let rank: Int
    let size: Int
    /// Each bucket's first element in the gradients and results, and its element count.
    let bucketOffsets: [Int]
    let bucketCounts: [Int]
    /// The step the counters are compared with: 1 for the first, one more after each
    /// ``endStep()``.
    private(set) var step: UInt64 = 1
    /// The ranks with this rank's position on the other machines, when the job spans several.
    let across: Communicator?
    /// Per bucket, this rank's sums on their way across machines.
    private var inFlight: [AllReduceRequest?]
    /// The sources of one sum, rewritten for each piece (no array made per piece and step).
    private var sources: [(values: UnsafeRawPointer, weight: Double)]

    private let mapping: UnsafeMutableRawPointer
    private let mappingBytes: Int
    /// Per rank: its counters, gradients and results.
    private let counters: [UnsafeMutablePointer<UInt64>]
    private let gradients: [UnsafeMutablePointer<Scalar>]
    private let results: [UnsafeMutablePointer<Scalar>]

    /// Counters sit 64 bytes (a cache line) apart, so one rank's stores do not evict the line
    /// another rank is polling.
    private static var counterStride: Int { 64 / MemoryLayout<UInt64>.stride }

    /// Maps the shared segments of the ranks of `machine` (collective over it): rank 0 creates
    /// a POSIX shared-memory object, the others open it by the name rank 0 broadcasts, and it is
    /// unlinked once every rank has mapped it (it lives until the last rank unmaps it). Returns
    /// `nil` on every rank when any rank could not map it (the caller then uses MPI).
    static func make(bucketCounts: [Int], machine: Communicator, across: Communicator?) throws
        -> SharedMemoryExchange?
    {
        let elementBytes = MemoryLayout<Scalar>.stride
        let total = bucketCounts.reduce(0, +)
        let counterBytes = roundedToPage(max(bucketCounts.count, 1) * 2 * 64)
        let areaBytes = roundedToPage(max(total, 1) * elementBytes)
        let segmentBytes = counterBytes + 2 * areaBytes
        let mappingBytes = segmentBytes * machine.size

        var name: [UInt8] = []
        var descriptor: Int32 = -1
        if machine.rank == 0 {
            let candidate = "/autodiff-ddp-\(getpid())-\(nextSegmentNumber())"
            descriptor = shm_open(candidate, O_CREAT | O_EXCL | O_RDWR, 0o600)
            // posix_fallocate reserves the pages now: a /dev/shm too small for them fails here,
            // where a plain ftruncate would let the first write past its limit raise SIGBUS.
            if descriptor >= 0, ftruncate(descriptor, off_t(mappingBytes)) == 0,
                posix_fallocate(descriptor, 0, off_t(mappingBytes)) == 0
            {
                name = Array(candidate.utf8)
            } else if descriptor >= 0 {
                close(descriptor)
                shm_unlink(candidate)
                descriptor = -1
            }
        }
        try machine.broadcast(&name, from: 0)
        let path = String(decoding: name, as: UTF8.self)
        if machine.rank != 0, !name.isEmpty { descriptor = shm_open(path, O_RDWR, 0o600) }
        var mapping: UnsafeMutableRawPointer?
        if descriptor >= 0 {
            let address = mmap(nil, mappingBytes, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0)
            close(descriptor)
            if let address, address != MAP_FAILED { mapping = address }
        }
        var failures = [mapping == nil ? 1.0 : 0.0]
        try machine.allReduce(&failures, .sum)
        if machine.rank == 0, !name.isEmpty { shm_unlink(path) }
        guard failures[0] == 0, let mapping else {
            if let mapping { munmap(mapping, mappingBytes) }
            return nil
        }
        var offsets: [Int] = []
        var offset = 0
        for count in bucketCounts {
            offsets.append(offset)
            offset += count
        }
        return SharedMemoryExchange(
            rank: machine.rank, size: machine.size, across: across, bucketOffsets: offsets, bucketCounts: bucketCounts,
            mapping: mapping, mappingBytes: mappingBytes, segmentBytes: segmentBytes, counterBytes: counterBytes,
            areaBytes: areaBytes)
    }

    private init(
        rank: Int, size: Int, across: Communicator?, bucketOffsets: [Int], bucketCounts: [Int],
        mapping: UnsafeMutableRawPointer, mappingBytes: Int, segmentBytes: Int, counterBytes: Int, areaBytes: Int
    ) {
        self.rank = rank
        self.size = size
        self.across = across
        inFlight = Array(repeating: nil, count: bucketCounts.count)
        sources = Array(repeating: (UnsafeRawPointer(mapping), 1), count: size)
        self.bucketOffsets = bucketOffsets
        self.bucketCounts = bucketCounts
        self.mapping = mapping
        self.mappingBytes = mappingBytes
        let segments = (0..<size).map { mapping + $0 * segmentBytes }
        counters = segments.map { $0.bindMemory(to: UInt64.self, capacity: counterBytes / 8) }
        gradients = segments.map { ($0 + counterBytes).bindMemory(to: Scalar.self, capacity: areaBytes) }
        results = segments.map { ($0 + counterBytes + areaBytes).bindMemory(to: Scalar.self, capacity: areaBytes) }
    }

    deinit {
        for request in inFlight { try? request?.wait() }
        munmap(mapping, mappingBytes)
    }

    /// Where this rank writes bucket `bucket`'s weighted gradients.
    func gradients(of bucket: Int) -> UnsafeMutablePointer<Scalar> { gradients[rank] + bucketOffsets[bucket] }

    /// Announces that this rank's gradients of `bucket` are written.
    func publish(bucket: Int) { cmpi_store_release(arrived(bucket, rank), step) }

    /// Whether every rank has published `bucket` this step.
    func allArrived(bucket: Int) -> Bool {
        (0..<size).allSatisfy { cmpi_load_acquire(arrived(bucket, $0)) >= step }
    }

    /// Whether every rank has summed its slice of `bucket` this step.
    func allReduced(bucket: Int) -> Bool {
        (0..<size).allSatisfy { cmpi_load_acquire(reduced(bucket, $0)) >= step }
    }

    /// One run of this rank's slice of a bucket, and where this rank's own values for it are:
    /// its gradient memory, to be multiplied by `weight` (the part a rank sums itself is never
    /// copied into the mapping), or, with `weight` 1, its gradients in the mapping.
    struct OwnPiece {
        /// The elements, as offsets into the bucket.
        var range: Range<Int>
        var source: UnsafeRawPointer
        var weight: Double
    }

    /// The part of this rank's slice of `bucket` inside `range` (bucket offsets), with its own
    /// values in the mapping: the ``OwnPiece`` for a gradient that was copied in whole.
    func ownPieceInMapping(_ bucket: Int, within range: Range<Int>) -> OwnPiece {
        let piece = slice(bucket, owner: rank).clamped(to: range)
        return OwnPiece(
            range: piece, source: UnsafeRawPointer(gradients[rank] + bucketOffsets[bucket] + piece.lowerBound),
            weight: 1)
    }

    /// Sums this rank's slice of `bucket` over the ranks, in rank order, into its results and
    /// announces it: the others' values from their gradients in the mapping, this rank's from
    /// `pieces`, which cover the slice. Every rank must have published the bucket
    /// (``allArrived(bucket:)``). Across machines the sums first go to the same rank of every
    /// other machine, and are announced once ``progressAcrossMachines()`` or
    /// ``finishAcrossMachines()`` finds them back.
    func reduce(bucket: Int, pieces: some Sequence<OwnPiece>) throws {
        let base = bucketOffsets[bucket]
        for piece in pieces where !piece.range.isEmpty {
            let start = base + piece.range.lowerBound
            for owner in 0..<size {
                sources[owner] =
                    owner == rank
                    ? (piece.source, piece.weight) : (UnsafeRawPointer(gradients[owner] + start), 1.0)
            }
            sumInOrder(
                sources, into: UnsafeMutableRawPointer(results[rank] + start), count: piece.range.count,
                dtype: Scalar.dtype)
        }
        let mine = slice(bucket, owner: rank)
        if let across, !mine.isEmpty {
            let sums = UnsafeMutableBufferPointer(
                start: results[rank] + bucketOffsets[bucket] + mine.lowerBound, count: mine.count)
            inFlight[bucket] = try across.startAllReduce(sums, .sum)
        } else {
            cmpi_store_release(reduced(bucket, rank), step)
        }
    }

    /// Lets the all-reduces across machines move (`MPI_Test`), announcing the buckets whose
    /// sums are back.
    func progressAcrossMachines() throws {
        for bucket in inFlight.indices {
            guard let request = inFlight[bucket] else { continue }
            guard try request.test() else { return }
            inFlight[bucket] = nil
            cmpi_store_release(reduced(bucket, rank), step)
        }
    }

    /// Waits (yielding the core) for every all-reduce across machines and announces its bucket.
    func finishAcrossMachines() throws {
        for bucket in inFlight.indices {
            guard let request = inFlight[bucket] else { continue }
            try request.waitYielding()
            inFlight[bucket] = nil
            cmpi_store_release(reduced(bucket, rank), step)
        }
    }

    /// Calls `body` with the summed values of elements `range` of `bucket` (``allReduced(bucket:)``
    /// must hold), piece by piece, each from the rank that summed it: the piece's first element
    /// within `range` and its values.
    func withSums(of bucket: Int, _ range: Range<Int>, _ body: (Int, UnsafeBufferPointer<Scalar>) -> Void) {
        for owner in 0..<size {
            let slice = self.slice(bucket, owner: owner).clamped(to: range)
            guard !slice.isEmpty else { continue }
            let start = results[owner] + bucketOffsets[bucket] + slice.lowerBound
            body(slice.lowerBound - range.lowerBound, UnsafeBufferPointer(start: start, count: slice.count))
        }
    }

    /// Moves to the next step (after every bucket's sums have been read).
    func endStep() { step += 1 }

    /// The elements of `bucket` that rank `owner` sums.
    func slice(_ bucket: Int, owner: Int) -> Range<Int> {
        Self.slice(of: bucketCounts[bucket], owner: owner, ranks: size)
    }

    /// The elements of a bucket of `count` that rank `owner` of `ranks` sums: consecutive runs
    /// of whole 64-byte lines, as equal as lines allow, so no two ranks write one line; the last
    /// runs may be shorter or empty.
    static func slice(of count: Int, owner: Int, ranks: Int) -> Range<Int> {
        let lineElements = max(64 / MemoryLayout<Scalar>.stride, 1)
        let perRank = ((count + ranks - 1) / ranks + lineElements - 1) / lineElements * lineElements
        return min(owner * perRank, count)..<min((owner + 1) * perRank, count)
    }

    private func arrived(_ bucket: Int, _ owner: Int) -> UnsafeMutablePointer<UInt64> {
        counters[owner] + 2 * bucket * Self.counterStride
    }

    private func reduced(_ bucket: Int, _ owner: Int) -> UnsafeMutablePointer<UInt64> {
        counters[owner] + (2 * bucket + 1) * Self.counterStride
    }

    private static func roundedToPage(_ bytes: Int) -> Int { (bytes + 4095) / 4096 * 4096 }
}

/// `output[i] = ((w₀·x₀[i] + w₁·x₁[i]) + w₂·x₂[i]) + …` for the `(x, w)` of `sources` and
/// `count` elements of `dtype` (Float or Double), 64 bytes at a time: the exchange is generic
/// over its element type (generic arithmetic would cost a call per element), and the compiler
/// does not vectorize a loop whose output may overlap its inputs. A weight of 1 leaves its
/// values as they are (`x · 1 = x` exactly).
func sumInOrder(
    _ sources: [(values: UnsafeRawPointer, weight: Double)], into output: UnsafeMutableRawPointer, count: Int,
    dtype: DType
) {
    switch dtype {
    case .float32: sumInOrder(sources, into: output, count: count, in: SIMD16<Float>.self)
    case .float64: sumInOrder(sources, into: output, count: count, in: SIMD8<Double>.self)
    default:
        tensorFailure("DistributedDataParallel: gradients of type \(dtype) cannot be exchanged; use Float or Double")
    }
}

private func sumInOrder<Vector: SIMD>(
    _ sources: [(values: UnsafeRawPointer, weight: Double)], into output: UnsafeMutableRawPointer, count: Int,
    in _: Vector.Type
) where Vector.Scalar: BinaryFloatingPoint {
    let width = Vector.scalarCount
    let stride = MemoryLayout<Vector.Scalar>.stride
    let vectors = count / width
    guard sources.count > 1 else {
        scaledCopy(
            from: sources[0].values, to: output, count: count, by: Vector.Scalar(sources[0].weight), in: Vector.self)
        return
    }
    for (index, source) in sources.enumerated().dropFirst() {
        // The running sum after the first pass: its weight is 1.
        let (previous, previousWeight) = index == 1 ? sources[0] : (UnsafeRawPointer(output), 1.0)
        let (a, b) = (Vector.Scalar(previousWeight), Vector.Scalar(source.weight))
        let (va, vb) = (Vector(repeating: a), Vector(repeating: b))
        for v in 0..<vectors {
            let offset = v * width * stride
            let sum =
                va * previous.loadUnaligned(fromByteOffset: offset, as: Vector.self)
                + vb * source.values.loadUnaligned(fromByteOffset: offset, as: Vector.self)
            output.storeBytes(of: sum, toByteOffset: offset, as: Vector.self)
        }
        for i in vectors * width..<count {
            let sum =
                a * previous.load(fromByteOffset: i * stride, as: Vector.Scalar.self)
                + b * source.values.load(fromByteOffset: i * stride, as: Vector.Scalar.self)
            output.storeBytes(of: sum, toByteOffset: i * stride, as: Vector.Scalar.self)
        }
    }
}

/// A number for each shared-memory object this process creates, so their names differ.
private func nextSegmentNumber() -> Int {
    segmentNumbers.withLock { number in
        number += 1
        return number
    }
}

private let segmentNumbers = Mutex<Int>(0)
