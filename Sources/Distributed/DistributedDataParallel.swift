import AutoDiff
import NN

#if canImport(Glibc)
    import Glibc
#endif

/// Data-parallel training of one model replicated on every rank (PyTorch's
/// `DistributedDataParallel`): each rank differentiates the loss of its slice of the global
/// batch, and the gradients are combined across ranks during `backward` so every rank's
/// optimizer takes the same step.
///
/// - **At creation** rank 0's parameters and buffers (BatchNorm's running statistics) are
///   broadcast to every rank, so all replicas start equal, and a post-accumulate gradient hook is registered on
///   every parameter.
/// - **Buckets**: the parameters, in reverse order (the order a backward pass completes their
///   gradients), are grouped into buckets of at least ``bucketCapacityBytes`` (PyTorch's rule: a
///   bucket closes when it reaches the capacity; the last one holds the rest). When the last
///   gradient of a bucket arrives, the bucket's nonblocking all-reduce starts
///   (`MPI_Iallreduce`) while the backward pass goes on to earlier layers; each later hook lets
///   MPI progress the ones in flight (`MPI_Test`). Buckets start strictly in order, so every rank
///   issues the same collectives in the same order.
/// - **The average**: each rank contributes `w_r · g_r`, its mean gradient `g_r` times its
///   ``gradientWeight`` `w_r` (its share `n_r / n` of the global batch, or `1/p` by default),
///   and the all-reduce sums them: `g = Σ_r (n_r/n) · g_r`, the global batch's mean gradient
///   even when the slices differ in size. A loss that is a mean over the batch (every loss of NN)
///   is what this assumes.
/// - **The transport** (``transport``, chosen at creation): the ranks on one machine keep the
///   buckets in one shared-memory mapping and each rank sums its slice of a bucket straight
///   from the others' gradients (``GradientTransport/sharedMemory``), then, on several
///   machines, all-reduces its sums with the same rank of the others; with one rank per
///   machine each bucket is all-reduced through MPI (``GradientTransport/mpi``). "Starting" a
///   bucket then means publishing it, and a later hook sums this rank's slice once every rank
///   has published. Both give every rank the same bits; with two ranks, the same bits as each
///   other.
///   mnist-b128 on this 2-core machine, 2 ranks: the exchange of a step on its own takes
///   0.105–0.111 ms through shared memory against 0.243–0.252 ms through MPI (BENCHMARKS.md,
///   "Distributed training through shared memory").
/// - **The end**: ``finishGradientSynchronization()`` (after `backward`, before the optimizer's
///   step) starts any bucket not started yet, waits for all of them and writes the averaged
///   gradients into the parameters' `.grad`.
///
/// ```swift
/// let world = try Communicator.world()
/// let model = Sequential<Float>(…)                 // the same architecture and seed on every rank
/// let parallel = try DistributedDataParallel(model: model, communicator: world)
/// for shard in sampler.epoch(shuffledBy: &shuffler) {
///     let batch = train.rows(shard.indices)
///     optimizer.zeroGrad()
///     parallel.gradientWeight = shard.share
///     try parallel.backward(softmaxCrossEntropy(logits: model(batch.features), labels: batch.labels))
///     optimizer.step()
/// }
/// ```
///
/// Inside a `CapturedStep` the step is captured and replayed like any other: the exchange is
/// done by host steps (`CaptureHostStep`) that the hooks and the finish register where they run,
/// so every replay repeats it at the same points between the kernels, reading and writing the
/// gradients in the buffers the replayed kernels use; a replay gives bit for bit what the eager
/// step gives. An MPI failure inside a replay is kept for ``throwIfFailed()``. BatchNorm normalizes each rank's slice by the slice's own statistics, as PyTorch's
/// does without `SyncBatchNorm`; ``broadcastBuffers()`` makes the running statistics rank 0's.
public final class DistributedDataParallel<Scalar: TensorScalar> {
    /// The replicated model.
    public let model: any Layer<Scalar>
    /// The ranks that train it.
    public let communicator: Communicator
    /// The least bytes of gradients a bucket holds before it closes (the last bucket may hold
    /// fewer).
    public let bucketCapacityBytes: Int
    /// This rank's weight in the sum of gradients: its share of the global batch
    /// (``ShardedBatch/share``), `1 / size` by default (equal slices). Set it before each
    /// backward pass when slices differ in size.
    public var gradientWeight: Double
    /// The parameters of each bucket, as indices into `model.parameters`, in the order the
    /// buckets are reduced.
    public let buckets: [[Int]]
    /// Whether buckets start their all-reduce from the hooks during backward (the default), or
    /// all at the end, one after another, in ``finishGradientSynchronization()``: for measuring
    /// what the overlap gains. Either way a rank waiting for the others yields its core between
    /// tests (``AllReduceRequest/waitYielding()``).
    public var overlapsBackward = true
    /// What the gradient exchange has done so far.
    public private(set) var statistics = Statistics()
    /// How the gradients travel between the ranks: ``GradientTransport/sharedMemory`` or
    /// ``GradientTransport/mpi``, as chosen at creation (never `automatic`).
    public let transport: GradientTransport

    /// Counts and times of the gradient exchange, summed over steps.
    public struct Statistics: Sendable {
        /// Calls of ``finishGradientSynchronization()``.
        public var steps = 0
        /// Bucket all-reduces started from a gradient hook, while backward was still running.
        public var bucketsStartedDuringBackward = 0
        /// Bucket all-reduces started by ``finishGradientSynchronization()`` (their gradients
        /// were not all complete before it was called).
        public var bucketsStartedAtFinish = 0
        /// Seconds spent waiting in ``finishGradientSynchronization()`` for all-reduces to end:
        /// the communication the backward pass did not hide.
        public var waitSeconds = 0.0
        /// Seconds from the start of each step's first bucket to the call of
        /// ``finishGradientSynchronization()``: the rest of backward, the window in which the
        /// buckets started from hooks can move while gradients are still being computed.
        public var overlapWindowSeconds = 0.0
        /// Seconds spent in the hooks and in ``finishGradientSynchronization()`` altogether:
        /// copies in and out of the buckets, starting and progressing all-reduces, waiting.
        public var exchangeSeconds = 0.0
    }

    /// PyTorch starts with a 1 MB bucket and then uses 25 MB ones, sized for models of hundreds
    /// of megabytes; the models here hold 0.2–2.2 MB of gradients, which a 25 MB bucket would
    /// send in one piece after backward has ended. 256 KB closes a bucket at the layer where the
    /// rest of backward is the most work (the MLP's first layer, the CNN's convolutions), and
    /// moves in about 0.2 ms at 10 Gbit/s, well above a message's latency (5–50 µs).
    public static var defaultBucketCapacityBytes: Int { 256 * 1024 }

    private let parameters: [Parameter<Scalar>]
    private var storage: [Bucket]
    /// Per parameter: its bucket and its offset in the bucket.
    private var placement: [(bucket: Int, offset: Int)]
    private var ready: [Bool]
    private var nextToStart = 0
    /// With shared memory: the exchange, and the first bucket whose slice this rank has not
    /// summed yet this step.
    private let sharedMemory: SharedMemoryExchange<Scalar>?
    private var nextToReduce = 0
    /// With shared memory, per parameter: where this rank's own part of its gradient (the part of
    /// its slice) is read from when summed, and the gradient kept alive until then.
    private var ownParts: [(piece: SharedMemoryExchange<Scalar>.OwnPiece, gradient: Tensor<Scalar>?)?] = []
    /// When this step's first bucket started from a hook.
    private var firstBucketStart: Double?
    private var hookHandles: [GradientHookHandle] = []
    /// The first MPI error a hook or host step met (they cannot throw); thrown by
    /// ``throwIfFailed()``.
    private var pendingError: MPIError?
    /// The host steps: one per parameter, run from its hook, and the end of the exchange.
    private var arrivals: [Arrival<Scalar>] = []
    private let finisher = Finisher<Scalar>()

    /// Replicates `model` over `communicator`'s ranks: broadcasts rank 0's parameters and
    /// buffers, groups the parameters into buckets of `bucketCapacityBytes`, sets up the
    /// `transport` and registers the gradient hooks. Every rank must create it with the same
    /// architecture and transport, after loading any weights (a parameter replaced later loses
    /// its hook, and its gradient is then reduced only when the step finishes). Throws when
    /// `transport` is ``GradientTransport/sharedMemory`` and the job's machines run different
    /// numbers of ranks, or a machine cannot share the memory.
    ///
    /// With `synchronizesBatchNorm` (PyTorch's `SyncBatchNorm.convert_sync_batchnorm`), every
    /// BatchNorm layer of the model gets a `statisticsReducer` that sums its statistics across
    /// the ranks, so training normalizes each channel with the global batch's mean and variance
    /// (two small `MPI_Allreduce`s forward and two backward per layer); with the same seed and
    /// global batch the ranks then train the model one process trains. Every rank must have a
    /// nonempty slice of every batch.
    public init(
        model: any Layer<Scalar>, communicator: Communicator,
        bucketCapacityBytes: Int = DistributedDataParallel.defaultBucketCapacityBytes,
        transport: GradientTransport = .automatic, synchronizesBatchNorm: Bool = false
    ) throws {
        guard bucketCapacityBytes > 0 else {
            tensorFailure("DistributedDataParallel: bucketCapacityBytes \(bucketCapacityBytes) must be > 0")
        }
        self.model = model
        self.communicator = communicator
        self.bucketCapacityBytes = bucketCapacityBytes
        gradientWeight = 1 / Double(communicator.size)
        parameters = model.parameters
        buckets = Self.assignBuckets(
            counts: parameters.map(\.value.count), bytesPerElement: MemoryLayout<Scalar>.stride,
            capacityBytes: bucketCapacityBytes)
        placement = Array(repeating: (0, 0), count: parameters.count)
        var bucketCounts: [Int] = []
        for (index, members) in buckets.enumerated() {
            var offset = 0
            for parameter in members {
                placement[parameter] = (index, offset)
                offset += parameters[parameter].value.count
            }
            bucketCounts.append(offset)
        }
        let exchange = try Self.sharedMemoryExchange(
            transport, bucketCounts: bucketCounts, communicator: communicator)
        sharedMemory = exchange
        self.transport = exchange == nil ? .mpi : .sharedMemory
        storage = zip(buckets, bucketCounts).map {
            // Shared memory keeps the gradients in its mapping; MPI reduces the buckets' own.
            Bucket(members: $0, count: exchange == nil ? $1 : 0)
        }
        ready = Array(repeating: false, count: parameters.count)
        ownParts = Array(repeating: nil, count: parameters.count)
        try broadcastParameters()
        try broadcastBuffers()
        arrivals = parameters.indices.map { Arrival<Scalar>(parameter: $0) }
        finisher.owner = self
        if synchronizesBatchNorm {
            model.forEachLayer { _, layer in
                (layer as? BatchNormLayer<Scalar>)?.statisticsReducer = BatchNormSynchronizer(owner: self)
            }
        }
        for index in parameters.indices {
            arrivals[index].owner = self
            hookHandles.append(
                parameters[index].value.registerPostAccumulateGradHook { [unowned self] _ in
                    Capture.recordHostStep(arrivals[index])
                    arrive(parameter: index)
                })
        }
    }

    deinit {
        for handle in hookHandles { handle.remove() }
        for bucket in storage { try? bucket.request?.wait() }
    }

    /// The shared-memory exchange `transport` asks for, or `nil` for MPI. Shared memory needs
    /// every machine of the job to run the same number of ranks; `automatic` also needs one of
    /// them to run more than one (else there is nothing to share). `sharedMemory` throws when
    /// the machines' rank counts differ or the memory cannot be mapped. With several machines,
    /// each rank also gets the communicator of its position on the other machines.
    private static func sharedMemoryExchange(
        _ transport: GradientTransport, bucketCounts: [Int], communicator: Communicator
    ) throws -> SharedMemoryExchange<Scalar>? {
        if transport == .mpi { return nil }
        let machine = try communicator.ranksOnThisMachine()
        // Every machine runs as many ranks as this one when the mean of the counts' squares is
        // the square of their mean (sums of small integers, exact in Double).
        var counts = [Double(machine.size), Double(machine.size * machine.size)]
        try communicator.allReduce(&counts, .sum)
        let ranks = Double(communicator.size)
        guard counts[1] * ranks == counts[0] * counts[0] else {
            guard transport == .automatic else {
                throw MPIError(
                    operation: "DistributedDataParallel(transport: .sharedMemory)",
                    message:
                        "the job's machines run different numbers of ranks (this one \(machine.size) of \(communicator.size)); shared memory needs the same number on every machine (use .automatic or .mpi)"
                )
            }
            return nil
        }
        if transport == .automatic, machine.size == 1 { return nil }
        let across =
            machine.size < communicator.size
            ? try communicator.split(color: machine.rank, key: communicator.rank) : nil
        var exchange = try SharedMemoryExchange<Scalar>.make(
            bucketCounts: bucketCounts, machine: machine, across: across)
        // One machine that could not map its memory makes every machine use MPI.
        var failures = [exchange == nil ? 1.0 : 0.0]
        try communicator.allReduce(&failures, .sum)
        if failures[0] > 0 { exchange = nil }
        if exchange == nil, transport == .sharedMemory {
            throw MPIError(
                operation: "DistributedDataParallel(transport: .sharedMemory)",
                message: "a rank could not create or map the shared-memory object (is /dev/shm mounted and writable?)")
        }
        return exchange
    }

    /// Groups parameters into buckets in reverse order: a bucket takes parameters until it holds
    /// at least `capacityBytes`, then closes; the last bucket holds what is left. Returns the
    /// parameter indices of each bucket (`counts` are the parameters' element counts).
    public static func assignBuckets(counts: [Int], bytesPerElement: Int, capacityBytes: Int) -> [[Int]] {
        var result: [[Int]] = []
        var current: [Int] = []
        var bytes = 0
        for index in counts.indices.reversed() {
            current.append(index)
            bytes += counts[index] * bytesPerElement
            if bytes >= capacityBytes {
                result.append(current)
                current = []
                bytes = 0
            }
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// Copies rank 0's parameter values to every rank.
    public func broadcastParameters() throws {
        for parameter in parameters { try communicator.broadcast(&parameter.value, from: 0) }
    }

    /// Copies rank 0's buffers (BatchNorm's running statistics) to every rank; a model without
    /// buffers makes no call.
    public func broadcastBuffers() throws {
        for named in model.namedBuffers { try communicator.broadcast(&named.buffer.value, from: 0) }
    }

    /// `loss.backward()`, then ``finishGradientSynchronization()``: every parameter's `.grad`
    /// is then the global batch's gradient.
    public func backward(_ loss: Tensor<Scalar>) throws {
        loss.backward()
        try finishGradientSynchronization()
    }

    /// Starts the buckets not started yet (their missing gradients taken from `.grad`, or zeros:
    /// a parameter this rank's pass did not reach), waits for every bucket's all-reduce, and
    /// writes the summed, weighted gradients into every parameter's `.grad`. Call it once after
    /// each backward pass and before the optimizer's step, on every rank — also on a rank whose
    /// slice of the batch was empty (with ``gradientWeight`` 0 and no backward pass). Inside a
    /// `CapturedStep` it is recorded as a host step, which every replay repeats.
    public func finishGradientSynchronization() throws {
        Capture.recordHostStep(finisher)
        finish()
        try throwIfFailed()
    }

    /// Throws the first MPI error the exchange met since the last call, if any: the hooks and a
    /// replayed step's host steps cannot throw, so they keep it. ``finishGradientSynchronization()``
    /// calls it; a loop whose step is replayed from a capture calls it after each step.
    public func throwIfFailed() throws {
        if let error = pendingError.take() { throw error }
    }

    /// Times the whole exchange of one step with nothing to overlap it (collective: every rank
    /// calls it): after a barrier, every gradient copied in, exchanged over ``transport`` and
    /// copied out, as ``finishGradientSynchronization()`` does after a backward pass whose hooks
    /// did nothing. Returns the median of `rounds` such exchanges, in seconds. It exchanges the
    /// parameters' current `.grad` (each rank's weighted by ``gradientWeight``, so the averaged
    /// gradients of the last step come back unchanged up to rounding when the weights sum to 1)
    /// and leaves ``statistics`` as they were.
    public func timeBlockingExchange(rounds: Int = 30) throws -> Double {
        precondition(rounds > 0, "timeBlockingExchange: rounds \(rounds) must be > 0")
        let saved = statistics
        defer { statistics = saved }
        var seconds: [Double] = []
        for _ in 0..<rounds {
            try communicator.barrier()
            let start = monotonicSeconds()
            finish()
            try throwIfFailed()
            seconds.append(monotonicSeconds() - start)
        }
        return seconds.sorted()[rounds / 2]
    }

    /// Sums `values` in place over the ranks, blocking (`MPI_Allreduce`), for SyncBatchNorm's
    /// host steps: a failure is kept for ``throwIfFailed()``, and a failed step's values are left
    /// as they were.
    func sumAcrossRanks(_ values: UnsafeMutableBufferPointer<Scalar>) {
        guard pendingError == nil else { return }
        do { try communicator.allReduce(values, .sum) } catch { pendingError = error as? MPIError }
    }

    /// Sums `values` over the ranks (loss sums, counts of correct predictions): every rank gets
    /// the totals.
    public func reduceMetrics(_ values: [Double]) throws -> [Double] {
        var values = values
        try communicator.allReduce(&values, .sum)
        return values
    }

    // MARK: The exchange, as host steps

    // The work is done by host steps (CaptureHostStep) so that a captured step's replays repeat
    // it where the eager step did it: a parameter's post-accumulate hook registers its step and
    // runs it; the end of the step registers and runs the finisher. A step reads and writes
    // `.grad` through its buffer's memory, which a replay's kernels use in place, and never runs
    // a tensor op.

    /// A parameter's `.grad` of this pass is complete: copy it into its bucket, start the
    /// buckets now complete and let MPI progress those in flight.
    fileprivate func arrive(parameter index: Int) {
        let start = monotonicSeconds()
        defer { statistics.exchangeSeconds += monotonicSeconds() - start }
        guard !ready[index] else {
            tensorFailure(
                "DistributedDataParallel: parameter \(index) (shape \(parameters[index].shape)) received a second gradient before finishGradientSynchronization(): call it after every backward pass"
            )
        }
        copyIn(parameter: index)
        ready[index] = true
        guard overlapsBackward, pendingError == nil else { return }
        do {
            try startReadyBuckets()
            if let sharedMemory {
                while nextToReduce < nextToStart, sharedMemory.allArrived(bucket: nextToReduce) {
                    try reduceSharedMemory(bucket: nextToReduce, sharedMemory)
                    nextToReduce += 1
                }
                try sharedMemory.progressAcrossMachines()
            } else {
                for bucket in storage[..<nextToStart] { try bucket.request?.test() }
            }
        } catch {
            pendingError = error as? MPIError
        }
    }

    /// The end of the exchange (``finishGradientSynchronization()``'s host step).
    fileprivate func finish() {
        let start = monotonicSeconds()
        defer {
            for index in ready.indices { ready[index] = false }
            for bucket in storage {
                bucket.filled = 0
                bucket.request = nil
            }
            nextToStart = 0
            nextToReduce = 0
            // Empty after a complete step; after a failed one, nothing of it may be read again.
            for index in ownParts.indices { ownParts[index] = nil }
            statistics.steps += 1
            statistics.exchangeSeconds += monotonicSeconds() - start
        }
        for index in parameters.indices where !ready[index] { copyIn(parameter: index) }
        let startedEarly = nextToStart
        if let firstStart = firstBucketStart.take() { statistics.overlapWindowSeconds += start - firstStart }
        let waitStart = monotonicSeconds()
        do {
            if let sharedMemory {
                try startReadyBuckets()
                try finishSharedMemory(sharedMemory)
            } else if overlapsBackward {
                try startReadyBuckets()
                for bucket in storage { try bucket.request?.waitYielding() }
            } else {
                for bucket in storage {
                    try communicator.startAllReduce(bucket.elements, .sum, keeping: bucket).waitYielding()
                }
            }
        } catch {
            pendingError = pendingError ?? error as? MPIError
            for bucket in storage { try? bucket.request?.wait() }
            return
        }
        statistics.waitSeconds += monotonicSeconds() - waitStart
        statistics.bucketsStartedDuringBackward += startedEarly
        statistics.bucketsStartedAtFinish += storage.count - startedEarly
        copyOut()
        sharedMemory?.endStep()
    }

    /// The shared-memory end of a step: sums this rank's slice of every bucket not summed yet
    /// (waiting, yielding the core, for ranks that have not published it), then waits until
    /// every rank has summed its slices.
    private func finishSharedMemory(_ exchange: SharedMemoryExchange<Scalar>) throws {
        while nextToReduce < storage.count {
            if exchange.allArrived(bucket: nextToReduce) {
                try reduceSharedMemory(bucket: nextToReduce, exchange)
                nextToReduce += 1
            } else {
                try exchange.progressAcrossMachines()
                sched_yield()
            }
        }
        try exchange.finishAcrossMachines()
        for bucket in storage.indices {
            while !exchange.allReduced(bucket: bucket) { sched_yield() }
        }
    }

    /// Sums this rank's slice of `bucket`, its own part of each member's gradient read where
    /// ``copyIn(parameter:)`` left it.
    private func reduceSharedMemory(bucket: Int, _ exchange: SharedMemoryExchange<Scalar>) throws {
        try exchange.reduce(
            bucket: bucket, pieces: storage[bucket].members.lazy.compactMap { self.ownParts[$0]?.piece })
        for member in storage[bucket].members { ownParts[member] = nil }
    }

    /// Where bucket `index`'s gradients are gathered on this rank: its own memory for MPI, this
    /// rank's gradients in the shared mapping for shared memory.
    private func bucketStart(_ index: Int) -> UnsafeMutablePointer<Scalar> {
        sharedMemory?.gradients(of: index) ?? storage[index].elements.baseAddress!
    }

    /// Writes `gradientWeight · .grad` (zeros without a gradient) into the parameter's part of
    /// its bucket and counts it as filled.
    private func copyIn(parameter index: Int) {
        let (bucketIndex, offset) = placement[index]
        let bucket = storage[bucketIndex]
        let count = parameters[index].value.count
        let destination = UnsafeMutableRawPointer(bucketStart(bucketIndex) + offset)
        if let sharedMemory, let gradient = parameters[index].grad,
            let source = Self.hostMemory(of: gradient, count: count)
        {
            // Only the parts the other ranks sum go into the mapping; this rank's own part is
            // read from the gradient when summed, weighted then.
            let stride = MemoryLayout<Scalar>.stride
            let own = sharedMemory.slice(bucketIndex, owner: sharedMemory.rank).clamped(to: offset..<offset + count)
            let ownStart = own.isEmpty ? offset + count : own.lowerBound
            func copy(_ part: Range<Int>) {
                scaledCopy(
                    from: source + (part.lowerBound - offset) * stride,
                    to: destination + (part.lowerBound - offset) * stride, count: part.count, by: gradientWeight,
                    dtype: Scalar.dtype)
            }
            copy(offset..<ownStart)
            copy(max(own.upperBound, ownStart)..<offset + count)
            let piece = SharedMemoryExchange<Scalar>.OwnPiece(
                range: own, source: source + (own.lowerBound - offset) * stride, weight: gradientWeight)
            ownParts[index] = (piece, gradient)
            bucket.filled += 1
            return
        }
        if let sharedMemory {
            ownParts[index] = (sharedMemory.ownPieceInMapping(bucketIndex, within: offset..<offset + count), nil)
        }
        if let gradient = parameters[index].grad, let source = Self.hostMemory(of: gradient, count: count) {
            scaledCopy(from: source, to: destination, count: count, by: gradientWeight, dtype: Scalar.dtype)
        } else if let gradient = parameters[index].grad {
            // Not host memory of its own (another device): through a copy.
            gradient.withUnsafeBufferPointer {
                scaledCopy(
                    from: UnsafeRawPointer($0.baseAddress!), to: destination, count: count, by: gradientWeight,
                    dtype: Scalar.dtype)
            }
        } else {
            destination.initializeMemory(as: UInt8.self, repeating: 0, count: count * MemoryLayout<Scalar>.stride)
        }
        bucket.filled += 1
    }

    /// Writes each parameter's part of the reduced buckets into its `.grad`: into the gradient's
    /// own memory when it has its own (so a replayed step's optimizer reads it there), else into a
    /// new tensor.
    private func copyOut() {
        var written = Set<ObjectIdentifier>()
        for (index, parameter) in parameters.enumerated() {
            let count = parameter.value.count
            // Two parameters may share one gradient buffer after an eager pass (an op that hands
            // the same gradient to both): each then gets a tensor of its own.
            if let gradient = parameter.grad, let memory = Self.hostMemory(of: gradient, count: count),
                written.insert(ObjectIdentifier(gradient.captureBuffer)).inserted
            {
                readSums(of: index, into: UnsafeMutablePointer(mutating: memory.assumingMemoryBound(to: Scalar.self)))
            } else {
                let values = [Scalar](unsafeUninitializedCapacity: count) { buffer, initialized in
                    readSums(of: index, into: buffer.baseAddress!)
                    initialized = count
                }
                parameter.value.grad = Tensor(shape: parameter.shape, scalars: values, on: parameter.value.device)
            }
        }
    }

    /// Copies parameter `index`'s part of the reduced buckets to `destination`.
    private func readSums(of index: Int, into destination: UnsafeMutablePointer<Scalar>) {
        let (bucketIndex, offset) = placement[index]
        let count = parameters[index].value.count
        if let sharedMemory {
            sharedMemory.withSums(of: bucketIndex, offset..<offset + count) { start, sums in
                (destination + start).update(from: sums.baseAddress!, count: sums.count)
            }
        } else {
            destination.update(from: storage[bucketIndex].elements.baseAddress! + offset, count: count)
        }
    }

    /// The host memory of `tensor`'s elements, when its buffer is host memory holding exactly
    /// `count` of them.
    private static func hostMemory(of tensor: Tensor<Scalar>, count: Int) -> UnsafeRawPointer? {
        let buffer = tensor.captureBuffer
        guard buffer.isHostMemory, buffer.count == count, buffer.dtype == Scalar.dtype else { return nil }
        return UnsafeRawPointer(buffer.hostAddress)
    }

    /// Starts, in bucket order, every bucket whose gradients have all arrived, stopping at the
    /// first that is not complete.
    private func startReadyBuckets() throws {
        while nextToStart < storage.count, storage[nextToStart].filled == storage[nextToStart].members.count {
            let bucket = storage[nextToStart]
            if let sharedMemory {
                sharedMemory.publish(bucket: nextToStart)
            } else {
                bucket.request = try communicator.startAllReduce(bucket.elements, .sum, keeping: bucket)
            }
            if nextToStart == 0 { firstBucketStart = monotonicSeconds() }
            nextToStart += 1
        }
    }

    /// One bucket: its parameters, their gradients side by side, its all-reduce in flight.
    private final class Bucket {
        let members: [Int]
        let elements: UnsafeMutableBufferPointer<Scalar>
        /// Parameters whose gradients have been copied in this step.
        var filled = 0
        var request: AllReduceRequest?

        init(members: [Int], count: Int) {
            self.members = members
            elements = .allocate(capacity: count)
            elements.initialize(repeating: 0)
        }

        deinit { elements.deallocate() }
    }
}

/// How ``DistributedDataParallel`` moves gradients between ranks.
public enum GradientTransport: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Shared memory when every machine of the job runs the same number of ranks and one of
    /// them runs more than one (a job on one machine, say); MPI otherwise.
    case automatic
    /// A nonblocking all-reduce of each bucket (`MPI_Iallreduce`), over whatever network MPI
    /// uses: between machines, or between ranks on one machine through its shared-memory
    /// message buffers.
    case mpi
    /// One shared-memory mapping per machine of its ranks' gradients: each rank sums its slice
    /// of each bucket straight from the others' gradients and reads the others' sums, with no
    /// message copies. Each element is summed in rank order by one rank, so every rank gets the
    /// same bits. On several machines (each running the same number of ranks) a rank's sums of
    /// its slice are all-reduced through MPI with the ranks in its position on the other
    /// machines before the others read them: the hierarchical all-reduce.
    case sharedMemory = "shared-memory"

    public var description: String { rawValue }
}

/// A parameter's arrival, as a host step a captured step's replays repeat.
private final class Arrival<Scalar: TensorScalar>: CaptureHostStep {
    let parameter: Int
    unowned(unsafe) var owner: DistributedDataParallel<Scalar>!
    init(parameter: Int) { self.parameter = parameter }
    func replayHostStep() { owner.arrive(parameter: parameter) }
}

/// The end of the exchange, as a host step.
private final class Finisher<Scalar: TensorScalar>: CaptureHostStep {
    unowned(unsafe) var owner: DistributedDataParallel<Scalar>!
    func replayHostStep() { owner.finish() }
}

/// `destination[i] = weight · source[i]` for `count` elements of `dtype` (Float or Double), 64
/// bytes at a time (the compiler does not vectorize the loop itself: the two may overlap).
func scaledCopy(
    from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, count: Int, by weight: Double, dtype: DType
) {
    switch dtype {
    case .float32: scaledCopy(from: source, to: destination, count: count, by: Float(weight), in: SIMD16<Float>.self)
    case .float64: scaledCopy(from: source, to: destination, count: count, by: weight, in: SIMD8<Double>.self)
    default:
        tensorFailure("DistributedDataParallel: gradients of type \(dtype) cannot be exchanged; use Float or Double")
    }
}

func scaledCopy<Vector: SIMD>(
    from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, count: Int, by weight: Vector.Scalar,
    in _: Vector.Type
) where Vector.Scalar: FloatingPoint {
    let width = Vector.scalarCount
    let stride = MemoryLayout<Vector.Scalar>.stride
    let weights = Vector(repeating: weight)
    let vectors = count / width
    for v in 0..<vectors {
        let offset = v * width * stride
        let product = weights * source.loadUnaligned(fromByteOffset: offset, as: Vector.self)
        destination.storeBytes(of: product, toByteOffset: offset, as: Vector.self)
    }
    for i in vectors * width..<count {
        let product = weight * source.load(fromByteOffset: i * stride, as: Vector.Scalar.self)
        destination.storeBytes(of: product, toByteOffset: i * stride, as: Vector.Scalar.self)
    }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}
